"""Cleaning every source goes through: whitespace and no-break-space-only lines normalised,
exact duplicate paragraphs dropped, the dangling "read the full report" call-to-action and its
stray link label removed at the end; and the small text helpers (titles, URLs) the readers share."""

from __future__ import annotations

import re

from bot.services.links import is_http_url as _is_http_url

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
# Titles (http URLs: bot.services.links)


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
