"""Templates: Jinja2 with autoescaping, the catalogue as ``t()``, numbers, dates and the
Discord-flavoured Markdown of an extract turned into safe HTML."""

from __future__ import annotations

import html
import re
import secrets
from datetime import datetime
from typing import Any

from aiohttp import web
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from bot.config import Config
from bot.i18n import Catalogue
from bot.services.delivery import describe_failure
from web.context import CSRF_KEY, RENDERER, SESSION_KEY, lang_of, services_of

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![*\w])[*_](?![\s*_])(.+?)(?<![\s*_])[*_](?![*\w])")
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^\s)]+)\)")


def discord_markdown(text: str) -> Markup:
    """The little Markdown an extract's embeds use (quote lines, bold, italics, links), as HTML;
    everything else is escaped text."""
    out: list[str] = []
    quote: list[str] = []

    def inline(line: str) -> str:
        line = html.escape(line, quote=False)
        line = _LINK.sub(lambda m: f'<a href="{html.escape(m.group(2))}" rel="noopener noreferrer">{m.group(1)}</a>', line)
        line = _BOLD.sub(r"<strong>\1</strong>", line)
        return _ITALIC.sub(r"<em>\1</em>", line)

    lines: list[str] = []

    def flush_quote() -> None:
        if quote:
            out.append("<blockquote>" + "<br>".join(quote) + "</blockquote>")
            quote.clear()

    def flush_lines() -> None:
        if any(line.strip() for line in lines):
            out.append("<p>" + "<br>".join(lines) + "</p>")
        lines.clear()

    # In the order Discord shows them: the text that introduces a member's voice, then its
    # quote block, then what follows it.
    for paragraph in (text or "").split("\n\n"):
        for line in paragraph.split("\n"):
            if line.startswith("> "):
                flush_lines()
                quote.append(inline(line[2:]))
                continue
            flush_quote()
            lines.append(inline(line))
        flush_quote()
        flush_lines()
    return Markup("".join(out))


def channel(name: str | None, channel_id: int) -> str:
    """A channel as people read it: « #annonces » when its name is known, else its id."""
    return f"#{name}" if name else str(channel_id)


class Renderer:
    """One Jinja2 environment for the application; :meth:`render` gives a page's HTML."""

    def __init__(self, catalogue: Catalogue, config: Config) -> None:
        self.catalogue = catalogue
        self.config = config
        self.env = Environment(
            loader=PackageLoader("web", "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
            enable_async=False,
        )
        self.env.filters["md"] = discord_markdown

    def when(self, value: datetime | None, lang: str) -> str:
        """A time on the network's clock: « 04/12/2026 11:51 », "2026-12-04 11:51"; « - » for none."""
        return "-" if value is None else value.astimezone(self.config.tz).strftime(
            "%d/%m/%Y %H:%M" if lang == "fr" else "%Y-%m-%d %H:%M")

    def render(self, name: str, lang: str, **context: Any) -> str:
        catalogue = self.catalogue

        def t(key: str, **params: Any) -> str:
            return catalogue.t(key, lang, **params)

        def number(value: float, decimals: int = 0) -> str:
            return catalogue.number(value, lang, decimals=decimals)

        def percent(value: float, decimals: int = 0) -> str:
            return catalogue.percent(value, lang, decimals=decimals)

        def when(value: datetime | None) -> str:
            return self.when(value, lang)

        def iso(value: datetime | None) -> str:
            return "" if value is None else value.isoformat()

        def failure(stored: str | None) -> str:
            """A delivery's stored failure as the reader reads it (never Discord's English)."""
            return describe_failure(stored, catalogue, lang)

        def month(value: str | None) -> str:
            """A stored month (``2027-01``) in words: « janvier 2027 », "January 2027"."""
            return catalogue.iso_month(value, lang)

        def language(code: str) -> str:
            """A language by its name (« anglais », "English"); a code the catalogue does not name, as it is."""
            key = f"dashboard.language.{code}"
            return catalogue.t(key, lang) if catalogue.has(key) else code

        return self.env.get_template(name).render(
            t=t, number=number, percent=percent, when=when, iso=iso, month=month, language=language, channel=channel,
            failure=failure, lang=lang, **context,
        )


#: Stands for the session's anti-forgery token in a page cached for every session (replaced as
#: the page is sent); random per process, so no content can forge it.
CSRF_PLACEHOLDER = "csrf-" + secrets.token_hex(16)


def page_html(request: web.Request, template: str, **context: Any) -> str:
    """A signed-in page's HTML for any session (the token is :data:`CSRF_PLACEHOLDER`)."""
    return request.app[RENDERER].render(
        template, lang_of(request), csrf=CSRF_PLACEHOLDER, signed_in=True, path=request.path,
        section=template.split(".")[0], **context,
    )


def send_page(request: web.Request, html: str, *, status: int = 200) -> web.Response:
    html = html.replace(CSRF_PLACEHOLDER, request.get(CSRF_KEY, ""))
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def render(request: web.Request, template: str, *, status: int = 200, **context: Any) -> web.Response:
    """A page: ``template`` in the request's language, with the session's anti-forgery token."""
    body = request.app[RENDERER].render(
        template, lang_of(request), csrf=request.get(CSRF_KEY, ""), signed_in=request.get(SESSION_KEY) is not None,
        path=request.path, section=template.split(".")[0], **context,
    )
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


def render_error(request: web.Request, status: int, key: str, **params: Any) -> web.Response:
    message = services_of(request).catalogue.t(key, lang_of(request), **params)
    return render(request, "error.html", status=status, message=message, status_code=status)
