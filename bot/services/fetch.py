"""Fetching remote extract sources (feeds, web pages) safely.

Only ``http``/``https``, only to hosts on an allow-list (checked before any connection, and again
for every redirect, which is followed by hand), with separate connect and read timeouts and a
size cap enforced while streaming.  Every failure is a :class:`~bot.errors.FetchError` whose key
lives in ``bot/locales/extracts.toml`` (``fetch.*``).

Nothing here imports discord.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass
from email.message import Message

import httpx

from bot.errors import FetchError, InvalidInput
from bot.services.extract_sources import ExtractDraft, page_source_key, parse_feed, parse_html_page

__all__ = ["MAX_REDIRECTS", "FetchedContent", "fetch", "host_allowed", "http_url", "load_url"]

MAX_REDIRECTS = 5
USER_AGENT = "reseau-bot/0.1 (monthly survey extracts)"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, "
    "text/html;q=0.8, application/xhtml+xml;q=0.8, */*;q=0.1"
)
_REDIRECTS = {301, 302, 303, 307, 308}
_FEED_TYPES = {
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/xml",
    "text/xml",
    "application/x-rss+xml",
}
_HTML_TYPES = {"text/html", "application/xhtml+xml"}


@dataclass(frozen=True)
class FetchedContent:
    """What came back: the final URL (after redirects), the raw ``Content-Type`` header value
    (``""`` when absent) and the body."""

    url: str
    content_type: str
    content: bytes

    @property
    def media_type(self) -> str:
        return self.content_type.split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str | None:
        if not self.content_type:
            return None
        message = Message()
        message["content-type"] = self.content_type
        charset = message.get_param("charset")
        return charset.strip() if isinstance(charset, str) and charset.strip() else None


# --------------------------------------------------------------------------------------------
# Hosts


def _norm_host(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return host.encode("idna").decode("ascii") if host and not host.isascii() else host
    except UnicodeError:
        return host


def _parse_allowed(allowed_hosts: Collection[str]) -> set[tuple[str, int | None]]:
    """Entries are host names or IP addresses (any port), or ``host:port`` / ``[v6]:port``."""
    out: set[tuple[str, int | None]] = set()
    if isinstance(allowed_hosts, str):  # one host given as a bare string, not its characters
        allowed_hosts = [allowed_hosts]
    for entry in allowed_hosts:
        entry = entry.strip()
        port: int | None = None
        if entry.startswith("[") and "]:" in entry:
            host, _, port_text = entry[1:].partition("]:")
            port = int(port_text) if port_text.isdigit() else None
        elif entry.count(":") == 1:
            host, _, port_text = entry.partition(":")
            port = int(port_text) if port_text.isdigit() else None
        else:
            host = entry
        if host.strip():
            out.add((_norm_host(host), port))
    return out


def http_url(raw: str) -> httpx.URL | None:
    """``raw`` as an ``http``/``https`` URL with a host, else ``None`` (what :func:`fetch` accepts)."""
    try:
        url = httpx.URL(raw)
    except (httpx.InvalidURL, TypeError, ValueError):
        return None
    if url.scheme not in ("http", "https") or not url.host:
        return None
    return url


def _redirect_target(current: httpx.URL, location: str) -> httpx.URL | None:
    try:
        return http_url(str(current.join(location.strip())))
    except (httpx.InvalidURL, TypeError, ValueError):
        return None


def _host_of(url: httpx.URL) -> str:
    try:
        return _norm_host(url.raw_host.decode("ascii"))
    except UnicodeDecodeError:
        return _norm_host(url.host)


def _is_allowed(url: httpx.URL, allowed: set[tuple[str, int | None]]) -> bool:
    host = _host_of(url)
    port = url.port or (443 if url.scheme == "https" else 80)
    return (host, None) in allowed or (host, port) in allowed


def host_allowed(url: str | httpx.URL, allowed_hosts: Collection[str]) -> bool:
    """Whether :func:`fetch` would connect to ``url`` under ``allowed_hosts`` (the rules of
    :func:`fetch`: exact host, case-insensitive, an entry without a port covers every port).
    A URL that is not ``http``/``https`` with a host is never allowed."""
    target = http_url(str(url)) if isinstance(url, str) else url
    if target is None or target.scheme not in ("http", "https") or not target.host:
        return False
    return _is_allowed(target, _parse_allowed(allowed_hosts))


# --------------------------------------------------------------------------------------------
# Fetch


async def fetch(
    url: str,
    *,
    client: httpx.AsyncClient,
    allowed_hosts: Collection[str],
    max_bytes: int,
    connect_timeout: float,
    read_timeout: float,
    max_redirects: int = MAX_REDIRECTS,
    total_timeout: float | None = None,
) -> FetchedContent:
    """GET ``url`` and return its body, refusing anything the allow-list does not cover.

    Hosts compare exactly and case-insensitively (``example.org`` does not cover
    ``www.example.org``); an entry without a port covers every port.  Redirects (at most
    ``max_redirects``) are followed only to allowed hosts.  The body is streamed and abandoned
    past ``max_bytes`` (decoded size; a larger ``Content-Length`` is refused before reading).
    ``read_timeout`` bounds each wait for data; ``total_timeout``, when given, bounds the whole.
    """
    if total_timeout is None:
        return await _fetch(
            url, client, allowed_hosts, max_bytes, connect_timeout, read_timeout, max_redirects
        )
    target = http_url(url)
    host = _host_of(target) if target is not None else url
    try:
        async with asyncio.timeout(total_timeout):
            return await _fetch(
                url, client, allowed_hosts, max_bytes, connect_timeout, read_timeout, max_redirects
            )
    except TimeoutError as exc:
        raise FetchError("fetch.read_timeout", host=host) from exc


async def _fetch(
    url: str,
    client: httpx.AsyncClient,
    allowed_hosts: Collection[str],
    max_bytes: int,
    connect_timeout: float,
    read_timeout: float,
    max_redirects: int,
) -> FetchedContent:
    allowed = _parse_allowed(allowed_hosts)
    current = http_url(url)
    if current is None:
        raise FetchError("fetch.bad_url", url=url)
    if not _is_allowed(current, allowed):
        raise FetchError("fetch.host_not_allowed", host=_host_of(current))
    timeout = httpx.Timeout(
        connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout
    )

    for _ in range(max_redirects + 1):
        host = _host_of(current)
        request = client.build_request(
            "GET", current, headers={"Accept": ACCEPT, "User-Agent": USER_AGENT}, timeout=timeout
        )
        try:
            response = await client.send(request, stream=True, follow_redirects=False)
        except httpx.ConnectTimeout as exc:
            raise FetchError("fetch.connect_timeout", host=host) from exc
        except httpx.ConnectError as exc:
            raise FetchError("fetch.connect_failed", host=host) from exc
        except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout) as exc:
            raise FetchError("fetch.read_timeout", host=host) from exc
        except httpx.HTTPError as exc:
            raise FetchError("fetch.failed", host=host, detail=type(exc).__name__) from exc
        try:
            if response.status_code in _REDIRECTS and "location" in response.headers:
                following = _redirect_target(current, response.headers["location"])
                if following is None:
                    raise FetchError("fetch.redirect_not_allowed", host=response.headers["location"][:100])
                if not _is_allowed(following, allowed):
                    raise FetchError("fetch.redirect_not_allowed", host=_host_of(following))
                current = following
                continue
            if response.status_code >= 400:
                raise FetchError("fetch.http_status", host=host, status=response.status_code)
            declared = response.headers.get("content-length", "").strip()
            if declared.isdigit() and int(declared) > max_bytes:
                raise FetchError("fetch.too_large", limit=max_bytes)
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError("fetch.too_large", limit=max_bytes)
                chunks.append(chunk)
            return FetchedContent(
                url=str(current),
                content_type=response.headers.get("content-type", ""),
                content=b"".join(chunks),
            )
        except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:
            raise FetchError("fetch.read_timeout", host=host) from exc
        except httpx.HTTPError as exc:
            raise FetchError("fetch.failed", host=host, detail=type(exc).__name__) from exc
        finally:
            await response.aclose()
    raise FetchError("fetch.too_many_redirects", limit=max_redirects)


# --------------------------------------------------------------------------------------------
# Load


def _sniff(content: bytes) -> str | None:
    head = content[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<?xml"):
        rest = head.split(b"?>", 1)[-1].lstrip()
        while rest.startswith(b"<!--") or rest.startswith(b"<?"):
            rest = rest.split(b"-->" if rest.startswith(b"<!--") else b"?>", 1)[-1].lstrip()
        if rest.startswith((b"<rss", b"<feed", b"<rdf:rdf", b"<rdf")):
            return "feed"
        if rest.startswith((b"<!doctype html", b"<html")):
            return "html"
        return "xml"
    if head.startswith((b"<rss", b"<feed", b"<rdf:rdf")):
        return "feed"
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<!--")) or b"<html" in head:
        return "html"
    return None


async def load_url(
    url: str,
    *,
    client: httpx.AsyncClient,
    allowed_hosts: Collection[str],
    max_bytes: int,
    connect_timeout: float,
    read_timeout: float,
    max_redirects: int = MAX_REDIRECTS,
    total_timeout: float | None = None,
) -> list[ExtractDraft]:
    """Fetch ``url`` (see :func:`fetch`) and read it as a feed (one draft per entry) or a web
    page (one draft, keyed ``page:<url asked for>``).  The first bytes decide when they are
    clear (``<rss``, ``<feed``, ``<html``…), else the Content-Type.  Content that is neither a feed
    nor a page with text is ``FetchError("fetch.unusable_content")``; a real feed without usable
    entries is ``InvalidInput("extract.feed_empty")``."""
    fetched = await fetch(
        url,
        client=client,
        allowed_hosts=allowed_hosts,
        max_bytes=max_bytes,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_redirects=max_redirects,
        total_timeout=total_timeout,
    )
    media = fetched.media_type
    sniffed = _sniff(fetched.content)
    if sniffed in ("feed", "html"):
        kind = sniffed
    elif media in _FEED_TYPES or sniffed == "xml":
        kind = "feed"
    elif media in _HTML_TYPES:
        kind = "html"
    else:
        raise FetchError("fetch.unusable_content", url=url)
    asked = http_url(url)
    try:
        if kind == "feed":
            return parse_feed(fetched.content, url=fetched.url, content_type=fetched.content_type or None)
        key = page_source_key(str(asked) if asked is not None else url)
        return [parse_html_page(fetched.content, url=fetched.url, source_key=key, encoding=fetched.charset)]
    except InvalidInput as exc:
        if exc.key in ("extract.feed_invalid", "extract.page_no_text"):
            raise FetchError("fetch.unusable_content", url=url) from exc
        raise
