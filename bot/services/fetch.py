"""Fetching remote extract sources (feeds, web pages) safely.

Only ``http``/``https``, only to hosts on an allow-list (checked before any connection, and again
for every redirect, which is followed by hand), with separate connect and read timeouts and a
size cap enforced while streaming and inflating (a gzip bomb stops at the cap, it is never inflated
whole).

A name on the allow-list is resolved once per request, every address it resolves to is checked —
private, loopback, link-local, shared, reserved, unspecified and multicast addresses are refused
unless ``allow_private`` (``fetch.allow_private_addresses``) says otherwise — and the connection goes
to the address checked, with the name kept in the ``Host`` header and the TLS server name (SNI and
certificate check): a DNS answer that changes between the check and the connection (rebinding)
cannot point the fetch at the machine's own network.  Every failure is a :class:`~bot.errors.FetchError` whose key
lives in ``bot/locales/extracts.toml`` (``fetch.*``).

Nothing here imports discord.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import zlib
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from email.message import Message

import httpx

from bot.errors import FetchError, InvalidInput
from bot.services.extract_sources import ExtractDraft, page_source_key, parse_feed, parse_html_page

__all__ = [
    "MAX_REDIRECTS",
    "FetchedContent",
    "Resolver",
    "fetch",
    "host_allowed",
    "http_url",
    "load_url",
    "public_address",
    "resolve_host",
]

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
# Only what the bounded inflater below reads: a server must not send br/zstd we cannot cap.
ACCEPT_ENCODING = "gzip, deflate"

#: ``(host, port)`` → the addresses it resolves to, as text (``getaddrinfo`` order).
Resolver = Callable[[str, int], Awaitable[list[str]]]


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
# Addresses


async def resolve_host(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (the system resolver, without blocking the loop)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def public_address(address: str) -> bool:
    """Whether ``address`` is a public unicast address — not private, loopback, link-local,
    shared (100.64/10), reserved, unspecified or multicast (an IPv4-mapped IPv6 address is judged
    as the IPv4 one it carries)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


async def _checked_address(
    url: httpx.URL, resolve: Resolver, allow_private: bool, connect_timeout: float
) -> str:
    """The one address to connect to for ``url``, after checking every address its host has."""
    host = _host_of(url)
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        addresses = [host]
    except ValueError:
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            async with asyncio.timeout(connect_timeout):
                addresses = await resolve(host, port)
        except TimeoutError as exc:
            raise FetchError("fetch.connect_timeout", host=host) from exc
        except (OSError, UnicodeError) as exc:
            raise FetchError("fetch.connect_failed", host=host) from exc
    if not addresses:
        raise FetchError("fetch.connect_failed", host=host)
    if not allow_private:
        for address in addresses:
            if not public_address(address):
                raise FetchError("fetch.private_address", host=host, address=address)
    return addresses[0]


def _pinned_request(
    client: httpx.AsyncClient, url: httpx.URL, address: str, timeout: httpx.Timeout
) -> httpx.Request:
    """A GET of ``url`` sent to ``address``: the name stays in ``Host`` and in the TLS server name
    (SNI, and the certificate is checked against it), so nothing resolves the name again."""
    headers = {
        "Accept": ACCEPT,
        "Accept-Encoding": ACCEPT_ENCODING,
        "User-Agent": USER_AGENT,
        "Host": url.netloc.decode("ascii"),
    }
    return client.build_request(
        "GET",
        url.copy_with(host=address.split("%", 1)[0]),
        headers=headers,
        timeout=timeout,
        extensions={"sni_hostname": url.raw_host.decode("ascii")},
    )


class _Inflater:
    """The body as it streams in, decoded (``gzip``/``deflate``/identity) and never past ``limit``:
    each piece is inflated at most up to what is left under the cap, so a small compressed body
    that would inflate to gigabytes stops at ``limit + 1`` bytes."""

    def __init__(self, content_encoding: str, limit: int, host: str) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise FetchError("fetch.failed", host=host, detail=f"Content-Encoding: {content_encoding[:40]}")
        self.coding = codings[0] if codings else None
        self.limit = limit
        self.size = 0
        self.first = True
        self.zlib = zlib.decompressobj(zlib.MAX_WBITS | 32) if self.coding in ("gzip", "x-gzip") else None
        if self.coding == "deflate":
            self.zlib = zlib.decompressobj()
        self.host = host

    def _count(self, piece: bytes) -> bytes:
        self.size += len(piece)
        if self.size > self.limit:
            raise FetchError("fetch.too_large", limit=self.limit)
        return piece

    def feed(self, data: bytes) -> list[bytes]:
        if self.zlib is None:
            return [self._count(data)]
        if self.coding == "deflate" and self.first and data:
            self.first = False
            try:  # "deflate" is zlib-wrapped by the standard, raw by some servers
                zlib.decompressobj().decompress(data[:64], 1)
            except zlib.error:
                self.zlib = zlib.decompressobj(-zlib.MAX_WBITS)
        out: list[bytes] = []
        try:
            while data:
                out.append(self._count(self.zlib.decompress(data, self.limit - self.size + 1)))
                data = self.zlib.unconsumed_tail
        except zlib.error as exc:
            raise FetchError("fetch.failed", host=self.host, detail="DecodingError") from exc
        return out


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
    allow_private: bool = False,
    resolve: Resolver = resolve_host,
) -> FetchedContent:
    """GET ``url`` and return its body, refusing anything the allow-list does not cover.

    Hosts compare exactly and case-insensitively (``example.org`` does not cover
    ``www.example.org``); an entry without a port covers every port.  Redirects (at most
    ``max_redirects``) are followed only to allowed hosts.  Each host is resolved once (by
    ``resolve``); an address that is not public is refused unless ``allow_private``, and the
    connection goes to the address checked.  The body is streamed and abandoned past
    ``max_bytes`` (decoded size, counted while inflating; a larger ``Content-Length`` is refused
    before reading).  ``read_timeout`` bounds each wait for data; ``total_timeout``, when given,
    bounds the whole.
    """
    options = _Options(allowed_hosts, max_bytes, connect_timeout, read_timeout, max_redirects,
                       allow_private, resolve)
    if total_timeout is None:
        return await _fetch(url, client, options)
    target = http_url(url)
    host = _host_of(target) if target is not None else url
    try:
        async with asyncio.timeout(total_timeout):
            return await _fetch(url, client, options)
    except TimeoutError as exc:
        raise FetchError("fetch.read_timeout", host=host) from exc


@dataclass(frozen=True)
class _Options:
    allowed_hosts: Collection[str]
    max_bytes: int
    connect_timeout: float
    read_timeout: float
    max_redirects: int
    allow_private: bool
    resolve: Resolver


async def _fetch(url: str, client: httpx.AsyncClient, options: _Options) -> FetchedContent:
    max_bytes, connect_timeout, read_timeout = options.max_bytes, options.connect_timeout, options.read_timeout
    allowed = _parse_allowed(options.allowed_hosts)
    current = http_url(url)
    if current is None:
        raise FetchError("fetch.bad_url", url=url)
    if not _is_allowed(current, allowed):
        raise FetchError("fetch.host_not_allowed", host=_host_of(current))
    timeout = httpx.Timeout(
        connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout
    )

    for _ in range(options.max_redirects + 1):
        host = _host_of(current)
        address = await _checked_address(current, options.resolve, options.allow_private, connect_timeout)
        request = _pinned_request(client, current, address, timeout)
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
            inflater = _Inflater(response.headers.get("content-encoding", ""), max_bytes, host)
            chunks: list[bytes] = []
            async for raw in response.aiter_raw():
                chunks.extend(inflater.feed(raw))
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
    raise FetchError("fetch.too_many_redirects", limit=options.max_redirects)


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
    allow_private: bool = False,
    resolve: Resolver = resolve_host,
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
        allow_private=allow_private,
        resolve=resolve,
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
