"""Markdown and text files: the TOML front matter, one file, or every file of a folder."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from pathlib import Path
from typing import Any

from bot.errors import InvalidInput
from bot.services.extract_sources.cleaning import _normalise_spaces, _strip_heading
from bot.services.extract_sources.drafts import (
    ALLOWED_KEYS,
    FILE_SUFFIXES,
    LANGS,
    MAX_FILE_BYTES,
    TEXT_MAX,
    ExtractDraft,
    _build,
    _lang_code,
    _short_key,
)
from bot.services.links import LINK_MAX, link_problem

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
    problem = link_problem(value) if value is not None else None
    if problem == "not_http":
        raise InvalidInput("extract.bad_link", source=source, key=key, value=value)
    if problem == "too_long":
        raise InvalidInput("extract.link_too_long", source=source, key=key, length=len(value), limit=LINK_MAX)
    return value


def parse_markdown(
    text: str,
    *,
    source_key: str,
    source: str | None = None,
    default_lang: str = "fr",
    front_matter_required: bool = False,
) -> ExtractDraft:
    """Read one extract written in Markdown (or plain text).

    With a TOML front matter between two ``---`` lines, the keys are ``title``, ``month``
    (``"YYYY-MM"``), ``link``, ``lang`` (``fr``/``en``), ``tags`` (list of member types) and the
    optional ``intro``, ``image``, ``question``, ``kind`` and ``options`` (list); all may be left
    out (a missing title is taken from the body's first line, ``# `` removed).  Without front
    matter the first non-empty line is the title and the rest the body, with ``month=None`` —
    unless ``front_matter_required`` (the dashboard's upload), which refuses such a file.  The
    text (intro and body) is at most :data:`TEXT_MAX` characters.

    ``source`` names the input in error messages (defaults to ``source_key``).  Raises
    :class:`~bot.errors.InvalidInput` with an ``extract.*`` key on anything invalid.
    """
    source = source or source_key
    text = _normalise_spaces(text.lstrip("\ufeff"))
    front, opening_line, rest = _split_front_matter(text, source)

    if front is None:
        if front_matter_required:
            raise InvalidInput("extract.no_front_matter", source=source)
        title, body = "", ""
        lines = rest.split("\n")
        for index, line in enumerate(lines):
            if line.strip():
                title = _strip_heading(line)
                body = "\n".join(lines[index + 1 :])
                break
        try:
            draft = _build(
                source_key=source_key,
                source=source,
                title=title or None,
                body=body,
                lang=_lang_code(default_lang),
            )
        except InvalidInput as exc:
            if exc.key == "extract.body_empty":  # say how a file without a header is read
                raise InvalidInput("extract.body_empty_plain", source=source) from None
            raise
        return draft

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


def _read_file(path: Path, *, front_matter_required: bool = False) -> ExtractDraft:
    source = path.name
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InvalidInput("extract.file_too_large", source=source, kb=MAX_FILE_BYTES // 1024, total=TEXT_MAX)
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
    return parse_markdown(text, source_key=file_source_key(path), source=source,
                          front_matter_required=front_matter_required)


def parse_path(path: Path, *, front_matter_required: bool = False) -> list[ExtractDraft]:
    """One file (``.md``, ``.markdown``, ``.txt``) or every such file of a folder (not its
    sub-folders; hidden files skipped), sorted by name.  Source keys: see the module doc.
    ``front_matter_required``: a file without its front matter is refused (the dashboard)."""
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
        return [_read_file(p, front_matter_required=front_matter_required) for p in files]
    if not path.exists():
        raise InvalidInput("extract.not_found", source=str(path))
    if path.suffix.lower() not in FILE_SUFFIXES:
        raise InvalidInput("extract.unsupported_file", source=path.name, suffixes=suffixes)
    return [_read_file(path, front_matter_required=front_matter_required)]
