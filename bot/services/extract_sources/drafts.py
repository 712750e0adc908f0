"""What every source becomes: an :class:`ExtractDraft`, its limits, its source key, and
:func:`_build`, which cleans a body, settles the title and intro and validates the draft."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bot.errors import InvalidInput
from bot.services.extract_sources.cleaning import (
    _INTRO,
    _clean_paragraphs,
    _one_line,
    _same_text,
    _title_of,
    _truncate,
    clean_text,
)
from bot.services.links import LINK_MAX, link_problem

TITLE_MAX = 256
SOURCE_KEY_MAX = 512
# An extract file: its text (intro and body) at most TEXT_MAX characters — about TEXT_MAX_MESSAGES
# messages in each channel (Discord's 6,000 characters per message, less the embeds' titles and
# footers; measured with extract_render) —, the whole file at most MAX_FILE_BYTES (that text in
# UTF-8, its front matter and room to spare).  A monthly extract is a few paragraphs; a longer
# text is a whole report pasted by mistake, which would post dozens of messages.
TEXT_MAX = 20_000
TEXT_MAX_MESSAGES = 4
MAX_FILE_BYTES = 128 * 1024
FILE_SUFFIXES = (".md", ".markdown", ".txt")
LANGS = ("fr", "en")
ALLOWED_KEYS = (
    "title",
    "month",
    "link",
    "lang",
    "tags",
    "intro",
    "image",
    "question",
    "kind",
    "options",
)


@dataclass
class ExtractDraft:
    """One extract as read from a source, before it is stored.

    ``intro`` is ``None`` when the source has none; ``month`` is ``None`` when the source does
    not say (the caller assigns the next free month); ``body`` is Markdown.
    """

    source_key: str
    title: str
    intro: str | None
    body: str
    link: str | None = None
    image_url: str | None = None
    tags: list[str] = field(default_factory=list)
    lang: str = "fr"
    month: str | None = None
    question: str | None = None
    question_kind: str | None = None
    question_options: list[str] = field(default_factory=list)


def _short_key(prefix: str, raw: str) -> str:
    key = f"{prefix}:{raw}"
    if len(key) <= SOURCE_KEY_MAX:
        return key
    return f"{prefix}:sha256:{hashlib.sha256(raw.encode('utf-8')).hexdigest()}"


def page_source_key(url: str) -> str:
    """``page:<url without fragment>`` (hashed past :data:`SOURCE_KEY_MAX`)."""
    return _short_key("page", _strip_fragment(url))


def _lang_code(value: Any, default: str = "fr") -> str:
    text = str(value or "").strip().lower()
    if text.startswith("fr"):
        return "fr"
    if text.startswith("en"):
        return "en"
    return default


def _strip_fragment(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(fragment=""))


def _build(
    *,
    source_key: str,
    source: str,
    title: str | None,
    body: str,
    intro: str | None = None,
    link: str | None = None,
    image_url: str | None = None,
    tags: Iterable[str] = (),
    lang: str = "fr",
    month: str | None = None,
    question: str | None = None,
    question_kind: str | None = None,
    question_options: Iterable[str] = (),
    strict_title: bool = True,
) -> ExtractDraft:
    """Clean the body, settle title and intro, validate, and build the draft."""
    paragraphs, trailing_link = _clean_paragraphs(body)

    if title is None or not title.strip():
        title = ""
        if paragraphs:
            first, _, rest = paragraphs[0].partition("\n")
            title = _title_of(first)
            if rest.strip():
                paragraphs[0] = rest.strip("\n")
            else:
                paragraphs.pop(0)
    title = _one_line(title)
    if paragraphs and _same_text(_title_of(paragraphs[0]), title):
        paragraphs.pop(0)  # "# Title" repeated at the top of the body, or a page's repeated heading

    if intro is not None:
        intro = clean_text(intro) or None
    if intro is not None:
        if paragraphs and _same_text(paragraphs[0], intro):
            paragraphs.pop(0)
    elif paragraphs and _INTRO.match(paragraphs[0]) and len(paragraphs[0]) <= 600:
        intro = paragraphs.pop(0)

    if not title:
        raise InvalidInput("extract.title_empty", source=source)
    if len(title) > TITLE_MAX:
        if strict_title:
            raise InvalidInput("extract.title_too_long", source=source, length=len(title), limit=TITLE_MAX)
        title = _truncate(title, TITLE_MAX)
    if not paragraphs and not intro:
        raise InvalidInput("extract.body_empty", source=source)
    length = len(intro or "") + sum(map(len, paragraphs)) + 2 * max(len(paragraphs) - 1, 0)
    if length > TEXT_MAX:  # a file, a feed's entry or a page alike: a whole report, not an extract
        raise InvalidInput("extract.text_too_long", source=source, count=length, total=TEXT_MAX,
                           messages=TEXT_MAX_MESSAGES)
    link = link or trailing_link
    _check_links(source, link=link, image=image_url)

    return ExtractDraft(
        source_key=source_key,
        title=title,
        intro=intro,
        body="\n\n".join(paragraphs),
        link=link,
        image_url=image_url,
        tags=_dedupe(tags),
        lang=lang,
        month=month,
        question=question,
        question_kind=question_kind,
        question_options=list(question_options),
    )


def _check_links(source: str, **addresses: str | None) -> None:
    """The report link becomes a link button when the extract is posted, and Discord refuses a
    button whose URL is longer than :data:`~bot.services.links.LINK_MAX`: refused here, at import,
    rather than in every channel on the day of posting (the image is held to the same rule)."""
    for key, value in addresses.items():
        if value is not None and link_problem(value) == "too_long":
            raise InvalidInput("extract.link_too_long", source=source, key=key, length=len(value), limit=LINK_MAX)


def _dedupe(values: Iterable[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        value = _one_line(value)
        if value and value not in out:
            out.append(value)
    return out
