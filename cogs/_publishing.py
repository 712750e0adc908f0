"""What the extract and announcement cogs share: how a fan-out's outcome reads, and a helper to
show a post as members will see it.  The outbox publisher itself is the bot's
``bot.services.publisher`` (one per process, sending through the gateway bot's sender)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord.app_commands import locale_str

from bot.posting import message_kwargs
from bot.services.delivery import DeliveryReport, Post

if TYPE_CHECKING:
    from bot.client import ReseauBot

def delivery_counts(bot: ReseauBot, lang: str, sent: int, failed: int = 0, pending: int = 0) -> str:
    """« 2 salons servis, 1 en échec » — failures and retries only when there are some."""
    parts = [bot.t("delivery.served", lang, count=sent)]
    if failed:
        parts.append(bot.t("delivery.failed_count", lang, count=failed))
    if pending:
        parts.append(bot.t("delivery.pending_count", lang, count=pending))
    return ", ".join(parts)


def outcome_text(bot: ReseauBot, lang: str, report: DeliveryReport) -> str:
    """What a fan-out just did, for the moderator who started it."""
    return delivery_counts(bot, lang, report.delivered, len(report.failed), len(report.pending))


def text(key: str) -> locale_str:
    """A parameter description from the catalogue (English base, French via the translator)."""
    from cogs._text import _CATALOGUE

    return locale_str(_CATALOGUE.t(key, "en"), key=key)


async def send_preview(
    interaction: discord.Interaction, post: Post, *, header: str | None = None, extra: discord.ui.View | None = None
) -> None:
    """Show ``post`` to the moderator only, message by message, exactly as it will be posted
    (the mention is shown but pings no one).  ``extra`` buttons go under the last message."""
    parts = list(post.parts)
    for index, part in enumerate(parts):
        kwargs = message_kwargs(part, preview=True)
        last = index == len(parts) - 1
        if index == 0 and header:
            kwargs["content"] = f"{header}\n{kwargs['content']}" if kwargs.get("content") else header
        if last and extra is not None:
            link_view = kwargs.get("view")
            if link_view is not None:
                for item in link_view.children:
                    extra.add_item(item)
            kwargs["view"] = extra
        if index == 0 and not interaction.response.is_done():
            await interaction.response.send_message(ephemeral=True, **kwargs)
        else:
            await interaction.followup.send(ephemeral=True, **kwargs)
