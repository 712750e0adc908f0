"""Loaded first as an extension: every slash command error goes through the one error path
(``cogs._errors.report_error``), so ``bot/`` needs no import of ``cogs/``.

A module of its own: discord.py executes an extension as a fresh module object, and the error
classes that ``cogs._errors`` defines must stay the ones the other cogs raise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs._errors import report_error

if TYPE_CHECKING:
    from bot.client import ReseauBot


async def setup(bot: ReseauBot) -> None:
    bot.tree.error_path = report_error
