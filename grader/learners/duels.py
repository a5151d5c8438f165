"""Duels: two learners of a course (or one and the bot) on the same question, timed; the
first full score wins. Elo ratings per course, with their own leaderboard.

**Life of a duel.** `open` (a challenge: to one learner of the course, or to anyone in
it), then `active` once accepted (a bot duel is active at once), then `finished`; or
`declined` (by the challenged) or `cancelled` (by the challenger) while open. Every
change is a conditional UPDATE on the duel's status (`... WHERE status = 'open'`,
`'active'`), so of two requests or workers racing on one duel one wins and the other
changes nothing; and every change writes a "duel" event (:mod:`.events`) for each
participant, the duel as they see it, in the same transaction.

**The question** is drawn when the duel becomes active, among the course's released,
scored questions, by a generator seeded with the duel's id and its start time (so it is
fixed once drawn, and cannot be computed by someone looking at an open challenge before
accepting it). Only the participants see it, and only from then on.

**Winning** (:func:`decide`, the one place a winner is found): among the participants'
submissions to the duel's question *created* between its start and its deadline, the
earliest graded at full score (late penalty taken: `score >= max_score`) wins, provided
no earlier one of either participant is still being graded (it might win: the duel waits
for it, at most `grading_grace` seconds past the deadline). So whoever submitted first
wins, whichever worker finished grading first. A submission made before the start or
after the deadline, to another question, or below the full score, never wins. The bot
"solves" at `started + bot_seconds`: if no learner's full score was submitted by then,
the bot wins. Nobody by the deadline: a draw. `resign` gives the win to the other.

:func:`decide` runs in the graded step (:func:`duel_graded`, for the participant's
submissions to the question), in the service's periodic task for duels whose time is up
(deadline, the bot's time) or that a grading may have decided (:func:`due_duel_ids`), and
when a participant reads their duels. Whichever runs it, :func:`finish` changes the duel
only `WHERE status = 'active'`: a duel finishes once, and only the transaction that
finished it moves the ratings.

**Ratings** (Elo): each learner has a rating per course (`DuelRating`, starting at
`initial_rating`), moved by `k_factor` × (result − expected) when a duel finishes; the
bot has a fixed `bot_rating` and is on no board. Rows are locked (in user-id order) while
they move, so two duels of one learner finishing at once both count.

**The bot's time** is drawn (seeded by the duel's id) from real solve times of the
question (:func:`solve_times`): learners' wins in earlier duels on it (start to winning
submission) and, per learner, the time from their first submission to the question to
their first full score (a learner who solved it at their first submission says nothing
of how long they took, and is left out). With fewer than `bot_min_samples` of them, a
default by difficulty (`bot_seconds_by_difficulty`), give or take a quarter.
"""

from __future__ import annotations

import hashlib
import math
import random
from datetime import datetime, timedelta

from sqlalchemy import and_, case, exists, func, or_, select, update
from traitlets import Dict, Float, Integer, TraitError, validate
from traitlets.config import LoggingConfigurable

from .. import orm
from ..dbutil import dialect_insert
from . import events

BOT_NAME = "bot"
PENDING = ("queued", "running")


class DuelRules(LoggingConfigurable):
    """Duels' time limits, ratings and bot."""

    k_factor = Float(
        32.0, help="Elo K: the most rating points one duel can move (32: chess clubs' usual)."
    ).tag(config=True)
    initial_rating = Float(1200.0, help="A learner's duel rating before their first duel.").tag(
        config=True
    )
    bot_rating = Float(
        1200.0,
        help="""The bot's rating, fixed: what a learner's rating moves against in a bot
        duel (the bot's own never moves).""",
    ).tag(config=True)
    default_time_limit = Integer(600, help="Seconds of a duel when the challenge names none.").tag(
        config=True
    )
    min_time_limit = Integer(60, help="Shortest time limit a challenge may ask for (s).").tag(
        config=True
    )
    max_time_limit = Integer(3600, help="Longest time limit a challenge may ask for (s).").tag(
        config=True
    )
    bot_seconds_by_difficulty = Dict(
        {"easy": 120, "medium": 300, "hard": 600},
        help="""When the bot solves (seconds after the start), by the question's difficulty,
        while the question has fewer than bot_min_samples real solve times; ± 25%.""",
    ).tag(config=True)
    bot_default_seconds = Float(
        300.0, help="The bot's time for a difficulty bot_seconds_by_difficulty lacks."
    ).tag(config=True)
    bot_min_samples = Integer(
        5, help="Real solve times a question needs before the bot's time is drawn from them."
    ).tag(config=True)
    bot_min_seconds = Float(20.0, help="The bot never solves sooner than this (s).").tag(
        config=True
    )
    grading_grace = Float(
        300.0,
        help="""Seconds past a duel's deadline it waits for the grading of a participant's
        submission made in time (which may win it); after that, still ungraded ones are
        left out.""",
    ).tag(config=True)
    max_open_challenges = Integer(
        5, help="Challenges one learner may have waiting for an answer at once; more is a 429."
    ).tag(config=True)
    max_active_duels = Integer(
        5, help="Duels one learner may be playing at once (the bot's included); more is a 429."
    ).tag(config=True)
    settle_interval = Float(
        5.0,
        help="""Seconds between two looks of the service for duels whose time is up
        (deadline, the bot's time): the most a time-out waits before it is told.""",
    ).tag(config=True)

    @validate("k_factor", "bot_min_seconds", "grading_grace", "settle_interval")
    def _not_negative(self, proposal):
        if proposal["value"] < 0:
            raise TraitError(f"{proposal['trait'].name} must not be negative")
        return proposal["value"]

    @validate("bot_seconds_by_difficulty")
    def _seconds_table(self, proposal):
        table = proposal["value"]
        for name, seconds in table.items():
            if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds <= 0:
                raise TraitError(f"bot_seconds_by_difficulty[{name!r}] must be seconds > 0")
        return {str(name).lower(): float(seconds) for name, seconds in table.items()}

    def bot_base_seconds(self, difficulty: str | None) -> float:
        key = (difficulty or "").strip().lower()
        return self.bot_seconds_by_difficulty.get(key, self.bot_default_seconds)


def rules_of(parent) -> DuelRules:
    """The DuelRules of ``parent`` (the queue: configured as `c.DuelRules`), made once."""
    rules = getattr(parent, "_duel_rules", None) if parent is not None else None
    if rules is None:
        rules = DuelRules(parent=parent)
        if parent is not None:
            parent._duel_rules = rules
    return rules


class DuelRefused(Exception):
    """A request on duels the rules refuse: ``status`` (400, 403, 404, 409, 429) and a
    message naming the problem."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


# the model -------------------------------------------------------------------------


def _person(user: orm.User | None) -> dict | None:
    if user is None:
        return None
    return {"name": user.name, "display_name": user.display_name or user.name}


def role_of(duel: orm.Duel, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    if user_id == duel.challenger_id:
        return "challenger"
    if user_id == duel.opponent_id:
        return "opponent"
    return None


def duel_model(db, duel: orm.Duel, viewer_id: int | None, now: datetime | None = None) -> dict:
    """A duel as ``viewer_id`` sees it: its question only for its participants, and only
    from its start."""
    now = now or orm.utcnow()
    course = db.get(orm.Course, duel.course_id)
    challenger = db.get(orm.User, duel.challenger_id)
    opponent = db.get(orm.User, duel.opponent_id) if duel.opponent_id is not None else None
    you = role_of(duel, viewer_id)
    question = None
    if you and duel.question_id is not None and duel.status in ("active", "finished"):
        q = db.get(orm.Question, duel.question_id)
        if q is not None:
            question = {
                "id": q.id,
                "title": q.title,
                "module": q.module_id,
                "module_slug": q.module.slug,
                "type": q.type,
                "language": q.language or "python",
                "difficulty": q.difficulty,
            }
    winner = None
    if duel.result == "challenger":
        winner = challenger.name
    elif duel.result == "opponent":
        winner = BOT_NAME if duel.bot else (opponent.name if opponent else None)
    remaining = None
    if duel.status == "active" and duel.deadline is not None:
        remaining = max(0, math.ceil((duel.deadline - now).total_seconds()))
    ratings = None
    if duel.ratings:
        ratings = {
            role: {"before": round(pair[0], 1), "after": round(pair[1], 1)}
            for role, pair in duel.ratings.items()
        }
    progress = None
    if you and duel.status == "active":
        progress = players_progress(db, duel)
    return {
        "id": duel.id,
        "course": course.slug,
        "challenger": _person(challenger),
        "opponent": _person(opponent),
        "bot": duel.bot,
        "status": duel.status,
        "time_limit": duel.time_limit,
        "created": orm.isoformat(duel.created),
        "started": orm.isoformat(duel.started),
        "deadline": orm.isoformat(duel.deadline),
        "finished": orm.isoformat(duel.finished),
        "remaining": remaining,
        "question": question,
        "result": duel.result,
        "winner": winner,
        "you": you,
        "ratings": ratings,
        "progress": progress,
    }


def players_progress(db, duel: orm.Duel) -> dict:
    """How each player is doing in an active duel, for both to see: their graded
    submissions to its question since the start, and the best score among them (one
    grouped query)."""
    s = orm.Submission
    rows = db.execute(
        select(s.user_id, func.count(), func.max(s.score), func.max(s.max_score))
        .where(
            s.question_id == duel.question_id,
            s.user_id.in_([u for u in (duel.challenger_id, duel.opponent_id) if u]),
            s.created >= duel.started,
            s.status == "graded",
        )
        .group_by(s.user_id)
    ).all()
    seen = {user_id: (count, best, top) for user_id, count, best, top in rows}
    progress = {}
    for role, user_id in (("challenger", duel.challenger_id), ("opponent", duel.opponent_id)):
        if user_id is None:
            continue
        count, best, top = seen.get(user_id, (0, None, None))
        progress[role] = {"submissions": count, "best_score": best, "max_score": top}
    return progress


def tell(db, duel: orm.Duel, now: datetime | None = None) -> None:
    """A "duel" event for each participant (in user-id order: see `events.record`), the
    duel as they see it, in the caller's transaction."""
    for user_id in sorted({duel.challenger_id, duel.opponent_id} - {None}):
        events.record(db, user_id, "duel", duel_model(db, duel, user_id, now))


# challenges ------------------------------------------------------------------------


def time_limit_of(value, rules: DuelRules) -> int:
    if value is None:
        return rules.default_time_limit
    if not isinstance(value, int) or isinstance(value, bool):
        raise DuelRefused(400, "time_limit must be a whole number of seconds")
    if not rules.min_time_limit <= value <= rules.max_time_limit:
        raise DuelRefused(
            400,
            f"time_limit must be between {rules.min_time_limit} and {rules.max_time_limit} seconds",
        )
    return value


def _check_limits(db, user_id: int, rules: DuelRules, *, challenging: bool) -> None:
    d = orm.Duel
    mine = or_(d.challenger_id == user_id, d.opponent_id == user_id)
    active = db.scalar(select(func.count()).where(mine, d.status == "active"))
    if active >= rules.max_active_duels:
        raise DuelRefused(
            429,
            f"you are in {active} duels already: finish one first "
            f"(at most {rules.max_active_duels} at once)",
        )
    if challenging:
        waiting = db.scalar(
            select(func.count()).where(d.challenger_id == user_id, d.status == "open")
        )
        if waiting >= rules.max_open_challenges:
            raise DuelRefused(
                429,
                f"you have {waiting} challenges waiting for an answer: cancel one first "
                f"(at most {rules.max_open_challenges})",
            )


def challenge(
    db,
    rules: DuelRules,
    course: orm.Course,
    challenger: orm.User,
    opponent: orm.User | None = None,
    bot: bool = False,
    time_limit: int | None = None,
) -> orm.Duel:
    """A new duel: a challenge to ``opponent`` (a member of the course: the caller
    checks), an open challenge (no opponent), or a bot duel (active at once). Writes the
    events; the caller commits."""
    if bot and opponent is not None:
        raise DuelRefused(400, "a duel is against the bot or against an opponent, not both")
    if opponent is not None and opponent.id == challenger.id:
        raise DuelRefused(400, "you cannot challenge yourself")
    limit = time_limit_of(time_limit, rules)
    _check_limits(db, challenger.id, rules, challenging=not bot)
    now = orm.utcnow()
    duel = orm.Duel(
        course_id=course.id,
        challenger_id=challenger.id,
        opponent_id=opponent.id if opponent is not None else None,
        bot=bot,
        status="open",
        time_limit=limit,
        created=now,
    )
    db.add(duel)
    db.flush()
    if bot:
        question_id = draw_question(db, duel, now, players=(challenger.id,))
        if question_id is None:
            raise DuelRefused(409, no_question_message(course))
        question = db.get(orm.Question, question_id)
        duel.status, duel.question_id = "active", question_id
        duel.started, duel.deadline = now, now + timedelta(seconds=limit)
        duel.bot_seconds = bot_seconds(db, duel, question, rules)
        db.flush()
    tell(db, duel, now)
    return duel


def no_question_message(course: orm.Course) -> str:
    return f"{course.slug} has no released question with a score to duel on yet"


def draw_question(db, duel: orm.Duel, started: datetime, players=()) -> int | None:
    """The duel's question: one of the course's released, scored questions, drawn by a
    generator seeded with the duel's id and start time; None if there is none. Questions
    one of ``players`` (user ids) has solved are drawn only when every question is:
    a solution already written would win the race before it starts."""
    q, m = orm.Question, orm.Module
    candidates = list(
        db.scalars(
            select(q.id)
            .join(m, m.id == q.module_id)
            .where(
                m.course_id == duel.course_id,
                q.released.is_not(None),
                q.released <= started,
                q.retired.is_(False),
                q.max_score > 0,
            )
            .order_by(q.id)
        )
    )
    if not candidates:
        return None
    solved = set(
        db.scalars(
            select(orm.BestScore.question_id).where(
                orm.BestScore.user_id.in_(list(players)),
                orm.BestScore.question_id.in_(candidates),
                orm.BestScore.solved.is_(True),
            )
        )
    )
    candidates = [c for c in candidates if c not in solved] or candidates
    seed = hashlib.sha256(f"duel-question:{duel.id}:{started.isoformat()}".encode()).hexdigest()
    return random.Random(seed).choice(candidates)


def accept(db, rules: DuelRules, duel: orm.Duel, user: orm.User) -> orm.Duel:
    """``user`` takes up the challenge (the caller checked they are in its course): the
    challenged for a direct one, anyone but the challenger for an open one."""
    if duel.challenger_id == user.id:
        raise DuelRefused(403, "you cannot accept your own challenge")
    if duel.bot or (duel.opponent_id is not None and duel.opponent_id != user.id):
        raise DuelRefused(403, f"duel {duel.id} is not a challenge to you")
    if duel.status != "open":
        raise DuelRefused(409, f"duel {duel.id} is {duel.status}: only an open one is accepted")
    _check_limits(db, user.id, rules, challenging=False)
    now = orm.utcnow()
    question_id = draw_question(db, duel, now, players=(duel.challenger_id, user.id))
    if question_id is None:
        raise DuelRefused(409, no_question_message(db.get(orm.Course, duel.course_id)))
    d = orm.Duel
    taken = db.execute(
        update(d)
        .where(
            d.id == duel.id,
            d.status == "open",
            or_(d.opponent_id == user.id, d.opponent_id.is_(None)),
        )
        .values(
            status="active",
            opponent_id=user.id,
            question_id=question_id,
            started=now,
            deadline=now + timedelta(seconds=duel.time_limit),
        )
    )
    if taken.rowcount != 1:
        raise DuelRefused(409, f"duel {duel.id} is no longer open")
    db.refresh(duel)
    tell(db, duel, now)
    return duel


def _close(db, duel: orm.Duel, status: str) -> None:
    d = orm.Duel
    closed = db.execute(update(d).where(d.id == duel.id, d.status == "open").values(status=status))
    if closed.rowcount != 1:
        raise DuelRefused(409, f"duel {duel.id} is no longer open")
    db.refresh(duel)
    tell(db, duel)


def decline(db, duel: orm.Duel, user: orm.User) -> orm.Duel:
    """The challenged says no (only to a challenge addressed to them)."""
    if duel.challenger_id == user.id:
        raise DuelRefused(403, f"duel {duel.id} is your own challenge: cancel it instead")
    if duel.status == "open" and duel.opponent_id is None:
        raise DuelRefused(
            409, f"duel {duel.id} is an open challenge: nobody declines it, leave it be"
        )
    if duel.opponent_id != user.id:
        raise DuelRefused(403, f"duel {duel.id} is not a challenge to you")
    if duel.status != "open":
        raise DuelRefused(409, f"duel {duel.id} is {duel.status}: only an open one is declined")
    _close(db, duel, "declined")
    return duel


def cancel(db, duel: orm.Duel, user: orm.User) -> orm.Duel:
    """The challenger takes back a challenge nobody accepted yet."""
    if duel.challenger_id != user.id:
        raise DuelRefused(403, f"only the challenger cancels duel {duel.id}")
    if duel.status != "open":
        raise DuelRefused(409, f"duel {duel.id} is {duel.status}: only an open one is cancelled")
    _close(db, duel, "cancelled")
    return duel


def resign(db, rules: DuelRules, duel: orm.Duel, user: orm.User) -> orm.Duel:
    """A participant gives up an active duel: the other (or the bot) wins."""
    role = role_of(duel, user.id)
    if role is None:
        raise DuelRefused(403, f"you are not playing duel {duel.id}")
    if duel.status != "active":
        raise DuelRefused(409, f"duel {duel.id} is {duel.status}: only an active one is resigned")
    other = "opponent" if role == "challenger" else "challenger"
    if not finish(db, rules, duel, other, None):
        db.refresh(duel)
        raise DuelRefused(409, f"duel {duel.id} is {duel.status} already")
    return duel


# winning ---------------------------------------------------------------------------


def _full(score, max_score) -> bool:
    return score is not None and bool(max_score) and score >= max_score - 1e-9


def decide(db, rules: DuelRules, duel: orm.Duel, now: datetime | None = None) -> bool:
    """Finish the duel if its submissions, the bot or the clock decide it (see the
    module's docstring); whether this call finished it."""
    if duel.status != "active" or duel.started is None or duel.deadline is None:
        return False
    now = now or orm.utcnow()
    s = orm.Submission
    players = [duel.challenger_id] + ([duel.opponent_id] if duel.opponent_id else [])
    rows = db.execute(
        select(s.id, s.user_id, s.created, s.status, s.score, s.max_score)
        .where(
            s.question_id == duel.question_id,
            s.user_id.in_(players),
            s.created >= duel.started,
            s.created <= duel.deadline,
        )
        .order_by(s.created, s.id)
    ).all()
    bot_time = None
    if duel.bot and duel.bot_seconds is not None:
        bot_time = duel.started + timedelta(seconds=duel.bot_seconds)
    give_up_waiting = now > duel.deadline + timedelta(seconds=rules.grading_grace)
    for row in rows:
        if bot_time is not None and row.created > bot_time:
            break  # the bot was quicker than anything from here on
        if row.status in PENDING:
            if give_up_waiting:
                continue
            return False  # it may win: wait for its grading
        if row.status == "graded" and _full(row.score, row.max_score):
            winner = role_of(duel, row.user_id)
            return finish(db, rules, duel, winner, row.id, now)
    if bot_time is not None and bot_time <= duel.deadline and now >= bot_time:
        return finish(db, rules, duel, "opponent", None, now)
    if now >= duel.deadline:
        return finish(db, rules, duel, "draw", None, now)
    return False


def finish(
    db,
    rules: DuelRules,
    duel: orm.Duel,
    result: str,
    submission_id: int | None,
    now: datetime | None = None,
) -> bool:
    """End an active duel with ``result`` ("challenger", "opponent", "draw"): only if it
    is still active (a conditional UPDATE), then its ratings and events, in this
    transaction. Whether this call ended it."""
    now = now or orm.utcnow()
    d = orm.Duel
    ended = db.execute(
        update(d)
        .where(d.id == duel.id, d.status == "active")
        .values(status="finished", result=result, finished=now, winning_submission_id=submission_id)
    )
    if ended.rowcount != 1:
        return False
    db.refresh(duel)
    duel.ratings = _rate(db, rules, duel, result, now)
    db.flush()
    tell(db, duel, now)
    return True


def expected(rating: float, other: float) -> float:
    """Elo: the score a player of ``rating`` is expected to make against ``other``."""
    return 1 / (1 + 10 ** ((other - rating) / 400))


def _rate(db, rules: DuelRules, duel: orm.Duel, result: str, now: datetime) -> dict:
    """Move the participants' ratings for this result; ``{role: [before, after]}``."""
    rows = _locked_ratings(db, rules, duel.course_id, [duel.challenger_id, duel.opponent_id])
    mine = rows[duel.challenger_id]
    theirs = rows.get(duel.opponent_id)
    other = theirs.rating if theirs is not None else rules.bot_rating
    score = {"challenger": 1.0, "opponent": 0.0, "draw": 0.5}[result]
    change = rules.k_factor * (score - expected(mine.rating, other))
    ratings = {"challenger": [mine.rating, mine.rating + change]}
    if theirs is not None:
        # each moves by its own expectation: with one K, the changes are opposite
        their_change = rules.k_factor * ((1 - score) - expected(theirs.rating, mine.rating))
        ratings["opponent"] = [theirs.rating, theirs.rating + their_change]
    else:
        ratings["opponent"] = [rules.bot_rating, rules.bot_rating]
    for row, role, points in ((mine, "challenger", score), (theirs, "opponent", 1 - score)):
        if row is None:
            continue
        row.rating = ratings[role][1]
        row.games += 1
        if points == 1:
            row.wins += 1
        elif points == 0:
            row.losses += 1
        else:
            row.draws += 1
        row.updated = now
    db.flush()
    return ratings


def _locked_ratings(db, rules: DuelRules, course_id: int, user_ids) -> dict:
    """The learners' rating rows in the course, made if missing, locked, in user-id
    order (two duels of the same learners finishing at once take them in one order)."""
    table = orm.DuelRating.__table__
    rows = {}
    for user_id in sorted(set(user_ids) - {None}):
        db.execute(
            dialect_insert(db, table)
            .values(
                user_id=user_id,
                course_id=course_id,
                rating=rules.initial_rating,
                games=0,
                wins=0,
                losses=0,
                draws=0,
                updated=orm.utcnow(),
            )
            .on_conflict_do_nothing(index_elements=[table.c.user_id, table.c.course_id])
        )
        rows[user_id] = db.scalar(
            select(orm.DuelRating)
            .where(orm.DuelRating.user_id == user_id, orm.DuelRating.course_id == course_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    return rows


def duel_graded(db, submission, rules: DuelRules | None = None) -> None:
    """In the graded step: the learner's active duels on this question, decided again
    (a full score may win one; a lower one may let the other's later full score win).
    Idempotent: a finished duel stays as it is."""
    if submission.status != "graded":
        return
    rules = rules or DuelRules()
    d = orm.Duel
    duels = db.scalars(
        select(d).where(
            d.status == "active",
            d.question_id == submission.question_id,
            or_(d.challenger_id == submission.user_id, d.opponent_id == submission.user_id),
        )
    ).all()
    for duel in duels:
        if not decide(db, rules, duel) and duel.status == "active":
            # not decided by it: both players hear how the submitter is doing
            tell(db, duel)


# settling what time decides ---------------------------------------------------------


def due_duel_ids(db, now: datetime | None = None, user_id: int | None = None) -> list[int]:
    """Active duels (of ``user_id``, or all) that may be decided now: past their deadline
    or the bot's time, or with a full score a grading recorded (the graded step decides
    those itself, unless two gradings raced past each other)."""
    now = now or orm.utcnow()
    d, s = orm.Duel, orm.Submission
    won = exists().where(
        s.question_id == d.question_id,
        or_(s.user_id == d.challenger_id, s.user_id == d.opponent_id),
        s.status == "graded",
        s.created >= d.started,
        s.created <= d.deadline,
        s.max_score > 0,
        s.score >= s.max_score,
    )
    query = select(d.id, d.deadline, d.started, d.bot_seconds, won.label("won")).where(
        d.status == "active"
    )
    if user_id is not None:
        query = query.where(or_(d.challenger_id == user_id, d.opponent_id == user_id))
    due = []
    for row in db.execute(query):
        bot_done = (
            row.bot_seconds is not None and row.started + timedelta(seconds=row.bot_seconds) <= now
        )
        if row.won or bot_done or row.deadline <= now:
            due.append(row.id)
    return due


def settle(writer_factory, rules: DuelRules, duel_ids, now: datetime | None = None) -> int:
    """Decide these duels, each in a transaction of its own; how many finished."""
    finished = 0
    for duel_id in duel_ids:
        with writer_factory() as db:
            duel = db.get(orm.Duel, duel_id)
            if duel is not None and decide(db, rules, duel, now):
                finished += 1
            db.commit()
    return finished


def settle_due(session_factory, writer_factory, rules: DuelRules, now=None) -> int:
    """The service's periodic task: every duel that may be decided now, decided."""
    with session_factory() as db:
        ids = due_duel_ids(db, now)
    return settle(writer_factory, rules, ids, now)


# the bot ---------------------------------------------------------------------------


def solve_times(db, question_id: int, limit: int = 500) -> list[float]:
    """Real times (s) learners took to solve the question: their duel wins on it (start
    to winning submission) and, per learner, first submission to first full score when
    those differ (most recent learners first, at most ``limit``)."""
    s, d = orm.Submission, orm.Duel
    full = and_(s.status == "graded", s.max_score > 0, s.score >= s.max_score)
    first_full = func.min(case((full, s.created)))
    per_learner = db.execute(
        select(func.min(s.created), first_full)
        .where(s.question_id == question_id)
        .group_by(s.user_id)
        .having(first_full.is_not(None))
        .order_by(func.min(s.created).desc())
        .limit(limit)
    ).all()
    times = [(solved - first).total_seconds() for first, solved in per_learner]
    in_duels = db.execute(
        select(d.started, s.created)
        .join(s, s.id == d.winning_submission_id)
        .where(d.question_id == question_id, d.status == "finished")
        .order_by(d.id.desc())
        .limit(limit)
    ).all()
    times += [(won - started).total_seconds() for started, won in in_duels]
    return [t for t in times if t > 0]


def bot_seconds(db, duel: orm.Duel, question: orm.Question, rules: DuelRules) -> float:
    """When the bot solves the duel's question (seconds after the start): a real solve
    time of the question, drawn by a generator seeded with the duel's id, ± 10%; a
    default by difficulty ± 25% with too few of them."""
    rng = random.Random(f"duel-bot:{duel.id}")
    samples = sorted(solve_times(db, question.id))
    if len(samples) >= rules.bot_min_samples:
        seconds = rng.choice(samples) * rng.uniform(0.9, 1.1)
    else:
        seconds = rules.bot_base_seconds(question.difficulty) * rng.uniform(0.75, 1.25)
    return round(max(seconds, rules.bot_min_seconds), 1)


# reading ---------------------------------------------------------------------------


def learners_duels(
    db, user_id: int, course_ids: list[int], status: str | None = None, limit: int = 50
) -> list[orm.Duel]:
    """The learner's duels in these courses, newest first."""
    d = orm.Duel
    query = select(d).where(
        or_(d.challenger_id == user_id, d.opponent_id == user_id), d.course_id.in_(course_ids)
    )
    if status is not None:
        query = query.where(d.status == status)
    return list(db.scalars(query.order_by(d.id.desc()).limit(limit)))


def open_challenges(db, user_id: int, course_ids: list[int], limit: int = 50) -> list[orm.Duel]:
    """Open challenges in these courses that the learner may accept (not their own)."""
    d = orm.Duel
    return list(
        db.scalars(
            select(d)
            .where(
                d.status == "open",
                d.opponent_id.is_(None),
                d.bot.is_(False),
                d.challenger_id != user_id,
                d.course_id.in_(course_ids),
            )
            .order_by(d.id.desc())
            .limit(limit)
        )
    )


def may_see(duel: orm.Duel, user_id: int, learns_in_course: bool) -> bool:
    """Its participants see a duel; the course's learners see an open challenge."""
    if role_of(duel, user_id) is not None:
        return True
    return learns_in_course and duel.status == "open" and duel.opponent_id is None and not duel.bot


def ratings_board(
    db, course: orm.Course, viewer_id: int, reveal: bool = False, offset: int = 0, limit: int = 50
) -> tuple[list[dict], int]:
    """A page of the course's duel ratings (learners with a duel played), best first:
    anonymous learners as on the other leaderboards (unless ``reveal``)."""
    from .scores import ANONYMOUS_NAME

    r, u = orm.DuelRating, orm.User
    played = (r.course_id == course.id, r.games > 0)
    total = db.scalar(select(func.count()).select_from(r).where(*played))
    rows = db.execute(
        select(
            u.id, u.name, u.display_name, u.anonymous, r.rating, r.games, r.wins, r.losses, r.draws
        )
        .join(u, u.id == r.user_id)
        .where(*played)
        # ix_duel_ratings_board read backwards (ties: the later learner first, as any)
        .order_by(r.rating.desc(), r.games.desc(), r.user_id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    entries = []
    for i, row in enumerate(rows):
        you = row.id == viewer_id
        hidden = row.anonymous and not (you or reveal)
        entries.append(
            {
                "rank": offset + i + 1,
                "user": None if hidden else row.name,
                "display_name": ANONYMOUS_NAME if hidden else (row.display_name or row.name),
                "rating": round(row.rating, 1),
                "games": row.games,
                "wins": row.wins,
                "losses": row.losses,
                "draws": row.draws,
                "you": you,
            }
        )
    return entries, total
