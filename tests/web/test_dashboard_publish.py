""""Publish now" from the dashboard, in the bot's process (``run --web``): the dashboard served
over the running bot's services (SimCord), a moderator uploads an extract in Chromium, sees it,
publishes it, and the French network channel has it — once; publishing again is refused."""

from __future__ import annotations

from tests.web.conftest import bot_dashboard, pytestmark, upload_extract  # noqa: F401 (the module's skip mark)

EXTRACT = """---
title = "Ce que le réseau a appris en 2026"
month = "2026-03"
lang = "fr"
link = "https://example.org/rapport"
---
Un extrait publié depuis le tableau de bord.
"""


async def test_publish_now_posts_the_extract_to_the_network_channel(world, browser, tmp_path):
    services = world.env.bot.services
    async with bot_dashboard(world, browser) as (page, base):
        source = tmp_path / "bilan.md"
        source.write_text(EXTRACT, encoding="utf-8")
        await upload_extract(page, source, base=base)
        await page.wait_for_url("**/extracts/*")
        extract_url = page.url
        csrf = await page.locator("input[name=csrf]").first.get_attribute("value")
        await page.get_by_role("button", name="Publier maintenant").click()
        assert "Salons servis : 1" in (await page.locator("[role=status]").inner_text()).replace("\u202f", " ")
        posted = [m for m in world.fr.history() if m.author.bot]
        assert len(posted) == 1 and posted[0].embeds[0].title == "Ce que le réseau a appris en 2026"
        assert not [m for m in world.en.history() if m.author.bot]  # an English channel gets English extracts
        # the extract left the queue; publishing it again (a second click, a reload) posts nothing
        assert "La file est vide." in await page.inner_text("main")
        response = await page.request.post(extract_url + "/publish", form={"csrf": csrf})
        assert response.status == 409 and "déjà" in await response.text()
        assert len([m for m in world.fr.history() if m.author.bot]) == 1
        log = [e.action for e in await services.dashboard.audit()]
        assert "extract.publish" in log and "extract.upload" in log


def extract_file(folder, name: str, title: str, month: str):
    path = folder / name
    path.write_text(f'---\ntitle = "{title}"\nmonth = "{month}"\nlang = "fr"\n---\nLe texte de {title}.\n',
                    encoding="utf-8")
    return path


async def test_a_new_file_of_a_published_extracts_name_is_refused_and_the_post_kept(world, browser, tmp_path):
    """extrait.md of January published from the dashboard, then another extrait.md for March:
    refused with why and what to do — January's extract stays as posted, nothing is queued,
    nothing posted again; a new name queues March.  Before publication, the same name replaces
    the queued extract, and the page says so."""
    january, march = tmp_path / "janvier", tmp_path / "mars"
    january.mkdir()
    march.mkdir()
    async with bot_dashboard(world, browser) as (page, base):
        await upload_extract(page, extract_file(january, "extrait.md", "Janvier : brouillon", "2027-01"), base=base)
        await page.wait_for_url("**/extracts/*")
        assert await page.locator("[role=status]").count() == 0
        await upload_extract(page, extract_file(january, "extrait.md", "Janvier : la coopération", "2027-01"), base=base)
        await page.wait_for_url("**/extracts/*?replaced=1")
        assert "cet envoi l’a remplacé" in await page.locator("[role=status]").inner_text()
        assert await page.locator("h1").inner_text() == "Janvier : la coopération"
        january_url = page.url.split("?")[0]
        await page.get_by_role("button", name="Publier maintenant").click()
        await page.wait_for_url(base + "/extracts/*/publish")
        assert len([m for m in world.fr.history() if m.author.bot]) == 1

        await upload_extract(page, extract_file(march, "extrait.md", "Mars : l’évaluation", "2027-03"), base=base)
        alert = (await page.locator("[role=alert]").inner_text()).replace("\u202f", " ")
        assert "extrait.md n’a pas été importé" in alert and "« Janvier : la coopération » (janvier 2027)" in alert
        assert "déjà publié" in alert and "extrait-2027-03.md" in alert
        assert "La file est vide." in await page.inner_text("main")
        await page.goto(january_url)
        assert await page.locator("h1").inner_text() == "Janvier : la coopération"
        facts = (await page.locator("dl.facts").inner_text()).split()
        assert "janvier" in facts and "Publié" in facts
        posted = [m for m in world.fr.history() if m.author.bot]
        assert len(posted) == 1 and posted[0].embeds[0].title == "Janvier : la coopération"

        await upload_extract(page, extract_file(march, "extrait-2027-03.md", "Mars : l’évaluation", "2027-03"),
                             base=base)
        await page.wait_for_url("**/extracts/*")
        await page.goto(base + "/extracts")
        assert await page.locator("tbody tr td:nth-child(2)").all_inner_texts() == ["Mars : l’évaluation"]
