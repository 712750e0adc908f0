"""Small helpers shared by the poll modules: colours, limits, clipping, Discord timestamps."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import discord

OPEN_COLOUR = 0x2B6CB0
CLOSED_COLOUR = 0x718096
MAX_BUTTON_OPTIONS = 5  # more options: a select menu
BUTTON_LABEL_MAX = 80
BAR_CELLS = 10
EMBED_BUDGET = 5900  # Discord allows 6,000 characters per message's embeds


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def numbered(labels: Iterable[str]) -> bool:
    """Options shown as buttons are numbered when one of them does not fit a button: the text
    lists each in full after its number, and each button starts with it."""
    return any(len(label) > BUTTON_LABEL_MAX for label in labels)


def button_label(number: int, label: str, *, numbered: bool) -> str:
    """An option's button: its label, or « 3. » and its label clipped to a button's 80 characters."""
    return clip(f"{number}. {label}", BUTTON_LABEL_MAX) if numbered else label


def esc(text: str) -> str:
    return discord.utils.escape_markdown(text)


def ts(when: datetime | None, style: str) -> str:
    """A Discord timestamp (``<t:…:f>``), shown in each reader's time zone and language."""
    return f"<t:{int(when.timestamp())}:{style}>" if when else ""


def join_lines(lines: list[str], limit: int) -> str:
    """Lines joined up to ``limit`` characters (an embed field), then "… (+n)"."""
    out: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        if used + len(line) + 1 > limit - 16:
            out.append(f"… (+{len(lines) - index})")
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


def role_ids(interaction: discord.Interaction) -> list[int]:
    user = interaction.user
    return [role.id for role in user.roles] if isinstance(user, discord.Member) else []


def answerer(interaction: discord.Interaction) -> dict[str, Any]:
    """Who answers, as the answering services take it: the member, the guild (0 in a DM) and the
    member's roles (for a poll restricted to roles)."""
    return {
        "user_id": interaction.user.id,
        "guild_id": interaction.guild_id or 0,
        "role_ids": role_ids(interaction),
    }


def row_below(items: Iterable[Any]) -> int:
    """The first row under ``items`` (a DynamicItem's row is its wrapped component's)."""
    rows = [getattr(getattr(item, "item", item), "row", None) or 0 for item in items]
    return 1 + max(rows, default=0)
