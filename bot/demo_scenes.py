"""The demo's feature scenes (imported by ``bot.demo``), played in the order they are defined."""

from __future__ import annotations

from pathlib import Path

from bot.demo import DemoWorld, scene
from bot.services import extracts as extracts_service
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
    w.show_message("annonces", w.fr.last_message)
    w.show_message("announcements", w.en.last_message)
    again = await bot.get_cog("Extracts").run_monthly_slot(slot)
    w.say(f"● The same slot again (a restart, a repeated hour): {'nothing posted' if again is None else again}")


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
