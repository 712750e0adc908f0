"""answer_choices.rank: the place of an option in an ordered answer (the ranking kind)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # nullable: the answers stored so far (and every answer of an unordered kind) have no rank
    with op.batch_alter_table("answer_choices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rank", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("answer_choices", schema=None) as batch_op:
        batch_op.drop_column("rank")
