"""End to end on SimCord: READY, command sync, /help in both languages, moderator refusal,
restart on the same database."""

from __future__ import annotations

import simcord

from bot.client import COMMANDS_HASH_KEY
from cogs._errors import NotModerator
from storage.repositories import StateRepository
from tests.conftest import embed_text


async def test_ready_and_commands_synced_with_french_names(world):
    env = world.env
    assert env.bot.is_ready()
    puts = [r for r in env.http_requests if r.method == "PUT" and r.path.endswith("/commands")]
    assert len(puts) == 1, "the tree is synced exactly once on a fresh database"
    by_name = {c["name"]: c for c in puts[0].json}
    assert by_name["help"]["name_localizations"]["fr"] == "aide"
    assert by_name["status"]["name_localizations"]["fr"] == "etat"
    assert "Ce que fait" in by_name["help"]["description_localizations"]["fr"]


async def test_help_in_french_for_a_french_member(world):
    result = await world.member_fr.slash(world.fr, "help")
    assert result.ephemeral
    text = embed_text(result.response)
    assert "Pour les membres" in text
    assert "Pour les modérateurs" not in text  # a plain member does not see moderator commands


async def test_help_in_english_for_an_english_member(world):
    result = await world.member_en.slash(world.en, "help")
    assert result.ephemeral
    assert "For members" in embed_text(result.response)


async def test_help_shows_moderator_commands_to_moderators(world):
    result = await world.moderator.slash(world.fr, "help")
    assert "Pour les modérateurs" in embed_text(result.response)


async def test_non_moderator_is_refused_a_moderator_command(world):
    result = await world.member_fr.slash(world.fr, "status")
    assert result.ephemeral
    assert "réservée aux modérateurs" in result.response.content
    english = await world.member_en.slash(world.en, "status")
    assert "for the network's moderators" in english.response.content
    simcord.assert_error(world.env, NotModerator)


async def test_moderator_gets_status(world):
    result = await world.moderator.slash(world.fr, "status")
    assert result.ephemeral
    text = embed_text(result.response)
    assert "État du bot" in text
    assert str(world.fr.id) in text and str(world.en.id) in text


async def test_restart_on_same_database_answers_again_without_resync(world, bot_factory, sessions):
    env = world.env
    async with sessions() as session:
        digest = await StateRepository(session).get(COMMANDS_HASH_KEY)
    assert digest
    before = len(env.http_requests)
    await env.restart_bot(bot_factory(world.config))
    assert env.bot.is_ready()
    result = await world.member_fr.slash(world.fr, "help")
    assert "Pour les membres" in embed_text(result.response)
    new_puts = [r for r in env.http_requests[before:] if r.method == "PUT" and r.path.endswith("/commands")]
    assert new_puts == [], "unchanged commands are not re-synced after a restart"
