"""One question, many channels and languages (issue 11, items 1 and 3), on a real database: a
poll posted to a French and an English channel is one question (one answer per member whichever
posting they click, results counting both, respondents by channel), its wording per language,
and the merge of two questions that existed before postings — done when their options match,
refused otherwise (nothing changed)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.errors import Conflict, InvalidInput
from bot.i18n import Catalogue
from bot.services.exports import Exporter, ExportRequest
from bot.services.polls import PollService
from bot.services.postings import PostingService, localized
from storage.models import Answer, AuditEntry, NetworkChannel, Poll, PollPosting, Question

CATALOGUE = Catalogue.load()
GUILD, FR, EN = 1, 10, 20
ALICE, BOB, CAROL = 501, 502, 503


@pytest.fixture
def polls(sessions, config, clock) -> PollService:
    return PollService.from_config(sessions, config, CATALOGUE, clock=clock)


@pytest.fixture
async def postings(sessions, clock) -> PostingService:
    async with sessions.begin() as session:
        session.add_all([NetworkChannel(channel_id=FR, guild_id=GUILD, language="fr", name="general"),
                         NetworkChannel(channel_id=EN, guild_id=GUILD, language="en", name="general-en")])
    return PostingService(sessions, clock=clock)


async def posted(polls: PollService, postings: PostingService, *, channel=FR, lang="fr", anonymous=False,
                 options="Oui; Non", question="Le réseau vous aide-t-il ?", channels=((FR, "fr"), (EN, "en")),
                 campaign_id=None):
    poll = await polls.create(polls.prepare(guild_id=GUILD, channel_id=channel, author_id=9, question=question,
                                            options=options, anonymous=anonymous, lang=lang, campaign_id=campaign_id))
    for message, (channel_id, channel_lang) in enumerate(channels, start=1000 * poll.id):
        posting = await postings.claim(poll, GUILD, channel_id, channel_lang)
        assert posting is not None
        await postings.attach(posting, message)
        if channel_id == poll.channel_id:
            poll = await polls.attach_message(poll.id, message)
    return poll


async def test_two_postings_one_question_a_member_counts_once(polls, postings, sessions):
    poll = await posted(polls, postings)
    yes, no = poll.options
    assert await postings.claim(poll, GUILD, EN, "en") is None, "one posting per poll and channel"
    await polls.vote(poll.id, user_id=ALICE, option_id=yes.id)
    await postings.answered_from(poll, ALICE, FR)
    await polls.vote(poll.id, user_id=BOB, option_id=no.id)
    await postings.answered_from(poll, BOB, EN)
    # Alice clicks the English posting too: still one answer, her latest choice, her first channel
    await polls.vote(poll.id, user_id=ALICE, option_id=no.id)
    await postings.answered_from(poll, ALICE, EN)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Answer)) == 2
        assert await session.scalar(select(func.count()).select_from(Question)) == 1
    results = await polls.results(poll.id)
    assert results.respondents == 2 and {c.label: c.count for c in results.options} == {"Oui": 0, "Non": 2}
    by_channel = await postings.by_channel(poll)
    assert [(c.posting.channel_name, c.posting.lang, c.respondents) for c in by_channel] == [
        ("general", "fr", 1), ("general-en", "en", 1)
    ]


async def test_a_poll_posted_in_one_channel_counts_its_respondents_there(polls, postings):
    """Votes on a poll posted in one channel note no posting (nothing to tell apart): by channel,
    they are that channel's, not a channel that is not known."""
    poll = await posted(polls, postings, channels=((FR, "fr"),))
    yes, no = poll.options
    await polls.vote(poll.id, user_id=ALICE, option_id=yes.id)
    await polls.vote(poll.id, user_id=BOB, option_id=no.id)
    by_channel = await postings.by_channel(poll)
    assert [(c.posting and c.posting.channel_name, c.respondents) for c in by_channel] == [("general", 2)]


async def test_wording_per_language_and_the_fallback(polls, postings):
    poll = await posted(polls, postings)
    wording = await postings.wording(poll.id)
    english, fell_back = localized(poll, "en", wording)
    assert fell_back and english.question == poll.question and english.lang == "en"
    await postings.set_wording(poll, "en", "Does the network help you?", ["Yes", "No"])
    english, fell_back = localized(poll, "en", await postings.wording(poll.id))
    assert not fell_back
    assert english.question == "Does the network help you?" and [o.label for o in english.options] == ["Yes", "No"]
    assert [o.id for o in english.options] == [o.id for o in poll.options], "the same options, another wording"
    french, fell_back = localized(poll, "fr", await postings.wording(poll.id))
    assert french is poll and not fell_back
    with pytest.raises(InvalidInput) as caught:
        await postings.set_wording(poll, "en", "Q?", ["Yes"])
    assert caught.value.key == "postings.error.option_count"


async def merge_case(polls, postings, *, target_options="Oui; Non", source_options="Yes; No", anonymous=False,
                     close=True, campaign_id=None):
    target = await posted(polls, postings, options=target_options, anonymous=anonymous, channels=((FR, "fr"),),
                          campaign_id=campaign_id)
    source = await posted(polls, postings, channel=EN, lang="en", question="Does the network help you?",
                          options=source_options, anonymous=anonymous, channels=((EN, "en"),),
                          campaign_id=campaign_id)
    await polls.vote(target.id, user_id=ALICE, option_id=target.options[0].id)
    await polls.vote(source.id, user_id=BOB, option_id=source.options[1].id)
    await polls.vote(source.id, user_id=ALICE, option_id=source.options[1].id)  # answered both
    if close:
        await polls.close(target.id)
        await polls.close(source.id)
    return target, source


async def test_merge_matching_questions_into_one_variable(polls, postings, sessions, config, tmp_path):
    # options typed in two languages get the same positional codes: they match
    target, source = await merge_case(polls, postings)
    assert [o.code for o in target.options] == [o.code for o in source.options]
    result = await postings.merge(target.id, source.id, actor_id=7)
    assert (result.moved, result.dropped, result.postings_moved, result.source_poll_deleted) == (1, 1, 1, True)
    results = await polls.results(target.id)
    assert results.respondents == 2, "Alice once (her target answer kept), Bob from the English poll"
    assert {c.label: c.count for c in results.options} == {"Oui": 1, "Non": 1}
    async with sessions() as session:
        assert await session.get(Poll, source.id) is None
        assert set(await session.scalars(select(PollPosting.channel_id).where(PollPosting.poll_id == target.id))) == {
            FR, EN}
        question = await session.get(Question, target.question_id)
        assert question.labels == {"en": "Does the network help you?"}
        audit = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "poll_merge"))).one()
        assert audit.actor_id == 7 and audit.details["moved"] == 1
    wording = await postings.wording(target.id)
    english, fell_back = localized(await polls.get(target.id), "en", wording)
    assert not fell_back and [o.label for o in english.options] == ["Yes", "No"]
    # one variable in the wide export, asked in both channels
    exporter = Exporter(sessions, config, environ={"RESEAU_EXPORT_SECRET": "x" * 32})
    path = tmp_path / "wide.csv"
    export = await exporter.export_to_path(ExportRequest(poll_id=target.id, layout="wide", labels="en"), path)
    header = path.read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    assert export.respondents == 2 and header.count(target.options[0].code) == 0
    assert [h for h in header if "/" not in h][5:] == [question.code]
    codebook = (tmp_path / "wide.codebook.csv").read_text(encoding="utf-8-sig")
    assert "#general (fr), #general-en (en)" in codebook


@pytest.mark.parametrize("case, key", [
    (dict(source_options="Yes; No; Maybe"), "postings.merge.options_differ"),
    (dict(anonymous=True), "postings.merge.anonymous"),
    (dict(close=False), "postings.merge.open"),
])
async def test_merge_refused_changes_nothing(polls, postings, sessions, case, key):
    target, source = await merge_case(polls, postings, **case)
    async with sessions() as session:
        before = sorted((a.question_id, a.user_id) for a in await session.scalars(select(Answer)))
    with pytest.raises((InvalidInput, Conflict)) as caught:
        await postings.merge(target.id, source.id)
    assert caught.value.key == key
    message = CATALOGUE.t(caught.value.key, "fr", **caught.value.params)
    assert "{" not in message
    async with sessions() as session:
        assert sorted((a.question_id, a.user_id) for a in await session.scalars(select(Answer))) == before
        assert await session.get(Poll, source.id) is not None


async def test_anonymous_polls_of_one_campaign_merge_their_pseudonyms_match(polls, postings, sessions, clock):
    """In one campaign a member has one pseudonym: the duplicate is found, nobody counts twice."""
    from bot.services.campaigns import CampaignService

    campaign = await CampaignService(sessions, clock=clock).create("Enquête 2026-2027", actor_id=1)
    target, source = await merge_case(polls, postings, anonymous=True, campaign_id=campaign.id)
    async with sessions() as session:
        stored = set(await session.scalars(select(Answer.user_id)))
    assert ALICE not in stored and BOB not in stored, "pseudonyms, never the ids"
    result = await postings.merge(target.id, source.id)
    assert (result.moved, result.dropped) == (1, 1)
    assert (await polls.results(target.id)).respondents == 2


async def test_the_month_poll_is_claimed_once_whichever_language_comes_first(polls, postings, sessions):
    """Two processes posting the month's French and English extracts at once create one poll:
    the claim of the month's question is a primary key, not a lock in memory."""
    from storage.models import Extract

    async with sessions.begin() as session:
        extracts = [Extract(source_key=f"k-{lang}", title=lang, month="2026-11", lang=lang, question=q,
                            question_kind="single", question_options=options)
                    for lang, q, options in (("fr", "Q ?", ["A", "B"]), ("en", "Q?", ["A", "B"]))]
        other = Extract(source_key="k-other", title="o", month="2026-11", lang="de", question="?",
                        question_kind="single", question_options=["A", "B", "C"])  # another question
        session.add_all([*extracts, other])
    fr, en = (e.id for e in extracts)
    assert await postings.claim_month_poll(en) == (True, None)
    assert await postings.claim_month_poll(fr) == (False, None), "being created by the other process"
    assert await postings.claim_month_poll(other.id) == (True, None), "a different question, its own poll"
    await postings.month_poll_posted(en, None)  # the posting failed: released
    assert await postings.claim_month_poll(fr) == (True, None)
    poll = await posted(polls, postings)
    await postings.month_poll_posted(fr, poll.id)
    assert await postings.claim_month_poll(en) == (False, poll.id)


async def test_a_network_poll_is_answered_from_every_server_it_is_posted_in(polls, postings, sessions):
    """A network poll has postings in several of the network's servers: a member of another
    server than the poll's own answers through the posting there (once per question), and reads
    its results; a server where it is not posted is refused."""
    other_guild, other_channel, elsewhere = 2, 30, 3
    async with sessions.begin() as session:
        session.add(NetworkChannel(channel_id=other_channel, guild_id=other_guild, language="fr", name="réseau"))
    poll = await posted(polls, postings, channels=((FR, "fr"),))
    posting = await postings.claim(poll, other_guild, other_channel, "fr")
    await postings.attach(posting, 99_000)
    yes, no = poll.options
    await polls.vote(poll.id, user_id=ALICE, option_id=yes.id, guild_id=GUILD)
    await polls.vote(poll.id, user_id=BOB, option_id=no.id, guild_id=other_guild)
    await polls.vote(poll.id, user_id=BOB, option_id=yes.id, guild_id=other_guild)  # changes his mind
    assert [o.count for o in (await polls.results(poll.id, guild_id=other_guild)).options] == [2, 0]
    from bot.errors import Forbidden

    with pytest.raises(Forbidden):
        await polls.vote(poll.id, user_id=CAROL, option_id=yes.id, guild_id=elsewhere)
    with pytest.raises(Forbidden):
        await polls.results(poll.id, guild_id=elsewhere)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Answer)) == 2


async def test_results_in_a_language_the_poll_has_whole(polls, postings):
    """A reader of another language (a moderator's ``/poll results``, the dashboard) reads the
    results in that language's wording when the poll has all of it; else in the poll's own."""
    poll = await posted(polls, postings)
    await polls.vote(poll.id, user_id=ALICE, option_id=poll.options[0].id)
    results = await polls.results(poll.id)
    assert await postings.results_in(results, "en") is results, "no English wording yet: as they are"
    await postings.set_wording(poll, "en", "Does the network help you?", ["Yes", "No"])
    english = await postings.results_in(results, "en")
    assert english.poll.question == english.poll.title == "Does the network help you?" and english.poll.lang == "en"
    assert [(c.label, c.count) for c in english.options] == [("Yes", 1), ("No", 0)], "the same counts"
    assert [q.question.text for q in english.questions] == ["Does the network help you?"]
    assert [(c.label, c.count) for c in english.questions[0].options] == [("Yes", 1), ("No", 0)]
    assert await postings.results_in(results, "fr") is results
