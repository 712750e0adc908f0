"""Turning an extract into embeds, as plain data (the cog builds ``discord.Embed`` from them).

Discord's limits: a title ≤ 256 characters, a description ≤ 4096, at most 10 embeds per message
and at most 6000 characters (titles + descriptions + footers) across the embeds of one message.
A long extract therefore becomes several embeds, and if needed several messages.  The body is cut
between paragraphs; a paragraph is only cut when it cannot fit on its own, then between lines,
sentences and, as a last resort, words.

Member voices — sentences quoted in « … » (or “ … ”) — are set on their own Markdown quote lines
(``> « … »``); short quoted names such as « réseau 2.0 » stay inline.  The intro is in italics.
The first embed carries the title and the report link; the last one the image and the footer.

Nothing here imports discord.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.i18n import Catalogue

__all__ = [
    "DESCRIPTION_LIMIT",
    "EMBEDS_PER_MESSAGE",
    "FOOTER_LIMIT",
    "MESSAGE_TOTAL_LIMIT",
    "TITLE_LIMIT",
    "EmbedPart",
    "footer_text",
    "render_extract",
    "render_quotes",
    "report_button_label",
    "split_block",
]

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FOOTER_LIMIT = 2048
MESSAGE_TOTAL_LIMIT = 6000
EMBEDS_PER_MESSAGE = 10
PARAGRAPH_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class EmbedPart:
    title: str | None
    description: str
    url: str | None = None
    image_url: str | None = None
    footer: str | None = None

    @property
    def length(self) -> int:
        """What counts towards the 6000-character total of a message."""
        return len(self.title or "") + len(self.description) + len(self.footer or "")


# --------------------------------------------------------------------------------------------
# Catalogue strings


def report_button_label(lang: str, catalogue: Catalogue | None = None) -> str:
    """ "Lire le rapport complet" / "Read the full report"."""
    return (catalogue or Catalogue.load()).t("extract.report_button", lang)


def footer_text(month: str | None, lang: str, catalogue: Catalogue | None = None) -> str:
    catalogue = catalogue or Catalogue.load()
    if month:
        return catalogue.t("extract.footer", lang, month=catalogue.iso_month(month, lang))
    return catalogue.t("extract.footer_no_month", lang)


# --------------------------------------------------------------------------------------------
# Quotes

_PAIRS = {"«": "»", "“": "”"}
_CLOSERS = {close: open_ for open_, close in _PAIRS.items()}
_TRAILING_PUNCT = re.compile(r"[^\S\n]*[.,;:!?…]+")  # used with .match(text, pos)
_VOICE_END = re.compile(r"[.!?…][\s\u00a0\u202f]*$")


def _quote_spans(text: str) -> list[tuple[int, int]]:
    """Outermost balanced « … » / “ … ” spans, as (start, end) with the marks included."""
    spans: list[tuple[int, int]] = []
    stack: list[tuple[str, int]] = []
    for index, char in enumerate(text):
        if char in _PAIRS:
            stack.append((char, index))
        elif char in _CLOSERS and stack and stack[-1][0] == _CLOSERS[char]:
            _, start = stack.pop()
            if not stack:
                spans.append((start, index + 1))
    return spans


def _is_voice(quoted: str) -> bool:
    """A member's sentence rather than a quoted name: it ends like a sentence or is long."""
    inner = quoted[1:-1].strip(" \u00a0\u202f\n")
    return bool(_VOICE_END.search(inner)) or len(inner.split()) >= 12


def render_quotes(paragraph: str) -> str:
    """Put the member voices of a paragraph on ``> `` quote lines; the rest is unchanged."""
    stripped = paragraph.lstrip()
    if stripped.startswith((">", "```", "- ", "* ")) or re.match(r"\d+[.)]\s", stripped):
        return paragraph
    spans = [span for span in _quote_spans(paragraph) if _is_voice(paragraph[span[0] : span[1]])]
    if not spans:
        return paragraph
    lines: list[str] = []
    position = 0
    for start, end in spans:
        before = paragraph[position:start].strip()
        if before:
            lines.append(before)
        punct = _TRAILING_PUNCT.match(paragraph, end)
        quoted = paragraph[start:end] + (punct.group(0).strip() if punct else "")
        position = punct.end() if punct else end
        lines.extend(f"> {line.strip()}" for line in quoted.split("\n") if line.strip())
    rest = paragraph[position:].strip()
    if rest:
        lines.append(rest)
    return "\n".join(lines)


def _italic(text: str) -> str:
    lines = []
    for line in text.split("\n"):
        line = line.strip()
        lines.append(f"*{line.replace('*', chr(92) + '*')}*" if line else "")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Splitting

_SENTENCE_END = re.compile(r"[.!?…]+(?:[ \u00a0\u202f]*[»”\"’)\]]+)*(?=\s)")


def _pack(pieces: list[str], limit: int, separator: str) -> list[str]:
    out: list[str] = []
    current: str | None = None
    for piece in pieces:
        if current is not None and len(current) + len(separator) + len(piece) <= limit:
            current += separator + piece
            continue
        if current is not None:
            out.append(current)
        current = piece
    if current is not None:
        out.append(current)
    return out


def _sentences(text: str) -> list[str]:
    out, last = [], 0
    for match in _SENTENCE_END.finditer(text):
        out.append(text[last : match.end()].strip())
        last = match.end()
    out.append(text[last:].strip())
    return [sentence for sentence in out if sentence]


def _words(text: str, limit: int) -> list[str]:
    pieces: list[str] = []
    for word in re.split(r"[ \t]+", text):  # never at a non-breaking space
        while len(word) > limit:
            pieces.append(word[:limit])
            word = word[limit:]
        if word:
            pieces.append(word)
    return _pack(pieces, limit, " ")


def _split_line(line: str, limit: int) -> list[str]:
    if len(line) <= limit:
        return [line]
    pieces: list[str] = []
    for sentence in _sentences(line):
        pieces.extend([sentence] if len(sentence) <= limit else _words(sentence, limit))
    return _pack(pieces, limit, " ")


def split_block(block: str, limit: int) -> list[str]:
    """Cut a paragraph into pieces of at most ``limit`` characters: between lines, then
    sentences, then words (a word longer than ``limit`` is cut).  Quote lines stay quoted."""
    if len(block) <= limit:
        return [block]
    pieces: list[str] = []
    for line in block.split("\n"):
        prefix = "> " if line.startswith("> ") else ""
        if len(line) <= limit:
            pieces.append(line)
        else:
            pieces.extend(prefix + chunk for chunk in _split_line(line[len(prefix) :], limit - len(prefix)))
    return _pack(pieces, limit, "\n")


# --------------------------------------------------------------------------------------------
# Rendering


def _field(extract: Any, *names: str) -> Any:
    for name in names:
        value = extract.get(name) if isinstance(extract, Mapping) else getattr(extract, name, None)
        if value is not None:
            return value
    return None


def _paragraphs(text: str) -> list[str]:
    text = text.replace("\r\n", "\n")
    return [p.strip("\n") for p in re.split(r"\n[^\S\n]*\n", text) if p.strip()]


def _truncate(text: str, limit: int) -> str:
    text = re.sub(r"[ \t\r\n]+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def render_extract(extract: Any, *, lang: str, catalogue: Catalogue | None = None) -> list[list[EmbedPart]]:
    """Embeds for one extract, grouped by message (send them in order).

    ``extract`` is an :class:`~bot.services.extract_sources.ExtractDraft`, a stored extract or a
    mapping with ``title``, ``intro``, ``body``, ``link``, ``image_url`` (or ``image``) and
    ``month``.  ``lang`` is the language of the footer — normally the extract's own language.
    The report link goes on the first embed as its URL; the caller adds the button
    (:func:`report_button_label`).
    """
    catalogue = catalogue or Catalogue.load()
    title = _truncate(str(_field(extract, "title") or ""), TITLE_LIMIT) or None
    intro = str(_field(extract, "intro") or "")
    body = str(_field(extract, "body") or "")
    link = _field(extract, "link", "url")
    image = _field(extract, "image_url", "image")
    footer = footer_text(_field(extract, "month"), lang, catalogue)[:FOOTER_LIMIT]

    budget = MESSAGE_TOTAL_LIMIT - len(footer)  # the footer is reserved in every message
    piece_max = min(DESCRIPTION_LIMIT, budget - len(title or ""))  # any piece fits an empty message
    pieces: list[str] = []
    for paragraph in _paragraphs(intro):
        pieces.extend(_italic(chunk) for chunk in split_block(paragraph, piece_max - 2))
    for paragraph in _paragraphs(body):
        pieces.extend(split_block(render_quotes(paragraph), piece_max))

    messages: list[list[str]] = []
    descriptions: list[str] = []
    used = len(title or "")
    current: str | None = None
    for piece in pieces:
        if current is not None:
            candidate = current + PARAGRAPH_SEPARATOR + piece
            if len(candidate) <= DESCRIPTION_LIMIT and used + len(candidate) <= budget:
                current = candidate
                continue
            descriptions.append(current)
            used += len(current)
            current = None
        if len(descriptions) >= EMBEDS_PER_MESSAGE or used + len(piece) > budget:
            messages.append(descriptions)
            descriptions, used = [], 0
        current = piece
    if current is not None:
        descriptions.append(current)
    if descriptions or not messages:
        messages.append(descriptions or [""])

    total = sum(len(message) for message in messages)
    out: list[list[EmbedPart]] = []
    index = 0
    for message in messages:
        parts = []
        for description in message:
            first, last = index == 0, index == total - 1
            parts.append(
                EmbedPart(
                    title=title if first else None,
                    description=description,
                    url=link if first and title else None,
                    image_url=image if last else None,
                    footer=footer if last else None,
                )
            )
            index += 1
        out.append(parts)
    return out
