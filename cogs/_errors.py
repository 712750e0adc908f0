"""The one error path: any failure in a command or component becomes a clear ephemeral
message in the member's language.  Domain errors say what went wrong; anything else is a bug,
logged with its traceback, and the member gets an apology — never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.errors import DomainError, describe

if TYPE_CHECKING:
    from bot.client import ReseauBot

log = logging.getLogger("reseau.errors")


class NotModerator(app_commands.CheckFailure):
    """Raised by the run-time moderator check."""


def message_for(bot: ReseauBot, lang: str, error: BaseException) -> str:
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    elif isinstance(error, app_commands.TransformerError) and error.__cause__ is not None:
        error = error.__cause__
    if isinstance(error, DomainError):
        return describe(error, bot.catalogue, lang)
    if isinstance(error, NotModerator):
        return bot.t("error.not_moderator", lang)
    if isinstance(error, app_commands.NoPrivateMessage):
        return bot.t("error.guild_only", lang)
    if isinstance(error, app_commands.CheckFailure):
        return bot.t("error.forbidden", lang)
    log.error("unexpected error", exc_info=error)
    return bot.t("error.generic", lang)


async def report_error(interaction: discord.Interaction, error: BaseException) -> None:
    bot: ReseauBot = interaction.client  # type: ignore[assignment]
    text = message_for(bot, bot.lang(interaction), error)
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not tell the member about an error", exc_info=True)


async def guarded(interaction: discord.Interaction, work: Awaitable[Any]) -> None:
    """The one error path for component callbacks (discord.py would only log the error)."""
    try:
        await work
    except Exception as error:
        await report_error(interaction, error)


class ReportingView(discord.ui.View):
    """Views (and the dynamic items dispatched through them) report errors the same way."""

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item
    ) -> None:
        await report_error(interaction, error)


class ReportingModal(discord.ui.Modal):
    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        await report_error(interaction, error)


class RetryingModal(ReportingModal):
    """A form whose refusal keeps what was typed: a domain error (a mention, a text too long…)
    is said with a button that opens the form again, filled with the refused values.
    :meth:`again` builds that form; ``retry_label`` is the button's catalogue key."""

    retry_label = "error.retry"

    def again(self) -> discord.ui.Modal:
        raise NotImplementedError

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        if not isinstance(error, DomainError):
            await report_error(interaction, error)
            return
        bot: ReseauBot = interaction.client  # type: ignore[assignment]
        lang = bot.lang(interaction)
        view = RetryView(bot.t(self.retry_label, lang), self.again)
        try:
            if interaction.response.is_done():  # refused after a defer (the post itself failed)
                await interaction.followup.send(message_for(bot, lang, error), view=view, ephemeral=True)
            else:
                await interaction.response.send_message(message_for(bot, lang, error), view=view, ephemeral=True)
        except discord.HTTPException:
            await report_error(interaction, error)


class RetryView(ReportingView):
    """One button that opens a form again (:class:`RetryingModal`'s refusals)."""

    def __init__(self, label: str, modal: Callable[[], discord.ui.Modal]) -> None:
        super().__init__(timeout=1800)
        self.modal = modal
        button: discord.ui.Button[RetryView] = discord.ui.Button(label=label, style=discord.ButtonStyle.primary)
        button.callback = self.reopen  # type: ignore[method-assign]
        self.add_item(button)

    async def reopen(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(self.modal())
