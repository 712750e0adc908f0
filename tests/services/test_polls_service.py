"""The poll service on a real database (SQLite, or PostgreSQL with RESEAU_TEST_DATABASE_URL):
creation rules with their messages in both languages, votes, changes, withdrawals, the
multiple-choice maximum, closing, results, native gateway votes, and concurrent clicks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound, describe
from bot.i18n import Catalogue, french_typography
from bot.services.polls import PollService, parse_deadline, parse_duration, parse_options
from storage.models import Answer, AnswerChoice, Poll, Profile
from tests.clock import START

CATALOGUE = Catalogue.load()
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def service(sessions, config, clock) -> PollService:
    return PollService.from_config(sessions, config, CATALOGUE, clock=clock)


def base(**overrides):
    values = dict(guild_id=1, channel_id=10, author_id=100, question="Quel format pour la rencontre ?")
    values.update(overrides)
    return values


async def make(service: PollService, **overrides):
    return await service.create(service.prepare(**base(**overrides)))


async def count(sessions, model) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)))


# ----------------------------------------------------------------------------- validation
INVALID = [
    # (prepare arguments, key, French excerpt, English excerpt)
    (dict(options="Un seul"), "poll.error.too_few_options", "au moins 2 options", "At least 2 options"),
    (dict(options=""), "poll.error.too_few_options", "au moins 2 options", "At least 2 options"),
    (
        dict(options=";".join(f"Option {i}" for i in range(26))),
        "poll.error.too_many_options",
        "26 options\u202f: 25 au plus",
        "26 options: 25 at most",
    ),
    (
        dict(options="Présentiel; présentiel "),
        "poll.error.duplicate_option",
        "« présentiel » apparaît deux fois",
        "“présentiel” is listed twice",
    ),
    (dict(options="A;;B"), "poll.error.empty_option", "L’option n°\u00a02 est vide", "Option 2 is empty"),
    (dict(options="A\n  \nB"), "poll.error.empty_option", "n°\u00a02 est vide", "Option 2 is empty"),
    (
        dict(options="A;" + "x" * 101),
        "poll.error.option_too_long",
        "n°\u00a02 fait 101 caractères\u202f: 100 au plus",
        "Option 2 is 101 characters long: 100 at most",
    ),
    (
        dict(question="Q" * 301, options="A;B"),
        "poll.error.question_too_long",
        "301 caractères\u202f: 300 au plus",
        "301 characters long: 300 at most",
    ),
    (
        dict(question="   ", options="A;B"),
        "poll.error.question_empty",
        "La question est vide",
        "The question is empty",
    ),
    (dict(options="Oui @everyone; Non"), "poll.error.mention", "Pas de mention", "No mentions"),
    (dict(options="<@123456789012345678>; Non"), "poll.error.mention", "Pas de mention", "No mentions"),
    (dict(options="<@&123456789012345678>; Non"), "poll.error.mention", "Pas de mention", "No mentions"),
    (dict(options="<#123456789012345678>; @here"), "poll.error.mention", "Pas de mention", "No mentions"),
    (dict(question="Ping @here ?", options="A;B"), "poll.error.mention", "Pas de mention", "No mentions"),
    (
        dict(options="A;B", deadline="demain"),
        "poll.error.deadline_format",
        "« demain » non comprise",
        "“demain” not understood",
    ),
    (
        dict(options="A;B", deadline="2026-03-01 12:00"),
        "poll.error.deadline_past",
        "déjà passée",
        "already past",
    ),
    (
        dict(options="A;B", deadline="33j"),
        "poll.error.deadline_too_far",
        "32 jours au plus",
        "32 days at most",
    ),
    (
        dict(options="A;B", deadline="2h", reminder="3h"),
        "poll.error.reminder_too_late",
        "Le rappel tomberait",
        "The reminder would fall",
    ),
    (
        dict(options="A;B", reminder="bientôt"),
        "poll.error.reminder_format",
        "« bientôt » non compris",
        "“bientôt” not understood",
    ),
    (
        dict(options="A;B;C", kind="multi", max_choices=4),
        "poll.error.max_choices",
        "entre 1 et 3",
        "between 1 and 3",
    ),
    (
        dict(options="A;B", kind="yesno"),
        "poll.error.options_not_used",
        "« Oui / Non / Abstention »",
        "do not give options",
    ),
    (
        dict(options=";".join(f"R{i}" for i in range(11)), native=True),
        "poll.error.native_too_many",
        "10 réponses au plus",
        "10 answers at most",
    ),
    (
        dict(options="A;" + "y" * 56, native=True),
        "poll.error.native_option_too_long",
        "55 caractères au plus",
        "55 characters at most",
    ),
    (dict(kind="text", native=True), "poll.error.native_kind", "«\u202fRéponse libre »", "native Discord poll cannot carry"),
    (
        dict(options="A;B", native=True, anonymous=True),
        "poll.error.native_anonymous",
        "ne peut pas être anonyme",
        "cannot be anonymous",
    ),
    (
        dict(options="A;B", native=True, live_results=False),
        "poll.error.native_hidden",
        "ne peuvent pas être masqués",
        "cannot be hidden",
    ),
    (
        dict(options="A;B", native=True, role_ids=[5]),
        "poll.error.native_roles",
        "réservé à un rôle",
        "restricted to a role",
    ),
    (
        dict(options="A;B;C", native=True, kind="multi", max_choices=2),
        "poll.error.native_max_choices",
        "pas de limite intermédiaire",
        "no limit in between",
    ),
]


@pytest.mark.parametrize(
    ("kwargs", "key", "fr", "en"), INVALID, ids=[case[1] + f"-{i}" for i, case in enumerate(INVALID)]
)
async def test_bad_input_is_refused_with_a_clear_message_in_both_languages(
    service, sessions, kwargs, key, fr, en
):
    with pytest.raises(InvalidInput) as caught:
        await make(service, **kwargs)
    error = caught.value
    assert error.key == key
    assert french_typography(fr) in describe(error, CATALOGUE, "fr")  # the one error path's words
    assert en in describe(error, CATALOGUE, "en")
    assert await count(sessions, Poll) == 0, "nothing is created"


def test_options_split_on_semicolons_and_new_lines():
    assert parse_options(" Présentiel ;En ligne\nHybride ; ") == ["Présentiel", "En ligne", "Hybride"]
    assert parse_options("A\r\nB") == ["A", "B"]
    assert parse_options("  Deux   espaces ; x") == ["Deux espaces", "x"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2h", timedelta(hours=2)),
        ("3d", timedelta(days=3)),
        ("90m", timedelta(minutes=90)),
        ("1j", timedelta(days=1)),
        ("1j12h", timedelta(days=1, hours=12)),
        ("2 heures", timedelta(hours=2)),
        ("1 semaine", timedelta(weeks=1)),
        ("demain", None),
        ("2x", None),
        ("h2", None),
        ("12", None),
    ],
)
def test_durations(text, expected):
    assert parse_duration(text) == expected


def test_deadline_as_a_paris_date_time():
    # 2 March 2026 is winter time in Paris (UTC+1); 1 July is summer time (UTC+2).
    assert parse_deadline("2026-03-03 18:30", now=START, tz=PARIS, max_days=32) == datetime(
        2026, 3, 3, 17, 30, tzinfo=UTC
    )
    assert parse_deadline("03/03/2026 18:30", now=START, tz=PARIS, max_days=32) == datetime(
        2026, 3, 3, 17, 30, tzinfo=UTC
    )
    summer = datetime(2026, 6, 20, tzinfo=UTC)
    assert parse_deadline("2026-07-01 12:00", now=summer, tz=PARIS, max_days=32) == datetime(
        2026, 7, 1, 10, 0, tzinfo=UTC
    )
    assert parse_deadline("2h", now=START, tz=PARIS, max_days=32) == START + timedelta(hours=2)


def test_default_deadline_and_configured_maximum(service, clock):
    draft = service.prepare(**base(options="A;B"))
    assert draft.deadline_at == clock.now() + timedelta(hours=service.settings.default_duration_hours)
    assert draft.reminder_at is None
    service.settings = type(service.settings)(max_duration_days=2, default_duration_hours=72)
    assert service.prepare(**base(options="A;B")).deadline_at == clock.now() + timedelta(days=2)
    with pytest.raises(InvalidInput) as caught:
        service.prepare(**base(options="A;B", deadline="3j"))
    assert caught.value.params == {"days": 2}


def test_native_duration_is_rounded_up_to_whole_hours(service, clock):
    draft = service.prepare(**base(options="A;B", native=True, deadline="90m"))
    assert draft.native_hours == 2
    assert draft.deadline_at == clock.now() + timedelta(hours=2)
    assert draft.anonymous is False  # Discord shows voters of native polls
    assert service.prepare(**base(options="A;B", native=True, deadline="32j")).native_hours == 768


def test_builtin_kinds_take_labels_in_the_poll_language(service):
    assert service.prepare(**base(kind="yesno", lang="fr")).labels == ("Oui", "Non", "Abstention")
    assert service.prepare(**base(kind="yesno", lang="en")).labels == ("Yes", "No", "Abstain")
    likert = service.prepare(**base(kind="likert", lang="fr"))
    assert likert.labels[0] == "1 — Pas du tout d’accord" and likert.labels[4].startswith("5 — ")
    assert likert.codes == ("1", "2", "3", "4", "5")
    assert service.prepare(**base(kind="text")).labels == ()


def test_reminder_is_a_duration_before_the_deadline(service, clock):
    draft = service.prepare(**base(options="A;B", deadline="2j", reminder="1j"))
    assert draft.reminder_at == clock.now() + timedelta(days=1)


# ----------------------------------------------------------------------------- voting
async def test_vote_change_and_withdraw(service, sessions):
    poll = await make(service, options="Présentiel; En ligne; Hybride")
    a, b, _ = poll.options
    first = await service.vote(poll.id, user_id=7, option_id=a.id)
    assert first.labels == ["Présentiel"] and first.changed
    again = await service.vote(poll.id, user_id=7, option_id=a.id)
    assert again.labels == ["Présentiel"] and not again.changed, (
        "clicking the same option again changes nothing"
    )
    changed = await service.vote(poll.id, user_id=7, option_id=b.id)
    assert changed.labels == ["En ligne"]
    assert await count(sessions, Answer) == 1 and await count(sessions, AnswerChoice) == 1
    results = await service.results(poll.id)
    assert [o.count for o in results.options] == [0, 1, 0]
    withdrawn = await service.withdraw(poll.id, user_id=7)
    assert withdrawn.withdrawn and withdrawn.changed
    assert await count(sessions, Answer) == 0 and await count(sessions, AnswerChoice) == 0
    nothing = await service.withdraw(poll.id, user_id=7)
    assert not nothing.changed


async def test_multiple_choice_toggles_within_the_maximum(service):
    poll = await make(service, options="A;B;C;D", kind="multi", max_choices=2)
    a, b, c, _ = (o.id for o in poll.options)
    await service.vote(poll.id, user_id=7, option_id=a)
    result = await service.vote(poll.id, user_id=7, option_id=c)
    assert result.labels == ["A", "C"]
    with pytest.raises(InvalidInput) as caught:
        await service.vote(poll.id, user_id=7, option_id=b)
    assert caught.value.key == "poll.error.too_many_choices" and caught.value.params == {"count": 2}
    assert (await service.my_answer(poll.id, 7)).labels == ["A", "C"], "the refused click changed nothing"
    assert (await service.vote(poll.id, user_id=7, option_id=a)).labels == ["C"]  # toggled off
    assert (await service.vote(poll.id, user_id=7, option_id=b)).labels == ["B", "C"]
    last = await service.vote(poll.id, user_id=7, option_id=b)
    last = await service.vote(poll.id, user_id=7, option_id=c)
    assert last.withdrawn and await service.my_answer(poll.id, 7) is None


async def test_select_replaces_the_whole_choice(service):
    poll = await make(service, options=";".join(f"Ville {i}" for i in range(8)), kind="multi", max_choices=3)
    ids = [o.id for o in poll.options]
    assert (await service.choose(poll.id, user_id=7, option_ids=[ids[5], ids[1]])).labels == [
        "Ville 1",
        "Ville 5",
    ]
    assert (await service.choose(poll.id, user_id=7, option_ids=[ids[2]])).labels == ["Ville 2"]
    with pytest.raises(InvalidInput):
        await service.choose(poll.id, user_id=7, option_ids=ids[:4])
    with pytest.raises(InvalidInput):
        await service.choose(poll.id, user_id=7, option_ids=[999999])
    results = await service.results(poll.id)
    assert [o.count for o in results.options] == [0, 0, 1, 0, 0, 0, 0, 0]


async def test_open_answer(service, sessions):
    poll = await make(service, kind="text")
    saved = await service.answer_text(poll.id, user_id=7, text="  Plus de temps pour échanger  ")
    assert saved.text == "Plus de temps pour échanger"
    await service.answer_text(poll.id, user_id=7, text="Un autre avis")
    await service.answer_text(poll.id, user_id=8, text="D’accord")
    assert await count(sessions, Answer) == 2
    with pytest.raises(InvalidInput) as caught:
        await service.answer_text(poll.id, user_id=7, text="   ")
    assert caught.value.key == "poll.error.text_empty"
    with pytest.raises(InvalidInput):
        await service.vote(poll.id, user_id=7, option_id=1)
    results = await service.results(poll.id)
    assert results.respondents == 2
    assert {t.text for t in results.texts} == {"Un autre avis", "D’accord"}
    assert all(t.user_id is None for t in results.texts), "anonymous by default"


async def test_member_type_is_copied_from_the_profile_at_answering_time(service, sessions):
    poll = await make(service, options="A;B")
    a, b = (o.id for o in poll.options)
    async with sessions.begin() as session:
        session.add(Profile(user_id=7, member_type="ong"))
        session.add(Profile(user_id=8, member_type="collectivite"))
    await service.vote(poll.id, user_id=7, option_id=a)
    await service.vote(poll.id, user_id=8, option_id=a)
    await service.vote(poll.id, user_id=9, option_id=b)  # no profile
    async with sessions.begin() as session:
        (await session.get(Profile, 7)).member_type = "reseau"
    results = await service.results(poll.id)
    breakdown = {t.code: t.counts for t in results.by_type}
    assert breakdown == {"collectivite": (1, 0), "ong": (1, 0), None: (0, 1)}
    assert results.has_member_types
    assert [round(o.percent, 1) for o in results.options] == [66.7, 33.3]
    await service.vote(poll.id, user_id=7, option_id=a)  # answering again takes the new type
    breakdown = {t.code: t.counts for t in (await service.results(poll.id)).by_type}
    assert breakdown["reseau"] == (1, 0) and "ong" not in breakdown
    assert service.member_type_label(None, "fr") == "Non renseigné"
    assert service.member_type_label("ong", "en") == "NGO / association"


async def test_named_polls_show_who_chose_what(service):
    named = await make(service, options="A;B", anonymous=False)
    await service.vote(named.id, user_id=7, option_id=named.options[0].id)
    await service.vote(named.id, user_id=8, option_id=named.options[0].id)
    assert (await service.results(named.id)).voters == {named.options[0].id: (7, 8)}
    anonymous = await make(service, options="A;B")
    await service.vote(anonymous.id, user_id=7, option_id=anonymous.options[0].id)
    assert (await service.results(anonymous.id)).voters == {}


async def test_refusals_change_nothing(service, sessions, clock):
    poll = await make(service, options="A;B", role_ids=[55])
    option = poll.options[0].id
    with pytest.raises(NotFound):
        await service.vote(424242, user_id=7, option_id=option)
    with pytest.raises(Forbidden) as caught:
        await service.vote(poll.id, user_id=7, option_id=option, guild_id=2, role_ids=[55])
    assert caught.value.key == "poll.error.wrong_guild"
    with pytest.raises(Forbidden) as caught:
        await service.vote(poll.id, user_id=7, option_id=option, guild_id=1, role_ids=[56])
    assert caught.value.key == "poll.error.role_restricted"
    with pytest.raises(InvalidInput):
        await service.vote(poll.id, user_id=7, option_id=option + 100, guild_id=1, role_ids=[55])
    assert await count(sessions, Answer) == 0
    await service.vote(poll.id, user_id=7, option_id=option, guild_id=1, role_ids=[55, 56])
    assert await count(sessions, Answer) == 1


async def test_close_is_idempotent_and_refuses_later_votes(service, sessions, clock):
    poll = await make(service, options="A;B")
    await service.vote(poll.id, user_id=7, option_id=poll.options[0].id)
    first = await service.close(poll.id)
    assert first.changed and first.poll.status == "closed" and first.poll.closed_at == clock.now()
    second = await service.close(poll.id)
    assert not second.changed
    for attempt in (
        service.vote(poll.id, user_id=8, option_id=poll.options[1].id),
        service.vote(poll.id, user_id=7, option_id=poll.options[1].id),
        service.withdraw(poll.id, user_id=7),
    ):
        with pytest.raises(Conflict) as caught:
            await attempt
        assert caught.value.key == "poll.error.closed"
    assert [o.count for o in (await service.results(poll.id)).options] == [1, 0]


async def test_a_poll_past_its_deadline_refuses_votes_before_the_job_closes_it(service, clock):
    poll = await make(service, options="A;B", deadline="1h")
    await service.vote(poll.id, user_id=7, option_id=poll.options[0].id)
    clock.advance(timedelta(hours=1))
    with pytest.raises(Conflict):
        await service.vote(poll.id, user_id=8, option_id=poll.options[0].id)


async def test_close_from_another_guild_is_refused(service):
    poll = await make(service, options="A;B")
    with pytest.raises(Forbidden):
        await service.close(poll.id, guild_id=999)
    assert (await service.get(poll.id)).is_open


async def test_reminder_is_claimed_once(service, clock):
    poll = await make(service, options="A;B", deadline="2j", reminder="1j")
    claimed = await service.claim_reminder(poll.id)
    assert claimed is not None and claimed.reminder_sent
    assert await service.claim_reminder(poll.id) is None
    await service.release_reminder(poll.id)
    assert await service.claim_reminder(poll.id) is not None
    other = await make(service, options="A;B")
    assert await service.claim_reminder(other.id) is None  # no reminder asked


# ----------------------------------------------------------------------------- concurrency
async def test_concurrent_double_click_gives_exactly_one_answer(service, sessions):
    poll = await make(service, options="A;B")
    a, b = (o.id for o in poll.options)
    results = await asyncio.gather(
        service.vote(poll.id, user_id=7, option_id=a),
        service.vote(poll.id, user_id=7, option_id=a),
    )
    assert all(r.labels == ["A"] for r in results)
    assert await count(sessions, Answer) == 1 and await count(sessions, AnswerChoice) == 1
    # two different options clicked at once: one answer, one choice (whichever came last)
    await asyncio.gather(
        service.vote(poll.id, user_id=8, option_id=a),
        service.vote(poll.id, user_id=8, option_id=b),
    )
    assert await count(sessions, Answer) == 2 and await count(sessions, AnswerChoice) == 2


async def test_many_members_voting_at_once_lose_nothing(service, sessions):
    poll = await make(service, options="A;B;C")
    ids = [o.id for o in poll.options]
    votes = [service.vote(poll.id, user_id=1000 + n, option_id=ids[n % 3]) for n in range(60)]
    votes += [service.vote(poll.id, user_id=1000 + n, option_id=ids[n % 3]) for n in range(0, 60, 4)]
    await asyncio.gather(*votes)
    results = await service.results(poll.id)
    assert results.respondents == 60
    assert [o.count for o in results.options] == [20, 20, 20]


@pytest.mark.parametrize("anonymous", [True, False], ids=["anonymous", "named"])
async def test_a_burst_of_concurrent_votes_stores_exactly_the_expected_answers(service, sessions, anonymous):
    """300 votes at once (group commit writes them in few transactions): double clicks stay
    one answer, multiple-choice toggles add up, and the one vote over the maximum fails alone.
    In anonymous polls the same holds under each member's pseudonym, with their member type."""
    single = await make(service, options="A;B;C", anonymous=anonymous)
    multi = await make(service, options="A;B;C;D", kind="multi", max_choices=2, anonymous=anonymous)
    s_ids = [o.id for o in single.options]
    m_ids = [o.id for o in multi.options]
    async with sessions.begin() as session:
        for n in range(0, 100, 10):
            session.add(Profile(user_id=2000 + n, member_type="ong"))
    votes = []
    for n in range(100):  # 100 members double-click one option of the single-choice poll
        votes += [service.vote(single.id, user_id=2000 + n, option_id=s_ids[n % 3]) for _ in range(2)]
    for n in range(49):  # 49 members tick two options of the multiple-choice poll
        votes += [service.vote(multi.id, user_id=2000 + n, option_id=m_ids[n % 4 - k]) for k in (0, 1)]
    over = [service.vote(multi.id, user_id=2999, option_id=o) for o in m_ids[:3]]  # one too many
    outcome = await asyncio.gather(*votes, *over, return_exceptions=True)
    assert len(outcome) == 301

    failed = [r for r in outcome if isinstance(r, BaseException)]
    assert len(failed) == 1, failed
    assert isinstance(failed[0], InvalidInput) and failed[0].key == "poll.error.too_many_choices"
    for first, second in zip(outcome[:200:2], outcome[1:200:2], strict=True):
        assert first.option_ids == second.option_ids and len(first.option_ids) == 1
        assert [first.changed, second.changed].count(True) == 1  # the second click changes nothing
    over_ok = [r for r in outcome[-3:] if not isinstance(r, BaseException)]
    kept = {o for r in over_ok for o in r.option_ids}

    async with sessions() as session:
        rows = (
            await session.execute(
                select(Answer.question_id, Answer.user_id, Answer.member_type, AnswerChoice.option_id).join(
                    AnswerChoice, AnswerChoice.answer_id == Answer.id, isouter=True
                )
            )
        ).all()
    members = [*range(2000, 2100), 2999]
    whose = {u: u for u in members}  # respondent → member (a pseudonym per member in an anonymous poll)
    if anonymous:
        whose = {await service.pseudonyms.of(single.id, None, u): u for u in members}
        whose |= {await service.pseudonyms.of(multi.id, None, u): u for u in members}
    assert set(members).isdisjoint(user_id for _, user_id, _, _ in rows) == anonymous
    stored: dict[tuple[int, int], set[int]] = {}
    types: dict[int, str | None] = {}
    for question_id, user_id, member_type, option_id in rows:
        stored.setdefault((question_id, whose[user_id]), set()).add(option_id)
        types[whose[user_id]] = member_type
    expected = {(single.question_id, 2000 + n): {s_ids[n % 3]} for n in range(100)}
    expected |= {(multi.question_id, 2000 + n): {m_ids[n % 4], m_ids[n % 4 - 1]} for n in range(49)}
    expected[(multi.question_id, 2999)] = kept
    assert len(kept) == 2 and max(len(r.option_ids) for r in over_ok) == 2
    assert stored == expected
    assert await count(sessions, Answer) == 150 and await count(sessions, AnswerChoice) == 100 + 98 + 2
    assert {u for u, t in types.items() if t == "ong"} == {2000 + n for n in range(0, 100, 10)}


async def test_vote_racing_a_close_is_either_counted_or_refused(service, sessions):
    poll = await make(service, options="A;B")
    outcome = await asyncio.gather(
        service.vote(poll.id, user_id=7, option_id=poll.options[0].id),
        service.close(poll.id),
        return_exceptions=True,
    )
    stored = await count(sessions, Answer)
    if isinstance(outcome[0], DomainError):
        assert isinstance(outcome[0], Conflict) and stored == 0
    else:
        assert stored == 1


# ----------------------------------------------------------------------------- native polls
async def test_native_gateway_votes_land_in_the_answers_table(service, sessions):
    poll = await make(service, options="A;B;C", native=True)
    await service.attach_message(poll.id, 5555)
    assert await service.native_vote(message_id=5555, user_id=7, answer_id=1, added=True, guild_id=1)
    # a change of vote: Discord removes the old answer and adds the new one
    await asyncio.gather(
        service.native_vote(message_id=5555, user_id=7, answer_id=1, added=False, guild_id=1),
        service.native_vote(message_id=5555, user_id=7, answer_id=3, added=True, guild_id=1),
    )
    await service.native_vote(message_id=5555, user_id=8, answer_id=2, added=True, guild_id=1)
    results = await service.results(poll.id)
    assert [o.count for o in results.options] == [0, 1, 1]
    await service.native_vote(message_id=5555, user_id=8, answer_id=2, added=False, guild_id=1)
    assert await count(sessions, Answer) == 1
    # not ours, another guild, unknown answer: ignored
    assert await service.native_vote(message_id=1, user_id=7, answer_id=1, added=True) is None
    assert await service.native_vote(message_id=5555, user_id=9, answer_id=1, added=True, guild_id=2) is None
    assert await service.native_vote(message_id=5555, user_id=9, answer_id=11, added=True) is None
    assert await count(sessions, Answer) == 1


async def test_native_multiple_choice_and_reconciliation(service):
    poll = await make(service, options="A;B;C", native=True, kind="multi")
    await service.attach_message(poll.id, 6666)
    await service.native_vote(message_id=6666, user_id=7, answer_id=1, added=True)
    await service.native_vote(message_id=6666, user_id=7, answer_id=2, added=True)
    assert [o.count for o in (await service.results(poll.id)).options] == [1, 1, 0]
    # Discord's voters (e.g. fetched at closing): 7 dropped B, 8 voted while we were away
    changed = await service.reconcile_native(poll.id, {7: {1}, 8: {3}})
    assert changed == 2
    assert [o.count for o in (await service.results(poll.id)).options] == [1, 0, 1]
    await service.close(poll.id)
    assert await service.native_vote(message_id=6666, user_id=9, answer_id=1, added=True) is None


async def test_partial_native_voter_lists_never_delete_answers(service):
    poll = await make(service, options="A;B", native=True)
    await service.attach_message(poll.id, 7777)
    await service.native_vote(message_id=7777, user_id=7, answer_id=1, added=True)
    assert await service.reconcile_native(poll.id, {8: {2}}, remove_missing=False) == 1
    assert [o.count for o in (await service.results(poll.id)).options] == [1, 1]
