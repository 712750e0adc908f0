"""Time to draw a poll results chart (median of 20 runs): 5 and 25 options, plain and by type.

Run from the repository root: ``python bench/bench_charts.py``.  Prints figures; not a test.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.services.charts import results_by_type_chart, results_chart  # noqa: E402

RUNS = 20
TYPES = ["Collectivité territoriale", "Réseau", "ONG / association", "Autre"]


def median_ms(draw) -> tuple[float, int]:
    draw()  # warm-up: font cache, catalogue
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        png = draw()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, len(png)


def main() -> None:
    for n in (5, 25):
        labels = [f"Réponse possible numéro {i + 1} au sondage du réseau" for i in range(n)]
        counts = [(i * 7) % 11 for i in range(n)]
        by_type = [[(i + t) % 4 for i in range(n)] for t in range(len(TYPES))]
        ms, size = median_ms(lambda labels=labels, counts=counts: results_chart("Sondage", labels, counts))
        print(f"results_chart          {n:2d} options: {ms:7.1f} ms median of {RUNS} ({size / 1024:.0f} KiB)")
        ms, size = median_ms(
            lambda labels=labels, by_type=by_type: results_by_type_chart("Sondage", labels, TYPES, by_type)
        )
        print(f"results_by_type_chart  {n:2d} options: {ms:7.1f} ms median of {RUNS} ({size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
