"""`reseau-bot demo --preview` serves SimCord's page on 127.0.0.1; real headless Chromium renders
it and the bot's messages are on the page, under the bot's name, dated today, with deadlines
counted from today."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.paths import REPO

PARIS = ZoneInfo("Europe/Paris")  # bot.timezone in config.example.toml, the page's time zone
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="Debian's chromium is not installed (CI installs it; apt-get install chromium)",
)


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM, "chromium is required on CI"
    return subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def preview_url(tmp_path_factory):
    """One demo for the module (it takes ~30 s): the DOM test reads it, then a visitor votes."""
    tmp_path = tmp_path_factory.mktemp("preview")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "--config", str(REPO / "config.example.toml"), "demo",
         "--out", str(tmp_path / "out"), "--preview", "--preview-seconds", "150"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    # the days the demo may run on (a run across midnight dates its messages either day)
    days = {datetime.now(PARIS).strftime("%d/%m/%Y")}
    url, seen = None, []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and url is None:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        match = re.search(r"(http://127\.0\.0\.1:\d+/#\S+)", line)
        if match:
            url = match.group(1)
    try:
        assert url, "the demo did not print a preview URL:\n" + "".join(seen[-40:])
        days.add(datetime.now(PARIS).strftime("%d/%m/%Y"))
        yield url, days
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_preview_page_shows_the_bots_messages_in_chromium(preview_url, tmp_path):
    preview_url, days = preview_url
    result = chromium("--virtual-time-budget=10000", "--dump-dom", preview_url, profile=tmp_path / "profile")
    dom = result.stdout
    assert "annonces" in dom
    assert "Le bot du réseau 2.0" in dom  # the /aide reply Awa received
    # Awa does not even see /etat (a moderators' command); Camille's reply to it is hers alone
    assert "État du bot" not in dom and "réservée aux modérateurs" not in dom
    # the month's extract, the announcement and the poll left open for the visitor to vote in
    assert "L’évaluation au service des projets" in dom and "Lire le rapport complet" in dom
    assert "Rencontre annuelle du réseau" in dom
    assert "Quel thème pour le prochain extrait du rapport" in dom and "Retirer mon vote" in dom
    # the bot under its own name, not SimCord's « TestBot »
    assert re.search(r">\s*Réseau 2\.0\s*<", dom) and "TestBot" not in dom
    # SimCord's clock and the bot's agree, and both are today's: messages are dated today and the
    # open polls' three-day deadline (<t:…:R>) reads « dans 3 jours », not « dans 48 semaines »
    assert any(day in dom for day in days), f"no message dated {days} on the page"
    assert "dans 3 jours" in dom
    assert not re.search(r"dans \d+ (semaines?|mois|ans?)\b|il y a \d+", dom)
    shot = tmp_path / "preview.png"
    chromium("--virtual-time-budget=10000", "--window-size=1200,1400", f"--screenshot={shot}", preview_url,
             profile=tmp_path / "profile2")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_a_visitor_votes_in_the_open_poll_on_the_preview_page(preview_url):
    """A person acting as Awa clicks an option of the open poll in real Chromium (driven by
    Playwright over Debian's browser, no browser download) and sees the bot's confirmation."""
    from playwright.async_api import async_playwright

    preview_url, _ = preview_url

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS[1:])
        try:
            page = await browser.new_page(viewport={"width": 1200, "height": 1400})
            await page.goto(preview_url)
            button = page.get_by_role("button", name="Les réseaux membres")
            await button.last.click(timeout=30_000)
            confirmation = page.get_by_text("Votre choix\u202f: Les réseaux membres")
            await confirmation.first.wait_for(timeout=30_000)
            assert "1 (100" in await page.inner_text("body")  # the public message's live count
        finally:
            await browser.close()
