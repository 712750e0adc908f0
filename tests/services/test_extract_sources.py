"""Reading monthly extracts from Markdown/text files, folders, feeds and pages (no network here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import InvalidInput
from bot.services.extract_sources import (
    ExtractDraft,
    clean_text,
    html_to_text,
    parse_feed,
    parse_html_page,
    parse_markdown,
    parse_path,
)
from tests.errors import check_refusal
from tests.paths import FIXTURES

# A monthly post as messy as real ones (our own text): the intro printed twice, a paragraph
# repeated further down, blank lines of no-break spaces, a trailing "rapport enquête" link label.
MESSY_EXAMPLE = FIXTURES / "extract-messy.txt"

GOOD = """\
---
title = "Les jeunes associations et l’accès aux financements"
month = "2026-11"
link = "https://reseau.example.org/enquete-2026.pdf"
lang = "fr"
tags = ["association", "collectif", "association"]
intro = "Tous les mois, un passage de notre enquête annuelle, pour donner la parole aux membres."
image = "https://reseau.example.org/img/financements.png"
question = "Avez-vous déjà répondu à un appel à projets européen ?"
kind = "single"
options = ["Oui", "Non", "Pas encore"]
---

# Les jeunes associations et l’accès aux financements

Les associations créées depuis moins de cinq ans disent manquer d’appui pour monter leurs dossiers.

Une trésorière d’un collectif lyonnais le résume ainsi : « nous passons plus de temps à remplir des \
formulaires qu’à travailler avec nos partenaires. »
"""


def expect_invalid(key: str, call, *args, **kwargs) -> InvalidInput:
    """The call fails with ``key``, and the message exists and formats in both languages."""
    with pytest.raises(InvalidInput) as info:
        call(*args, **kwargs)
    return check_refusal(info.value, key)


# --------------------------------------------------------------------------------------------
# Front matter


def test_front_matter_all_keys() -> None:
    draft = parse_markdown(GOOD, source_key="file:extraits/2026-11.md")
    assert isinstance(draft, ExtractDraft)
    assert draft.source_key == "file:extraits/2026-11.md"
    assert draft.title == "Les jeunes associations et l’accès aux financements"
    assert draft.month == "2026-11"
    assert draft.link == "https://reseau.example.org/enquete-2026.pdf"
    assert draft.image_url == "https://reseau.example.org/img/financements.png"
    assert draft.lang == "fr"
    assert draft.tags == ["association", "collectif"]
    assert draft.intro and draft.intro.startswith("Tous les mois")
    assert draft.question == "Avez-vous déjà répondu à un appel à projets européen ?"
    assert draft.question_kind == "single"
    assert draft.question_options == ["Oui", "Non", "Pas encore"]
    # The "# title" heading repeating the front matter title is not kept in the body.
    assert not draft.body.startswith("#")
    assert draft.body.startswith("Les associations créées")
    assert "« nous passons plus de temps" in draft.body


def test_front_matter_minimal_takes_title_from_heading() -> None:
    text = '---\nlang = "en"\n---\n# Young associations\n\nThey need help with funding.\n'
    draft = parse_markdown(text, source_key="k")
    assert draft.title == "Young associations"
    assert draft.body == "They need help with funding."
    assert draft.lang == "en"
    assert draft.month is None and draft.link is None and draft.tags == [] and draft.intro is None
    assert draft.question is None and draft.question_options == []


@pytest.mark.parametrize(
    ("front", "key", "params"),
    [
        ('title = "A"\nmonth = "2026-11\n', "extract.bad_front_matter", {"line": 3}),
        ('title = "A"\nauthor = "Moi"\n', "extract.unknown_key", {"key": "author", "line": 3}),
        ('title = "A"\n[extra]\nx = 1\n', "extract.unknown_key", {"key": "extra", "line": 3}),
        ('month = "2026-13"\n', "extract.bad_month", {"value": "2026-13"}),
        ('month = "11/2026"\n', "extract.bad_month", {"value": "11/2026"}),
        ("month = 2026-11-01\n", "extract.bad_month", {}),
        ('lang = "de"\n', "extract.bad_lang", {"value": "de"}),
        ('link = "ftp://reseau.example.org/r.pdf"\n', "extract.bad_link", {"key": "link"}),
        ('link = "javascript:alert(1)"\n', "extract.bad_link", {"key": "link"}),
        ('image = "reseau.example.org/a.png"\n', "extract.bad_link", {"key": "image"}),
        ('title = ""\n', "extract.title_empty", {}),
        ('title = "' + "x" * 257 + '"\n', "extract.title_too_long", {"length": 257, "limit": 256}),
        ("tags = [1, 2]\n", "extract.not_text_list", {"key": "tags"}),
        ("title = 3\n", "extract.not_text", {"key": "title"}),
        ('options = ["a", "b"]\n', "extract.question_missing", {"key": "options"}),
    ],
)
def test_front_matter_errors(front: str, key: str, params: dict) -> None:
    text = f"---\n{front}---\n\nUn paragraphe de texte.\n"
    error = expect_invalid(key, parse_markdown, text, source_key="file:x/2026-11.md", source="2026-11.md")
    assert error.params["source"] == "2026-11.md"
    for name, value in params.items():
        assert error.params[name] == value


def test_title_empty_without_body_title() -> None:
    expect_invalid("extract.title_empty", parse_markdown, '---\nlang = "fr"\n---\n\n', source_key="k")


def test_unclosed_front_matter_names_the_line() -> None:
    error = expect_invalid(
        "extract.unclosed_front_matter", parse_markdown, '\n---\ntitle = "A"\n', source_key="k"
    )
    assert error.params["line"] == 2


def test_body_empty() -> None:
    expect_invalid("extract.body_empty", parse_markdown, '---\ntitle = "Seul"\n---\n\n   \n', source_key="k")
    # without a header, the message says how such a file is read
    expect_invalid("extract.body_empty_plain", parse_markdown, "Juste un titre\n", source_key="k")


def test_what_an_extract_file_must_contain() -> None:
    """The dashboard's upload takes a file with its front matter (its form says so): a file
    without one is refused as such, whatever its first line; the command line still reads a
    plain text file (first line the title).  Any extract file's text is capped, a whole report
    pasted by mistake would post dozens of messages in every channel."""
    from bot.services.extract_sources import TEXT_MAX

    for text in ("Juste un titre\n", "Titre\n\nUn texte.\n"):
        error = expect_invalid("extract.no_front_matter", parse_markdown, text, source_key="k", source="extrait.md",
                               front_matter_required=True)
        assert error.params["source"] == "extrait.md"
    assert parse_markdown("Titre\n\nUn texte.\n", source_key="k").title == "Titre"
    paragraphs = "".join(f"Paragraphe {i} : " + "mot " * 100 + "\n\n" for i in range(60))  # ≈ 25 000 characters
    for text in ("Titre\n\n" + paragraphs, '---\ntitle = "T"\n---\n' + paragraphs):
        error = expect_invalid("extract.text_too_long", parse_markdown, text, source_key="k")
        assert error.params["count"] > TEXT_MAX == error.params["total"] == 20_000
    fits = "".join(f"Paragraphe {i} : " + "mot " * 100 + "\n\n" for i in range(45))
    assert len(parse_markdown('---\ntitle = "T"\n---\n' + fits, source_key="k").body) <= TEXT_MAX


# --------------------------------------------------------------------------------------------
# Without front matter, cleaning


def test_no_front_matter_first_line_is_title() -> None:
    text = "\n\n## Le numérique dans nos réseaux \n\nPremier paragraphe.\n\nSecond paragraphe.\n"
    draft = parse_markdown(text, source_key="k")
    assert draft.title == "Le numérique dans nos réseaux"
    assert draft.body == "Premier paragraphe.\n\nSecond paragraphe."
    assert draft.month is None
    assert draft.lang == "fr"
    assert draft.intro is None


def test_recurring_intro_only_when_first_paragraph() -> None:
    intro = "Chaque mois, nous publions ici un passage de l’enquête auprès des membres."
    first = parse_markdown(f"Titre\n\n{intro}\n\n{intro}\n\nLe thème du mois.", source_key="k")
    assert first.intro == intro
    assert first.body == "Le thème du mois."
    later = parse_markdown(f"Titre\n\nLe thème du mois.\n\n{intro}", source_key="k")
    assert later.intro is None
    assert intro in later.body


def test_clean_text_whitespace_duplicates_and_trailing_call_to_action() -> None:
    raw = (
        "Un premier   paragraphe.\r\n\r\n\u00a0\n \u00a0 \n\nUn second\u00a0 : avec espace fine.\n\n"
        "Un premier paragraphe.\n\n\n\nLisez le rapport de l’enquête :\n\nle rapport\n"
    )
    assert clean_text(raw) == "Un premier paragraphe.\n\nUn second\u00a0: avec espace fine."


def test_trailing_link_is_recovered_and_real_content_kept() -> None:
    text = (
        "Titre\n\nNos attentes :\n\n- plus d’échanges entre membres\n\n"
        "Listes des thèmes de l’enquête retenus cette année.\n\n"
        "Téléchargez le rapport complet : [le rapport](https://reseau.example.org/r.pdf)\n"
    )
    draft = parse_markdown(text, source_key="k")
    assert draft.link == "https://reseau.example.org/r.pdf"
    # A last line that links elsewhere than to a report is content.
    contact = parse_markdown(
        "Titre\n\nTexte.\n\nContact : [Marie](https://annuaire.example.org/marie)", source_key="k"
    )
    assert contact.body.endswith("Contact : [Marie](https://annuaire.example.org/marie)")
    assert contact.link is None
    # "…: <link to the report>" at the end is a call to action like any other.
    cta = parse_markdown(
        "Titre\n\nTexte.\n\nPour aller plus loin : https://r.example.org/rapport.pdf", source_key="k"
    )
    assert cta.body == "Texte."
    assert cta.link == "https://r.example.org/rapport.pdf"
    assert draft.body == (
        "Nos attentes :\n\n- plus d’échanges entre membres\n\n"
        "Listes des thèmes de l’enquête retenus cette année."
    )


# --------------------------------------------------------------------------------------------
# Files and folders


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_folder_import_sorted_stable_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "extraits"
    write(folder / "2026-12.txt", "Décembre\n\nTexte de décembre.\n")
    write(folder / "2026-11.md", GOOD)
    write(folder / "2027-01.markdown", "# Janvier\n\nTexte de janvier.\n")
    write(folder / "notes.pdf", "pas un extrait")
    write(folder / ".2026-10.md", "Caché\n\nFichier caché d’un éditeur.\n")
    write(folder / "archives" / "2025-01.md", "Ancien\n\nDans un sous-dossier.\n")

    drafts = parse_path(folder)
    assert [d.title for d in drafts] == [
        "Les jeunes associations et l’accès aux financements",
        "Décembre",
        "Janvier",
    ]
    assert [d.source_key for d in drafts] == [
        "file:extraits/2026-11.md",
        "file:extraits/2026-12.txt",
        "file:extraits/2027-01.markdown",
    ]
    # The same file imported alone, from another working directory, through a relative path.
    monkeypatch.chdir(folder / "archives")
    again = parse_path(Path("../2026-12.txt"))
    assert [d.source_key for d in again] == ["file:extraits/2026-12.txt"]


def test_path_errors(tmp_path: Path) -> None:
    expect_invalid("extract.no_files", parse_path, tmp_path)
    expect_invalid("extract.not_found", parse_path, tmp_path / "absent.md")
    expect_invalid("extract.unsupported_file", parse_path, write(tmp_path / "a.docx", "x"))
    latin = tmp_path / "latin" / "2026-11.txt"
    latin.parent.mkdir()
    latin.write_bytes("Été\n\nUn texte enregistré en Latin-1.\n".encode("latin-1"))
    error = expect_invalid("extract.not_utf8", parse_path, latin.parent)
    assert error.params["source"] == "2026-11.txt"
    bad = write(tmp_path / "mixed" / "b.md", '---\nmonth = "2026-1"\n---\nTitre\n\nTexte.\n')
    write(tmp_path / "mixed" / "a.md", "Titre\n\nTexte.\n")
    error = expect_invalid("extract.bad_month", parse_path, bad.parent)
    assert error.params["source"] == "b.md"


def test_messy_example_imports_cleanly() -> None:
    raw = MESSY_EXAMPLE.read_text(encoding="utf-8")
    [draft] = parse_path(MESSY_EXAMPLE)
    assert draft.source_key == "file:fixtures/extract-messy.txt"
    assert draft.title == raw.strip().splitlines()[0].strip()
    assert draft.intro is not None and draft.intro.startswith("Chaque mois, nous vous présentons un extrait")
    # The intro was printed twice: it is the intro, once, and not in the body.
    assert raw.count("Chaque mois") == 2
    # A paragraph repeated further down is kept once; lines of no-break spaces are blank lines.
    assert raw.count("Un tiers des associations") == 2 and draft.body.count("Un tiers des associations") == 1
    assert "\u00a0\n" in raw and "\u00a0\n" not in draft.body
    assert "Chaque mois" not in draft.body
    paragraphs = draft.body.split("\n\n")
    assert len(paragraphs) == len(set(paragraphs))
    assert all(p.strip() for p in paragraphs)
    # The lost link's text and its call to action are gone; the body ends on real content.
    lines = [line.strip() for line in draft.body.splitlines()]
    assert "rapport enquête" not in lines
    assert "Découvrez" not in draft.body
    assert not draft.body.rstrip().endswith(":")
    # Member voices are kept.
    assert draft.body.count("«") >= 3 and draft.body.count("»") == draft.body.count("«")
    assert draft.month is None and draft.lang == "fr" and draft.link is None


# --------------------------------------------------------------------------------------------
# Pages and feeds (parsing only; fetching is in test_fetch.py)

PAGE = """<!doctype html>
<html lang="en-GB"><head><title>Survey corner | Network</title>
<script>var tracking = "Chaque mois";</script><style>p { color: red }</style></head>
<body class="has-sidebar">
<header><nav><a href="/">Home</a> <a href="/report-2025.pdf">Old report</a></nav></header>
<article class="post category-newsletter">
  <h1>Young  associations and funding</h1>
  <p>Each month, a passage from our members’ survey.</p>
  <p>Newer associations <strong>ask</strong> for help with <em>grant</em> applications.</p>
  <blockquote><p>We spend more time on forms than with our partners.</p></blockquote>
  <ul><li>Training</li><li>Mentoring</li></ul>
  <img src="/img/cover.jpg" alt="">
  <div class="share-buttons"><a href="https://social.example/share">Share</a></div>
  <p>Read the full report: <a href="/files/survey-report-2026.pdf">the report</a></p>
  <footer>Posted in Survey</footer>
</article>
<aside>Sidebar text</aside>
<footer>Legal notice</footer>
</body></html>
"""


def test_a_page_or_feed_entry_as_long_as_a_report_is_refused_as_a_file_is() -> None:
    from bot.services.extract_sources import TEXT_MAX

    paragraphs = "".join(f"<p>Paragraph {i}: " + "word " * 100 + "</p>" for i in range(60))  # ≈ 30 000 characters
    page = f"<html lang='en'><head><title>A report</title></head><body><article><h1>A report</h1>{paragraphs}</article></body></html>"
    error = expect_invalid("extract.text_too_long", parse_html_page, page.encode(), url="https://network.example/r")
    assert error.params["count"] > TEXT_MAX
    feed = ("<?xml version='1.0'?><rss version='2.0'><channel><title>N</title><item><title>A report</title>"
            f"<link>https://network.example/r</link><description><![CDATA[{paragraphs}]]></description></item></channel></rss>")
    error = expect_invalid("extract.text_too_long", parse_feed, feed.encode(), url="https://network.example/feed")
    assert error.params["source"] == "https://network.example/feed (A report)"


def test_html_page_main_text() -> None:
    draft = parse_html_page(PAGE.encode(), url="https://network.example/corner/young#top")
    assert draft.source_key == "page:https://network.example/corner/young"
    assert draft.title == "Young associations and funding"
    assert draft.lang == "en"
    assert draft.intro == "Each month, a passage from our members’ survey."
    assert draft.link == "https://network.example/files/survey-report-2026.pdf"
    assert draft.image_url == "https://network.example/img/cover.jpg"
    assert "Newer associations **ask** for help with *grant* applications." in draft.body
    assert "> We spend more time on forms than with our partners." in draft.body
    assert "- Training\n- Mentoring" in draft.body
    for noise in (
        "Home",
        "Old report",
        "Share",
        "Posted in",
        "Sidebar",
        "Legal",
        "tracking",
        "color",
        "Read the",
    ):
        assert noise not in draft.body, noise


def test_html_to_text_escapes_markdown_but_not_urls() -> None:
    text = html_to_text("<p>a*b_c see https://x.example/a_b_c</p>")
    assert text == "a\\*b\\_c see https://x.example/a_b_c"


def test_feed_bytes_are_never_taken_for_a_file_name(tmp_path: Path) -> None:
    rss = write(
        tmp_path / "feed.xml",
        '<rss version="2.0"><channel><title>T</title><item><title>A</title>'
        "<description>Texte.</description><guid>urn:x:1</guid></item></channel></rss>",
    )
    assert len(parse_feed(rss.read_bytes(), url="https://x.example/feed")) == 1
    expect_invalid("extract.feed_invalid", parse_feed, str(rss).encode(), url="https://x.example/feed")


def test_feed_garbage_and_empty() -> None:
    expect_invalid("extract.feed_invalid", parse_feed, bytes(range(256)) * 4, url="https://x.example/feed")
    expect_invalid("extract.feed_invalid", parse_feed, PAGE.encode(), url="https://x.example/feed")
    empty = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'
    expect_invalid("extract.feed_empty", parse_feed, empty, url="https://x.example/feed")
