"""Campaigns, the survey text format, survey answers and results by type — the services on a
real database (SQLite, or PostgreSQL with RESEAU_TEST_DATABASE_URL), without Discord."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from bot.errors import Conflict, InvalidInput, NotFound, describe
from bot.i18n import Catalogue, french_typography
from bot.services.campaigns import CampaignService, current_campaign_id
from bot.services.polls import PollService
from bot.services.profiles import ProfileService
from bot.services.surveys import parse_kind_prefix, parse_survey
from storage.models import Answer, AuditEntry, Campaign, Extract, Poll, Question

CATALOGUE = Catalogue.load()
SURVEY = """[Oui / Non] Avez-vous participé à une rencontre ?

[multi:2] Quels thèmes ?
- Climat
* Santé
• Éducation

Votre région ?
Nord ; Sud ; Outre-mer

[Échelle] Le réseau vous est-il utile ?

[texte] Une idée\u202f?"""


@pytest.fixture
def polls(sessions, config, clock) -> PollService:
    return PollService.from_config(sessions, config, CATALOGUE, clock=clock)


@pytest.fixture
def campaigns(sessions, clock) -> CampaignService:
    return CampaignService(sessions, clock=clock)


def render(error: Exception, lang: str) -> str:
    return describe(error, CATALOGUE, lang)


async def survey(polls: PollService, text: str = SURVEY, **overrides):
    values = dict(guild_id=1, channel_id=10, author_id=100, title="Enquête éclair", questions=text)
    values.update(overrides)
    return await polls.create(polls.prepare_survey(**values))


# ----------------------------------------------------------------------------- text format
def test_survey_text_format_kinds_options_and_bullets(polls):
    drafts = parse_survey(SURVEY, polls, lang="fr")
    assert [(d.kind, d.max_choices) for d in drafts] == [
        ("yesno", 1),
        ("multi", 2),
        ("single", 1),
        ("likert", 1),
        ("text", 1),
    ]
    assert drafts[0].text == "Avez-vous participé à une rencontre ?"
    assert drafts[0].labels == ("Oui", "Non", "Abstention") and drafts[0].codes == ("yes", "no", "abstain")
    assert drafts[1].labels == ("Climat", "Santé", "Éducation") and drafts[1].codes == ("o1", "o2", "o3")
    assert drafts[2].labels == ("Nord", "Sud", "Outre-mer")
    assert drafts[3].codes == ("1", "2", "3", "4", "5")
    assert drafts[4].labels == ()
    english = parse_survey("[yesno] Coming?\r\n\r\n\r\n[multiple] Topics?\nA\nB", polls, lang="en")
    assert english[0].labels == ("Yes", "No", "Abstain")
    assert (english[1].kind, english[1].max_choices) == ("multi", 2)
    assert parse_kind_prefix("MULTI:3") == ("multi", 3) and parse_kind_prefix("libre") == ("text", None)
    assert parse_kind_prefix("yes / no") == ("yesno", None) and parse_kind_prefix("sondage") is None


@pytest.mark.parametrize(
    ("text", "fr", "en"),
    [
        ("[oui/non] Seule ?", "j’en compte 1.", "I count 1."),
        ("\n\n".join(f"[texte] Q{n} ?" for n in range(6)), "j’en compte 6.", "I count 6."),
        ("[oui/non] A ?\n\nB ?", "Question 2 : Donnez les options", "Question 2: Give the options"),
        (
            "[oui/non] A ?\nOui\nNon\n\n[texte] B ?",
            "Question 1 : Le type « Oui / Non / Abstention » a ses",
            "Question 1: The “Yes / No / Abstain” kind has its",
        ),
        (
            "[texte] A ?\n\n[multi:5] B ?\nX\nY",
            "Question 2 : Le nombre de choix possibles doit être entre 1 et 2.",
            "Question 2: The number of choices must be between 1 and 2.",
        ),
        (
            "[texte] A ?\n\nB ?\nX\nx",
            "Question 2 : L’option « x » apparaît deux fois.",
            "Question 2: The option “x” is listed twice.",
        ),
        ("[texte] A @everyone ?\n\n[texte] B ?", "Question 1 : Pas de mention", "Question 1: No mentions"),
        (
            "[texte] A ?\n\n[bof] B ?",
            "Question 2 : Type « [bof] » inconnu",
            "Question 2: Unknown kind “[bof]”",
        ),
    ],
)
def test_survey_text_format_errors_name_the_question(polls, text, fr, en):
    with pytest.raises(InvalidInput) as caught:
        parse_survey(text, polls, lang="fr")
    assert french_typography(fr) in render(caught.value, "fr")
    assert en in render(caught.value, "en")


def test_survey_title_is_checked(polls):
    for title, key in (("  ", "survey.error.title_empty"), ("x" * 201, "survey.error.title_too_long")):
        with pytest.raises(InvalidInput) as caught:
            polls.prepare_survey(guild_id=1, channel_id=2, author_id=3, title=title, questions=SURVEY)
        assert caught.value.key == key


# ----------------------------------------------------------------------------- campaigns
async def test_campaigns_current_and_audit(sessions, campaigns, polls):
    assert await current_campaign_id(sessions) is None
    assert await campaigns.resolve(None) is None
    first = await campaigns.create("  Enquête   membres 2026-2027 ", actor_id=7, guild_id=1)
    assert first.name == "Enquête membres 2026-2027" and first.current
    second = await campaigns.create("Enquête membres 2027-2028", actor_id=7)
    assert not second.current
    assert await current_campaign_id(sessions) == first.id
    with pytest.raises(Conflict):
        await campaigns.create("ENQUÊTE membres 2026-2027", actor_id=7)
    for bad in ("", "x" * 101, "Campagne <@&123>"):
        with pytest.raises(InvalidInput):
            await campaigns.create(bad, actor_id=7)

    view, changed = await campaigns.activate("enquête membres 2027-2028", actor_id=8)
    assert changed and view.id == second.id and view.name == "Enquête membres 2027-2028"
    assert (await campaigns.activate("Enquête membres 2027-2028", actor_id=8))[1] is False
    assert await current_campaign_id(sessions) == second.id
    async with sessions() as session:
        assert list(await session.scalars(select(Campaign.name).where(Campaign.active.is_(True)))) == [
            "Enquête membres 2027-2028"
        ]
    third = await campaigns.create("Bilan 2028", actor_id=9, activate=True)
    assert third.current and await campaigns.resolve("") == third.id
    assert await campaigns.resolve("bilan 2028") == third.id
    with pytest.raises(NotFound):
        await campaigns.resolve("Inconnue")
    with pytest.raises(NotFound):
        await campaigns.activate("Inconnue", actor_id=9)
    assert await campaigns.search("membres") == [
        ("Enquête membres 2027-2028", False),
        ("Enquête membres 2026-2027", False),
    ]
    assert await campaigns.search("") == [("Bilan 2028", True)] + await campaigns.search("membres")

    async with sessions() as session:
        audit = (
            await session.execute(
                select(AuditEntry.action, AuditEntry.actor_id, AuditEntry.target_id).order_by(AuditEntry.id)
            )
        ).all()
    assert audit == [
        ("campaign.create", 7, str(first.id)),
        ("campaign.create", 7, str(second.id)),
        ("campaign.activate", 8, str(second.id)),
        ("campaign.create", 9, str(third.id)),
    ]


async def test_campaign_list_counts_polls_and_respondents(sessions, campaigns, polls):
    campaign = await campaigns.create("Enquête membres 2026-2027", actor_id=1)
    other = await campaigns.create("Autre", actor_id=1)
    one = await polls.create(
        polls.prepare(
            guild_id=1, channel_id=2, author_id=3, question="A ?", options="x; y", campaign_id=campaign.id
        )
    )
    two = await survey(polls, campaign_id=campaign.id)
    await polls.create(polls.prepare(guild_id=1, channel_id=2, author_id=3, question="B ?", options="x; y"))
    await polls.vote(one.id, user_id=41, option_id=one.options[0].id)
    await polls.answer_survey(
        two.id, two.questions[0].id, user_id=41, option_ids=[two.questions[0].options[0].id]
    )
    await polls.answer_survey(two.id, two.questions[4].id, user_id=42, text="Une idée")
    listing = {c.name: (c.current, c.polls, c.respondents) for c in await campaigns.list()}
    assert listing == {"Enquête membres 2026-2027": (True, 2, 2), "Autre": (False, 0, 0)}
    assert other.id != campaign.id


async def test_a_poll_created_programmatically_in_the_current_campaign(sessions, campaigns, polls):
    """What the monthly extract does with its follow-up question."""
    campaign = await campaigns.create("Enquête membres 2026-2027", actor_id=1)
    async with sessions.begin() as session:
        extract = Extract(source_key="2026-03-collectivites", title="Les besoins des collectivités")
        session.add(extract)
        await session.flush()
        extract_id = extract.id
    draft = polls.prepare(
        guild_id=1,
        channel_id=2,
        author_id=999,
        question="De quel soutien votre collectivité a-t-elle besoin ?",
        kind="multi",
        options=["Formation", "Financement", "Mise en relation"],
        campaign_id=await current_campaign_id(sessions),
        extract_id=extract_id,
    )
    poll = await polls.create(draft, actor_id=None)
    assert (poll.campaign_id, poll.extract_id) == (campaign.id, extract_id)
    assert [o.label for o in poll.options] == ["Formation", "Financement", "Mise en relation"]
    async with sessions() as session:
        stored = await session.get(Poll, poll.id)
        assert (stored.campaign_id, stored.extract_id) == (campaign.id, extract_id)
        details = await session.scalar(select(AuditEntry.details).where(AuditEntry.action == "poll.create"))
    assert details["campaign_id"] == campaign.id and details["extract_id"] == extract_id


# ----------------------------------------------------------------------------- survey answers
async def test_survey_progress_is_derived_from_stored_answers(sessions, polls, clock):
    poll = await survey(polls)
    assert poll.is_survey and [q.code for q in poll.questions] == ["q1", "q2", "q3", "q4", "q5"]
    assert poll.title == "Enquête éclair" and poll.question == "Avez-vous participé à une rencontre ?"
    q1, q2, q3, q4, q5 = poll.questions
    fresh = await polls.survey_progress(poll.id, 41, guild_id=1)
    assert (fresh.answered, fresh.total, fresh.next_question) == (0, 5, q1)
    await polls.answer_survey(poll.id, q1.id, user_id=41, option_ids=[q1.options[1].id])
    await polls.answer_survey(poll.id, q3.id, user_id=41, option_ids=[q3.options[0].id])
    progress = await PollService.from_config(sessions, polls_config(polls), CATALOGUE).survey_progress(
        poll.id, 41
    )
    assert progress.answered == 2 and progress.next_question == q2, "a new service (a restart) resumes at q2"
    saved = await polls.answer_survey(
        poll.id, q2.id, user_id=41, option_ids=[q2.options[2].id, q2.options[0].id]
    )
    assert saved.saved == q2 and saved.labels(q2) == ["Climat", "Éducation"] and saved.next_question == q4
    with pytest.raises(InvalidInput) as too_many:
        await polls.answer_survey(poll.id, q2.id, user_id=41, option_ids=[o.id for o in q2.options])
    assert too_many.value.key == "poll.error.too_many_choices"
    with pytest.raises(InvalidInput):
        await polls.answer_survey(poll.id, q1.id, user_id=41, option_ids=[q2.options[0].id])
    with pytest.raises(InvalidInput):
        await polls.answer_survey(poll.id, q5.id, user_id=41, text="  ")
    with pytest.raises(InvalidInput) as other:
        await polls.answer_survey(poll.id, 10**9, user_id=41, option_ids=[1])
    assert other.value.key == "survey.error.unknown_question"
    with pytest.raises(InvalidInput) as quick:
        await polls.vote(poll.id, user_id=41, option_id=q1.options[0].id)
    assert quick.value.key == "survey.error.use_survey"
    await polls.answer_survey(poll.id, q4.id, user_id=41, option_ids=[q4.options[3].id])
    done = await polls.answer_survey(poll.id, q5.id, user_id=41, text="  Plus de rencontres  ")
    assert done.done and done.answers[q5.id].text == "Plus de rencontres"

    results = await polls.results(poll.id)
    assert [r.question.code for r in results.questions] == ["q1", "q2", "q3", "q4", "q5"]
    assert (results.survey_respondents, results.completed) == (1, 1)
    assert [o.count for o in results.questions[1].options] == [1, 0, 1]
    assert results.questions[4].texts[0].text == "Plus de rencontres"

    clock.advance(timedelta(days=30))  # past the deadline: no more answers
    with pytest.raises(Conflict):
        await polls.answer_survey(poll.id, q1.id, user_id=42, option_ids=[q1.options[0].id])
    await polls.close(poll.id)
    with pytest.raises(Conflict):
        await polls.survey_progress(poll.id, 41)


def polls_config(polls: PollService):
    return SimpleNamespace(polls=polls.settings, tz=polls.tz, member_types=polls.member_types)


async def test_member_type_snapshot_and_type_table(sessions, polls):
    profiles = ProfileService(sessions)
    for user_id, member_type in ((41, "collectivite"), (42, "ong"), (43, "collectivite")):
        await profiles.record_consent(user_id)
        await profiles.set_profile(user_id, member_type)
    poll = await survey(polls, text="[oui/non] A ?\n\n[texte] B ?")
    q1, q2 = poll.questions
    yes, no, _ = q1.options
    for user_id, option in ((41, yes), (42, yes), (43, no)):
        await polls.answer_survey(poll.id, q1.id, user_id=user_id, option_ids=[option.id])
    await profiles.set_profile(41, "reseau")
    await polls.answer_survey(poll.id, q2.id, user_id=41, text="Idée")
    async with sessions() as session:
        types = (
            await session.execute(
                select(Question.code, Answer.member_type)
                .join(Question)
                .where(Answer.user_id == await polls.pseudonyms.of(poll.id, poll.campaign_id, 41))  # anonymous
                .order_by(Question.code)
            )
        ).all()
    assert types == [("q1", "collectivite"), ("q2", "reseau")]
    results = await polls.results(poll.id)
    table = polls.type_table(results.questions[0], "en")
    assert table.headers == ("Oui", "Non", "Abstention"), "the options are the survey's, in its language"
    assert [(label, n, [c for c, _ in cells]) for label, n, cells in table.rows] == [
        ("Local authority", 2, [1, 1, 0]),
        ("NGO / association", 1, [1, 0, 0]),
    ]
    assert table.rows[0][2] == ((1, 50.0), (1, 50.0), (0, 0.0)), "% of the type's own respondents"
    assert (
        table.total[0] == "Total"
        and table.total[1] == 3
        and table.total[2][0] == (2, pytest.approx(66.666, 0.01))
    )


def test_survey_prefixes_take_a_ranking_s_maximum_a_question_number_and_say_a_range(polls):
    drafts = parse_survey("1. [classement:3] Priorités ?\nA\nB\nC\nD\n\n2) Quel thème ?\nX\nY", polls)
    assert [(d.kind, d.max_choices, d.text) for d in drafts] == [
        ("ranking", 3, "Priorités ?"),
        ("single", 1, "Quel thème ?"),
    ]
    assert parse_kind_prefix("classement:3") == ("ranking", 3) and parse_kind_prefix("oui/non:2") is None
    with pytest.raises(InvalidInput) as caught:
        parse_survey("[multi:100] Thèmes ?\nA\nB\nC\n\n[texte] Idée ?", polls)
    assert describe(caught.value, CATALOGUE, "fr") == "Question 1\u202f: Le nombre de choix possibles doit être entre 1 et 3."
    with pytest.raises(InvalidInput) as caught:
        parse_survey("[sondage] A ?\nX\nY\n\n[texte] Idée ?", polls)
    assert "[classement:N]" in describe(caught.value, CATALOGUE, "fr")
    assert "[ranking:N]" in describe(caught.value, CATALOGUE, "en")
