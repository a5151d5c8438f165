"""Deadlines and limits on submitting: a question's rules in force, whether a learner
may submit now, and what lateness costs.

Rules are set on a module and on a question (:class:`~grader.orm.SubmissionRules`); a
question's None is its module's value. In force (:func:`effective_rules`):

- with a `due` date, a submission after it is *late*; `late_policy` says what that
  means: "refuse" it (403 naming the date), "accept" it (flagged, the default), or take
  a "penalty" of `penalty_per_day` × the question's points for each day or part of a
  day late (nbgrader's late plugins take a share of the points the same way);
- `submission_limit` submissions per learner (403 "N of N submissions used");
- `cooloff` seconds between two submissions of a learner (429 with Retry-After).

A limit or cool-off of 0 is none: the way a question lifts its module's.

Which submissions count, towards the limit and the cool-off: every one of the learner's
to the question except those that ended in `error`. A submission ends in error only
when grading failed for a reason of the grader's (the sandbox or the database, see
:mod:`grader.grading.queue`), never for anything in the learner's notebook: an outage
costs no attempt, as Otter's and nbgrader's users expect. Queued and running ones count,
so that several submissions sent at once cannot pass the limit together; and every
version of the question counts (editing a question does not give attempts back).

:func:`admit` is called in the transaction that stores the submission, after the
learner's row is locked (as `GradingQueue` and `scores.record_graded` do): the count it
reads cannot change before the insert commits, so two submissions at once cannot both
take the last attempt. The penalty is decided when the submission is graded
(:func:`apply_lateness`), from the rules in force then: an extension granted before
grading counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from .. import orm

DAY = timedelta(days=1)


@dataclass(frozen=True)
class Rules:
    """The rules in force on a question (inheritance applied)."""

    due: datetime | None = None
    late_policy: str | None = None  # None without a due date
    penalty_per_day: float | None = None
    submission_limit: int | None = None  # None: no limit
    cooloff: int | None = None  # seconds; None: none

    def is_late(self, when: datetime) -> bool:
        return self.due is not None and when > self.due

    def days_late(self, when: datetime) -> int:
        """Days late, a part of a day counting as one (0 if on time)."""
        if not self.is_late(when):
            return 0
        return math.ceil((when - self.due) / DAY)

    def penalty(self, when: datetime, max_score: float) -> float:
        """Points taken from a submission made at ``when``: nothing unless the policy is
        "penalty"; the submission's score never goes below 0 (see grading.manual)."""
        if self.late_policy != "penalty" or not self.penalty_per_day:
            return 0.0
        return self.penalty_per_day * self.days_late(when) * (max_score or 0.0)

    def model(self) -> dict:
        return {
            "due": None if self.due is None else self.due.isoformat() + "Z",
            "late_policy": self.late_policy,
            "penalty_per_day": self.penalty_per_day,
            "submission_limit": self.submission_limit,
            "cooloff": self.cooloff,
        }


def effective_rules(question: orm.Question) -> Rules:
    """The question's rules, each None taken from its module."""
    module = question.module

    def rule(name):
        value = getattr(question, name)
        return getattr(module, name) if value is None else value

    due = rule("due")
    return Rules(
        due=due,
        late_policy=(rule("late_policy") or "accept") if due is not None else None,
        penalty_per_day=rule("penalty_per_day"),
        submission_limit=rule("submission_limit") or None,
        cooloff=rule("cooloff") or None,
    )


@dataclass(frozen=True)
class Usage:
    """A learner's counted submissions to a question, and when the last was made."""

    used: int = 0
    last: datetime | None = None


def counted(query):
    """Only submissions that count (see the module's docstring)."""
    return query.where(orm.Submission.status != "error")


def usage(db, user_id: int, question_ids) -> dict[int, Usage]:
    """The learner's usage of each of these questions: one grouped query (an index
    range of the learner's submissions)."""
    s = orm.Submission
    rows = db.execute(
        counted(
            select(s.question_id, func.count(), func.max(s.created))
            .where(s.user_id == user_id, s.question_id.in_(list(question_ids)))
            .group_by(s.question_id)
        )
    ).all()
    return {question_id: Usage(used, last) for question_id, used, last in rows}


def next_submission_at(rules: Rules, used: Usage, now: datetime) -> datetime | None:
    """When the cool-off after the learner's last submission ends, if it has not yet."""
    if not rules.cooloff or used.last is None:
        return None
    ends = used.last + timedelta(seconds=rules.cooloff)
    return ends if ends > now else None


class SubmissionRefused(Exception):
    """A submission the question's rules refuse now; str(e) says why."""

    def __init__(self, status: int, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def admit(db, user_id: int, question: orm.Question, now: datetime | None = None) -> bool:
    """Check that the learner may submit to the question now; True if it is late.

    ``db`` is the writer session that then stores the submission: the learner's row is
    locked here (PostgreSQL; SQLite's writer transaction began with BEGIN IMMEDIATE),
    so the count holds until the insert commits. Raises :class:`SubmissionRefused`.
    """
    now = now or orm.utcnow()
    rules = effective_rules(question)
    if rules.is_late(now) and rules.late_policy == "refuse":
        raise SubmissionRefused(
            403,
            f"the due date ({rules.model()['due']}) has passed: this question refuses "
            "late submissions",
        )
    if not (rules.submission_limit or rules.cooloff):
        return rules.is_late(now)
    db.execute(select(orm.User.id).where(orm.User.id == user_id).with_for_update())
    used = usage(db, user_id, [question.id]).get(question.id, Usage())
    limit = rules.submission_limit
    if limit is not None and used.used >= limit:
        raise SubmissionRefused(
            403,
            f"{used.used} of {limit} submission{'' if limit == 1 else 's'} used: "
            "no more submissions to this question",
        )
    ends = next_submission_at(rules, used, now)
    if ends is not None:
        wait = max(1, math.ceil((ends - now).total_seconds()))
        raise SubmissionRefused(
            429,
            f"wait {wait} s before submitting again: this question has a cool-off of "
            f"{rules.cooloff} s between submissions",
            retry_after=wait,
        )
    return rules.is_late(now)


def summary(question: orm.Question, used: Usage | None, now: datetime | None = None) -> dict:
    """What a question's summary says of its rules, and of the caller's submissions."""
    rules = effective_rules(question)
    used = used or Usage()
    ends = next_submission_at(rules, used, now or orm.utcnow())
    return {
        **rules.model(),
        "submissions_used": used.used,
        "next_submission_at": None if ends is None else ends.isoformat() + "Z",
    }


def apply_lateness(submission: orm.Submission) -> None:
    """Set a graded submission's `late` flag and `penalty` (points) from the rules in
    force, its submission time and its maximum score. Its score is then recomputed
    (`grading.manual.rescore`)."""
    rules = effective_rules(submission.question)
    submission.late = rules.is_late(submission.created)
    submission.penalty = rules.penalty(submission.created, submission.max_score or 0.0)
