"""Sessions, anti-forgery tokens, the sign-in rate limit and the page language.

The session cookie holds a random token (the database keeps its SHA-256); it is ``HttpOnly``,
``SameSite=Lax`` and ``Secure`` when the dashboard is reached over HTTPS (``dashboard.public_url``
starting with ``https://``).  Pages outside :data:`PUBLIC` need a live session; every POST needs
the session's anti-forgery token in its ``csrf`` field and, when the browser sends one, an
``Origin`` of this site.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING

from aiohttp import web

from web.context import CSRF_KEY, FORM_KEY, LANG_KEY, SESSION_KEY, SESSIONS, page_lang, services_of
from web.render import render_error

if TYPE_CHECKING:
    from bot.services.dashboard import WebSession

SESSION_COOKIE = "rb_session"
PRELOGIN_COOKIE = "rb_prelogin"  # the sign-in form's double-submit anti-forgery token
PUBLIC = ("/login", "/login/", "/static/", "/lang/", "/favicon.ico")
SESSION_MAX_AGE = 8 * 3600


class RateLimiter:
    """At most ``limit`` sign-in attempts per client address in ``window`` seconds (in memory:
    a limit on attempts, not an "exactly once" rule; each process keeps its own)."""

    def __init__(self, limit: int = 10, window: float = 60.0, clock=time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        now = self.clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        if len(self._hits) > 10_000:  # forget idle addresses
            for stale in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]:
                del self._hits[stale]
        return True


def behind_https(request: web.Request) -> bool:
    return services_of(request).config.dashboard.base_url.startswith("https://")


def client_key(request: web.Request) -> str:
    """The client's address as the rate limit counts it (behind a proxy: the proxy's
    ``X-Forwarded-For`` first hop when the dashboard is configured behind HTTPS)."""
    forwarded = request.headers.get("X-Forwarded-For", "") if behind_https(request) else ""
    return forwarded.split(",")[0].strip() or (request.remote or "?")


def set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str, *,
               max_age: int | None = None, http_only: bool = True) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=http_only, samesite="Lax",
                        secure=behind_https(request))


def session(request: web.Request) -> WebSession:
    return request[SESSION_KEY]


def same_origin(request: web.Request) -> bool:
    """A POST from this site: the browser's ``Sec-Fetch-Site`` (when sent) says so, and an
    ``Origin`` (when sent and not ``null``) is this host or the public address."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return True  # the anti-forgery token still decides
    host = request.headers.get("Host", "")
    public = services_of(request).config.dashboard.base_url
    return origin.rstrip("/") in {f"http://{host}", f"https://{host}", public}


async def live_session(request: web.Request, services) -> WebSession | None:
    """The request's session: read from the database at most every few seconds per browser
    token (an ended session elsewhere stops within that time; a logout here at once), and checked
    against the configuration and the clock on every request."""
    from bot.services import authority
    from bot.services.authority import Actor, Scope

    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    web_session = await request.app[SESSIONS].get(("session", token), lambda: services.sign_in.session(token))
    if web_session is None or web_session.expires_at <= services.now():
        return None
    if not authority.may(services.config, Actor.of(web_session.guild_id, web_session.role_ids), Scope.NETWORK):
        return None
    return web_session


@web.middleware
async def require_session(request: web.Request, handler) -> web.StreamResponse:
    request[LANG_KEY] = page_lang(request)
    if request.method == "POST" and not same_origin(request):
        return render_error(request, 403, "dashboard.error.csrf")
    if any(request.path == p or (p.endswith("/") and request.path.startswith(p)) for p in PUBLIC):
        return await handler(request)
    services = services_of(request)
    web_session = await live_session(request, services)
    if web_session is None:
        return render_error(request, 401, "dashboard.error.no_session")
    request[SESSION_KEY] = web_session
    request[CSRF_KEY] = await services.sign_in.csrf_token(web_session)
    if request.method == "POST":
        form = await request.post()
        request[FORM_KEY] = form
        if not await services.sign_in.check_csrf(web_session, form.get("csrf")):
            return render_error(request, 403, "dashboard.error.csrf")
    return await handler(request)
