"""Helpers for running the bot on SimCord (the demo and the tests).  Imported only there.

SimCord gap worked around here: every INTERACTION_CREATE it builds carries ``locale: en-US``
(simcord 3.2, ``simcord.interactions.base_payload``), while real Discord sends the member's
client language.  ``set_locale(user_id, "fr")`` makes the simulated member's interactions carry
that locale, the way a French Discord client would.  The wrapper changes only the ``locale``
field of the payload; everything else stays SimCord's.
"""

from __future__ import annotations

from typing import Any

import simcord.interactions as _interactions

_LOCALES: dict[int, str] = {}
_original_base_payload = _interactions.base_payload


def _base_payload_with_locale(*args: Any, **kwargs: Any) -> Any:
    record, payload = _original_base_payload(*args, **kwargs)
    user_id = kwargs.get("user_id")
    if user_id is not None and int(user_id) in _LOCALES:
        payload["locale"] = _LOCALES[int(user_id)]
    return record, payload


_interactions.base_payload = _base_payload_with_locale


def set_locale(user: Any, locale: str) -> None:
    """Give a simulated member (actor, handle or id) a Discord client locale (``fr``, ``en-US``…)."""
    _LOCALES[int(getattr(user, "id", user))] = locale


def clear_locales() -> None:
    _LOCALES.clear()
