"""The gradebook: best scores by learner and question, read a page of learners at a time.

Each best score says whether the submission it came from was late (`Submission.late`).
In the CSV, score cells stay numbers a spreadsheet can add up: the late ones are named
in one last column, `late` (the question columns, `module/question`, separated by "; ").

A page is a range of learners by name (keyset: `after` the last name of the previous
page) and their best scores: memory stays the same for 100 or 100,000 learners, and
each page is a short transaction of its own, so an export never holds the database.
"""

from __future__ import annotations

import csv
import io

from sqlalchemy import exists, select

from .. import orm

PAGE_SIZE = 1000


def columns(db, course: orm.Course) -> list[dict]:
    """The course's questions that count, in course order: id, "module/question",
    points (drafts included: instructors grade them while they try them out)."""
    rows = db.execute(
        select(orm.Question.id, orm.Question.slug, orm.Module.slug, orm.Question.max_score)
        .join(orm.Module)
        .where(orm.Question.retired.is_(False), orm.Module.course_id == course.id)
        .order_by(orm.Module.position, orm.Question.position, orm.Question.id)
    ).all()
    return [
        {"id": question_id, "slug": f"{module}/{slug}", "points": points}
        for question_id, slug, module, points in rows
    ]


def learners_page(
    db, course: orm.Course, question_ids: list[int], after: str | None, limit: int
) -> list[tuple]:
    """Up to ``limit`` learners of the course (enrolled as learners, or with a best
    score on one of its questions; not its enrolled instructors, who try questions
    out), by name after ``after``: (name, their scores on
    ``question_ids`` in that order (None where they have none), the total of those,
    whether each of those scores came from a late submission)."""
    enrolled = exists().where(
        orm.Enrolment.user_id == orm.User.id,
        orm.Enrolment.course_id == course.id,
        orm.Enrolment.role == orm.LEARNER,
    )
    scored = exists().where(
        orm.BestScore.user_id == orm.User.id, orm.BestScore.question_id.in_(question_ids)
    )
    teaching = exists().where(
        orm.Enrolment.user_id == orm.User.id,
        orm.Enrolment.course_id == course.id,
        orm.Enrolment.role == orm.INSTRUCTOR,
    )
    query = select(orm.User.id, orm.User.name).where(enrolled | scored, ~teaching)
    query = query.order_by(orm.User.name).limit(limit)
    if after is not None:
        query = query.where(orm.User.name > after)
    users = db.execute(query).all()
    if not users:
        return []
    column = {question_id: i for i, question_id in enumerate(question_ids)}
    rows = {user_id: [None] * len(question_ids) for user_id, _ in users}
    late = {user_id: [False] * len(question_ids) for user_id, _ in users}
    best = db.execute(
        select(
            orm.BestScore.user_id,
            orm.BestScore.question_id,
            orm.BestScore.score,
            orm.Submission.late,
        )
        .join(orm.Submission, orm.Submission.id == orm.BestScore.submission_id)
        .where(orm.BestScore.user_id.in_(list(rows)), orm.BestScore.question_id.in_(question_ids))
    )
    for user_id, question_id, score, was_late in best:
        i = column.get(question_id)
        if i is not None:
            rows[user_id][i] = score
            late[user_id][i] = bool(was_late)
    return [
        (name, rows[user_id], sum(s for s in rows[user_id] if s is not None), late[user_id])
        for user_id, name in users
    ]


def as_json(question_ids: list[int], learners: list[tuple]) -> list[dict]:
    keys = [str(q) for q in question_ids]
    return [
        {
            "user": name,
            "scores": dict(zip(keys, scores, strict=True)),
            "total": total,
            "late": [key for key, was_late in zip(keys, late, strict=True) if was_late],
        }
        for name, scores, total, late in learners
    ]


def csv_header(cols: list[dict]) -> str:
    return _csv_text([["user", *[c["slug"] for c in cols], "total", "late"]])


def csv_rows(cols: list[dict], learners: list[tuple]) -> str:
    slugs = [c["slug"] for c in cols]
    return _csv_text(
        [
            name,
            *["" if s is None else s for s in scores],
            total,
            "; ".join(slug for slug, was_late in zip(slugs, late, strict=True) if was_late),
        ]
        for name, scores, total, late in learners
    )


def _csv_text(rows) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()
