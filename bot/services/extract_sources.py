"""Where monthly extracts come from: Markdown/text files, RSS/Atom feeds and web pages.

Every source ends up as an :class:`ExtractDraft`, plain data that the extracts service stores
(keyed by ``source_key``: a re-import updates the stored extract, it never duplicates it).

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

Nothing here imports discord.
"""

from __future__ import annotations

import hashlib
import io
import re
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import feedparser
from bs4 import BeautifulSoup, Comment, Declaration, Doctype, NavigableString, ProcessingInstruction, Tag

from bot.errors import InvalidInput

__all__ = [
    "ALLOWED_KEYS",
    "FILE_SUFFIXES",
    "MAX_FILE_BYTES",
    "SOURCE_KEY_MAX",
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

TITLE_MAX = 256
SOURCE_KEY_MAX = 512
MAX_FILE_BYTES = 1_000_000
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


# --------------------------------------------------------------------------------------------
# Cleaning

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
_SPACE_RUN = re.compile(r"[^\S\n]{2,}")
_HORIZONTAL_SPACE = re.compile(r"[^\S\n]")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_BARE_URL = re.compile(r"https?://[^\s<>()\[\]]+")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s")
_INTRO = re.compile(r"^\W*(?:chaque mois|tous les mois|each month|every month)\b", re.IGNORECASE)
_CTA = re.compile(
    r"^\W*(?:(?:pour|to)\s+)?(?:découvrez|découvrir|consultez|consulter|lisez|lire|téléchargez|télécharger"
    r"|retrouvez|retrouver|accédez|accéder|voir|voyez|read|download|see|discover|find|access|view)\b"
    r".*\b(?:rapport|report|étude|study)",
    re.IGNORECASE | re.DOTALL,
)
_REPORT_HINT = re.compile(r"rapport|report|enquête|survey|étude|study|\.pdf\b", re.IGNORECASE)
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")


def _normalise_spaces(text: str) -> str:
    """Newlines to ``\\n``, zero-width characters out, runs of spaces to one (a non-breaking one
    when the run had one: French typography puts them before ``:`` and inside « »), trailing
    spaces out, whitespace-only lines emptied.  Leading indentation is kept (Markdown lists)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_ZERO_WIDTH)

    def run(match: re.Match[str]) -> str:
        chunk = match.group(0)
        return "\u00a0" if "\u00a0" in chunk or "\u202f" in chunk else " "

    lines = []
    for line in text.split("\n"):
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        indent = _HORIZONTAL_SPACE.sub(" ", indent).replace("\u00a0", " ")
        body = _SPACE_RUN.sub(run, stripped).rstrip()
        lines.append(indent + body if body else "")
    return "\n".join(lines)


def _one_line(text: str) -> str:
    """Text on one line, spaces collapsed (non-breaking ones kept), ends stripped."""
    return _normalise_spaces(re.sub(r"[\n\t]", " ", text)).strip()


def _paragraphs(text: str) -> list[str]:
    return [p.strip("\n") for p in re.split(r"\n\s*\n", text) if p.strip()]


def _visible(text: str) -> str:
    """The text a reader sees: Markdown links reduced to their text, spaces collapsed."""
    text = _MD_LINK.sub(lambda m: m.group(1), text)
    return " ".join(text.split())


def _fingerprint(paragraph: str) -> str:
    return " ".join(paragraph.split())


def _ends_with_colon(paragraph: str) -> bool:
    return _visible(paragraph).endswith(":")


def _find_url(text: str) -> str | None:
    match = _MD_LINK.search(text)
    if match and _is_http_url(match.group(2)):
        return match.group(2)
    match = _BARE_URL.search(text)
    return match.group(0).rstrip(".,;:!?") if match else None


def _is_lone_link_text(paragraph: str) -> bool:
    """A single short line without sentence punctuation: what is left of a link's text."""
    if "\n" in paragraph.strip() or _LIST_MARKER.match(paragraph) or paragraph.lstrip().startswith(">"):
        return False
    visible = _visible(paragraph)
    if _BARE_URL.fullmatch(visible):
        return True
    return 0 < len(visible) <= 60 and len(visible.split()) <= 6 and not re.search(r"[.!?…»”\"]$", visible)


def _is_report_cta(paragraph: str) -> bool:
    """ "Read the full report…", or a short "…: <link to the report>" line."""
    visible = _visible(paragraph)
    if len(visible) > 200:
        return False
    if _CTA.match(visible):
        return True
    text = paragraph.strip()
    ending = _MD_LINK.search(text)
    while ending and ending.end() != len(text):
        ending = _MD_LINK.search(text, ending.end())
    if ending is None:
        ending = _BARE_URL.search(text)
        while ending and ending.end() != len(text):
            ending = _BARE_URL.search(text, ending.end())
    return (
        ending is not None
        and text[: ending.start()].rstrip().endswith(":")
        and bool(_REPORT_HINT.search(ending.group(0)))
    )


def _strip_trailing_cta(paragraphs: list[str]) -> str | None:
    """Drop, at the end only, the lost link text after a "…:" line, dangling "…:" lines and the
    "read the full report" call-to-action.  Returns a URL found in what was dropped, if any."""
    found: str | None = None
    while paragraphs:
        last = paragraphs[-1]
        if len(paragraphs) >= 2 and _ends_with_colon(paragraphs[-2]) and _is_lone_link_text(last):
            pass
        elif not (_ends_with_colon(last) or _is_report_cta(last)):
            break
        found = found or _find_url(last)
        paragraphs.pop()
    return found


def _clean_paragraphs(text: str) -> tuple[list[str], str | None]:
    paragraphs: list[str] = []
    seen: set[str] = set()
    for paragraph in _paragraphs(_normalise_spaces(text)):
        key = _fingerprint(paragraph)
        if any(ch.isalnum() for ch in key):  # keep "---", "* * *" and the like even if repeated
            if key in seen:
                continue
            seen.add(key)
        paragraphs.append(paragraph)
    link = _strip_trailing_cta(paragraphs)
    return paragraphs, link


def clean_text(text: str) -> str:
    """The cleaning every source goes through; paragraphs come back separated by a blank line.

    Normalises whitespace (non-breaking-space-only lines count as blank), drops exact duplicate
    paragraphs (the first one stays) and removes the trailing call-to-action to the report with
    its stray link text.
    """
    paragraphs, _ = _clean_paragraphs(text)
    return "\n\n".join(paragraphs)


# --------------------------------------------------------------------------------------------
# Validation helpers


def _is_http_url(value: str) -> bool:
    if not value or any(ch.isspace() for ch in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def _short_key(prefix: str, raw: str) -> str:
    key = f"{prefix}:{raw}"
    if len(key) <= SOURCE_KEY_MAX:
        return key
    return f"{prefix}:sha256:{hashlib.sha256(raw.encode('utf-8')).hexdigest()}"


def _lang_code(value: Any, default: str = "fr") -> str:
    text = str(value or "").strip().lower()
    if text.startswith("fr"):
        return "fr"
    if text.startswith("en"):
        return "en"
    return default


def _strip_heading(line: str) -> str:
    line = _HEADING.sub("", line.strip())
    line = re.sub(r"\s+#+\s*$", "", line)  # closing hashes of "# Title #"
    return _one_line(line)


def _title_of(paragraph: str) -> str:
    text = _strip_heading(paragraph)
    if len(text) > 4 and text.startswith("**") and text.endswith("**"):
        text = text[2:-2].strip()
    return _one_line(_MD_LINK.sub(lambda m: m.group(1), text))


def _same_text(a: str, b: str) -> bool:
    return _fingerprint(a).casefold() == _fingerprint(b).casefold()


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-–—") + "…"


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

    return ExtractDraft(
        source_key=source_key,
        title=title,
        intro=intro,
        body="\n\n".join(paragraphs),
        link=link or trailing_link,
        image_url=image_url,
        tags=_dedupe(tags),
        lang=lang,
        month=month,
        question=question,
        question_kind=question_kind,
        question_options=list(question_options),
    )


def _dedupe(values: Iterable[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        value = _one_line(value)
        if value and value not in out:
            out.append(value)
    return out


# --------------------------------------------------------------------------------------------
# Markdown / text files

_FENCE = re.compile(r"^---\s*$")
_TOML_POSITION = re.compile(r"\s*\(at (?:line (\d+), column \d+|end of document)\)")
_MONTH = re.compile(r"^\d{4}-(?:0[1-9]|1[0-2])$")


def _split_front_matter(text: str, source: str) -> tuple[str | None, int, str]:
    """``(front matter or None, line number of the opening ---, rest)``."""
    lines = text.split("\n")
    start = 0
    while start < len(lines) and not lines[start].strip():
        start += 1
    if start >= len(lines) or not _FENCE.match(lines[start]):
        return None, 0, text
    for end in range(start + 1, len(lines)):
        if _FENCE.match(lines[end]):
            return "\n".join(lines[start + 1 : end]), start + 1, "\n".join(lines[end + 1 :])
    raise InvalidInput("extract.unclosed_front_matter", source=source, line=start + 1)


def _key_line(front: str, key: str, opening_line: int) -> int:
    pattern = re.compile(rf"^\s*(?:\[\s*)?[\"']?{re.escape(key)}[\"']?\s*(?:=|\])")
    for number, line in enumerate(front.split("\n"), start=1):
        if pattern.match(line):
            return opening_line + number
    return opening_line


def _text_value(data: dict[str, Any], key: str, source: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput("extract.not_text", source=source, key=key)
    return value.strip() or None


def _text_list(data: dict[str, Any], key: str, source: str) -> list[str]:
    value = data.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidInput("extract.not_text_list", source=source, key=key)
    return [item for item in value if item.strip()]


def _url_value(data: dict[str, Any], key: str, source: str) -> str | None:
    value = _text_value(data, key, source)
    if value is not None and not _is_http_url(value):
        raise InvalidInput("extract.bad_link", source=source, key=key, value=value)
    return value


def parse_markdown(
    text: str, *, source_key: str, source: str | None = None, default_lang: str = "fr"
) -> ExtractDraft:
    """Read one extract written in Markdown (or plain text).

    With a TOML front matter between two ``---`` lines, the keys are ``title``, ``month``
    (``"YYYY-MM"``), ``link``, ``lang`` (``fr``/``en``), ``tags`` (list of member types) and the
    optional ``intro``, ``image``, ``question``, ``kind`` and ``options`` (list); all may be left
    out (a missing title is taken from the body's first line, ``# `` removed).  Without front
    matter the first non-empty line is the title and the rest the body, with ``month=None``.

    ``source`` names the input in error messages (defaults to ``source_key``).  Raises
    :class:`~bot.errors.InvalidInput` with an ``extract.*`` key on anything invalid.
    """
    source = source or source_key
    text = _normalise_spaces(text.lstrip("\ufeff"))
    front, opening_line, rest = _split_front_matter(text, source)

    if front is None:
        title, body = "", ""
        lines = rest.split("\n")
        for index, line in enumerate(lines):
            if line.strip():
                title = _strip_heading(line)
                body = "\n".join(lines[index + 1 :])
                break
        return _build(
            source_key=source_key,
            source=source,
            title=title or None,
            body=body,
            lang=_lang_code(default_lang),
        )

    try:
        data = tomllib.loads(front)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        position = _TOML_POSITION.search(message)
        if position is None:
            line = opening_line
        elif position.group(1):
            line = opening_line + int(position.group(1))
        else:  # at the end of the front matter
            line = opening_line + front.count("\n") + 1
        detail = _TOML_POSITION.sub("", message).strip() or message
        raise InvalidInput("extract.bad_front_matter", source=source, line=line, detail=detail) from exc

    for key in data:
        if key not in ALLOWED_KEYS:
            raise InvalidInput(
                "extract.unknown_key",
                source=source,
                key=key,
                line=_key_line(front, key, opening_line),
                allowed=", ".join(ALLOWED_KEYS),
            )

    title = _text_value(data, "title", source)
    if "title" in data and title is None:
        raise InvalidInput("extract.title_empty", source=source)
    month = None
    if "month" in data:
        raw_month = data["month"]
        if not isinstance(raw_month, str) or not _MONTH.match(raw_month.strip()):
            raise InvalidInput("extract.bad_month", source=source, value=str(raw_month))
        month = raw_month.strip()
    link = _url_value(data, "link", source)
    image = _url_value(data, "image", source)
    lang_raw = _text_value(data, "lang", source)
    lang = _lang_code(default_lang)
    if lang_raw is not None:
        lang = lang_raw.lower()
        if lang not in LANGS:
            raise InvalidInput("extract.bad_lang", source=source, value=lang_raw)
    tags = _text_list(data, "tags", source)
    intro = _text_value(data, "intro", source)
    question = _text_value(data, "question", source)
    kind = _text_value(data, "kind", source)
    options = _text_list(data, "options", source)
    if question is None:
        for key in ("kind", "options"):
            if data.get(key):
                raise InvalidInput("extract.question_missing", source=source, key=key)

    return _build(
        source_key=source_key,
        source=source,
        title=title,
        body=rest,
        intro=intro,
        link=link,
        image_url=image,
        tags=tags,
        lang=lang,
        month=month,
        question=question,
        question_kind=kind,
        question_options=options,
    )


def file_source_key(path: Path) -> str:
    """``file:<parent folder name>/<file name>`` of the resolved path (see the module doc)."""
    resolved = path.resolve()
    name = f"{resolved.parent.name}/{resolved.name}" if resolved.parent.name else resolved.name
    return _short_key("file", unicodedata.normalize("NFC", name))


def _read_file(path: Path) -> ExtractDraft:
    source = path.name
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InvalidInput("extract.file_too_large", source=source, limit=MAX_FILE_BYTES)
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(
            "extract.unreadable", source=source, detail=exc.strerror or type(exc).__name__
        ) from exc
    if b"\x00" in raw:
        raise InvalidInput("extract.not_utf8", source=source)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput("extract.not_utf8", source=source) from exc
    return parse_markdown(text, source_key=file_source_key(path), source=source)


def parse_path(path: Path) -> list[ExtractDraft]:
    """One file (``.md``, ``.markdown``, ``.txt``) or every such file of a folder (not its
    sub-folders; hidden files skipped), sorted by name.  Source keys: see the module doc."""
    path = Path(path)
    suffixes = ", ".join(FILE_SUFFIXES)
    if path.is_dir():
        files = sorted(
            (
                p
                for p in path.iterdir()
                if p.is_file() and p.suffix.lower() in FILE_SUFFIXES and not p.name.startswith(".")
            ),
            key=lambda p: p.name,
        )
        if not files:
            raise InvalidInput("extract.no_files", source=path.name or str(path), suffixes=suffixes)
        return [_read_file(p) for p in files]
    if not path.exists():
        raise InvalidInput("extract.not_found", source=str(path))
    if path.suffix.lower() not in FILE_SUFFIXES:
        raise InvalidInput("extract.unsupported_file", source=path.name, suffixes=suffixes)
    return [_read_file(path)]


# --------------------------------------------------------------------------------------------
# HTML → Markdown-ish text

_DROP_TAGS = {
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "canvas",
    "iframe",
    "object",
    "embed",
    "form",
    "button",
    "input",
    "select",
    "textarea",
    "nav",
    "header",
    "footer",
    "aside",
    "head",
    "title",
    "meta",
    "link",
    "img",
    "picture",
    "video",
    "audio",
    "source",
}
_BLOCK_TAGS = {
    "p",
    "div",
    "section",
    "article",
    "main",
    "body",
    "html",
    "figure",
    "figcaption",
    "table",
    "thead",
    "tbody",
    "tfoot",
    "tr",
    "dl",
    "dt",
    "dd",
    "address",
    "details",
    "summary",
    "center",
}
_NOISE = re.compile(
    r"(?:^|[-_\s])(?:share|sharing|social|comments?|breadcrumbs?|sidebar|related|cookies?|newsletter"
    r"|menu|navigation|skip-link|screen-reader-text|sr-only)(?:$|[-_\s])",
    re.IGNORECASE,
)
_REPORT_WORDS = re.compile(r"\b(?:rapport|report)\b", re.IGNORECASE)
_SURVEY_WORDS = re.compile(r"\b(?:enquête|survey)\b", re.IGNORECASE)
_ESCAPE = re.compile(r"([*_`~\\|])")


def _escape_markdown(text: str) -> str:
    """Escape Markdown markers in page text, leaving URLs alone (Discord links them as they are)."""
    out, last = [], 0
    for match in _BARE_URL.finditer(text):
        out.append(_ESCAPE.sub(r"\\\1", text[last : match.start()]))
        out.append(match.group(0))
        last = match.end()
    out.append(_ESCAPE.sub(r"\\\1", text[last:]))
    return "".join(out)


def _is_noise(tag: Tag) -> bool:
    if tag.attrs is None:
        return False
    if tag.get("hidden") is not None or tag.get("aria-hidden") == "true":
        return True
    classes = tag.get("class") or []
    if isinstance(classes, str):
        classes = classes.split()
    names = [*classes, tag.get("id") or "", tag.get("role") or ""]
    return any(_NOISE.search(str(name)) for name in names if name)


def _is_dropped(tag: Tag) -> bool:
    return (tag.name or "").lower() in _DROP_TAGS or _is_noise(tag)


def _inside_dropped(tag: Tag, root: Tag) -> bool:
    """Whether ``tag`` sits in navigation, a footer, a share widget… below ``root``."""
    parent = tag.parent
    while parent is not None and parent is not root:
        if isinstance(parent, Tag) and _is_dropped(parent):
            return True
        parent = parent.parent
    return False


def _inline_wrap(marker: str, inner: str) -> str:
    match = re.match(r"^(\s*)(.*?)(\s*)$", inner, re.DOTALL)
    assert match is not None
    lead, core, trail = match.groups()
    if not core or "\n" in core:
        return inner
    return f"{lead}{marker}{core}{marker}{trail}"


class _HtmlToText:
    def __init__(self, base_url: str | None) -> None:
        self.base_url = base_url

    def render(self, node: Any, *, pre: bool = False, root: bool = False) -> str:
        if isinstance(node, Comment | Declaration | Doctype | ProcessingInstruction):
            return ""
        if isinstance(node, NavigableString):
            if pre:
                return str(node)
            return _escape_markdown(re.sub(r"[ \t\n\r\f\v]+", " ", str(node)))
        if not isinstance(node, Tag):
            return ""
        name = (node.name or "").lower()
        # The root itself is never dropped: WordPress puts "category-newsletter" on <article>.
        if not root and _is_dropped(node):
            return ""
        if name == "br":
            return "\n"
        if name == "hr":
            return "\n\n"
        if name == "pre":
            code = "".join(self.render(child, pre=True) for child in node.children).strip("\n")
            return f"\n\n```\n{code}\n```\n\n" if code.strip() else ""
        inner = "".join(self.render(child, pre=pre) for child in node.children)
        if name in ("h1", "h2", "h3", "h4", "h5", "h6"):
            text = _one_line(inner)
            return f"\n\n**{text}**\n\n" if text else ""
        if name in ("strong", "b"):
            return _inline_wrap("**", inner)
        if name in ("em", "i", "cite"):
            return _inline_wrap("*", inner)
        if name == "code":
            return _inline_wrap("`", inner)
        if name == "a":
            return self._link(node, inner)
        if name in ("ul", "ol"):
            return "\n\n" + self._list(node, ordered=name == "ol") + "\n\n"
        if name == "li":
            return "\n- " + _one_line(inner) + "\n"
        if name == "blockquote":
            lines = [_one_line(line) for line in inner.split("\n")]
            lines = [line for line in lines if line]
            return "\n\n" + "\n".join(f"> {line}" for line in lines) + "\n\n" if lines else ""
        if name in ("td", "th"):
            return " " + inner.strip() + " "
        if name in _BLOCK_TAGS:
            return f"\n\n{inner}\n\n"
        return inner

    def _list(self, node: Tag, *, ordered: bool) -> str:
        items = []
        for child in node.find_all("li", recursive=False):
            if _is_dropped(child):
                continue
            text = _one_line(self.render(child))
            if text.startswith("- "):
                text = text[2:]
            if text:
                items.append(f"{len(items) + 1}. {text}" if ordered else f"- {text}")
        return "\n".join(items)

    def _link(self, node: Tag, inner: str) -> str:
        href = node.get("href")
        text = _one_line(inner)
        if not isinstance(href, str) or not href.strip():
            return inner
        target = urljoin(self.base_url, href.strip()) if self.base_url else href.strip()
        if not _is_http_url(target):
            return inner
        if not text:
            return ""
        if text == target or text.replace("\\", "") == target:
            return target
        text = text.replace("[", "\\[").replace("]", "\\]")
        return f"[{text}]({target})"


def html_to_text(html: str | Tag, *, base_url: str | None = None) -> str:
    """HTML → Markdown-ish text that Discord shows well: paragraphs, **bold**, *italics*,
    ``[text](url)`` links, ``- `` lists, ``> `` quotes, headings in bold.  Navigation, headers,
    footers, asides, scripts, forms, images and share/comment widgets are dropped (below the node
    given).  Not cleaned: see :func:`clean_text`."""
    node = BeautifulSoup(html, "html.parser") if isinstance(html, str) else html
    text = _HtmlToText(base_url).render(node, root=True)
    lines = [line.strip() for line in _normalise_spaces(text).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _absolute(base_url: str | None, href: Any) -> str | None:
    if not isinstance(href, str) or not href.strip():
        return None
    target = urljoin(base_url, href.strip()) if base_url else href.strip()
    return target if _is_http_url(target) else None


def _report_link(root: Tag, base_url: str | None) -> str | None:
    """The first anchor whose text says "report" (else "survey", else a PDF) outside navigation."""
    best: tuple[int, str] | None = None
    for anchor in root.find_all("a", href=True):
        target = _absolute(base_url, anchor.get("href"))
        if target is None or _inside_dropped(anchor, root):
            continue
        label = " ".join(
            [
                anchor.get_text(" ", strip=True),
                str(anchor.get("title") or ""),
                str(anchor.get("aria-label") or ""),
            ]
        )
        if _REPORT_WORDS.search(label):
            rank = 0
        elif _SURVEY_WORDS.search(label):
            rank = 1
        elif urlsplit(target).path.lower().endswith(".pdf"):
            rank = 2
        else:
            continue
        if best is None or rank < best[0]:
            best = (rank, target)
    return best[1] if best else None


def _first_image(root: Tag, base_url: str | None) -> str | None:
    for img in root.find_all("img"):
        if _inside_dropped(img, root) or str(img.get("width") or "") in ("0", "1"):
            continue
        target = _absolute(base_url, img.get("src"))
        if target is not None:
            return target
    return None


# --------------------------------------------------------------------------------------------
# Web pages


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


def _strip_fragment(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(fragment=""))


def page_source_key(url: str) -> str:
    """``page:<url without fragment>`` (hashed past :data:`SOURCE_KEY_MAX`)."""
    return _short_key("page", _strip_fragment(url))


def parse_html_page(
    content: bytes, *, url: str, source_key: str | None = None, encoding: str | None = None
) -> ExtractDraft:
    """One extract from a web page: the main text (``<article>``, else ``<main>``, else the body)
    without navigation, headers, footers, asides, scripts or styles; the title from ``<h1>``
    (else ``og:title``, else ``<title>``); ``link`` from an anchor that looks like the report,
    else the page itself; the first image of the article (else ``og:image``); ``lang`` from
    ``<html lang>``.  ``source_key`` defaults to ``page:<url without fragment>``."""
    soup = BeautifulSoup(content, "html.parser", from_encoding=encoding)
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


# --------------------------------------------------------------------------------------------
# Feeds


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
        if "image" in medium and _is_http_url(candidate):
            return candidate
    for enclosure in entry.get("enclosures") or []:
        candidate = str(enclosure.get("href") or enclosure.get("url") or "")
        if str(enclosure.get("type") or "").startswith("image/") and _is_http_url(candidate):
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
        soup = BeautifulSoup(raw, "html.parser") if is_html else None
        link = (_report_link(soup, base) if soup is not None else None) or (
            base if _is_http_url(base) else None
        )
        image = _entry_image(entry, soup, base)
        body = html_to_text(soup, base_url=base) if soup is not None else raw
        title = str(entry.get("title") or "")
        if "html" in str((entry.get("title_detail") or {}).get("type") or ""):
            title = BeautifulSoup(title, "html.parser").get_text(" ")
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
        except InvalidInput:
            continue  # an entry with a title and nothing else is not an extract
    if not drafts:
        raise InvalidInput("extract.feed_empty", source=url)
    return drafts
