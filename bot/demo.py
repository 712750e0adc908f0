"""``reseau-bot demo``: the real bot on SimCord (a simulated Discord), no token, no network.

A fresh SQLite database under the output folder, one network server with a French and an
English channel, a moderator and two members.  Scenes play in order and print what each person
saw; features add their scenes to ``SCENES``.  ``--preview`` then serves SimCord's local page
(127.0.0.1 only) where a person can act as a member in the demo channel.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shutil
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# discord.py warnings that say nothing about the demo: voice support (the bot never joins a voice
# channel) and the Guilds intent of the intent-less probe client SimCord builds when imported
# (``simcord._dpy_internals.verify``).  Dropped from here on, in the demo process only, before
# SimCord is imported; every other discord.py warning still shows.
IRRELEVANT_DISCORD_WARNINGS = (
    "PyNaCl is not installed",
    "davey is not installed",
    "Guilds intent seems to be disabled",
)


class _DropIrrelevantWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(IRRELEVANT_DISCORD_WARNINGS)


for _name in ("discord.client", "discord.state"):
    if not any(isinstance(f, _DropIrrelevantWarnings) for f in logging.getLogger(_name).filters):
        logging.getLogger(_name).addFilter(_DropIrrelevantWarnings())

import simcord  # noqa: E402

from bot.client import ReseauBot  # noqa: E402
from bot.config import Config, NetworkChannel  # noqa: E402
from bot.errors import InvalidInput  # noqa: E402
from bot.i18n import discord_locale  # noqa: E402
from bot.simcord_support import VirtualClock, run_from, set_locale  # noqa: E402
from storage.db import create_engine, session_factory, upgrade  # noqa: E402
from storage.models import utcnow  # noqa: E402

# The bot's name on the simulated Discord (SimCord calls every bot « TestBot »).
BOT_NAME = "Réseau 2.0"


#: The demo's pause between two edits of a poll's live counts (``polls.refresh_seconds``, 2 s by
#: default, which spares Discord's rate limits in a busy channel).  SimCord returns from a click
#: once the bot's work is done, and a pause shorter than its settle timeout is part of that work:
#: with the default, every vote of the demo waited 2 s of real time (29 s for the whole demo).
DEMO_REFRESH_SECONDS = 0.05


@dataclass
class DemoWorld:
    env: simcord.Env
    bot: ReseauBot
    out: Path
    guild: Any
    fr: Any
    en: Any
    modlog: Any
    moderator: Any
    awa: Any
    sam: Any
    extra_members: list[Any] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    @property
    def lang(self) -> str:
        """The narration's language: the configured one (``bot.language``)."""
        return self.bot.config.bot.language

    def t(self, key: str, /, **params: Any) -> str:
        return self.bot.t(key, self.lang, **params)

    def say(self, text: str = "") -> None:
        print(text, flush=True)

    def title(self, text: str) -> None:
        """A scene's title, after a blank line."""
        self.say()
        self.say(text)

    def show(self, who: str, action: str, result: Any) -> None:
        """Print an interaction and what the member saw."""
        self.say(self.t("demo.acts", who=who, action=action))
        if result is None:
            return
        message = getattr(result, "response", None) or result
        if getattr(result, "ephemeral", False):
            self.say(self.t("demo.bot_replies_privately", bot=self.bot_name))
        else:
            self.say(self.t("demo.bot_replies", bot=self.bot_name))
        self.say(indent(render_message(message, empty=self.t("demo.empty"))))
        for followup in getattr(result, "followups", None) or []:
            self.say(indent(render_message(followup, empty=self.t("demo.empty"))))

    def show_message(self, where: str, message: Any, note: str | None = None) -> None:
        if note:
            self.say(self.t("demo.bot_posted_note", bot=self.bot_name, channel=where, note=note))
        else:
            self.say(self.t("demo.bot_posted", bot=self.bot_name, channel=where))
        self.say(indent(render_message(message, empty=self.t("demo.empty"))))

    def wrote(self, path: Path) -> None:
        self.files.append(path)
        self.say(self.t("demo.wrote", path=path))

    @property
    def bot_name(self) -> str:
        return self.bot.user.name if self.bot.user else BOT_NAME


def indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line else prefix.rstrip() for line in text.splitlines())


def render_message(message: Any, empty: str = "∅") -> str:
    """Plain-text rendering of a message: content, embeds, buttons, attachments."""
    lines: list[str] = []
    if getattr(message, "content", None):
        lines.append(message.content)
    for embed in getattr(message, "embeds", None) or []:
        if embed.title:
            lines.append(f"┃ **{embed.title}**")
        if embed.description:
            lines += [f"┃ {line}" for line in embed.description.splitlines()]
        for f in embed.fields:
            lines.append(f"┃ __{f.name}__")
            lines += [f"┃ {line}" for line in str(f.value).splitlines()]
        if embed.footer and embed.footer.text:
            lines.append(f"┃ — {embed.footer.text}")
    for row in getattr(message, "components", None) or []:
        labels = []
        for child in getattr(row, "children", [row]):
            label = getattr(child, "label", None) or getattr(child, "placeholder", None)
            if label:
                labels.append(f"[{label}]")
        if labels:
            lines.append(" ".join(labels))
    for attachment in getattr(message, "attachments", None) or []:
        lines.append(f"📎 {attachment.filename}")
    return "\n".join(lines) or empty


Scene = Callable[[DemoWorld], Awaitable[None]]
SCENES: list[Scene] = []


def scene(fn: Scene) -> Scene:
    SCENES.append(fn)
    return fn


@scene
async def bot_comes_up(w: DemoWorld) -> None:
    w.say(w.t("demo.connected", bot=w.bot_name, guild=w.guild.name,
              when=w.bot.clock().astimezone(w.bot.config.tz).strftime("%Y-%m-%d %H:%M"),
              tz=w.bot.config.bot.timezone))
    synced = [r for r in w.env.http_requests if r.method == "PUT" and r.path.endswith("/commands")]
    names = ", ".join(w.t("demo.command", en=c["name"], fr=c.get("name_localizations", {}).get("fr", c["name"]))
                      for c in (synced[-1].json if synced else []))
    w.say(w.t("demo.commands_synced", names=names))


@scene
async def members_ask_for_help(w: DemoWorld) -> None:
    w.title(w.t("demo.scene.help"))
    w.show("Awa (fr)", "/aide", await w.awa.slash(w.fr, "help"))
    w.show("Sam (en-US)", "/help", await w.sam.slash(w.en, "help"))


@scene
async def member_tries_a_moderator_command(w: DemoWorld) -> None:
    w.title(w.t("demo.scene.moderator_command"))
    try:
        await w.awa.slash(w.fr, "status")
    except simcord.SetupError:  # Discord's picker does not offer it: default permissions
        w.say(w.t("demo.command_hidden", name="Awa", command="/etat"))
    else:
        raise AssertionError("a member could start a moderators' command")
    w.show(w.t("demo.moderator", name="Camille"), "/etat", await w.moderator.slash(w.fr, "status"))


def load_feature_scenes() -> None:
    """Feature modules add their scenes on import (kept optional so the demo always runs)."""
    import importlib

    for name in ("bot.demo_scenes",):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


#: Marks a folder the demo made: only such a folder is emptied by the next run.
OUTPUT_MARK = ".reseau-bot-demo"


def _fresh_output(out: Path) -> Path:
    """``out``, empty, for this run: a folder an earlier demo made is emptied; an empty or new
    one is used; anything else is refused — the demo never deletes what it did not write."""
    if out.exists() and not out.is_dir():
        raise InvalidInput("demo.error.out_not_folder", folder=str(out))
    if (out / OUTPUT_MARK).is_file():
        shutil.rmtree(out)
    elif out.is_dir() and any(out.iterdir()):
        raise InvalidInput("demo.error.out_not_empty", folder=str(out))
    out.mkdir(parents=True, exist_ok=True)
    (out / OUTPUT_MARK).write_text("Written by `reseau-bot demo`: the next demo run empties this folder.\n")
    return out


async def run_demo(
    config: Config, *, out: Path, preview: bool = False, port: int | None = None,
    preview_seconds: float | None = None,
) -> int:
    out = _fresh_output(out.resolve())
    db_url = f"sqlite+aiosqlite:///{out / 'demo.db'}"
    config = dataclasses.replace(config, database=dataclasses.replace(config.database, url=db_url))
    engine = create_engine(db_url)
    await upgrade(engine)
    # One clock for SimCord and the bot, starting now: messages are dated today and a poll's
    # deadline three days ahead reads « dans 3 jours » on the preview page.
    clock = VirtualClock(utcnow())
    bot = ReseauBot(config, engine=engine, sessions=session_factory(engine), clock=clock.now)
    lang = config.bot.language
    load_feature_scenes()
    print(bot.t("demo.database", lang, path=out / "demo.db"), flush=True)
    try:
        async with run_from(bot, clock, check_errors=False) as env:
            await bot.user.edit(username=BOT_NAME)  # PATCH /users/@me, as the bot's owner would name it
            guild = env.create_guild(name=bot.t("demo.guild_name", lang))
            fr = guild.create_text_channel("annonces")
            en = guild.create_text_channel("announcements")
            modlog = guild.create_text_channel("moderation")
            mod_role = guild.create_role("Modération")
            moderator = guild.add_member(env.create_user("camille", global_name="Camille"), roles=[mod_role])
            awa = guild.add_member(env.create_user("awa", global_name="Awa"))
            sam = guild.add_member(env.create_user("sam", global_name="Sam"))
            for actor, locale in ((moderator, "fr"), (awa, "fr"), (sam, "en-US")):
                set_locale(actor, locale)
            demo_config = dataclasses.replace(
                config,
                bot=dataclasses.replace(config.bot, moderator_roles=(mod_role.id,)),
                channels=(
                    NetworkChannel(guild_id=guild.id, channel_id=fr.id, language="fr", name="annonces"),
                    NetworkChannel(guild_id=guild.id, channel_id=en.id, language="en", name="announcements"),
                ),
                discord=dataclasses.replace(config.discord, moderators_log_channel_id=modlog.id),
                polls=dataclasses.replace(config.polls, refresh_seconds=DEMO_REFRESH_SECONDS),
            )
            await bot.reconfigure(demo_config)
            # What the server's admin does once (Server Settings → Integrations): the moderators'
            # commands, hidden from members by default permissions, are allowed to the moderator role.
            for command in await bot.tree.fetch_commands():
                if command.default_member_permissions is not None:
                    guild.set_command_permissions(command, {mod_role: True})
            world = DemoWorld(env=env, bot=bot, out=out, guild=guild, fr=fr, en=en, modlog=modlog,
                              moderator=moderator, awa=awa, sam=sam)
            for play in SCENES:
                await play(world)
            world.say("")
            if world.files:
                world.say(world.t("demo.files_written"))
                for path in world.files:
                    world.say(f"  {path}")
            if preview:
                await serve_preview(world, port=port, seconds=preview_seconds)
    finally:  # the database closed (the vote path's connection too): SQLite folds its journal into demo.db
        await bot.services.aclose()
        await engine.dispose()
    print(bot.t("demo.finished", lang), flush=True)
    return 0


async def serve_preview(w: DemoWorld, *, port: int | None, seconds: float | None) -> None:
    session = w.env.preview(w.fr, viewers=[w.awa, w.sam, w.moderator], layout="channel",
                            locale=discord_locale(w.lang), timezone=w.bot.config.bot.timezone,
                            port=port)
    dashboard = await serve_dashboard(w)
    try:
        async with session as page:
            w.say("")
            w.say(w.t("demo.preview_open", url=page.url))
            w.say(w.t("demo.preview_act"))
            w.say(w.t("demo.dashboard_open", url=dashboard.link))
            sys.stdout.flush()
            try:
                if seconds is None:
                    await page.wait_closed()
                else:
                    await asyncio.wait_for(page.wait_closed(), timeout=seconds)
            except (TimeoutError, asyncio.CancelledError):
                pass
    finally:
        await dashboard.runner.cleanup()


async def serve_dashboard(w: DemoWorld) -> Any:
    """The moderators' dashboard on the demo's data (127.0.0.1, a free port) and a one-time
    sign-in link for Camille, the demo's moderator, as ``/tableau-de-bord`` would give her."""
    from types import SimpleNamespace

    from bot.services.authority import Actor
    from web.app import bound_port, serve

    services = w.bot.services
    runner = await serve(services, host="127.0.0.1", port=0)
    actor = Actor.of(w.guild.id, w.bot.config.bot.moderator_roles)
    token = await services.sign_in.issue(actor, w.moderator.id, lang=w.lang)
    return SimpleNamespace(runner=runner, link=services.sign_in.link_url(token, f"http://127.0.0.1:{bound_port(runner)}"))
