"""Component building blocks shared by the poll and survey cogs.

custom_ids follow ``rb:<feature>:<action>:<id>[:<id>]`` (≤ 100 characters); ``ID`` matches one
id in a ``DynamicItem`` template.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

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


ComponentT = TypeVar("ComponentT", bound=discord.ui.Item[Any])


class _IdItem(discord.ui.DynamicItem[ComponentT], template=r"rb:__abstract__"):
    """An item whose custom_id is ``<prefix>:<id>[:<id>…]``: subclasses give the template (one
    group per name in ``ids``, in that order), ``prefix`` and ``ids``; each id is an attribute of
    the item under its name.  A click rebuilds the item from the custom_id (and the component
    Discord sends), so it works after a restart."""

    prefix: ClassVar[str] = ""
    ids: ClassVar[tuple[str, ...]] = ("poll_id",)
    poll_id: int

    def __init__(self, component: ComponentT, ids: tuple[int, ...], *, row: int | None) -> None:
        super().__init__(component, row=row)
        for name, value in zip(self.ids, ids, strict=True):
            setattr(self, name, value)

    @classmethod
    def _custom_id(cls, ids: tuple[int, ...]) -> str:
        return ":".join([cls.prefix, *map(str, ids)])

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: ComponentT, match: Any) -> Any:
        return cls._rebuilt(item, *(int(match[name]) for name in cls.ids))

    @classmethod
    def _rebuilt(cls, item: ComponentT, *ids: int) -> Any:
        raise NotImplementedError


class IdButton(_IdItem[discord.ui.Button], template=r"rb:__abstract__"):
    """A button (see :class:`_IdItem`); subclasses also give ``style``, ``emoji`` and a ``callback``."""

    style: ClassVar[discord.ButtonStyle] = discord.ButtonStyle.secondary
    emoji: ClassVar[str | None] = None

    def __init__(
        self,
        *ids: int,
        label: str = "…",
        row: int | None = None,
        style: discord.ButtonStyle | None = None,
    ) -> None:
        button = discord.ui.Button(
            label=label,
            style=self.style if style is None else style,
            emoji=self.emoji,
            custom_id=self._custom_id(ids),
        )
        super().__init__(button, ids, row=row)

    @classmethod
    def _rebuilt(cls, item: discord.ui.Button, *ids: int) -> Any:
        return cls(*ids, label=getattr(item, "label", None) or "…")


class AnswerSelect(_IdItem[discord.ui.Select], template=r"rb:__abstract__"):
    """A select menu of answers (:func:`choice_select`, see :class:`_IdItem`); subclasses also
    give a ``callback`` (the chosen values are ``self.item.values``)."""

    def __init__(
        self,
        *ids: int,
        options: list[discord.SelectOption] | None = None,
        max_values: int = 1,
        placeholder: str | None = None,
        row: int | None = None,
    ) -> None:
        select = choice_select(self._custom_id(ids), options, max_values=max_values, placeholder=placeholder)
        super().__init__(select, ids, row=row)

    @classmethod
    def _rebuilt(cls, item: discord.ui.Select, *ids: int) -> Any:
        # getattr: a forged custom_id may come on another kind of component
        return cls(
            *ids,
            options=list(getattr(item, "options", None) or []),
            max_values=getattr(item, "max_values", 1),
            placeholder=getattr(item, "placeholder", None),
        )


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
