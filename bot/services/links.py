"""The one rule for an address a member clicks: an ``http``/``https`` URL with a host, short
enough for Discord.

A link button's URL is limited to :data:`LINK_MAX` characters by Discord; an extract's report
link and an announcement's link both become such a button, so both are checked here when they are
typed or imported — never found out when the message is posted.  Nothing here imports discord.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

__all__ = ["LINK_MAX", "is_http_url", "link_problem"]

#: Discord's limit for the URL of a link button (``components[].url``).
LINK_MAX = 512


def is_http_url(value: str) -> bool:
    """An ``http``/``https`` URL with a host and no whitespace (any length)."""
    if not value or any(ch.isspace() for ch in value):
        return False
    try:
        parts = urlsplit(value)
        return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def link_problem(value: str) -> Literal["not_http", "too_long"] | None:
    """``None`` when ``value`` can be a link button's URL; else what is wrong with it."""
    if not is_http_url(value):
        return "not_http"
    if len(value) > LINK_MAX:
        return "too_long"
    return None
