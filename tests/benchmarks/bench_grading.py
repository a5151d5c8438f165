"""Benchmark: coursehub's BubblewrapExecutor against ``nbgrader autograde``.

Grades the same N submissions (a mix of correct, partial and wrong answers) of a
three-question assignment with real nbgrader and with coursehub, checks that every
per-test score agrees (exit 1 if not) and prints both rates and their ratio::

    .venv/bin/python tests/benchmarks/bench_grading.py [--submissions N] [--concurrency C]

A script, not a test: tests never assert on wall-clock time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# the checkout's grader (not an installed copy), and the tests' helpers
sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parents[1])]

from test_nbgrader_equivalence import (  # noqa: E402
    TIMINGS,
    build_source,
    make_submission,
    nbgrader_grades,
)

from grader.executors.bubblewrap import BubblewrapExecutor  # noqa: E402
from grader.grading.run import grade

MIX = ["correct", "partial", "wrong"]


async def grade_all(source, learners: dict, concurrency: int):
    executor = BubblewrapExecutor(cell_time_limit=30)
    await executor.check()
    limit = asyncio.Semaphore(concurrency)
    times: dict[str, float] = {}

    async def one(student, nb):
        async with limit:
            started = time.perf_counter()
            report = await grade(executor, source, nb)
            times[student] = time.perf_counter() - started
            return student, {t["name"]: t["points"] for t in report.tests}

    started = time.perf_counter()
    results = dict(await asyncio.gather(*(one(s, nb) for s, nb in learners.items())))
    elapsed = time.perf_counter() - started
    await executor.close()
    return results, elapsed, times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    n = args.submissions
    kinds = {f"student{i:03d}": MIX[i % len(MIX)] for i in range(n)}
    source = build_source()

    with tempfile.TemporaryDirectory() as tmp:
        submissions = {s: (lambda r, k=k: make_submission(r, k)) for s, k in kinds.items()}
        theirs, released = nbgrader_grades(Path(tmp), source, submissions)
        nbgrader_seconds = TIMINGS["autograde"]

    learners = {s: make_submission(released, k) for s, k in kinds.items()}
    serial, serial_seconds, serial_times = asyncio.run(grade_all(source, learners, 1))
    ours, ours_seconds, times = asyncio.run(grade_all(source, learners, args.concurrency))

    mismatches = [s for s in kinds if ours[s] != theirs[s] or serial[s] != theirs[s]]
    for student in mismatches:
        print(
            f"MISMATCH {student} ({kinds[student]}): nbgrader {theirs[student]} "
            f"coursehub {ours[student]}"
        )

    nb_rate = n / nbgrader_seconds
    serial_rate = n / serial_seconds
    rate = n / ours_seconds
    print(
        f"submissions: {n} ({', '.join(MIX)} in turn), 3 questions, scores agree: "
        f"{'yes' if not mismatches else 'NO'}"
    )
    print(
        f"nbgrader autograde (serial): {nbgrader_seconds:7.2f} s "
        f"{nb_rate:7.2f} submissions/s  {nbgrader_seconds / n * 1000:7.1f} ms each"
    )
    print(
        f"coursehub bubblewrap, serial:       {serial_seconds:7.2f} s {serial_rate:7.2f} "
        f"submissions/s  median {statistics.median(serial_times.values()) * 1000:6.1f} ms, "
        f"max {max(serial_times.values()) * 1000:6.1f} ms each"
    )
    print(
        f"coursehub bubblewrap, concurrency {args.concurrency}: {ours_seconds:7.2f} s "
        f"{rate:7.2f} submissions/s  median {statistics.median(times.values()) * 1000:6.1f} "
        f"ms each"
    )
    print(
        f"ratio coursehub/nbgrader: serial {serial_rate / nb_rate:.1f}x, "
        f"concurrent {rate / nb_rate:.1f}x"
    )
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
