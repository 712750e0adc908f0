"""one question, many postings: labels per language, a poll posted to several channels

``poll_postings`` holds one row per (poll, channel) a poll is posted to; every existing poll gets
one, its own channel and message, and its answers point to it.  Polls already posted in several
channels (two follow-ups of one extract, say) are **not** merged: each stays a poll of its own,
and a moderator merges two questions explicitly (``reseau-bot polls merge``), which refuses when
their options differ.  ``questions.labels`` and ``options.labels`` hold the wording in the other
languages (``{"en": "…"}``), empty for what exists.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "poll_postings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["poll_id"], ["polls.id"], name=op.f("fk_poll_postings_poll_id_polls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poll_postings")),
        sa.UniqueConstraint("poll_id", "channel_id", name=op.f("uq_poll_postings_poll_id_channel_id")),
    )
    op.create_index(op.f("ix_poll_postings_message_id"), "poll_postings", ["message_id"], unique=False)
    # plain ALTER TABLE … ADD/DROP COLUMN, never a batch rebuild: on SQLite (foreign keys on)
    # rebuilding questions or answers would cascade-delete the answers or their choices
    for table in ("questions", "options"):
        op.add_column(table, sa.Column("labels", sa.JSON(), nullable=False, server_default="{}"))
    op.add_column("answers", sa.Column("posting_id", sa.Integer(), nullable=True))
    # every poll so far is posted once: its own channel and message, its answers from there
    op.execute(
        """
        INSERT INTO poll_postings (poll_id, guild_id, channel_id, message_id, lang, posted_at)
        SELECT p.id, p.guild_id, p.channel_id, p.message_id, p.lang, p.created_at FROM polls AS p
        """
    )
    op.execute(
        """
        UPDATE answers SET posting_id = (
            SELECT pp.id FROM poll_postings AS pp JOIN questions AS q ON q.poll_id = pp.poll_id
            WHERE q.id = answers.question_id
        )
        """
    )


def downgrade() -> None:
    op.drop_column("answers", "posting_id")  # SQLite 3.35+ drops a column in place
    for table in ("options", "questions"):
        op.drop_column(table, "labels")
    op.drop_index(op.f("ix_poll_postings_message_id"), table_name="poll_postings")
    op.drop_table("poll_postings")
