"""Regrading: every submission to a question graded again, after its notebook changed.

A regrade goes through the durable queue like any submission, and reuses the rows
themselves: each of the question's submissions is queued again, keeping its notebook,
owner and time. So no learner's work is copied or can be lost, and everything that
counts a learner's submissions (limits, cool-offs, histories, analytics) still counts
each one once. Its previous result is cleared (the row is waiting again, as it says),
except `finished`: when the learner first had a result, which the new one keeps (a
regrade changes a score, not when it was reached: leaderboard ties stay as they were).

**Priority.** A requeued row's priority (its virtual time in the fair queue) moves up
by :data:`REGRADE_PRIORITY`, into a band after every learner's own submission, so a
regrade only uses graders that learners leave idle. In the band the rows keep their
order in time, so the fair queue's interleaving of learners holds there too; and the
queue's clock still counts them (less the band's start), so moving them never sets it
back. Rows in the band never count against a learner's limits
(`GradingQueue.max_queued_per_learner`; their stored size is counted once, as it
always was).

**Scores.** A regraded row's result finds the learner's best score on the question
again from their graded submissions (`scores.recompute_best`), which after a regrade are
all graded under its current version, so a regrade can lower a best score as well as
raise it; the totals follow in the same transaction. So does a regrading that failed
(`error`): its old score no longer counts. (`GET questions/{id}/regrade` counts them;
asking for the regrade again retries them.) `GradingQueue.graded_hooks` run again for a
regraded submission: :func:`is_regrade` tells them it is one.

A submission being graded when the regrade is asked for may be graded against the old
version: its claim is taken back, so its worker's result is discarded (the queue writes
a result only under its claim), and it is queued again where it was.
"""

from __future__ import annotations

from sqlalchemy import case, func, select, update

from .. import orm

#: priorities from here on are regradings (see the module's docstring): far above any
#: learner's virtual time, and small enough that a float still counts in steps of one
REGRADE_PRIORITY = float(2**50)

FINAL = ("graded", "error")


def is_regrade(submission: orm.Submission) -> bool:
    """Whether the submission is queued (or was graded) as part of a regrade."""
    return submission.priority >= REGRADE_PRIORITY


def requeue_question(db, question_id: int) -> int:
    """Queue every submission to the question to be graded again against its current
    version; how many of them now wait to be graded. ``db`` is a writer session; the
    caller commits, then wakes the workers."""
    table = orm.Submission
    version = db.scalar(select(orm.Question.version).where(orm.Question.id == question_id))
    # graded against whichever version it loaded: graded again (see the docstring)
    db.execute(
        update(table)
        .where(table.question_id == question_id, table.status == "running")
        .values(
            status="queued",
            claim=None,
            worker=None,
            lease_expires=None,
            started=None,
            attempts=table.attempts - 1,
        )
    )
    db.execute(
        update(table)
        .where(table.question_id == question_id, table.status.in_(FINAL))
        .values(
            priority=case(
                (table.priority < REGRADE_PRIORITY, table.priority + REGRADE_PRIORITY),
                else_=table.priority,  # in the band already (an earlier regrade)
            ),
            status="queued",
            question_version=version,
            score=None,
            max_score=None,
            tests=None,
            error=None,
            attempts=0,
            claim=None,
            worker=None,
            lease_expires=None,
            started=None,
        )
    )
    return db.scalar(
        select(func.count()).where(table.question_id == question_id, table.status == "queued")
    )


def moved_clock(db) -> float | None:
    """The latest virtual time among rows in the band (their priority less the band's
    start), each status a seek on the queue index: part of the queue's clock."""
    table = orm.Submission
    times = [
        db.scalar(
            select(func.max(table.priority)).where(
                table.status == status, table.priority >= REGRADE_PRIORITY
            )
        )
        for status in ("queued", "running", *FINAL)
    ]
    latest = max((t for t in times if t is not None), default=None)
    return None if latest is None else latest - REGRADE_PRIORITY


def regrade_progress(db, question: orm.Question) -> dict:
    """Where the question's submissions stand against its current version: waiting,
    being graded, graded, failed (`error`), or graded under an earlier version and not
    regraded (`outdated`)."""
    table = orm.Submission
    counts = {"queued": 0, "running": 0, "graded": 0, "error": 0, "outdated": 0}
    rows = db.execute(
        select(table.status, table.question_version, func.count())
        .where(table.question_id == question.id)
        .group_by(table.status, table.question_version)
    )
    for status, version, count in rows:
        if status == "graded" and version != question.version:
            status = "outdated"
        counts[status] = counts.get(status, 0) + count
    return {
        "question": question.id,
        "version": question.version,
        "total": sum(counts.values()),
        **counts,
    }
