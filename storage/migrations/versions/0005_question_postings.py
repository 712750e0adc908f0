"""one question, many postings: labels per language, a poll posted to several channels

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 15:30:00
"""

from collections.abc import Sequence

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # filled in by the change that needs it (this session keeps the chain linear)


def downgrade() -> None:
    pass
