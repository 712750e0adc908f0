"""Run-time permission checks, written once.

Moderators are members holding one of ``bot.moderator_roles`` (role names or ids) or the
Manage Server permission.  Commands do not rely on Discord's default permissions alone: those
can be changed by any server admin, and a configured moderator role may lack Manage Server,
so the check runs on every invocation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from cogs._errors import NotModerator

if TYPE_CHECKING:
    from bot.client import ReseauBot


def is_moderator(interaction: discord.Interaction) -> bool:
    member = interaction.user
    if not isinstance(member, discord.Member):
        return False
    if member.guild_permissions.manage_guild:
        return True
    bot: ReseauBot = interaction.client  # type: ignore[assignment]
    wanted = set(bot.config.bot.moderator_roles)
    return any(role.name in wanted or str(role.id) in wanted for role in member.roles)


def require_moderator(interaction: discord.Interaction) -> None:
    if interaction.guild is None:
        raise app_commands.NoPrivateMessage()
    if not is_moderator(interaction):
        raise NotModerator()


def moderator_only():
    """Decorator for app commands: the run-time moderator check."""

    def predicate(interaction: discord.Interaction) -> bool:
        require_moderator(interaction)
        return True

    return app_commands.check(predicate)
