"""``storage.urls.parse_url`` reads database URLs as SQLAlchemy's ``make_url`` does (the running
bot reads them before SQLAlchemy is loaded)."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from storage.urls import asyncpg_params, is_postgresql, parse_url

URLS = [
    "sqlite+aiosqlite:///relative/bot.db",
    "sqlite+aiosqlite:////var/lib/reseau/bot.db",
    "sqlite+aiosqlite:///:memory:",
    "sqlite+aiosqlite://",
    "postgresql+asyncpg://reseau:s%40cr%3At@db.example.org:5433/reseau",
    "postgresql+asyncpg://reseau@127.0.0.1/reseau?ssl=require&application_name=x",
    "postgresql+asyncpg://u:p@[::1]:5432/db",
    "postgresql://u@/db?host=/run/postgresql",
]


@pytest.mark.parametrize("url", URLS)
def test_each_part_is_read_as_sqlalchemy_reads_it(url):
    ours, theirs = parse_url(url), make_url(url)
    assert (ours.drivername, ours.username, ours.password, ours.host, ours.port, ours.database) == (
        theirs.drivername, theirs.username, theirs.password, theirs.host, theirs.port, theirs.database)
    assert ours.backend == theirs.get_backend_name()
    assert dict(ours.query) == {k: v for k, v in theirs.query.items()}
    assert is_postgresql(url) is (theirs.get_backend_name() == "postgresql")
    assert "s@cr:t" not in repr(ours)


@pytest.mark.parametrize("url", ["not a url", "postgresql+asyncpg://u:p@host:port/db", "://x"])
def test_what_sqlalchemy_refuses_is_refused(url):
    with pytest.raises((ArgumentError, ValueError)):
        make_url(url).port  # noqa: B018
    with pytest.raises(ValueError):
        parse_url(url)


def test_the_bots_own_postgresql_connections_take_the_urls_ssl_and_socket():
    assert asyncpg_params("postgresql+asyncpg://reseau:s%40cr%3At@db.example.org:5433/reseau?ssl=require") == {
        "host": "db.example.org", "port": 5433, "user": "reseau", "password": "s@cr:t", "database": "reseau",
        "ssl": "require"}
    assert asyncpg_params("postgresql+asyncpg://reseau@/reseau?host=/run/postgresql&sslmode=disable") == {
        "host": "/run/postgresql", "port": None, "user": "reseau", "password": None, "database": "reseau",
        "ssl": "disable"}
