"""The schema: SQLAlchemy 2 declarative models.  Alembic migrations are the only way it changes.

Discord ids are 64-bit snowflakes (``BigInteger``).  Times are stored in UTC; ``UTCDateTime``
gives back timezone-aware datetimes on SQLite as on PostgreSQL.  Uniqueness the product depends
on is a constraint: one delivery per (extract, channel) and per (announcement, channel), one
follow-up poll per (extract, channel), one posting per (poll, channel), one answer per
(question, member) whichever posting of the poll they answer from, one choice per (answer,
option), one tombstone per forgotten member.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.values import utcnow  # noqa: F401 — also models.utcnow, as before

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class BotState(Base):
    """Small key/value facts about this deployment (e.g. the synced command tree's hash)."""

    __tablename__ = "bot_state"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Profile(Base):
    """A member's self-declared profile; answers copy ``member_type`` when they are given."""

    __tablename__ = "profiles"
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    member_type: Mapped[str | None] = mapped_column(String(40))
    organisation: Mapped[str | None] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(100))
    lang: Mapped[str | None] = mapped_column(String(8))
    consent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class NetworkChannel(Base):
    """A channel of the network that receives extracts and announcements (mirrors the config)."""

    __tablename__ = "network_channels"
    channel_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    guild_id: Mapped[int] = mapped_column(BigInteger, index=True)
    language: Mapped[str] = mapped_column(String(8), default="fr")
    mention_role_id: Mapped[int | None] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(100), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class Extract(Base):
    """One monthly extract of the members' survey report, queued for a month."""

    __tablename__ = "extracts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_key: Mapped[str] = mapped_column(String(512), unique=True)
    title: Mapped[str] = mapped_column(String(256))
    intro: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(1000))
    image_url: Mapped[str | None] = mapped_column(String(1000))
    tags: Mapped[list[Any]] = mapped_column(default=list)
    lang: Mapped[str] = mapped_column(String(8), default="fr")
    month: Mapped[str | None] = mapped_column(String(7), index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    question: Mapped[str | None] = mapped_column(Text)
    question_kind: Mapped[str | None] = mapped_column(String(16))
    question_options: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None]


class Announcement(Base):
    __tablename__ = "announcements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    author_id: Mapped[int | None] = mapped_column(BigInteger)  # NULL once the author asked /forget-me
    title: Mapped[str] = mapped_column(String(256))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(1000))
    target_channel_id: Mapped[int | None] = mapped_column(BigInteger)
    mention_role_id: Mapped[int | None] = mapped_column(BigInteger)
    lang: Mapped[str] = mapped_column(String(8), default="fr")
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    scheduled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]
    # the calendar (issue 12): the other language's version ({"en": {"title", "body"}}), an
    # image posted with it, when it was last edited after posting
    versions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    image_name: Mapped[str | None] = mapped_column(String(100))
    image_type: Mapped[str | None] = mapped_column(String(40))
    image_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    edited_at: Mapped[datetime | None]


class Delivery(Base):
    """Outbox row: one post of one extract or announcement to one channel.

    Written ``pending`` for every target in one transaction before anything is sent, then
    marked ``sent`` with the message id.  The unique constraints make "never twice" a fact of
    the database rather than a hope of the code.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("extract_id", "channel_id"),
        UniqueConstraint("announcement_id", "channel_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    extract_id: Mapped[int | None] = mapped_column(ForeignKey("extracts.id", ondelete="CASCADE"))
    announcement_id: Mapped[int | None] = mapped_column(ForeignKey("announcements.id", ondelete="CASCADE"))
    guild_id: Mapped[int] = mapped_column(BigInteger)
    channel_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    nonce: Mapped[str] = mapped_column(String(25))
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class FollowupPosting(Base):
    """The claim on posting an extract's follow-up question in one channel: inserted before the
    poll is posted, so of two processes racing to post it the second one's insert fails and it
    posts nothing (the primary key is the "once per extract and channel" rule).  ``poll_id`` is
    the poll posted (NULL while posting, or once that poll is deleted)."""

    __tablename__ = "followup_postings"
    extract_id: Mapped[int] = mapped_column(ForeignKey("extracts.id", ondelete="CASCADE"), primary_key=True)
    channel_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    poll_id: Mapped[int | None] = mapped_column(ForeignKey("polls.id", ondelete="SET NULL"))
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Campaign(Base):
    """A group of polls feeding one members' survey (e.g. "Enquête membres 2026-2027")."""

    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Poll(Base):
    __tablename__ = "polls"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guild_id: Mapped[int] = mapped_column(BigInteger, index=True)
    channel_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    author_id: Mapped[int | None] = mapped_column(BigInteger)  # NULL once the author asked /forget-me
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    extract_id: Mapped[int | None] = mapped_column(ForeignKey("extracts.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(300))
    native: Mapped[bool] = mapped_column(Boolean, default=False)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=True)
    live_results: Mapped[bool] = mapped_column(Boolean, default=True)
    allowed_role_ids: Mapped[list[Any]] = mapped_column(default=list)
    lang: Mapped[str] = mapped_column(String(8), default="fr")
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    deadline_at: Mapped[datetime | None] = mapped_column(index=True)
    reminder_at: Mapped[datetime | None]
    reminder_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]

    questions: Mapped[list[Question]] = relationship(
        back_populates="poll", order_by="Question.position", cascade="all, delete-orphan"
    )


class PollPosting(Base):
    """One message of a poll in one channel, in that channel's language.  A poll posted to
    several channels has several postings and one set of questions: every posting's answers go
    to the same questions (one variable per question), and a member answers once per question
    whichever posting they click (``answers``' unique (question, member)).  The poll's own
    ``channel_id``/``message_id`` are its first posting's."""

    __tablename__ = "poll_postings"
    __table_args__ = (UniqueConstraint("poll_id", "channel_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    guild_id: Mapped[int] = mapped_column(BigInteger)
    channel_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    lang: Mapped[str] = mapped_column(String(8), default="fr")
    posted_at: Mapped[datetime] = mapped_column(default=utcnow)


class Question(Base):
    __tablename__ = "questions"
    __table_args__ = (UniqueConstraint("poll_id", "position"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(16))
    max_choices: Mapped[int] = mapped_column(Integer, default=1)
    # the wording in other languages than the poll's (``{"en": "…"}``); ``text`` is the poll's
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)

    poll: Mapped[Poll] = relationship(back_populates="questions")
    options: Mapped[list[Option]] = relationship(
        back_populates="question", order_by="Option.position", cascade="all, delete-orphan"
    )


class Option(Base):
    __tablename__ = "options"
    __table_args__ = (UniqueConstraint("question_id", "position"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(100))
    # the label in other languages than the poll's (``{"en": "…"}``); ``label`` is the poll's
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)

    question: Mapped[Question] = relationship(back_populates="options")


class Answer(Base):
    """One member's answer to one question; ``member_type`` is frozen at answering time.

    ``user_id`` is the respondent: the member's Discord id (positive) in a named poll; in an
    anonymous poll a keyed pseudonym of poll and member (negative, never the id:
    :class:`bot.services.privacy.AnswerPseudonyms`).  It becomes NULL when a member asks to be
    forgotten in "unlink" mode; the answer then still counts but no longer points to anyone.
    """

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("question_id", "user_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    member_type: Mapped[str | None] = mapped_column(String(40))
    text: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # the posting (channel) the member answered from, for the "by channel" breakdown; NULL when
    # unknown.  No foreign key: SQLite could only add or drop one by rebuilding ``answers``, whose
    # rebuild cascades to the choices; a posting goes only with its poll, and its answers with it.
    posting_id: Mapped[int | None] = mapped_column(Integer)

    choices: Mapped[list[AnswerChoice]] = relationship(cascade="all, delete-orphan", lazy="selectin")


class AnswerChoice(Base):
    __tablename__ = "answer_choices"
    answer_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"), primary_key=True)
    option_id: Mapped[int] = mapped_column(ForeignKey("options.id", ondelete="CASCADE"), primary_key=True)
    # the option's place in an ordered answer (a ranking: 1 = first choice); NULL when the
    # kind's answers are a set (single, multiple choice, yes/no, Likert)
    rank: Mapped[int | None] = mapped_column(Integer)


Index("ix_answer_choices_option", AnswerChoice.option_id)
# The unlinked answers (a member forgotten in "unlink" mode) by id: an export's walk finds where its
# next range ends among them without reading the others (storage.repositories.exports._Walk).
Index("ix_answers_unlinked", Answer.id, sqlite_where=Answer.user_id.is_(None),
      postgresql_where=Answer.user_id.is_(None))


class ForgottenMember(Base):
    """A member who asked ``/forget-me``, as a keyed hash of their id (HMAC-SHA256, never the id):
    what Discord still holds of them (a native poll's voter list, its vote events) is not
    written back for the polls that existed when they asked (``bot.services.privacy``)."""

    __tablename__ = "forgotten_members"
    member_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    forgotten_at: Mapped[datetime] = mapped_column(default=utcnow)


class CalendarPlan(Base):
    """Something the moderators planned ahead (``bot.services.calendar``): a poll posted later,
    once or on a schedule (a series), or a recurring announcement.  ``payload`` is what is
    posted (a poll's creation input; a recurring announcement's model announcement id);
    ``next_at`` the next occurrence (NULL once done or cancelled); ``recurrence`` is NULL for
    a one-off, else ``weekly``, ``monthly`` or a five-field cron line, in the bot's time zone."""

    __tablename__ = "calendar_plans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    guild_id: Mapped[int] = mapped_column(BigInteger, index=True)
    channel_id: Mapped[int | None] = mapped_column(BigInteger)
    author_id: Mapped[int | None] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(String(300))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    recurrence: Mapped[str | None] = mapped_column(String(100))
    start_at: Mapped[datetime]
    next_at: Mapped[datetime | None] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CalendarRun(Base):
    """One occurrence of a plan, claimed by its insert before anything is posted: the primary
    key (plan, occurrence) is the "once per occurrence" rule across processes and restarts.
    ``poll_id`` / ``announcement_id``: what it posted (a series' polls are read through here)."""

    __tablename__ = "calendar_runs"
    plan_id: Mapped[int] = mapped_column(ForeignKey("calendar_plans.id", ondelete="CASCADE"), primary_key=True)
    occurrence_at: Mapped[datetime] = mapped_column(primary_key=True)
    poll_id: Mapped[int | None] = mapped_column(ForeignKey("polls.id", ondelete="SET NULL"))
    announcement_id: Mapped[int | None] = mapped_column(ForeignKey("announcements.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="claimed")
    error: Mapped[str | None] = mapped_column(Text)
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)


class PollTemplate(Base):
    """A poll saved by a moderator to reuse (``/poll template``): its creation input, by name."""

    __tablename__ = "poll_templates"
    __table_args__ = (UniqueConstraint("guild_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(100))
    author_id: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """Who did what, when, where: publishes, schedules, cancels, skips, forget-me requests.
    ``actor_id`` is NULL for the bot's own actions, and once the actor asked ``/forget-me``."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(40))
    target_type: Mapped[str] = mapped_column(String(40), default="")
    target_id: Mapped[str] = mapped_column(String(64), default="")
    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    channel_id: Mapped[int | None] = mapped_column(BigInteger)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class DashboardLink(Base):
    """A one-time sign-in link to the moderators' dashboard, given by ``/dashboard``: the random
    ``nonce`` is in the link (with its signature), who asked and their roles are here, never in
    the URL.  It opens at most one session: ``dashboard_sessions.link_nonce`` is unique."""

    __tablename__ = "dashboard_links"
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    actor_id: Mapped[int] = mapped_column(BigInteger)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    role_ids: Mapped[list[Any]] = mapped_column(default=list)
    lang: Mapped[str] = mapped_column(String(8), default="fr")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class DashboardSession(Base):
    """A signed-in browser: ``id`` is the SHA-256 of the cookie's random token (the token itself
    is never stored).  ``link_nonce`` is unique: the link it came from cannot open a second one
    (the "usable once" rule is this constraint, not a check in memory)."""

    __tablename__ = "dashboard_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    link_nonce: Mapped[str] = mapped_column(
        ForeignKey("dashboard_links.nonce", ondelete="CASCADE"), unique=True
    )
    actor_id: Mapped[int] = mapped_column(BigInteger, index=True)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    role_ids: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]
