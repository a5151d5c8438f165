"""What a course's submissions say, for its instructors: how many learners pass each
question, after how many attempts and how long after its release, how their scores
spread, which tests fail most (and with what messages), and activity day by day.

Every figure is a grouped query, and a course's take three passes over its
submissions: one numbers each learner's graded submissions to a question (a window) and
keeps, per learner and question, their count and the first that passed; one takes apart
the `tests` JSON of failing submissions with the database's own JSON functions; one
counts days. Score spreads read `best_scores` and `totals`. Notebooks are never loaded,
and what comes back is a row per learner and question at most, never per submission. A
CSV of one plot (`analytics(..., plots=)`) makes only the passes that plot needs.

What counts:

- graded submissions (a grading error is not an attempt), by anyone but the course's
  enrolled instructors, who try their questions out;
- a learner *passes* a question with a submission at full marks, late penalty taken
  (as `BestScore.solved`); their *attempts* to pass are their graded submissions up to
  and including the first that passed; the *time to pass* runs from the question's
  `released` to that submission's `created`;
- activity counts every submission, graded or not, by UTC day.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from datetime import date, timedelta

from sqlalchemy import and_, case, distinct, exists, func, literal_column, select, true

from .. import orm
from .overview import question_status

#: the plots of the analytics pages, each one's data a list of rows (`plot_rows`) with
#: these columns
COLUMNS = {
    "pass_rate": ("id", "slug", "title", "status", "learners", "solved", "pass_rate"),
    "attempts": ("attempts", "learners"),
    "scores": ("bin", "low", "high", "learners"),
    "time_to_pass": ("bin", "from_hours", "learners"),
    "failing_tests": (
        "question",
        "slug",
        "test",
        "failures",
        "submissions",
        "failure_rate",
        "most_common_message",
        "its_count",
    ),
    "activity": ("day", "submissions", "learners"),
}
PLOTS = tuple(COLUMNS)

MAX_ATTEMPTS_BIN = 10  # "10+" attempts
#: (label, lower bound in hours): time from release to first pass
TIME_BINS = (
    ("under 1 hour", 0),
    ("1–6 hours", 1),
    ("6–24 hours", 6),
    ("1–3 days", 24),
    ("3–7 days", 72),
    ("1–2 weeks", 168),
    ("over 2 weeks", 336),
)
SCORE_BINS = [f"{10 * k}–{10 * k + 10}%" for k in range(10)] + ["100%"]
MOST_FAILING = 10  # tests listed for a course (a question lists all of its own)
MESSAGES_SHOWN = 3  # most common messages per test
MAX_MESSAGE = 1000  # characters of a message kept

S, B = orm.Submission, orm.BestScore
PASSED = and_(S.max_score > 0, S.score >= S.max_score)


def analytics(
    db, course: orm.Course, question: orm.Question | None = None, plots=PLOTS, now=None
) -> dict:
    """The figures of a course (its questions that are not retired), or of one of its
    questions: ``{"course", "question", "questions": [per question], "attempts",
    "scores", "time_to_pass", "failing_tests", "activity"}`` (see docs/api.md), or only
    those of ``plots`` (each query is a pass over the submissions: a CSV of one plot
    makes only its own)."""
    now = now or orm.utcnow()
    questions = _questions(db, course, question, now)
    ids = [q["id"] for q in questions]
    model = {
        "course": course.slug,
        "question": question.id if question is not None else None,
        "questions": questions,
    }
    if {"pass_rate", "attempts", "time_to_pass", "failing_tests"} & set(plots):
        model.update(_passes(db, course, questions))
    if "scores" in plots:
        model["scores"] = _score_bins(db, course, question, questions)
    if "failing_tests" in plots:
        model["failing_tests"] = _failing_tests(db, course, questions, limit=question is None)
    if "activity" in plots:
        model["activity"] = _activity(db, course, ids)
    return model


def _passes(db, course, questions: list[dict]) -> dict:
    """Fill in each question's submissions, learners, passes, medians; the attempts
    and time-to-pass histograms."""
    by_id = {q["id"]: q for q in questions}
    attempts: Counter[int] = Counter()
    hours_to_pass: list[float] = []
    per_question: dict[int, tuple[list[int], list[float]]] = {i: ([], []) for i in by_id}
    for question_id, submissions, first_pass, first_at in _learners_at(db, course, list(by_id)):
        q = by_id[question_id]
        q["submissions"] += submissions
        q["learners"] += 1
        if first_pass is None:
            continue
        q["solved"] += 1
        attempts[min(first_pass, MAX_ATTEMPTS_BIN)] += 1
        mine_attempts, mine_hours = per_question[question_id]
        mine_attempts.append(first_pass)
        if q["released"] is not None:
            hours = max((first_at - q["released"]).total_seconds() / 3600, 0.0)
            mine_hours.append(hours)
            hours_to_pass.append(hours)
    for question_id, (tries, hours) in per_question.items():
        q = by_id[question_id]
        q["pass_rate"] = round(q["solved"] / q["learners"], 4) if q["learners"] else None
        q["median_attempts"] = statistics.median(tries) if tries else None
        q["median_hours_to_pass"] = round(statistics.median(hours), 1) if hours else None
    return {
        "attempts": [
            {"attempts": _attempts_label(n), "learners": attempts.get(n, 0)}
            for n in range(1, MAX_ATTEMPTS_BIN + 1)
        ],
        "time_to_pass": _time_bins(hours_to_pass),
    }


def plot_rows(model: dict, plot: str) -> list[dict]:
    """One plot's data as flat rows (a CSV's): `PLOTS` names them."""
    if plot == "pass_rate":
        return [{k: q[k] for k in COLUMNS[plot]} for q in model["questions"]]
    if plot == "failing_tests":
        return [
            {
                **{k: t[k] for k in ("question", "slug", "test", "failures", "submissions")},
                "failure_rate": t["failure_rate"],
                "most_common_message": t["messages"][0]["message"] if t["messages"] else "",
                "its_count": t["messages"][0]["count"] if t["messages"] else "",
            }
            for t in model["failing_tests"]
        ]
    return model[plot]


def csv_text(plot: str, rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS[plot])
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    return out.getvalue()


# the queries -------------------------------------------------------------------------


def _questions(db, course, question, now) -> list[dict]:
    query = (
        select(
            orm.Question.id,
            orm.Question.slug,
            orm.Module.slug.label("module"),
            orm.Question.title,
            orm.Question.max_score,
            orm.Question.released,
            orm.Question.retired,
        )
        .join(orm.Module)
        .where(orm.Module.course_id == course.id)
        .order_by(orm.Module.position, orm.Module.id, orm.Question.position, orm.Question.id)
    )
    if question is not None:
        query = query.where(orm.Question.id == question.id)
    else:
        query = query.where(orm.Question.retired.is_(False))
    return [
        {
            "id": q.id,
            "slug": f"{q.module}/{q.slug}",
            "title": q.title,
            "status": question_status(q.retired, q.released, now),
            "released": q.released,
            "max_score": q.max_score,
            "submissions": 0,
            "learners": 0,
            "solved": 0,
            "pass_rate": None,
            "median_attempts": None,
            "median_hours_to_pass": None,
        }
        for q in db.execute(query)
    ]


def _instructor(course: orm.Course, user_id):
    """Whether ``user_id`` is enrolled as an instructor of the course."""
    return exists().where(
        orm.Enrolment.course_id == course.id,
        orm.Enrolment.user_id == user_id,
        orm.Enrolment.role == orm.INSTRUCTOR,
    )


def _graded(course, ids) -> tuple:
    """Graded submissions to these questions, but the course's instructors'."""
    return (S.question_id.in_(ids), S.status == "graded", ~_instructor(course, S.user_id))


def _learners_at(db, course, ids):
    """Per learner and question they submitted to: (question id, graded submissions,
    the attempt that first passed or None, when it was submitted). One pass over the
    submissions: each is numbered in its learner's series at the question (a window)."""
    attempt = func.row_number().over(partition_by=(S.user_id, S.question_id), order_by=S.id)
    series = (
        select(
            S.user_id,
            S.question_id,
            S.created,
            PASSED.label("passed"),
            attempt.label("attempt"),
        )
        .where(*_graded(course, ids))
        .subquery()
    )
    return db.execute(
        select(
            series.c.question_id,
            func.count(),
            func.min(case((series.c.passed, series.c.attempt))),
            func.min(case((series.c.passed, series.c.created))),
        ).group_by(series.c.user_id, series.c.question_id)
    ).all()


def _bin_of(score, top) -> case:
    """A score's tenth of ``top`` (0 to 9), or 10 for full marks (grouped by from a
    subquery: PostgreSQL would not take the expression, bound twice, as one)."""
    whens = [(score >= top, literal_column("10"))]
    whens += [
        (score >= top * literal_column(f"0.{k}"), literal_column(str(k))) for k in range(9, 0, -1)
    ]
    return case(*whens, else_=literal_column("0"))


def _score_bins(db, course, question, questions) -> list[dict]:
    """A question's learners by best score; a course's by total over the points of its
    released questions (in tenths, full marks apart)."""
    if question is not None:
        scored = select(_bin_of(B.score, B.max_score).label("bin")).where(
            B.question_id == question.id, B.max_score > 0, ~_instructor(course, B.user_id)
        )
    else:
        points = sum(q["max_score"] for q in questions if q["status"] == "released")
        if points <= 0:
            return _bins({})
        total = orm.Total
        scored = select(_bin_of(total.score, literal_column(repr(float(points)))).label("bin"))
        scored = scored.where(total.module_id == course.board, ~_instructor(course, total.user_id))
    scored = scored.subquery()
    counts = dict(db.execute(select(scored.c.bin, func.count()).group_by(scored.c.bin)).all())
    return _bins({int(k): n for k, n in counts.items()})


def _bins(counts: dict[int, int]) -> list[dict]:
    return [
        {"bin": label, "low": 10 * k, "high": min(10 * k + 10, 100), "learners": counts.get(k, 0)}
        for k, label in enumerate(SCORE_BINS)
    ]


def _time_bins(hours: list[float]) -> list[dict]:
    counts: Counter[str] = Counter()
    for value in hours:
        counts[next(label for label, low in reversed(TIME_BINS) if value >= low)] += 1
    return [
        {"bin": label, "from_hours": low, "learners": counts.get(label, 0)}
        for label, low in TIME_BINS
    ]


def _test_results(db):
    """The `tests` of a submission as a table joinable to it: (name, failed, message)
    columns, with this database's JSON functions."""
    if db.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import JSON

        tests = func.json_array_elements(S.tests.cast(JSON)).table_valued("value").alias("t")

        def field(name):
            return func.json_extract_path_text(tests.c.value, name)

        return tests, field("name"), field("passed") == "false", field("message")
    tests = func.json_each(S.tests).table_valued("value").alias("t")

    def field(name):
        return func.json_extract(tests.c.value, f"$.{name}")

    return tests, field("name"), field("passed") == 0, field("message")


def _failing_tests(db, course, questions: list[dict], limit: bool) -> list[dict]:
    """Tests by how often they failed, with their most common messages (a hidden
    test's message is its outcome and error type), of the questions' graded
    submissions (counted by `_passes` first)."""
    by_id = {q["id"]: q for q in questions}
    ids = list(by_id)
    tests, name, failed, message = _test_results(db)
    failures = (
        select(S.question_id, name.label("test"), message.label("message"))
        .select_from(S)
        .join(tests, true())
        # a failed test costs points: submissions at full marks have none
        .where(*_graded(course, ids), S.score < S.max_score, failed)
        .subquery()
    )
    rows = db.execute(
        select(failures.c.question_id, failures.c.test, failures.c.message, func.count()).group_by(
            failures.c.question_id, failures.c.test, failures.c.message
        )
    ).all()
    found: dict[tuple[int, str], dict] = {}
    for question_id, test, text, count in rows:
        entry = found.setdefault((question_id, test), {"failures": 0, "messages": Counter()})
        entry["failures"] += count
        if text:
            entry["messages"][text[:MAX_MESSAGE]] += count
    result = []
    for (question_id, test), entry in found.items():
        submissions = by_id[question_id]["submissions"]
        result.append(
            {
                "question": question_id,
                "slug": by_id[question_id]["slug"],
                "test": test,
                "failures": entry["failures"],
                "submissions": submissions,
                "failure_rate": round(entry["failures"] / submissions, 4) if submissions else None,
                "messages": [
                    {"message": text, "count": count}
                    for text, count in entry["messages"].most_common(MESSAGES_SHOWN)
                ],
            }
        )
    result.sort(key=lambda t: (-t["failures"], t["slug"], t["test"] or ""))
    return result[:MOST_FAILING] if limit else result


def _activity(db, course, ids) -> list[dict]:
    """Submissions and learners submitting per UTC day, from the first day to the
    last (days without any included)."""
    days = (
        select(func.date(S.created).label("day"), S.user_id)
        .where(S.question_id.in_(ids), ~_instructor(course, S.user_id))
        .subquery()
    )
    counted = {
        str(day): (submissions, learners)
        for day, submissions, learners in db.execute(
            select(days.c.day, func.count(), func.count(distinct(days.c.user_id))).group_by(
                days.c.day
            )
        )
    }
    if not counted:
        return []
    first, last = date.fromisoformat(min(counted)), date.fromisoformat(max(counted))
    result = []
    for offset in range((last - first).days + 1):
        day = (first + timedelta(days=offset)).isoformat()
        submissions, learners = counted.get(day, (0, 0))
        result.append({"day": day, "submissions": submissions, "learners": learners})
    return result


def _attempts_label(n: int) -> str:
    return f"{n}+" if n == MAX_ATTEMPTS_BIN else str(n)
