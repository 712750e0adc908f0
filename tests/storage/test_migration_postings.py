"""Migration 0005 (issue 11): every existing poll becomes one posting, its answers point to it,
and two follow-ups of one extract posted in two channels stay two polls (never merged silently)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from storage.db import current_revision, downgrade, head_revision, upgrade


async def test_existing_polls_get_one_posting_each_and_are_not_merged(engine):
    await downgrade(engine, "base")
    await upgrade(engine, "0004")
    now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    async with engine.begin() as conn:
        for statement in (
            "INSERT INTO extracts (id, source_key, title, intro, body, tags, lang, status, question_options,"
            " created_at, updated_at) VALUES (1, 'k', 't', '', '', '[]', 'fr', 'published', '[]', :now, :now)",
            *(
                "INSERT INTO polls (id, guild_id, channel_id, message_id, author_id, extract_id, title, native,"
                f" anonymous, live_results, allowed_role_ids, lang, status, reminder_sent, created_at)"
                f" VALUES ({i}, 1, {10 + i}, {100 + i}, 1, 1, 'p', false, true, true, '[]', '{lang}', 'open',"
                f" false, :now)"
                for i, lang in ((1, "fr"), (2, "en"))
            ),
            *(
                f"INSERT INTO questions (id, poll_id, position, code, text, kind, max_choices)"
                f" VALUES ({i}, {i}, 0, 'q1', 'q', 'yesno', 1)"
                for i in (1, 2)
            ),
            "INSERT INTO options (id, question_id, position, code, label) VALUES (1, 1, 0, 'yes', 'Oui')",
            "INSERT INTO options (id, question_id, position, code, label) VALUES (2, 2, 0, 'yes', 'Yes')",
            "INSERT INTO answers (id, question_id, user_id, answered_at, updated_at) VALUES (1, 1, 7, :now, :now)",
            "INSERT INTO answers (id, question_id, user_id, answered_at, updated_at) VALUES (2, 2, 7, :now, :now)",
            "INSERT INTO answers (id, question_id, user_id, answered_at, updated_at) VALUES (3, 2, 8, :now, :now)",
        ):
            await conn.execute(text(statement), {"now": now} if ":now" in statement else {})
    await upgrade(engine, "0005")
    async with engine.connect() as conn:
        postings = (await conn.execute(text(
            "SELECT id, poll_id, guild_id, channel_id, message_id, lang FROM poll_postings ORDER BY poll_id"
        ))).all()
        assert [tuple(p[1:]) for p in postings] == [(1, 1, 11, 101, "fr"), (2, 1, 12, 102, "en")]
        by_poll = {p[1]: p[0] for p in postings}
        answers = (await conn.execute(text("SELECT id, question_id, posting_id FROM answers ORDER BY id"))).all()
        assert answers == [(1, 1, by_poll[1]), (2, 2, by_poll[2]), (3, 2, by_poll[2])]
        # still two polls, two questions: nothing merged
        assert (await conn.scalar(text("SELECT COUNT(*) FROM questions"))) == 2
        labels = (await conn.execute(text("SELECT labels FROM options ORDER BY id"))).scalars().all()
        assert [label if isinstance(label, dict) else __import__("json").loads(label) for label in labels] == [{}, {}]
    await downgrade(engine, "0004")
    async with engine.connect() as conn:
        assert (await conn.scalar(text("SELECT COUNT(*) FROM answers"))) == 3
    await downgrade(engine, "base")
    await upgrade(engine)
    assert await current_revision(engine) == head_revision()
