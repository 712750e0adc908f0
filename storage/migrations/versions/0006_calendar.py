"""the moderators' calendar: scheduled and recurring polls and announcements, templates, versions

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 15:30:00
"""

from collections.abc import Sequence

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # filled in by the change that needs it (this session keeps the chain linear)


def downgrade() -> None:
    pass
