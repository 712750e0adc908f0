"""Who may use a command, written once.

Moderators are members holding one of ``bot.moderator_roles`` (role names or ids) or the
Manage Server permission.  Commands do not rely on Discord's default permissions alone: those
can be changed by any server admin, and a configured moderator role may lack Manage Server,
so the check runs on every invocation.

Discord's default permissions still keep moderators' commands out of members' command picker:
a moderator command is declared with :func:`moderator_only` (a top-level command) or
:func:`moderator_group` (a group whose every sub-command is for moderators), which send
``default_member_permissions`` = Manage Server with the command.  A server admin lets a
moderator role without Manage Server see them in Server Settings → Integrations → the bot.
Sub-commands cannot carry default permissions: a group mixing member and moderator
sub-commands (``/poll``) stays visible and relies on the run-time check alone.
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


# What Discord asks of a member before showing a moderator command in the picker.
MODERATOR_PERMISSIONS = discord.Permissions(manage_guild=True)


def _moderator_predicate(interaction: discord.Interaction) -> bool:
    require_moderator(interaction)
    return True


def is_moderator_command(command: app_commands.Command) -> bool:
    """Whether ``command`` carries the run-time moderator check (for tests and /help)."""
    return _moderator_predicate in command.checks


def moderator_only():
    """Decorator for app commands: the run-time moderator check, and — on a top-level command —
    Discord's default permissions, so that members do not see it in the picker (a sub-command's
    default permissions are ignored by Discord: use :func:`moderator_group` for its group)."""
    check = app_commands.check(_moderator_predicate)
    hide = app_commands.default_permissions(MODERATOR_PERMISSIONS)

    def decorate(command):
        return hide(check(command))

    return decorate


def moderator_group(name: app_commands.locale_str, description: app_commands.locale_str) -> app_commands.Group:
    """A guild-only command group for moderators only: hidden from members' picker by Discord's
    default permissions; each sub-command still carries :func:`moderator_only`."""
    return app_commands.Group(
        name=name, description=description, guild_only=True, default_permissions=MODERATOR_PERMISSIONS
    )
