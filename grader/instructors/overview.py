"""The course at a glance, for the instructor's dashboard page: every module and its
questions (retired ones too), with how many submissions each got and how many learners
solved it.

A handful of grouped queries over indexed columns, whatever the class size; notebooks
are never loaded.
"""

from __future__ import annotations

from sqlalchemy import func, select

from .. import orm
from ..dbutil import count_by
from ..learners import scores


def question_status(retired: bool, released, now=None) -> str:
    """draft (never released), scheduled (released in the future), released or retired."""
    if retired:
        return "retired"
    if released is None:
        return "draft"
    return "released" if released <= (now or orm.utcnow()) else "scheduled"


def course_overview(db, course: orm.Course) -> dict:
    """``{"modules": [{"id", "slug", "title", "questions": [{"id", "slug", "title",
    "retired", "released", "status", "points", "version", "submissions", "solved"}]}],
    "learners", "enrolled", "waiting"}``: modules and questions in course order;
    ``learners`` with a score (the overall leaderboard's size), ``enrolled`` as
    learners, ``waiting`` submissions queued or being graded."""
    now = orm.utcnow()
    in_course = (
        select(orm.Question.id)
        .join(orm.Module)
        .where(orm.Module.course_id == course.id)
        .scalar_subquery()
    )
    submissions = count_by(
        db, orm.Submission.question_id, orm.Submission.question_id.in_(in_course)
    )
    solved = count_by(
        db,
        orm.BestScore.question_id,
        orm.BestScore.solved.is_(True),
        orm.BestScore.question_id.in_(in_course),
    )
    questions = db.execute(
        select(
            orm.Question.id,
            orm.Question.module_id,
            orm.Question.slug,
            orm.Question.title,
            orm.Question.retired,
            orm.Question.max_score,
            orm.Question.version,
            orm.Question.released,
        )
        .where(orm.Question.id.in_(in_course))
        .order_by(orm.Question.position, orm.Question.id)
    ).all()
    by_module: dict[int, list[dict]] = {}
    for q in questions:
        by_module.setdefault(q.module_id, []).append(
            {
                "id": q.id,
                "slug": q.slug,
                "title": q.title,
                "retired": q.retired,
                "released": q.released,
                "status": question_status(q.retired, q.released, now),
                "points": q.max_score,
                "version": q.version,
                "submissions": submissions.get(q.id, 0),
                "solved": solved.get(q.id, 0),
            }
        )
    modules = db.execute(
        select(orm.Module.id, orm.Module.slug, orm.Module.title, orm.Module.description)
        .where(orm.Module.course_id == course.id)
        .order_by(orm.Module.position, orm.Module.id)
    ).all()
    return {
        "modules": [
            {
                "id": m.id,
                "slug": m.slug,
                "title": m.title,
                "description": m.description,
                "questions": by_module.get(m.id, []),
            }
            for m in modules
        ],
        "learners": scores.board_size(db, course.board),
        "enrolled": db.scalar(
            select(func.count())
            .select_from(orm.Enrolment)
            .where(orm.Enrolment.course_id == course.id, orm.Enrolment.role == orm.LEARNER)
        )
        or 0,
        "waiting": db.scalar(
            select(func.count())
            .select_from(orm.Submission)
            .where(
                orm.Submission.status.in_(("queued", "running")),
                orm.Submission.question_id.in_(in_course),
            )
        )
        or 0,
    }
