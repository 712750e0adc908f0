"""What ``reseau-bot check`` reports: catalogue messages (:class:`Msg`), one result per item
with its fix when it failed, and the report that gathers them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.services.permissions import PERMISSION_KEYS, permission_keys

__all__ = ["PERMISSION_KEYS", "permission_keys"]  # re-exported: named in the check's report


@dataclass(frozen=True)
class Msg:
    """A catalogue key and its parameters; a parameter may itself be a ``Msg`` or a tuple of them
    (a list, joined by the adapter)."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)


def msg(key: str, /, **params: Any) -> Msg:
    return Msg(key, params)


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    line: Msg
    fix: Msg | None = None
    warning: bool = False  # ⚠: does not stop the bot (ok stays True), something will refuse later


@dataclass
class CheckReport:
    results: list[CheckResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def failures(self) -> int:
        return sum(1 for r in self.results if not r.ok)

    @property
    def checks(self) -> int:
        """The checks that passed or failed (warnings are not counted)."""
        return sum(1 for r in self.results if not r.warning)


def _passed(line: Msg) -> CheckResult:
    return CheckResult(True, line)


def _failed(line: Msg, fix: Msg) -> CheckResult:
    return CheckResult(False, line, fix)


def _warned(line: Msg, fix: Msg) -> CheckResult:
    return CheckResult(True, line, fix, warning=True)
