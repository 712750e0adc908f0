"""``reseau-bot demo --preview`` also serves the dashboard on the demo's data and prints Camille's
one-time link: in Chromium it signs her in and the overview shows the demo's open poll."""

from __future__ import annotations

import asyncio
import os
import re
import sys

from tests.paths import REPO
from tests.web.conftest import pytestmark  # noqa: F401 (the module's skip mark)

LINK = re.compile(r"(http://127\.0\.0\.1:\d+/login\?t=\S+?)(?=\s|\)|$)")


async def test_the_demo_prints_a_dashboard_link_that_signs_the_moderator_in(browser, tmp_path):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "--config", str(REPO / "config.example.toml"), "demo",
        "--out", str(tmp_path / "out"), "--preview", "--preview-seconds", "120", cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    seen: list[str] = []
    try:
        async with asyncio.timeout(150):
            while not (match := LINK.search(seen[-1] if seen else "")):
                line = (await proc.stdout.readline()).decode()
                assert line, "the demo ended without a dashboard link:\n" + "".join(seen[-40:])
                seen.append(line)
        assert "Tableau de bord des modérateurs" in seen[-1]
        ctx = await browser.new_context(locale="fr-FR")
        page = await ctx.new_page()
        await page.goto(match.group(1))
        await page.get_by_role("button", name="Ouvrir le tableau de bord").click()
        await page.wait_for_url("**/")
        overview = await page.inner_text("main")
        assert "Quel thème pour le prochain extrait du rapport" in overview  # the poll left open
        assert "Extrait mensuel" in overview
        await page.get_by_role("link", name="Journal").click()
        log = await page.inner_text("main")
        assert "Connexion au tableau de bord" in log and "dashboard.login" not in log  # in words, not codes
        await ctx.close()
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()
