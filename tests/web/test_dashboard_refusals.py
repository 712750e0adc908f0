"""Every page checks who asks, in Chromium: without a session, with an expired link, with a used
link, with a forged one, as a member who is not (or no longer) a moderator; forms without their
anti-forgery token; too many sign-in attempts; the security headers; and axe-core run in the page
on every page (no serious or critical violation)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from bot.services.authority import Actor, NotNetworkModerator
from bot.services.dashboard import LinkExpired, LinkUsed, token_hash
from storage.models import DashboardSession
from tests.web.conftest import GUILD, MOD_ROLE, pytestmark, sign_in, upload_extract  # noqa: F401 (the module's skip mark)

PAGES = ["/", "/polls", "/polls/{poll}", "/polls/{poll}/chart-1.png", "/campaigns", "/campaigns/{campaign}",
         "/exports", "/extracts", "/audit"]
POSTS = ["/exports", "/extracts/upload", "/extracts/1/move", "/extracts/1/skip", "/extracts/1/publish", "/logout"]


def pages(dashboard) -> list[str]:
    s = dashboard.survey
    return [p.format(poll=s.poll_a, campaign=s.campaign_id) for p in PAGES]


async def test_no_session_no_page(dashboard, browser):
    ctx = await browser.new_context(locale="fr-FR")
    page = await ctx.new_page()
    try:
        for path in pages(dashboard):
            response = await page.goto(dashboard.base + path)
            assert response.status == 401, path
            assert "Vous n’êtes pas connecté" in await page.inner_text("main"), path
            assert "Formation" not in await page.content()
        for path in POSTS:
            response = await page.request.post(dashboard.base + path, form={"csrf": "x"})
            assert response.status == 401, path
        # the English reader gets the English refusal
        en = await browser.new_context(locale="en-GB", extra_http_headers={"Accept-Language": "en-GB,en;q=0.9"})
        response = await (await en.new_page()).goto(dashboard.base + "/")
        assert response.status == 401 and "You are not signed in" in await response.text()
        await en.close()
    finally:
        await ctx.close()


async def test_expired_used_and_forged_links_open_nothing(dashboard, browser):
    ctx = await browser.new_context(locale="fr-FR")
    page = await ctx.new_page()
    try:
        expired = await dashboard.link()
        dashboard.clock.advance(timedelta(minutes=10, seconds=1))
        response = await page.goto(expired)
        assert response.status == 403 and "a expiré" in await page.inner_text("main")

        fresh = await dashboard.link()
        forged = fresh[:-3] + ("AAA" if not fresh.endswith("AAA") else "BBB")
        response = await page.goto(forged)
        assert response.status == 403 and "n’est pas valable" in await page.inner_text("main")

        await page.goto(fresh)
        await page.get_by_role("button", name="Ouvrir le tableau de bord").click()
        await page.wait_for_url(dashboard.base + "/")
        other = await browser.new_context(locale="fr-FR")
        response = await (await other.new_page()).goto(fresh)
        assert response.status == 403 and "déjà servi" in await response.text()
        await other.close()
        # a link that expired while its sign-in page was open cannot be spent either
        late = await dashboard.link()
        third = await browser.new_context(locale="fr-FR")
        late_page = await third.new_page()
        await late_page.goto(late)
        dashboard.clock.advance(timedelta(minutes=11))
        await late_page.get_by_role("button", name="Ouvrir le tableau de bord").click()
        assert "a expiré" in await late_page.inner_text("main")
        assert await dashboard.services.sign_in.session(None) is None
        await third.close()
    finally:
        await ctx.close()


async def test_used_once_is_the_databases_rule(dashboard):
    """Two redemptions of one link at once: one session; and a second session row for the same
    link is refused by the database itself (the unique link_nonce), not by a check in memory."""
    token = (await dashboard.link()).rsplit("t=", 1)[1]
    results = await asyncio.gather(*(dashboard.services.sign_in.redeem(token) for _ in range(2)),
                                   return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, LinkUsed) for r in results if isinstance(r, Exception))
    nonce = token.split(".")[0]
    now = dashboard.clock()
    with pytest.raises(IntegrityError):
        async with dashboard.services.sessions.begin() as session:
            session.add(DashboardSession(id=token_hash("another browser"), link_nonce=nonce, actor_id=1, guild_id=GUILD,
                                         role_ids=[MOD_ROLE], created_at=now, expires_at=now + timedelta(hours=1)))
    with pytest.raises(LinkExpired):
        late = (await dashboard.link()).rsplit("t=", 1)[1]
        dashboard.clock.advance(timedelta(minutes=10))
        await dashboard.services.sign_in.redeem(late)


async def test_non_moderators_get_no_link_and_a_removed_role_ends_the_session(dashboard, browser):
    sign_in_service = dashboard.services.sign_in
    for actor in (Actor.of(GUILD, [999]), Actor.of(GUILD, [], manage_guild=True), Actor.of(4242, [MOD_ROLE])):
        with pytest.raises(NotNetworkModerator if actor.guild_id == GUILD else Exception):
            await sign_in_service.issue(actor, 77)
    ctx, page = await sign_in(browser, dashboard)
    try:
        assert (await page.goto(dashboard.base + "/polls")).status == 200
        # the moderator role is taken out of the configuration: the session opens nothing any more
        config = dashboard.config
        dashboard.services.configure(dataclasses.replace(config, bot=dataclasses.replace(config.bot, moderator_roles=(5,))))
        for path in pages(dashboard):
            assert (await page.goto(dashboard.base + path)).status == 401, path
    finally:
        await ctx.close()


async def test_forms_need_their_token_and_cross_site_posts_are_refused(dashboard, browser):
    ctx, page = await sign_in(browser, dashboard)
    try:
        for path in POSTS:
            response = await page.request.post(dashboard.base + path, form={"scope": f"poll:{dashboard.survey.poll_a}"})
            assert response.status == 403, path
            assert "Le formulaire a expiré" in await response.text()
        response = await page.request.post(dashboard.base + "/exports", form={"csrf": "forged"})
        assert response.status == 403
        csrf = await page.goto(dashboard.base + "/exports") and await page.locator("input[name=csrf]").first.get_attribute("value")
        response = await page.request.post(dashboard.base + "/extracts/1/skip", form={"csrf": csrf},
                                           headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
        assert response.status == 403
        # the logout form (with its token) ends the session
        await page.goto(dashboard.base + "/")
        await page.get_by_role("button", name="Se déconnecter").click()
        assert (await page.goto(dashboard.base + "/")).status == 401
    finally:
        await ctx.close()


async def test_an_identified_export_of_a_named_poll_gives_ids_and_is_audited(dashboard, browser, tmp_path):
    import csv
    import io
    import zipfile

    ctx, page = await sign_in(browser, dashboard)
    try:
        await page.goto(dashboard.base + "/exports")
        await page.get_by_label("Que faut-il exporter ?").select_option(value=f"poll:{dashboard.survey.poll_a}")
        await page.get_by_label("Identifiés (identifiants Discord ; sondages nominatifs seulement ; consigné)").check()
        async with page.expect_download() as info:
            await page.get_by_role("button", name="Télécharger").click()
        saved = tmp_path / "identified.zip"
        await (await info.value).save_as(saved)
        with zipfile.ZipFile(saved) as archive:
            data = archive.read(next(n for n in archive.namelist() if ".codebook." not in n)).decode("utf-8-sig")
        separator = ";" if data.splitlines()[0].count(";") > data.splitlines()[0].count(",") else ","
        respondents = {row["respondent"] for row in csv.DictReader(io.StringIO(data), delimiter=separator)}
        assert "401234567890123456" in respondents  # U1's Discord id, as asked
        [entry] = [e for e in await dashboard.services.dashboard.audit() if e.action == "export"]
        assert entry.actor_id == 3003 and entry.details["identified"] is True
    finally:
        await ctx.close()


async def test_identified_exports_only_for_named_polls(dashboard, browser):
    from storage.models import Poll

    async with dashboard.services.sessions.begin() as session:
        (await session.get(Poll, dashboard.survey.poll_b)).anonymous = True
    ctx, page = await sign_in(browser, dashboard)
    try:
        await page.goto(dashboard.base + "/exports")
        await page.get_by_label("Que faut-il exporter ?").select_option(value=f"poll:{dashboard.survey.poll_b}")
        await page.get_by_label("Identifiés (identifiants Discord ; sondages nominatifs seulement ; consigné)").check()
        await page.get_by_role("button", name="Télécharger").click()
        assert "Export identifié refusé" in await page.inner_text("main")
        entries = await dashboard.services.dashboard.audit()
        assert not [e for e in entries if e.action == "export"]  # nothing exported, nothing logged as exported
    finally:
        await ctx.close()


async def test_sign_in_attempts_are_rate_limited(dashboard, browser):
    ctx = await browser.new_context(locale="fr-FR")
    page = await ctx.new_page()
    try:
        statuses = [(await page.goto(dashboard.base + "/login?t=garbage.sig")).status for _ in range(12)]
        assert statuses[:10] == [403] * 10 and statuses[10:] == [429, 429]
        assert "Trop de tentatives" in await page.inner_text("main")
    finally:
        await ctx.close()


async def test_security_headers_on_every_page(dashboard, browser):
    ctx, page = await sign_in(browser, dashboard)
    try:
        for path in [*pages(dashboard), "/login", "/static/dashboard.css", "/nowhere"]:
            response = await page.goto(dashboard.base + path)
            headers = response.headers
            csp = headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp and "script-src" not in csp and "default-src 'none'" in csp, path
            assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff", path
            assert headers["referrer-policy"] == "same-origin", path
        # no personal data in any link of the pages: ids of polls, campaigns and extracts only
        for path in pages(dashboard):
            if path.endswith(".png"):
                continue
            await page.goto(dashboard.base + path)
            for href in await page.locator("a[href]").evaluate_all("els => els.map(e => e.getAttribute('href'))"):
                assert "401234567890123456" not in href and "3003" not in href, (path, href)
    finally:
        await ctx.close()


async def test_a_missing_page_or_file_is_the_dashboards_not_found_page(dashboard, browser):
    """A missing static file was an empty ``application/octet-stream`` 404 that the browser
    downloaded; every 404 is the dashboard's page, titled as one (« Page introuvable »), while a
    refusal keeps « Accès impossible »."""
    anonymous = await browser.new_context(locale="fr-FR")
    try:
        page = await anonymous.new_page()
        response = await page.goto(dashboard.base + "/static/nope.css")  # before any session too
        assert response.status == 404 and response.headers["content-type"].startswith("text/html")
        assert response.headers["cache-control"] == "no-store"
        assert await page.locator("h1").inner_text() == "Page introuvable"
        assert (await page.request.get(dashboard.base + "/static/dashboard.css")).headers["content-type"].startswith(
            "text/css")
    finally:
        await anonymous.close()
    ctx, page = await sign_in(browser, dashboard)
    try:
        for path in ("/static/nope.css", "/static/../pages.py", "/nowhere", "/polls/999999"):
            response = await page.goto(dashboard.base + path)
            assert response.status == 404, path
            assert await page.title() == "Page introuvable · Réseau 2.0 — tableau de bord", path
            assert await page.locator("h1").inner_text() == "Page introuvable", path
        response = await page.request.post(dashboard.base + "/extracts/1/skip", form={"csrf": "forged"})
        assert response.status == 403 and "<h1>Accès impossible</h1>" in await response.text()
        await page.goto(f"{dashboard.base}/lang/en?next=/static/nope.css")
        assert await page.locator("h1").inner_text() == "Page not found"
    finally:
        await ctx.close()


# ------------------------------------------------------------------ accessibility
def axe_source() -> str:
    """axe-core's script, as the PyPI package axe-playwright-python ships it (MPL-2.0)."""
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).with_name("axe.min.js")).read_text(encoding="utf-8")


async def axe_violations(page) -> list[dict]:
    await page.add_script_tag(content=axe_source())
    result = await page.evaluate("async () => JSON.stringify(await axe.run(document, {resultTypes: ['violations']}))")
    return [v for v in json.loads(result)["violations"] if v["impact"] in ("serious", "critical")]


async def test_axe_core_finds_no_serious_or_critical_violation_on_any_page(dashboard, browser, tmp_path):
    # bypass_csp: axe-core is injected by the test; the pages themselves allow no script
    ctx, page = await sign_in(browser, dashboard, bypass_csp=True)
    try:
        source = tmp_path / "mars.md"
        source.write_text('---\ntitle = "Un extrait"\nmonth = "2027-03"\nlang = "fr"\n---\n*Intro.*\n\n« Une voix de membre, assez longue pour être citée. »\n', encoding="utf-8")
        await upload_extract(page, source, base=dashboard.base)
        await page.wait_for_url("**/extracts/*")
        extract_page = page.url.removeprefix(dashboard.base)
        report = {}
        for path in [*[p for p in pages(dashboard) if not p.endswith(".png")], extract_page, "/nowhere"]:
            for lang in ("fr", "en"):
                await page.goto(f"{dashboard.base}/lang/{lang}?next={path}")
                found = await axe_violations(page)
                if found:
                    report[f"{lang} {path}"] = [(v["id"], v["impact"], len(v["nodes"])) for v in found]
        assert not report, report
        # the sign-in page and a refusal, before any session
        anonymous = await browser.new_context(bypass_csp=True, locale="fr-FR")
        other = await anonymous.new_page()
        await other.goto(await dashboard.link())
        assert await axe_violations(other) == []
        await other.goto(dashboard.base + "/")
        assert await axe_violations(other) == []
        # the check itself can fail: an unlabelled field and grey-on-white text are reported
        await other.set_content('<html lang="fr"><head><title>t</title></head><body><main><input type="text">'
                                '<p style="color:#bbb;background:#fff">texte pâle</p></main></body></html>')
        assert {v["id"] for v in await axe_violations(other)} >= {"label", "color-contrast"}
        await anonymous.close()
    finally:
        await ctx.close()


async def test_keyboard_reaches_the_content_and_every_control_has_a_name(dashboard, browser):
    ctx, page = await sign_in(browser, dashboard)
    try:
        await page.goto(dashboard.base + "/exports")
        await page.keyboard.press("Tab")
        focused = await page.evaluate("document.activeElement.textContent")
        assert focused.strip() == "Aller au contenu"  # the skip link comes first
        await page.keyboard.press("Enter")
        # the jump is a same-document navigation Chromium completes after the key press returns
        # (CI once read the URL before it): wait for it, then check where it went
        await page.wait_for_function("location.hash === '#main'", timeout=5000)
        assert page.url.endswith("/exports#main")
        # every form control is labelled (no placeholder-only field)
        unnamed = await page.locator("select, input:not([type=hidden])").evaluate_all(
            "els => els.filter(e => !(e.labels && e.labels.length)).map(e => e.name)")
        assert unnamed == []
    finally:
        await ctx.close()
