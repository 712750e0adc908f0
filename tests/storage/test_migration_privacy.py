"""0004 (#10 items 5 and 6) on the real database: the answers already stored for anonymous polls
get the member's pseudonym (the one the running bot computes), named polls keep their ids, and
authors become nullable; the downgrade keeps the pseudonyms (there is no way back to the ids)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from bot.services.privacy import answer_pseudonym, pseudonym_scope
from storage.db import downgrade, upgrade
from storage.repositories.forgotten import ANSWER_KEY

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ALICE, BOB = 111_222_333_444_555_666, 777_888_999_000_111_222


async def test_0004_pseudonymises_the_answers_of_anonymous_polls_and_unlinks_authors(engine):
    await downgrade(engine, "base")
    await upgrade(engine, "0003")
    async with engine.begin() as conn:
        for statement in (
            "INSERT INTO campaigns (id, name, active, created_at) VALUES (1, 'Enquête', true, :now)",
            # poll 1: anonymous in campaign 1; poll 2: anonymous, no campaign; poll 3: named
            *(
                "INSERT INTO polls (id, guild_id, channel_id, author_id, title, native, anonymous, live_results,"
                f" allowed_role_ids, lang, status, reminder_sent, created_at, campaign_id) VALUES ({p}, 1, 1, 9, 'p',"
                f" false, {anonymous}, true, '[]', 'fr', 'open', false, :now, {campaign})"
                for p, anonymous, campaign in ((1, "true", 1), (2, "true", "NULL"), (3, "false", 1))
            ),
            *(f"INSERT INTO questions (id, poll_id, position, code, text, kind, max_choices)"
              f" VALUES ({p}, {p}, 0, 'q1', 'q', 'single', 1)" for p in (1, 2, 3)),
            *(f"INSERT INTO answers (question_id, user_id, answered_at, updated_at) VALUES ({q}, {u}, :now, :now)"
              for q in (1, 2, 3) for u in (ALICE, BOB)),
            "INSERT INTO answers (question_id, user_id, answered_at, updated_at) VALUES (1, NULL, :now, :now)",
        ):
            await conn.execute(text(statement), {"now": NOW} if ":now" in statement else {})
    await upgrade(engine, "0004")
    async with engine.begin() as conn:
        key = bytes.fromhex((await conn.execute(text("SELECT value FROM bot_state WHERE key = :k"),
                                                {"k": ANSWER_KEY})).scalar_one())
        stored = {(q, u) for q, u in await conn.execute(text("SELECT question_id, user_id FROM answers"))}
        await conn.execute(text("UPDATE polls SET author_id = NULL WHERE id = 1"))  # nullable now
    expected = {(3, ALICE), (3, BOB), (1, None)}
    expected |= {(1, answer_pseudonym(key, pseudonym_scope(1, 1), u)) for u in (ALICE, BOB)}
    expected |= {(2, answer_pseudonym(key, pseudonym_scope(2, None), u)) for u in (ALICE, BOB)}
    assert stored == expected

    await downgrade(engine, "0003")
    async with engine.connect() as conn:
        authors = {p: a for p, a in await conn.execute(text("SELECT id, author_id FROM polls"))}
        kept = {(q, u) for q, u in await conn.execute(text("SELECT question_id, user_id FROM answers"))}
    assert authors == {1: 0, 2: 9, 3: 9} and kept == expected
    await downgrade(engine, "base")
    await upgrade(engine)
