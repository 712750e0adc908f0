"""Who may do what, from where (``bot/services/authority.py``), end to end on SimCord.

Network-wide actions (announcements, extracts, campaigns, campaign exports) come only from the
network's servers, from members holding a configured moderator role *id* there; a server that
is not the network's stores nothing and gets a one-line notice; autocompletes suggest nothing
moderator-only to members, nor anything of the network to another server.  An old config
naming roles instead of ids stops at start with a line naming the key.
"""

from __future__ import annotations

import dataclasses

import discord
import pytest
import simcord
from sqlalchemy import func, select

from bot.config import ConfigError, build_config
from bot.i18n import Catalogue
from bot.services import authority
from bot.services import extracts as extract_service
from bot.simcord_support import set_locale
from cogs._checks import OutsideNetwork
from cogs._errors import NotModerator
from storage.models import Announcement, AuditEntry, Campaign, Delivery, Poll, Profile
from tests.cli_runner import run_cli
from tests.command_access import open_to_everyone
from tests.export_data import CAMPAIGN, build_survey

CATALOGUE = Catalogue.load()
SECRET = "a long enough secret for the tests"


def t(key: str, lang: str = "fr", **params) -> str:
    return CATALOGUE.t(key, lang, **params)


async def count(sessions, model) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def stored(sessions) -> dict[str, int]:
    """Everything a refused action could have written."""
    return {m.__name__: await count(sessions, m) for m in (Announcement, AuditEntry, Campaign, Delivery, Poll, Profile)}


async def current_campaign(sessions) -> list[str]:
    async with sessions() as session:
        return list(await session.scalars(select(Campaign.name).where(Campaign.active)))


@pytest.fixture
async def outside(world):
    """A server that is not the network's (no network channel), the bot in it: its admin (who
    holds Manage Server, as every server's admin does), a member, and a role named like the
    network's moderator role."""
    env = world.env
    guild = env.create_guild(name="Serveur hors réseau")
    channel = guild.create_text_channel("general")
    admin_role = guild.create_role("Admin", permissions=discord.Permissions(administrator=True))
    lookalike = guild.create_role("Modération")
    admin = guild.add_member(env.create_user("intrus"), roles=[admin_role, lookalike])
    member = guild.add_member(env.create_user("passant"))
    set_locale(admin, "fr")
    set_locale(member, "en-US")
    return dataclasses.make_dataclass("Outside", ["guild", "channel", "admin", "member"])(guild, channel, admin, member)


def refused_outside(world, result, lang: str = "fr") -> None:
    assert result.ephemeral and result.modal is None
    assert result.response.content == t("error.not_network", lang)
    assert "\n" not in result.response.content  # one line
    simcord.assert_error(world.env, OutsideNetwork)


# ----------------------------------------------------------------------------- network-wide actions
async def test_outside_admin_cannot_publish_an_announcement(world, outside, sessions):
    before = await stored(sessions)
    result = await outside.admin.slash(outside.channel, "announce new")
    refused_outside(world, result)
    assert await stored(sessions) == before
    assert [m for m in world.fr.history() if m.author.bot] == []


async def test_outside_admin_cannot_replace_the_current_campaign(world, outside, sessions):
    created = await world.moderator.slash(world.fr, "poll campaign create", name=CAMPAIGN, current=True)
    assert created.ephemeral and CAMPAIGN in created.response.content
    before = await stored(sessions)
    for name, options in (
        ("poll campaign create", {"name": "Pirate", "current": True}),
        ("poll campaign activate", {"name": CAMPAIGN}),
        ("poll campaign list", {}),
    ):
        refused_outside(world, await outside.admin.slash(outside.channel, name, **options))
    assert await stored(sessions) == before
    assert await current_campaign(sessions) == [CAMPAIGN]


async def test_outside_admin_cannot_publish_an_extract(world, outside, sessions, tmp_path):
    folder = tmp_path / "extraits"
    folder.mkdir()
    (folder / "novembre.md").write_text(
        '---\ntitle = "Novembre"\nmonth = "2026-11"\nlang = "fr"\nlink = "https://example.org/r.pdf"\n---\nTexte.\n'
    )
    [extract] = (await extract_service.import_path(
        sessions, folder, now=world.env.bot.clock(), tz=world.config.tz
    )).extracts
    before = await stored(sessions)
    for command, options in (("extract publish", {}), ("extract publish", {"id": extract.id}), ("extract skip", {})):
        refused_outside(world, await outside.admin.slash(outside.channel, command, **options))
    assert await stored(sessions) == before
    assert [m for m in world.fr.history() if m.author.bot] == []


async def test_outside_admin_cannot_export_a_campaign(world, outside, sessions, monkeypatch):
    monkeypatch.setenv("RESEAU_EXPORT_SECRET", SECRET)
    await build_survey(sessions, world.guild.id)
    before = await stored(sessions)
    result = await outside.admin.slash(outside.channel, "export", format="csv", campaign=CAMPAIGN)
    refused_outside(world, result)
    assert all(not m.attachments for m in [result.response, *result.followups] if m is not None)
    assert await stored(sessions) == before  # not even an export in the audit log


async def test_a_role_named_like_the_moderators_gives_nothing(world, sessions, monkeypatch):
    monkeypatch.setenv("RESEAU_EXPORT_SECRET", SECRET)
    await build_survey(sessions, world.guild.id)
    lookalike = world.guild.create_role("Modération")  # same name, another id
    member = world.guild.add_member(world.env.create_user("malin"), roles=[lookalike])
    set_locale(member, "fr")
    for command in ("announce new", "export"):
        await open_to_everyone(world, command)
    before = await stored(sessions)
    network = await member.slash(world.fr, "announce new")
    assert network.modal is None and network.response.content == t("error.not_network_moderator")
    exported = await member.slash(world.fr, "export", format="csv", campaign=CAMPAIGN)
    assert not exported.followups and exported.response.content == t("error.not_moderator")
    poll = await member.slash(world.fr, "poll create", question="Q ?", options="A; B")
    assert poll.response.content == t("error.not_moderator")
    simcord.assert_error(world.env, NotModerator)
    assert await stored(sessions) == before


async def test_manage_server_in_a_network_server_is_per_server_authority_only(world, sessions):
    admin = world.guild.add_member(
        world.env.create_user("admin-local"),
        roles=[world.guild.create_role("Admin", permissions=discord.Permissions(manage_guild=True))],
    )
    set_locale(admin, "fr")
    created = await admin.slash(world.fr, "poll create", question="Q ?", options="A; B")
    assert created.ephemeral and await count(sessions, Poll) == 1  # a poll in its own server
    refused = await admin.slash(world.fr, "poll campaign create", name="Pirate", current=True)
    assert refused.response.content == t("error.not_network_moderator")
    simcord.assert_error(world.env, NotModerator)
    assert await count(sessions, Campaign) == 0


async def test_a_moderator_role_id_of_a_moderation_server_works(world, sessions):
    # A staff server with no network channel, named in bot.moderation_guild_ids, its role by id.
    env = world.env
    staff = env.create_guild(name="Équipe du réseau")
    desk = staff.create_text_channel("bureau")
    staff_role = staff.create_role("Coordination")
    coordinator = staff.add_member(env.create_user("coordinatrice"), roles=[staff_role])
    set_locale(coordinator, "fr")
    config = world.config
    await env.bot.reconfigure(dataclasses.replace(config, bot=dataclasses.replace(
        config.bot, moderator_roles=(*config.bot.moderator_roles, staff_role.id), moderation_guild_ids=(staff.id,)
    )))
    done = await coordinator.slash(desk, "poll campaign create", name=CAMPAIGN, current=True)
    assert done.response.content == t("campaign.created_current", name=CAMPAIGN)
    assert await current_campaign(sessions) == [CAMPAIGN]
    # The network's own moderator, in a channel server that is no longer a moderation server:
    # per-server actions still work there, network-wide ones do not.
    refused = await world.moderator.slash(world.fr, "poll campaign create", name="Autre")
    assert refused.response.content == t("error.not_network_moderator")
    simcord.assert_error(env, NotModerator)
    assert (await world.moderator.slash(world.fr, "poll create", question="Q ?", options="A; B")).ephemeral
    assert await count(sessions, Poll) == 1 and await count(sessions, Campaign) == 1


# ----------------------------------------------------------------------------- nothing stored outside
async def test_a_poll_in_a_server_outside_the_network_is_refused(world, outside, sessions):
    await world.moderator.slash(world.fr, "poll campaign create", name=CAMPAIGN, current=True)
    before = await stored(sessions)
    refused_outside(world, await outside.admin.slash(outside.channel, "poll create", question="Q ?", options="A; B"))
    refused_outside(world, await outside.admin.slash(outside.channel, "poll survey"))
    assert await stored(sessions) == before
    assert [m for m in outside.channel.history() if m.author.bot] == []


async def test_a_profile_outside_the_network_stores_nothing(world, outside, sessions):
    result = await outside.member.slash(outside.channel, "profile")
    refused_outside(world, result, "en")
    assert result.response.components == []
    assert await count(sessions, Profile) == 0


# ----------------------------------------------------------------------------- autocomplete
async def test_autocomplete_suggests_nothing_moderator_only_to_members(world, outside, sessions):
    await build_survey(sessions, world.guild.id)
    await world.moderator.slash(world.fr, "poll create", question="Quel format ?", options="A; B")
    # Members may create polls here, and the admin opened /export to everyone: still nothing.
    await world.env.bot.reconfigure(dataclasses.replace(
        world.config, bot=dataclasses.replace(world.config.bot, members_can_create_polls=True)
    ))
    await open_to_everyone(world, "export")
    member = world.member_fr
    assert await member.autocomplete(world.fr, "export", "campaign", "") == []
    assert await member.autocomplete(world.fr, "export", "poll", "") == []
    assert await member.autocomplete(world.fr, "poll create", "campaign", "") == []
    assert await member.autocomplete(world.fr, "poll close", "poll", "") == []
    # Nothing of the network to another server, not even to its admin.
    assert await outside.admin.autocomplete(outside.channel, "export", "campaign", "") == []
    # The network's moderator gets them.
    choices = await world.moderator.autocomplete(world.fr, "export", "campaign", "")
    assert [c["value"] for c in choices] == [CAMPAIGN]


# ----------------------------------------------------------------------------- configuration
def test_an_old_config_naming_roles_stops_at_start_naming_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"bot\.moderator_roles") as refused:
        build_config({"bot": {"moderator_roles": ["Modération"]}}, tmp_path / "config.toml", environ={})
    assert "\n" not in str(refused.value) and "'Modération'" in str(refused.value)
    # What `init` wrote before (ids as texts) still loads, as numbers.
    config = build_config({"bot": {"moderator_roles": ["333333333333333333"]}}, tmp_path / "c.toml", environ={})
    assert config.bot.moderator_roles == (333333333333333333,)

    (tmp_path / "config.toml").write_text('[bot]\nmoderator_roles = ["Modération"]\n', encoding="utf-8")
    result = run_cli("--config", str(tmp_path / "config.toml"), "schedule", cwd=tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "bot.moderator_roles" in line and "Traceback" not in result.stderr


def test_the_rule_in_plain_values(tmp_path):
    config = build_config(
        {"bot": {"moderator_roles": [11]}, "channels": [{"guild_id": 1, "channel_id": 10}]},
        tmp_path / "config.toml", environ={},
    )
    Actor, NETWORK, SERVER = authority.Actor.of, authority.Scope.NETWORK, authority.Scope.SERVER
    assert authority.may(config, Actor(1, [11]), NETWORK) and authority.may(config, Actor(1, [11]), SERVER)
    assert not authority.may(config, Actor(1, manage_guild=True), NETWORK)
    assert authority.may(config, Actor(1, manage_guild=True), SERVER)
    assert not authority.may(config, Actor(2, [11], manage_guild=True), SERVER)
    assert not authority.may(config, Actor(None, [11]), NETWORK)
    with pytest.raises(authority.OutsideNetwork):
        authority.check(config, Actor(2, manage_guild=True), SERVER)
    with pytest.raises(authority.NotNetworkModerator):
        authority.check(config, Actor(1, [12], manage_guild=True), NETWORK)
