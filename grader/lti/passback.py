"""Grade passback (LTI Advantage AGS): the outbox a changed best score writes to.

:func:`grade_changed` is called by the graded step (`grader.learners.grade_changes`) in
its transaction. For each LMS context linked to the learner's course, whose launch
granted the AGS score scope, and where the learner is a member (launched from it, or
listed by its roster), it upserts the one row of `lti_score_posts` for the line item the
change affects (the link's grain: the learner's module total and its maximum, the
question's best, or the course total). In the same transaction as the grade: a grade
that commits has its post queued, never lost; one that rolls back leaves none.

A newer score replaces the one waiting (pending or failed) and counts a new `version`;
one being sent right now (`sending`) is replaced too, and waits for that send's lease
(the sender marks the older one's end and sends the newer one next): so the platform
gets the latest score, once, and never two of one line item at the same time.
"""

from __future__ import annotations

from sqlalchemy import and_, case, func, select

from .. import orm
from ..dbutil import dialect_insert
from .client import AGS_SCORE
from .roles import is_teaching


def lineitem_key(grain: str, module_id: int, question_id: int) -> str:
    if grain == "course":
        return "course"
    if grain == "question":
        return f"question-{question_id}"
    return f"module-{module_id}"


def _counted(db, user_id: int, now, **where) -> tuple[float, float, bool]:
    """(the learner's best scores summed, the questions' points, all solved) over the
    released questions not retired of a module (``module_id``) or course (``course_id``),
    as the learner's progress counts them."""
    q = orm.Question
    conditions = [q.retired.is_(False), q.released.is_not(None), q.released <= now]
    if "module_id" in where:
        conditions.append(q.module_id == where["module_id"])
    else:
        conditions.append(
            q.module_id.in_(select(orm.Module.id).where(orm.Module.course_id == where["course_id"]))
        )
    best = orm.BestScore
    maximum, given, unsolved = db.execute(
        select(
            func.coalesce(func.sum(q.max_score), 0.0),
            func.coalesce(func.sum(best.score), 0.0),
            func.coalesce(
                func.sum(case((func.coalesce(best.solved, False).is_(True), 0), else_=1)), 0
            ),
        )
        .select_from(q)
        .outerjoin(best, and_(best.question_id == q.id, best.user_id == user_id))
        .where(*conditions)
    ).one()
    return float(given), float(maximum), unsolved == 0


def score_for(db, grain: str, change, question) -> dict:
    """The outbox row's score for ``change`` at the link's grain."""
    now = orm.utcnow()
    if grain == "question":
        given = change.new
        maximum = change.max_score if change.max_score is not None else question.max_score
        solved = given is not None and maximum > 0 and given >= maximum
        label = question.title
    elif grain == "course":
        course_id = question.module.course_id
        given, maximum, solved = _counted(db, change.user_id, now, course_id=course_id)
        label = question.module.course.title
    else:
        given, maximum, solved = _counted(db, change.user_id, now, module_id=question.module_id)
        label = question.module.title
    return {
        "lineitem_key": lineitem_key(grain, question.module_id, question.id),
        "label": label[:255],
        "score_given": given,
        "score_maximum": float(maximum or 0.0),
        "activity_progress": "Completed" if solved else "InProgress",
    }


def linked_contexts(db, course_id: int) -> list[orm.LTIContext]:
    """The contexts linked to a course whose launches granted the score scope."""
    contexts = db.scalars(select(orm.LTIContext).where(orm.LTIContext.course_id == course_id))
    return [c for c in contexts if c.lineitems_url and AGS_SCORE in (c.ags_scopes or [])]


def grade_changed(db, change) -> None:
    """Queue the LMS's copy of a changed grade, if the learner's course is linked."""
    question = db.get(orm.Question, change.question_id)
    if question is None:
        return
    contexts = linked_contexts(db, question.module.course_id)
    if not contexts:
        return  # the usual case: one query, nothing linked
    members = db.execute(
        select(orm.LTIMember.context_id, orm.LTIMember.roles).where(
            orm.LTIMember.context_id.in_([c.id for c in contexts]),
            orm.LTIMember.user_id == change.user_id,
            orm.LTIMember.lms_status == "Active",
        )
    ).all()
    # an instructor's own tries are not a grade in the LMS
    member_of = {m.context_id for m in members if not is_teaching(m.roles or [])}
    for context in contexts:
        if context.id in member_of:
            queue_score(
                db, context.id, change.user_id, score_for(db, context.grain, change, question)
            )


def queue_score(db, context_id: int, user_id: int, score: dict) -> None:
    """Upsert the outbox row of (context, learner, line item) with ``score``, due now
    (or when the send under way ends). In the caller's transaction."""
    now = orm.utcnow()
    table = orm.LTIScorePost.__table__
    values = {
        **score,
        "timestamp": now,
        "status": orm.LTI_PENDING,
        "next_attempt": now,
        "updated": now,
    }
    statement = dialect_insert(db, table).values(
        context_id=context_id,
        user_id=user_id,
        version=1,
        attempts=0,
        claimed_until=None,
        last_error=None,
        sent=None,
        **values,
    )
    c = table.c
    sending = and_(c.status == orm.LTI_SENDING, c.claimed_until > now)
    db.execute(
        statement.on_conflict_do_update(
            index_elements=[c.context_id, c.user_id, c.lineitem_key],
            set_={
                **{name: statement.excluded[name] for name in score},
                "timestamp": now,
                "status": orm.LTI_PENDING,
                "version": c.version + 1,
                # a send under way: the newer score goes after it (see the docstring)
                "next_attempt": case((sending, c.claimed_until), else_=now),
                # a retrying score keeps its backoff's count; a settled one starts anew
                "attempts": case(
                    (c.status.in_((orm.LTI_SENT, orm.LTI_FAILED)), 0), else_=c.attempts
                ),
                "updated": now,
            },
        )
    )
