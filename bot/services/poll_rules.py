"""The rules of a poll question that need nothing else: limits, the mention check and a
validated question.  ``bot.services.polls`` and ``bot.services.surveys`` both stand on it (so
neither imports the other at load time).  The kinds are a registry:
:mod:`bot.services.polls.kinds`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.errors import DomainError, InvalidInput, Label
from bot.services.permissions import POST_PERMISSIONS, SEND_MESSAGES, permission_keys

MIN_OPTIONS = 2
MAX_OPTIONS = 25  # one select menu
MAX_QUESTION = 300  # Discord's native poll question limit, and the column
MAX_LABEL = 100  # a select option's label
MAX_TEXT_ANSWER = 1000
MAX_TITLE = 200  # a survey's title (the column holds 300; an embed title 256)
MIN_SURVEY_QUESTIONS = 2
MAX_SURVEY_QUESTIONS = 5
NATIVE_MAX_ANSWERS = 10
NATIVE_MAX_DAYS = 32
NATIVE_MAX_LABEL = 55  # a native poll answer's text



def require_posting(app_permissions: int, *, thread: bool = False) -> None:
    """Before a moderator types a survey in a form: the bot must be able to post it in this
    channel (``app_permissions``, what the interaction says the bot has there), else
    ``poll.error.no_channel_permission(s)`` names what is missing.  In a thread, sending is
    « Envoyer des messages dans les fils », which Discord checks itself."""
    needed = POST_PERMISSIONS & ~SEND_MESSAGES if thread else POST_PERMISSIONS
    missing = permission_keys(needed & ~app_permissions)
    if len(missing) == 1:
        raise DomainError("poll.error.no_channel_permission", permission=Label(missing[0]))
    if missing:
        raise DomainError("poll.error.no_channel_permissions", permissions=tuple(Label(k) for k in missing))


_MENTION = re.compile(r"@(?:everyone|here)\b|<@[!&]?\d+>|<#\d+>", re.IGNORECASE)


def has_mention(text: str) -> bool:
    """``@everyone``, ``@here``, a member, role or channel mention."""
    return _MENTION.search(text) is not None


def checked_text(text: str, limit: int, *, empty: str, too_long: str, mention: str) -> str:
    """``text`` (already trimmed) when it is 1 to ``limit`` characters with no mention; else
    :class:`InvalidInput` with the catalogue key given for what is wrong."""
    if not text:
        raise InvalidInput(empty)
    if len(text) > limit:
        raise InvalidInput(too_long, length=len(text), max=limit)
    if has_mention(text):
        raise InvalidInput(mention)
    return text


@dataclass(frozen=True)
class QuestionDraft:
    """One validated question of a poll or survey."""

    text: str
    kind: str
    labels: tuple[str, ...]
    codes: tuple[str, ...]
    max_choices: int = 1
