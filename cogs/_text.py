"""Localised names for slash commands: ``cmd("help")`` → ``locale_str`` with a catalogue key."""

from __future__ import annotations

from discord.app_commands import describe, locale_str, rename

from bot.i18n import Catalogue

_CATALOGUE = Catalogue.load()


def name(key: str) -> locale_str:
    """English base name from the catalogue, French through the translator."""
    full = f"cmd.{key}.name"
    return locale_str(_CATALOGUE.t(full, "en"), key=full)


def desc(key: str) -> locale_str:
    full = f"cmd.{key}.desc"
    return locale_str(_CATALOGUE.t(full, "en"), key=full)


def options(**keys: str):
    """Localised name and description for each parameter: ``options(poll_id="poll.opt.poll")``
    applies ``cmd.poll.opt.poll.name`` / ``.desc`` to the ``poll_id`` parameter."""

    def decorate(command):
        command = describe(**{param: desc(key) for param, key in keys.items()})(command)
        return rename(**{param: name(key) for param, key in keys.items()})(command)

    return decorate
