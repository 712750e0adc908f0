"""RSS and Atom feeds: one extract per entry."""

from __future__ import annotations

import io
from typing import Any

import feedparser
from bs4 import BeautifulSoup

from bot.errors import InvalidInput
from bot.services.extract_sources.cleaning import _is_http_url, _one_line
from bot.services.extract_sources.drafts import ExtractDraft, _build, _lang_code, _short_key, _strip_fragment
from bot.services.extract_sources.html_text import _first_image, _report_link, html_to_text, parse_html
from bot.services.links import link_problem


def _entry_key(entry: Any, feed_url: str) -> str | None:
    ident = str(entry.get("id") or "").strip()
    if ident:
        if ":" not in ident:
            ident = f"{_strip_fragment(feed_url)}#{ident}"
        return _short_key("feed", ident)
    link = str(entry.get("link") or "").strip()
    return _short_key("feed", link) if link else None


def _entry_html(entry: Any) -> tuple[str, bool]:
    """The fullest content of an entry and whether it is HTML."""
    for content in entry.get("content") or []:
        value = content.get("value") or ""
        if value.strip():
            return value, "html" in str(content.get("type") or "text/html")
    detail = entry.get("summary_detail") or {}
    summary = entry.get("summary") or ""
    return summary, "html" in str(detail.get("type") or "text/html")


def _entry_image(entry: Any, soup: BeautifulSoup | None, base: str | None) -> str | None:
    for media in list(entry.get("media_content") or []) + list(entry.get("media_thumbnail") or []):
        candidate = str(media.get("url") or "")
        medium = str(media.get("medium") or media.get("type") or "image")
        if "image" in medium and link_problem(candidate) is None:
            return candidate
    for enclosure in entry.get("enclosures") or []:
        candidate = str(enclosure.get("href") or enclosure.get("url") or "")
        if str(enclosure.get("type") or "").startswith("image/") and link_problem(candidate) is None:
            return candidate
    return _first_image(soup, base) if soup is not None else None


def parse_feed(content: bytes, *, url: str, content_type: str | None = None) -> list[ExtractDraft]:
    """One extract per entry of an RSS or Atom feed (entries without any text are skipped).

    The body comes from the entry's content (else its summary), HTML turned into Markdown-ish
    text; ``link`` is an anchor of the entry that looks like the report, else the entry's link;
    ``month`` is left to the caller.  Raises ``InvalidInput("extract.feed_invalid")`` when the
    bytes are not a feed and ``InvalidInput("extract.feed_empty")`` when no entry is usable.
    """
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    # A BytesIO, never the bytes themselves: given bytes, feedparser first tries them as a local
    # file name, so a server answering "/etc/passwd" would have us read that file.
    parsed = feedparser.parse(io.BytesIO(content), response_headers=headers)
    if not parsed.get("version"):
        raise InvalidInput("extract.feed_invalid", source=url)
    feed_lang = _lang_code(parsed.feed.get("language"))
    drafts: list[ExtractDraft] = []
    for entry in parsed.entries:
        key = _entry_key(entry, url)
        if key is None:
            continue
        base = str(entry.get("link") or "") or url
        raw, is_html = _entry_html(entry)
        soup = parse_html(raw, source=url) if is_html else None
        link = (_report_link(soup, base) if soup is not None else None) or (
            base if _is_http_url(base) else None
        )
        image = _entry_image(entry, soup, base)
        body = html_to_text(soup, base_url=base) if soup is not None else raw
        title = str(entry.get("title") or "")
        if "html" in str((entry.get("title_detail") or {}).get("type") or ""):
            title = parse_html(title, source=url).get_text(" ")
        title = _one_line(title)
        if not title and not body.strip():
            continue
        lang = feed_lang
        for content_item in entry.get("content") or []:
            if content_item.get("language"):
                lang = _lang_code(content_item.get("language"), feed_lang)
                break
        try:
            drafts.append(
                _build(
                    source_key=key,
                    source=url,
                    title=title or None,
                    body=body,
                    link=link,
                    image_url=image,
                    lang=lang,
                    strict_title=False,
                )
            )
        except InvalidInput as exc:
            if exc.key in ("extract.link_too_long", "extract.text_too_long"):  # a link Discord would refuse, a
                # whole report instead of an extract: say so, store nothing
                raise InvalidInput(exc.key, **{**exc.params, "source": f"{url} ({title})"}) from None
            continue  # an entry with a title and nothing else is not an extract
    if not drafts:
        raise InvalidInput("extract.feed_empty", source=url)
    return drafts
