"""The daily question: one question a day per course, the same for every learner whose
day it is, and a streak of days it was solved.

**Which question.** The candidates of a day are the course's questions that are scored
(`max_score` > 0: not flashcards), not retired, and released before the day began
*anywhere* (UTC+14, the earliest zone): so whatever the learner's zone, the day's
question was released when their day began, and the set does not change during the day
when a question is released at noon. (A course with no such question yet, the day it
is loaded, takes those released by the time of asking, or of the submission: its first
day's question may change as more are released.) The day's question is candidate number
``sha256(course slug + "/" + day) mod count`` in id order: the same in every process
and after a restart (never Python's `hash()`, which is salted per process).

**Whose day.** A learner's day is their local date (`User.timezone`, UTC if zoneinfo
does not know it, as for streaks in :mod:`grader.learners.awards`): at one instant a
learner in Tokyo may be on tomorrow's question while one in UTC is on today's.

**The streak** (`LearnerStats.daily_streak`, `daily_best`, `daily_last`), in the graded
step (:func:`daily_graded`): a full score on the question of the *submission's* local day
(`Submission.created`) counts that day. If the day before was counted, the streak grows
by one; if this day was counted already, nothing changes (the step is idempotent: a hand
grade may run it again for the same submission); otherwise it starts again at 1. Solving
yesterday's question today counts for nothing: it is not today's question. A streak is
read as 0 once neither today nor yesterday was counted.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from .. import orm
from .awards import local_day, today_for, zone_of

# a day begins first in UTC+14 (the Line Islands), this long before it begins in UTC
EARLIEST_OFFSET = timedelta(hours=14)


def day_begins_anywhere(day: date) -> datetime:
    """When ``day`` begins in its earliest zone, as naive UTC."""
    return datetime(day.year, day.month, day.day) - EARLIEST_OFFSET


def candidate_ids(db, course_id: int, day: date, as_of: datetime) -> list[int]:
    """The ids of the day's candidates (see the module's docstring), in id order:
    released before ``day`` began anywhere, or, if none was, by ``as_of``."""
    q = orm.Question
    rows = db.execute(
        select(q.id, q.released)
        .join(orm.Module, orm.Module.id == q.module_id)
        .where(
            orm.Module.course_id == course_id,
            q.retired.is_(False),
            q.released.is_not(None),
            q.released <= max(as_of, day_begins_anywhere(day)),
            q.max_score > 0,
        )
        .order_by(q.id)
    ).all()
    begun = day_begins_anywhere(day)
    settled = [row.id for row in rows if row.released <= begun]
    return settled or [row.id for row in rows if row.released <= as_of]


def pick(course_slug: str, day: date, candidates: list[int]) -> int | None:
    """The day's question among ``candidates``: sha256 of the course's slug and the day."""
    if not candidates:
        return None
    digest = hashlib.sha256(f"{course_slug}/{day.isoformat()}".encode()).digest()
    return candidates[int.from_bytes(digest[:8], "big") % len(candidates)]


def daily_question_id(db, course: orm.Course, day: date, as_of: datetime) -> int | None:
    return pick(course.slug, day, candidate_ids(db, course.id, day, as_of))


def streak_on(stats: orm.LearnerStats | None, today: date) -> int:
    """The daily streak as read on ``today``: 0 once neither today nor yesterday counted."""
    if stats is None or stats.daily_last is None:
        return 0
    if (today - stats.daily_last).days > 1:
        return 0
    return stats.daily_streak


def daily_model(db, user: orm.User, course: orm.Course, now: datetime | None = None) -> dict:
    """`GET daily`: the learner's day, its question with their best score, whether they
    solved it today, their streak."""
    now = now or orm.utcnow()
    day = today_for(user, now)
    question_id = daily_question_id(db, course, day, now)
    question = None
    if question_id is not None:
        q = db.get(orm.Question, question_id, options=[joinedload(orm.Question.module)])
        best = orm.BestScore.find(db, user.id, question_id)
        question = {
            "id": q.id,
            "title": q.title,
            "module": q.module_id,
            "module_slug": q.module.slug,
            "type": q.type,
            "language": q.language or "python",
            "difficulty": q.difficulty,
            "points": q.max_score,
            "best_score": None if best is None else best.score,
            "solved": bool(best and best.solved),
        }
    stats = db.get(orm.LearnerStats, (user.id, course.id))
    return {
        "course": course.slug,
        "day": day.isoformat(),
        "question": question,
        "solved_today": stats is not None and stats.daily_last == day,
        "streak": streak_on(stats, day),
        "best_streak": stats.daily_best if stats is not None else 0,
    }


def next_daily_streak(streak: int, best: int, last: date | None, day: date):
    """(streak, best, last day) once ``day``'s question was solved on ``day``."""
    if last is not None and day <= last:
        return streak, best, last  # counted already (or graded out of order)
    streak = streak + 1 if last is not None and (day - last).days == 1 else 1
    return streak, max(best, streak), day


def daily_graded(db, submission) -> None:
    """In the graded step: solving the day's question continues its streak."""
    if submission.max_score is None or not submission.score >= submission.max_score > 0:
        return  # the most frequent case: no statement at all
    context = db.execute(
        select(orm.Module.course_id, orm.Course.slug, orm.User.timezone)
        .join(orm.Course, orm.Course.id == orm.Module.course_id)
        .join(orm.Question, orm.Question.module_id == orm.Module.id)
        .join(orm.User, orm.User.id == submission.user_id)
        .where(orm.Question.id == submission.question_id)
    ).one()
    made = submission.created or orm.utcnow()
    day = local_day(made, zone_of(context.timezone))
    if pick(context.slug, day, candidate_ids(db, context.course_id, day, made)) != (
        submission.question_id
    ):
        return
    stats = db.scalar(
        select(orm.LearnerStats)
        .where(
            orm.LearnerStats.user_id == submission.user_id,
            orm.LearnerStats.course_id == context.course_id,
        )
        .with_for_update()
    )
    if stats is None:  # award_graded made it earlier in this step; a caller without it
        stats = orm.LearnerStats(
            user_id=submission.user_id,
            course_id=context.course_id,
            xp=0,
            streak=0,
            best_streak=0,
            daily_streak=0,
            daily_best=0,
        )
        db.add(stats)
    moved = next_daily_streak(stats.daily_streak or 0, stats.daily_best or 0, stats.daily_last, day)
    if moved != (stats.daily_streak, stats.daily_best, stats.daily_last):
        stats.daily_streak, stats.daily_best, stats.daily_last = moved
        stats.updated = orm.utcnow()
