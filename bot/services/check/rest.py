"""Discord's REST API for the check: GET only, one request at a time, a 429 waited out once,
every other trouble an :class:`Unreachable` whose reason is a catalogue message."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from bot.services.check.report import Msg, msg


class Unreachable(Exception):
    """Discord did not give a usable answer; ``reason`` says why, as a catalogue message."""

    def __init__(self, reason: Msg) -> None:
        super().__init__(reason.key)
        self.reason = reason


@dataclass(frozen=True)
class Answer:
    status: int
    data: Any

    @property
    def code(self) -> int | None:
        """Discord's JSON error code of an error answer."""
        if self.status >= 400 and isinstance(self.data, dict) and isinstance(self.data.get("code"), int):
            return self.data["code"]
        return None


class DiscordREST:
    """GET requests on Discord's API, one at a time; a 429 is waited out once (its
    ``retry_after``, up to ``max_wait`` seconds), any other trouble raises :class:`Unreachable`."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        max_wait: float = 10.0,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.client = client
        self.max_wait = max_wait
        self.sleep = sleep

    async def get(self, path: str) -> Answer:
        response = await self._send(path)
        if response.status_code == 429:
            wait = _retry_after(response)
            if wait is not None and wait <= self.max_wait:
                await self.sleep(wait)
                response = await self._send(path)
        if response.status_code == 429:
            wait = _retry_after(response)
            raise Unreachable(msg("check.reason.rate_limited", seconds=math.ceil(wait or 0)))
        if response.status_code >= 500:
            raise Unreachable(msg("check.reason.server_error", status=response.status_code))
        try:
            data = response.json()
        except ValueError:
            raise Unreachable(msg("check.reason.bad_json", status=response.status_code)) from None
        return Answer(response.status_code, data)

    async def _send(self, path: str) -> httpx.Response:
        try:
            return await self.client.get(path)
        except httpx.TimeoutException:
            raise Unreachable(msg("check.reason.timeout")) from None
        except httpx.ConnectError as exc:
            raise Unreachable(msg("check.reason.connect", detail=_short(exc))) from None
        except httpx.HTTPError as exc:
            raise Unreachable(msg("check.reason.network", detail=_short(exc))) from None


def _retry_after(response: httpx.Response) -> float | None:
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("retry_after"), int | float):
            return max(float(body["retry_after"]), 0.0)
    except ValueError:
        pass
    try:
        return max(float(response.headers.get("Retry-After", "")), 0.0)
    except ValueError:
        return None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def _snowflake(data: Any, name: str) -> int:
    """``data[name]`` as an id, or :class:`Unreachable` (the answer is not shaped as Discord's)."""
    try:
        return int(data[name])
    except (KeyError, TypeError, ValueError):
        raise Unreachable(msg("check.reason.bad_shape", field=name)) from None


def _unexpected(answer: Answer) -> Unreachable:
    message = answer.data.get("message") if isinstance(answer.data, dict) else None
    return Unreachable(msg("check.reason.status", status=answer.status, message=str(message or "-")[:200]))
