"""Respondent ids in exports: HMAC-SHA256 of the Discord user id with a secret from the
environment, hex-truncated (raw ids only on explicit request)."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping

from bot.services.exports.model import MissingSecret

MIN_SECRET_LENGTH = 16
PSEUDONYM_LENGTH = 16


def pseudonym(user_id: int, secret: bytes) -> str:
    """The respondent id of a member in exports: keyed, stable, not reversible without the key."""
    return hmac.digest(secret, str(user_id).encode(), "sha256").hex()[:PSEUDONYM_LENGTH]


def read_secret(environ: Mapping[str, str], name: str) -> bytes:
    """The pseudonymisation key from the variable ``name``; :class:`MissingSecret` when it is not
    set or too short."""
    value = environ.get(name, "")
    if len(value.strip()) < MIN_SECRET_LENGTH:
        raise MissingSecret(env=name, min=MIN_SECRET_LENGTH)
    return value.encode()


def respondent_ids(secret: bytes | None) -> Callable[[int], str]:
    """User id → respondent id: the pseudonym under ``secret``, the raw id when it is ``None``."""
    if secret is None:
        return str
    keyed = hmac.new(secret, digestmod="sha256")  # the key schedule once, copied per respondent

    def pseudonymise(user_id: int) -> str:
        mac = keyed.copy()
        mac.update(str(user_id).encode())
        return mac.hexdigest()[:PSEUDONYM_LENGTH]

    return pseudonymise
