"""The demo's feature scenes (imported by ``bot.demo``), played in the order they are defined."""

from __future__ import annotations

from bot.demo import DemoWorld, scene
from bot.simcord_support import set_locale


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
