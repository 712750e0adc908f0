"""Database URLs read without SQLAlchemy: the running bot decides SQLite or PostgreSQL, finds the
SQLite file and connects its own asyncpg connections before anything loads SQLAlchemy (issue 15,
item 3).  The grammar is SQLAlchemy's own (``sqlalchemy.engine.url._parse_url``, MIT licence):
``tests/storage/test_urls.py`` checks that both read the same URLs alike."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

_URL = re.compile(
    r"""
        (?P<name>[\w\+]+)://
        (?:
            (?P<username>[^:/]*)
            (?::(?P<password>[^@]*))?
        @)?
        (?:
            (?:
                \[(?P<ipv6host>[^/\?]+)\] |
                (?P<ipv4host>[^/:\?]+)
            )?
            (?::(?P<port>[^/\?]*))?
        )?
        (?:/(?P<database>[^\?]*))?
        (?:\?(?P<query>.*))?
    """,
    re.X,
)


@dataclass(frozen=True)
class DatabaseURL:
    drivername: str
    username: str | None = None
    password: str | None = None
    host: str | None = None
    port: int | None = None
    database: str | None = None
    query: tuple[tuple[str, str], ...] = ()

    @property
    def backend(self) -> str:
        """``sqlite``, ``postgresql``… (SQLAlchemy's ``get_backend_name``)."""
        return self.drivername.split("+", 1)[0]

    def __repr__(self) -> str:  # never the password
        return f"DatabaseURL({self.drivername!r}, host={self.host!r}, database={self.database!r})"


def parse_url(url: str) -> DatabaseURL:
    """Read ``url`` as SQLAlchemy's ``make_url`` does; ``ValueError`` (with SQLAlchemy's words)
    when it cannot, or when the port is not a number."""
    found = _URL.match(url)
    if found is None:
        raise ValueError("Could not parse SQLAlchemy URL from given URL string")
    parts = found.groupdict()
    port = int(parts["port"]) if parts["port"] else None
    return DatabaseURL(
        drivername=parts["name"],
        username=unquote(parts["username"]) if parts["username"] is not None else None,
        password=unquote(parts["password"]) if parts["password"] is not None else None,
        host=parts["ipv4host"] or parts["ipv6host"],
        port=port,
        database=unquote(parts["database"]) if parts["database"] is not None else None,
        query=tuple(parse_qsl(parts["query"])) if parts["query"] is not None else (),
    )


def is_postgresql(url: str) -> bool:
    return parse_url(url).backend == "postgresql"


def asyncpg_params(url: str) -> dict[str, object]:
    """``asyncpg.connect`` arguments for a PostgreSQL URL, for the connections the bot opens
    outside SQLAlchemy's pool (the plain store's, the coordination's): host, port, user,
    password and database, and — as SQLAlchemy's asyncpg dialect passes them — ``ssl`` (``?ssl=``
    or libpq's ``?sslmode=``) and a Unix socket's directory (``?host=``)."""
    parsed = parse_url(url)
    query = dict(parsed.query)
    params: dict[str, object] = {
        "host": query.get("host") or parsed.host, "port": parsed.port, "user": parsed.username,
        "password": parsed.password, "database": parsed.database,
    }
    ssl = query.get("ssl") or query.get("sslmode")
    if ssl:
        params["ssl"] = ssl
    return params
