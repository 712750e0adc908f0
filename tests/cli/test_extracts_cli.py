"""``reseau-bot extracts …`` and ``reseau-bot schedule`` as an operator runs them: imports (a
folder, the real example, a feed and a page served on loopback, bad inputs with clear errors),
``schedule``, and ``extracts publish`` over REST against bench/fake_discord.py — in process, and
as a separate process killed with SIGKILL in the middle of the fan-out, then run again."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from aiohttp import web

from bench._common import this_month
from bench.fake_discord import FakeDiscordREST, load_state, summarize_state
from bot.config import load_config
from bot.services import extracts as service
from storage import models
from tests.cli_runner import run_cli
from tests.paths import FIXTURES, REPO

# A monthly post as messy as real ones (our own text): the intro printed twice, a paragraph
# repeated further down, blank lines of no-break spaces, a trailing "rapport enquête" link label.
MESSY_EXAMPLE = FIXTURES / "extract-messy.txt"
TOKEN = "MTQ1NjA3NDQ0Mzk4MDgwMDAwMQ.GabcDE.not-a-real-token-for-tests-000000"
GUILD = 900000000000000001


def run(config: Path, *args: str, env: dict[str, str] | None = None):
    """``reseau-bot --config CONFIG ARGS`` in this process (tests/cli_runner.py)."""
    return run_cli("--config", str(config), *args, cwd=config.parent, env=env)


def run_process(config: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120):
    """The same as a process of its own: publishing points discord.py at the loopback server
    (process-wide), and the fan-out test kills it."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "RESEAU_DATABASE_URL")}
    full_env.update({"PYTHONPATH": str(REPO), **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(config), *args], cwd=config.parent, env=full_env,
        capture_output=True, text=True, timeout=timeout,
    )


def write_config(
    folder: Path, database_url: str, *, extra: str = "", channels: list[tuple[int, int, str]] = ()
) -> Path:
    """A config on the test database (a migrated SQLite copy, or PostgreSQL when
    RESEAU_TEST_DATABASE_URL is set: the commands run on both)."""
    lines = [
        "[database]", f"url = '{database_url}'",
        "[bot]", "log_level = 'WARNING'",
        extra,
    ]
    for guild_id, channel_id, lang in channels:
        lines += ["[[channels]]", f"guild_id = {guild_id}", f"channel_id = {channel_id}", f"language = '{lang}'"]
    config = folder / "config.toml"
    config.write_text("\n".join(lines) + "\n")
    result = run(config, "db", "current")
    assert result.returncode == 0, result.stdout + result.stderr
    return config


def md(title: str, month: str, body: str = "Un paragraphe de l’extrait.") -> str:
    return f'---\ntitle = "{title}"\nmonth = "{month}"\nlink = "https://example.org/rapport.pdf"\n---\n{body}\n'


# --------------------------------------------------------------------------------------------
# Import, list, show


def extracts_folder(tmp_path: Path, files: dict[str, str]) -> Path:
    """A folder ``extraits`` holding ``files`` (name → text), as a moderator prepares one."""
    folder = tmp_path / "extraits"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def test_import_a_folder_then_reimport_updates(database_url, tmp_path):
    config = write_config(tmp_path, database_url)
    folder = extracts_folder(tmp_path, {
        "2026-11.md": md("Les réseaux territoriaux", "2026-11"),
        "2026-12.txt": "Le numérique\n\nLes membres veulent des outils simples.\n",
    })
    first = run(config, "extracts", "import", str(folder))
    assert first.returncode == 0, first.stderr
    assert "créés\u202f: 2, mis à jour\u202f: 0" in first.stdout
    listing = run(config, "extracts", "list")
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["ID", "MOIS", "LANGUE", "ÉTAT", "ENVOIS", "TITRE"]
    assert "2026-11  fr      en file" in lines[1] and "Les réseaux territoriaux" in lines[1]
    assert "Le numérique" in lines[2]  # no front matter: title from the first line, a free month

    (folder / "2026-11.md").write_text(md("Les réseaux territoriaux (corrigé)", "2026-11"))
    again = run(config, "extracts", "import", str(folder))
    assert "créés\u202f: 0, mis à jour\u202f: 2" in again.stdout
    listing = run(config, "extracts", "list").stdout.splitlines()
    assert len(listing) == 3 and "(corrigé)" in listing[1]
    show = run(config, "extracts", "show", "1")
    assert show.returncode == 0
    assert "n°\u00a01  Les réseaux territoriaux (corrigé)" in show.stdout
    assert "mois\u202f: novembre 2026" in show.stdout, "show says the month in words"
    assert "rapport\u202f: https://example.org/rapport.pdf" in show.stdout and "Un paragraphe de l’extrait." in show.stdout
    missing = run(config, "extracts", "show", "99")
    assert missing.returncode == 1 and "Aucun extrait n°\u00a099." in missing.stderr


def test_the_messy_example_imports_into_a_clean_extract(database_url, tmp_path):
    config = write_config(tmp_path, database_url)
    result = run(config, "extracts", "import", str(MESSY_EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "créés\u202f: 1, mis à jour\u202f: 0" in result.stdout
    shown = run(config, "extracts", "show", "1").stdout
    assert shown.count("Chaque mois, nous vous présentons") == 1  # printed twice in the source
    assert "rapport enquête" not in [line.strip() for line in shown.splitlines()]
    assert not shown.rstrip().endswith(":")
    assert "créés\u202f: 0, mis à jour\u202f: 1" in run(config, "extracts", "import", str(MESSY_EXAMPLE)).stdout


def test_malformed_front_matter_is_a_clear_error_and_imports_nothing(database_url, tmp_path):
    config = write_config(tmp_path, database_url)
    unclosed = '---\ntitle = "Sans fin\nmonth = "2026-12"\n---\nTexte.\n'
    folder = extracts_folder(tmp_path, {"a.md": md("Bon", "2026-11"), "b.md": unclosed})
    result = run(config, "extracts", "import", str(folder))
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("reseau-bot: b.md, ligne 2\u202f: l’en-tête TOML est mal formé"), line
    assert "aucun extrait pour l’instant" in run(config, "extracts", "list").stdout


# --------------------------------------------------------------------------------------------
# Feeds and pages on loopback


RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Enquête</title><link>{base}/</link><language>fr</language>
<item><title>Les collectivités et la coopération</title><link>{base}/extraits/1</link>
<guid isPermaLink="false">urn:reseau:extrait:1</guid>
<description><![CDATA[<p>Les petites collectivités veulent des appuis concrets.</p>]]></description></item>
<item><title>Les réseaux régionaux</title><link>{base}/extraits/2</link>
<guid isPermaLink="false">urn:reseau:extrait:2</guid>
<description><![CDATA[<p>Les réseaux régionaux demandent plus d’échanges.</p>]]></description></item>
</channel></rss>"""

PAGE = """<!doctype html><html lang="fr"><head><title>Extrait</title></head><body>
<nav>Menu</nav><article><h1>Les ONG et l’évaluation</h1>
<p>Les ONG veulent évaluer sans s’épuiser.</p>
<p>Le rapport\u202f: <a href="/rapport.pdf">rapport de l’enquête</a></p></article><footer>Pied</footer></body></html>"""


@pytest.fixture
async def site() -> AsyncIterator[str]:
    async def feed(request: web.Request) -> web.Response:
        return web.Response(text=RSS.format(base=base[0]), content_type="application/rss+xml")

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def big(request: web.Request) -> web.Response:
        return web.Response(text="<html><body><p>" + "x" * 200_000 + "</p></body></html>", content_type="text/html")

    async def away(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://localhost:{port[0]}/page.html")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(3)
        return web.Response(text=PAGE, content_type="text/html")

    async def garbage(request: web.Request) -> web.Response:
        return web.Response(body=b"\x00\x01\x02 not a feed", content_type="application/octet-stream")

    app = web.Application()
    for path, handler in (("/feed.xml", feed), ("/page.html", page), ("/big.html", big), ("/away", away),
                          ("/slow.html", slow), ("/garbage", garbage)):
        app.router.add_get(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = [tcp._server.sockets[0].getsockname()[1]]
    base = [f"http://127.0.0.1:{port[0]}"]
    yield base[0]
    await runner.cleanup()


async def test_a_feed_and_a_page_import_and_reimport_over_loopback(database_url, tmp_path, site):
    config = write_config(
        tmp_path, database_url, extra="[fetch]\nallowed_hosts = ['127.0.0.1']\nallow_private_addresses = true\n"
    )
    feed = await asyncio.to_thread(run, config, "extracts", "import", f"{site}/feed.xml")
    assert feed.returncode == 0, feed.stderr
    assert "créés\u202f: 2" in feed.stdout and "Les collectivités et la coopération" in feed.stdout
    page = await asyncio.to_thread(run, config, "extracts", "import", f"{site}/page.html")
    assert "créés\u202f: 1" in page.stdout and "Les ONG et l’évaluation" in page.stdout
    again = await asyncio.to_thread(run, config, "extracts", "import", f"{site}/feed.xml")
    assert "créés\u202f: 0, mis à jour\u202f: 2" in again.stdout
    shown = await asyncio.to_thread(run, config, "extracts", "show", "3")
    assert f"rapport\u202f: {site}/rapport.pdf" in shown.stdout and "Menu" not in shown.stdout


async def test_bad_remote_sources_are_clear_errors_and_touch_nothing(database_url, tmp_path, site):
    config = write_config(
        tmp_path, database_url,
        extra="[fetch]\nallowed_hosts = ['127.0.0.1']\nallow_private_addresses = true\nmax_bytes = 50000\nread_timeout = 0.5\n",
    )
    cases = {
        "https://example.org/feed.xml": "Le site example.org ne fait pas partie des sources autorisées.",
        f"{site}/away": "Le site a redirigé vers localhost, qui ne fait pas partie des sources autorisées.",
        f"{site}/big.html": "Le contenu dépasse la taille maximale de 50000 octets.",
        f"{site}/slow.html": "127.0.0.1 répond trop lentement (délai de lecture dépassé).",
        f"{site}/garbage": "n’est ni un flux RSS/Atom ni une page web avec du texte.",
        "http://127.0.0.1:9/feed.xml": "Impossible de joindre 127.0.0.1.",
    }
    for url, message in cases.items():
        result = await asyncio.to_thread(run, config, "extracts", "import", url)
        assert result.returncode == 1, (url, result.stdout)
        assert message in result.stderr, (url, result.stderr)
        assert "Traceback" not in result.stderr
    listing = await asyncio.to_thread(run, config, "extracts", "list")
    assert "aucun extrait pour l’instant" in listing.stdout


# --------------------------------------------------------------------------------------------
# schedule


def test_schedule_prints_the_next_three_posts_in_local_time(database_url, tmp_path):
    config = write_config(tmp_path, database_url, extra="[schedule]\nextract_cron = '30 2 25-31 * sun'\n")
    before = models.utcnow()
    result = run(config, "schedule")
    assert result.returncode == 0, result.stderr
    heading, *lines = result.stdout.splitlines()
    assert heading == "prochains extraits mensuels (schedule.extract_cron = «\u202f30 2 25-31 * sun\u202f», Europe/Paris)\u202f:"
    lines = [line.strip() for line in lines]
    assert len(lines) == 3 and all(re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", line) for line in lines)
    expected = [service.format_local(t, load_config(config).tz) for t in service.next_runs(load_config(config), before)]
    assert lines == expected
    for line in lines:
        when = datetime.strptime(line, "%Y-%m-%d %H:%M")
        assert when.weekday() == 6 and when.day >= 25 and line.endswith(("02:30", "03:30"))
    assert len({line[:7] for line in lines}) == 3  # one post per month, even in October


def test_schedule_all_shows_a_queued_extract_before_the_first_run(database_url, tmp_path):
    """Before the first `run`, `schedule --all` read no network channel (only `run` and `extracts
    publish` copied them) and said « rien à poster ce mois-là » over a queued extract."""
    config = write_config(tmp_path, database_url, channels=[(GUILD, 930000000000000001, "fr")])
    loaded = load_config(config)
    month = service.month_of(service.next_runs(loaded, models.utcnow(), count=1)[0], loaded.tz)
    (tmp_path / "queued.md").write_text(md("En file", month))
    assert run(config, "extracts", "import", str(tmp_path / "queued.md")).returncode == 0
    result = run(config, "schedule", "--all")
    assert result.returncode == 0, result.stderr
    [slot] = [line for line in result.stdout.splitlines() if "Extrait mensuel" in line][:1]
    assert "rien à poster" not in slot and "En file" in slot, result.stdout


# --------------------------------------------------------------------------------------------
# publish over REST


async def test_publish_over_rest_with_a_missing_and_a_forbidden_channel(database_url, tmp_path):
    ok1, ok2, missing, forbidden, english, modlog = (910000000000000000 + i for i in range(6))
    async with FakeDiscordREST(missing_channels=[missing], forbidden_channels=[forbidden], token=TOKEN) as srv:
        config = write_config(
            tmp_path, database_url,
            extra=f"[discord]\napi_base_url = '{srv.base_url}'\nmoderators_log_channel_id = {modlog}\n",
            channels=[(GUILD, ok1, "fr"), (GUILD, ok2, "fr"), (GUILD, missing, "fr"), (GUILD, forbidden, "fr"),
                      (GUILD, english, "en")],
        )
        (tmp_path / "nov.md").write_text(md("Novembre", this_month()))
        assert (await asyncio.to_thread(run, config, "extracts", "import", str(tmp_path / "nov.md"))).returncode == 0

        no_token = await asyncio.to_thread(run, config, "extracts", "publish")
        assert no_token.returncode == 2 and "DISCORD_TOKEN" in no_token.stderr

        result = await asyncio.to_thread(run_process, config, "extracts", "publish", env={"DISCORD_TOKEN": TOKEN})
        assert result.returncode == 1, "two channels failed: a cron job must hear of it"
        assert "envoyés\u202f: 2, déjà présents (non renvoyés)\u202f: 0, en échec\u202f: 2, à réessayer\u202f: 0" in result.stdout
        assert f"échec\u202f: salon {missing} (serveur {GUILD})\u202f: ce salon n’existe plus" in result.stdout
        assert f"échec\u202f: salon {forbidden} (serveur {GUILD})\u202f: le bot n’a pas les permissions" in result.stdout
        assert "missing permission" not in result.stdout and "unknown channel" not in result.stdout
        assert TOKEN not in result.stdout + result.stderr
        for channel in (ok1, ok2):
            [message] = srv.messages_in(channel)
            assert message["embeds"][0]["title"] == "Novembre"
            assert message["components"][0]["components"][0]["label"] == "Lire le rapport complet"
            assert message["enforce_nonce"] and len(message["nonce"]) <= 25
        assert srv.messages_in(english) == []
        [report] = srv.messages_in(modlog)
        assert str(missing) in report["content"] and str(forbidden) in report["content"]

        again = await asyncio.to_thread(run_process, config, "extracts", "publish", env={"DISCORD_TOKEN": TOKEN})
        assert "déjà été traité" in again.stdout and "envoyés\u202f: 0," in again.stdout
        by_id = await asyncio.to_thread(run_process, config, "extracts", "publish", "1", env={"DISCORD_TOKEN": TOKEN})
        assert by_id.returncode == 1 and "déjà été publié" in by_id.stderr
        assert len(srv.messages_in(ok1)) == 1 and srv.stats["created"] == 3
    # the same file, rewritten after its extract was posted: kept as posted, said so
    (tmp_path / "nov.md").write_text(md("Novembre, réécrit", this_month()))
    reimport = run(config, "extracts", "import", str(tmp_path / "nov.md"))
    assert reimport.returncode == 0, reimport.stderr
    assert "laissé     #1" in reimport.stdout and "n°\u00a01 est déjà publié\u202f: jamais réécrit" in reimport.stdout
    assert "créés\u202f: 0, mis à jour\u202f: 0, laissés tels quels (publiés ou écartés)\u202f: 1" in reimport.stdout
    listing = run(config, "extracts", "list").stdout
    assert "publié      envoyés\u202f: 2/4, en échec\u202f: 2" in listing
    shown = run(config, "extracts", "show", "1").stdout  # the deliveries' states in words, not « 2 sent »
    assert "envois\u202f: 2 en échec, 2 envoyés" in shown
    assert "Novembre" in listing and "réécrit" not in listing
    audit = run(config, "audit").stdout
    assert "extract.publish" in audit and "delivery.failed" in audit


async def test_publish_into_a_missing_moderators_log_channel_is_one_line(database_url, tmp_path):
    """Every send failed and the moderators' log channel is gone too: exit 1 (cron alerts), and the
    log says so in one line, not an ERROR with a traceback."""
    missing, modlog = 920000000000000001, 920000000000000002
    async with FakeDiscordREST(missing_channels=[missing, modlog], token=TOKEN) as srv:
        config = write_config(
            tmp_path, database_url,
            extra=f"[discord]\napi_base_url = '{srv.base_url}'\nmoderators_log_channel_id = {modlog}\n",
            channels=[(GUILD, missing, "fr")],
        )
        (tmp_path / "nov.md").write_text(md("Novembre", this_month()))
        assert (await asyncio.to_thread(run, config, "extracts", "import", str(tmp_path / "nov.md"))).returncode == 0
        result = await asyncio.to_thread(run_process, config, "extracts", "publish", env={"DISCORD_TOKEN": TOKEN})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "envoyés\u202f: 0, déjà présents (non renvoyés)\u202f: 0, en échec\u202f: 1" in result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    [line] = [line for line in result.stderr.splitlines() if "moderators' log channel" in line]
    assert str(modlog) in line and "moderators_log_channel_id" in line


def test_killed_in_the_middle_of_the_fan_out_then_rerun_posts_each_channel_once(database_url, tmp_path):
    """The real thing: the publishing process dies by SIGKILL mid-fan-out; the server ignores
    nonces (--nonce-ttl 0) so only the bot's own delivery log and history look-up prevent
    duplicates; the rerun finishes the job."""
    state = tmp_path / "posts.jsonl"
    server = subprocess.Popen(
        [sys.executable, str(REPO / "bench" / "fake_discord.py"), "--port", "0", "--state", str(state),
         "--nonce-ttl", "0", "--global-rate", "50"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        base_url = server.stdout.readline().strip()
        channels = [(GUILD + g, 920000000000000000 + g * 100 + c, "fr") for g in range(6) for c in range(10)]
        config = write_config(tmp_path, database_url, extra=f"[discord]\napi_base_url = '{base_url}'\n", channels=channels)
        (tmp_path / "nov.md").write_text(md("Novembre", this_month()))
        assert run(config, "extracts", "import", str(tmp_path / "nov.md")).returncode == 0
        env = {k: v for k, v in os.environ.items() if k != "RESEAU_DATABASE_URL"}
        publisher = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "--config", str(config), "extracts", "publish"], cwd=tmp_path,
            env={**env, "PYTHONPATH": str(REPO), "DISCORD_TOKEN": TOKEN},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while len(load_state(state)) < 20 and time.monotonic() < deadline:
            time.sleep(0.002)
        publisher.send_signal(signal.SIGKILL)
        publisher.wait()
        time.sleep(0.3)  # a request that was already on the wire lands now
        posted = len(load_state(state))
        assert 20 <= posted < len(channels), "killed in the middle of the fan-out"
        rerun = run_process(config, "extracts", "publish", env={"DISCORD_TOKEN": TOKEN})
        assert rerun.returncode == 0, rerun.stderr
        summary = summarize_state(state)
        assert summary["duplicate_messages"] == 0, summary
        assert {int(r["channel_id"]) for r in load_state(state)} == {c for _, c, _ in channels}
        # What the killed run posted without recording it is found again, not resent.
        sent = int(re.search(r"^envoyés\u202f: (\d+), déjà présents", rerun.stdout, re.M).group(1))
        assert sent == len(channels) - posted
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
    listing = run(config, "extracts", "list").stdout
    assert f"envoyés\u202f: {len(channels)}/{len(channels)}" in listing
