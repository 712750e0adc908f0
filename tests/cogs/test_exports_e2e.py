"""/export end to end on SimCord: a moderator gets the file and its codebook attached
ephemerally; a member is refused; a missing secret and an oversized export are explained."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
import simcord
from sqlalchemy import select

from bot.errors import NotFound
from bot.services.exports import ExportTooLarge, MissingSecret
from bot.simcord_support import set_locale
from cogs._errors import NotModerator
from storage.models import Poll
from tests.command_access import assert_hidden, open_to_everyone
from tests.export_data import CAMPAIGN, U1, build_survey

SECRET = "a long enough secret for the tests"

# An export runs in a worker process (its first one starts the pool and imports openpyxl): on a
# loaded machine that real work outlasts SimCord's default 5 s wait for the bot to settle.
pytestmark = pytest.mark.simcord(settle_timeout=60)


def _message_with_files(result):
    for message in [result.response, *result.followups]:
        if message is not None and message.attachments:
            return message
    raise AssertionError(f"no attachment in {result!r}")


async def test_moderator_exports_a_campaign_as_csv_with_codebook(world, sessions, monkeypatch):
    monkeypatch.setenv("RESEAU_EXPORT_SECRET", SECRET)
    survey = await build_survey(sessions, world.guild.id)
    result = await world.moderator.slash(world.fr, "export", format="csv", layout="wide", campaign=CAMPAIGN)
    assert result.ephemeral
    message = _message_with_files(result)
    assert message.ephemeral
    assert "Export prêt" in message.content and "pseudonymisés" in message.content
    files = {a.filename: a for a in message.attachments}
    assert set(files) == {"campaign-enquete-membres-2026-2027-wide.csv",
                          "campaign-enquete-membres-2026-2027-wide.codebook.csv"}
    data = await files["campaign-enquete-membres-2026-2027-wide.csv"].read()
    assert data.startswith(b"\xef\xbb\xbf")
    # a French moderator gets ';' by default (French Excel)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == 5
    assert str(U1).encode() not in data
    assert rows[0]["campaign"] == CAMPAIGN
    codebook = await files["campaign-enquete-membres-2026-2027-wide.codebook.csv"].read()
    codes = {r["code"] for r in csv.DictReader(io.StringIO(codebook.decode("utf-8-sig")), delimiter=";")}
    assert {f"besoin_p{survey.poll_a}", "themes", "climat", "collectivite"} <= codes


async def test_moderator_exports_one_poll_as_xlsx_in_english(world, sessions, monkeypatch):
    monkeypatch.setenv("RESEAU_EXPORT_SECRET", SECRET)
    survey = await build_survey(sessions, world.guild.id)
    set_locale(world.moderator, "en-US")
    result = await world.moderator.slash(world.en, "export", format="xlsx", poll=survey.poll_a)
    message = _message_with_files(result)
    assert message.ephemeral and message.content.startswith(
        "Export ready: 8 answers from 5 respondents (10 rows); the codebook is in the \"codebook\" sheet.")
    (attachment,) = message.attachments
    assert attachment.filename == f"poll-{survey.poll_a}-long.xlsx"
    workbook = openpyxl.load_workbook(io.BytesIO(await attachment.read()), read_only=True)
    assert workbook.sheetnames == ["answers", "codebook"]


async def test_the_csv_separator_follows_the_exports_language(world, sessions, monkeypatch):
    """An English moderator asking for French labels gets what French Excel reads: ';'."""
    monkeypatch.setenv("RESEAU_EXPORT_SECRET", SECRET)
    await build_survey(sessions, world.guild.id)
    set_locale(world.moderator, "en-US")
    result = await world.moderator.slash(world.en, "export", format="csv", campaign=CAMPAIGN, language="fr")
    data = await next(a for a in _message_with_files(result).attachments if "codebook" not in a.filename).read()
    assert data.decode("utf-8-sig").splitlines()[0].startswith("respondent;member_type;")


async def test_one_answer_is_said_in_the_singular(world, sessions, monkeypatch):
    monkeypatch.setenv("RESEAU_EXPORT_SECRET", SECRET)
    await world.moderator.slash(world.fr, "poll create", question="Quel format ?", options="Visio; Présentiel")
    await world.member_fr.click(world.fr.last_message, label="Visio")
    async with sessions() as session:
        poll_id = await session.scalar(select(Poll.id))
    result = await world.moderator.slash(world.fr, "export", format="csv", poll=poll_id)
    assert _message_with_files(result).content.startswith(
        "Export prêt\u202f: 1 réponse de 1 répondant (1 ligne), avec son dictionnaire des codes.")


async def test_member_is_refused(world, sessions, monkeypatch):
    monkeypatch.setenv("RESEAU_EXPORT_SECRET", SECRET)
    await build_survey(sessions, world.guild.id)
    await assert_hidden(world.member_fr, world.fr, "export")
    await open_to_everyone(world, "export")
    result = await world.member_fr.slash(world.fr, "export", format="csv", campaign=CAMPAIGN)
    assert result.ephemeral
    assert "réservée aux modérateurs" in result.response.content
    assert not result.response.attachments
    simcord.assert_error(world.env, NotModerator)


async def test_missing_secret_is_explained(world, sessions, monkeypatch):
    monkeypatch.delenv("RESEAU_EXPORT_SECRET", raising=False)
    await build_survey(sessions, world.guild.id)
    result = await world.moderator.slash(world.fr, "export", format="csv", campaign=CAMPAIGN)
    assert result.ephemeral
    assert "RESEAU_EXPORT_SECRET" in result.response.content
    assert not result.response.attachments
    simcord.assert_error(world.env, MissingSecret)


async def test_poll_of_another_server_is_not_found(world, sessions, monkeypatch):
    monkeypatch.setenv("RESEAU_EXPORT_SECRET", SECRET)
    survey = await build_survey(sessions, world.guild.id)
    result = await world.moderator.slash(world.fr, "export", format="json", poll=survey.poll_c)
    texts = [m.content for m in [result.response, *result.followups] if m is not None]
    assert any(f"Aucun sondage n°\u00a0{survey.poll_c}" in t for t in texts), texts
    assert all(not m.attachments for m in [result.response, *result.followups] if m is not None)
    simcord.assert_error(world.env, NotFound)


async def test_too_large_for_an_attachment_is_refused_clearly(world, sessions, monkeypatch):
    monkeypatch.setenv("RESEAU_EXPORT_SECRET", SECRET)
    world.env.bot.get_cog("Exports").max_attachment_bytes = 300
    await build_survey(sessions, world.guild.id)
    result = await world.moderator.slash(world.fr, "export", format="csv", campaign=CAMPAIGN)
    messages = [m for m in [result.response, *result.followups] if m is not None]
    assert any("taille maximale" in m.content and "reseau-bot export" in m.content for m in messages), messages
    assert all(not m.attachments for m in messages)
    assert all(m.ephemeral for m in messages)
    simcord.assert_error(world.env, ExportTooLarge)


async def test_campaign_autocomplete(world, sessions):
    await build_survey(sessions, world.guild.id)
    choices = await world.moderator.autocomplete(world.fr, "export", "campaign", "membres")
    assert [c["value"] for c in choices] == [CAMPAIGN]
