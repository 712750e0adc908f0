"""Each monthly extract asks the members back: its follow-up question (front matter `question`,
`kind`, `options`) is posted with it as a poll in the current campaign, once per channel; the
preview shows it; a bad question is refused at import; answers carry the member type."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.errors import InvalidInput, describe
from bot.i18n import Catalogue
from bot.services import extracts as service
from bot.services.campaigns import CampaignService
from bot.services.polls import PollService
from storage.models import Answer, Poll, Profile, Question
from tests.cogs.test_extracts_e2e import QUIET, posts, use
from tests.conftest import embed_text
from tests.databases import respondents

FRONT = '''---
title = "Les attentes des collectivités"
month = "2026-11"
lang = "fr"
link = "https://example.org/rapport.pdf"
question = "Quel appui attendez-vous du réseau cette année ?"
kind = "single"
options = ["Des formations", "Des échanges entre pairs", "Un appui individuel"]
---
Les collectivités membres demandent un accompagnement adapté à leurs projets de territoire.
'''


async def import_text(sessions, tmp_path, text: str, name: str = "novembre.md"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    # the follow-up question is checked by the poll service's rules, as Services.import_extracts does
    check = PollService(sessions, catalogue=Catalogue.load()).prepare_question
    return await service.import_path(sessions, path, now=QUIET, tz=service.ZoneInfo("Europe/Paris"),
                                     check_question=check)


async def polls_of(sessions) -> list[Poll]:
    async with sessions() as session:
        return list(await session.scalars(select(Poll).order_by(Poll.id)))


async def test_extract_is_posted_with_its_question_as_a_poll_in_the_current_campaign(world, sessions, tmp_path):
    await use(world)
    campaign = await CampaignService(sessions).create("Enquête membres 2026-2027", actor_id=world.moderator.id)
    await import_text(sessions, tmp_path, FRONT)

    preview = await world.moderator.slash(world.fr, "extract preview")
    shown = "\n".join(m.content or "" for m in preview.followups)
    assert "Question posée avec l’extrait" in shown and "Quel appui attendez-vous" in shown
    assert "Enquête membres 2026-2027" in shown and "• Des échanges entre pairs" in shown

    confirm = await world.moderator.slash(world.fr, "extract publish")
    await world.moderator.click(confirm.response, label="Publier")
    await world.env.settle()

    extract_post, poll_post = posts(world.fr)[-2:]
    assert "Les attentes des collectivités" in embed_text(extract_post)
    assert "Quel appui attendez-vous du réseau cette année ?" in embed_text(poll_post)
    assert posts(world.en) == []  # a French extract goes to French channels only
    [poll] = await polls_of(sessions)
    assert (poll.extract_id, poll.channel_id, poll.campaign_id) == (1, world.fr.id, campaign.id)
    assert poll.message_id == poll_post.id

    # once per extract and channel: a second pass (a restart, another publish) posts nothing
    assert await world.env.bot.get_cog("Extracts").post_followups() == 0
    assert len(await polls_of(sessions)) == 1

    # members answer it like any poll; the answer keeps the member type of the consented profile
    async with sessions.begin() as session:
        session.add(Profile(user_id=world.member_fr.id, member_type="collectivite",
                            consent_at=datetime(2026, 11, 1, tzinfo=UTC)))
    vote = await world.member_fr.click(poll_post, label="Des échanges entre pairs")
    assert "Des échanges entre pairs" in vote.response.content
    async with sessions() as session:
        answer = await session.scalar(
            select(Answer).join(Question, Question.id == Answer.question_id).where(Question.poll_id == poll.id)
        )
    whose = await respondents(sessions, poll.id, [world.member_fr.id], stored=[answer.user_id])
    assert (whose[answer.user_id], answer.member_type) == (world.member_fr.id, "collectivite")


async def test_followups_of_posts_made_while_the_bot_was_down_are_posted_at_start(world, sessions, tmp_path,
                                                                                  bot_factory):
    await use(world)
    await import_text(sessions, tmp_path, FRONT)
    bot = world.env.bot
    # posted through the delivery log alone, as `reseau-bot extracts publish` (REST only) does
    await service.publish_extract(sessions, bot.services.publisher, None, now=QUIET, actor_id=None)
    assert "Les attentes des collectivités" in embed_text(posts(world.fr)[-1])
    assert await polls_of(sessions) == []
    await world.env.restart_bot(bot_factory(world.config))
    await world.env.settle()
    [poll] = await polls_of(sessions)
    assert poll.channel_id == world.fr.id and poll.extract_id == 1
    assert "Quel appui attendez-vous" in embed_text(posts(world.fr)[-1])


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ('question = "Votre avis ?"\nkind = "single"\noptions = ["Une seule"]', "novembre.md"),
        ('question = "Votre avis ?"\nkind = "sondage"\noptions = ["A", "B"]', "novembre.md"),
        ('question = "Qui ? <@&123>"\noptions = ["A", "B"]', "novembre.md"),
    ],
)
async def test_a_bad_follow_up_question_is_refused_at_import_and_nothing_is_stored(sessions, tmp_path,
                                                                                   question, expected):
    text = FRONT.replace(FRONT[FRONT.index("question ="):FRONT.index("---\nLes")], question + "\n")
    with pytest.raises(InvalidInput) as info:
        await import_text(sessions, tmp_path, text)
    catalogue = Catalogue.load()
    french = describe(info.value, catalogue, "fr")
    assert "la question de suivi n’est pas valide" in french and expected in french
    assert "follow-up question is not valid" in describe(info.value, catalogue, "en")
    assert await service.list_extracts(sessions) == []


async def test_a_ranking_follow_up_is_posted_as_a_ranking_poll(world, sessions, tmp_path):
    await use(world)
    await import_text(sessions, tmp_path, FRONT.replace('kind = "single"', 'kind = "ranking"'))
    confirm = await world.moderator.slash(world.fr, "extract publish")
    await world.moderator.click(confirm.response, label="Publier")
    await world.env.settle()
    poll_post = posts(world.fr)[-1]
    [poll] = await polls_of(sessions)
    assert poll.message_id == poll_post.id and "Quel appui attendez-vous" in embed_text(poll_post)
    async with sessions() as session:
        assert await session.scalar(select(Question.kind).where(Question.poll_id == poll.id)) == "ranking"
    assert poll_post.components, "members can rank from the message"
