"""Grading rate per language: the sample course's questions, graded in real sandboxes.

For each language with questions in the sample course (Python's `basics` module, and
the `r-basics`, `js-basics` and `c-basics` modules), grades every question's reference
solution (the source notebook itself) ``--rounds`` times, one at a time and then
``--concurrency`` at once, with the bubblewrap executor as the grader runs it (warm
learner sandboxes, the warm trusted process). Prints per language: gradings per
second, p50 and p99 of one grading, and how that compares with Python::

    python tests/benchmarks/bench_languages.py [--rounds 10] [--concurrency 2]

A script, not a test: tests never assert on wall-clock time.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO)]

from grader.executors.bubblewrap import BubblewrapExecutor  # noqa: E402
from grader.grading.languages import grading_language  # noqa: E402
from grader.grading.notebooks import read_notebook  # noqa: E402
from grader.grading.run import grade  # noqa: E402

COURSE = REPO / "course_content" / "python-foundations"
MODULES = {"python": "basics", "r": "r-basics", "javascript": "js-basics", "c": "c-basics"}


def sources(language: str) -> list:
    folder = COURSE / MODULES[language]
    notebooks = [read_notebook(path.read_bytes()) for path in sorted(folder.glob("*.ipynb"))]
    return [nb for nb in notebooks if grading_language(nb).name == language]


async def measure(language: str, notebooks: list, rounds: int, concurrency: int) -> dict:
    executor = BubblewrapExecutor(time_limit=60, cell_time_limit=10)
    try:
        await grade(executor, notebooks[0], notebooks[0])  # warm-up: sandboxes, caches
        serial, full = [], 0
        started = time.perf_counter()
        for _ in range(rounds):
            for nb in notebooks:
                t0 = time.perf_counter()
                report = await grade(executor, nb, nb)
                serial.append(time.perf_counter() - t0)
                full += report.score == report.max_score
        serial_rate = len(serial) / (time.perf_counter() - started)

        queue = [nb for _ in range(rounds) for nb in notebooks]

        async def worker():
            while queue:
                nb = queue.pop()
                await grade(executor, nb, nb)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        parallel_rate = rounds * len(notebooks) / (time.perf_counter() - started)
    finally:
        await executor.close()
    serial.sort()
    return {
        "questions": len(notebooks),
        "full": f"{full}/{len(serial)}",
        "p50": statistics.median(serial) * 1000,
        "p99": serial[min(len(serial) - 1, int(len(serial) * 0.99))] * 1000,
        "serial_rate": serial_rate,
        "parallel_rate": parallel_rate,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--languages", default="python,r,javascript,c")
    args = parser.parse_args()
    results = {}
    for language in args.languages.split(","):
        notebooks = sources(language)
        if not notebooks:
            print(f"{language}: no sample questions, skipped")
            continue
        results[language] = await measure(language, notebooks, args.rounds, args.concurrency)
    base = results.get("python", {}).get("serial_rate")
    print(
        f"{'language':<11} {'questions':>9} {'full':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'serial/s':>9} {f'{args.concurrency} at once/s':>13} {'vs Python':>10}"
    )
    for language, r in results.items():
        versus = f"{r['serial_rate'] / base:.2f}x" if base else "-"
        print(
            f"{language:<11} {r['questions']:>9} {r['full']:>8} {r['p50']:>8.0f} "
            f"{r['p99']:>8.0f} {r['serial_rate']:>9.2f} {r['parallel_rate']:>13.2f} "
            f"{versus:>10}"
        )


if __name__ == "__main__":
    asyncio.run(main())
