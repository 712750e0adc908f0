"""forgotten_members (the /forget-me tombstones) and followup_postings (one follow-up poll per
extract and channel, claimed in the database)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "forgotten_members",
        sa.Column("member_hash", sa.String(length=64), nullable=False),
        sa.Column("forgotten_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("member_hash", name=op.f("pk_forgotten_members")),
    )
    op.create_table(
        "followup_postings",
        sa.Column("extract_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["extract_id"], ["extracts.id"], name=op.f("fk_followup_postings_extract_id_extracts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["poll_id"], ["polls.id"], name=op.f("fk_followup_postings_poll_id_polls"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("extract_id", "channel_id", name=op.f("pk_followup_postings")),
    )
    # the follow-ups posted so far are claimed: the earliest poll of each (extract, channel)
    op.execute(
        """
        INSERT INTO followup_postings (extract_id, channel_id, poll_id, claimed_at)
        SELECT p.extract_id, p.channel_id, MIN(p.id), MIN(p.created_at)
        FROM polls AS p
        WHERE p.extract_id IS NOT NULL
        GROUP BY p.extract_id, p.channel_id
        """
    )


def downgrade() -> None:
    op.drop_table("followup_postings")
    op.drop_table("forgotten_members")
