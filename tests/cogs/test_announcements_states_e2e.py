"""An announcement's state as moderators read it, end to end on SimCord: a refusal names the
state in the reader's language (« état : retirée », never ``withdrawn``), a withdrawal of what
was never published says why, /calendar cancel agrees with what it cancelled, and /announce edit
— labelled in the moderator's language — refuses a withdrawn announcement before its form is
typed (and again at submit, when it was withdrawn meanwhile)."""

from __future__ import annotations

from datetime import timedelta

import simcord

from bot.errors import Conflict
from bot.simcord_support import set_locale
from tests.cogs.test_announcements_calendar_e2e import compose, last_announcement, plain
from tests.time_ahead import SOON, at, local_text

RAW_STATES = ("draft", "scheduled", "published", "cancelled", "missed", "withdrawn", "recurring")


def english_moderator(world):
    moderator = world.guild.add_member(world.env.create_user("jo"), roles=[world.mod_role])
    set_locale(moderator, "en-US")
    return moderator


def labels(shown) -> dict[str, str]:
    """A modal's fields: custom id → label."""
    fields = [field for row in shown.modal["components"] for field in row["components"]]
    return {field["custom_id"]: field["label"] for field in fields}


async def published(world, sessions):
    preview = await compose(world)
    await world.moderator.click(preview.response, label="Publier maintenant")
    return await last_announcement(sessions)


async def test_refusals_name_the_state_in_the_readers_language(world, sessions):
    draft_preview = await compose(world)
    draft = await last_announcement(sessions)
    refused = await world.moderator.slash(world.fr, "announce withdraw", id=draft.id)
    assert plain(refused.response.content) == (
        f"L’annonce n° {draft.id} ne peut pas être retirée : seule une annonce publiée peut l’être (état : brouillon)."
    )
    await world.moderator.click(draft_preview.response, label="Annuler")
    cancelled = await world.moderator.slash(world.fr, "announce cancel", id=draft.id)
    assert plain(cancelled.response.content) == f"L’annonce n° {draft.id} n’est plus modifiable (état : annulée)."

    announcement = await published(world, sessions)
    await world.moderator.slash(world.fr, "announce withdraw", id=announcement.id)
    again = await world.moderator.slash(world.fr, "announce withdraw", id=announcement.id)
    assert plain(again.response.content) == (
        f"L’annonce n° {announcement.id} ne peut pas être retirée : seule une annonce publiée peut l’être"
        " (état : retirée)."
    )
    undo = await world.moderator.slash(world.fr, "announce cancel", id=announcement.id)
    assert plain(undo.response.content) == f"L’annonce n° {announcement.id} n’est plus modifiable (état : retirée)."
    english = await english_moderator(world).slash(world.fr, "announce cancel", id=announcement.id)
    assert english.response.content == f"Announcement #{announcement.id} can no longer be changed (status: withdrawn)."
    for reply in (refused, cancelled, again, undo):
        assert not any(state in reply.response.content for state in RAW_STATES), reply.response.content
    simcord.assert_error(world.env, Conflict)


async def test_calendar_cancel_agrees_with_an_announcement_and_postpone_names_its_state(world, sessions):
    world.env.bot.clock = at(SOON - timedelta(days=1))
    preview = await compose(world)
    form = await world.moderator.click(preview.response, label="Programmer")
    await world.moderator.submit_modal(form, {"when": local_text(SOON), "repeat": ""})
    announcement = await last_announcement(sessions)
    ref = f"announcement-{announcement.id}"
    done = await world.moderator.slash(world.fr, "calendar cancel", reference=ref)
    assert plain(done.response.content) == f"Annulée : Annonce `{ref}`."
    moved = await world.moderator.slash(world.fr, "calendar postpone", reference=ref, when=local_text(SOON))
    assert plain(moved.response.content) == (
        f"L’annonce n° {announcement.id} n’est pas programmée : il n’y a rien à reporter (état : annulée)."
    )
    simcord.assert_error(world.env, Conflict)


async def test_the_edit_form_speaks_the_moderators_language(world, sessions):
    announcement = await published(world, sessions)  # written in French by the French moderator
    english = english_moderator(world)
    form = await english.slash(world.fr, "announce edit", id=announcement.id)
    assert form.modal is not None and form.modal["title"] == f"Edit announcement #{announcement.id}"
    assert labels(form) == {
        "title": "Title", "text": "Text", "link": "Link (optional)",
        "other_title": "Title in English (optional)", "other_text": "Text in English (optional)",
    }
    french = await world.moderator.slash(world.fr, "announce edit", id=announcement.id)
    assert labels(french)["other_title"] == "Titre en anglais (facultatif)"

    shown = await english.slash(world.en, "announce new")  # an English announcement…
    preview = await english.submit_modal(shown, {"title": "AGM", "text": "See you in Lyon.", "link": ""})
    await english.click(preview.response, label="Publish now")
    written_in_english = await last_announcement(sessions)
    assert written_in_english.lang == "en"
    french = await world.moderator.slash(world.fr, "announce edit", id=written_in_english.id)
    assert labels(french)["other_title"] == "Titre en français (facultatif)"  # …its other version is French
    assert labels(french)["other_text"] == "Texte en français (facultatif)"


async def test_a_withdrawn_announcement_is_refused_before_its_form_and_again_at_submit(world, sessions):
    announcement = await published(world, sessions)
    form = await world.moderator.slash(world.fr, "announce edit", id=announcement.id)
    assert form.modal is not None
    await world.moderator.slash(world.fr, "announce withdraw", id=announcement.id)  # meanwhile
    late = await world.moderator.submit_modal(form, {"title": "Nouveau titre", "text": "Nouveau texte", "link": ""})
    assert plain(late.response.content) == f"L’annonce n° {announcement.id} n’est plus modifiable (état : retirée)."
    assert (await last_announcement(sessions)).title == "Assemblée générale"

    before = len(world.env.http_requests)
    refused = await world.moderator.slash(world.fr, "announce edit", id=announcement.id)
    assert refused.modal is None, "refused before the moderator types anything"
    assert plain(refused.response.content) == f"L’annonce n° {announcement.id} n’est plus modifiable (état : retirée)."
    assert refused.ephemeral
    assert not [r for r in world.env.http_requests[before:] if r.method == "PATCH"]
    simcord.assert_error(world.env, Conflict)
