"""Submissions as instructors list them: a question's or a learner's, newest first, a
page at a time, and a learner's standing in a course.

A page is a range of ids below a cursor (keyset: ``before`` the last id of the previous
page), so a deep page costs what the first does; only the columns a table shows are
read (notebooks never).
"""

from __future__ import annotations

from sqlalchemy import func, select

from .. import orm

PAGE_SIZE = 50

S = orm.Submission


def submissions_page(
    db,
    course: orm.Course,
    *,
    question_id: int | None = None,
    user_id: int | None = None,
    before: int | None = None,
    limit: int | None = None,
) -> tuple[list[dict], int | None]:
    """Up to ``limit`` submissions to the course's questions (of one question, of one
    learner), newest first, below id ``before``; and the ``before`` of the next page
    (None on the last). ``limit`` defaults to `PAGE_SIZE`."""
    limit = limit or PAGE_SIZE
    query = (
        select(
            S.id,
            S.created,
            S.finished,
            S.status,
            S.score,
            S.max_score,
            S.late,
            S.penalty,
            S.manual_pending,
            S.question_version,
            orm.User.name.label("user"),
            orm.Question.id.label("question"),
            orm.Question.title.label("question_title"),
            (orm.Module.slug + "/" + orm.Question.slug).label("question_slug"),
        )
        .join(orm.User, orm.User.id == S.user_id)
        .join(orm.Question, orm.Question.id == S.question_id)
        .join(orm.Module, orm.Module.id == orm.Question.module_id)
        .where(orm.Module.course_id == course.id)
        .order_by(S.id.desc())
        .limit(limit + 1)
    )
    if question_id is not None:
        query = query.where(S.question_id == question_id)
    if user_id is not None:
        query = query.where(S.user_id == user_id)
    if before is not None:
        query = query.where(S.id < before)
    rows = [dict(row._mapping) for row in db.execute(query)]
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1]["id"]
    return rows, None


def submission_count(db, course: orm.Course, *, question_id=None, user_id=None) -> int:
    query = select(func.count()).select_from(S)
    if question_id is not None:
        query = query.where(S.question_id == question_id)
    if user_id is not None:
        in_course = (
            select(orm.Question.id)
            .join(orm.Module)
            .where(orm.Module.course_id == course.id)
            .scalar_subquery()
        )
        query = query.where(S.user_id == user_id, S.question_id.in_(in_course))
    return db.scalar(query) or 0


def learner_standing(db, course: orm.Course, user: orm.User) -> dict:
    """A learner in a course: ``{"role", "questions": [{"id", "slug", "title", "points",
    "best", "solved", "late", "submissions"}], "score", "max_score", "solved"}``, over
    the course's questions that are not retired, in course order."""
    questions = db.execute(
        select(
            orm.Question.id,
            (orm.Module.slug + "/" + orm.Question.slug).label("slug"),
            orm.Question.title,
            orm.Question.max_score,
        )
        .join(orm.Module)
        .where(orm.Module.course_id == course.id, orm.Question.retired.is_(False))
        .order_by(orm.Module.position, orm.Module.id, orm.Question.position, orm.Question.id)
    ).all()
    ids = [q.id for q in questions]
    best = {
        row.question_id: row
        for row in db.execute(
            select(orm.BestScore.question_id, orm.BestScore.score, orm.BestScore.solved, S.late)
            .join(S, S.id == orm.BestScore.submission_id)
            .where(orm.BestScore.user_id == user.id, orm.BestScore.question_id.in_(ids))
        )
    }
    counts = dict(
        db.execute(
            select(S.question_id, func.count())
            .where(S.user_id == user.id, S.question_id.in_(ids))
            .group_by(S.question_id)
        ).all()
    )
    rows = [
        {
            "id": q.id,
            "slug": q.slug,
            "title": q.title,
            "points": q.max_score,
            "best": best[q.id].score if q.id in best else None,
            "solved": bool(q.id in best and best[q.id].solved),
            "late": bool(q.id in best and best[q.id].late),
            "submissions": counts.get(q.id, 0),
        }
        for q in questions
    ]
    role = db.scalar(
        select(orm.Enrolment.role).where(
            orm.Enrolment.course_id == course.id, orm.Enrolment.user_id == user.id
        )
    )
    return {
        "role": role,
        "questions": rows,
        "score": sum(r["best"] for r in rows if r["best"] is not None),
        "max_score": sum(r["points"] for r in rows),
        "solved": sum(1 for r in rows if r["solved"]),
    }
