"""Checking a refusal: the error names the expected catalogue key, and its message exists and
formats in every language (a key missing from a catalogue, or a placeholder the error does not
carry, fails here rather than in front of a member)."""

from __future__ import annotations

from typing import TypeVar

from bot.errors import DomainError
from bot.i18n import LANGUAGES, Catalogue

E = TypeVar("E", bound=DomainError)


def check_refusal(error: E, key: str) -> E:
    assert error.key == key, (error.key, error.params)
    catalogue = Catalogue.load()
    for lang in LANGUAGES:
        catalogue.t(error.key, lang, **error.params)
    return error
