"""Poll results charts: valid, deterministic PNGs whose bars measure what they claim.

The bar tests read the pixels back: every bar is a solid rectangle in a known colour
(``BAR_COLOR`` / ``TYPE_COLORS``), so its horizontal extent in its row band must be proportional
to its count.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import subprocess
import sys
import warnings

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from PIL import Image

from bot.i18n import Catalogue, placeholders
from bot.services import charts
from bot.services.charts import (
    BAR_COLOR,
    DPI,
    FIG_WIDTH_IN,
    MAX_OPTIONS,
    TYPE_COLORS,
    format_count,
    format_count_pct,
    format_pct,
    results_by_type_chart,
    results_chart,
)
from tests.paths import REPO as ROOT

TYPES = ["Collectivité territoriale", "Réseau", "ONG / association"]
LABELS = ["Oui", "Non", "Peut-être", "Sans avis"]


# ------------------------------------------------------------------------------ pixel helpers


def _pixels(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


def _mask(pixels: np.ndarray, colour: str, tolerance: int = 3) -> np.ndarray:
    target = np.array([round(c * 255) for c in to_rgb(colour)], dtype=np.int16)
    return np.all(np.abs(pixels - target) <= tolerance, axis=-1)


def _bands(mask: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous runs of rows holding at least one masked pixel, as (first, last) row."""
    rows = np.flatnonzero(mask.any(axis=1))
    bands: list[tuple[int, int]] = []
    for row in rows:
        if bands and row == bands[-1][1] + 1:
            bands[-1] = (bands[-1][0], row)
        else:
            bands.append((row, row))
    return bands


def _runs(line: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous runs of True in a 1-D mask, as (first, last) column."""
    cols = np.flatnonzero(line)
    runs: list[tuple[int, int]] = []
    for col in cols:
        if runs and col == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], col)
        else:
            runs.append((col, col))
    return runs


def _assert_proportional(lengths: list[int], counts: list[int], tolerance: float = 2.0) -> None:
    assert len(lengths) == len(counts)
    scale = sum(lengths) / sum(counts)  # pixels per unit, fitted on all bars
    for length, count in zip(lengths, counts, strict=True):
        assert abs(length - scale * count) <= tolerance, (lengths, counts, scale)


# ------------------------------------------------------------------------------------ basics


def test_png_is_valid_and_sensibly_sized():
    png = results_chart("Votre avis ?", LABELS, [3, 0, 6, 1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(png)) as image:
        image.verify()
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        width, height = image.size
    assert width == round(FIG_WIDTH_IN * DPI)
    assert 200 <= height <= 1000


def test_height_grows_with_options_and_stays_bounded():
    heights = []
    for n in (1, 5, MAX_OPTIONS):
        png = results_chart("Titre", [f"Option {i}" for i in range(n)], list(range(n)))
        with Image.open(io.BytesIO(png)) as image:
            heights.append(image.size[1])
    assert heights[0] < heights[1] < heights[2] <= 3000


def test_same_input_same_bytes_and_different_input_different_bytes():
    first = results_chart("Votre avis ?", LABELS, [3, 0, 6, 1])
    assert results_chart("Votre avis ?", LABELS, [3, 0, 6, 1]) == first
    assert results_chart("Votre avis ?", LABELS, [3, 0, 6, 2]) != first
    by_type = [[2, 0, 1, 3], [1, 0, 4, 0], [0, 0, 2, 2]]
    assert results_by_type_chart("T", LABELS, TYPES, by_type) == results_by_type_chart(
        "T", LABELS, TYPES, by_type
    )
    assert b"Software" not in first and b"matplotlib" not in first.lower()


# ------------------------------------------------------------------------------ pixel checks


def test_bars_are_proportional_to_counts_and_zero_has_no_bar():
    counts = [3, 0, 6, 1]
    pixels = _pixels(results_chart("Votre avis ?", LABELS, counts))
    mask = _mask(pixels, BAR_COLOR)
    bands = _bands(mask)
    assert len(bands) == 3, bands  # the option with 0 answers draws nothing

    starts, lengths, centres = [], [], []
    for first, last in bands:
        assert last - first >= 10  # a real bar, not an anti-aliasing fleck
        middle = mask[(first + last) // 2]
        runs = _runs(middle)
        assert len(runs) == 1, runs  # one solid rectangle per row
        starts.append(runs[0][0])
        lengths.append(runs[0][1] - runs[0][0] + 1)
        centres.append((first + last) / 2)

    assert max(starts) - min(starts) <= 1  # all bars start on the axis
    _assert_proportional(lengths, [3, 6, 1])  # order kept: first option on top
    # Rows are evenly spaced: the missing bar leaves a double gap between options 0 and 2.
    step = centres[2] - centres[1]
    assert abs((centres[1] - centres[0]) - 2 * step) <= 2


def test_bar_order_follows_options_top_to_bottom():
    pixels = _pixels(results_chart("Ordre", ["A", "B", "C"], [1, 2, 4]))
    mask = _mask(pixels, BAR_COLOR)
    lengths = [mask[(a + b) // 2].sum() for a, b in _bands(mask)]
    assert lengths == sorted(lengths)
    _assert_proportional(lengths, [1, 2, 4])


def test_by_type_segments_are_proportional_and_legend_lists_every_type():
    counts = [[2, 0, 1, 3], [1, 0, 4, 0], [0, 0, 2, 2]]  # counts[type][option]
    pixels = _pixels(results_by_type_chart("Par type", LABELS, TYPES, counts))
    colours = TYPE_COLORS[: len(TYPES)]
    masks = [_mask(pixels, colour) for colour in colours]
    union = np.logical_or.reduce(masks)

    legend_bands, bar_bands = [], []
    for first, last in _bands(union):
        runs = _runs(union[first + 2])  # near the top edge: above the counts printed inside the bars
        (legend_bands if len(runs) > 1 else bar_bands).append((first, last))

    # The legend: one swatch per type, side by side, each in its own colour.
    assert len(legend_bands) == 1
    first, last = legend_bands[0]
    row = (first + last) // 2
    swatch_starts = [np.flatnonzero(mask[row])[0] for mask in masks]
    assert swatch_starts == sorted(swatch_starts)

    # The bars: option 1 has no answer at all, so three bars for options 0, 2 and 3.
    options = [0, 2, 3]
    assert len(bar_bands) == len(options)
    starts, segment_lengths, segment_counts, totals = [], [], [], []
    for (first, _last), option in zip(bar_bands, options, strict=True):
        row = first + 2  # above the count printed inside each segment
        starts.append(np.flatnonzero(union[row])[0])
        totals.append(int(union[row].sum()))
        previous_end = None
        for t, mask in enumerate(masks):
            expected = counts[t][option]
            cols = np.flatnonzero(mask[row])
            if expected == 0:
                assert cols.size == 0, (option, t)
                continue
            assert cols[-1] - cols[0] + 1 == cols.size  # one contiguous segment
            if previous_end is not None:  # segments stacked in type order, no gap, no overlap
                assert abs(cols[0] - (previous_end + 1)) <= 1
            previous_end = cols[-1]
            segment_lengths.append(int(cols.size))
            segment_counts.append(expected)
    assert max(starts) - min(starts) <= 1
    _assert_proportional(segment_lengths, segment_counts)
    _assert_proportional(totals, [3, 7, 5])


def test_zero_total_chart_renders_without_bars():
    for lang in ("fr", "en"):
        png = results_chart("Sondage vide", ["Oui", "Non"], [0, 0], lang=lang)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert not _mask(_pixels(png), BAR_COLOR).any()
    fig = charts._build(
        "Sondage vide", ["Oui", "Non"], [charts._Series(None, BAR_COLOR, None, (0, 0))], 0, "0 réponse", "fr"
    )
    texts = {text.get_text() for ax in fig.axes for text in ax.texts}
    assert "Aucune réponse pour l’instant" in texts
    assert "0 (0\u00a0%)" in texts
    by_type = results_by_type_chart("Vide", ["Oui", "Non"], TYPES, [[0, 0]] * 3, lang="en")
    union = np.logical_or.reduce([_mask(_pixels(by_type), c) for c in TYPE_COLORS[:3]])
    assert len(_bands(union)) == 1  # the legend's swatches only, no bar


# -------------------------------------------------------------------------------- formatting


def test_french_and_english_percentages():
    assert format_count_pct(12, 40, "fr") == "12 (30\u00a0%)"
    assert format_count_pct(69, 200, "fr") == "69 (34,5\u00a0%)"
    assert format_count_pct(69, 200, "en") == "69 (34.5%)"
    assert format_pct(1, 3, "fr") == "33,3"
    assert format_pct(2, 3, "en") == "66.7"
    assert format_pct(5, 5, "fr") == "100"
    assert format_pct(0, 0, "fr") == "0"
    assert format_pct(1, 100_000, "fr") == "<0,1"
    assert format_count(1234, "fr") == "1\u202f234"
    assert format_count(1234, "en") == "1,234"


def _texts(fig) -> set[str]:
    found = {text.get_text() for text in fig.texts}
    for ax in fig.axes:
        found |= {text.get_text() for text in ax.texts}
        found |= {label.get_text() for label in ax.get_yticklabels()}
    return found


def test_chart_annotations_and_subtitle_use_the_catalogue():
    counts = (69, 131)
    series = [charts._Series(None, BAR_COLOR, None, counts)]
    fr = _texts(charts._build("Q", ["A", "B"], series, 200, charts._answers(200, "fr"), "fr"))
    assert {"69 (34,5\u00a0%)", "131 (65,5\u00a0%)", "200 réponses"} <= fr
    en = _texts(charts._build("Q", ["A", "B"], series, 200, charts._answers(200, "en"), "en"))
    assert {"69 (34.5%)", "131 (65.5%)", "200 answers"} <= en
    assert charts._answers(1, "fr") == "1 réponse" and charts._answers(1, "en") == "1 answer"


def test_respondents_is_the_percentage_base_for_multiple_choice():
    pixels_default = results_chart("Q", ["A", "B"], [3, 1])
    pixels_explicit = results_chart("Q", ["A", "B"], [3, 1], respondents=20)
    assert pixels_default != pixels_explicit
    with pytest.raises(ValueError):
        results_chart("Q", ["A", "B"], [3, 1], respondents=2)


def test_long_labels_are_wrapped_and_unrenderable_glyphs_dropped():
    long = "Le manque de financements dédiés aux projets internationaux des collectivités territoriales " * 2
    series = [charts._Series(None, BAR_COLOR, None, (1, 2, 3))]
    fig = charts._build("Titre 🎉 $x$", [long, "👍", "Prix $5"], series, 6, "6 réponses", "fr")
    labels = [label.get_text() for label in fig.axes[0].get_yticklabels()]
    assert 2 <= labels[0].count("\n") + 1 <= 3
    assert all(len(line) <= 32 for line in labels[0].split("\n"))
    assert labels[0].endswith("…")
    assert labels[1] == "Option 2"  # an emoji-only answer falls back to its number
    assert labels[2] == "Prix $5"  # no mathtext
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "Glyph missing from font"
        png = results_chart("Titre 🎉 $x$", [long, "👍", "Prix $5"], [1, 2, 3])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


# -------------------------------------------------------------------------------- validation


def test_limits_and_shape_checks():
    assert results_chart("Max", [f"O{i}" for i in range(MAX_OPTIONS)], [1] * MAX_OPTIONS)[:4] == b"\x89PNG"
    with pytest.raises(ValueError):
        results_chart("Trop", [f"O{i}" for i in range(MAX_OPTIONS + 1)], [1] * (MAX_OPTIONS + 1))
    with pytest.raises(ValueError):
        results_chart("Vide", [], [])
    with pytest.raises(ValueError):
        results_chart("Décalé", ["A", "B"], [1])
    with pytest.raises(ValueError):
        results_chart("Négatif", ["A", "B"], [1, -1])
    with pytest.raises(ValueError):
        results_by_type_chart("T", ["A", "B"], TYPES, [[1, 2], [3, 4]])
    with pytest.raises(ValueError):
        results_by_type_chart("T", ["A", "B"], TYPES, [[1, 2], [3, 4], [5]])
    with pytest.raises(ValueError):
        results_by_type_chart("T", ["A", "B"], [], [])


def test_many_member_types_render():
    types = [f"Type {i}" for i in range(len(TYPE_COLORS) + 2)]
    counts = [[i, 1] for i in range(len(types))]
    png = results_by_type_chart("Beaucoup de types", ["A", "B"], types, counts, lang="en")
    with Image.open(io.BytesIO(png)) as image:
        assert image.size[0] == round(FIG_WIDTH_IN * DPI)


# ---------------------------------------------------------------------------- threads, globals


async def test_concurrent_rendering_in_threads_is_identical():
    args = ("Concurrent", LABELS, [3, 0, 6, 1])
    expected = results_chart(*args)
    results = await asyncio.gather(*(asyncio.to_thread(results_chart, *args) for _ in range(6)))
    assert all(result == expected for result in results)


def test_no_pyplot_no_discord_and_identical_bytes_across_processes():
    script = (
        "import sys, hashlib\n"
        "from bot.services.charts import results_chart\n"
        "png = results_chart('Votre avis ?', ['Oui', 'Non', 'Peut-être', 'Sans avis'], [3, 0, 6, 1])\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
        "assert not any(m == 'discord' or m.startswith('discord.') for m in sys.modules)\n"
        "print(hashlib.sha256(png).hexdigest())\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    local = hashlib.sha256(results_chart("Votre avis ?", LABELS, [3, 0, 6, 1])).hexdigest()
    assert out.stdout.strip() == local


def test_chart_strings_exist_in_both_languages():
    catalogue = Catalogue.load()
    for key in (
        "answers_one",
        "answers_other",
        "subtitle_by_type",
        "no_answers",
        "bar_label",
        "option_fallback",
    ):
        entry = catalogue.entries[f"charts.{key}"]
        assert placeholders(entry["fr"]) == placeholders(entry["en"])


def test_annotations_labels_and_title_stay_inside_the_image():
    long = "Une réponse vraiment très longue qui doit être coupée sur plusieurs lignes " * 3
    counts = (123_456, 7, 98_765)
    series = [charts._Series(None, BAR_COLOR, None, counts)]
    fig = charts._build("Titre " * 40, [long, "B", "C"], series, sum(counts), "x", "fr")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    width, height = fig.canvas.get_width_height()
    ax = fig.axes[0]
    artists = [*fig.texts, *ax.texts, *ax.get_yticklabels()]
    assert len(ax.texts) == 3
    for artist in artists:
        box = artist.get_window_extent(renderer)
        assert box.x0 >= 0 and box.y0 >= 0, artist.get_text()
        assert box.x1 <= width and box.y1 <= height, artist.get_text()
    assert "123\u202f456 (55,6\u00a0%)" in {text.get_text() for text in ax.texts}


def test_by_type_counts_are_printed_inside_wide_enough_segments():
    """Issue 11, item 4: a phone reads the breakdown from the chart — each segment wide enough
    holds its count (white on the dark blue of the first type), a narrow one stays plain."""
    counts = [[9, 1], [0, 3]]  # counts[type][option]: option 0 is one wide blue segment
    with_counts = _pixels(results_by_type_chart("Par type", ["A", "B"], ["Un", "Deux"], counts))
    blue = _mask(with_counts, TYPE_COLORS[0])
    bands = [(first, last) for first, last in _bands(blue) if last - first > 15]  # the bars, not the swatch
    first, last = bands[0]
    middle, edge = blue[(first + last) // 2], blue[first + 2]
    inside = np.flatnonzero(edge)
    # the middle row of the wide segment has holes where the digits are; its top edge has none
    assert edge[inside[0]: inside[-1] + 1].all()
    assert not middle[inside[0]: inside[-1] + 1].all()
    holes = with_counts[(first + last) // 2, inside[0]: inside[-1] + 1]
    assert (holes.min(axis=-1) > 200).any(), "white digits on the dark segment"
