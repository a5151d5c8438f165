"""Every exchange with a course's model, logged; the learner's daily budget.

An exchange row is written *before* the request is sent (status "pending", with the
messages as sent), in the transaction that checks the learner's budget under a lock
of their row, so two requests at once cannot both take the last one; it is finished
after ("ok", "error", or "cancelled" when the learner went away mid-answer). The
budget counts the day's exchanges that did not fail (a model's error costs the learner
nothing), on the learner's day (their profile's time zone, else UTC). A learner has one
request running at a time.

An AI hint that came back costs `AISettings.hint_cost` of the question's XP if the
learner solves it later (`awards.ai_hint_costs`, read by the XP grant of
:mod:`grader.learners.awards` beside its revealed hints).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from .. import orm
from ..learners.awards import today_for

HINT, TUTOR = "hint", "tutor"
FAILED = "error"
# the tutor's conversation: how many of its messages a learner may send about one
# question, and how many earlier turns each request carries
MAX_CONVERSATION = 100
HISTORY_TURNS = 10
PAGE = 50


class BudgetSpent(Exception):
    """The learner used their requests of the day."""


class StillRunning(Exception):
    """The learner's previous request is still being answered."""


def day_of(user: orm.User, now: datetime | None = None) -> date:
    return today_for(user, now)


def used_today(db, user: orm.User, course_id: int, now: datetime | None = None) -> int:
    return db.scalar(
        select(func.count()).where(
            orm.AIExchange.user_id == user.id,
            orm.AIExchange.course_id == course_id,
            orm.AIExchange.day == day_of(user, now),
            orm.AIExchange.status != FAILED,
        )
    )


def reserve(
    db,
    user_id: int,
    course_id: int,
    question_id: int,
    kind: str,
    *,
    budget: int,
    running_for: float,
    sent: list,
    model: str,
    text: str = "",
    submission_id: int | None = None,
) -> int:
    """The new exchange's id, once the budget allows it; commits. ``db``: a writer
    session (its transaction takes SQLite's write lock; the learner's row is locked on
    PostgreSQL). ``running_for``: seconds after which a pending exchange no longer
    counts as running (the request's time limit, and some)."""
    user = db.scalar(select(orm.User).where(orm.User.id == user_id).with_for_update())
    now = orm.utcnow()
    running = db.scalar(
        select(orm.AIExchange.id)
        .where(
            orm.AIExchange.user_id == user_id,
            orm.AIExchange.status == "pending",
            orm.AIExchange.created > now - timedelta(seconds=running_for),
        )
        .limit(1)
    )
    if running is not None:
        db.rollback()
        raise StillRunning()
    if used_today(db, user, course_id, now) >= budget:
        db.rollback()
        raise BudgetSpent()
    exchange = orm.AIExchange(
        course_id=course_id,
        user_id=user_id,
        question_id=question_id,
        submission_id=submission_id,
        kind=kind,
        text=text,
        sent=sent,
        model=model,
        reply="",
        status="pending",
        xp_cost=0.0,  # a hint costs XP once it came back (finish)
        day=day_of(user, now),
        created=now,
    )
    db.add(exchange)
    db.commit()
    return exchange.id


def finish(db, exchange_id: int, status: str, reply: str, error: str | None, xp_cost: float = 0.0):
    """Record how an exchange ended; commits."""
    exchange = db.get(orm.AIExchange, exchange_id)
    if exchange is None:  # its question was deleted meanwhile
        return
    exchange.status = status
    exchange.reply = reply
    exchange.error = error
    exchange.xp_cost = xp_cost if status == "ok" else 0.0
    exchange.finished = orm.utcnow()
    db.commit()


# reading ---------------------------------------------------------------------------


def conversation(db, user_id: int, question_id: int, limit: int = MAX_CONVERSATION):
    """The learner's tutor exchanges about a question, oldest first."""
    rows = db.scalars(
        select(orm.AIExchange)
        .where(
            orm.AIExchange.user_id == user_id,
            orm.AIExchange.question_id == question_id,
            orm.AIExchange.kind == TUTOR,
        )
        .order_by(orm.AIExchange.id.desc())
        .limit(limit)
    ).all()
    return list(reversed(rows))


def history(rows) -> list[tuple[str, str]]:
    """The last turns of a conversation that were answered, for the next request."""
    answered = [(r.text, r.reply) for r in rows if r.status == "ok"]
    return answered[-HISTORY_TURNS:]


def message_models(rows) -> list[dict]:
    """A conversation as the learner (and the course's instructors) read it: the
    learner's messages and the tutor's answers, never the prompt."""
    messages = []
    for row in rows:
        messages.append(
            {"role": "learner", "text": row.text, "created": orm.isoformat(row.created)}
        )
        messages.append(
            {
                "role": "tutor",
                "text": row.reply,
                "status": row.status,
                "error": row.error,
                "exchange": row.id,
                "created": orm.isoformat(row.finished or row.created),
            }
        )
    return messages


def hints_of_submission(db, user_id: int, submission_id: int) -> list[dict]:
    rows = db.scalars(
        select(orm.AIExchange)
        .where(
            orm.AIExchange.user_id == user_id,
            orm.AIExchange.submission_id == submission_id,
            orm.AIExchange.kind == HINT,
        )
        .order_by(orm.AIExchange.id)
    )
    return [
        {
            "exchange": r.id,
            "text": r.reply,
            "status": r.status,
            "error": r.error,
            "created": orm.isoformat(r.created),
        }
        for r in rows
    ]


def exchange_model(row: orm.AIExchange, user_name: str) -> dict:
    """An exchange as the course's instructors read it: everything sent and received."""
    return {
        "id": row.id,
        "kind": row.kind,
        "user": user_name,
        "question": row.question_id,
        "submission": row.submission_id,
        "text": row.text,
        "sent": row.sent,
        "model": row.model,
        "reply": row.reply,
        "status": row.status,
        "error": row.error,
        "xp_cost": row.xp_cost,
        "created": orm.isoformat(row.created),
        "finished": orm.isoformat(row.finished),
    }


def exchanges_page(
    db,
    course_id: int,
    *,
    question_id: int | None = None,
    user_id: int | None = None,
    kind: str | None = None,
    before: int | None = None,
    limit: int = PAGE,
) -> tuple[list[dict], int | None]:
    """A page of a course's exchanges, newest first, and the id to pass as ``before``
    for the next page (None at the end)."""
    query = (
        select(orm.AIExchange, orm.User.name)
        .join(orm.User, orm.User.id == orm.AIExchange.user_id)
        .where(orm.AIExchange.course_id == course_id)
    )
    if question_id is not None:
        query = query.where(orm.AIExchange.question_id == question_id)
    if user_id is not None:
        query = query.where(orm.AIExchange.user_id == user_id)
    if kind is not None:
        query = query.where(orm.AIExchange.kind == kind)
    if before is not None:
        query = query.where(orm.AIExchange.id < before)
    rows = db.execute(query.order_by(orm.AIExchange.id.desc()).limit(limit + 1)).all()
    models = [exchange_model(row, name) for row, name in rows[:limit]]
    next_before = models[-1]["id"] if len(rows) > limit else None
    return models, next_before
