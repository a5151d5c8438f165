"""The cost of the one "graded" step, before and after awards and practice.

Times, on a SQLite file, the transaction that records a graded submission, as the
queue's workers run it: the step as it was (lateness and score, best score and totals:
`manual.settle` + `scores.record_graded`) against the step as it is now
(`GradingQueue.submission_graded`, which adds `learners.awards.award_graded` and
`learners.practice.practice_graded`: reviews, duels, the daily question), on databases
built alike, with the same sequence of submissions: learners submitting to questions of
one course, about half of them solving, some on new days (their streak moves), many the
same day (nothing of the awards moves), first solves earning XP and achievements and
making review cards. Prints p50 / p99 / mean per variant, and of the awards' and
practice's own parts::

    python tests/benchmarks/bench_graded_step.py [--learners 2000] [--questions 40]
        [--steps 3000]

A script, not a test: tests never assert on wall-clock time.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO)]

from grader import dbutil, orm  # noqa: E402
from grader.grading import queue as queue_module  # noqa: E402
from grader.grading.manual import settle  # noqa: E402
from grader.grading.queue import GradingQueue  # noqa: E402
from grader.learners import awards, scores  # noqa: E402

DIFFICULTIES = ("easy", "medium", "hard")


def build(db_url: str, learners: int, questions: int) -> tuple[list[int], list[int]]:
    """A course of ``questions`` questions in four modules and ``learners`` learners:
    (user ids, question ids)."""
    dbutil.upgrade(db_url)
    factory = dbutil.make_session_factory(dbutil.make_engine(db_url))
    with factory() as db:
        course = orm.Course(slug="bench", title="Bench", join="open")
        db.add(course)
        db.flush()
        modules = [
            orm.Module(course_id=course.id, slug=f"m{i}", title=f"M{i}", position=i)
            for i in range(4)
        ]
        db.add_all(modules)
        db.flush()
        now = orm.utcnow()
        items = [
            orm.Question(
                module_id=modules[i % 4].id,
                slug=f"q{i}",
                title=f"Q{i}",
                difficulty=DIFFICULTIES[i % 3],
                position=i,
                max_score=3.0,
                released=now,
                source_notebook={},
                student_notebook={},
            )
            for i in range(questions)
        ]
        users = [orm.User(name=f"learner{i}") for i in range(learners)]
        db.add_all(items + users)
        db.commit()
        return [u.id for u in users], [q.id for q in items]


def old_step(queue, db, submission):
    """The graded step before awards: lateness and score, then best score and totals."""
    settle(db, submission, None)
    scores.record_graded(db, submission)


def new_step(queue, db, submission):
    queue.submission_graded(db, submission)


def plan(users, questions, steps, seed=7):
    """The same submissions for both variants: (user, question, solved, days ago)."""
    rng = random.Random(seed)
    return [
        (rng.choice(users), rng.choice(questions), rng.random() < 0.5, rng.choice((0, 0, 0, 1, 2)))
        for _ in range(steps)
    ]


def run(db_url, steps, step, awards_part=None) -> list[float]:
    engine = dbutil.make_engine(db_url, writer=True)
    factory = dbutil.make_session_factory(engine)
    queue = GradingQueue(factory, executor=None)
    times = []
    now = orm.utcnow()
    for user_id, question_id, solved, days_ago in steps:
        created = now - timedelta(days=days_ago)
        with factory() as db:
            submission = orm.Submission(
                user_id=user_id,
                question_id=question_id,
                question_version=1,
                notebook={},
                status="graded",
                score=3.0 if solved else 1.0,
                max_score=3.0,
                tests=[
                    {"name": "visible", "points": 1.0, "max_points": 1.0, "passed": True},
                    {
                        "name": "hidden",
                        "points": 2.0 if solved else 0.0,
                        "max_points": 2.0,
                        "passed": solved,
                        "hidden": True,
                    },
                ],  # fmt: skip
                created=created,
                finished=created,
            )
            db.add(submission)
            db.flush()  # the worker's result write, not timed
            started = time.perf_counter()
            step(queue, db, submission)
            db.commit()
            times.append(time.perf_counter() - started)
    engine.dispose()
    return times


def timed_part(db_url, steps, owner, name: str) -> list[float]:
    """One part of the new step alone (``owner.name``, a function the step calls), timed
    inside a run of the whole step."""
    part = []
    original = getattr(owner, name)

    def measured(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            part.append(time.perf_counter() - started)

    setattr(owner, name, measured)
    try:
        run(db_url, steps, new_step)
    finally:
        setattr(owner, name, original)
    return part


def figures(name, times):
    ms = sorted(t * 1000 for t in times)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(
        f"{name:<34} p50 {statistics.median(ms):6.2f} ms   p99 {p99:6.2f} ms   "
        f"mean {statistics.fmean(ms):6.2f} ms   ({len(ms)} steps)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=2000)
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("--steps", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        names = ("before", "after", "awards", "practice")
        urls = [f"sqlite:///{tmp}/{name}.sqlite" for name in names]
        results = {}
        for url in urls:
            users, questions = build(url, args.learners, args.questions)
        steps = plan(users, questions, args.steps)
        print(
            f"graded step on SQLite: {args.learners} learners, {args.questions} questions, "
            f"{args.steps} gradings (about half solving, a fifth on earlier days)"
        )
        results["before: score and best score"] = run(urls[0], steps, old_step)
        results["after: + awards, + practice"] = run(urls[1], steps, new_step)
        results["  of which award_graded"] = timed_part(urls[2], steps, awards, "award_graded")
        results["  of which practice_graded"] = timed_part(
            urls[3], steps, queue_module, "practice_graded"
        )
        for name, times in results.items():
            figures(name, times)


if __name__ == "__main__":
    main()
