"""The moderators' dashboard: an aiohttp application over the process's services container.

    app = create_app(services)            # reseau-bot web, or the bot's process with run --web
    runner = await start(app, host, port)

Server-rendered pages (Jinja2 templates in ``web/templates``, one stylesheet in ``web/static``;
no script at all, so the Content-Security-Policy allows none).  Every page reads through
``services`` (``services.dashboard``, ``services.polls``, ``services.exports``,
:mod:`bot.services.extracts`); nothing here imports Discord, a cog or the database layer.

Safe by default
    * A page needs a session (:mod:`web.auth`): without one it answers 401 with how to sign in
      (``/dashboard`` in Discord).  Sessions come from one-time links only.
    * Every form carries the session's anti-forgery token, checked on every POST (the sign-in
      form, before any session, a double-submit cookie); a POST whose ``Origin`` is another site
      is refused too.
    * Sign-in attempts are rate-limited per client address.
    * No personal data in URLs: pages name polls, campaigns and extracts by id; an export's
      choices are sent in the POST body.
    * Headers: a CSP without scripts and ``frame-ancestors 'none'``, ``X-Frame-Options: DENY``,
      ``nosniff``, ``Referrer-Policy: same-origin``, ``Cache-Control: no-store`` on pages.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from bot.errors import CannotListen
from web import auth, pages
from web.cache import ReadCache
from web.context import CACHE, HTTP_CLIENT, LIMITER, RENDERER, SERVICES, SESSIONS
from web.render import Renderer

if TYPE_CHECKING:
    from bot.services.container import Services

log = logging.getLogger("reseau.web")

STATIC = Path(__file__).with_name("static")

CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")


@web.middleware
async def security_headers(request: web.Request, handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
        _headers(request, response)
        raise
    _headers(request, response)
    return response


def _headers(request: web.Request, response: web.StreamResponse) -> None:
    h = response.headers
    h["Content-Security-Policy"] = CSP
    h["X-Frame-Options"] = "DENY"
    h["X-Content-Type-Options"] = "nosniff"
    h["Referrer-Policy"] = "same-origin"  # no address leaves the site; same-site POSTs keep their Origin
    h["Cross-Origin-Opener-Policy"] = "same-origin"
    if auth.behind_https(request):
        h["Strict-Transport-Security"] = "max-age=31536000"
    if not request.path.startswith("/static/") or response.status >= 400:  # a missing file's page too
        h.setdefault("Cache-Control", "no-store")


def create_app(services: Services, *, limiter: auth.RateLimiter | None = None) -> web.Application:
    """The dashboard's application over ``services`` (the caller owns and closes them)."""
    app = web.Application(
        middlewares=[security_headers, pages.errors, auth.require_session],
        client_max_size=2 * 1024 * 1024,  # an uploaded extract is at most a few hundred kB
    )
    app[SERVICES] = services
    app[RENDERER] = Renderer(services.catalogue, services.config)
    app[LIMITER] = limiter or auth.RateLimiter()
    app[CACHE] = ReadCache()
    app[SESSIONS] = ReadCache(ttl=5.0)
    app[HTTP_CLIENT] = {}  # {"client": httpx.AsyncClient} once Discord's sign-in needs one

    async def close_http_client(app: web.Application) -> None:
        client = app[HTTP_CLIENT].get("client")
        if client is not None:
            await client.aclose()

    app.on_cleanup.append(close_http_client)
    pages.add_routes(app)
    app.router.add_get("/static/{name}", static_file, name="static")
    return app


async def static_file(request: web.Request) -> web.StreamResponse:
    """A file of ``web/static``, with its own type; a missing one is the dashboard's 404 page
    (aiohttp's static route answers it with an empty ``application/octet-stream`` that the
    browser downloads)."""
    path = STATIC / request.match_info["name"]
    if path.name.startswith(".") or path.resolve().parent != STATIC.resolve() or not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path)


async def start(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Serve ``app`` on ``host:port`` (port 0: any free port; read it from the runner)."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except (OSError, OverflowError) as exc:  # the port taken, an address not ours or no address
        await runner.cleanup()
        reason = (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)).splitlines()[0]
        raise CannotListen(host, port, reason) from None
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The port a started runner listens on."""
    for site in runner.sites:
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            return int(server.sockets[0].getsockname()[1])
    raise RuntimeError("the dashboard is not listening")


async def serve(services: Services, *, host: str | None = None, port: int | None = None) -> web.AppRunner:
    """Start the dashboard over ``services`` on ``dashboard.host:port`` (or the given ones); the
    runner (``await runner.cleanup()`` stops it).  ``reseau-bot web`` and ``run --web`` call this."""
    config = services.config.dashboard
    host = host or config.host
    runner = await start(create_app(services), host, config.port if port is None else port)
    log.info("dashboard listening on http://%s:%d", host, bound_port(runner))
    return runner
