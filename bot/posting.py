"""Posts as Discord messages, and the two ways of sending them.

``message_kwargs(part)`` turns a :class:`~bot.services.delivery.MessagePart` into what
``Messageable.send`` / ``handle_message_parameters`` take: embeds, a link-button view, the one
role mention and ``allowed_mentions`` restricted to it (never ``@everyone``/``@here`` unless a
channel is configured so).  Previews use the very same function, so a moderator sees what
members will see.

:class:`GatewaySender` posts through the connected bot's discord.py objects;
:class:`RestSender` through a bare ``discord.http.HTTPClient`` logged in with
``static_login`` (the command line, without a gateway session).  Both send every message with
``nonce`` + ``enforce_nonce`` and look for the bot's own recent messages before a resend.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import discord
from discord.http import HTTPClient, handle_message_parameters

from bot.services.delivery import (
    DISCORD_CODES,
    ChannelMissing,
    DeliveryError,
    MessagePart,
    MissingPermission,
    Rejected,
    TransientFailure,
)

log = logging.getLogger("reseau.posting")

EMBED_COLOUR = 0x2B6CB0
HISTORY_LIMIT = 50
HISTORY_SLACK = timedelta(minutes=2)


# --------------------------------------------------------------------------------------------
# Rendering


def embed_of(part: Any, colour: int = EMBED_COLOUR) -> discord.Embed:
    embed = discord.Embed(title=part.title, description=part.description or None, url=part.url, colour=colour)
    if part.image_url:
        embed.set_image(url=part.image_url)
    if part.footer:
        embed.set_footer(text=part.footer)
    return embed


def view_of(part: MessagePart) -> discord.ui.View | None:
    if part.button is None:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(discord.ui.Button(label=part.button.label, url=part.button.url, style=discord.ButtonStyle.link))
    return view


def allowed_mentions_of(part: MessagePart) -> discord.AllowedMentions:
    roles = [discord.Object(id=part.mention_role_id)] if part.mention_role_id else False
    return discord.AllowedMentions(everyone=part.mention_everyone, users=False, roles=roles, replied_user=False)


def message_kwargs(part: MessagePart, *, preview: bool = False) -> dict[str, Any]:
    """``content``, ``embeds``, ``view`` and ``allowed_mentions`` for one part.  A preview
    mentions no one (it shows the mention text, the ping is not sent)."""
    kwargs: dict[str, Any] = {
        "content": part.content,
        "embeds": [embed_of(e) for e in part.embeds],
        "allowed_mentions": discord.AllowedMentions.none() if preview else allowed_mentions_of(part),
    }
    view = view_of(part)
    if view is not None:
        kwargs["view"] = view
    if part.files:
        kwargs["files"] = [discord.File(io.BytesIO(f.data), filename=f.name) for f in part.files]
    return kwargs


def edit_kwargs(part: MessagePart) -> dict[str, Any]:
    """What an edit of a posted part sends: its text, embeds, mentions and button (or none);
    the files posted with it stay attached."""
    kwargs = message_kwargs(part)
    kwargs.pop("files", None)
    kwargs.setdefault("view", None)
    return kwargs


def _signature(content: str | None, embeds: Sequence[Any]) -> tuple[str, str, str]:
    """What identifies a post when the API does not echo nonces: text, first title, first text."""
    first: Any = embeds[0] if embeds else {}
    if not isinstance(first, dict):
        first = {"title": first.title, "description": first.description}
    return ((content or "").strip(), (first.get("title") or "").strip(), (first.get("description") or "").strip())


def part_signature(part: MessagePart) -> tuple[str, str, str]:
    return _signature(part.content, part.embeds)


def classify_refusal(exc: discord.HTTPException) -> DeliveryError:
    """Discord's refusal as a delivery error: its reason named after Discord's JSON code when
    known (``missing_access`` for 50001…), Discord's answer kept as the detail."""
    text = f"{exc.status} {exc.code}: {exc.text}".strip()
    code = DISCORD_CODES.get(exc.code)
    if isinstance(exc, discord.NotFound) or exc.code == 10003:
        return ChannelMissing(text, code=code)
    if isinstance(exc, discord.Forbidden) or exc.code in (50001, 50013):
        return MissingPermission(text, code=code)
    if exc.status == 429 or exc.status >= 500:
        return TransientFailure(text)
    return Rejected(text)


def _match(
    messages: Sequence[tuple[int, int, Any, tuple[str, str, str]]],
    bot_id: int,
    parts: Sequence[tuple[str, MessagePart]],
) -> dict[int, int]:
    """``messages``: (id, author id, nonce, signature), any order."""
    found: dict[int, int] = {}
    used: set[int] = set()
    mine = sorted((m for m in messages if m[1] == bot_id), key=lambda m: m[0])
    for index, (nonce, part) in enumerate(parts):
        signature = part_signature(part)
        for message_id, _, message_nonce, message_signature in mine:
            if message_id in used:
                continue
            if (message_nonce is not None and str(message_nonce) == nonce) or message_signature == signature:
                found[index] = message_id
                used.add(message_id)
                break
    return found


# --------------------------------------------------------------------------------------------
# Senders


class GatewaySender:
    """Sends with the connected bot (channel objects from its cache, discord.py's HTTP client)."""

    def __init__(self, bot: discord.Client) -> None:
        self.bot = bot

    async def _channel(self, channel_id: int) -> Any:
        channel = self.bot.get_channel(channel_id)
        if channel is not None:
            return channel
        try:
            return await self.bot.fetch_channel(channel_id)
        except discord.HTTPException as exc:
            raise classify_refusal(exc) from exc
        except discord.InvalidData as exc:
            raise ChannelMissing() from exc

    async def send(self, channel_id: int, part: MessagePart, nonce: str, *, crosspost: bool = False) -> int:
        channel = await self._channel(channel_id)
        if not hasattr(channel, "send"):
            raise ChannelMissing(code="not_text_channel")
        try:
            message = await channel.send(nonce=nonce, **message_kwargs(part))
        except discord.HTTPException as exc:
            raise classify_refusal(exc) from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise TransientFailure(f"{type(exc).__name__}: {exc}") from exc
        if crosspost and getattr(channel, "type", None) == discord.ChannelType.news:
            try:
                await message.publish()
            except discord.HTTPException:
                log.warning("posted in %d but could not crosspost message %d", channel_id, message.id, exc_info=True)
        return message.id

    async def find_sent(
        self, channel_id: int, parts: Sequence[tuple[str, MessagePart]], after: datetime
    ) -> dict[int, int]:
        channel = await self._channel(channel_id)
        since = discord.Object(id=discord.utils.time_snowflake(after - HISTORY_SLACK))
        seen = []
        try:
            async for message in channel.history(limit=HISTORY_LIMIT, after=since, oldest_first=True):
                seen.append((message.id, message.author.id, message.nonce, _signature(message.content, message.embeds)))
        except discord.HTTPException as exc:
            raise classify_refusal(exc) from exc
        assert self.bot.user is not None
        return _match(seen, self.bot.user.id, parts)

    async def notify(self, channel_id: int, text: str) -> None:
        channel = await self._channel(channel_id)
        await channel.send(text, allowed_mentions=discord.AllowedMentions.none())

    async def edit(self, channel_id: int, message_id: int, part: MessagePart) -> None:
        message = self.bot.get_partial_messageable(channel_id).get_partial_message(message_id)
        try:
            await message.edit(**edit_kwargs(part))
        except discord.HTTPException as exc:
            raise classify_refusal(exc) from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise TransientFailure(f"{type(exc).__name__}: {exc}") from exc

    async def delete(self, channel_id: int, message_id: int) -> None:
        message = self.bot.get_partial_messageable(channel_id).get_partial_message(message_id)
        try:
            await message.delete()
        except discord.NotFound:
            return
        except discord.HTTPException as exc:
            raise classify_refusal(exc) from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise TransientFailure(f"{type(exc).__name__}: {exc}") from exc


class RestSender:
    """Sends over Discord's REST API only: a ``discord.http.HTTPClient`` after ``static_login``."""

    def __init__(self, http: HTTPClient, bot_user_id: int) -> None:
        self.http = http
        self.bot_user_id = bot_user_id
        self._channel_types: dict[int, int] = {}

    @classmethod
    async def login(cls, token: str) -> RestSender:
        http = HTTPClient(asyncio.get_running_loop())
        try:
            data = await http.static_login(token)
        except BaseException:  # a refused token or no Discord: close the session it opened
            await http.close()
            raise
        return cls(http, int(data["id"]))

    async def close(self) -> None:
        await self.http.close()

    async def _call(self, coro: Any) -> Any:
        try:
            return await coro
        except discord.HTTPException as exc:
            raise classify_refusal(exc) from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise TransientFailure(f"{type(exc).__name__}: {exc}") from exc

    async def send(self, channel_id: int, part: MessagePart, nonce: str, *, crosspost: bool = False) -> int:
        kwargs = message_kwargs(part)
        with handle_message_parameters(
            content=kwargs["content"], embeds=kwargs["embeds"], view=kwargs.get("view", discord.utils.MISSING),
            nonce=nonce, allowed_mentions=kwargs["allowed_mentions"], files=kwargs.get("files", discord.utils.MISSING),
        ) as params:
            data = await self._call(self.http.send_message(channel_id, params=params))
        message_id = int(data["id"])
        if crosspost:
            if channel_id not in self._channel_types:
                channel = await self._call(self.http.get_channel(channel_id))
                self._channel_types[channel_id] = int(channel.get("type", 0))
            if self._channel_types[channel_id] == discord.ChannelType.news.value:
                try:
                    await self.http.publish_message(channel_id, message_id)
                except discord.HTTPException:
                    log.warning("could not crosspost message %d in %d", message_id, channel_id, exc_info=True)
        return message_id

    async def find_sent(
        self, channel_id: int, parts: Sequence[tuple[str, MessagePart]], after: datetime
    ) -> dict[int, int]:
        since = discord.utils.time_snowflake(after - HISTORY_SLACK)
        data = await self._call(self.http.logs_from(channel_id, HISTORY_LIMIT, after=since))
        seen = [
            (int(m["id"]), int(m["author"]["id"]), m.get("nonce"), _signature(m.get("content"), m.get("embeds") or []))
            for m in data
        ]
        return _match(seen, self.bot_user_id, parts)

    async def notify(self, channel_id: int, text: str) -> None:
        with handle_message_parameters(content=text, allowed_mentions=discord.AllowedMentions.none()) as params:
            await self._call(self.http.send_message(channel_id, params=params))

    async def edit(self, channel_id: int, message_id: int, part: MessagePart) -> None:
        kwargs = edit_kwargs(part)
        with handle_message_parameters(
            content=kwargs["content"], embeds=kwargs["embeds"], view=kwargs["view"],
            allowed_mentions=kwargs["allowed_mentions"],
        ) as params:
            await self._call(self.http.edit_message(channel_id, message_id, params=params))

    async def delete(self, channel_id: int, message_id: int) -> None:
        try:
            await self._call(self.http.delete_message(channel_id, message_id))
        except ChannelMissing:
            return
