"""Helpers for running the bot on SimCord (the demo and the tests).  Imported only there.

SimCord gap worked around here: every INTERACTION_CREATE it builds carries ``locale: en-US``
(simcord 3.2, ``simcord.interactions.base_payload``), while real Discord sends the member's
client language.  ``set_locale(user_id, "fr")`` makes the simulated member's interactions carry
that locale, the way a French Discord client would.  The wrapper changes only the ``locale``
field of the payload; everything else stays SimCord's.

Second gap: SimCord's virtual clock always starts on 2026-01-01 (``simcord._clock.Clock``) and
``simcord.run`` offers no start time, so messages are dated that day while the bot's deadlines
follow the real clock.  ``run_from(bot, clock)`` is ``simcord.run(bot)`` with the backend's
clock replaced, before the bot attaches, by a :class:`VirtualClock` that starts at a chosen
instant; hand the same clock's ``now`` to the bot (``ReseauBot(clock=clock.now)``) and SimCord,
discord.py's ``utils.utcnow`` (which SimCord routes to it) and the bot read one time.  The
backend takes an injected clock (``Backend(clock=...)``); ``Env`` just never forwards one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import discord
import simcord
import simcord.interactions as _interactions
from simcord._clock import Clock as _SimcordClock

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


class VirtualClock(_SimcordClock):
    """SimCord's virtual clock (seconds elapsed, moved only by SimCord) starting at ``start``."""

    def __init__(self, start: datetime) -> None:
        super().__init__()
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self.start = start.astimezone(UTC)

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed)


@asynccontextmanager
async def run_from(bot: discord.Client, clock: VirtualClock, **options: Any) -> AsyncIterator[simcord.Env]:
    """``async with simcord.run(bot, **options) as env``, SimCord's time being ``clock``."""
    env = simcord.Env(bot, **options)
    env.backend.clock = clock  # before start: SimCord's loop time is this clock's ``elapsed``
    await env.start()
    with env.time_context():
        try:
            yield env
        finally:
            await env.shutdown()
