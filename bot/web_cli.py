"""``reseau-bot web``: serve the moderators' dashboard (``web/``) from the same database, as its
own process; ``reseau-bot run --web`` embeds it in the bot's process instead.

    reseau-bot web [--host 127.0.0.1] [--port 8080]

It listens on ``dashboard.host:dashboard.port`` (127.0.0.1:8080 by default: put a reverse proxy
with HTTPS in front, see the README).  With a bot token it logs in over Discord's REST API (no
gateway session) so that "publish now" can post an extract; without one that button is hidden.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from bot.cli_base import MAX_PORT, Text, command, int_between, parser_extension, text, with_services
from bot.config import Config
from bot.services import idle_cgroup

log = logging.getLogger("reseau.web")
PUBLISH_RATE = 40.0


@parser_extension
def _parsers(sub: argparse._SubParsersAction, t: Text) -> None:
    p = sub.add_parser("web", help=t("cli.web.help"), description=t("cli.web.description"))
    p.add_argument("--host", default=None, help=t("cli.web.host"))
    p.add_argument("--port", type=int_between(t, 0, MAX_PORT), default=None, help=t("cli.web.port"))
    p.add_argument("--serve-seconds", type=float, default=None, help=argparse.SUPPRESS)  # tests


@command("web")
def cmd_web(args: argparse.Namespace, config: Config) -> int:
    t = text(config)

    async def work(services) -> int:
        from web.app import bound_port, serve

        sender = None
        try:
            token = config.read_token()
            if token:
                sender = await _login(config, token)
                if sender is not None:
                    services.attach_sender(sender, rate=PUBLISH_RATE)
            idle_cgroup.prepare()  # the exports' worker in an idle CPU group, where it may make one
            runner = await serve(services, host=args.host, port=args.port)
            host = args.host or config.dashboard.host
            url = f"http://{host}:{bound_port(runner)}"
            # Without dashboard.public_url the public address is where it listens (--port 0: the
            # port the system picked, not dashboard.port).
            public = config.dashboard.public_url.rstrip("/") or url
            print(t("cli.web.listening", url=url, public=public), flush=True)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            try:
                await asyncio.wait_for(stop.wait(), timeout=args.serve_seconds)
            except TimeoutError:
                pass
            await runner.cleanup()
            return 0
        finally:
            if sender is not None:
                await sender.close()

    return asyncio.run(with_services(config, work))  # a port taken: CannotListen, said by bot.cli


async def _login(config: Config, token: str):
    """A REST sender logged in with the bot token, or None (the pages work without posting)."""
    from bot.posting import RestSender
    from bot.runtime import SECRETS, point_discord_at

    SECRETS.add(token)
    point_discord_at(config)
    try:
        return await RestSender.login(token)
    except Exception as exc:  # noqa: BLE001 — a refused token or no network: publishing is off
        log.warning("no Discord login (%s): publishing from the dashboard is off", type(exc).__name__)
        return None
