"""Poll results charts, drawn as PNG bytes.

Each call builds its own :class:`matplotlib.figure.Figure` on an explicit Agg canvas (never
``pyplot``), so nothing global is created or leaked and the functions are safe to run in worker
threads (``await asyncio.to_thread(results_chart, ...)``).  Output is deterministic: fixed DPI,
width and layout arithmetic, no ``Software`` metadata, the bundled DejaVu Sans font, so the same
input gives the same bytes.

The layout is computed by hand (text is measured, then the figure height and the axes rectangle
are derived from it) rather than with ``tight_layout``: titles, labels and annotations never get
clipped, and every row has a predictable height.

Colours come from the Okabe–Ito palette (readable by people with the common colour-vision
deficiencies); ``BAR_COLOR`` and ``TYPE_COLORS`` are exposed for callers and tests.
"""

from __future__ import annotations

import functools
import io
import textwrap
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from bot.i18n import Catalogue, plural_form
from bot.services.workers import worker_pool

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

# matplotlib (and numpy, Pillow under it) is imported by the drawing functions on their first call,
# not here: the cogs import this module for its formatting helpers, and a quiet day draws no chart
# (issue 15, item 3; ``tests/test_lazy_imports.py``).

__all__ = [
    "BAR_COLOR",
    "DPI",
    "FIG_WIDTH_IN",
    "MAX_OPTIONS",
    "TYPE_COLORS",
    "format_count",
    "format_count_pct",
    "format_mean",
    "format_pct",
    "draw_in_worker_process",
    "mean_rank_chart",
    "results_by_type_chart",
    "results_chart",
]

MAX_OPTIONS = 25
DPI = 120
FIG_WIDTH_IN = 8.0

# Okabe–Ito ("Color Universal Design"); the last one replaces black so bars never look like text.
BAR_COLOR = "#0072B2"
TYPE_COLORS: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#999999",  # grey
)
# Beyond len(TYPE_COLORS) member types, colours repeat with a hatch so segments stay distinct.
_HATCHES = (None, "//", "..", "xx")

TEXT_COLOR = "#222222"
MUTED_COLOR = "#5A5A5A"
AXIS_COLOR = "#9A9A9A"

FONT_FAMILY = "DejaVu Sans"  # bundled with matplotlib: same metrics on every machine
TITLE_SIZE = 14.0
SUBTITLE_SIZE = 10.5
LABEL_SIZE = 10.0
ANNOTATION_SIZE = 9.5
LEGEND_SIZE = 9.5
NOTE_SIZE = 11.0

LABEL_WRAP = 30  # characters per line of an option label
LABEL_MAX_LINES = 3
LEGEND_WRAP = 28
TITLE_MAX_LINES = 3

# Layout, in inches.
MARGIN_X = 0.25
MARGIN_TOP = 0.2
MARGIN_BOTTOM = 0.25
GAP = 0.1
ROW_BASE = 0.26
ROW_PER_LINE = 0.16
BAR_HEIGHT = 0.62  # fraction of a row
TICK_PAD_PT = 6.0
ANNOTATION_OFFSET_PT = 5.0


# --------------------------------------------------------------------------------- formatting


@cache
def _catalogue() -> Catalogue:
    return Catalogue.load()


def _t(key: str, lang: str, **params: object) -> str:
    return _catalogue().t(f"charts.{key}", lang, **params)


def format_count(count: int, lang: str = "fr") -> str:
    """``1234`` → ``"1 234"`` (narrow no-break space) in French, ``"1,234"`` in English."""
    return _catalogue().number(count, lang)


def format_pct(count: int, total: int, lang: str = "fr") -> str:
    """The number part of ``count / total`` as a percentage: one decimal, ``,`` in French.

    A trailing ``,0`` is dropped (``"50"``, ``"100"``); a zero total gives ``"0"``; a non-zero
    share too small to show is ``"<0,1"``.
    """
    if total <= 0 or count <= 0:
        return "0"
    value = 100.0 * count / total
    if value < 0.05:
        return "<" + _catalogue().number(0.1, lang, decimals=1)
    return _catalogue().number(value, lang, decimals=1, trim=True)


def format_mean(value: float, lang: str = "fr") -> str:
    """A mean rank with one decimal: ``"1,5"`` in French, ``"1.5"`` in English."""
    return _catalogue().number(value, lang, decimals=1)


def format_count_pct(count: int, total: int, lang: str = "fr") -> str:
    """The bar annotation: ``"12 (34,5 %)"`` in French (no-break space), ``"12 (34.5%)"`` in English."""
    return _t("bar_label", lang, count=format_count(count, lang), pct=format_pct(count, total, lang))


def _answers(count: int, lang: str) -> str:
    return _t(f"answers_{plural_form(lang, count)}", lang, count=format_count(count, lang))


# ------------------------------------------------------------------------------------- text


@cache
def _charmap() -> frozenset[int]:
    from matplotlib.font_manager import findfont
    from matplotlib.ft2font import FT2Font

    return frozenset(FT2Font(findfont(_font())).get_charmap())


def _font(size: float = LABEL_SIZE, weight: str = "normal", style: str = "normal") -> FontProperties:
    from matplotlib.font_manager import FontProperties

    return FontProperties(family=FONT_FAMILY, size=size, weight=weight, style=style)


def _clean(text: str) -> str:
    """One line of displayable text: glyphs the font lacks (emoji…) dropped, whitespace collapsed."""
    known = _charmap()
    kept = "".join(ch if ord(ch) in known or ch.isspace() else " " for ch in str(text))
    return " ".join(kept.split())


def _wrap(text: str, width: int, max_lines: int) -> str:
    lines = textwrap.wrap(text, width=width, max_lines=max_lines, placeholder=" …", break_on_hyphens=True)
    return "\n".join(lines)


# ------------------------------------------------------------------------------------- input


@dataclass(frozen=True)
class _Series:
    label: str | None  # legend entry, None for the single-series chart
    color: str
    hatch: str | None
    counts: tuple[int, ...]


def _check_counts(counts: Sequence[int], n: int, what: str) -> tuple[int, ...]:
    if len(counts) != n:
        raise ValueError(f"{what}: expected {n} counts, got {len(counts)}")
    values = tuple(int(c) for c in counts)
    if any(c < 0 for c in values):
        raise ValueError(f"{what}: counts must not be negative")
    return values


def _check_labels(labels: Sequence[str]) -> None:
    if not 1 <= len(labels) <= MAX_OPTIONS:
        raise ValueError(f"a chart has 1 to {MAX_OPTIONS} options, got {len(labels)}")


def _respondents(totals: Sequence[int], respondents: int | None) -> int:
    if respondents is None:
        return sum(totals)
    if respondents < max(totals, default=0):
        raise ValueError("respondents cannot be fewer than the answers to one option")
    return respondents


# ------------------------------------------------------------------------- worker process
# A chart is ~50–200 ms of Python and C code that holds the GIL most of the time: drawn in a
# thread, it still takes that time away from the event loop in 5 ms slices, and votes arriving
# meanwhile wait.  ``draw_in_worker_process()`` (the running bot turns it on) sends every drawing to
# one worker process, started at the first chart (so a quiet day never starts it) and kept for the
# next ones; the calling thread only waits for the bytes.  ``bench/bench_loop.py`` measures both.
_pool: ProcessPoolExecutor | None = None
_pool_wanted = False
_pool_lock = threading.Lock()


def draw_in_worker_process(enabled: bool = True) -> None:
    """Draw the charts in a worker process (``enabled``) or in the calling thread (the default)."""
    global _pool_wanted, _pool
    with _pool_lock:
        _pool_wanted = enabled
        if not enabled and _pool is not None:
            _pool.shutdown(wait=False, cancel_futures=True)
            _pool = None


def _worker() -> ProcessPoolExecutor | None:
    global _pool
    with _pool_lock:
        if _pool_wanted and _pool is None:
            _pool = worker_pool()
        return _pool


def _draw_here(name: str, args: tuple, kwargs: dict) -> bytes:
    """In the worker: the drawing function itself (never sent back to a pool)."""
    return globals()[name].__wrapped__(*args, **kwargs)


def _in_worker(draw: Callable[..., bytes]) -> Callable[..., bytes]:
    @functools.wraps(draw)
    def call(*args, **kwargs) -> bytes:
        pool = _worker()
        if pool is None:
            return draw(*args, **kwargs)
        try:
            return pool.submit(_draw_here, draw.__name__, args, kwargs).result()
        except BrokenProcessPool:  # the worker died (killed, out of memory): start afresh next time
            global _pool
            with _pool_lock:
                if _pool is pool:
                    _pool = None
            return draw(*args, **kwargs)

    return call


# ------------------------------------------------------------------------------------ public


@_in_worker
def results_chart(
    title: str,
    labels: list[str],
    counts: list[int],
    *,
    lang: str = "fr",
    respondents: int | None = None,
) -> bytes:
    """Horizontal bars, one per option in the given order (first at the top), as PNG bytes.

    Each bar is annotated ``count (pct %)``; the subtitle gives the number of answers.
    ``respondents`` is the denominator of the percentages and the number in the subtitle; it
    defaults to ``sum(counts)`` (single-choice poll) and should be given for multiple-choice polls.
    """
    _check_labels(labels)
    values = _check_counts(counts, len(labels), "counts")
    total = _respondents(values, respondents)
    series = [_Series(None, BAR_COLOR, None, values)]
    return _render(_build(title, labels, series, total, _answers(total, lang), lang))


@_in_worker
def results_by_type_chart(
    title: str,
    labels: list[str],
    type_labels: list[str],
    counts: list[list[int]],
    *,
    lang: str = "fr",
    respondents: int | None = None,
) -> bytes:
    """Stacked horizontal bars broken down by member type, with a legend, as PNG bytes.

    ``counts[type_index][option_index]``.  Each option's bar is the sum over types, annotated
    ``total (pct %)`` like :func:`results_chart`; segments follow ``type_labels`` order from the
    left, in ``TYPE_COLORS`` (cycled, with hatches beyond eight types), each with its count
    printed inside when it fits (white on the dark colours).
    """
    _check_labels(labels)
    if not type_labels:
        raise ValueError("at least one member type is needed")
    if len(counts) != len(type_labels):
        raise ValueError(f"expected {len(type_labels)} rows of counts (one per type), got {len(counts)}")
    series = []
    for index, (type_label, row) in enumerate(zip(type_labels, counts, strict=True)):
        values = _check_counts(row, len(labels), f"counts[{index}]")
        color = TYPE_COLORS[index % len(TYPE_COLORS)]
        hatch = _HATCHES[(index // len(TYPE_COLORS)) % len(_HATCHES)]
        name = _clean(type_label) or _t("option_fallback", lang, number=index + 1)
        series.append(_Series(_wrap(name, LEGEND_WRAP, 2), color, hatch, values))
    totals = [sum(s.counts[i] for s in series) for i in range(len(labels))]
    total = _respondents(totals, respondents)
    subtitle = _t("subtitle_by_type", lang, answers=_answers(total, lang))
    return _render(_build(title, labels, series, total, subtitle, lang))


@_in_worker
def mean_rank_chart(
    title: str,
    labels: list[str],
    means: list[float | None],
    firsts: list[int],
    *,
    lang: str = "fr",
    respondents: int = 0,
) -> bytes:
    """A ranking's results: one horizontal bar per option (in the given order) as long as its
    mean rank (1 = first choice; ``None``: nobody ranked it, no bar), annotated with the mean and
    how many members ranked it first, as PNG bytes."""
    _check_labels(labels)
    if len(means) != len(labels) or len(firsts) != len(labels):
        raise ValueError(f"expected {len(labels)} means and first-choice counts")
    values = tuple(0.0 if mean is None else float(mean) for mean in means)
    annotations = [
        _t("not_ranked", lang) if mean is None
        else _t("rank_label", lang, mean=format_mean(mean, lang), firsts=format_count(first, lang))
        for mean, first in zip(means, firsts, strict=True)
    ]
    series = [_Series(None, BAR_COLOR, None, values)]  # type: ignore[arg-type]
    subtitle = _t("subtitle_ranks", lang, answers=_answers(respondents, lang))
    return _render(_build(title, labels, series, respondents, subtitle, lang, annotations=annotations))


# ------------------------------------------------------------------------------------ drawing


#: Segment colours dark enough for a white count inside (the others get the text colour).
_DARK_SEGMENTS = frozenset({"#0072B2", "#009E73", "#CC79A7", "#D55E00", "#999999"})
SEGMENT_PAD_PX = 6.0


def _segment_counts(ax, series: list[_Series], positions: list[int], axes_w: float,
                    measure: Callable[[str, FontProperties], tuple[float, float]], lang: str) -> None:
    """Print each member type's count inside its segment of the stacked bar — a phone then
    reads the breakdown from the chart alone — when the number fits in the segment (with a
    margin); a segment too narrow for it stays plain (the table has the number)."""
    px_per_unit = axes_w / ax.get_xlim()[1]
    prop = _font(ANNOTATION_SIZE - 0.5, "bold")
    lefts = [0] * len(positions)
    for s in series:
        color = "white" if s.color in _DARK_SEGMENTS and not s.hatch else TEXT_COLOR
        for i, (position, count) in enumerate(zip(positions, s.counts, strict=True)):
            if count > 0:
                text = format_count(count, lang)
                if measure(text, prop)[0] + SEGMENT_PAD_PX <= count * px_per_unit:
                    ax.text(lefts[i] + count / 2, position, text, ha="center", va="center", fontproperties=prop,
                            color=color, parse_math=False)
            lefts[i] += count


def _render(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return buffer.getvalue()


def _build(
    title: str,
    labels: Sequence[str],
    series: list[_Series],
    total: int,
    subtitle: str,
    lang: str,
    annotations: list[str] | None = None,
) -> Figure:
    """Lay out and draw the whole chart; shared by the public functions (``annotations``: each
    bar's text, by default its count and percentage of ``total``)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    n = len(labels)
    totals = [sum(s.counts[i] for s in series) for i in range(n)]
    wrapped = [
        _wrap(_clean(label) or _t("option_fallback", lang, number=i + 1), LABEL_WRAP, LABEL_MAX_LINES)
        for i, label in enumerate(labels)
    ]
    if annotations is None:
        annotations = [format_count_pct(count, total, lang) for count in totals]

    fig = Figure(figsize=(FIG_WIDTH_IN, 4.0), dpi=DPI, facecolor="white")
    canvas = FigureCanvasAgg(fig)
    renderer = canvas.get_renderer()
    px = DPI  # pixels per inch
    width_px = FIG_WIDTH_IN * px
    inner_px = width_px - 2 * MARGIN_X * px

    def measure(text: str, prop: FontProperties) -> tuple[float, float]:
        """Width and height in pixels of a (possibly multi-line) text."""
        probe = fig.text(0, 0, text, fontproperties=prop, parse_math=False)
        box = probe.get_window_extent(renderer)
        probe.remove()
        return box.width, box.height

    # Title: wrap narrower until it fits the width.
    title_prop = _font(TITLE_SIZE, "bold")
    clean_title = _clean(title)
    title_text = clean_title
    for chars in range(70, 19, -6):
        title_text = _wrap(clean_title, chars, TITLE_MAX_LINES)
        if measure(title_text, title_prop)[0] <= inner_px:
            break
    title_h = measure(title_text, title_prop)[1] if title_text else 0.0
    subtitle_prop = _font(SUBTITLE_SIZE)
    subtitle_h = measure(subtitle, subtitle_prop)[1]

    # Legend (by-type chart): as many columns as fit the width.
    legend = None
    legend_h = 0.0
    if series[0].label is not None:
        handles = [
            Patch(
                facecolor=s.color,
                hatch=s.hatch,
                edgecolor="white" if s.hatch else "none",
                linewidth=0,
                label=s.label,
            )
            for s in series
        ]
        for ncols in range(min(len(handles), 4), 0, -1):
            legend = fig.legend(
                handles=handles,
                loc="upper left",
                ncols=ncols,
                frameon=False,
                borderpad=0,
                borderaxespad=0,
                handlelength=1.4,
                handleheight=1.0,
                columnspacing=1.6,
                labelcolor=TEXT_COLOR,
                prop=_font(LEGEND_SIZE),
            )
            box = legend.get_window_extent(renderer)
            if box.width <= inner_px or ncols == 1:
                legend_h = box.height
                break
            legend.remove()

    # Rows and horizontal extent.
    label_prop = _font(LABEL_SIZE)
    label_w = max(measure(text, label_prop)[0] for text in wrapped)
    max_lines = max(text.count("\n") + 1 for text in wrapped)
    row_in = ROW_BASE + ROW_PER_LINE * max_lines
    ann_prop = _font(ANNOTATION_SIZE)
    ann_w = max(measure(text, ann_prop)[0] for text in annotations)

    header_in = MARGIN_TOP + title_h / px + GAP + subtitle_h / px + 2 * GAP
    if legend is not None:
        header_in += legend_h / px + 2 * GAP
    height_in = header_in + n * row_in + MARGIN_BOTTOM
    fig.set_size_inches(FIG_WIDTH_IN, height_in)

    # Header, positioned from the top in inches.
    def header_line(y: float, text: str, prop: FontProperties, color: str, **style: float) -> None:
        """A header text at the left margin, its top ``y`` inches above the bottom edge."""
        fig.text(MARGIN_X, y, text, transform=fig.dpi_scale_trans, ha="left", va="top",
                 fontproperties=prop, color=color, parse_math=False, **style)

    y = height_in - MARGIN_TOP
    if title_text:
        header_line(y, title_text, title_prop, TEXT_COLOR, linespacing=1.25)
    y -= title_h / px + GAP
    header_line(y, subtitle, subtitle_prop, MUTED_COLOR)
    y -= subtitle_h / px + 2 * GAP
    if legend is not None:
        legend.set_bbox_to_anchor((MARGIN_X, y), transform=fig.dpi_scale_trans)

    # Plot area.
    tick_pad_px = TICK_PAD_PT * px / 72
    left_px = MARGIN_X * px + label_w + tick_pad_px
    right_px = width_px - MARGIN_X * px
    axes_w = right_px - left_px
    body_in = n * row_in
    ax = fig.add_axes(
        (
            left_px / width_px,
            MARGIN_BOTTOM / height_in,
            axes_w / width_px,
            body_in / height_in,
        )
    )
    room_px = ann_w + ANNOTATION_OFFSET_PT * px / 72 + 4
    peak = max(totals)
    usable = max(axes_w - room_px, 0.3 * axes_w)
    ax.set_xlim(0, (peak if peak > 0 else 1) * axes_w / usable)
    ax.set_ylim(n - 0.5, -0.5)  # first option at the top

    positions = list(range(n))
    lefts = [0] * n
    for s in series:
        ax.barh(
            positions,
            s.counts,
            left=lefts,
            height=BAR_HEIGHT,
            color=s.color,
            hatch=s.hatch,
            edgecolor="white" if s.hatch else "none",
            linewidth=0,
        )
        lefts = [a + b for a, b in zip(lefts, s.counts, strict=True)]

    if len(series) > 1:  # by member type: each segment's count inside it, where it fits
        _segment_counts(ax, series, positions, axes_w, measure, lang)

    for position, count, text in zip(positions, totals, annotations, strict=True):
        ax.annotate(
            text,
            xy=(count, position),
            xytext=(ANNOTATION_OFFSET_PT, 0),
            textcoords="offset points",
            ha="left",
            va="center",
            fontproperties=ann_prop,
            color=TEXT_COLOR,
            parse_math=False,
        )

    ax.set_yticks(
        positions,
        labels=wrapped,
        fontproperties=label_prop,
        color=TEXT_COLOR,
        parse_math=False,
        multialignment="right",
        linespacing=1.15,
    )
    ax.tick_params(axis="y", length=0, pad=TICK_PAD_PT)
    ax.set_xticks([])
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.spines["left"].set_color(AXIS_COLOR)
    ax.set_facecolor("white")

    if sum(totals) == 0:
        ax.text(
            0.5,
            0.5,
            _t("no_answers", lang),
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontproperties=_font(NOTE_SIZE, style="italic"),
            color=MUTED_COLOR,
            parse_math=False,
        )
    return fig
