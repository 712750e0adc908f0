"""The database checks: the schema is at the migrations' head, and the host of every URL
extract source already stored is in ``fetch.allowed_hosts``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from bot.config import Config
from bot.services.check.report import CheckResult, _failed, _passed, _warned, msg
from bot.services.check.rest import _short


def source_url(source_key: str) -> httpx.URL | None:
    """The URL an extract was imported from, when its source key holds one."""
    from bot.services.fetch import http_url

    prefix, _, rest = source_key.partition(":")
    if prefix not in ("page", "feed") or rest.startswith("sha256:"):
        return None
    return http_url(rest)


def _host_label(url: httpx.URL) -> str:
    host = url.host
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{url.port}" if url.port else host


async def check_database(config: Config) -> list[CheckResult]:
    """The schema is at head; then the hosts of the stored URL sources are allowed."""
    from sqlalchemy.engine import make_url

    from storage.db import create_engine, current_revision, head_revision, schema_is_newer

    head = head_revision()
    url = make_url(config.database.url)
    database = url.database or ""
    if url.get_backend_name() == "sqlite" and database not in ("", ":memory:") and not database.startswith("file:"):
        if not Path(database).expanduser().exists():  # do not create an empty file by looking
            return [
                _failed(msg("check.db.missing", head=head), msg("check.db.behind_fix")),
                _failed(msg("check.host.skipped"), msg("check.db.behind_fix")),
            ]
    engine = create_engine(config.database.url)
    try:
        try:
            current = await current_revision(engine)
        except Exception as exc:  # any driver, any failure: one line, no traceback
            return [
                _failed(msg("check.db.unreachable", reason=_db_reason(exc)), msg("check.db.unreachable_fix")),
                _failed(msg("check.host.skipped"), msg("check.db.unreachable_fix")),
            ]
        if schema_is_newer(current):
            return [
                _failed(msg("check.db.newer", current=current, head=head), msg("check.db.newer_fix")),
                _failed(msg("check.host.skipped"), msg("check.db.newer_fix")),
            ]
        if current != head:
            return [
                _failed(msg("check.db.behind", current=current, head=head) if current else msg("check.db.missing", head=head),
                        msg("check.db.behind_fix")),
                _failed(msg("check.host.skipped"), msg("check.db.behind_fix")),
            ]
        results = [_passed(msg("check.db.ok", revision=head))]
        try:
            results += await _check_sources(engine, config)
        except Exception as exc:
            results.append(_failed(msg("check.host.error", reason=_db_reason(exc)), msg("check.db.unreachable_fix")))
        if url.get_backend_name() == "postgresql":
            results += await _check_shards(config)
        return results
    finally:
        await engine.dispose()


def _db_reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)  # a DBAPIError's driver exception, without the SQL
    return _short(orig if orig is not None else exc)


def shard_ranges(shards: tuple[int, ...]) -> str:
    """(0, 1, 2, 5) → ``0-2,5``, as ``run --shard-ids`` takes them."""
    parts: list[str] = []
    for shard in shards:
        if parts and shard == int(parts[-1].rpartition("-")[2]) + 1:
            parts[-1] = f"{parts[-1].partition('-')[0]}-{shard}"
        else:
            parts.append(str(shard))
    return ",".join(parts)


async def _check_shards(config: Config) -> list[CheckResult]:
    """PostgreSQL: the shards the running ``reseau-bot run`` processes claim (their advisory locks,
    ``storage.coordination``); ⚠ when they run with another shard count than this configuration's
    (a ``run`` with it would be refused)."""
    from storage.coordination import PgCoordination

    try:
        conn = await PgCoordination.connect(config.database.url)
        try:
            claims = await conn.shard_claims()
        finally:
            await conn.close()
    except Exception as exc:  # any driver, any failure: one line, no traceback
        return [_failed(msg("check.shards.error", reason=_db_reason(exc)), msg("check.db.unreachable_fix"))]
    if not claims:
        return [_passed(msg("check.shards.none"))]
    held = tuple(msg("check.shards.process", shards=shard_ranges(shards), total=total)
                 if total else msg("check.shards.unsharded") for total, shards in claims)
    line = msg("check.shards.held", count=len(claims), processes=held)
    mine = config.discord.shard_count
    theirs = sorted({total for total, _ in claims} - {mine})
    if theirs:
        return [_warned(line, msg("check.shards.count_fix", mine=mine, theirs=theirs[0]))]
    return [_passed(line)]


async def _check_sources(engine: Any, config: Config) -> list[CheckResult]:
    from bot.services.fetch import host_allowed
    from storage.db import session_factory
    from storage.repositories.extracts import ExtractRepository

    async with session_factory(engine)() as session:
        keys = [e.source_key for e in await ExtractRepository(session).all()]
    by_host: dict[str, tuple[httpx.URL, int]] = {}
    for key in keys:
        url = source_url(key)
        if url is not None:
            label = _host_label(url)
            first, count = by_host.get(label, (url, 0))
            by_host[label] = (first, count + 1)
    if not by_host:
        return [_passed(msg("check.host.none"))]
    results = []
    for label, (url, count) in sorted(by_host.items()):
        if host_allowed(url, config.fetch.allowed_hosts):
            results.append(_passed(msg("check.host.ok", host=label, count=count)))
        else:
            results.append(_failed(msg("check.host.denied", host=label, count=count),
                                   msg("check.host.denied_fix", host=label, path=str(config.path))))
    return results
