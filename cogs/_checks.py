"""Who may use a command: the Discord side of ``bot/services/authority.py`` (the rule itself).

This module only reads the member (the server, their role ids, Manage Server there) and turns
the service's refusals into check failures every command and component reports the same way.
Two scopes (see the service): :attr:`Scope.NETWORK` for what reaches every network channel or
the network's shared data (announcements, extracts, campaigns, campaign exports) — a moderator
role id in one of the network's servers; :attr:`Scope.SERVER` for what stays in the server
(a poll there, its close and results, ``/status``) — Manage Server or a moderator role id in
that server, which must be one of the network's.  Outside the network's servers the bot stores
nothing: :func:`require_network` refuses with a one-line notice.

Commands do not rely on Discord's default permissions alone: those can be changed by any server
admin, and a configured moderator role may lack Manage Server, so the check runs on every
invocation.  Discord's default permissions still keep moderators' commands out of members'
command picker: a moderator command is declared with :func:`moderator_only` (a top-level command)
or :func:`moderator_group` (a group whose every sub-command is for moderators), which send
``default_member_permissions`` = Manage Server with the command.  A server admin lets a
moderator role without Manage Server see them in Server Settings → Integrations → the bot.
Sub-commands cannot carry default permissions: a group mixing member and moderator
sub-commands (``/poll``) stays visible and relies on the run-time check alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.errors import DomainError
from bot.services import authority
from bot.services.authority import Actor, Scope
from cogs._errors import NotModerator

if TYPE_CHECKING:
    from bot.client import ReseauBot

__all__ = ["Scope", "is_moderator", "require_moderator", "require_network", "moderator_only", "moderator_group"]


class Refused(NotModerator, DomainError):
    """A moderator check failed: a check failure for discord.py, with the service's message."""


class OutsideNetwork(app_commands.CheckFailure, DomainError):
    """Used in a server that is not the network's: the one-line notice, nothing stored."""


def actor(interaction: discord.Interaction) -> Actor:
    member = interaction.user
    if interaction.guild_id is None or not isinstance(member, discord.Member):
        return Actor.of(interaction.guild_id)
    return Actor.of(
        interaction.guild_id, (role.id for role in member.roles), manage_guild=member.guild_permissions.manage_guild
    )


def _config(interaction: discord.Interaction):
    bot: ReseauBot = interaction.client  # type: ignore[assignment]
    return bot.config


def is_moderator(interaction: discord.Interaction, scope: Scope = Scope.SERVER) -> bool:
    return authority.may(_config(interaction), actor(interaction), scope)


def require_network(interaction: discord.Interaction) -> None:
    """Before anything is stored for a member: only in one of the network's servers."""
    try:
        authority.require_network(_config(interaction), interaction.guild_id)
    except authority.OutsideNetwork as refusal:
        raise OutsideNetwork(refusal.key, **refusal.params) from None


def require_moderator(interaction: discord.Interaction, scope: Scope = Scope.SERVER) -> None:
    if interaction.guild is None:
        raise app_commands.NoPrivateMessage()
    try:
        authority.check(_config(interaction), actor(interaction), scope)
    except authority.OutsideNetwork as refusal:
        raise OutsideNetwork(refusal.key, **refusal.params) from None
    except authority.NotModerator as refusal:
        raise Refused(refusal.key, **refusal.params) from None


# What Discord asks of a member before showing a moderator command in the picker.
MODERATOR_PERMISSIONS = discord.Permissions(manage_guild=True)


def _server_predicate(interaction: discord.Interaction) -> bool:
    require_moderator(interaction, Scope.SERVER)
    return True


def _network_predicate(interaction: discord.Interaction) -> bool:
    require_moderator(interaction, Scope.NETWORK)
    return True


_PREDICATES = {Scope.SERVER: _server_predicate, Scope.NETWORK: _network_predicate}


def is_moderator_command(command: app_commands.Command) -> bool:
    """Whether ``command`` carries the run-time moderator check (for tests and /help)."""
    return any(predicate in command.checks for predicate in _PREDICATES.values())


def moderator_only(scope: Scope = Scope.SERVER):
    """Decorator for app commands: the run-time moderator check of ``scope``, and — on a
    top-level command — Discord's default permissions, so that members do not see it in the
    picker (a sub-command's default permissions are ignored by Discord: use
    :func:`moderator_group` for its group)."""
    check = app_commands.check(_PREDICATES[scope])
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
