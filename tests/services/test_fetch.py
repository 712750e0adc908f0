"""Fetching feeds and pages from a real HTTP server on loopback (no mocked transport)."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from aiohttp import web

from bot.errors import FetchError, InvalidInput
from bot.services.fetch import fetch, host_allowed, http_url, load_url
from tests.errors import check_refusal

HOST = "127.0.0.1"
MAX_BYTES = 64_000

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel>
<title>Le coin de l’enquête</title><link>http://{host}/</link><language>fr-fr</language>
<item>
  <title>Les jeunes associations et les financements</title>
  <link>http://{host}/extraits/financements</link>
  <guid isPermaLink="false">urn:reseau:extrait:financements</guid>
  <description><![CDATA[
    <p>Chaque mois, un passage de notre enquête auprès des membres.</p>
    <p>Les associations récentes demandent de l’aide pour leurs dossiers :
       « nous passons plus de temps sur les formulaires qu’avec nos partenaires. »</p>
    <p>Découvrez le rapport complet : <a href="/docs/rapport-2026.pdf">rapport</a></p>
  ]]></description>
</item>
<item>
  <title>Le numérique dans les réseaux</title>
  <link>http://{host}/extraits/numerique</link>
  <guid>42</guid>
  <description>&lt;p&gt;Les réseaux veulent mieux outiller leurs membres.&lt;/p&gt;</description>
</item>
</channel></rss>
"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <title>Survey corner</title>
  <id>tag:network.example,2026:corner</id>
  <updated>2026-11-01T00:00:00Z</updated>
  <entry>
    <title type="html">Young associations &amp;amp; funding</title>
    <id>tag:network.example,2026:young</id>
    <link href="http://{host}/en/young"/>
    <updated>2026-11-01T00:00:00Z</updated>
    <content type="html">&lt;p&gt;Newer associations ask for help.&lt;/p&gt;
      &lt;p&gt;&lt;img src="/img/young.png"&gt;&lt;/p&gt;</content>
  </entry>
</feed>
"""

PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Extrait | Réseau</title></head>
<body>
<nav><a href="/">Accueil</a></nav>
<main>
  <h1>Les collectifs de migrants</h1>
  <p>Les collectifs de migrants veulent être mieux reconnus dans le réseau.</p>
  <p>Pour aller plus loin : <a href="/docs/rapport.pdf">le rapport de l’enquête</a></p>
</main>
<footer>Mentions légales</footer>
</body></html>
"""

LATIN1_PAGE = "<html><body><h1>Été solidaire</h1><p>Un texte accentué : déjà là.</p></body></html>"


@dataclass
class Server:
    base: str
    port: int
    hits: Counter


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    hits: Counter = Counter()
    state: dict[str, str] = {}

    @web.middleware
    async def count(request: web.Request, handler):
        hits[request.path] += 1
        return await handler(request)

    def text(body: str, content_type: str, charset: str | None = "utf-8"):
        async def handler(request: web.Request) -> web.Response:
            data = body.format(host=state["host"]).encode(charset or "utf-8")
            ctype = f"{content_type}; charset={charset}" if charset else content_type
            return web.Response(body=data, headers={"Content-Type": ctype})

        return handler

    async def latin1(request: web.Request) -> web.Response:
        return web.Response(
            body=LATIN1_PAGE.encode("latin-1"), headers={"Content-Type": "text/html; charset=iso-8859-1"}
        )

    async def big(request: web.Request) -> web.Response:
        return web.Response(
            body=b"<html><body><p>" + b"x" * (MAX_BYTES * 2) + b"</p></body></html>", content_type="text/html"
        )

    async def big_chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(40):
            await response.write(b"<p>" + b"y" * 4000 + b"</p>")
        await response.write_eof()
        return response

    async def slow_headers(request: web.Request) -> web.Response:
        await asyncio.sleep(3)
        return web.Response(text="late", content_type="text/html")

    async def slow_body(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b"<html><body><p>start")
        await asyncio.sleep(3)
        await response.write(b" end</p></body></html>")
        await response.write_eof()
        return response

    def redirect(location: str, status: int = 302):
        async def handler(request: web.Request) -> web.Response:
            return web.Response(status=status, headers={"Location": location.format(host=state["host"])})

        return handler

    async def garbage(request: web.Request) -> web.Response:
        return web.Response(body=bytes(range(256)) * 16, content_type="application/octet-stream")

    async def error(request: web.Request) -> web.Response:
        return web.Response(status=500, text="boom")

    app = web.Application(middlewares=[count])
    app.router.add_get("/feed.rss", text(RSS, "application/rss+xml"))
    app.router.add_get("/feed.atom", text(ATOM, "application/atom+xml"))
    app.router.add_get("/feed-as-octets", text(RSS, "application/octet-stream", None))
    app.router.add_get("/page.html", text(PAGE, "text/html"))
    app.router.add_get("/empty.html", text("<html><body><nav>Menu</nav></body></html>", "text/html"))
    app.router.add_get(
        "/empty-feed",
        text(
            '<?xml version="1.0"?><rss version="2.0"><channel><title>Vide</title></channel></rss>', "text/xml"
        ),
    )
    app.router.add_get("/fake-feed", text("<p>not xml at all", "application/rss+xml"))
    app.router.add_get("/latin1.html", latin1)
    app.router.add_get("/big", big)
    app.router.add_get("/big-chunked", big_chunked)
    app.router.add_get("/slow-headers", slow_headers)
    app.router.add_get("/slow-body", slow_body)
    app.router.add_get("/redirect-out", redirect("http://forbidden.example/feed.rss"))
    app.router.add_get("/redirect-file", redirect("file:///etc/passwd"))
    app.router.add_get("/redirect-in", redirect("/feed.rss", 301))
    app.router.add_get("/redirect-abs", redirect("http://{host}/page.html", 307))
    app.router.add_get("/loop", redirect("/loop"))
    app.router.add_get("/garbage", garbage)
    app.router.add_get("/error", error)

    runner = web.AppRunner(app, shutdown_timeout=0.5, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0)
    await site.start()
    port = runner.addresses[0][1]
    state["host"] = f"{HOST}:{port}"
    try:
        yield Server(base=f"http://{HOST}:{port}", port=port, hits=hits)
    finally:
        await runner.cleanup()


def options(client: httpx.AsyncClient, **overrides):
    values = dict(
        client=client, allowed_hosts={HOST}, max_bytes=MAX_BYTES, connect_timeout=2.0, read_timeout=2.0,
        allow_private=True,  # the test server listens on loopback
    )
    values.update(overrides)
    return values


async def expect_fetch_error(key: str, coro) -> FetchError:
    """The coroutine fails with ``key``, and the message exists and formats in both languages."""
    with pytest.raises(FetchError) as info:
        await coro
    return check_refusal(info.value, key)


# --------------------------------------------------------------------------------------------
# fetch


async def test_fetch_returns_body_and_type(server: Server, client: httpx.AsyncClient) -> None:
    fetched = await fetch(f"{server.base}/page.html", **options(client))
    assert fetched.url == f"{server.base}/page.html"
    assert fetched.media_type == "text/html" and fetched.charset == "utf-8"
    assert "Les collectifs de migrants" in fetched.content.decode()


async def test_disallowed_host_refused_before_any_connection(
    server: Server, client: httpx.AsyncClient
) -> None:
    error = await expect_fetch_error(
        "fetch.host_not_allowed",
        fetch(f"{server.base}/feed.rss", **options(client, allowed_hosts={"network.example"})),
    )
    assert error.params["host"] == HOST
    assert sum(server.hits.values()) == 0


async def test_allowed_hosts_compare_case_insensitively_with_ports(
    server: Server, client: httpx.AsyncClient
) -> None:
    url = f"http://{HOST}:{server.port}/feed.rss"
    assert (await fetch(url, **options(client, allowed_hosts={"Network.Example", HOST.upper()}))).content
    assert (await fetch(url, **options(client, allowed_hosts={f"{HOST}:{server.port}"}))).content
    await expect_fetch_error(
        "fetch.host_not_allowed", fetch(url, **options(client, allowed_hosts={f"{HOST}:1"}))
    )
    assert server.hits["/feed.rss"] == 2


def test_host_allowed_says_what_fetch_would_do() -> None:
    """The public rule ``reseau-bot check`` uses: the same host and port rules as :func:`fetch`."""
    allowed = ["Reseau.Example", "docs.example:8443", "[::1]:8080"]
    assert host_allowed("https://RESEAU.example./rapport", allowed)
    assert host_allowed(http_url("http://reseau.example:81/x"), allowed)  # no port: every port
    assert not host_allowed("https://www.reseau.example/", allowed)  # exact host, no subdomains
    assert host_allowed("https://docs.example:8443/a", allowed)
    assert not host_allowed("https://docs.example/a", allowed)  # 443, not 8443
    assert host_allowed("http://[::1]:8080/", allowed) and not host_allowed("http://[::1]/", allowed)
    assert host_allowed("http://reseau.example/", "reseau.example")  # one host as a bare string
    for url in ("ftp://reseau.example/x", "not a url", "http://"):
        assert not host_allowed(url, allowed)
        assert http_url(url) is None


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "file:///etc/passwd", "not a url", "http://"])
async def test_only_http_urls(url: str, client: httpx.AsyncClient) -> None:
    await expect_fetch_error("fetch.bad_url", fetch(url, **options(client)))


async def test_redirect_to_disallowed_host(server: Server, client: httpx.AsyncClient) -> None:
    error = await expect_fetch_error(
        "fetch.redirect_not_allowed", fetch(f"{server.base}/redirect-out", **options(client))
    )
    assert error.params["host"] == "forbidden.example"
    await expect_fetch_error(
        "fetch.redirect_not_allowed", fetch(f"{server.base}/redirect-file", **options(client))
    )
    assert server.hits["/redirect-out"] == 1 and server.hits["/feed.rss"] == 0


async def test_redirects_within_allowed_hosts(server: Server, client: httpx.AsyncClient) -> None:
    fetched = await fetch(f"{server.base}/redirect-in", **options(client))
    assert fetched.url == f"{server.base}/feed.rss"
    assert b"<rss" in fetched.content
    fetched = await fetch(f"{server.base}/redirect-abs", **options(client))
    assert fetched.url == f"{server.base}/page.html"


async def test_redirect_loop_stops(server: Server, client: httpx.AsyncClient) -> None:
    error = await expect_fetch_error(
        "fetch.too_many_redirects", fetch(f"{server.base}/loop", **options(client))
    )
    assert error.params["limit"] == 5
    assert server.hits["/loop"] == 6


async def test_oversize_body_refused(server: Server, client: httpx.AsyncClient) -> None:
    error = await expect_fetch_error("fetch.too_large", fetch(f"{server.base}/big", **options(client)))
    assert error.params["limit"] == MAX_BYTES
    # No Content-Length: the stream is cut once the limit is passed.
    await expect_fetch_error("fetch.too_large", fetch(f"{server.base}/big-chunked", **options(client)))
    fetched = await fetch(f"{server.base}/big-chunked", **options(client, max_bytes=1_000_000))
    assert len(fetched.content) == 40 * 4007


async def test_slow_responses_time_out(server: Server, client: httpx.AsyncClient) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    await expect_fetch_error(
        "fetch.read_timeout", fetch(f"{server.base}/slow-headers", **options(client, read_timeout=0.3))
    )
    await expect_fetch_error(
        "fetch.read_timeout", fetch(f"{server.base}/slow-body", **options(client, read_timeout=0.3))
    )
    assert loop.time() - started < 2.5


async def test_total_timeout(server: Server, client: httpx.AsyncClient) -> None:
    await expect_fetch_error(
        "fetch.read_timeout",
        fetch(f"{server.base}/slow-body", **options(client, read_timeout=5, total_timeout=0.3)),
    )


async def test_http_errors(server: Server, client: httpx.AsyncClient) -> None:
    error = await expect_fetch_error("fetch.http_status", fetch(f"{server.base}/error", **options(client)))
    assert error.params == {"host": HOST, "status": 500}
    error = await expect_fetch_error("fetch.http_status", fetch(f"{server.base}/missing", **options(client)))
    assert error.params["status"] == 404


async def test_connection_refused(client: httpx.AsyncClient) -> None:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
    # Nothing listens there any more.
    error = await expect_fetch_error(
        "fetch.connect_failed", fetch(f"http://{HOST}:{port}/", **options(client))
    )
    assert error.params["host"] == HOST


# --------------------------------------------------------------------------------------------
# load_url


async def test_load_rss_feed(server: Server, client: httpx.AsyncClient) -> None:
    drafts = await load_url(f"{server.base}/feed.rss", **options(client))
    assert [d.title for d in drafts] == [
        "Les jeunes associations et les financements",
        "Le numérique dans les réseaux",
    ]
    first, second = drafts
    assert first.source_key == "feed:urn:reseau:extrait:financements"
    # feedparser resolves a bare guid against the feed's URL: still stable across imports.
    assert second.source_key == f"feed:{server.base}/42"
    assert first.lang == "fr" and first.month is None
    assert first.intro == "Chaque mois, un passage de notre enquête auprès des membres."
    assert "« nous passons plus de temps" in first.body
    assert "Découvrez" not in first.body
    assert first.link == f"{server.base}/docs/rapport-2026.pdf"
    assert second.body == "Les réseaux veulent mieux outiller leurs membres."
    assert second.link == f"{server.base}/extraits/numerique"


async def test_load_atom_feed(server: Server, client: httpx.AsyncClient) -> None:
    [draft] = await load_url(f"{server.base}/feed.atom", **options(client))
    assert draft.title == "Young associations & funding"
    assert draft.source_key == "feed:tag:network.example,2026:young"
    assert draft.lang == "en"
    assert draft.body == "Newer associations ask for help."
    assert draft.link == f"{server.base}/en/young"
    assert draft.image_url == f"{server.base}/img/young.png"


async def test_load_html_page(server: Server, client: httpx.AsyncClient) -> None:
    [draft] = await load_url(f"{server.base}/page.html#haut", **options(client))
    assert draft.source_key == f"page:{server.base}/page.html"
    assert draft.title == "Les collectifs de migrants"
    assert draft.body == "Les collectifs de migrants veulent être mieux reconnus dans le réseau."
    assert draft.link == f"{server.base}/docs/rapport.pdf"
    assert "Accueil" not in draft.body and "Mentions" not in draft.body


async def test_load_page_after_redirect_keeps_the_asked_url_as_key(
    server: Server, client: httpx.AsyncClient
) -> None:
    [draft] = await load_url(f"{server.base}/redirect-abs", **options(client))
    assert draft.source_key == f"page:{server.base}/redirect-abs"
    assert draft.link == f"{server.base}/docs/rapport.pdf"


async def test_load_sniffs_and_uses_charset(server: Server, client: httpx.AsyncClient) -> None:
    drafts = await load_url(f"{server.base}/feed-as-octets", **options(client))
    assert len(drafts) == 2
    [page] = await load_url(f"{server.base}/latin1.html", **options(client))
    assert page.title == "Été solidaire"
    assert page.body == "Un texte accentué : déjà là."


@pytest.mark.parametrize("path", ["/garbage", "/empty.html", "/fake-feed"])
async def test_load_garbage(path: str, server: Server, client: httpx.AsyncClient) -> None:
    error = await expect_fetch_error(
        "fetch.unusable_content", load_url(f"{server.base}{path}", **options(client))
    )
    assert error.params["url"] == f"{server.base}{path}"


async def test_load_propagates_fetch_errors(server: Server, client: httpx.AsyncClient) -> None:
    await expect_fetch_error("fetch.http_status", load_url(f"{server.base}/error", **options(client)))


async def test_load_feed_without_entries(server: Server, client: httpx.AsyncClient) -> None:
    # A real feed without entries is not garbage: the error says so.
    with pytest.raises(InvalidInput) as info:
        await load_url(f"{server.base}/empty-feed", **options(client))
    assert info.value.key == "extract.feed_empty"
