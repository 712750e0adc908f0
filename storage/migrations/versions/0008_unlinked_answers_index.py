"""the unlinked answers by id: an export's walk in the running bot (issue 15, item 2)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 14:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNLINKED = sa.text("user_id IS NULL")


def upgrade() -> None:
    op.create_index("ix_answers_unlinked", "answers", ["id"], unique=False,
                    sqlite_where=UNLINKED, postgresql_where=UNLINKED)


def downgrade() -> None:
    op.drop_index("ix_answers_unlinked", table_name="answers")
