"""The storage's words that need no SQLAlchemy: row statuses, state keys and the UTC clock.

The running bot's modules import these at load time; the models and repositories (which load
SQLAlchemy) are imported by the functions that touch the database, so that a process with
nothing to do never loads SQLAlchemy (issue 15, item 3; ``tests/test_lazy_imports.py``).  The
repositories re-export the statuses they own, so ``storage.repositories.extracts.DELIVERY_SENT``
still names the same string.
"""

from __future__ import annotations

from datetime import UTC, datetime

# extracts, announcements and their deliveries (the outbox): storage.repositories.extracts
EXTRACT_QUEUED = "queued"
EXTRACT_PUBLISHED = "published"
EXTRACT_SKIPPED = "skipped"

ANNOUNCEMENT_DRAFT = "draft"
ANNOUNCEMENT_SCHEDULED = "scheduled"
ANNOUNCEMENT_PUBLISHED = "published"
ANNOUNCEMENT_CANCELLED = "cancelled"
ANNOUNCEMENT_MISSED = "missed"
ANNOUNCEMENT_WITHDRAWN = "withdrawn"  # published, then taken down

DELIVERY_PENDING = "pending"
DELIVERY_SENT = "sent"
DELIVERY_FAILED = "failed"
DELIVERY_WITHDRAWN = "withdrawn"  # its announcement withdrawn: never sent, or its message deleted

# the calendar: storage.repositories.calendar
PLAN_ACTIVE = "active"
PLAN_DONE = "done"
PLAN_CANCELLED = "cancelled"

RUN_CLAIMED = "claimed"  # a poll occurrence's poll is written, not sent yet
RUN_SENDING = "sending"  # its message may have reached Discord: look before sending again
RUN_POSTED = "posted"
RUN_FAILED = "failed"
RUN_MISSED = "missed"  # caught up too late to post (a recurring announcement's stale occurrence)

# bot_state keys: storage.repositories.forgotten
TOMBSTONE_KEY = "privacy.tombstone_key"
ANSWER_KEY = "privacy.answer_key"  # the anonymous polls' respondent pseudonyms

# The network channels' mirror (storage.plain.PlainStore.replace_channels): several processes start
# together on one PostgreSQL database (issue 14), one writes it at a time (a transaction-level
# advisory lock, this key)
CHANNELS_MIRROR_LOCK = 0x7265_7365_6175_0002


def utcnow() -> datetime:
    return datetime.now(UTC)
