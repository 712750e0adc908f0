"""Time to draw a poll results chart (median of 20 runs): 5 and 25 options, plain and by type.

Run from the repository root: ``python bench/bench_charts.py``.  Prints figures; not a test.

Then the cost of drawing in the worker process (what the running bot does, issue 15 item 2)
against drawing in the calling thread, for the 25-option chart, 3 runs of each interleaved:
``ratio chart-worker-25 <worker / thread> (target ≤ 1.2)`` — the pickling and the pipe on top of
the drawing itself.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import interleaved, median, print_machine, print_ratio  # noqa: E402
from bot.services import charts  # noqa: E402
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
    print_machine()
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
    labels = [f"Réponse possible numéro {i + 1} au sondage du réseau" for i in range(25)]
    counts = [(i * 7) % 11 for i in range(25)]

    def draw(in_worker: bool) -> float:
        charts.draw_in_worker_process(in_worker)
        try:
            return median_ms(lambda: results_chart("Sondage", labels, counts))[0]
        finally:
            if not in_worker:
                charts.draw_in_worker_process(False)

    runs = interleaved([("thread", lambda: draw(False)), ("worker", lambda: draw(True))])
    charts.draw_in_worker_process(False)
    thread, worker = median(runs["thread"]), median(runs["worker"])
    print(f"25 options: in the calling thread {thread:.1f} ms, in the worker process {worker:.1f} ms "
          f"(medians of 3 runs of {RUNS})")
    print_ratio("chart-worker-25", worker / thread, 1.2)


if __name__ == "__main__":
    main()
