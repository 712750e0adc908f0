"""Domain errors: what a person should be told, as a catalogue key and its parameters.

Services raise these; the one error path (``cogs/_errors.py`` for Discord, ``bot/cli.py`` for
the command line) turns them into a message in the reader's language.  Anything that is not a
``DomainError`` is a bug: it is logged with its traceback and the user gets a generic apology.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.i18n import Catalogue


class Label:
    """A parameter that is a catalogue text itself — a state's name, never its internal code —
    said in the reader's language: ``Conflict("announce.wrong_status", status=Label("announce.status.withdrawn"))``.
    It may take parameters of its own (``Label("poll.kind.multi_max", max=2)``); a tuple of
    labels is said as a list (« « Voir les salons », « Envoyer des messages » »)."""

    __slots__ = ("key", "params")

    def __init__(self, key: str, /, **params: Any) -> None:
        self.key = key
        self.params = params

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Label) and (self.key, self.params) == (other.key, other.params)

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return f"Label({self.key!r}{''.join(f', {k}={v!r}' for k, v in self.params.items())})"


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
    return catalogue.t(error.key, lang, **_said(error.params, catalogue, lang))


def _said(params: dict[str, Any], catalogue: Catalogue, lang: str | None) -> dict[str, Any]:
    return {name: _say(value, catalogue, lang) for name, value in params.items()}


def _say(value: Any, catalogue: Catalogue, lang: str | None) -> Any:
    if isinstance(value, DomainError):
        return describe(value, catalogue, lang)
    if isinstance(value, Label):
        return catalogue.t(value.key, lang, **_said(value.params, catalogue, lang))
    if isinstance(value, tuple) and value and all(isinstance(v, Label) for v in value):
        return ", ".join(str(_say(v, catalogue, lang)) for v in value)
    return value


class CannotListen(Exception):
    """A server of ours (the dashboard, the demo's preview) cannot listen on ``host:port``: the
    port is taken, the address is not this machine's or not an address at all.  The command line
    says so in one line; it is no database's and no Discord's fault."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        self.host, self.port, self.reason = host, port, reason
        super().__init__(f"cannot listen on {host}:{port}: {reason}")
