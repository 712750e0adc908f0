"""Results by member type for Discord: a monospaced table in a code block when it fits a phone's
width (``PHONE_WIDTH`` characters), else a compact list — one line per member type with each
option's count — that wraps like any text (issue 11, item 4: the wide table overflowed a
phone's screen)."""

from __future__ import annotations

from bot.services import charts
from bot.services.polls import TypeTable

TYPE_LABEL_WIDTH = 26
OPTION_LABEL_WIDTH = 14
#: Monospaced characters a phone shows on one line of a code block without scrolling sideways.
PHONE_WIDTH = 40


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split()).replace("`", "'")
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def type_table_lines(table: TypeTable, lang: str, type_column: str) -> list[str]:
    """The table's lines: a header (member type, n, one column per option), one line per member
    type, then the total; each cell ``count (pct %)`` of that row's respondents."""
    header = [
        _clip(type_column, TYPE_LABEL_WIDTH),
        "n",
        *(_clip(h, OPTION_LABEL_WIDTH) for h in table.headers),
    ]
    body = []
    for label, respondents, cells in (*table.rows, table.total):
        body.append(
            [
                _clip(label, TYPE_LABEL_WIDTH),
                charts.format_count(respondents, lang),
                *(charts.format_count_pct(count, respondents, lang) for count, _ in cells),
            ]
        )
    widths = [max(len(row[i]) for row in (header, *body)) for i in range(len(header))]

    def line(row: list[str]) -> str:
        first, n, *rest = row
        parts = [
            first.ljust(widths[0]),
            n.rjust(widths[1]),
            *(c.ljust(w) for c, w in zip(rest, widths[2:], strict=True)),
        ]
        return "  ".join(parts).rstrip()

    rule = "-" * len(line(header))
    return [line(header), rule, *(line(row) for row in body[:-1]), rule, line(body[-1])]


def code_block(lines: list[str], limit: int) -> str:
    """The lines in a ``` block of at most ``limit`` characters: when they do not fit, rows are
    dropped from the end of the body (an "…" line says so) and the header and total are kept."""

    def block(chosen: list[str]) -> str:
        return "```\n" + "\n".join(chosen) + "\n```"

    if len(block(lines)) <= limit:
        return block(lines)
    head, body, tail = lines[:2], lines[2:-2], lines[-2:]
    kept: list[str] = []
    for row in body:
        if len(block([*head, *kept, row, "…", *tail])) > limit:
            break
        kept.append(row)
    text = block([*head, *kept, "…", *tail])
    return text if len(text) <= limit else block(["…"])


def fits_phone(lines: list[str]) -> bool:
    """The table's lines are no wider than a phone shows."""
    return max((len(line) for line in lines), default=0) <= PHONE_WIDTH


def type_compact_lines(table: TypeTable, lang: str, label_value) -> list[str]:
    """The same numbers as :func:`type_table_lines`, for a narrow screen: one line per member
    type (then the total), ``**type** (n) : option count (pct %) · …``, which a phone wraps
    instead of scrolling.  ``label_value(label, value)`` joins a label and its value in the
    reader's language."""
    import discord

    lines: list[str] = []
    for label, respondents, cells in (*table.rows, table.total):
        name = f"**{discord.utils.escape_markdown(_clip(label, TYPE_LABEL_WIDTH))}** " \
               f"({charts.format_count(respondents, lang)})"
        lines.append(label_value(name, " · ".join(
            f"{discord.utils.escape_markdown(_clip(header, OPTION_LABEL_WIDTH * 2))} "
            f"{charts.format_count_pct(count, respondents, lang)}"
            for header, (count, _) in zip(table.headers, cells, strict=True)
        )))
    return lines


def compact_block(lines: list[str], limit: int) -> str:
    """The compact lines within ``limit`` characters: member types are dropped from the end
    (an "…" line says so), the total (the last line) is kept."""
    text = "\n".join(lines)
    if len(text) <= limit:
        return text
    kept: list[str] = []
    for line in lines[:-1]:
        if len("\n".join([*kept, line, "…", lines[-1]])) > limit:
            break
        kept.append(line)
    text = "\n".join([*kept, "…", lines[-1]])
    return text if len(text) <= limit else "…"
