"""The moderators' dashboard in Debian's Chromium (Playwright), on the suite's database (SQLite,
or PostgreSQL with RESEAU_TEST_DATABASE_URL): a moderator signs in with the one-time link,
reads a poll's results and the campaign's coverage, downloads an export identical to the CLI's,
uploads an extract and sees it in the queue, reorders and skips it — each action in the audit log."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

from tests.cli_runner import run_cli
from tests.export_data import CAMPAIGN
from tests.web.conftest import SECRET, pytestmark, sign_in, upload_extract  # noqa: F401 (the module's skip mark)

EXTRACT = """---
title = "L’évaluation au service des projets"
month = "2027-03"
lang = "fr"
---
*Ce que disent les membres de leurs évaluations.*

Les collectivités évaluent plus souvent qu’avant. « Nous avons enfin le temps d’apprendre de nos projets. »

Lire la suite dans le rapport.
"""

SECOND = """---
title = "Coopérer en réseau"
month = "2027-04"
lang = "fr"
---
Un second extrait.
"""

ENGLISH = """---
title = "Working as a network"
month = "2027-03"
lang = "en"
---
An English extract.
"""


def rows_of(table_text: str) -> str:
    return " ".join(table_text.split())


async def test_a_moderator_signs_in_and_reads_results_and_coverage(dashboard, browser):
    from storage.models import Delivery, Extract, PollPosting

    async with dashboard.services.sessions.begin() as session:  # poll A posted in two channels
        session.add_all([PollPosting(poll_id=dashboard.survey.poll_a, guild_id=1001, channel_id=1, lang="fr"),
                         PollPosting(poll_id=dashboard.survey.poll_a, guild_id=1001, channel_id=2, lang="en")])
        extract = Extract(source_key="file:x/fevrier.md", title="Février", month="2026-02", status="published")
        session.add(extract)
        await session.flush()  # one delivery sent, one failed
        session.add_all([
            Delivery(extract_id=extract.id, guild_id=1001, channel_id=1, status="sent", nonce="a", message_id=9),
            Delivery(extract_id=extract.id, guild_id=1001, channel_id=2, status="failed", nonce="b",
                     error="missing_access: 403 50001: Missing Access"),
        ])
    await dashboard.services.mirror_channels()  # channel 1 is the network's « annonces »; 2 is not one
    ctx, page = await sign_in(browser, dashboard)
    try:
        cookie = next(c for c in await ctx.cookies() if c["name"] == "rb_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]  # plain http here
        assert await page.locator("h1").inner_text() == "Vue d’ensemble"
        overview = await page.inner_text("main")
        assert "Besoins des membres" in overview  # an open poll, with its respondents
        assert "Autre serveur" not in overview  # a poll of a server outside the network
        assert "Extrait mensuel" in overview  # the next planned posts (the calendar service)
        assert "1 diffusion en échec ci-dessous." in overview  # the latest deliveries, failures highlighted
        failed = await page.locator("tr.failed").all_inner_texts()
        assert len(failed) == 1 and "Février" in failed[0]
        assert "Échec — le bot n’a pas accès à ce salon (code Discord 50001)" in failed[0]
        rows = page.locator("section[aria-labelledby=deliveries] tbody tr")
        channels = {(await row.locator("td").nth(2).inner_text()): await row.locator("td").nth(1).inner_text()
                    for row in await rows.all()}
        assert channels == {  # a network channel by its name
            "Envoyée": "#annonces", "Échec — le bot n’a pas accès à ce salon (code Discord 50001)": "2"}

        await page.get_by_role("link", name="Sondages").click()
        await page.get_by_role("link", name="Besoins des membres").click()
        assert await page.locator("h1").inner_text() == "Besoins des membres"
        # posted in channels 1 and 2: both named (it said « Salon #annonces », the first one only)
        assert "Salons #annonces (français), 2 (anglais)" in rows_of(await page.locator("dl.facts").inner_text())
        results = rows_of(await page.locator("#results-1").inner_text())
        # besoin: U1 financement, U2 reseau, an unlinked answer formation → 3 respondents
        assert "Formation 1 33,3 %" in results.replace("\u202f", " ").replace("\xa0", " ")
        assert "Financement 1" in results and "Mise en réseau 1" in results
        by_type = rows_of(await page.locator("#by-type-1").inner_text())
        assert "Collectivité territoriale 2" in by_type and "Réseau 1" in by_type
        by_channel = rows_of(await page.locator("#by-channel").inner_text())
        # each posting's channel; the survey's answers predate postings: their channel is not known
        assert "#annonces (français) 0 2 (anglais) 0 Salon inconnu (réponses antérieures) 5" in by_channel
        assert await page.locator("img[src$='chart-1.png']").get_attribute("alt")
        chart = await page.request.get(dashboard.base + page.url.removeprefix(dashboard.base) + "/chart-1.png")
        assert chart.status == 200 and (await chart.body())[:8] == b"\x89PNG\r\n\x1a\n"
        assert "Plus d’échanges entre collectivités" in await page.inner_text("main")  # a named poll's texts

        await page.get_by_role("link", name="Campagnes").click()
        await page.get_by_role("link", name=CAMPAIGN).click()
        coverage = rows_of(await page.locator("#coverage-table").inner_text()).replace("\u202f", " ")
        # profiles: 3 collectivités (U1 answered), 2 réseaux (U2 answered), 1 ONG (U3 answered)
        assert "Collectivité territoriale 1 3 33 % 2" in coverage
        assert "Réseau 1 2 50 % 1" in coverage
        assert "ONG / association 1 1 100 % 0" in coverage

        # French percentages keep their no-break space (« 33 % »), English ones none (« 33% », as on Discord)
        assert "33\u00a0%" in await page.locator("#coverage-table").inner_text()
        await page.get_by_role("link", name="English").click()
        assert (await page.locator("h1").inner_text()).startswith(CAMPAIGN)
        assert "Coverage by member type" in await page.inner_text("main")
        coverage = rows_of(await page.locator("#coverage-table").inner_text())
        assert " 33% 2" in coverage and " 50% 1" in coverage and " %" not in coverage
    finally:
        await ctx.close()


async def test_a_poll_posted_in_two_languages_reads_in_the_pages_language(dashboard, browser):
    """A quick poll posted in a French and an English channel, with its English wording: the
    English page shows that wording (title, question, options); the French page the poll's."""
    services = dashboard.services
    poll = await services.polls.create(services.polls.prepare(
        guild_id=1001, channel_id=1, author_id=9, question="Le réseau vous aide-t-il ?", options="Oui; Non", lang="fr"))
    for channel_id, lang in ((1, "fr"), (2, "en")):
        await services.postings.attach(await services.postings.claim(poll, 1001, channel_id, lang), 100 + channel_id)
    await services.postings.set_wording(poll, "en", "Does the network help you?", ["Yes", "No"])
    await services.polls.vote(poll.id, user_id=11, option_id=poll.options[0].id)
    ctx, page = await sign_in(browser, dashboard)
    try:
        await page.goto(f"{dashboard.base}/polls/{poll.id}")
        assert await page.locator("h1").inner_text() == "Le réseau vous aide-t-il ?"
        assert "Oui\t1\t100,0\u00a0%" in await page.locator("#results-1").inner_text()  # a no-break space
        await page.get_by_role("link", name="English").click()
        assert await page.locator("h1").inner_text() == "Does the network help you?"
        results = rows_of(await page.locator("#results-1").inner_text())
        assert "Yes 1 100.0%" in results and "No 0 0.0%" in results and "Oui" not in results
        chart = await page.request.get(page.url + "/chart-1.png")
        assert chart.status == 200 and (await chart.body())[:8] == b"\x89PNG\r\n\x1a\n"
        assert "Cookie" in chart.headers["vary"], "the chart's words are in the page's language"
    finally:
        await ctx.close()


async def test_a_poll_closed_early_says_when_it_closed(dashboard, browser):
    """``/sondage clore`` before the deadline: the page gives when the poll closed, not the
    deadline it no longer has (it showed « Clos … Clôture 05/03/2026 11:00 »); an open poll's
    page gives its deadline."""
    from datetime import timedelta

    services = dashboard.services
    polls = []
    for question in ("Toujours ouvert ?", "Clos plus tôt ?"):
        poll = await services.polls.create(services.polls.prepare(
            guild_id=1001, channel_id=1, author_id=9, question=question, options="Oui; Non", deadline="3d"))
        await services.postings.attach(await services.postings.claim(poll, 1001, 1, "fr"), 100 + poll.id)
        polls.append(poll)
    await services.mirror_channels()
    dashboard.clock.advance(timedelta(hours=2))  # 12:00 UTC, 13:00 in Paris
    await services.polls.close(polls[1].id, actor_id=3003)
    ctx, page = await sign_in(browser, dashboard)
    try:
        await page.goto(f"{dashboard.base}/polls/{polls[0].id}")
        facts = rows_of(await page.locator("dl.facts").inner_text())
        assert "État Ouvert" in facts and "Salon #annonces" in facts and "Clôture 05/03/2026 11:00" in facts
        await page.goto(f"{dashboard.base}/polls/{polls[1].id}")
        facts = rows_of(await page.locator("dl.facts").inner_text())
        assert "État Clos" in facts and "Clos le 02/03/2026 13:00" in facts
        assert "05/03/2026" not in facts
    finally:
        await ctx.close()


async def test_the_downloaded_export_is_the_clis(dashboard, browser, tmp_path, database_url):
    ctx, page = await sign_in(browser, dashboard)
    try:
        await page.get_by_role("link", name="Exports").click()
        await page.get_by_label("Que faut-il exporter ?").select_option(label=CAMPAIGN)
        await page.get_by_label("Disposition").select_option("wide")
        assert await page.get_by_label("Séparateur CSV").input_value() == ";"  # French Excel's, as the CLI's default
        await page.get_by_label("Séparateur CSV").select_option(",")
        async with page.expect_download() as info:
            await page.get_by_role("button", name="Télécharger").click()
        download = await info.value
        saved = tmp_path / download.suggested_filename
        await download.save_as(saved)
        assert saved.suffix == ".zip"
        with zipfile.ZipFile(saved) as archive:
            names = sorted(archive.namelist())
            data = archive.read(next(n for n in names if ".codebook." not in n))
            codebook = archive.read(next(n for n in names if ".codebook." in n))
    finally:
        await ctx.close()
    config_file = tmp_path / "config.toml"
    config_file.write_text(f"[database]\nurl = {database_url!r}\n", encoding="utf-8")
    out = tmp_path / "cli.csv"
    result = run_cli("--config", str(config_file), "export", "--campaign", CAMPAIGN, "--format", "csv",
                     "--layout", "wide", "--separator", ",", "-o", str(out), cwd=tmp_path, env={"RESEAU_EXPORT_SECRET": SECRET})
    assert result.returncode == 0, result.stderr
    assert data == out.read_bytes()
    assert codebook == (tmp_path / "cli.codebook.csv").read_bytes()
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows and all(len(r["respondent"]) == 16 or r["respondent"].startswith("anon-") for r in rows)
    entries = await dashboard.services.dashboard.audit()
    exports = [(e.actor_id, e.details["identified"]) for e in entries if e.action == "export"]
    assert sorted(exports, key=str) == [(3003, False), (None, False)]  # the dashboard's (by whom) and the CLI's


async def test_upload_preview_reorder_skip_and_the_audit_log(dashboard, browser, tmp_path):
    ctx, page = await sign_in(browser, dashboard)
    try:
        first, second = tmp_path / "mars.md", tmp_path / "avril.md"
        first.write_text(EXTRACT, encoding="utf-8")
        second.write_text(SECOND, encoding="utf-8")
        for path in (first, second):
            await upload_extract(page, path, base=dashboard.base)
            await page.wait_for_url("**/extracts/*")
        # the preview as members will see it: the voice on its quote line, the intro in italics
        await page.goto(dashboard.base + "/extracts")
        assert await page.locator("#queue-fr caption").inner_text() == "Extraits en français"
        await page.get_by_role("link", name="L’évaluation au service des projets").click()
        # its month and language in words, as in the queue (not « 2027-03 », « fr »)
        assert rows_of(await page.locator("dl.facts").inner_text()).startswith("Mois mars 2027 Langue français")
        voice = page.locator("blockquote").first
        assert await voice.inner_text() == "« Nous avons enfin le temps d’apprendre de nos projets. »"
        # …after the sentence that introduces it, as Discord shows it (it used to come before)
        before = await voice.evaluate("q => q.previousElementSibling && q.previousElementSibling.textContent")
        assert before == "Les collectivités évaluent plus souvent qu’avant."
        body = await page.locator(".embed-body").first.inner_text()
        assert body.index("Les collectivités évaluent") < body.index("« Nous avons enfin")
        assert "Ce que disent les membres" in await page.locator(".embed-body em").first.inner_text()
        # no sender in this process: no "publish now" button
        assert await page.get_by_role("button", name="Publier maintenant").count() == 0

        await page.get_by_role("link", name="Retour à la file").click()
        titles = await page.locator("tbody tr td:nth-child(2)").all_inner_texts()
        assert titles == ["L’évaluation au service des projets", "Coopérer en réseau"]
        await page.get_by_role("button", name="Descendre « L’évaluation au service des projets »").click()
        await page.wait_for_url(dashboard.base + "/extracts")
        assert await page.locator("tbody tr td:nth-child(2)").all_inner_texts() == [
            "Coopérer en réseau", "L’évaluation au service des projets"]
        assert await page.locator("tbody tr td:nth-child(1)").all_inner_texts() == ["mars 2027", "avril 2027"]
        await page.get_by_role("link", name="English").click()
        assert await page.locator("tbody tr td:nth-child(1)").all_inner_texts() == ["March 2027", "April 2027"]
        assert await page.locator("#queue-fr caption").inner_text() == "French extracts"
        await page.get_by_role("link", name="Français").click()
        await page.get_by_role("button", name="Écarter « Coopérer en réseau »").click()
        await page.wait_for_url(dashboard.base + "/extracts")
        assert await page.locator("tbody tr td:nth-child(2)").all_inner_texts() == ["L’évaluation au service des projets"]

        await page.get_by_role("link", name="Journal").click()
        log = await page.inner_text("main")
        for action in ("Connexion au tableau de bord", "Extrait envoyé", "Extrait déplacé dans la file",
                       "Extrait écarté"):
            assert action in log
        assert "3003" in log  # the moderator who acted
    finally:
        await ctx.close()


async def test_the_queue_offers_only_the_moves_that_move(dashboard, browser, tmp_path):
    """Each language's queue is its own (the monthly slot takes each language's first; a move
    swaps within it): « Monter » is not offered on its first extract, nor « Descendre » on its
    last — they did nothing, silently; a form sent from an older page says why nothing moved."""
    ctx, page = await sign_in(browser, dashboard)
    try:
        for name, text in (("mars.md", EXTRACT), ("avril.md", SECOND), ("march.md", ENGLISH)):
            (tmp_path / name).write_text(text, encoding="utf-8")
            await upload_extract(page, tmp_path / name, base=dashboard.base)
            await page.wait_for_url("**/extracts/*")
        await page.goto(dashboard.base + "/extracts")
        french, english = page.locator("#queue-fr"), page.locator("#queue-en")
        assert await english.locator("caption").inner_text() == "Extraits en anglais"
        first, last = french.locator("tbody tr").nth(0), french.locator("tbody tr").nth(1)
        assert await first.locator("button").all_inner_texts() == ["Descendre", "Écarter"]
        assert await last.locator("button").all_inner_texts() == ["Monter", "Écarter"]
        assert await english.locator("tbody tr button").all_inner_texts() == ["Écarter"]  # alone in its queue

        first_id = (await first.locator("a").get_attribute("href")).rsplit("/", 1)[1]
        csrf = await page.locator("input[name=csrf]").first.get_attribute("value")
        response = await page.request.post(f"{dashboard.base}/extracts/{first_id}/move",
                                           form={"csrf": csrf, "direction": "up"})
        assert response.status == 409
        await page.set_content(await response.text())
        assert await page.locator("[role=alert]").inner_text() == (
            "«\u202fL’évaluation au service des projets\u202f» est déjà le premier extrait de sa file\u202f: "
            "il ne peut pas monter.")
        assert [e.action for e in await dashboard.services.dashboard.audit()].count("extract.move") == 0
    finally:
        await ctx.close()


async def test_the_audit_log_reads_in_words(dashboard, browser):
    """The log named its entries by code: « poll.create », « poll 4 », « before={'title': 'A',
    'body': 'B', 'link': None} », « identified=False ».  Actions and records are named in the
    reader's language, details labelled with their values written plainly; an action or key the
    catalogue does not know is shown as stored (nothing hidden)."""
    services = dashboard.services
    poll = await services.polls.create(services.polls.prepare(
        guild_id=1001, channel_id=1, author_id=9, question="Une question ?", options="Oui; Non", deadline="3d"))
    await services.polls.close(poll.id, actor_id=3003)
    record = services.dashboard.record
    await record("announcement.edit", actor_id=3003, target_type="announcement", target_id="7",
                 details={"before": {"title": "A", "body": "B", "link": None}, "title": "A2", "versions": ["en"]})
    await record("export", actor_id=3003, target_type="campaign", target_id="Enquête 2027",
                 details={"format": "csv", "layout": "wide", "identified": False, "rows": 1234, "labels": "fr"})
    await record("calendar.postpone", actor_id=3003, target_type="plan", target_id="5",
                 details={"from": "2026-03-05T10:00:00+00:00", "to": "2026-03-06T16:30:00+00:00"})
    await record("someday.new", actor_id=None, target_type="gadget", target_id="x1", details={"odd_key": 7})
    ctx, page = await sign_in(browser, dashboard)
    try:
        await page.goto(dashboard.base + "/audit")
        rows = [" ".join(r.split()) for r in await page.locator("tbody tr").all_inner_texts()]
        log = "\n".join(r for r in rows if "someday.new" not in r)
        for raw in ("poll.create", "poll.close", "announcement.edit", "None", "False", "{", "'", "=", "_"):
            assert raw not in log, raw
        created = next(r for r in rows if "Sondage créé" in r)
        assert f"sondage n° {poll.id}" in created and "Type : choix unique" in created and "Options : 2" in created
        closed = next(r for r in rows if "Sondage clos" in r)
        assert "3003" in closed and "Par : un modérateur" in closed
        edited = next(r for r in rows if "Annonce corrigée" in r)
        assert "annonce n° 7" in edited
        assert "Avant correction : Titre : A Texte : B Lien : -" in edited and "Versions : anglais" in edited
        exported = next(r for r in rows if "Export des réponses" in r)
        assert "campagne « Enquête 2027 »" in exported and "Identifié : non" in exported
        assert "Lignes : 1 234" in exported and "Disposition : large" in exported and "Langue : français" in exported
        postponed = next(r for r in rows if "Programmation reportée" in r)
        assert "Date précédente : 05/03/2026 11:00" in postponed and "Nouvelle date : 06/03/2026 17:30" in postponed
        unknown = next(r for r in rows if "someday.new" in r)  # not in the catalogue: as stored
        assert "système" in unknown and "gadget « x1 »" in unknown and "odd_key : 7" in unknown
        await page.goto(dashboard.base + "/lang/en?next=/audit")
        log = await page.inner_text("main")
        assert "Poll closed" in log and f"poll #{poll.id}" in log and "By: a moderator" in log
        assert "Identified: no" in log and "Rows: 1,234" in log
    finally:
        await ctx.close()


async def test_the_overview_says_the_next_monthly_slot_has_nothing_to_post(dashboard, browser):
    """December's extract is out, the queue starts in January: the overview's planned posts say
    the 7 December slot posts nothing, not « Sans mois » (January's, the head of the queue)."""
    from datetime import UTC, datetime

    from storage.models import Extract

    dashboard.clock.set(datetime(2026, 12, 1, 11, 0, tzinfo=UTC))
    async with dashboard.services.sessions.begin() as session:
        session.add_all([
            Extract(source_key="file:x/decembre.md", title="Décembre", month="2026-12", lang="fr",
                    status="published", published_at=datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),
            Extract(source_key="file:x/janvier.md", title="Sans mois", month="2027-01", lang="fr"),
        ])
    ctx, page = await sign_in(browser, dashboard)
    try:
        planned = await page.locator("section[aria-labelledby=planned]").inner_text()
        assert "07/12/2026 10:00 — Extrait mensuel\u202f: rien à poster ce mois-là" in planned
        assert "Sans mois" not in planned
    finally:
        await ctx.close()


async def test_a_bad_upload_is_refused_in_the_readers_language_and_stores_nothing(dashboard, browser, tmp_path):
    ctx, page = await sign_in(browser, dashboard)
    try:
        bad = tmp_path / "notes.txt"
        bad.write_text("pas du markdown", encoding="utf-8")
        await upload_extract(page, bad, base=dashboard.base)
        assert "Le fichier doit être un Markdown (.md)." in await page.locator("[role=alert]").inner_text()
        broken = tmp_path / "broken.md"
        broken.write_text("---\ntitle = [\n---\n", encoding="utf-8")
        await upload_extract(page, broken)  # from the error page's form
        assert await page.locator("[role=alert]").count() == 1
        assert "La file est vide." in await page.inner_text("main")

        # what the form asks for: a file with its front matter, of a monthly extract's size
        one_line = tmp_path / "extrait.md"
        one_line.write_text("Un titre tout seul\n", encoding="utf-8")
        await upload_extract(page, one_line)
        alert = (await page.locator("[role=alert]").inner_text()).replace("\u202f", " ")
        assert alert.startswith("extrait.md : l’en-tête manque.") and "deux lignes « --- » (title, month, lang…)" in alert
        pasted = tmp_path / "rapport.md"  # a whole report pasted, no front matter: 405 kB
        pasted.write_text("Rapport\n\n" + "".join(f"Paragraphe {i} : " + "mot " * 100 + "\n\n" for i in range(970)),
                          encoding="utf-8")
        assert pasted.stat().st_size > 400_000
        await upload_extract(page, pasted)
        alert = (await page.locator("[role=alert]").inner_text()).replace("\u202f", " ")
        assert "rapport.md : le fichier est trop gros (128 ko au plus ; le texte d’un extrait fait au plus 20 000 caractères)" in alert
        long = tmp_path / "long.md"
        long.write_text('---\ntitle = "Long"\nmonth = "2027-05"\n---\n'
                        + "".join(f"Paragraphe {i} : " + "mot " * 100 + "\n\n" for i in range(60)), encoding="utf-8")
        await upload_extract(page, long)
        alert = (await page.locator("[role=alert]").inner_text()).replace("\u202f", " ")
        assert "long.md : le texte de l’extrait fait 25 008 caractères ; 20 000 au plus (environ 4 messages" in alert
        assert "La file est vide." in await page.inner_text("main")
    finally:
        await ctx.close()


def test_the_dashboard_ships_its_templates_and_stylesheet():
    """What pyproject's package-data must carry for an installed copy to serve pages."""
    web = Path(__file__).resolve().parents[2] / "web"
    assert (web / "static" / "dashboard.css").is_file()
    assert {p.name for p in (web / "templates").glob("*.html")} >= {
        "base.html", "overview.html", "poll.html", "campaign.html", "exports.html", "extracts.html",
        "extract.html", "audit.html", "login.html", "error.html"}
