"""Web pages: one extract from an article's page."""

from __future__ import annotations

from bs4 import BeautifulSoup, Tag

from bot.errors import InvalidInput
from bot.services.extract_sources.cleaning import _one_line
from bot.services.extract_sources.drafts import (
    ExtractDraft,
    _build,
    _lang_code,
    _strip_fragment,
    page_source_key,
)
from bot.services.extract_sources.html_text import (
    _absolute,
    _first_image,
    _report_link,
    html_to_text,
    parse_html,
)
from bot.services.links import link_problem


def _page_title(soup: BeautifulSoup, root: Tag) -> str:
    for scope in (root, soup):
        h1 = scope.find("h1")
        if isinstance(h1, Tag):
            text = _one_line(h1.get_text(" ", strip=True))
            if text:
                return text
    meta = soup.find("meta", attrs={"property": "og:title"})
    if isinstance(meta, Tag) and isinstance(meta.get("content"), str) and meta["content"].strip():
        return _one_line(str(meta["content"]))
    if soup.title and soup.title.string:
        text = _one_line(soup.title.string)
        for separator in (" | ", " – ", " — ", " :: "):
            if separator in text:
                text = text.split(separator)[0].strip()
                break
        return text
    return ""


def parse_html_page(
    content: bytes, *, url: str, source_key: str | None = None, encoding: str | None = None
) -> ExtractDraft:
    """One extract from a web page: the main text (``<article>``, else ``<main>``, else the body)
    without navigation, headers, footers, asides, scripts or styles; the title from ``<h1>``
    (else ``og:title``, else ``<title>``); ``link`` from an anchor that looks like the report,
    else the page itself; the first image of the article (else ``og:image``); ``lang`` from
    ``<html lang>``.  ``source_key`` defaults to ``page:<url without fragment>``."""
    soup = parse_html(content, source=url, encoding=encoding)
    if soup.find(True) is None:
        raise InvalidInput("extract.page_no_text", source=url)
    root = soup.find("article") or soup.find("main") or soup.find(attrs={"role": "main"}) or soup.body or soup
    assert isinstance(root, Tag)
    title = _page_title(soup, root)
    h1 = root.find("h1")
    if isinstance(h1, Tag):
        h1.decompose()
    link = _report_link(root, url) or _strip_fragment(url)
    image = _first_image(root, url)
    if image is None:
        meta = soup.find("meta", attrs={"property": "og:image"})
        if isinstance(meta, Tag):
            image = _absolute(url, meta.get("content"))
            image = image if image is not None and link_problem(image) is None else None
    html_tag = soup.find("html")
    lang = _lang_code(html_tag.get("lang") if isinstance(html_tag, Tag) else None)
    body = html_to_text(root, base_url=url)
    if not body.strip():
        raise InvalidInput("extract.page_no_text", source=url)
    return _build(
        source_key=source_key or page_source_key(url),
        source=url,
        title=title or None,
        body=body,
        link=link,
        image_url=image,
        lang=lang,
        strict_title=False,
    )
