"""XP, daily streaks, achievements and hints: what keeps a learner coming back.

Everything a grading earns is written by :func:`award_graded`, called from the queue's
one "graded" step (`GradingQueue.submission_graded`), in the transaction that records
the result and after the best score and totals (`scores.record_graded`): so a result and
its awards are committed together or not at all. Per course, a learner has one
`LearnerStats` row (XP, streak, best streak, last active day).

**XP.** A question's *first solve* (the learner's best score becomes a full score with
this submission) earns `AwardRules.xp_by_difficulty` (by the question's difficulty;
`default_xp` for any other), less `hint_penalty` of it per hint the learner revealed
before submitting, never below `xp_floor` of it. One `XPGrant` row per learner and
question, inserted with ON CONFLICT DO NOTHING: even two workers finishing two solving
submissions at once grant it once (and the learner's row, locked by `record_graded`,
makes them take turns anyway).

**Streaks.** Every graded submission makes its learner active on the day it was
*submitted* (`Submission.created`), in the learner's time zone (`User.timezone`; UTC if
it is not a zone zoneinfo knows). The next day adds one to the streak; up to
`grace_days` missed days between two active days keep it going (they are not counted);
a longer gap starts again at 1. A streak is *read* as 0 once its last day is further
back than yesterday less the grace (:func:`streak_on`), though the row keeps its old
value until the next submission.

**Achievements** (:mod:`grader.learners.achievements`): the course's definitions not
yet earned are checked against the learner's state after this grading; the earned ones
become `Achievement` rows (unique per learner, course and key: never twice). Only what
moved is checked: rules about solving (solved counts, modules, first try, difficulties)
on a question's first solve, streak and XP rules on a new active day or a first solve.
So a definition added later is earned at the next grading that moves what it reads.

**Regrades** (`grading.regrade.is_regrade`) award nothing and take nothing away: XP,
streaks and achievements stay as the first gradings left them, even if the new score is
lower, and the regraded submission's `awards` becomes None (the newest grading of it
earned nothing, and the front end must not celebrate it twice).

**Hints** (`questions/{id}/hints`): a question's hints (`Question.hints`) are revealed
one at a time, each a `HintView` row of the learner; only the revealed ones' text is
ever returned. A hint revealed after the solving submission was made costs nothing. An
AI hint (grader.ai) that came back costs its course's `hint_cost` the same way
(:func:`ai_hint_costs`, added to the revealed hints' penalty).

`Submission.awards` is None when a grading earned nothing (no XP, no achievement, no
new active day), else ``{"xp": gained, "streak": current, "achievements": [definitions
earned]}``; the front end celebrates XP and achievements.

The graded step's cost: two indexed reads (the question's course and difficulty with
the learner's zone; the stats row, locked) when nothing moved, the most frequent case
(a retry the same day); a new day adds the stats' update, the course's definitions and
the learner's earned keys; a first solve adds the best score, a hint count, the grant
and the reads its rules need (totals' solved counts, the module's question count, an
earlier submission); each achievement earned, one insert.
"""

from __future__ import annotations

import functools
import math
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from traitlets import Dict, Float, Integer, TraitError, validate
from traitlets.config import LoggingConfigurable

from .. import orm
from ..dbutil import dialect_insert
from ..grading.regrade import is_regrade
from .achievements import definitions_for, is_earned

# rule kinds whose facts move only when a question is solved
SOLVE_KINDS = {"solved", "module_completed", "first_try", "solved_difficulty"}
UTC_ZONE = ZoneInfo("UTC")


class AwardRules(LoggingConfigurable):
    """How much XP a solve earns, what a hint costs, how forgiving streaks are."""

    xp_by_difficulty = Dict(
        {"easy": 10, "medium": 20, "hard": 40},
        help="""XP of a question's first solve, by its difficulty (compared without
        case). A difficulty not listed (or none) earns default_xp.""",
    ).tag(config=True)
    default_xp = Integer(
        10, help="XP of a first solve of a question whose difficulty xp_by_difficulty lacks."
    ).tag(config=True)
    hint_penalty = Float(
        0.25,
        help="""Share of a question's XP each hint revealed before the solving submission
        costs (0.25: a quarter).""",
    ).tag(config=True)
    xp_floor = Float(
        0.25,
        help="""Share of a question's XP a first solve earns at least, however many hints
        were revealed.""",
    ).tag(config=True)
    grace_days = Integer(
        1,
        help="""Days a learner may miss between two active days without losing their
        streak (missed days are not counted in it). 0: every day counts.""",
    ).tag(config=True)

    @validate("hint_penalty", "xp_floor")
    def _a_share(self, proposal):
        if not 0 <= proposal["value"] <= 1:
            raise TraitError(f"{proposal['trait'].name} must be between 0 and 1")
        return proposal["value"]

    @validate("grace_days", "default_xp")
    def _not_negative(self, proposal):
        if proposal["value"] < 0:
            raise TraitError(f"{proposal['trait'].name} must not be negative")
        return proposal["value"]

    @validate("xp_by_difficulty")
    def _xp_table(self, proposal):
        table = proposal["value"]
        for name, xp in table.items():
            if not isinstance(xp, int) or isinstance(xp, bool) or xp < 0:
                raise TraitError(f"xp_by_difficulty[{name!r}] must be a whole number >= 0")
        return {str(name).lower(): xp for name, xp in table.items()}

    def base_xp(self, difficulty: str | None) -> int:
        return self.xp_by_difficulty.get((difficulty or "").strip().lower(), self.default_xp)

    def xp_for(self, difficulty: str | None, hints_revealed: int, ai_cost: float = 0.0) -> int:
        """XP of a first solve after revealing this many hints, and AI hints costing
        ``ai_cost`` of it (their courses' `hint_cost` summed: `ai_hint_costs`)."""
        base = self.base_xp(difficulty)
        floor = math.ceil(base * self.xp_floor)
        penalty = self.hint_penalty * hints_revealed + ai_cost
        # halves round up (round() would make 7.5 and 8.5 both 8)
        return max(floor, math.floor(base * (1 - penalty) + 0.5))


def rules_of(parent) -> AwardRules:
    """The AwardRules of ``parent`` (the queue: configured as `c.AwardRules`), made once."""
    rules = getattr(parent, "_award_rules", None)
    if rules is None:
        rules = parent._award_rules = AwardRules(parent=parent)
    return rules


# days -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def zone_of(name: str | None) -> ZoneInfo:
    """The learner's time zone; UTC when it is not one zoneinfo knows."""
    try:
        return ZoneInfo(name) if name else UTC_ZONE
    except (ZoneInfoNotFoundError, ValueError):
        return UTC_ZONE


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    """The date a moment (naive UTC, as stored) falls on in ``zone``."""
    return moment.replace(tzinfo=UTC_ZONE).astimezone(zone).date()


def next_streak(
    streak: int, best: int, last_day: date | None, day: date, grace: int
) -> tuple[int, int, date | None]:
    """(streak, best streak, last day) once the learner was active on ``day``.

    The same day (or an earlier one: a submission graded out of order, a changed time
    zone) changes nothing; the next day, or one after up to ``grace`` missed days, adds
    one; a longer gap starts again at 1."""
    if last_day is not None and day <= last_day:
        return streak, best, last_day
    if last_day is not None and (day - last_day).days <= 1 + grace and streak > 0:
        streak += 1
    else:
        streak = 1
    return streak, max(best, streak), day


def streak_on(streak: int, last_day: date | None, today: date, grace: int) -> int:
    """The streak as read on ``today``: 0 once it can no longer be continued (its last
    day is before yesterday less the grace)."""
    if last_day is None or (today - last_day).days > 1 + grace:
        return 0
    return streak


def today_for(user: orm.User, now: datetime | None = None) -> date:
    return local_day(now or orm.utcnow(), zone_of(user.timezone))


# the graded step ------------------------------------------------------------------


def award_graded(db, submission: orm.Submission, rules: AwardRules) -> dict | None:
    """XP, streak and achievements for a graded submission, in the caller's transaction;
    sets and returns `submission.awards` (None: nothing earned, or a regrade)."""
    if is_regrade(submission):
        submission.awards = None
        return None
    user_id = submission.user_id
    context = db.execute(
        select(
            orm.Question.difficulty,
            orm.Question.module_id,
            orm.Module.slug,
            orm.Module.course_id,
            orm.User.timezone,
        )
        .join(orm.Module, orm.Module.id == orm.Question.module_id)
        .join(orm.User, orm.User.id == user_id)
        .where(orm.Question.id == submission.question_id)
    ).one()
    stats = _locked_stats(db, user_id, context.course_id)

    gained = 0
    first_solve = _solves(submission) and _first_solve(db, submission)
    if first_solve:
        gained = _grant_xp(db, submission, context, rules)
        stats.xp += gained

    before = stats.last_day
    day = local_day(submission.created or orm.utcnow(), zone_of(context.timezone))
    stats.streak, stats.best_streak, stats.last_day = next_streak(
        stats.streak, stats.best_streak, stats.last_day, day, rules.grace_days
    )
    new_day = stats.last_day != before
    if not (first_solve or new_day):
        # nothing any rule reads has moved: the cheapest step, the most frequent one
        submission.awards = None
        return None
    stats.updated = orm.utcnow()
    facts = _Facts(db, submission, context, stats)
    earned = _award_achievements(db, submission, context.course_id, facts, first_solve)
    if gained or earned or new_day:
        submission.awards = {"xp": gained, "streak": stats.streak, "achievements": earned}
    else:  # solved again after a regrade lowered the best: its XP was granted before
        submission.awards = None
    return submission.awards


def _solves(submission: orm.Submission) -> bool:
    """A full score: the rule of `BestScore.solved`."""
    return submission.max_score is not None and submission.score >= submission.max_score > 0


def _first_solve(db, submission: orm.Submission) -> bool:
    """Whether this submission made the learner's best score a solve. A best score only
    moves up, so a question solved before keeps the earlier submission as its best."""
    best = db.scalar(
        select(orm.BestScore.submission_id).where(
            orm.BestScore.user_id == submission.user_id,
            orm.BestScore.question_id == submission.question_id,
        )
    )
    return best == submission.id


def _grant_xp(db, submission: orm.Submission, context, rules: AwardRules) -> int:
    """The first solve's XPGrant; its XP, or 0 if the learner had it already."""
    view = orm.HintView
    hints = db.scalar(
        select(func.count()).where(
            view.user_id == submission.user_id,
            view.question_id == submission.question_id,
            # hints revealed while it was being graded did not help it
            view.viewed <= submission.created,
        )
    )
    ai_cost = ai_hint_costs(db, submission.user_id, submission.question_id, submission.created)
    xp = rules.xp_for(context.difficulty, hints, ai_cost)
    table = orm.XPGrant.__table__
    inserted = db.execute(
        dialect_insert(db, table)
        .values(
            user_id=submission.user_id,
            question_id=submission.question_id,
            course_id=context.course_id,
            submission_id=submission.id,
            xp=xp,
            created=orm.utcnow(),
        )
        .on_conflict_do_nothing(index_elements=[table.c.user_id, table.c.question_id])
        .returning(table.c.id)
    ).first()
    return xp if inserted is not None else 0


def ai_hint_costs(db, user_id: int, question_id: int, before: datetime | None = None) -> float:
    """The share of the question's XP the learner's AI hints on it cost (grader.ai:
    each hint that came back, by its course's `hint_cost` then), counting those asked
    for before ``before`` (the solving submission), like revealed hints."""
    exchange = orm.AIExchange
    query = select(func.coalesce(func.sum(exchange.xp_cost), 0.0)).where(
        exchange.user_id == user_id,
        exchange.question_id == question_id,
        exchange.status == "ok",
        exchange.xp_cost > 0,
    )
    if before is not None:
        query = query.where(exchange.created <= before)
    return float(db.scalar(query) or 0.0)


def _locked_stats(db, user_id: int, course_id: int) -> orm.LearnerStats:
    """The learner's stats in the course, made if missing, locked for this transaction."""
    query = (
        select(orm.LearnerStats)
        .where(orm.LearnerStats.user_id == user_id, orm.LearnerStats.course_id == course_id)
        .with_for_update()
    )
    stats = db.scalar(query)
    if stats is None:
        table = orm.LearnerStats.__table__
        db.execute(
            dialect_insert(db, table)
            .values(
                user_id=user_id,
                course_id=course_id,
                xp=0,
                streak=0,
                best_streak=0,
                last_day=None,
                updated=orm.utcnow(),
            )
            .on_conflict_do_nothing(index_elements=[table.c.user_id, table.c.course_id])
        )
        stats = db.scalar(query)
    return stats


def _award_achievements(db, submission, course_id: int, facts, first_solve: bool) -> list[dict]:
    """Achievements newly earned: rows inserted, their definitions (as shown). Rules
    about solving are only read on a first solve: nothing else moves them."""
    course = db.get(orm.Course, course_id)
    mine = set(
        db.scalars(
            select(orm.Achievement.key).where(
                orm.Achievement.user_id == submission.user_id,
                orm.Achievement.course_id == course_id,
            )
        )
    )
    table = orm.Achievement.__table__
    earned = []
    for definition in definitions_for(course):
        if definition.key in mine or (definition.kind in SOLVE_KINDS and not first_solve):
            continue
        if not is_earned(definition, facts):
            continue
        inserted = db.execute(
            dialect_insert(db, table)
            .values(
                user_id=submission.user_id,
                course_id=course_id,
                key=definition.key,
                submission_id=submission.id,
                earned=orm.utcnow(),
            )
            .on_conflict_do_nothing(
                index_elements=[table.c.user_id, table.c.course_id, table.c.key]
            )
            .returning(table.c.id)
        ).first()
        if inserted is not None:
            earned.append(definition.model())
    return earned


class _Facts:
    """The learner's state after this grading, as the achievement rules ask it: each
    query made only if a rule asks, and once."""

    def __init__(self, db, submission: orm.Submission, context, stats: orm.LearnerStats):
        self.db = db
        self.submission = submission
        self.context = context
        self.xp = stats.xp
        self.streak = stats.streak

    def _solved_on(self, board: int) -> int:
        return (
            self.db.scalar(
                select(orm.Total.solved).where(
                    orm.Total.user_id == self.submission.user_id, orm.Total.module_id == board
                )
            )
            or 0
        )

    @functools.cache  # noqa: B019 - one object a grading
    def solved(self) -> int:
        return self._solved_on(orm.course_board(self.context.course_id))

    @functools.cache  # noqa: B019
    def module_completed(self, module) -> bool:
        if module is not True and module != self.context.slug:
            return False  # only the module of the question just solved can be complete now
        released = self.db.scalar(
            select(func.count()).where(
                orm.Question.module_id == self.context.module_id,
                orm.Question.retired.is_(False),
                orm.Question.released <= orm.utcnow(),
            )
        )
        return released > 0 and self._solved_on(self.context.module_id) >= released

    @functools.cache  # noqa: B019
    def first_try(self) -> bool:
        tests = self.submission.tests or []
        if not _solves(self.submission) or not all(t.get("passed") for t in tests):
            return False
        s = orm.Submission
        earlier = self.db.scalar(
            select(s.id)
            .where(
                s.user_id == self.submission.user_id,
                s.question_id == self.submission.question_id,
                s.id < self.submission.id,
                # a grading the sandbox failed was not the learner's try
                s.status != "error",
            )
            .limit(1)
        )
        return earlier is None

    @functools.cache  # noqa: B019
    def solved_difficulty(self, difficulty: str) -> int:
        if (self.context.difficulty or "").strip().lower() != difficulty:
            return 0  # this grading solved none of that difficulty
        best, question = orm.BestScore, orm.Question
        return self.db.scalar(
            select(func.count())
            .select_from(best)
            .join(question, question.id == best.question_id)
            .join(orm.Module, orm.Module.id == question.module_id)
            .where(
                best.user_id == self.submission.user_id,
                best.solved.is_(True),
                question.retired.is_(False),
                orm.Module.course_id == self.context.course_id,
                func.lower(func.trim(question.difficulty)) == difficulty,
            )
        )


# reading --------------------------------------------------------------------------


def stats_of(db, user_id: int, course_id: int) -> orm.LearnerStats | None:
    return db.get(orm.LearnerStats, (user_id, course_id))


def earned_at(db, user_id: int, course_id: int) -> dict[str, datetime]:
    """key -> when the learner earned it, in the course."""
    rows = db.execute(
        select(orm.Achievement.key, orm.Achievement.earned).where(
            orm.Achievement.user_id == user_id, orm.Achievement.course_id == course_id
        )
    )
    return {row.key: row.earned for row in rows}


def summary(db, user: orm.User, course: orm.Course, rules: AwardRules | None = None) -> dict:
    """A learner's XP, streak (as read today, in their zone), best streak and the
    achievements they earned in the course (oldest first): the profile's part.
    ``rules``: the service's (`rules_of(queue)`) for its configured grace."""
    return _summary(db, user, course, rules, earned_only=True)


def achievements_model(
    db, user: orm.User, course: orm.Course, rules: AwardRules | None = None
) -> dict:
    """`GET achievements`: the summary with every definition of the course, earned
    (when) or not (None)."""
    return {"course": course.slug, **_summary(db, user, course, rules, earned_only=False)}


def _summary(db, user, course, rules, earned_only: bool) -> dict:
    grace = (rules or AwardRules()).grace_days
    stats = stats_of(db, user.id, course.id)
    earned = earned_at(db, user.id, course.id)
    achievements = [
        {**d.model(), "earned": orm.isoformat(earned.get(d.key))}
        for d in definitions_for(course)
        if not earned_only or d.key in earned
    ]
    if earned_only:
        achievements.sort(key=lambda a: a["earned"])
    if stats is None:
        return {"xp": 0, "streak": 0, "best_streak": 0, "achievements": achievements}
    return {
        "xp": stats.xp,
        "streak": streak_on(stats.streak, stats.last_day, today_for(user), grace),
        "best_streak": stats.best_streak,
        "achievements": achievements,
    }


# hints ----------------------------------------------------------------------------


def revealed_hints(db, user_id: int, question: orm.Question) -> list[int]:
    """Indices of the question's hints the learner revealed (of those it has now)."""
    rows = db.scalars(
        select(orm.HintView.hint).where(
            orm.HintView.user_id == user_id, orm.HintView.question_id == question.id
        )
    )
    count = len(question.hints or [])
    return sorted(i for i in set(rows) if 0 <= i < count)


def hints_model(db, user: orm.User, question: orm.Question, rules: AwardRules) -> dict:
    """`questions/{id}/hints`: how many, the text of the revealed ones only, what each
    costs, and the XP a first solve would earn now (None once earned)."""
    hints = list(question.hints or [])
    revealed = revealed_hints(db, user.id, question)
    granted = db.scalar(
        select(orm.XPGrant.xp).where(
            orm.XPGrant.user_id == user.id, orm.XPGrant.question_id == question.id
        )
    )
    viewed = db.scalar(
        select(func.count()).where(
            orm.HintView.user_id == user.id, orm.HintView.question_id == question.id
        )
    )
    return {
        "count": len(hints),
        "revealed": [{"index": i, "text": hints[i]} for i in revealed],
        "xp_penalty": rules.hint_penalty,
        "xp": None
        if granted is not None
        else rules.xp_for(question.difficulty, viewed, ai_hint_costs(db, user.id, question.id)),
    }


def reveal_next_hint(db, user_id: int, question: orm.Question) -> int | None:
    """Reveal the learner's next hint (the first not revealed); its index, or None when
    every hint is revealed. ``db``: a writer session; commits."""
    revealed = set(revealed_hints(db, user_id, question))
    index = next((i for i in range(len(question.hints or [])) if i not in revealed), None)
    if index is None:
        db.rollback()
        return None
    table = orm.HintView.__table__
    db.execute(
        # two requests at once reveal one hint, not an error
        dialect_insert(db, table)
        .values(user_id=user_id, question_id=question.id, hint=index, viewed=orm.utcnow())
        .on_conflict_do_nothing(index_elements=[table.c.user_id, table.c.question_id, table.c.hint])
    )
    db.commit()
    return index
