"""Issue 10, items 7, 11 and 13: inputs that used to pass validation and fail later.

* 7 — a link longer than Discord accepts for a link button (512 characters) is refused where it is
  typed or imported (front matter, web page, feed, announcement form), with a message in both
  languages, and nothing is stored;
* 11 — a page nested 200,000 elements deep (under the size cap) is refused at once, not after
  seconds of parsing ending in ``RecursionError``;
* 13 — an allowed name that resolves to a private or loopback address is not fetched (unless
  ``fetch.allow_private_addresses``), the connection goes to the address checked, and a gzip bomb
  never inflates past the byte cap.

On a real database (SQLite, and PostgreSQL with RESEAU_TEST_DATABASE_URL) and a real HTTP server
on loopback.
"""

from __future__ import annotations

import dataclasses
import gzip
import time
import tracemalloc
import zlib
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiohttp import web
from sqlalchemy import func, select

from bot.config import Config
from bot.errors import FetchError, InvalidInput
from bot.i18n import Catalogue
from bot.services import announcements
from bot.services import extracts as service
from bot.services.extract_sources import parse_html_page
from bot.services.fetch import fetch, public_address
from bot.services.links import LINK_MAX
from storage import models
from storage.plain import ChannelRow, PlainStore
from tests.errors import check_refusal

NOW = datetime(2026, 10, 20, 8, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")
BASE = "https://reseau.example.org/rapports/2026?utm="
TOO_LONG = BASE + "x" * (LINK_MAX + 1 - len(BASE))  # 513 characters: Discord refuses the button
AT_LIMIT = BASE + "x" * (LINK_MAX - len(BASE))  # 512: accepted
NAME = "feeds.reseau.example"  # never in DNS: only the tests' resolver knows it


def front_matter(link: str = "https://reseau.example.org/r.pdf", image: str | None = None) -> str:
    lines = ['title = "Les jeunes associations"', 'month = "2026-11"', f'link = "{link}"']
    if image:
        lines.append(f'image = "{image}"')
    return "---\n" + "\n".join(lines) + "\n---\nUn paragraphe de l’extrait.\n"


async def count(sessions, model) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


def page(report_href: str) -> str:
    return (
        "<!doctype html><html lang='fr'><body><main><h1>Les collectifs</h1>"
        "<p>Les collectifs veulent être mieux reconnus dans le réseau.</p>"
        f"<p>Pour aller plus loin : <a href='{report_href}'>le rapport de l’enquête</a></p>"
        "</main></body></html>"
    )


def feed(entry_link: str) -> str:
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Coin</title>"
        "<item><title>Le numérique dans les réseaux</title>"
        f"<link>{entry_link}</link><guid>urn:reseau:extrait:numerique</guid>"
        "<description>&lt;p&gt;Les réseaux veulent mieux outiller leurs membres.&lt;/p&gt;</description>"
        "</item></channel></rss>"
    )


def nested(depth: int) -> bytes:
    """A page with ``depth`` nested ``<div>`` (never closed, as a hostile page would do)."""
    return b"<html><body><h1>Profond</h1>" + b"<div>" * depth + b"<p>Un texte tout au fond.</p></body></html>"


BOMB_SIZE = 100_000_000  # what the bomb inflates to
CAP = 2_000_000  # the default fetch.max_bytes


def gzip_bomb() -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    block = b"\0" * 1_000_000
    return b"".join([*(packer.compress(block) for _ in range(BOMB_SIZE // len(block))), packer.flush()])


@dataclasses.dataclass
class Site:
    base: str
    port: int
    hits: Counter
    hosts: list[str]


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    hits: Counter = Counter()
    hosts: list[str] = []
    bomb = gzip_bomb()
    assert len(bomb) < 400_000

    @web.middleware
    async def record(request: web.Request, handler):
        hits[request.path] += 1
        hosts.append(request.headers.get("Host", ""))
        return await handler(request)

    def html(body: str | bytes, **headers: str):
        async def handler(request: web.Request) -> web.Response:
            data = body.encode() if isinstance(body, str) else body
            return web.Response(body=data, headers={"Content-Type": "text/html; charset=utf-8", **headers})

        return handler

    async def long_feed(request: web.Request) -> web.Response:
        return web.Response(body=feed(TOO_LONG).encode(), headers={"Content-Type": "application/rss+xml"})

    app = web.Application(middlewares=[record])
    app.router.add_get("/long-link.html", html(page(TOO_LONG)))
    app.router.add_get("/limit-link.html", html(page(AT_LIMIT)))
    app.router.add_get("/long-feed.xml", long_feed)
    app.router.add_get("/nested.html", html(nested(200_000)))
    app.router.add_get("/bomb", html(bomb, **{"Content-Encoding": "gzip"}))
    app.router.add_get("/gzip.html", html(gzip.compress(page("/r.pdf").encode()), **{"Content-Encoding": "gzip"}))
    app.router.add_get("/page.html", html(page("/r.pdf")))
    runner = web.AppRunner(app, shutdown_timeout=0.5, handler_cancellation=True)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        yield Site(f"http://127.0.0.1:{port}", port, hits, hosts)
    finally:
        await runner.cleanup()


def options(client: httpx.AsyncClient, **overrides):
    values = dict(
        client=client, allowed_hosts={"127.0.0.1", NAME}, max_bytes=CAP, connect_timeout=2.0, read_timeout=2.0
    )
    values.update(overrides)
    return values


# --------------------------------------------------------------------------------------------
# Item 7: links over Discord's 512-character button URL limit


async def test_item7_link_over_discords_button_limit_is_refused_at_import_and_nothing_is_stored(
    sessions, config: Config, site: Site, tmp_path: Path
) -> None:
    folder = tmp_path / "extraits"
    folder.mkdir()
    for text, key in ((front_matter(TOO_LONG), "link"), (front_matter(image=TOO_LONG), "image")):
        (folder / "2026-11.md").write_text(text)
        with pytest.raises(InvalidInput) as info:
            await service.import_path(sessions, folder, now=NOW, tz=PARIS)
        check_refusal(info.value, "extract.link_too_long")
        assert info.value.params | {"source": None} == {
            "source": None, "key": key, "length": LINK_MAX + 1, "limit": LINK_MAX
        }
        assert "512" in Catalogue.load().t(info.value.key, "fr", **info.value.params)
    for path in ("/long-link.html", "/long-feed.xml"):
        with pytest.raises(InvalidInput) as info:
            await service.import_source(sessions, site.base + path, config=config, now=NOW)
        check_refusal(info.value, "extract.link_too_long")
    assert await count(sessions, models.Extract) == 0

    # 512 characters exactly: accepted, from a file and from a page.
    (folder / "2026-11.md").write_text(front_matter(AT_LIMIT, image=AT_LIMIT))
    await service.import_path(sessions, folder, now=NOW, tz=PARIS)
    await service.import_source(sessions, site.base + "/limit-link.html", config=config, now=NOW)
    async with sessions() as session:
        links = set(await session.scalars(select(models.Extract.link)))
    assert links == {AT_LIMIT}


async def test_item7_announcement_link_over_the_button_limit_is_refused_and_no_draft_is_stored(
    sessions, database_url
) -> None:
    # one network channel: a draft could be stored
    await PlainStore(database_url).replace_channels([ChannelRow(20, 1, "fr", None, "réseau")])
    with pytest.raises(InvalidInput) as info:
        await announcements.create_draft(
            sessions, guild_id=1, author_id=7, title="Assemblée", body="Le 12 décembre.", link=TOO_LONG, now=NOW
        )
    check_refusal(info.value, "announce.link_too_long")
    assert info.value.params == {"length": LINK_MAX + 1, "limit": LINK_MAX}
    for lang in ("fr", "en"):
        assert "512" in Catalogue.load().t(info.value.key, lang, **info.value.params)
    assert await count(sessions, models.Announcement) == 0
    assert announcements.LINK_MAX == LINK_MAX  # the form's field is no longer than what is accepted
    draft = await announcements.create_draft(
        sessions, guild_id=1, author_id=7, title="Assemblée", body="Le 12 décembre.", link=AT_LIMIT, now=NOW
    )
    assert draft.link == AT_LIMIT and await count(sessions, models.Announcement) == 1


# --------------------------------------------------------------------------------------------
# Item 11: deeply nested HTML


async def test_item11_deeply_nested_page_is_refused_at_once_and_nothing_is_stored(
    sessions, config: Config, site: Site
) -> None:
    assert len(nested(200_000)) < config.fetch.max_bytes  # under the size cap
    started = time.perf_counter()
    with pytest.raises(InvalidInput) as info:
        await service.import_source(sessions, site.base + "/nested.html", config=config, now=NOW)
    elapsed = time.perf_counter() - started
    check_refusal(info.value, "extract.page_too_nested")
    assert "imbriquée" in Catalogue.load().t(info.value.key, "fr", **info.value.params)
    assert elapsed < 1.0, elapsed
    assert await count(sessions, models.Extract) == 0
    # A page nested as deep as real ones get (and deeper) still reads.
    draft = parse_html_page(nested(150), url="https://reseau.example.org/a")
    assert draft.title == "Profond" and "tout au fond" in draft.body


# --------------------------------------------------------------------------------------------
# Item 13: fetching


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False), ("10.1.2.3", False), ("192.168.1.10", False), ("172.16.0.1", False),
        ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("224.0.0.1", False),
        ("::1", False), ("fe80::1", False), ("fc00::1", False), ("::ffff:127.0.0.1", False), ("::", False),
        ("93.184.215.14", True), ("2606:4700::6810:84e5", True),
    ],
)
def test_item13_which_addresses_are_public(address: str, public: bool) -> None:
    assert public_address(address) is public


async def test_item13_allowed_name_resolving_to_a_private_address_is_not_fetched(
    site: Site, client: httpx.AsyncClient
) -> None:
    asked: list[tuple[str, int]] = []

    def resolver(*answers: str):
        async def resolve(host: str, port: int) -> list[str]:
            asked.append((host, port))
            return list(answers)

        return resolve

    url = f"http://{NAME}:{site.port}/page.html"
    for answers in (["127.0.0.1"], ["93.184.215.14", "10.1.2.3"]):
        error = check_refusal(
            (await _refused(fetch(url, **options(client), resolve=resolver(*answers)))), "fetch.private_address"
        )
        assert error.params["host"] == NAME
    # The system resolver too: "localhost" is loopback whatever the allow-list says.
    error = await _refused(fetch(f"http://localhost:{site.port}/page.html", **options(client, allowed_hosts={"localhost"})))
    check_refusal(error, "fetch.private_address")
    assert sum(site.hits.values()) == 0

    # Allowed explicitly: the connection goes to the address checked (the name is in no DNS),
    # resolved once, and the name stays in the Host header.
    asked.clear()
    fetched = await fetch(url, **options(client), resolve=resolver("127.0.0.1"), allow_private=True)
    assert "Les collectifs" in fetched.content.decode() and fetched.url == url
    assert asked == [(NAME, site.port)]
    assert site.hosts == [f"{NAME}:{site.port}"]


async def test_item13_import_refuses_loopback_unless_the_config_allows_it(
    sessions, config: Config, site: Site
) -> None:
    assert Config(path=config.path).fetch.allow_private_addresses is False  # the default
    strict = dataclasses.replace(config, fetch=dataclasses.replace(config.fetch, allow_private_addresses=False))
    with pytest.raises(FetchError) as info:
        await service.import_source(sessions, site.base + "/page.html", config=strict, now=NOW)
    check_refusal(info.value, "fetch.private_address")
    assert sum(site.hits.values()) == 0 and await count(sessions, models.Extract) == 0
    await service.import_source(sessions, site.base + "/page.html", config=config, now=NOW)
    assert await count(sessions, models.Extract) == 1


async def test_item13_gzip_bomb_stops_at_the_cap_while_inflating(site: Site, client: httpx.AsyncClient) -> None:
    fetched = await fetch(site.base + "/gzip.html", **options(client, allow_private=True))
    assert fetched.content.decode() == page("/r.pdf")  # gzip still decodes
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        error = await _refused(fetch(site.base + "/bomb", **options(client, allow_private=True)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    check_refusal(error, "fetch.too_large")
    assert peak < 3 * CAP, f"peak {peak:,} bytes under a {CAP:,}-byte cap"


async def _refused(coro) -> FetchError:
    with pytest.raises(FetchError) as info:
        await coro
    return info.value
