"""``INSERT … ON CONFLICT`` for the session's dialect (SQLite and PostgreSQL share the syntax).

Only the dialect in use is imported (``sqlalchemy.dialects.postgresql`` and its drivers are
~2 MiB that a bot on SQLite never needs: issue 15, item 3)."""

from __future__ import annotations

import importlib
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

_DIALECTS = ("postgresql", "sqlite")


def dialect_insert(name: str) -> Any:
    """The ``insert`` construct of dialect ``name`` (with ``on_conflict_do_update``)."""
    if name not in _DIALECTS:
        raise NotImplementedError(f"no upsert for the {name} dialect")
    return importlib.import_module(f"sqlalchemy.dialects.{name}").insert


def insert(session: AsyncSession, table: Any) -> Any:
    return dialect_insert(session.get_bind().dialect.name)(table)
