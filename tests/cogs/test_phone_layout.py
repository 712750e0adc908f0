"""Results by member type on a phone (issue 11, item 4): the code-block table only when it fits
``PHONE_WIDTH`` characters, else one wrapping line per member type; both hold the same numbers,
and the compact form keeps the total within Discord's limits."""

from __future__ import annotations

from bot.i18n import Catalogue
from bot.services.polls import TypeTable
from cogs._tables import PHONE_WIDTH, compact_block, fits_phone, type_compact_lines, type_table_lines

CATALOGUE = Catalogue.load()


def label_value(label: str, value: str) -> str:
    return CATALOGUE.t("format.label_value", "fr", label=label, value=value)


def table(headers, rows) -> TypeTable:
    def cells(counts, n):
        return tuple((c, 100 * c / n if n else 0.0) for c in counts)

    total_n = sum(n for _, n, _ in rows)
    total = tuple(sum(r[2][i] for r in rows) for i in range(len(headers)))
    return TypeTable(tuple(headers), tuple((label, n, cells(c, n)) for label, n, c in rows),
                     ("Total", total_n, cells(total, total_n)))


def test_a_narrow_table_stays_a_table():
    narrow = table(["Oui", "Non"], [("ONG", 2, (1, 1))])
    lines = type_table_lines(narrow, "fr", "Type")
    assert fits_phone(lines) and all(len(line) <= PHONE_WIDTH for line in lines)


def test_a_wide_table_becomes_one_line_per_member_type_with_the_same_numbers():
    wide = table(["Des formations courtes", "Des échanges entre pairs", "Un appui individuel"],
                 [("Collectivité territoriale", 3, (1, 2, 0)), ("ONG / association", 1, (0, 0, 1))])
    lines = type_table_lines(wide, "fr", "Type de membre")
    assert not fits_phone(lines)
    compact = type_compact_lines(wide, "fr", label_value)
    assert compact == [
        "**Collectivité territoriale** (3)\u202f: Des formations courtes 1 (33,3\u00a0%) · "
        "Des échanges entre pairs 2 (66,7\u00a0%) · Un appui individuel 0 (0\u00a0%)",
        "**ONG / association** (1)\u202f: Des formations courtes 0 (0\u00a0%) · "
        "Des échanges entre pairs 0 (0\u00a0%) · Un appui individuel 1 (100\u00a0%)",
        "**Total** (4)\u202f: Des formations courtes 1 (25\u00a0%) · "
        "Des échanges entre pairs 2 (50\u00a0%) · Un appui individuel 1 (25\u00a0%)",
    ]


def test_compact_form_keeps_the_total_within_the_limit():
    many = table(["A", "B"], [(f"Type {i}", 1, (1, 0)) for i in range(40)])
    lines = type_compact_lines(many, "fr", label_value)
    text = compact_block(lines, 300)
    assert len(text) <= 300 and text.endswith(lines[-1]) and "\n…\n" in text
