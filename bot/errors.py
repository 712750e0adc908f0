"""Domain errors: what a person should be told, as a catalogue key and its parameters.

Services raise these; the one error path (``cogs/_errors.py`` for Discord, ``bot/cli.py`` for
the command line) turns them into a message in the reader's language.  Anything that is not a
``DomainError`` is a bug: it is logged with its traceback and the user gets a generic apology.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.i18n import Catalogue


@dataclass(frozen=True)
class Label:
    """A parameter that is a catalogue text itself — a state's name, never its internal code —
    said in the reader's language: ``Conflict("announce.wrong_status", status=Label("announce.status.withdrawn"))``."""

    key: str


class DomainError(Exception):
    """An expected failure a person can act on.  ``key`` names a string in ``bot/locales``."""

    key = "error.generic"

    def __init__(self, key: str | None = None, /, **params: Any) -> None:
        if key is not None:
            self.key = key
        self.params = params
        super().__init__(self.key if not params else f"{self.key} {params}")


class InvalidInput(DomainError):
    """The user's (or file's, or feed's) input cannot be accepted as it is."""

    key = "error.invalid_input"


class NotFound(DomainError):
    key = "error.not_found"


class Forbidden(DomainError):
    """The caller may not do this (not a moderator, wrong guild, role restriction)."""

    key = "error.forbidden"


class Conflict(DomainError):
    """The record is not in a state that allows this (poll closed, already published…)."""

    key = "error.conflict"


class FetchError(DomainError):
    """Fetching remote content failed (host not allowed, down, too slow, too big, garbage)."""

    key = "error.fetch"


def describe(error: DomainError, catalogue: Catalogue, lang: str | None) -> str:
    """The error in the reader's language; a parameter that is itself a domain error (e.g.
    "the follow-up question of file X: <what is wrong with it>") is described the same way, and
    a :class:`Label` is its catalogue text in that language."""
    params = {
        name: describe(value, catalogue, lang) if isinstance(value, DomainError)
        else catalogue.t(value.key, lang) if isinstance(value, Label) else value
        for name, value in error.params.items()
    }
    return catalogue.t(error.key, lang, **params)


class CannotListen(Exception):
    """A server of ours (the dashboard, the demo's preview) cannot listen on ``host:port``: the
    port is taken, the address is not this machine's or not an address at all.  The command line
    says so in one line; it is no database's and no Discord's fault."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        self.host, self.port, self.reason = host, port, reason
        super().__init__(f"cannot listen on {host}:{port}: {reason}")
