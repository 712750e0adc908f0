"""#10 items 5 and 6 on SimCord with the real bot: a moderator who created a poll and published an
announcement asks /forget-me — they are told what stays, the poll, the announcement and the audit
entries no longer hold their id, and afterwards /my-data shows nothing and /forget-me finds
nothing; an anonymous poll says exactly what it stores."""

from __future__ import annotations

import json

from sqlalchemy import select

from bot.i18n import Catalogue
from storage.models import Announcement, AuditEntry, Poll
from tests.cogs.test_announcements_e2e import compose, use
from tests.cogs.test_polls_e2e import create
from tests.conftest import embed_text
from tests.databases import answer_rows

CATALOGUE = Catalogue.load()


async def _ids_left(sessions, member_id: int) -> list[str]:
    """Every column that still holds the member's id."""
    async with sessions() as session:
        left = [f"poll {p.id}" for p in await session.scalars(select(Poll).where(Poll.author_id == member_id))]
        left += [f"announcement {a.id}" for a in await session.scalars(
            select(Announcement).where(Announcement.author_id == member_id))]
        left += [f"audit {e.action}" for e in await session.scalars(
            select(AuditEntry).where(AuditEntry.actor_id == member_id))]
        left += [f"audit details {e.action}" for e in await session.scalars(select(AuditEntry))
                 if str(member_id) in json.dumps(e.details)]
    return left


async def test_a_moderator_forgotten_leaves_the_networks_records_without_their_id(world, sessions):
    moderator = world.moderator
    await use(world)
    preview = await compose(world)
    await moderator.click(preview.response, label="Publier maintenant")
    _, message, poll_id = await create(world, options="A; B")
    await moderator.click(message, label="A")
    assert len(await _ids_left(sessions, moderator.id)) >= 3, "poll, announcement and audit entries name them"

    shown = await moderator.slash(world.fr, "my-data")
    document = json.loads(await shown.response.attachments[0].read())
    assert [p["poll_id"] for p in document["polls_created"]] == [poll_id]
    assert len(document["announcements_written"]) == 1 and document["audit_log_actions"]
    assert [a["poll_id"] for a in document["answers"]] == [poll_id], "their anonymous answer is theirs to see"

    asked = await moderator.slash(world.fr, "forget-me")
    assert "ne vous nommera plus" in embed_text(asked.response)
    done = await moderator.click(asked.response, label=CATALOGUE.t("forget.confirm", "fr"))
    assert "sans plus vous nommer" in embed_text(done.response)

    assert await _ids_left(sessions, moderator.id) == []
    async with sessions() as session:
        assert (await session.get(Poll, poll_id)).title == "Quel format pour la rencontre ?", "the poll stays"
        assert await session.scalar(select(Announcement.title)) == "Assemblée générale"
    assert await answer_rows(sessions, poll_id, world.guild.member_ids()) == []
    again = await moderator.slash(world.fr, "my-data")
    document = json.loads(await again.response.attachments[0].read())
    assert all(document[k] == [] for k in ("answers", "polls_created", "announcements_written", "audit_log_actions"))
    nothing = await moderator.slash(world.fr, "forget-me")
    assert nothing.response.content == CATALOGUE.t("forget.nothing", "fr")


async def test_an_anonymous_poll_says_what_it_stores_and_stores_no_member_id(world, sessions):
    _, message, poll_id = await create(world, options="A; B")
    assert CATALOGUE.t("poll.message.anonymous", "fr") in embed_text(message)
    await world.member_fr.click(message, label="A")
    await world.member_en.click(message, label="B")
    stored = {user for user, _ in await answer_rows(sessions, poll_id)}
    assert len(stored) == 2 and not stored & set(world.guild.member_ids())
    # the rows read back as the two members only with the key (the bot's own lookup)
    named = {user for user, _ in await answer_rows(sessions, poll_id, world.guild.member_ids())}
    assert named == {world.member_fr.id, world.member_en.id}
