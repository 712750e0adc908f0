"""#10 item 6: an anonymous poll stores no member id — a keyed pseudonym per poll — on the real
database (SQLite, or PostgreSQL with RESEAU_TEST_DATABASE_URL), while everything a member does
still works (vote, change their mind, see their answer, withdraw, surveys, /my-data,
/forget-me), results keep the member types, and ``export --identified`` is refused for it."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from bot.config import PrivacySection
from bot.errors import describe
from bot.i18n import Catalogue
from bot.services.container import privacy_hooks
from bot.services.exports import Exporter, ExportRequest
from bot.services.exports.model import IdentifiedRefused
from bot.services.poll_jobs import reminder_targets
from bot.services.polls import PollService
from bot.services.privacy import answer_pseudonym, answer_pseudonyms, pseudonym_scope
from bot.services.profiles import ProfileService
from storage.models import Answer, Campaign, Profile
from tests.cli_runner import run_cli

CATALOGUE = Catalogue.load()
ALICE, BOB = 111_222_333_444_555_666, 777_888_999_000_111_222
ENV = {"RESEAU_EXPORT_SECRET": "correct horse battery staple 2026"}


@pytest.fixture
def polls(sessions, config, clock) -> PollService:
    return PollService.from_config(sessions, config, CATALOGUE, clock=clock)


async def make(polls: PollService, **overrides):
    values = dict(guild_id=1, channel_id=10, author_id=100, question="Quel format ?", options="A;B;C")
    values.update(overrides)
    return await polls.create(polls.prepare(**values))


async def stored_user_ids(sessions) -> list[int | None]:
    async with sessions() as session:
        return list(await session.scalars(select(Answer.user_id).order_by(Answer.id)))


async def test_an_anonymous_poll_stores_a_pseudonym_and_every_member_action_still_works(polls, sessions):
    async with sessions.begin() as session:
        session.add(Profile(user_id=ALICE, member_type="ong"))
    poll = await make(polls)
    a, b, _ = poll.options
    assert (await polls.vote(poll.id, user_id=ALICE, option_id=a.id)).labels == ["A"]
    assert (await polls.vote(poll.id, user_id=ALICE, option_id=b.id)).labels == ["B"], "she changed her mind"
    await polls.vote(poll.id, user_id=BOB, option_id=a.id)
    ids = await stored_user_ids(sessions)
    assert len(ids) == 2, "one answer per member, whatever the clicks"
    assert ALICE not in ids and BOB not in ids and all(i is not None and i < 0 for i in ids)
    assert (await polls.my_answer(poll.id, ALICE)).labels == ["B"], "the member still sees her own answer"
    results = await polls.results(poll.id)
    assert [o.count for o in results.options] == [1, 1, 0] and results.voters == {}
    assert {t.code: t.counts for t in results.by_type}["ong"] == (0, 1, 0), "the member type is kept"
    assert (await polls.withdraw(poll.id, user_id=ALICE)).changed
    assert len(await stored_user_ids(sessions)) == 1

    named = await make(polls, anonymous=False)
    await polls.vote(named.id, user_id=ALICE, option_id=named.options[0].id)
    assert ALICE in await stored_user_ids(sessions), "a named poll keeps the id (moderators see who)"


async def test_pseudonyms_differ_from_poll_to_poll_and_hold_in_surveys_and_texts(polls, sessions):
    first, second = await make(polls), await make(polls)
    for poll in (first, second):
        await polls.vote(poll.id, user_id=ALICE, option_id=poll.options[0].id)
    one, two = await stored_user_ids(sessions)
    assert one != two, "two anonymous polls cannot be linked to each other"

    text = await make(polls, kind="text", options=None)
    await polls.answer_text(text.id, user_id=ALICE, text="Plus d’échanges")
    await polls.answer_text(text.id, user_id=ALICE, text="Plus d’échanges entre pairs")
    survey = await polls.create(polls.prepare_survey(
        guild_id=1, channel_id=10, author_id=100, title="Enquête", questions="[oui/non] Venez-vous ?\n\n[texte] Votre avis ?"))
    yesno, opinion = survey.questions
    await polls.answer_survey(survey.id, yesno.id, user_id=ALICE, option_ids=[yesno.options[0].id])
    progress = await polls.answer_survey(survey.id, opinion.id, user_id=ALICE, text="Bien")
    assert set(progress.answers) == {yesno.id, opinion.id}, "her progress is found under her pseudonym"
    async with sessions() as session:
        rows = (await session.execute(select(Answer.question_id, Answer.user_id))).all()
    assert ALICE not in {user for _, user in rows}
    by_question = dict(rows)
    assert by_question[yesno.id] == by_question[opinion.id], "one respondent across a survey's questions"
    assert len([q for q, _ in rows if q == text.question_id]) == 1


@pytest.mark.parametrize("mode", ["delete", "unlink"])
async def test_my_data_shows_anonymous_answers_and_forget_me_removes_them(polls, sessions, clock, mode):
    open_poll, closed_poll = await make(polls, question="Ouvert ?"), await make(polls, question="Clos ?")
    for poll in (open_poll, closed_poll):
        await polls.vote(poll.id, user_id=ALICE, option_id=poll.options[0].id)
        await polls.vote(poll.id, user_id=BOB, option_id=poll.options[1].id)
    await polls.close(closed_poll.id)
    profiles = ProfileService(sessions, privacy=PrivacySection(forget_mode=mode), clock=clock,
                              hooks=privacy_hooks(sessions))
    document = json.loads((await profiles.my_data(ALICE)).to_json())
    assert sorted((a["poll"], a["choices"]) for a in document["answers"]) == [("Clos ?", ["A"]), ("Ouvert ?", ["A"])]
    assert (await profiles.stored_counts(ALICE)).answers == 2

    result = await profiles.forget(ALICE, actor_id=ALICE)
    assert result.answers == 2 and set(result.poll_ids) == {open_poll.id, closed_poll.id}
    assert json.loads((await profiles.my_data(ALICE)).to_json())["answers"] == []
    ids = await stored_user_ids(sessions)
    bob = {await polls.pseudonyms.of(p.id, None, BOB) for p in (open_poll, closed_poll)}
    if mode == "delete":
        assert set(ids) == bob
    else:  # the closed poll's answer stays counted, with neither id nor pseudonym
        assert sorted(ids, key=str) == sorted([*bob, None], key=str)
        assert [o.count for o in (await polls.results(closed_poll.id)).options] == [1, 1, 0]
    await polls.vote(open_poll.id, user_id=ALICE, option_id=open_poll.options[2].id)
    assert [o.count for o in (await polls.results(open_poll.id)).options] == [0, 1, 1], "she counts once"


async def test_identified_exports_are_refused_for_anonymous_polls(polls, sessions, config, tmp_path):
    async with sessions.begin() as session:
        campaign = Campaign(name="Enquête 2027")
        session.add(campaign)
    anonymous = await make(polls, campaign_id=campaign.id)
    named = await make(polls, anonymous=False, campaign_id=campaign.id)
    for poll in (anonymous, named):
        await polls.vote(poll.id, user_id=ALICE, option_id=poll.options[0].id)
    exporter = Exporter(sessions, config, environ=ENV)

    for request in (ExportRequest(poll_id=anonymous.id, identified=True),
                    ExportRequest(campaign="Enquête 2027", identified=True)):
        with pytest.raises(IdentifiedRefused) as caught:
            await exporter.export_to_path(request, tmp_path / "refused.csv")
        assert caught.value.params["polls"] == str(anonymous.id)
        assert not (tmp_path / "refused.csv").exists()
    french = describe(caught.value, CATALOGUE, "fr")
    assert f"le sondage n°\u00a0{anonymous.id} est anonyme" in french and "--identified" in french
    assert "is anonymous" in describe(caught.value, CATALOGUE, "en")

    await exporter.export_to_path(ExportRequest(poll_id=named.id, identified=True), tmp_path / "named.csv")
    assert str(ALICE) in (tmp_path / "named.csv").read_text(encoding="utf-8-sig")
    await exporter.export_to_path(ExportRequest(poll_id=anonymous.id), tmp_path / "pseudo.csv")
    written = (tmp_path / "pseudo.csv").read_text(encoding="utf-8-sig")
    assert str(ALICE) not in written and str(await polls.pseudonyms.of(anonymous.id, anonymous.campaign_id, ALICE)) not in written


async def test_the_cli_refuses_an_identified_export_of_an_anonymous_poll(polls, database_url, tmp_path):
    poll = await make(polls)
    await polls.vote(poll.id, user_id=ALICE, option_id=poll.options[0].id)
    target = tmp_path / "out.csv"
    result = run_cli("export", "--poll", str(poll.id), "--identified", "-o", str(target),
                     cwd=tmp_path, env={"RESEAU_DATABASE_URL": database_url})
    assert result.returncode == 1, result.stderr  # a refusal (2 is for bad usage or config)
    assert "anonyme" in result.stderr and "Traceback" not in result.stderr
    assert not target.exists()


async def test_an_anonymous_polls_reminder_mentions_roles_never_who_is_left():
    async def answered() -> set[int]:
        raise AssertionError("who answered is not asked for an anonymous poll")

    targets = await reminder_targets([5], {5: [ALICE, BOB]}, answered, anonymous=True)
    assert (targets.mode, targets.roles) == ("roles", (5,))


def test_the_pseudonym_is_negative_keyed_stable_and_scoped():
    key = bytes(32)
    value = answer_pseudonym(key, pseudonym_scope(3, None), ALICE)
    assert value == answer_pseudonym(key, "p3", ALICE) and value <= -(1 << 32)
    assert value != answer_pseudonym(key, "p4", ALICE) and value != answer_pseudonym(bytes([1] * 32), "p3", ALICE)
    assert pseudonym_scope(3, 7) == pseudonym_scope(4, 7) == "c7", "one pseudonym across a campaign"
    many = answer_pseudonyms(key, "c7")  # the same values, one HMAC prefix for many members
    assert [many(m) for m in (ALICE, BOB, 1)] == [answer_pseudonym(key, "c7", m) for m in (ALICE, BOB, 1)]


async def test_campaign_coverage_counts_anonymous_respondents_once_by_their_answers_type(polls, sessions, config):
    """The dashboard's coverage (#13) reads the type each answer carries: an anonymous poll holds
    pseudonyms, not members to join a profile on; the campaign's polls share one per member."""
    import dataclasses

    from bot.services.dashboard import DashboardReader

    async with sessions.begin() as session:
        campaign = Campaign(name="Enquête 2027")
        session.add(campaign)
        session.add_all([Profile(user_id=ALICE, member_type="ong"), Profile(user_id=BOB, member_type="collectivite"),
                         Profile(user_id=42, member_type="ong")])
    first = await make(polls, campaign_id=campaign.id)
    second = await make(polls, campaign_id=campaign.id)
    for poll in (first, second):
        await polls.vote(poll.id, user_id=ALICE, option_id=poll.options[0].id)
    await polls.vote(first.id, user_id=BOB, option_id=first.options[1].id)
    network = dataclasses.replace(config, bot=dataclasses.replace(config.bot, moderation_guild_ids=(1,)))
    page = await DashboardReader(sessions, network).campaign(campaign.id)
    coverage = {row.code: (row.respondents, row.profiles) for row in page.coverage}
    assert coverage["ong"] == (1, 2), "Alice answered two anonymous polls of the campaign: one respondent"
    assert coverage["collectivite"] == (1, 1)


async def test_campaign_coverage_counts_a_member_of_named_and_anonymous_polls_once(polls, sessions, config):
    """A member who answered a named and an anonymous poll of one campaign is one member in its
    coverage: a named answer holds the member's id, an anonymous one their pseudonym in the
    campaign, and the coverage compares the two (it counted two ids: « 2 | 1 | 200 % »)."""
    import dataclasses

    from bot.services.dashboard import DashboardReader

    async with sessions.begin() as session:
        campaign = Campaign(name="Enquête 2028")
        session.add(campaign)
        session.add_all([Profile(user_id=ALICE, member_type="ong"), Profile(user_id=BOB, member_type="collectivite"),
                         Profile(user_id=42, member_type="ong"), Profile(user_id=43, member_type="collectivite")])
    named = await make(polls, campaign_id=campaign.id, anonymous=False)
    anonymous = await make(polls, campaign_id=campaign.id)
    outside = await make(polls)  # an anonymous poll of no campaign: another scope, not counted here
    for poll in (named, anonymous, outside):
        await polls.vote(poll.id, user_id=ALICE, option_id=poll.options[0].id)
    await polls.vote(named.id, user_id=BOB, option_id=named.options[1].id)  # named only
    await polls.vote(anonymous.id, user_id=43, option_id=anonymous.options[1].id)  # anonymous only
    network = dataclasses.replace(config, bot=dataclasses.replace(config.bot, moderation_guild_ids=(1,)))
    page = await DashboardReader(sessions, network).campaign(campaign.id)
    coverage = {row.code: (row.respondents, row.profiles) for row in page.coverage}
    assert coverage["ong"] == (1, 2), "Alice answered a named and an anonymous poll: one member"
    assert coverage["collectivite"] == (2, 2), "Bob (named) and member 43 (anonymous) are two members"
    assert page.respondents == 3
    # the campaigns' list (/poll campaign list, the dashboard's /campaigns) counts them the same
    from bot.services.campaigns import CampaignService

    listed = {c.name: c.respondents for c in await CampaignService(sessions).list()}
    assert listed["Enquête 2028"] == 3


async def set_type(sessions, user_id: int, member_type: str) -> None:
    """The member's profile now says ``member_type`` (a profile changed mid-campaign)."""
    async with sessions.begin() as session:
        profile = await session.get(Profile, user_id)
        if profile is None:
            session.add(Profile(user_id=user_id, member_type=member_type))
        else:
            profile.member_type = member_type


async def coverage_of(sessions, config, campaign_id: int) -> tuple[dict[str | None, int], int]:
    import dataclasses

    from bot.services.dashboard import DashboardReader

    network = dataclasses.replace(config, bot=dataclasses.replace(config.bot, moderation_guild_ids=(1,)))
    page = await DashboardReader(sessions, network).campaign(campaign_id)
    return {row.code: row.respondents for row in page.coverage if row.respondents}, page.respondents


@pytest.mark.parametrize("anonymous", [False, True], ids=["named", "anonymous"])
async def test_campaign_coverage_counts_a_member_whose_type_changed_once_under_their_latest_answers(
    polls, sessions, config, clock, anonymous
):
    """A member whose type changed mid-campaign counts once, under the type of their most
    recent answer — the latest answered, not the latest poll (it counted them under each type:
    « ONG 1, collectivité 1 » for one member)."""
    from datetime import timedelta

    async with sessions.begin() as session:
        campaign = Campaign(name=f"Enquête 2029 {anonymous}")
        session.add(campaign)
    first = await make(polls, campaign_id=campaign.id, anonymous=anonymous)
    second = await make(polls, campaign_id=campaign.id, anonymous=anonymous)
    await set_type(sessions, ALICE, "ong")
    await polls.vote(first.id, user_id=ALICE, option_id=first.options[0].id)
    await set_type(sessions, BOB, "reseau")
    await polls.vote(second.id, user_id=BOB, option_id=second.options[0].id)
    clock.advance(timedelta(minutes=30))
    await set_type(sessions, ALICE, "collectivite")  # her organisation joined a local authority
    await polls.vote(second.id, user_id=ALICE, option_id=second.options[1].id)
    await set_type(sessions, BOB, "ong")
    await polls.vote(first.id, user_id=BOB, option_id=first.options[1].id)  # the earlier poll, answered later
    counts, respondents = await coverage_of(sessions, config, campaign.id)
    assert counts == {"collectivite": 1, "ong": 1}, "Alice under her latest type, Bob under his"
    assert respondents == 2


async def test_campaign_coverage_of_named_and_anonymous_polls_takes_the_latest_answer_of_either(
    polls, sessions, config, clock
):
    """A member who answered a named and an anonymous poll of one campaign, their type changed
    in between, counts once under the type of whichever answer is the later."""
    from datetime import timedelta

    async with sessions.begin() as session:
        campaign = Campaign(name="Enquête 2030")
        session.add(campaign)
    named = await make(polls, campaign_id=campaign.id, anonymous=False)
    anonymous = await make(polls, campaign_id=campaign.id)
    await set_type(sessions, ALICE, "ong")
    await polls.vote(named.id, user_id=ALICE, option_id=named.options[0].id)
    await set_type(sessions, BOB, "reseau")
    await polls.vote(anonymous.id, user_id=BOB, option_id=anonymous.options[0].id)
    clock.advance(timedelta(minutes=30))
    await set_type(sessions, ALICE, "collectivite")
    await polls.vote(anonymous.id, user_id=ALICE, option_id=anonymous.options[1].id)  # anonymous, later
    await set_type(sessions, BOB, "institution")
    await polls.vote(named.id, user_id=BOB, option_id=named.options[1].id)  # named, later
    counts, respondents = await coverage_of(sessions, config, campaign.id)
    assert counts == {"collectivite": 1, "institution": 1}
    assert respondents == 2
    from bot.services.campaigns import CampaignService

    listed = {c.name: c.respondents for c in await CampaignService(sessions).list()}
    assert listed["Enquête 2030"] == 2
