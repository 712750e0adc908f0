"""``reseau-bot check`` against bench/fake_discord.py's world (guilds, roles, members, channels with
overwrites), on the test database: the permission algorithm, each failure with its fix, network
trouble without a traceback, the CLI as a subprocess in French and English."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

from bench.fake_discord import FakeDiscordREST
from bot.check_cli import report_lines
from bot.cli_base import Text
from bot.config import load_config
from bot.services import check
from bot.services.check import (
    ADMINISTRATOR,
    ATTACH_FILES,
    BOT_PERMISSIONS,
    EMBED_LINKS,
    MENTION_EVERYONE,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    SEND_POLLS,
    VIEW_CHANNEL,
    Overwrite,
    effective_permissions,
)
from storage.db import create_engine, downgrade, session_factory, upgrade
from storage.repositories.extracts import ExtractRepository
from tests.conftest import PG_URL
from tests.paths import REPO

TOKEN = "MTQ1NjA3NDQ0Mzk4MDgwMDAwMQ.GabcDE.check-token-for-tests-0000000000"
GUILD, GUILD2, NOT_MEMBER = 940000000000000001, 940000000000000002, 940000000000000003
BOT_ROLE, MEMBERS, PARTNERS = 941000000000000001, 941000000000000002, 941000000000000003
ANNONCES, NEWS, MODLOG, OTHER, VOICE = (942000000000000000 + i for i in range(1, 6))
FEED_HOST = "rapports.reseau.example"
INVITE_PERMS = "permissions=562949953670144"


# --------------------------------------------------------------------------------------------
# the permission algorithm


def perms(overwrites=(), *, roles=(BOT_ROLE,), everyone=VIEW_CHANNEL, bot_role=SEND_MESSAGES, owner=1, **kw):
    return effective_permissions(
        guild_id=GUILD, owner_id=owner, user_id=7, member_roles=roles,
        role_permissions={GUILD: everyone, BOT_ROLE: bot_role, MEMBERS: 0}, overwrites=overwrites, **kw,
    )


def test_the_bot_permission_integer_and_invite_url():
    assert BOT_PERMISSIONS == 562949953670144
    assert BOT_PERMISSIONS == (VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY
                               | MENTION_EVERYONE | SEND_POLLS)
    url = check.invite_url(1100000000000000001)
    assert url == ("https://discord.com/oauth2/authorize?client_id=1100000000000000001"
                   "&permissions=562949953670144&scope=bot+applications.commands")


def test_base_permissions_owner_and_administrator():
    assert perms() == VIEW_CHANNEL | SEND_MESSAGES  # @everyone | the member's roles
    assert perms(roles=()) == VIEW_CHANNEL  # a role the member does not have does not count
    assert perms(owner=7, everyone=0, bot_role=0) == check.ALL_PERMISSIONS
    deny_all = [Overwrite(BOT_ROLE, 0, deny=check.ALL_PERMISSIONS), Overwrite(7, 1, deny=check.ALL_PERMISSIONS)]
    assert perms(deny_all, bot_role=ADMINISTRATOR) == check.ALL_PERMISSIONS  # overwrites never bind an admin
    assert perms(deny_all) == 0


def test_overwrite_precedence():
    # @everyone's overwrite: deny then allow
    assert perms([Overwrite(GUILD, 0, deny=VIEW_CHANNEL)]) == SEND_MESSAGES
    assert perms([Overwrite(GUILD, 0, allow=EMBED_LINKS, deny=EMBED_LINKS)]) & EMBED_LINKS
    # a role's allow beats @everyone's deny
    assert perms([Overwrite(GUILD, 0, deny=VIEW_CHANNEL), Overwrite(BOT_ROLE, 0, allow=VIEW_CHANNEL)]) & VIEW_CHANNEL
    # a role's deny beats @everyone's allow
    assert not perms([Overwrite(GUILD, 0, allow=EMBED_LINKS), Overwrite(BOT_ROLE, 0, deny=EMBED_LINKS)]) & EMBED_LINKS
    # among the member's roles, allow beats deny whatever their order
    two = [Overwrite(BOT_ROLE, 0, deny=EMBED_LINKS), Overwrite(MEMBERS, 0, allow=EMBED_LINKS)]
    assert perms(two, roles=(BOT_ROLE, MEMBERS)) & EMBED_LINKS
    assert perms(list(reversed(two)), roles=(MEMBERS, BOT_ROLE)) & EMBED_LINKS
    # the member's own overwrite comes last: its deny beats a role's allow, its allow a role's deny
    assert not perms([Overwrite(BOT_ROLE, 0, allow=EMBED_LINKS), Overwrite(7, 1, deny=EMBED_LINKS)]) & EMBED_LINKS
    assert perms([Overwrite(BOT_ROLE, 0, deny=SEND_MESSAGES), Overwrite(7, 1, allow=SEND_MESSAGES)]) & SEND_MESSAGES
    # a member overwrite for someone else, or a role overwrite with a member's id, changes nothing
    assert perms([Overwrite(8, 1, deny=VIEW_CHANNEL), Overwrite(7, 0, deny=VIEW_CHANNEL)]) & VIEW_CHANNEL


def test_a_timed_out_member_keeps_only_view_and_history():
    assert perms(bot_role=SEND_MESSAGES | READ_MESSAGE_HISTORY, timed_out=True) == VIEW_CHANNEL | READ_MESSAGE_HISTORY
    assert perms(bot_role=ADMINISTRATOR, timed_out=True) == check.ALL_PERMISSIONS


def test_source_urls_of_extract_keys():
    assert str(check.source_url("page:https://a.example/x?y=1")) == "https://a.example/x?y=1"
    assert check.source_url("feed:https://b.example/rss#42").host == "b.example"
    for key in ("file:extraits/2025-11.md", "feed:tag:b.example,2025:42", "feed:sha256:abc", "page:sha256:0f"):
        assert check.source_url(key) is None


# --------------------------------------------------------------------------------------------
# the world and the configuration


def build_world(srv: FakeDiscordREST, *, bot_role: int = SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | SEND_POLLS,
                annonces_overwrites=(), partners_mentionable: bool = False) -> None:
    """#annonces (fr, mentions @Membres) and #news (en, mentions @Partenaires) on « Réseau Test »;
    the moderators' log on a second server; a third server without the bot."""
    srv.add_guild(GUILD, "Réseau Test", everyone_permissions=VIEW_CHANNEL | READ_MESSAGE_HISTORY, bot_roles=[BOT_ROLE])
    srv.add_role(GUILD, BOT_ROLE, "reseau-bot", permissions=bot_role, managed=True)
    srv.add_role(GUILD, MEMBERS, "Membres", mentionable=True)
    srv.add_role(GUILD, PARTNERS, "Partenaires", mentionable=partners_mentionable)
    srv.add_channel(GUILD, ANNONCES, "annonces", overwrites=annonces_overwrites)
    srv.add_channel(GUILD, NEWS, "news")
    srv.add_channel(GUILD, VOICE, "salon-vocal", type=2)
    srv.add_guild(GUILD2, "Modération", everyone_permissions=VIEW_CHANNEL | SEND_MESSAGES)
    srv.add_channel(GUILD2, MODLOG, "journal")
    srv.add_guild(NOT_MEMBER, "Sans le bot", bot_member=False)
    srv.add_channel(GUILD2, OTHER, "ailleurs")


def write_config(folder: Path, database_url: str, api: str, *, language: str = "fr",
                 channels: list[tuple[int, int, str, int]] | None = None, modlog: int = MODLOG,
                 allowed_hosts: tuple[str, ...] = (FEED_HOST,), extra: str = "") -> Path:
    if channels is None:
        channels = [(GUILD, ANNONCES, "fr", MEMBERS), (GUILD, NEWS, "en", 0)]
    lines = [
        "[bot]", f"language = '{language}'", "log_level = 'DEBUG'",
        "[database]", f"url = '{database_url}'",
        "[discord]", f"api_base_url = '{api}'", f"moderators_log_channel_id = {modlog}",
        "[fetch]", f"allowed_hosts = {list(allowed_hosts)!r}", "connect_timeout = 2.0", "read_timeout = 2.0",
        extra,
    ]
    for guild_id, channel_id, lang, role in channels:
        lines += ["[[channels]]", f"guild_id = {guild_id}", f"channel_id = {channel_id}", f"language = '{lang}'"]
        if role:
            lines.append(f"mention_role_id = {role}")
    path = folder / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def add_extract(database_url: str, source_key: str) -> None:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            await ExtractRepository(session).save(source_key, {"title": source_key[-20:], "month": "2025-11"})
    finally:
        await engine.dispose()


async def check_lines(config_path: Path, token: str = TOKEN) -> tuple[bool, list[str]]:
    config = load_config(config_path, environ={})
    report = await check.run_checks(config, token)
    return report.ok, report_lines(Text(config.bot.language), report)


def cli(config: Path, *args: str, token: str | None = TOKEN, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISCORD_TOKEN", "RESEAU_DATABASE_URL", "RESEAU_EXPORT_SECRET")}
    if token is not None:
        env["DISCORD_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "check", "--config", str(config), *args], cwd=config.parent,
        env={**env, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=timeout,
    )


def failures(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("✘")]


def fix_of(lines: list[str], item: str) -> str:
    """The fix printed under the first line containing ``item``."""
    index = next(i for i, line in enumerate(lines) if item in line)
    assert lines[index + 1].startswith("    → "), lines[index:index + 2]
    return lines[index + 1]


# --------------------------------------------------------------------------------------------
# through the command line (subprocess)


async def test_all_good_exits_0_in_french_with_every_item_checked(database_url, tmp_path):
    await add_extract(database_url, f"feed:https://{FEED_HOST}/rss.xml#42")
    await add_extract(database_url, f"page:https://{FEED_HOST}/2025/11/extrait")
    await add_extract(database_url, "file:extraits/2025-12.md")
    async with FakeDiscordREST(global_rate=100_000, token=TOKEN) as srv:
        build_world(srv, bot_role=BOT_PERMISSIONS & ~MENTION_EVERYONE)
        config = write_config(tmp_path, database_url, srv.base_url)
        result = await asyncio.to_thread(cli, config)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    items = [line for line in lines if line[:1] in "✔✘"]
    assert all(line.startswith("✔ ") for line in items), result.stdout
    assert items == [
        f"✔ Jeton valide\u202f: connecté en tant que reseau-bot (id {srv.bot_id})",
        f"✔ Serveur «\u202fRéseau Test\u202f» ({GUILD})\u202f: le bot en est membre",
        f"✔ Salon #annonces ({ANNONCES})\u202f: trouvé sur le serveur «\u202fRéseau Test\u202f»",
        f"✔ Salon #annonces ({ANNONCES})\u202f: le bot a toutes les permissions nécessaires",
        f"✔ Salon #annonces ({ANNONCES})\u202f: le bot peut mentionner @Membres",
        f"✔ Salon #news ({NEWS})\u202f: trouvé sur le serveur «\u202fRéseau Test\u202f»",
        f"✔ Salon #news ({NEWS})\u202f: le bot a toutes les permissions nécessaires",
        f"✔ Serveur «\u202fModération\u202f» ({GUILD2})\u202f: le bot en est membre",
        f"✔ Salon du journal des modérateurs #journal ({MODLOG})\u202f: trouvé sur le serveur «\u202fModération\u202f»",
        f"✔ Salon #journal ({MODLOG})\u202f: le bot a toutes les permissions nécessaires",
        f"✔ Base de données\u202f: schéma à jour ({check_head()})",
        f"✔ Sources d’extraits\u202f: l’hôte {FEED_HOST} est autorisé (fetch.allowed_hosts)\u202f; extraits qui en viennent\u202f: 2",
    ] + ([  # PostgreSQL: the shards the running processes claim
        "✔ Shards\u202f: aucun processus «\u202freseau-bot run\u202f» en cours sur cette base",
    ] if PG_URL else [])
    checks = 13 if PG_URL else 12
    assert lines[-1] == f"Tout est prêt ({checks} vérifications réussies)\u202f: lancez `reseau-bot run`."
    assert TOKEN not in result.stdout + result.stderr  # log_level is DEBUG
    assert "Traceback" not in result.stderr
    assert srv.stats["unauthorized"] == 0 and srv.stats["created"] == 0  # read only


def check_head() -> str:
    from storage.db import head_revision

    return head_revision()


async def test_bad_token_exits_1_in_english_and_never_shows_the_token(database_url, tmp_path):
    async with FakeDiscordREST(global_rate=100_000, token=TOKEN) as srv:
        build_world(srv)
        config = write_config(tmp_path, database_url, srv.base_url, language="en")
        wrong = TOKEN.replace("check", "wrong")
        result = await asyncio.to_thread(cli, config, token=wrong)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "✘ Token refused by Discord (401)"
    assert "DISCORD_TOKEN" in lines[1] and "Reset Token" in lines[1]
    assert lines[2].startswith("✘ Servers, channels and permissions not checked")
    assert "✔ Database: schema up to date" in result.stdout  # the rest is still checked
    assert lines[-1] == f"To fix: 2 of {5 if PG_URL else 4} (the ✘ lines above)."  # (PostgreSQL: + the shards)
    assert wrong not in result.stdout + result.stderr and "Traceback" not in result.stderr
    assert srv.stats["unauthorized"] == 1


def test_no_token_exits_2_with_runs_message(database_url, tmp_path):
    config = write_config(tmp_path, database_url, "http://127.0.0.1:9/api/v10")
    result = cli(config, token=None)
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("reseau-bot: aucun jeton Discord") and "DISCORD_TOKEN" in line


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_server_down_is_a_clear_failure_without_traceback(database_url, tmp_path):
    api = f"http://127.0.0.1:{_closed_port()}/api/v10"
    config = write_config(tmp_path, database_url, api)
    result = cli(config)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"✘ Discord injoignable à {api}\u202f: connexion impossible (")
    assert "accès réseau" in lines[1] and "discord.api_base_url" in lines[1]
    assert lines[2].startswith("✘ Serveurs, salons et permissions non vérifiés")
    assert "✔ Base de données\u202f: schéma à jour" in result.stdout
    assert "Traceback" not in result.stderr and TOKEN not in result.stdout + result.stderr


# --------------------------------------------------------------------------------------------
# each failure, in process


async def test_missing_channel_other_guild_not_text_and_server_without_the_bot(database_url, tmp_path):
    missing = 942000000000000099
    async with FakeDiscordREST(global_rate=100_000, token=TOKEN) as srv:
        build_world(srv, bot_role=BOT_PERMISSIONS)
        config = write_config(tmp_path, database_url, srv.base_url, channels=[
            (GUILD, ANNONCES, "fr", 0), (GUILD, missing, "fr", 0), (GUILD, OTHER, "fr", 0), (GUILD, VOICE, "fr", 0),
            (NOT_MEMBER, 942000000000000098, "en", 0),
        ])
        ok, lines = await check_lines(config)
    assert not ok
    assert failures(lines) == [
        f"✘ Salon {missing}\u202f: introuvable (Discord\u202f: Unknown Channel)",
        f"✘ Salon #ailleurs ({OTHER})\u202f: il appartient au serveur {GUILD2}, pas au serveur {GUILD} configuré",
        f"✘ Salon #salon-vocal ({VOICE})\u202f: ce n’est pas un salon textuel ni un salon d’annonces",
        f"✘ Serveur {NOT_MEMBER}\u202f: le bot n’en est pas membre (ou l’identifiant est faux)",
        f"✘ Salon 942000000000000098\u202f: non vérifié, le serveur {NOT_MEMBER} n’est pas accessible",
    ]
    assert "corrigez channel_id" in fix_of(lines, "introuvable") and str(config) in fix_of(lines, "introuvable")
    assert f"guild_id de ce salon à {GUILD2}" in fix_of(lines, "#ailleurs")
    invite = fix_of(lines, f"Serveur {NOT_MEMBER}")
    assert f"client_id={srv.bot_id}" in invite and INVITE_PERMS in invite and "scope=bot+applications.commands" in invite
    assert f"✔ Salon #annonces ({ANNONCES})\u202f: le bot a toutes les permissions nécessaires" in lines


async def test_embed_links_denied_by_a_channel_overwrite_names_the_permission(database_url, tmp_path):
    async with FakeDiscordREST(global_rate=100_000, token=TOKEN) as srv:
        build_world(srv, annonces_overwrites=[{"id": BOT_ROLE, "type": 0, "deny": EMBED_LINKS}])
        config = write_config(tmp_path, database_url, srv.base_url, channels=[(GUILD, ANNONCES, "fr", 0)])
        ok, lines = await check_lines(config)
    assert not ok
    assert failures(lines) == [
        f"✘ Salon #annonces ({ANNONCES})\u202f: il manque au bot la permission «\u202fIntégrer des liens\u202f»",
    ]
    fix = fix_of(lines, "Intégrer des liens")
    assert fix.startswith(f"    → donnez au rôle du bot la permission «\u202fIntégrer des liens\u202f» dans #annonces ({ANNONCES}), via")
    assert f"ré-invitez-le avec https://discord.com/oauth2/authorize?client_id={srv.bot_id}" in fix
    assert INVITE_PERMS in fix


async def test_several_missing_permissions_and_a_channel_the_bot_cannot_see(database_url, tmp_path):
    async with FakeDiscordREST(global_rate=100_000, token=TOKEN) as srv:
        build_world(srv, bot_role=SEND_MESSAGES)
        srv.add_channel(GUILD, 942000000000000077, "cache", overwrites=[{"id": GUILD, "deny": VIEW_CHANNEL}])
        config = write_config(tmp_path, database_url, srv.base_url, language="en",
                              channels=[(GUILD, ANNONCES, "fr", 0), (GUILD, 942000000000000077, "fr", 0)])
        ok, lines = await check_lines(config)
    assert failures(lines) == [
        f"✘ Channel #annonces ({ANNONCES}): the bot lacks the permissions “Embed Links”, “Attach Files”, "
        "“Create Polls”",
        "✘ Channel 942000000000000077: the bot cannot see it (Discord: Missing Access)",
    ]
    assert "“View Channels”" in fix_of(lines, "cannot see it")


async def test_a_role_that_is_not_mentionable_needs_mention_everyone(database_url, tmp_path):
    channels = [(GUILD, ANNONCES, "fr", PARTNERS), (GUILD, NEWS, "en", 941000000000000099)]
    async with FakeDiscordREST(global_rate=100_000, token=TOKEN) as srv:
        build_world(srv)
        config = write_config(tmp_path, database_url, srv.base_url, channels=channels)
        ok, lines = await check_lines(config)
        assert failures(lines) == [
            f"✘ Salon #annonces ({ANNONCES})\u202f: le bot ne peut pas mentionner @Partenaires (rôle non mentionnable, "
            "et pas la permission «\u202fMentionner @everyone, @here et tous les rôles\u202f»)",
            f"✘ Salon #news ({NEWS})\u202f: le rôle 941000000000000099 (mention_role_id) n’existe pas sur ce serveur",
        ]
        fix = fix_of(lines, "@Partenaires")
        assert "rendez @Partenaires mentionnable" in fix and INVITE_PERMS in fix
        # granted in that channel only, by an overwrite for the bot's role: the mention passes
        srv.channels[ANNONCES]["overwrites"].append({"id": BOT_ROLE, "type": 0, "allow": MENTION_EVERYONE,
                                                     "deny": 0})
        ok, lines = await check_lines(config)
        assert f"✔ Salon #annonces ({ANNONCES})\u202f: le bot peut mentionner @Partenaires" in lines
        # or the role is made mentionable
        srv.channels[ANNONCES]["overwrites"].clear()
        srv.roles[GUILD][PARTNERS]["mentionable"] = True
        ok, lines = await check_lines(config)
        assert f"✔ Salon #annonces ({ANNONCES})\u202f: le bot peut mentionner @Partenaires" in lines


async def test_members_intent_needs_the_application_flag(database_url, tmp_path):
    async with FakeDiscordREST(global_rate=100_000, token=TOKEN) as srv:
        build_world(srv, bot_role=BOT_PERMISSIONS)
        config = write_config(tmp_path, database_url, srv.base_url, extra="", channels=[(GUILD, NEWS, "en", 0)])
        text = config.read_text().replace("[discord]\n", "[discord]\nmembers_intent = true\n")
        config.write_text(text)
        ok, lines = await check_lines(config)
        assert failures(lines) == [
            "✘ discord.members_intent est activé, mais l’intention privilégiée «\u202fServer Members\u202f» ne l’est pas "
            "pour l’application\u202f: Discord refuserait la connexion",
        ]
        srv.application_flags = 1 << 15  # GATEWAY_GUILD_MEMBERS_LIMITED (a bot in fewer than 100 servers)
        ok, lines = await check_lines(config)
        assert ok and any("Server Members" in line and line.startswith("✔") for line in lines)


async def test_moderator_roles_moderation_servers_and_the_export_secret(database_url, tmp_path):
    """A moderator role in none of the network's servers let `check` say « Tout est prêt » while
    nobody could publish; a moderation server without the bot and an unset export secret were
    not said either."""
    async with FakeDiscordREST(global_rate=100_000, token=TOKEN) as srv:
        build_world(srv, bot_role=BOT_PERMISSIONS)
        config_path = write_config(tmp_path, database_url, srv.base_url, channels=[(GUILD, NEWS, "en", 0)])
        text = config_path.read_text().replace(
            "log_level = 'DEBUG'", f"log_level = 'DEBUG'\nmoderator_roles = [123456789012345678, {MEMBERS}]")
        config_path.write_text(text)
        config = load_config(config_path, environ={})
        report = await check.run_checks(config, TOKEN, environ={})
        lines = report_lines(Text("fr"), report)
        assert not report.ok
        assert failures(lines) == [
            f"✘ Rôle modérateur 123456789012345678 (bot.moderator_roles)\u202f: introuvable sur les serveurs du "
            f"réseau ({GUILD})\u202f: personne ne pourra publier avec ce rôle",
        ]
        fix = fix_of(lines, "Rôle modérateur 123456789012345678")
        assert "Copier l’identifiant du rôle" in fix and str(config_path) in fix
        assert f"✔ Rôle modérateur @Membres ({MEMBERS})\u202f: trouvé sur le serveur «\u202fRéseau Test\u202f»" in lines
        [warning] = [line for line in lines if line.startswith("⚠")]
        assert "RESEAU_EXPORT_SECRET n’est pas défini" in warning and "/export refusera" in warning
        assert "openssl rand" in fix_of(lines, "RESEAU_EXPORT_SECRET")

        # the right role, a moderation server the bot is not in; the secret set: ✔, not printed
        config_path.write_text(text.replace("123456789012345678, ", "").replace(
            "log_level = 'DEBUG'", f"log_level = 'DEBUG'\nmoderation_guild_ids = [{GUILD}, {NOT_MEMBER}]"))
        config = load_config(config_path, environ={})
        secret = "s3cret-" * 4
        report = await check.run_checks(config, TOKEN, environ={"RESEAU_EXPORT_SECRET": secret})
        lines = report_lines(Text("fr"), report)
        assert failures(lines) == [
            f"✘ Serveur {NOT_MEMBER}\u202f: le bot n’en est pas membre (ou l’identifiant est faux)"]
        assert "✔ Secret des pseudonymes d’export\u202f: RESEAU_EXPORT_SECRET est défini" in lines
        assert not any(line.startswith("⚠") for line in lines) and secret not in "\n".join(lines)

        # only the warning left: exit 0, the ⚠ printed with its fix
        config_path.write_text(text.replace("123456789012345678, ", ""))
        result = await asyncio.to_thread(cli, config_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "⚠ Secret des pseudonymes d’export" in result.stdout and "Tout est prêt" in result.stdout


async def test_database_not_at_head_and_missing(tmp_path):
    db = tmp_path / "behind.db"
    url = f"sqlite+aiosqlite:///{db}"
    engine = create_engine(url)
    await upgrade(engine)
    await downgrade(engine, "base")
    await engine.dispose()
    async with FakeDiscordREST(global_rate=100_000, token=TOKEN) as srv:
        build_world(srv, bot_role=BOT_PERMISSIONS)
        config = write_config(tmp_path, url, srv.base_url, channels=[(GUILD, NEWS, "en", 0)])
        ok, lines = await check_lines(config)
        assert failures(lines) == [
            f"✘ Base de données\u202f: vide ou absente, le code attend le schéma {check_head()}",
            "✘ Sources d’extraits\u202f: non vérifiées, la base n’est pas prête",
        ]
        assert "lancez `reseau-bot db upgrade`" in fix_of(lines, "Base de données")

        absent = tmp_path / "nowhere" / "absent.db"
        config = write_config(tmp_path, f"sqlite+aiosqlite:///{absent}", srv.base_url, channels=[(GUILD, NEWS, "en", 0)])
        ok, lines = await check_lines(config)
        assert "`reseau-bot db upgrade`" in fix_of(lines, "Base de données\u202f: vide ou absente")
        assert not absent.parent.exists()  # looking did not create it


async def test_database_upgraded_by_a_newer_release(tmp_path):
    """alembic_version names a revision this code does not have: not « lancez db upgrade »."""
    db = tmp_path / "newer.db"
    url = f"sqlite+aiosqlite:///{db}"
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    async with FakeDiscordREST(global_rate=100_000, token=TOKEN) as srv:
        build_world(srv, bot_role=BOT_PERMISSIONS)
        config = write_config(tmp_path, url, srv.base_url, channels=[(GUILD, NEWS, "en", 0)])
        ok, lines = await check_lines(config)
    assert not ok
    assert f"✘ Base de données\u202f: schéma à 9999, plus récent que ce code (qui s’arrête à {check_head()})" in lines
    fix = fix_of(lines, "Base de données")
    assert "version plus récente de reseau-bot" in fix and "`db upgrade` n’y peut rien" in fix


async def test_database_unreachable_is_one_line(tmp_path):
    port = _closed_port()
    async with FakeDiscordREST(global_rate=100_000, token=TOKEN) as srv:
        build_world(srv, bot_role=BOT_PERMISSIONS)
        config = write_config(tmp_path, f"postgresql+asyncpg://reseau:secret@127.0.0.1:{port}/reseau", srv.base_url,
                              channels=[(GUILD, NEWS, "en", 0)])
        ok, lines = await check_lines(config)
    [db_line, hosts_line] = failures(lines)
    assert db_line.startswith("✘ Base de données injoignable\u202f: ") and "secret" not in db_line
    assert "database.url" in fix_of(lines, "Base de données injoignable")


async def test_a_source_host_not_allowed(database_url, tmp_path):
    await add_extract(database_url, "feed:https://flux.ailleurs.example/rss#7")
    await add_extract(database_url, "page:https://flux.ailleurs.example/page")
    await add_extract(database_url, f"page:https://{FEED_HOST}/ok")
    async with FakeDiscordREST(global_rate=100_000, token=TOKEN) as srv:
        build_world(srv, bot_role=BOT_PERMISSIONS)
        config = write_config(tmp_path, database_url, srv.base_url, language="en", channels=[(GUILD, NEWS, "en", 0)])
        ok, lines = await check_lines(config)
    assert not ok
    assert failures(lines) == [
        "✘ Extract sources: host flux.ailleurs.example is not in fetch.allowed_hosts, re-imports will fail; "
        "extracts from it: 2",
    ]
    assert f'add "flux.ailleurs.example" to fetch.allowed_hosts in {config}' in fix_of(lines, "flux.ailleurs")
    assert f"✔ Extract sources: host {FEED_HOST} is allowed (fetch.allowed_hosts); extracts from it: 1" in lines


# --------------------------------------------------------------------------------------------
# network trouble: 429 once, 5xx, not JSON, timeout


async def test_a_429_is_waited_out_once_then_reported(database_url, tmp_path):
    async with FakeDiscordREST(global_rate=100_000, token=TOKEN) as srv:
        build_world(srv, bot_role=BOT_PERMISSIONS)
        config = write_config(tmp_path, database_url, srv.base_url, channels=[(GUILD, NEWS, "en", 0)])
        srv.inject_failure("/users/@me", status=429)  # retry_after 0.05
        ok, lines = await check_lines(config)
        assert ok, lines
        srv.inject_failure(f"/channels/{NEWS}", status=429, times=2)
        ok, lines = await check_lines(config)
        assert failures(lines) == [
            f"✘ Salon {NEWS}\u202f: vérification impossible (Discord limite le débit (429), réessayez dans 1 s)",
        ]
        srv.inject_failure("/users/@me", status=429, body={"message": "You are being rate limited.",
                                                           "retry_after": 3600, "global": True})
        ok, lines = await check_lines(config)
        assert lines[0].startswith("✘ Discord injoignable") and "réessayez dans 3600 s" in lines[0]
    assert srv.stats["injected"] == 4


async def test_server_errors_and_bodies_that_are_not_json(database_url, tmp_path):
    async with FakeDiscordREST(global_rate=100_000, token=TOKEN) as srv:
        build_world(srv, bot_role=BOT_PERMISSIONS)
        config = write_config(tmp_path, database_url, srv.base_url)
        srv.inject_failure(f"/guilds/{GUILD2}", status=503)
        srv.inject_failure(f"/guilds/{GUILD}/roles", status=200, raw=b'{"roles": []}')
        ok, lines = await check_lines(config)
        assert failures(lines) == [
            f"✘ Serveur {GUILD}\u202f: vérification impossible (réponse inattendue (champ «\u202froles\u202f» absent ou invalide))",
            f"✘ Salon {ANNONCES}\u202f: non vérifié, le serveur {GUILD} n’est pas accessible",
            f"✘ Salon {NEWS}\u202f: non vérifié, le serveur {GUILD} n’est pas accessible",
            f"✘ Serveur {GUILD2}\u202f: vérification impossible (Discord a répondu par une erreur serveur 503)",
        ]
        ok, lines = await check_lines(config)
        assert ok
        srv.inject_failure(f"/channels/{ANNONCES}", status=200, raw=b'{"id": "94200')
        ok, lines = await check_lines(config)
        assert failures(lines) == [
            f"✘ Salon {ANNONCES}\u202f: vérification impossible (réponse illisible (HTTP 200, ce n’est pas du JSON))",
        ]


async def test_a_server_that_does_not_answer_in_time(database_url, tmp_path):
    async with FakeDiscordREST(global_rate=100_000, token=TOKEN, latency=1.0) as srv:
        build_world(srv, bot_role=BOT_PERMISSIONS)
        config = write_config(tmp_path, database_url, srv.base_url, channels=[(GUILD, NEWS, "en", 0)])
        config.write_text(config.read_text().replace("read_timeout = 2.0", "read_timeout = 0.2"))
        ok, lines = await check_lines(config)
    assert lines[0] == (f"✘ Discord injoignable à {srv.base_url}\u202f: pas de réponse dans le délai "
                        "(fetch.connect_timeout / fetch.read_timeout)")


def test_every_message_the_check_builds_has_its_placeholders():
    """Each ``msg("check.…", **params)`` in the service names a catalogue entry whose placeholders
    are all given (a missing one would be a KeyError in front of the user)."""
    import ast

    from bot.i18n import Catalogue, placeholders

    catalogue = Catalogue.load()
    calls = 0
    for path in (*sorted((REPO / "bot" / "services" / "check").glob("*.py")), REPO / "bot" / "check_cli.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in
                    ("msg", "t") and node.args):
                continue
            first = node.args[0]
            given = {k.arg for k in node.keywords}
            if isinstance(first, ast.Constant) and str(first.value).startswith("check."):
                keys = [first.value]
            elif isinstance(first, ast.JoinedStr):  # f"{key}_fix" after key = "check.perms.missing[_many]"
                keys = ["check.perms.missing_fix", "check.perms.missing_many_fix"]
            elif isinstance(first, ast.Name) and first.id == "key":
                keys = ["check.perms.missing", "check.perms.missing_many"]
            else:
                continue
            for key in keys:
                calls += 1
                assert catalogue.has(key), f"{path.name}:{node.lineno} {key}"
                for lang in ("fr", "en"):
                    missing = placeholders(catalogue.entries[key][lang]) - given
                    assert not missing, f"{path.name}:{node.lineno} {key} ({lang}) lacks {missing}"
    assert calls > 50
