"""Component building blocks shared by the poll and survey cogs.

custom_ids follow ``rb:<feature>:<action>:<id>[:<id>]`` (≤ 100 characters); ``ID`` matches one
id in a ``DynamicItem`` template.
"""

from __future__ import annotations

from typing import Any, ClassVar

import discord

ID = r"[0-9]{1,20}"


def choice_select(
    custom_id: str,
    options: list[discord.SelectOption] | None,
    *,
    max_values: int = 1,
    placeholder: str | None = None,
) -> discord.ui.Select:
    """A select menu of answers (polls and surveys): at least one option, ``max_values`` clamped."""
    options = options or [discord.SelectOption(label="…", value="0")]
    return discord.ui.Select(
        custom_id=custom_id,
        options=options,
        min_values=1,
        max_values=max(1, min(max_values, len(options))),
        placeholder=placeholder,
    )


def option_ids(values: list[str]) -> list[int]:
    """A select menu's chosen values as option ids; a forged non-numeric value chooses nothing
    (the service then refuses the empty choice)."""
    try:
        return [int(v) for v in values]
    except ValueError:
        return []


class PollIdButton(discord.ui.DynamicItem[discord.ui.Button], template=r"rb:__abstract__"):
    """A button whose custom_id is ``<prefix>:<poll id>``: subclasses give the template (with a
    ``poll`` group), ``prefix``, ``style`` and ``emoji``, and a ``callback``; a click rebuilds the
    item from the custom_id alone, so it works after a restart."""

    prefix: ClassVar[str] = ""
    style: ClassVar[discord.ButtonStyle] = discord.ButtonStyle.secondary
    emoji: ClassVar[str | None] = None

    def __init__(self, poll_id: int, *, label: str = "…", row: int | None = None) -> None:
        super().__init__(
            discord.ui.Button(
                label=label, style=self.style, emoji=self.emoji, custom_id=f"{self.prefix}:{poll_id}"
            ),
            row=row,
        )
        self.poll_id = poll_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: Any
    ) -> Any:
        return cls(int(match["poll"]), label=getattr(item, "label", None) or "…")


class ActionButton(discord.ui.DynamicItem[discord.ui.Button], template=r"rb:__abstract__"):
    """A moderator's button whose custom_id is ``<prefix>:<action>:<record id>`` (confirm,
    cancel, schedule…): subclasses give the template (groups ``action`` and ``id``), ``prefix``
    and a ``callback`` that reloads the record and re-checks the moderator."""

    prefix: ClassVar[str] = ""

    def __init__(
        self,
        action: str,
        record_id: int,
        *,
        label: str = "",
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label=label or action, style=style, custom_id=f"{self.prefix}:{action}:{record_id}"
            )
        )
        self.action = action
        self.record_id = record_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: Any
    ) -> Any:
        return cls(match["action"], int(match["id"]), label=item.label or "")
