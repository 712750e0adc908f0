"""One wiring: the services are built once, in ``bot/services/container.py``, and everyone else —
the bot, its cogs, the CLI commands, the services themselves — uses that container.

The first tests read the code with ``ast`` and fail on any construction of a service outside
the container (naming the file, the line and the call); the last ones start the bot on
SimCord and check, by identity through its cogs, that it holds one instance of each service.
"""

from __future__ import annotations

import ast
import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import InvalidInput
from bot.posting import GatewaySender
from bot.services import extracts
from bot.services.campaigns import CampaignService
from bot.services.container import Services
from bot.services.delivery import Publisher
from bot.services.exports import Exporter
from bot.services.polls import PollService
from bot.services.profiles import ProfileService
from tests.paths import REPO

SCANNED = ("bot", "cogs", "web")  # production code: the bot, its cogs, the CLI, the services
CONTAINER = "bot/services/container.py"
SERVICE_CLASSES = ("PollService", "CampaignService", "ProfileService", "Exporter", "Publisher")
# Who may build the container itself: the entry point, the CLI's helper, the bot when it is
# handed an engine instead (tests, the demo, the benchmarks), and the export worker (a process of
# its own, which builds its one container there).
BUILDS_CONTAINER = {"bot/runtime.py", "bot/cli_base.py", "bot/client.py", "bot/services/exports/worker.py"}

# Known remaining violations, (path prefix, call): none — keep it that way.
ALLOWED: set[tuple[str, str]] = set()
# Cogs not checked by identity (none).
PENDING_COGS: set[str] = set()


def constructions(path: Path, classes: tuple[str, ...] = SERVICE_CLASSES) -> list[tuple[int, str]]:
    """(line, call) for every ``X(…)`` / ``X.from_config(…)`` of a class in ``classes``, whatever
    name it was imported under (``as`` aliases, ``module.X``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    local: dict[str, str] = {name: name for name in classes}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name in classes:
                    local[alias.asname or alias.name] = alias.name

    def class_named(node: ast.expr) -> str | None:
        if isinstance(node, ast.Name):
            return local.get(node.id)
        if isinstance(node, ast.Attribute) and node.attr in classes:
            return node.attr
        return None

    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if (name := class_named(func)) is not None:
            found.append((node.lineno, name))
        elif isinstance(func, ast.Attribute) and func.attr == "from_config" and (name := class_named(func.value)):
            found.append((node.lineno, f"{name}.from_config"))
    return found


def production_files(root: Path = REPO) -> list[Path]:
    return [p for package in SCANNED if (root / package).is_dir() for p in sorted((root / package).rglob("*.py"))
            if "migrations" not in p.parts]


def violations(root: Path = REPO) -> list[str]:
    out = []
    for path in production_files(root):
        where = path.relative_to(root).as_posix()
        if where == CONTAINER:
            continue
        for line, call in constructions(path):
            if any(where.startswith(prefix) and call == allowed for prefix, allowed in ALLOWED):
                continue
            out.append(f"{where}:{line} constructs {call}(…): use the services container (bot.services.container)")
        if where not in BUILDS_CONTAINER:
            for line, call in constructions(path, ("Services",)):
                out.append(f"{where}:{line} builds a services container ({call}): the entry point hands it over")
    return out


def test_no_cog_cli_command_or_service_constructs_a_service():
    found = violations()
    assert not found, "\n" + "\n".join(found)


def test_the_container_is_where_the_services_are_built():
    built = {call for _, call in constructions(REPO / CONTAINER)}
    assert {"PollService.from_config", "CampaignService", "ProfileService.from_config", "Exporter",
            "Publisher"} <= built


def test_the_allow_list_is_not_stale():
    """Each allowed site still exists; when it is wired, this fails until ALLOWED is emptied."""
    present = {(where.as_posix(), call) for path in production_files()
               for where in [path.relative_to(REPO)] for _, call in constructions(path)}
    for prefix, call in ALLOWED:
        assert any(w.startswith(prefix) and c == call for w, c in present), (
            f"{prefix}: {call}(…) is gone — remove it from ALLOWED (and its cog from PENDING_COGS)")


def test_the_guard_sees_a_construction(tmp_path):
    """The guard itself can fail: a planted cog, CLI module and service each build a service."""
    for package in ("bot", "bot/services", "cogs"):
        (tmp_path / package).mkdir(parents=True, exist_ok=True)
    (tmp_path / "cogs" / "bad.py").write_text(
        "from bot.services.profiles import ProfileService as P\n"
        "def service(bot):\n    return P.from_config(bot.sessions, bot.config)\n")
    (tmp_path / "bot" / "bad_cli.py").write_text(
        "from bot.services import exports\nexporter = exports.Exporter(None, None)\n")
    (tmp_path / "bot" / "services" / "bad.py").write_text(
        "from bot.services.polls import PollService\nchecker = PollService(None, catalogue=None)\n"
        "from bot.services.container import Services\nservices = Services.from_config(None)\n")
    found = "\n".join(violations(tmp_path))
    assert "cogs/bad.py:3 constructs ProfileService.from_config" in found
    assert "bot/bad_cli.py:2 constructs Exporter" in found
    assert "bot/services/bad.py:2 constructs PollService" in found
    assert "bot/services/bad.py:4 builds a services container (Services.from_config)" in found


# ------------------------------------------------------------------------------ the running bot
SERVICE_TYPES = (PollService, CampaignService, ProfileService, Exporter, Publisher)


def _held_services(bot) -> dict[type, set[int]]:
    """The service objects the bot and its cogs hold (attributes and properties), by type."""
    held: dict[type, set[int]] = {t: set() for t in SERVICE_TYPES}
    holders = [bot.services, *(cog for name, cog in bot.cogs.items() if name not in PENDING_COGS)]
    for holder in holders:
        values = list(vars(holder).values())
        for name in dir(type(holder)):
            if isinstance(getattr(type(holder), name, None), property):
                values.append(getattr(holder, name))
        for value in values:
            for kind in SERVICE_TYPES:
                if isinstance(value, kind):
                    held[kind].add(id(value))
    return held


async def test_the_running_bot_holds_one_instance_of_each_service(world):
    bot = world.env.bot
    services = bot.services
    held = _held_services(bot)
    for kind, ids in held.items():
        assert len(ids) == 1, f"{kind.__name__}: {len(ids)} instances held by the bot and its cogs"
    assert held[PollService] == {id(services.polls)} and held[Publisher] == {id(services.publisher)}
    profiles = bot.get_cog("Profiles")
    assert profiles.service is services.profiles and profiles.service is profiles.service
    if not PENDING_COGS:
        polls = bot.get_cog("Polls")
        assert polls.service is services.polls and polls.campaigns is services.campaigns
        assert bot.get_cog("Campaigns").campaigns is services.campaigns
    # the bot posts through its gateway sender, attached to the container's one publisher
    assert isinstance(services.publisher.sender, GatewaySender) and services.publisher.sender.bot is bot
    # reconfigure reaches the held services instead of building new ones
    assert services.publisher.modlog_channel_id == world.modlog.id
    assert services.config is bot.config is world.config


async def test_the_bot_clock_moves_every_service(world):
    bot = world.env.bot
    moment = datetime(2031, 5, 4, 12, 0, tzinfo=UTC)
    bot.clock = lambda: moment
    services = bot.services
    assert services.now() == moment
    for service in (services.polls, services.campaigns, services.profiles, services.publisher):
        assert service.clock() == moment


async def test_a_reconfigure_reaches_every_service(world):
    bot = world.env.bot
    services = bot.services
    polls, profiles = services.polls, services.profiles
    privacy = dataclasses.replace(world.config.privacy, retention_days=42)
    await bot.reconfigure(dataclasses.replace(world.config, privacy=privacy))
    assert services.polls is polls and services.profiles is profiles
    assert profiles.privacy.retention_days == 42 and services.exports.config.privacy.retention_days == 42


def test_the_bot_takes_the_container_or_its_parts_not_both(config, engine, sessions):
    from bot.client import ReseauBot

    services = Services(config, engine=engine, sessions=sessions)
    bot = ReseauBot(config, services=services)
    assert bot.services is services and bot.sessions is sessions and bot.config is config
    with pytest.raises(TypeError):
        ReseauBot(config, services=services, sessions=sessions)
    with pytest.raises(TypeError):
        ReseauBot(config)


async def test_a_publisher_without_a_sender_refuses_to_send(config, engine, sessions):
    services = Services(config, engine=engine, sessions=sessions)
    with pytest.raises(RuntimeError, match="no message sender"):
        await services.publisher.sender.notify(1, "hello")


async def test_the_container_checks_an_imported_follow_up_question(config, engine, sessions, tmp_path):
    """The one step of the extracts that needs another service: the container binds the poll rules."""
    services = Services(config, engine=engine, sessions=sessions)
    path = tmp_path / "novembre.md"
    path.write_text('---\ntitle = "T"\nmonth = "2026-11"\nlang = "fr"\nquestion = "Votre avis ?"\n'
                    'kind = "single"\noptions = ["Une seule"]\n---\nCorps.\n', encoding="utf-8")
    with pytest.raises(InvalidInput) as info:
        await services.import_extracts(str(path))
    assert info.value.key == "followup.bad_question"
    assert await extracts.list_extracts(sessions) == []
    path.write_text(path.read_text(encoding="utf-8").replace('["Une seule"]', '["A", "B"]'), encoding="utf-8")
    result = await services.import_extracts(str(path))
    assert [e.question for e in result.created] == ["Votre avis ?"]
