"""End to end on SimCord: READY, command sync, /help in both languages, moderator refusal,
restart on the same database."""

from __future__ import annotations

import dataclasses

import discord
import simcord
from discord import app_commands

from bot.client import COMMANDS_HASH_KEY
from cogs._checks import MODERATOR_PERMISSIONS, is_moderator_command
from cogs._errors import NotModerator
from storage.repositories import ChannelRepository, StateRepository
from tests.command_access import assert_hidden, open_to_everyone
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


MODERATOR_COMMANDS = {"status", "export", "extract", "announce", "calendar", "dashboard"}  # README's Commands table
MEMBER_COMMANDS = {"help", "profile", "my-data", "forget-me", "poll"}  # /poll list is for everyone


async def test_moderator_commands_are_hidden_from_members_picker(world):
    """The synced payload carries Manage Server as default permissions on every command that
    is for moderators only, and on no command a member may use."""
    [put] = [r for r in world.env.http_requests if r.method == "PUT" and r.path.endswith("/commands")]
    synced = {c["name"]: c.get("default_member_permissions") for c in put.json}
    assert set(synced) == MODERATOR_COMMANDS | MEMBER_COMMANDS
    manage_guild = discord.Permissions(manage_guild=True).value
    assert MODERATOR_PERMISSIONS.value == manage_guild
    for name in MODERATOR_COMMANDS:
        assert synced[name] is not None and int(synced[name]) == manage_guild, name
    for name in MEMBER_COMMANDS:
        assert synced[name] is None, name


def _leaves(command) -> list[app_commands.Command]:
    if isinstance(command, app_commands.Group):
        return [leaf for child in command.commands for leaf in _leaves(child)]
    return [command]


async def test_hidden_exactly_when_every_sub_command_checks_for_moderators(world):
    """Whatever is added later: a top-level command is hidden from members if and only if all
    its sub-commands carry the run-time moderator check (that check stays on each of them)."""
    for command in world.env.bot.tree.get_commands():
        all_moderator = all(is_moderator_command(leaf) for leaf in _leaves(command))
        assert (command.default_permissions == MODERATOR_PERMISSIONS) is all_moderator, command.name


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


async def test_help_names_every_command_a_member_may_use(world):
    """Whatever is added later: each command without the moderator check is in the members' help."""
    member_leaves = [leaf.qualified_name for command in world.env.bot.tree.get_commands()
                     for leaf in _leaves(command) if not is_moderator_command(leaf)]
    assert "poll list" in member_leaves and "poll create" in member_leaves
    english = embed_text((await world.member_en.slash(world.en, "help")).response)
    # /poll create is a member's only where the configuration lets members create polls
    assert [name for name in member_leaves if f"`/{name}`" not in english] == ["poll create"]
    assert "`/sondage liste`" in embed_text((await world.member_fr.slash(world.fr, "help")).response)
    bot = world.env.bot
    await bot.reconfigure(dataclasses.replace(
        world.config, bot=dataclasses.replace(world.config.bot, members_can_create_polls=True)))
    english = embed_text((await world.member_en.slash(world.en, "help")).response)
    assert [name for name in member_leaves if f"`/{name}`" not in english] == []
    assert "`/sondage creer`" in embed_text((await world.member_fr.slash(world.fr, "help")).response)


async def test_help_shows_moderator_commands_to_moderators(world):
    result = await world.moderator.slash(world.fr, "help")
    assert "Pour les modérateurs" in embed_text(result.response)


async def test_non_moderator_is_refused_a_moderator_command(world):
    await assert_hidden(world.member_fr, world.fr, "status")  # not in a member's picker
    await open_to_everyone(world, "status")  # a server admin changed that: the bot still refuses
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


async def test_a_channel_configured_without_a_name_is_named_as_on_discord(world, sessions):
    """The dashboard and the codebook say « #name »: a channel the configuration names keeps that
    name; one it leaves unnamed takes Discord's, at a reconfigure (as at READY) and when renamed."""
    env = world.env

    async def names() -> dict[int, str]:
        async with sessions() as session:
            return {c.channel_id: c.name for c in await ChannelRepository(session).all()}

    env.backend.edit_channel(world.fr.id, {"name": "coop-annonces"})
    await env.settle()
    assert (await names())[world.fr.id] == "annonces"  # the configuration's name wins
    unnamed = tuple(dataclasses.replace(c, name="") for c in world.config.channels)
    await env.bot.reconfigure(dataclasses.replace(world.config, channels=unnamed))
    await env.settle()
    assert await names() == {world.fr.id: "coop-annonces", world.en.id: "announcements"}
    env.backend.edit_channel(world.fr.id, {"name": "coop-infos"})
    await env.settle()
    assert (await names())[world.fr.id] == "coop-infos"
