"""privacy: authors and actors unlinked by /forget-me; anonymous answers under a keyed pseudonym

``polls.author_id`` and ``announcements.author_id`` become nullable (``/forget-me`` sets them to
NULL, as it does ``audit_log.actor_id``).  The answers already stored for anonymous polls get
the member's pseudonym in the poll's campaign (or the poll, outside campaigns) instead of the
id: HMAC-SHA256 under the key
``privacy.answer_key`` of ``bot_state`` (created here when needed) — the formula of
``bot.services.privacy.answer_pseudonym``, copied so that this migration means the same thing
forever.  There is no way back to the ids: the downgrade keeps the pseudonyms.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 15:30:00
"""

import hmac
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = "privacy.answer_key"
_CONTEXT = b"reseau-bot anonymous answer:"
_FLOOR = 1 << 32

_state = sa.table("bot_state", sa.column("key", sa.String), sa.column("value", sa.Text),
                  sa.column("updated_at", sa.DateTime(timezone=True)))
_polls = sa.table("polls", sa.column("id", sa.Integer), sa.column("anonymous", sa.Boolean),
                  sa.column("campaign_id", sa.Integer))
_questions = sa.table("questions", sa.column("id", sa.Integer), sa.column("poll_id", sa.Integer))
_answers = sa.table("answers", sa.column("id", sa.Integer), sa.column("question_id", sa.Integer),
                    sa.column("user_id", sa.BigInteger))


def _pseudonym(key: bytes, poll_id: int, campaign_id: int | None, user_id: int) -> int:
    scope = f"c{campaign_id}" if campaign_id is not None else f"p{poll_id}"
    digest = hmac.digest(key, _CONTEXT + f"{scope}:{user_id}".encode(), "sha256")
    return -(_FLOOR + int.from_bytes(digest[:8], "big") % ((1 << 63) - _FLOOR))


def _pseudonymise_anonymous_answers() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_answers.c.id, _questions.c.poll_id, _polls.c.campaign_id, _answers.c.user_id)
        .join(_questions, _questions.c.id == _answers.c.question_id)
        .join(_polls, _polls.c.id == _questions.c.poll_id)
        .where(_polls.c.anonymous.is_(True), _answers.c.user_id > 0)
    ).all()
    if not rows:
        return
    value = bind.execute(sa.select(_state.c.value).where(_state.c.key == _KEY)).scalar()
    if value is None:
        value = secrets.token_hex(32)
        bind.execute(_state.insert().values(key=_KEY, value=value, updated_at=datetime.now(UTC)))
    key = bytes.fromhex(value)
    bind.execute(
        _answers.update().where(_answers.c.id == sa.bindparam("a_id")).values(user_id=sa.bindparam("pseudonym")),
        [{"a_id": answer_id, "pseudonym": _pseudonym(key, poll_id, campaign_id, user_id)}
         for answer_id, poll_id, campaign_id, user_id in rows],
    )


def upgrade() -> None:
    with op.batch_alter_table("polls", schema=None) as batch_op:
        batch_op.alter_column("author_id", existing_type=sa.BigInteger(), nullable=True)
    with op.batch_alter_table("announcements", schema=None) as batch_op:
        batch_op.alter_column("author_id", existing_type=sa.BigInteger(), nullable=True)
    _pseudonymise_anonymous_answers()


def downgrade() -> None:
    # an author forgotten since has no id to give back: 0 ("nobody"), as the column needs one
    for table in ("polls", "announcements"):
        op.execute(sa.text(f"UPDATE {table} SET author_id = 0 WHERE author_id IS NULL"))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("author_id", existing_type=sa.BigInteger(), nullable=False)
