"""HTML → Markdown-ish text that Discord shows well, and the report link and first image of a
page or feed entry (navigation, footers, share widgets left out).

HTML is parsed by :func:`parse_html` only, which refuses a document nested deeper than
:data:`MAX_NESTING` elements while the parser reads it (before any tree walk, which recurses):
200,000 nested ``<div>`` under the size cap are refused in a few milliseconds, cleanly."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup, Comment, Declaration, Doctype, NavigableString, ProcessingInstruction, Tag

from bot.errors import InvalidInput
from bot.services.extract_sources.cleaning import _BARE_URL, _is_http_url, _normalise_spaces, _one_line
from bot.services.links import link_problem

#: How many elements may sit inside one another.  Real pages stay far below (a few dozen); the
#: text rendering recurses once per level, so a deeper document would exhaust Python's stack.
MAX_NESTING = 200

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


class _TooNested(Exception):
    pass


class _NestingLimitedSoup(BeautifulSoup):
    """A soup whose parser stops as soon as an element would open deeper than :data:`MAX_NESTING`
    (``tagStack`` is the parser's stack of open elements, the document itself at the bottom)."""

    def pushTag(self, tag: Tag) -> None:  # noqa: N802 (BeautifulSoup's name)
        if len(self.tagStack) > MAX_NESTING:
            raise _TooNested
        super().pushTag(tag)


def parse_html(markup: str | bytes, *, source: str, encoding: str | None = None) -> BeautifulSoup:
    """``markup`` parsed with ``html.parser``; ``InvalidInput("extract.page_too_nested")`` when it
    nests deeper than :data:`MAX_NESTING` (``source`` names it in the message)."""
    try:
        return _NestingLimitedSoup(markup, "html.parser", from_encoding=encoding if isinstance(markup, bytes) else None)
    except _TooNested:
        raise InvalidInput("extract.page_too_nested", source=source, limit=MAX_NESTING) from None


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
    node = parse_html(html, source=base_url or "HTML") if isinstance(html, str) else html
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
        if target is not None and link_problem(target) is None:  # an address Discord would refuse: the next one
            return target
    return None
