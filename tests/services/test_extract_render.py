"""Rendering extracts into embed-sized plain data: Discord's limits, quotes, intro, footer, button."""

from __future__ import annotations

import re

from bot.i18n import LANGUAGES, Catalogue, placeholders
from bot.services.extract_render import (
    DESCRIPTION_LIMIT,
    EMBEDS_PER_MESSAGE,
    MESSAGE_TOTAL_LIMIT,
    TITLE_LIMIT,
    EmbedPart,
    render_extract,
    render_quotes,
    report_button_label,
    split_block,
)
from bot.services.extract_sources import ExtractDraft, parse_path
from tests.paths import FIXTURES, REPO

# A monthly post as messy as real ones (our own text): the intro printed twice, a paragraph
# repeated further down, blank lines of no-break spaces, a trailing "rapport enquête" link label.
MESSY_EXAMPLE = FIXTURES / "extract-messy.txt"
LOCALES = REPO / "bot" / "locales" / "extracts.toml"


def draft(body: str, **fields) -> ExtractDraft:
    values = dict(source_key="k", title="Les réseaux et le numérique", intro=None, body=body, month="2026-11")
    values.update(fields)
    return ExtractDraft(**values)


def check_limits(messages: list[list[EmbedPart]]) -> list[EmbedPart]:
    assert messages and all(messages)
    for message in messages:
        assert len(message) <= EMBEDS_PER_MESSAGE
        assert sum(part.length for part in message) <= MESSAGE_TOTAL_LIMIT
        for part in message:
            assert part.title is None or 0 < len(part.title) <= TITLE_LIMIT
            assert len(part.description) <= DESCRIPTION_LIMIT
    return [part for message in messages for part in message]


def sentence(i: int) -> str:
    return f"Phrase numéro {i} sur les attentes des membres envers le réseau et ses outils partagés."


def paragraph(i: int, sentences: int) -> str:
    return " ".join(sentence(i * 1000 + j) for j in range(sentences))


def words(text: str) -> list[str]:
    return re.sub(r"^> ", "", text, flags=re.MULTILINE).split()


# --------------------------------------------------------------------------------------------
# Limits and splitting


def test_long_body_respects_every_limit_and_loses_nothing() -> None:
    paragraphs = [paragraph(i, 8) for i in range(60)]  # ~700 characters each
    huge = paragraph(999, 200)  # one ~18 000-character paragraph: must be cut
    paragraphs.insert(30, huge)
    giant_word = "https://reseau.example.org/" + "x" * 5000  # no boundary at all
    paragraphs.append(giant_word)
    body = "\n\n".join(paragraphs)
    messages = render_extract(
        draft(body, title="T" * 300, intro="Chaque mois, un passage de l’enquête."), lang="fr"
    )
    parts = check_limits(messages)
    assert len(messages) > 3

    # Title (cut to 256) and link only on the first embed; footer and image only on the last.
    assert parts[0].title == "T" * 255 + "…"
    assert all(part.title is None and part.url is None for part in parts[1:])
    assert parts[-1].footer == "Extrait du rapport d’enquête auprès des membres — novembre 2026"
    assert all(part.footer is None for part in parts[:-1])

    # Nothing lost, nothing reordered (the giant word is the only thing cut inside a word).
    rendered = " ".join(part.description for part in parts)
    expected = "*Chaque mois, un passage de l’enquête.* " + body
    assert words(rendered)[:-2] == words(expected)[:-1]
    assert "".join(words(rendered)) == "".join(words(expected))

    # Paragraphs that fit are never cut: each appears whole in one description.
    for text in paragraphs:
        if text not in (huge, giant_word):
            assert sum(text in part.description for part in parts) == 1, text[:40]
    # The huge paragraph is cut at sentence boundaries.
    pieces = [
        part.description
        for part in parts
        if sentence(999_000)[:20] in part.description or "999" in part.description
    ]
    assert len(pieces) >= 5
    for piece in pieces:
        for chunk in piece.split("\n\n"):
            if "numéro 999" in chunk:
                assert chunk.startswith("Phrase numéro 999") and chunk.endswith("partagés.")


def test_paragraphs_that_do_not_fit_together_go_to_the_next_embed() -> None:
    body = "\n\n".join(paragraph(i, 35) for i in range(4))  # ~3000 characters each
    parts = check_limits(messages := render_extract(draft(body), lang="fr"))
    assert [part.description for part in parts] == body.split("\n\n")
    assert [len(m) for m in messages] == [1, 1, 1, 1]  # two of them would pass 6000 characters


def test_split_block_prefers_lines_then_sentences_then_words() -> None:
    block = paragraph(1, 10) + "\nLigne courte."
    pieces = split_block(block, 300)
    assert len(pieces) == 4 and pieces[-1].endswith("partagés.\nLigne courte.")
    assert all(len(piece) <= 300 and piece.startswith("Phrase") for piece in pieces)
    assert "\n".join(pieces).replace("\n", " ") == block.replace("\n", " ")
    quote = "> « " + paragraph(2, 6) + " »"
    pieces = split_block(quote, 200)
    assert len(pieces) > 1 and all(piece.startswith("> ") and len(piece) <= 200 for piece in pieces)
    assert split_block("mot " * 10, 9) == ["mot mot", "mot mot", "mot mot", "mot mot", "mot mot"]
    # A non-breaking space is never a cut point.
    assert split_block("aa\u00a0bb cc", 5) == ["aa\u00a0bb", "cc"]


def test_small_extract_is_one_embed() -> None:
    [[part]] = render_extract(
        {
            "title": "Court",
            "intro": "Chaque mois…",
            "body": "Un paragraphe.",
            "link": "https://r.example/r.pdf",
            "image": "https://r.example/i.png",
            "month": None,
        },
        lang="en",
    )
    assert part == EmbedPart(
        title="Court",
        description="*Chaque mois…*\n\nUn paragraphe.",
        url="https://r.example/r.pdf",
        image_url="https://r.example/i.png",
        footer="Extract from the members’ survey report",
    )


# --------------------------------------------------------------------------------------------
# Quotes and intro


def test_member_voices_become_quote_lines() -> None:
    text = (
        "Selon une animatrice de réseau, « les outils partagés ont changé notre façon de travailler. » "
        "Elle parle aussi du «\u202fréseau 2.0\u202f» comme d’un horizon."
    )
    assert render_quotes(text) == (
        "Selon une animatrice de réseau,\n"
        "> « les outils partagés ont changé notre façon de travailler. »\n"
        "Elle parle aussi du «\u202fréseau 2.0\u202f» comme d’un horizon."
    )
    assert render_quotes("« Nous voulons plus d’échanges entre membres. »") == (
        "> « Nous voulons plus d’échanges entre membres. »"
    )
    assert render_quotes("Le titre « Les membres et leur réseau » reste en ligne.") == (
        "Le titre « Les membres et leur réseau » reste en ligne."
    )
    assert render_quotes("Une élue : “we want more exchanges between members.”.") == (
        "Une élue :\n> “we want more exchanges between members.”."
    )
    assert (
        render_quotes("> déjà une citation « avec une phrase. »")
        == "> déjà une citation « avec une phrase. »"
    )


def test_intro_in_italics() -> None:
    [[part]] = render_extract(draft("Corps.", intro="Chaque mois, un *passage* de l’enquête."), lang="fr")
    assert part.description.startswith("*Chaque mois, un \\*passage\\* de l’enquête.*\n\n")


def test_messy_example_renders_with_quotes() -> None:
    [extract] = parse_path(MESSY_EXAMPLE)
    messages = render_extract(extract, lang="fr")
    [[part]] = messages
    check_limits(messages)
    assert part.title == extract.title
    assert part.description.startswith("*Chaque mois")
    quote_lines = [line for line in part.description.splitlines() if line.startswith("> ")]
    assert len(quote_lines) == 2 and all(line.startswith("> «") for line in quote_lines)
    # A short quoted name stays inline.
    assert re.search(r"d’un «\s*réseau 2\.0\s*»\.$", part.description)


# --------------------------------------------------------------------------------------------
# Catalogue


def test_report_button_label() -> None:
    assert report_button_label("fr") == "Lire le rapport complet"
    assert report_button_label("en") == "Read the full report"


def test_extract_strings_have_both_languages_and_same_placeholders() -> None:
    import tomllib

    data = tomllib.loads(LOCALES.read_text(encoding="utf-8"))
    catalogue = Catalogue.load()
    keys = [f"{table}.{name}" for table, entries in data.items() for name in entries]
    assert len(keys) > 30
    for key in keys:
        entry = catalogue.entries[key]
        assert set(entry) == set(LANGUAGES)
        assert placeholders(entry["fr"]) == placeholders(entry["en"]), key
