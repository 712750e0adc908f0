"""The demo's feature scenes (imported by ``bot.demo``), played in the order they are defined."""

from __future__ import annotations

import os
from pathlib import Path

from bot.demo import DemoWorld, scene
from bot.services import extracts as extracts_service
from bot.services.exports import Exporter, ExportRequest
from bot.simcord_support import set_locale

DEMO_CONTENT = Path(__file__).with_name("demo_content")


def _poll_id(result) -> int:
    text = result.response.content
    return int(text.split("°" if "°" in text else "#")[1].split()[0])


def _member(w: DemoWorld, name: str, display: str, locale: str = "fr"):
    for actor in w.extra_members:
        if actor.name == name:
            return actor
    actor = w.guild.add_member(w.env.create_user(name, global_name=display))
    set_locale(actor, locale)
    w.extra_members.append(actor)
    return actor


@scene
async def campaign_and_profiles(w: DemoWorld) -> None:
    w.say("\n— A moderator opens the survey campaign; members say who they are (after consenting) —")
    w.show("Camille (moderator)", "/sondage campagne creer « Enquête membres 2026-2027 »",
           await w.moderator.slash(w.fr, "poll campaign create", name="Enquête membres 2026-2027"))
    _member(w, "lea", "Léa")
    _member(w, "karim", "Karim")
    people = (
        (w.awa, "Awa", w.fr, "J’accepte", "collectivite", {"organisation": "Ville de Rennes", "region": "Bretagne"}),
        (_member(w, "lea", "Léa"), "Léa", w.fr, "J’accepte", "reseau", {"organisation": "Réseau régional Grand Est"}),
        (_member(w, "karim", "Karim"), "Karim", w.fr, "J’accepte", "ong", {"organisation": "Solidarités Sahel"}),
        (w.sam, "Sam (en-US)", w.en, "I agree", "reseau", {"organisation": "Cooperation network", "region": "Wales"}),
    )
    for actor, who, channel, accept, member_type, fields in people:
        shown = await actor.slash(channel, "profile")
        if actor is w.awa:
            w.show(who, "/profil", shown)
        accepted = await actor.click(shown.response, label=accept)
        chosen = await actor.select(accepted.response, [member_type])
        saved = await actor.submit_modal(chosen, fields)
        w.show(who, f"[{accept}] → type « {member_type} » → {fields.get('organisation')}", saved)


@scene
async def monthly_extract(w: DemoWorld) -> None:
    w.say("\n— The month's extract of the members' survey report, French and English —")
    bot = w.bot
    result = await extracts_service.import_path(bot.sessions, DEMO_CONTENT, now=bot.clock(), tz=bot.config.tz)
    w.say(f"● reseau-bot extracts import {DEMO_CONTENT.name}/ → {len(result.created)} extract(s) queued: "
          + ", ".join(f"n°{e.id} {e.month} ({e.lang})" for e in result.created))
    w.show("Camille (moderator)", "/extrait apercu", await w.moderator.slash(w.fr, "extract preview"))
    slot = bot.clock()
    w.say(f"● The monthly slot fires ({slot.astimezone(bot.config.tz):%Y-%m-%d %H:%M} Europe/Paris, "
          "time injected as the scheduler would)")
    await bot.get_cog("Extracts").run_monthly_slot(slot)
    await w.env.settle()
    *_, fr_extract, fr_poll = [m for m in w.fr.history() if m.author.bot]
    *_, en_extract, en_poll = [m for m in w.en.history() if m.author.bot]
    w.show_message("annonces", fr_extract)
    w.show_message("announcements", en_extract)
    w.say("● …and the month's question, asked back as a poll in the current campaign:")
    w.show_message("annonces", fr_poll)
    w.show_message("announcements", en_poll)
    again = await bot.get_cog("Extracts").run_monthly_slot(slot)
    w.say(f"● The same slot again (a restart, a repeated hour): {'nothing posted' if again is None else again}")
    for actor, who, message, label in (
        (w.awa, "Awa (collectivité)", fr_poll, "Des échanges entre pairs"),
        (_member(w, "lea", "Léa"), "Léa (réseau)", fr_poll, "Un appui individuel"),
        (_member(w, "karim", "Karim"), "Karim (ONG)", fr_poll, "Des échanges entre pairs"),
        (w.sam, "Sam (network)", en_poll, "Peer exchanges"),
    ):
        w.show(who, f"clicks [{label}]", await actor.click(message, label=label))
    w.followup_poll_message = fr_poll


@scene
async def announcement(w: DemoWorld) -> None:
    w.say("\n— A moderator writes an announcement, previews it, publishes it —")
    form = await w.moderator.slash(w.fr, "announce new")
    w.say("▶ Camille (moderator) → /annonce nouvelle (a form opens: title, text, optional link)")
    preview = await w.moderator.submit_modal(form, {
        "title": "Rencontre annuelle du réseau",
        "text": "La rencontre annuelle aura lieu le 12 mars à Lyon et en ligne. "
                "Inscriptions ouvertes jusqu’au 20 février.",
        "link": "https://example.org/reseau/rencontre",
    })
    w.show("Camille (moderator)", "submits the form → preview", preview)
    done = await w.moderator.click(preview.response, label="Publier maintenant")
    w.show("Camille (moderator)", "clicks [Publier maintenant]", done)
    await w.env.settle()
    w.show_message("annonces", w.fr.last_message)
    w.show_message("announcements", w.en.last_message)


@scene
async def quick_poll(w: DemoWorld) -> None:
    w.say("\n— A quick poll: a moderator asks, members answer in chat, one changes her vote —")
    lea = _member(w, "lea", "Léa")
    karim = _member(w, "karim", "Karim")
    created = await w.moderator.slash(
        w.fr, "poll create",
        question="Quel format préférez-vous pour la rencontre annuelle du réseau ?",
        options="En présentiel; En ligne; Hybride",
    )
    w.show("Camille (moderator)", "/sondage creer « Quel format préférez-vous… »", created)
    poll_id = _poll_id(created)
    message = w.fr.last_message
    w.show_message("annonces", message)
    for actor, who, label in (
        (w.awa, "Awa", "En ligne"),
        (lea, "Léa", "Hybride"),
        (karim, "Karim", "Hybride"),
        (w.sam, "Sam (en-US)", "En présentiel"),
        (w.awa, "Awa, who changes her mind", "Hybride"),
    ):
        w.show(who, f"clicks [{label}]", await actor.click(message, label=label))
    closed = await w.moderator.slash(w.fr, "poll close", poll=poll_id)
    w.show("Camille (moderator)", f"/sondage clore {poll_id}", closed)
    final = next(m for m in w.fr.history() if m.id == message.id)
    w.show_message("annonces (the poll, closed)", final)
    for attachment in final.attachments:
        path = w.out / attachment.filename
        path.write_bytes(await attachment.read())
        w.wrote(path)

    w.say("\n— A poll left open for the preview page —")
    opened = await w.moderator.slash(
        w.fr, "poll create",
        question="Quel thème pour le prochain extrait du rapport d’enquête ?",
        options="Les collectivités territoriales; Les réseaux membres; L’évaluation et l’impact",
    )
    w.show("Camille (moderator)", "/sondage creer « Quel thème… »", opened)


SURVEY_QUESTIONS = """[oui/non] Avez-vous participé à une rencontre du réseau cette année ?

[multi:2] Quels formats vous aident le plus ?
Webinaires
Ateliers en présentiel
Fiches pratiques"""


@scene
async def quick_survey(w: DemoWorld) -> None:
    w.say("\n— A two-question quick survey, answered step by step (Sam stops half-way, then resumes) —")
    form = await w.moderator.slash(w.fr, "poll survey")
    posted = await w.moderator.submit_modal(form, {"title": "Enquête éclair", "questions": SURVEY_QUESTIONS})
    w.show("Camille (moderator)", "/sondage questionnaire (a form: title and questions)", posted)
    public = w.fr.last_message
    w.show_message("annonces", public)
    step1 = await w.awa.click(public, label="Répondre au questionnaire")
    w.show("Awa", "clicks [Répondre au questionnaire]", step1)
    step2 = await w.awa.click(step1.response, label="Oui")
    w.show("Awa", "clicks [Oui]", step2)
    menu = next(c for row in step2.response.components for c in row["components"] if c.get("type") == 3)
    values = {o["label"]: o["value"] for o in menu["options"]}
    done = await w.awa.select(step2.response, [values["Webinaires"], values["Fiches pratiques"]])
    w.show("Awa", "chooses Webinaires + Fiches pratiques", done)
    first = await w.sam.click(public, label="Répondre au questionnaire")
    w.show("Sam (en-US)", "clicks [Répondre au questionnaire] (the public message speaks the channel’s language)", first)
    await w.sam.click(first.response, label="Oui")
    w.say("▶ Sam (en-US) → clicks [Oui] … and walks away")
    resumed = await w.sam.click(public, label="Répondre au questionnaire")
    w.show("Sam (en-US)", "clicks the survey button again later", resumed)


@scene
async def results_by_member_type_and_export(w: DemoWorld) -> None:
    w.say("\n— Results by member type, and the export that feeds the next survey —")
    message = getattr(w, "followup_poll_message", None)
    if message is None:
        return
    bot = w.bot
    poll_id = int(message.embeds[0].title.split("°")[1].split()[0])
    results = await w.moderator.slash(w.fr, "poll results", poll=poll_id, by_type=True)
    w.show("Camille (moderator)", f"/sondage resultats {poll_id} par_type:oui", results)
    for attachment in results.response.attachments:
        path = w.out / f"poll-{poll_id}-by-member-type.png"
        path.write_bytes(await attachment.read())
        w.wrote(path)
    secret_env = bot.config.privacy.pseudonym_secret_env
    if not os.environ.get(secret_env):
        os.environ[secret_env] = "demo-only-secret-never-use-in-production"
        w.say(f"● ({secret_env} is not set: the demo uses a throw-away secret to pseudonymise respondents)")
    exporter = Exporter(bot.sessions, bot.config)
    result = await exporter.export_to_path(
        ExportRequest(campaign="Enquête membres 2026-2027", format="csv", layout="wide", separator=";"),
        w.out / "enquete-membres-2026-2027-wide.csv",
    )
    w.say(f"▶ reseau-bot export --campaign « Enquête membres 2026-2027 » --layout wide --separator ';' → "
          f"{result.respondents} respondents, {result.answers} answers, {result.questions} questions")
    for path in result.files:
        w.wrote(path)
    head = (w.out / "enquete-membres-2026-2027-wide.csv").read_text(encoding="utf-8-sig").splitlines()[:3]
    w.say("\n".join("    " + line for line in head))
