"""What every part of the dashboard reads from a request: the application's keys, the services
container, and the page language (the switch's cookie, else ``Accept-Language``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.i18n import LANGUAGES

SERVICES = web.AppKey("services", object)
RENDERER = web.AppKey("renderer", object)
LIMITER = web.AppKey("limiter", object)
CACHE = web.AppKey("cache", object)  # web.cache.ReadCache: what the pages read, for a few seconds
SESSIONS = web.AppKey("sessions", object)
HTTP_CLIENT = web.AppKey("http_client", object)  # httpx, for Discord's sign-in when the process has none  # web.cache.ReadCache: live sessions, for a few seconds
SESSION_KEY = web.RequestKey("web_session", object)  # the signed-in WebSession
LANG_KEY = web.RequestKey("lang", str)
CSRF_KEY = web.RequestKey("csrf", str)  # the session's anti-forgery token, for the forms
FORM_KEY = web.RequestKey("form", object)  # a POST's form, read once by the CSRF check
LANG_COOKIE = "rb_lang"


def services_of(request: web.Request) -> Any:
    return request.app[SERVICES]


def page_lang(request: web.Request) -> str:
    """The switch's choice (a cookie), else the browser's first of French and English by
    ``Accept-Language``, else the bot's language."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    best: tuple[float, str] | None = None
    for index, item in enumerate(request.headers.get("Accept-Language", "").split(",")):
        tag, _, params = item.strip().partition(";")
        lang = tag.strip().lower()[:2]
        if lang not in LANGUAGES:
            continue
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        candidate = (q - index * 1e-6, lang)
        if best is None or candidate > best:
            best = candidate
    return best[1] if best else services_of(request).config.bot.language


def lang_of(request: web.Request) -> str:
    return request.get(LANG_KEY) or page_lang(request)
