"""Issue 10, items 3 and 4: ``/forget-me`` holds.

* Item 3 — a native poll's voter list, read back at closing, does not write a forgotten
  member's answer back (Discord still lists the old vote; a tombstone — a keyed hash, never the
  id — says the member asked to be forgotten after the poll was created).  A new explicit click
  on a button is a new answer.
* Item 4 — with ``forget_mode = "unlink"``, vote, forget, vote again: the member counts once
  (the open poll's answer was withdrawn, not left counting anonymously).
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import func, select

from bot.i18n import Catalogue
from storage.models import Answer, BotState, ForgottenMember
from tests.conftest import embed_text
from tests.databases import answer_rows

CATALOGUE = Catalogue.load()


async def _create(world, **options) -> tuple[object, int]:
    options.setdefault("question", "Quel format pour la rencontre ?")
    result = await world.moderator.slash(world.fr, "poll create", **options)
    content = result.response.content
    poll_id = int(content.split("°" if "°" in content else "#")[1].split()[0])
    return world.fr.last_message, poll_id


async def _answers(world, sessions, poll_id: int) -> list[tuple[int | None, int | None]]:
    """(member, option) of every answer stored for the poll, sorted (None first); an anonymous
    poll's pseudonyms of the world's members read as their ids."""
    rows = await answer_rows(sessions, poll_id, world.guild.member_ids())
    return sorted(rows, key=lambda r: (r[0] or 0, r[1] or 0))


async def _forget_me(member, channel) -> None:
    asked = await member.slash(channel, "forget-me")
    done = await member.click(asked.response, label=CATALOGUE.t("forget.confirm", "fr"))
    assert CATALOGUE.t("forget.done_delete", "fr", count=1).split("\u202f:")[0] in embed_text(done.response)


async def test_a_native_poll_closing_does_not_write_a_forgotten_member_back(world, sessions):
    message, poll_id = await _create(world, options="Oui; Non", native=True)
    await world.member_fr.vote(message, answer=1)
    await world.member_en.vote(message, answer=2)
    assert {u for u, _ in await _answers(world, sessions, poll_id)} == {world.member_fr.id, world.member_en.id}

    await _forget_me(world.member_fr, world.fr)
    assert {u for u, _ in await _answers(world, sessions, poll_id)} == {world.member_en.id}
    # a vote event from Discord for a poll opened before the forgetting is not taken back either
    await world.member_fr.vote(message, answer=2)  # a change on Discord: remove 1, add 2
    assert {u for u, _ in await _answers(world, sessions, poll_id)} == {world.member_en.id}
    # Discord still lists the vote; closing reads its voter list back (the reconcile)
    await world.moderator.slash(world.fr, "poll close", poll=poll_id)
    stored = await _answers(world, sessions, poll_id)
    assert [u for u, _ in stored] == [world.member_en.id], "the forgotten member's answer did not come back"
    results = embed_text(world.fr.last_message)
    assert "Oui — 0" in results and "Non — 1 (100\u00a0%)" in results

    async with sessions() as session:  # the tombstone is a keyed hash, never the id
        tombstones = list(await session.scalars(select(ForgottenMember.member_hash)))
        state = [f"{s.key}={s.value}" for s in await session.scalars(select(BotState))]
    assert len(tombstones) == 1 and len(tombstones[0]) == 64
    assert str(world.member_fr.id) not in tombstones[0] + " ".join(state)


async def test_a_forgotten_member_who_clicks_again_gives_a_new_answer(world, sessions):
    message, poll_id = await _create(world, options="Présentiel; En ligne")
    await world.member_fr.click(message, label="Présentiel")
    await _forget_me(world.member_fr, world.fr)
    assert await _answers(world, sessions, poll_id) == []
    await world.member_fr.click(message, label="En ligne")
    assert [u for u, _ in await _answers(world, sessions, poll_id)] == [world.member_fr.id], "a new click is a new answer"


async def test_unlink_vote_forget_vote_again_counts_once(world, sessions):
    config = dataclasses.replace(world.env.bot.config,
                                 privacy=dataclasses.replace(world.env.bot.config.privacy, forget_mode="unlink"))
    await world.env.bot.reconfigure(config)
    message, poll_id = await _create(world, options="Présentiel; En ligne")
    for _ in range(2):  # vote, forget, vote, forget
        await world.member_fr.click(message, label="Présentiel")
        asked = await world.member_fr.slash(world.fr, "forget-me")
        await world.member_fr.click(asked.response, label=CATALOGUE.t("forget.confirm", "fr"))
    await world.member_fr.click(message, label="En ligne")
    assert [u for u, _ in await _answers(world, sessions, poll_id)] == [world.member_fr.id], "one member, one answer"

    # once the poll is closed, forgetting unlinks: the answer still counts, anonymously, once
    await world.moderator.slash(world.fr, "poll close", poll=poll_id)
    asked = await world.member_fr.slash(world.fr, "forget-me")
    await world.member_fr.click(asked.response, label=CATALOGUE.t("forget.confirm", "fr"))
    stored = await _answers(world, sessions, poll_id)
    assert [u for u, _ in stored] == [None], "the closed poll's answer is kept, linked to nobody"
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Answer)) == 1
