"""The demo's feature scenes (imported by ``bot.demo``), played in the order they are defined."""

from __future__ import annotations

import os
from pathlib import Path

from bot.demo import DemoWorld, scene
from bot.services.exports import ExportRequest
from bot.simcord_support import set_locale

DEMO_CONTENT = Path(__file__).with_name("demo_content")


def _poll_id(result) -> int:
    text = result.response.content
    return int(text.split("°" if "°" in text else "#")[1].split()[0])


def _camille(w: DemoWorld) -> str:
    return w.t("demo.moderator", name="Camille")


def _type_label(w: DemoWorld, code: str) -> str:
    """A member type's label in the narration's language (from the configured types)."""
    for member_type in w.bot.config.member_types:
        if member_type.code == code:
            return member_type.label(w.lang)
    return code


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
    w.title(w.t("demo.scene.campaign"))
    w.show(_camille(w), "/sondage campagne creer « Enquête membres 2026-2027 »",
           await w.moderator.slash(w.fr, "poll campaign create", name="Enquête membres 2026-2027"))
    _member(w, "lea", "Léa")
    _member(w, "karim", "Karim")
    people = (
        (w.awa, "Awa", w.fr, "J’accepte", "collectivite", {"organisation": "Ville de Rennes", "region": "Bretagne"}),
        (_member(w, "lea", "Léa"), "Léa", w.fr, "J’accepte", "reseau", {"organisation": "Réseau régional Grand Est"}),
        (_member(w, "karim", "Karim"), "Karim", w.fr, "J’accepte", "ong", {"organisation": "Solidarités Sahel"}),
        (w.sam, "Sam (en-US)", w.en, "I agree", "reseau",
         {"organisation": "Cooperation network", "region": "Wales"}),
    )
    for actor, who, channel, accept, member_type, fields in people:
        shown = await actor.slash(channel, "profile")
        if actor is w.awa:
            w.show(who, "/profil", shown)
        accepted = await actor.click(shown.response, label=accept)
        chosen = await actor.select(accepted.response, [member_type])
        saved = await actor.submit_modal(chosen, fields)
        w.show(who, w.t("demo.profile_steps", accept=accept, type=_type_label(w, member_type),
                        organisation=fields.get("organisation")), saved)


@scene
async def monthly_extract(w: DemoWorld) -> None:
    w.title(w.t("demo.scene.extract"))
    bot = w.bot
    result = await bot.services.import_extracts(str(DEMO_CONTENT))
    queued = ", ".join(w.t("demo.extract_item", id=e.id, month=w.bot.catalogue.iso_month(e.month, w.lang), lang=e.lang) for e in result.created)
    w.say(w.t("demo.extracts_imported", folder=DEMO_CONTENT.name, extracts=queued))
    w.show(_camille(w), "/extrait apercu", await w.moderator.slash(w.fr, "extract preview"))
    slot = bot.clock()
    w.say(w.t("demo.slot_fires", when=f"{slot.astimezone(bot.config.tz):%Y-%m-%d %H:%M}",
              tz=bot.config.bot.timezone))
    await bot.get_cog("Extracts").run_monthly_slot(slot)
    await w.env.settle()
    *_, fr_extract, fr_poll = [m for m in w.fr.history() if m.author.bot]
    *_, en_extract, en_poll = [m for m in w.en.history() if m.author.bot]
    w.show_message("annonces", fr_extract)
    w.show_message("announcements", en_extract)
    w.say(w.t("demo.question_asked"))
    w.show_message("annonces", fr_poll)
    w.show_message("announcements", en_poll)
    again = await bot.get_cog("Extracts").run_monthly_slot(slot)
    if again is None:
        w.say(w.t("demo.slot_again_nothing"))
    else:
        w.say(w.t("demo.slot_again_posted", result=again))
    for actor, name, member_type, message, label in (
        (w.awa, "Awa", "collectivite", fr_poll, "Des échanges entre pairs"),
        (_member(w, "lea", "Léa"), "Léa", "reseau", fr_poll, "Un appui individuel"),
        (_member(w, "karim", "Karim"), "Karim", "ong", fr_poll, "Des échanges entre pairs"),
        (w.sam, "Sam", "reseau", en_poll, "Peer exchanges"),
    ):
        who = w.t("demo.member_of_type", name=name, type=_type_label(w, member_type))
        w.show(who, w.t("demo.clicks", label=label), await actor.click(message, label=label))
    w.followup_poll_message = fr_poll


@scene
async def announcement(w: DemoWorld) -> None:
    w.title(w.t("demo.scene.announcement"))
    form = await w.moderator.slash(w.fr, "announce new")
    w.say(w.t("demo.acts", who=_camille(w), action=w.t("demo.announcement_form", command="/annonce nouvelle")))
    preview = await w.moderator.submit_modal(form, {
        "title": "Rencontre annuelle du réseau",
        "text": "La rencontre annuelle aura lieu le 12 mars à Lyon et en ligne. "
                "Inscriptions ouvertes jusqu’au 20 février.",
        "link": "https://example.org/reseau/rencontre",
    })
    w.show(_camille(w), w.t("demo.submits_form_preview"), preview)
    done = await w.moderator.click(preview.response, label="Publier maintenant")
    w.show(_camille(w), w.t("demo.clicks", label="Publier maintenant"), done)
    await w.env.settle()
    w.show_message("annonces", w.fr.last_message)
    w.show_message("announcements", w.en.last_message)


@scene
async def quick_poll(w: DemoWorld) -> None:
    w.title(w.t("demo.scene.quick_poll"))
    lea = _member(w, "lea", "Léa")
    karim = _member(w, "karim", "Karim")
    created = await w.moderator.slash(
        w.fr, "poll create",
        question="Quel format préférez-vous pour la rencontre annuelle du réseau ?",
        options="En présentiel; En ligne; Hybride",
    )
    w.show(_camille(w), "/sondage creer « Quel format préférez-vous… »", created)
    poll_id = _poll_id(created)
    message = w.fr.last_message
    w.show_message("annonces", message)
    for actor, who, label in (
        (w.awa, "Awa", "En ligne"),
        (lea, "Léa", "Hybride"),
        (karim, "Karim", "Hybride"),
        (w.sam, "Sam (en-US)", "En présentiel"),
        (w.awa, w.t("demo.changes_her_mind", name="Awa"), "Hybride"),
    ):
        w.show(who, w.t("demo.clicks", label=label), await actor.click(message, label=label))
    closed = await w.moderator.slash(w.fr, "poll close", poll=poll_id)
    w.show(_camille(w), f"/sondage clore {poll_id}", closed)
    final = next(m for m in w.fr.history() if m.id == message.id)
    w.show_message("annonces", final, note=w.t("demo.poll_closed"))
    for attachment in final.attachments:
        path = w.out / attachment.filename
        path.write_bytes(await attachment.read())
        w.wrote(path)

    w.title(w.t("demo.scene.open_poll"))
    opened = await w.moderator.slash(
        w.fr, "poll create",
        question="Quel thème pour le prochain extrait du rapport d’enquête ?",
        options="Les collectivités territoriales; Les réseaux membres; L’évaluation et l’impact",
    )
    w.show(_camille(w), "/sondage creer « Quel thème… »", opened)


SURVEY_QUESTIONS = """[oui/non] Avez-vous participé à une rencontre du réseau cette année ?

[multi:2] Quels formats vous aident le plus ?
Webinaires
Ateliers en présentiel
Fiches pratiques"""


@scene
async def quick_survey(w: DemoWorld) -> None:
    w.title(w.t("demo.scene.survey"))
    form = await w.moderator.slash(w.fr, "poll survey")
    posted = await w.moderator.submit_modal(form, {"title": "Enquête éclair", "questions": SURVEY_QUESTIONS})
    w.show(_camille(w), w.t("demo.survey_form", command="/sondage questionnaire"), posted)
    public = w.fr.last_message
    w.show_message("annonces", public)
    step1 = await w.awa.click(public, label="Répondre au questionnaire")
    w.show("Awa", w.t("demo.clicks", label="Répondre au questionnaire"), step1)
    step2 = await w.awa.click(step1.response, label="Oui")
    w.show("Awa", w.t("demo.clicks", label="Oui"), step2)
    menu = next(c for row in step2.response.components for c in row["components"] if c.get("type") == 3)
    values = {o["label"]: o["value"] for o in menu["options"]}
    done = await w.awa.select(step2.response, [values["Webinaires"], values["Fiches pratiques"]])
    w.show("Awa", w.t("demo.chooses", choices="Webinaires + Fiches pratiques"), done)
    first = await w.sam.click(public, label="Répondre au questionnaire")
    w.show("Sam (en-US)", w.t("demo.clicks_channel_language", label="Répondre au questionnaire"), first)
    await w.sam.click(first.response, label="Yes")  # a built-in option, in his language
    w.say(w.t("demo.acts", who="Sam (en-US)", action=w.t("demo.clicks_and_leaves", label="Yes")))
    resumed = await w.sam.click(public, label="Répondre au questionnaire")
    w.show("Sam (en-US)", w.t("demo.clicks_again_later"), resumed)


@scene
async def results_by_member_type_and_export(w: DemoWorld) -> None:
    w.title(w.t("demo.scene.results"))
    message = getattr(w, "followup_poll_message", None)
    if message is None:
        return
    bot = w.bot
    poll_id = int(message.embeds[0].title.split("°")[1].split()[0])
    results = await w.moderator.slash(w.fr, "poll results", poll=poll_id, by_type=True)
    w.show(_camille(w), f"/sondage resultats {poll_id} par_type:oui", results)
    for attachment in results.response.attachments:
        path = w.out / f"poll-{poll_id}-by-member-type.png"
        path.write_bytes(await attachment.read())
        w.wrote(path)
    secret_env = bot.config.privacy.pseudonym_secret_env
    if not os.environ.get(secret_env):
        os.environ[secret_env] = "demo-only-secret-never-use-in-production"
        w.say(w.t("demo.throwaway_secret", variable=secret_env))
    result = await bot.services.exports.export_to_path(
        ExportRequest(campaign="Enquête membres 2026-2027", format="csv", layout="wide", separator=";"),
        w.out / "enquete-membres-2026-2027-wide.csv",
    )
    w.say(w.t("demo.exported", options="--campaign « Enquête membres 2026-2027 » --layout wide --separator ';'",
              respondents=result.respondents, answers=result.answers, questions=result.questions))
    for path in result.files:
        w.wrote(path)
    head = (w.out / "enquete-membres-2026-2027-wide.csv").read_text(encoding="utf-8-sig").splitlines()[:3]
    w.say("\n".join("    " + line for line in head))
