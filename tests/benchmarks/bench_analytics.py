"""Analytics at class scale: `grader.instructors.analytics` over 100k graded submissions.

Builds the class of bench_scale.py (its `build`: learners as active as a lognormal says,
answers wrong / partial / correct 1:1:2 with their tests' JSON, real student notebooks
stored, best scores and totals) on a SQLite file and on a PostgreSQL cluster of its
own, releases every question at the start of the course, and times what the analytics
page and `GET analytics` compute: a whole course, one question, and the page's charts
drawn from the course's figures. Prints best / median of a few runs::

    python tests/benchmarks/bench_analytics.py [--db sqlite|postgresql|both]
        [--learners 2000] [--questions 50] [--modules 5] [--submissions 100000] [--runs 5]

A script, not a test: tests never assert on wall-clock time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO)]

from sqlalchemy import func, select, update  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from grader import dbutil, orm  # noqa: E402
from grader.handlers.course_pages import analytics_charts  # noqa: E402
from grader.instructors.analytics import analytics  # noqa: E402
from tests.benchmarks.bench_scale import Sizes, build  # noqa: E402
from tests.pg_support import PostgresServer, postgres_missing_reason  # noqa: E402


def timed(fn, runs: int) -> tuple[float, float, object]:
    """(best, median) milliseconds of ``runs`` calls, and the last result."""
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(1000 * (time.perf_counter() - started))
    return min(times), statistics.median(times), result


def measure(url: str, sizes: Sizes, runs: int) -> list[tuple[str, float, float]]:
    print(f"building {sizes} ...", flush=True)
    build(url, sizes)
    engine = dbutil.make_engine(url)
    try:
        with Session(engine) as db:
            course = orm.any_course(db)
            first = db.scalar(select(func.min(orm.Submission.created)))
            db.execute(update(orm.Question).values(released=first))
            db.commit()
            busiest = db.scalar(
                select(orm.Submission.question_id)
                .group_by(orm.Submission.question_id)
                .order_by(func.count().desc())
                .limit(1)
            )
            question = db.get(orm.Question, busiest)
            graded = db.scalar(select(func.count()).select_from(orm.Submission))
            print(f"  {graded} submissions; the busiest question has "
                  f"{db.scalar(select(func.count()).where(orm.Submission.question_id == busiest))}")  # fmt: skip
            rows = []
            best, median, model = timed(lambda: analytics(db, course), runs)
            rows.append(("analytics, whole course", best, median))
            size = len(json.dumps(model, default=str))
            best, median, _ = timed(lambda: analytics(db, course, question), runs)
            rows.append(("analytics, busiest question", best, median))
            best, median, _ = timed(lambda: analytics_charts(model, False), runs)
            rows.append(("the course's five SVG charts", best, median))
            print(f"  course figures: {len(model['questions'])} questions, "
                  f"{len(model['activity'])} days, JSON {size // 1024} KiB")  # fmt: skip
            return rows
    finally:
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--learners", type=int, default=2000)
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--modules", type=int, default=5)
    parser.add_argument("--submissions", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sizes = Sizes(args.learners, args.questions, args.modules, args.submissions)
    results = {}
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="coursehub-bench-analytics-") as folder:
            results["sqlite"] = measure(f"sqlite:///{folder}/grader.sqlite", sizes, args.runs)
    if args.db in ("postgresql", "both"):
        reason = postgres_missing_reason()
        if reason:
            print(f"PostgreSQL skipped: {reason}")
        else:
            server = PostgresServer()
            try:
                server.start()
                url = server.create_database("bench")
                results["postgresql"] = measure(url, sizes, args.runs)
            finally:
                server.stop()
    for db, rows in results.items():
        print(f"\n{db}: {sizes.submissions} submissions, {sizes.learners} learners, "
              f"{sizes.questions} questions (best / median of {args.runs}, ms)")  # fmt: skip
        for name, best, median in rows:
            print(f"  {name:32s} {best:8.1f} {median:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
