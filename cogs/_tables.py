"""Monospaced tables for Discord code blocks (results by member type)."""

from __future__ import annotations

from bot.services import charts
from bot.services.polls import TypeTable

TYPE_LABEL_WIDTH = 26
OPTION_LABEL_WIDTH = 14


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
