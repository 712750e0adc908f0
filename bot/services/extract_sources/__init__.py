"""Where monthly extracts come from: Markdown/text files, RSS/Atom feeds and web pages.

Every source ends up as an :class:`ExtractDraft`, plain data that the extracts service stores
(keyed by ``source_key``: a re-import replaces the stored extract while it is queued, never
duplicates it, and never rewrites one already published or skipped — see
:func:`bot.services.extracts.save_drafts`).

Real content is messy, so every source goes through the same cleaning (:func:`clean_text`):
whitespace and non-breaking-space-only lines are normalised, exact duplicate paragraphs are
dropped, and the dangling "read the full report:" call-to-action at the end (whose link was often
lost on the way) is removed — the report link becomes a button when the extract is posted.  The
recurring introduction ("Chaque mois, nous vous présentons un extrait…") is recognised as the
``intro`` when it is the first paragraph after the title.

Source keys (stable across re-imports of the same thing):

* files: ``file:<parent folder name>/<file name>`` of the resolved path (NFC-normalised), so
  that importing ``extraits/2026-11.md`` alone or through its folder ``extraits/`` gives the same
  key, from any working directory, and moving the whole folder elsewhere keeps the keys;
* feed entries: ``feed:<entry id>`` (else the entry link); an id that is not globally unique
  (no ``:`` in it, e.g. ``42``) is qualified with the feed URL: ``feed:<feed url>#42``;
* web pages: ``page:<url without fragment>`` of the URL asked for (not the one redirected to).

Keys longer than :data:`SOURCE_KEY_MAX` are shortened to ``<prefix>:sha256:<hex>``.

The package: :mod:`.drafts` (the draft, its limits and keys, building one), :mod:`.cleaning`,
:mod:`.markdown` (front matter, files, folders), :mod:`.html_text` (HTML → text, report link,
image), :mod:`.pages` and :mod:`.feeds`.  Nothing here imports discord.
"""

from __future__ import annotations

from typing import Any

from bot.services.extract_sources.cleaning import clean_text
from bot.services.extract_sources.drafts import (
    ALLOWED_KEYS,
    FILE_SUFFIXES,
    LANGS,
    MAX_FILE_BYTES,
    SOURCE_KEY_MAX,
    TEXT_MAX,
    TEXT_MAX_MESSAGES,
    TITLE_MAX,
    ExtractDraft,
    page_source_key,
)
from bot.services.extract_sources.markdown import file_source_key, parse_markdown, parse_path

# Feeds and pages need feedparser and BeautifulSoup, which a running bot loads only when it first
# fetches one (issue 15, item 3): these entry points import their module on the first call.


def parse_feed(content: bytes, *, url: str, content_type: str | None = None) -> list[ExtractDraft]:
    """See :func:`bot.services.extract_sources.feeds.parse_feed`."""
    from bot.services.extract_sources.feeds import parse_feed as parse

    return parse(content, url=url, content_type=content_type)


def parse_html_page(*args: Any, **kwargs: Any) -> ExtractDraft:
    """See :func:`bot.services.extract_sources.pages.parse_html_page`."""
    from bot.services.extract_sources.pages import parse_html_page as parse

    return parse(*args, **kwargs)


def html_to_text(*args: Any, **kwargs: Any) -> Any:
    """See :func:`bot.services.extract_sources.html_text.html_to_text`."""
    from bot.services.extract_sources.html_text import html_to_text as convert

    return convert(*args, **kwargs)

__all__ = [
    "ALLOWED_KEYS",
    "FILE_SUFFIXES",
    "LANGS",
    "MAX_FILE_BYTES",
    "SOURCE_KEY_MAX",
    "TEXT_MAX",
    "TEXT_MAX_MESSAGES",
    "TITLE_MAX",
    "ExtractDraft",
    "clean_text",
    "file_source_key",
    "html_to_text",
    "parse_feed",
    "parse_html_page",
    "parse_markdown",
    "parse_path",
    "page_source_key",
]
