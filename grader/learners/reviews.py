"""Spaced-repetition reviews: when a learner should see a question again (FSRS).

Each learner has at most one `ReviewCard` per question: the `fsrs` card as data
(`Card.to_dict()`), its due time (naive UTC, for the *due* queries), and counts. The
schedule is the `fsrs` package's (FSRS 6): :meth:`ReviewRules.scheduler` is an
`fsrs.Scheduler` with the configured retention, and every review is
``scheduler.review_card(card, rating, review_datetime=...)``; nothing here computes an
interval of its own.

**Graded questions** (every type but flashcards) are reviewed by grading, in the one
"graded" step (:func:`review_graded`, in the transaction that records the result):

- the learner's first full score makes the question's card, reviewed once at the
  submission's time. Its rating: Good for a first try (no time is known: the grader
  does not see when a question was opened); after failed attempts, from the time since
  the first of them (:meth:`ReviewRules.rating_for`), never better than Good;
- later, a graded submission made while the card is due (`due <= submission.created`)
  reviews it: a score short of full is Again; a full score is Easy, Good or Hard by the
  time since the learner opened it for review (`POST reviews/{id}/start`, which sets
  `ReviewCard.opened`), Good when it was not opened since the last review;
- a submission made while the card is not due, or made before the card's last review
  (graded out of order), changes nothing. So resubmitting a solved question does not
  push its review away.

A submission is reviewed at most once (a `ReviewLog` row names it): the step may run
again for the same submission after a hand grade.

**Flashcards** have nothing to grade: the learner rates them (`POST reviews/{id}`,
:func:`rate_flashcard`), again only while due (or for the first time). A learner can
rate only a flashcard, so no rating of a graded question comes from the learner.

Reading (:func:`reviews_model`): the cards of released, non-retired questions of the
courses the learner is in now. A card of a question the learner can no longer see (a
course left, a question retired or hidden again) is kept, not deleted, and left out of
every list and count: it comes back as it was if the question does.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import fsrs
from sqlalchemy import case, func, select
from sqlalchemy.orm import joinedload
from traitlets import Bool, Dict, Float, Integer, TraitError, validate
from traitlets.config import LoggingConfigurable

from .. import orm
from ..dbutil import dialect_insert
from .awards import zone_of

FLASHCARD = "flashcard"
STATES = {
    fsrs.State.Learning: "learning",
    fsrs.State.Review: "review",
    fsrs.State.Relearning: "relearning",
}
RATING_NAMES = {"again": 1, "hard": 2, "good": 3, "easy": 4}


class ReviewRules(LoggingConfigurable):
    """How reviews are scheduled (FSRS) and how a graded review's time becomes a rating."""

    desired_retention = Float(
        0.9,
        help="""The probability of recalling a question when it comes due that FSRS
        schedules for (between 0.7 and 0.99: higher means more frequent reviews).""",
    ).tag(config=True)
    maximum_interval = Integer(36500, help="Most days between two reviews of a question.").tag(
        config=True
    )
    enable_fuzzing = Bool(
        True,
        help="""Spread due dates by FSRS's small random 'fuzz' (intervals of 3 days or
        more move by a few percent), so questions learned together do not all come due
        on the same day. Off: due dates are exactly the computed intervals.""",
    ).tag(config=True)
    easy_seconds = Dict(
        {"easy": 120, "medium": 300, "hard": 600},
        help="""A review solved within this many seconds of opening it is rated Easy, by
        the question's difficulty (compared without case); other difficulties use
        default_easy_seconds.""",
    ).tag(config=True)
    hard_seconds = Dict(
        {"easy": 600, "medium": 1200, "hard": 2400},
        help="""A review solved after more than this many seconds is rated Hard (between
        easy_seconds and this: Good), by the question's difficulty; other difficulties
        use default_hard_seconds.""",
    ).tag(config=True)
    default_easy_seconds = Integer(
        300, help="easy_seconds of a difficulty easy_seconds does not list."
    ).tag(config=True)
    default_hard_seconds = Integer(
        1200, help="hard_seconds of a difficulty hard_seconds does not list."
    ).tag(config=True)

    @validate("desired_retention")
    def _retention(self, proposal):
        if not 0.7 <= proposal["value"] <= 0.99:
            raise TraitError("desired_retention must be between 0.7 and 0.99")
        return proposal["value"]

    @validate("easy_seconds", "hard_seconds")
    def _seconds_table(self, proposal):
        table = proposal["value"]
        for name, seconds in table.items():
            if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
                raise TraitError(f"{proposal['trait'].name}[{name!r}] must be seconds >= 0")
        return {str(name).lower(): seconds for name, seconds in table.items()}

    _scheduler = None
    _scheduler_key = None

    def scheduler(self) -> fsrs.Scheduler:
        """The `fsrs.Scheduler` of these rules (made again if they changed)."""
        key = (self.desired_retention, self.maximum_interval, self.enable_fuzzing)
        if self._scheduler is None or self._scheduler_key != key:
            self._scheduler = fsrs.Scheduler(
                desired_retention=self.desired_retention,
                maximum_interval=self.maximum_interval,
                enable_fuzzing=self.enable_fuzzing,
            )
            self._scheduler_key = key
        return self._scheduler

    def rating_for(self, difficulty: str | None, seconds: float | None) -> fsrs.Rating:
        """A solved review's rating from the time it took (None: not known, Good)."""
        if seconds is None:
            return fsrs.Rating.Good
        level = (difficulty or "").strip().lower()
        if seconds <= self.easy_seconds.get(level, self.default_easy_seconds):
            return fsrs.Rating.Easy
        if seconds > self.hard_seconds.get(level, self.default_hard_seconds):
            return fsrs.Rating.Hard
        return fsrs.Rating.Good


def rules_of(parent) -> ReviewRules:
    """The ReviewRules of ``parent`` (the queue: configured as `c.ReviewRules`), made
    once; without a parent, the defaults."""
    if parent is None:
        return ReviewRules()
    rules = getattr(parent, "_review_rules", None)
    if rules is None:
        rules = parent._review_rules = ReviewRules(parent=parent)
    return rules


def parse_rating(value) -> fsrs.Rating:
    """A learner's rating: 1-4 or its name; ValueError naming what is accepted."""
    if isinstance(value, str) and value.strip().lower() in RATING_NAMES:
        return fsrs.Rating(RATING_NAMES[value.strip().lower()])
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 4:
        return fsrs.Rating(value)
    raise ValueError('rating must be 1-4 or one of "again", "hard", "good", "easy"')


# times: the database holds naive UTC, fsrs wants aware UTC ---------------------------


def aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC)


def naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def fsrs_card(row: orm.ReviewCard) -> fsrs.Card:
    return fsrs.Card.from_dict(row.card)


def new_card(question_id: int, now: datetime) -> fsrs.Card:
    # card_id given: fsrs would otherwise use the clock (and sleep a millisecond)
    return fsrs.Card(card_id=question_id, due=aware(now))


def is_due(row: orm.ReviewCard, moment: datetime) -> bool:
    """Whether a review at ``moment`` counts: the card is due, and the moment is not
    before its last review (a submission graded after a later one was)."""
    if row.due > moment:
        return False
    return row.last_review is None or moment >= row.last_review


def apply_review(
    db,
    rules: ReviewRules,
    row: orm.ReviewCard,
    rating: fsrs.Rating,
    moment: datetime,
    *,
    source: str,
    submission_id: int | None = None,
    duration_ms: int | None = None,
) -> orm.ReviewLog:
    """Review the card at ``moment`` (naive UTC) as FSRS says, and log it."""
    card = fsrs_card(row) if row.card else new_card(row.question_id, moment)
    lapsed = card.state == fsrs.State.Review and rating == fsrs.Rating.Again
    card, _ = rules.scheduler().review_card(
        card, rating, review_datetime=aware(moment), review_duration=duration_ms
    )
    row.card = card.to_dict()
    row.due = naive(card.due)
    row.reviews = (row.reviews or 0) + 1
    row.lapses = (row.lapses or 0) + int(lapsed)
    row.last_review = moment
    row.opened = None  # the next review's time counts from its own start
    log = orm.ReviewLog(
        user_id=row.user_id,
        question_id=row.question_id,
        rating=int(rating),
        source=source,
        submission_id=submission_id,
        duration=duration_ms,
        reviewed=moment,
        due=row.due,
    )
    db.add(log)
    return log


def add_card(db, user_id: int, question_id: int, course_id: int, now: datetime):
    """A new, unreviewed card (due now), flushed: None if another request made it first
    (the caller reads that one)."""
    table = orm.ReviewCard.__table__
    db.execute(
        dialect_insert(db, table)
        .values(
            user_id=user_id,
            question_id=question_id,
            course_id=course_id,
            card=new_card(question_id, now).to_dict(),
            due=now,
            reviews=0,
            lapses=0,
            created=now,
        )
        .on_conflict_do_nothing(index_elements=[table.c.user_id, table.c.question_id])
    )
    return db.get(orm.ReviewCard, (user_id, question_id), populate_existing=True)


# the graded step ---------------------------------------------------------------------


def review_graded(db, submission: orm.Submission, rules: ReviewRules | None = None) -> None:
    """In the graded step: a solved question's card made, or a due card reviewed (see
    the module's docstring). Idempotent per submission."""
    if submission.score is None or not submission.max_score:
        return  # nothing scored: nothing learned about recall
    if rules is None:
        rules = rules_of(None)
    qtype, difficulty, course_id = db.execute(
        select(orm.Question.type, orm.Question.difficulty, orm.Module.course_id)
        .join(orm.Module, orm.Question.module_id == orm.Module.id)
        .where(orm.Question.id == submission.question_id)
    ).one()
    if qtype == FLASHCARD:
        return
    logged = db.scalar(
        select(orm.ReviewLog.id).where(orm.ReviewLog.submission_id == submission.id).limit(1)
    )
    if logged is not None:
        return
    full = submission.score >= submission.max_score
    moment = submission.created
    row = db.get(orm.ReviewCard, (submission.user_id, submission.question_id))
    if row is None:
        if not full:
            return
        rating = first_rating(db, rules, submission, difficulty)
        row = orm.ReviewCard(
            user_id=submission.user_id,
            question_id=submission.question_id,
            course_id=course_id,
            card=None,
            due=moment,
            reviews=0,
            lapses=0,
            created=moment,
        )
        db.add(row)
    else:
        if not is_due(row, moment):
            return
        if not full:
            rating = fsrs.Rating.Again
        else:
            rating = rules.rating_for(difficulty, seconds_since_opened(row, moment))
    apply_review(db, rules, row, rating, moment, source="graded", submission_id=submission.id)


def first_rating(db, rules: ReviewRules, submission: orm.Submission, difficulty) -> fsrs.Rating:
    """The rating of a question's first solve: Good at the first try (how long it took
    is not known), else from the time since the first attempt, at best Good."""
    first = db.scalar(
        select(func.min(orm.Submission.created)).where(
            orm.Submission.user_id == submission.user_id,
            orm.Submission.question_id == submission.question_id,
            orm.Submission.id != submission.id,
            orm.Submission.created <= submission.created,
        )
    )
    if first is None:
        return fsrs.Rating.Good
    rating = rules.rating_for(difficulty, (submission.created - first).total_seconds())
    return min(rating, fsrs.Rating.Good)


def seconds_since_opened(row: orm.ReviewCard, moment: datetime) -> float | None:
    """Time taken by this review: since the learner opened it, if they did after the
    last review and before ``moment``; None otherwise."""
    opened = row.opened
    if opened is None or opened > moment:
        return None
    if row.last_review is not None and opened < row.last_review:
        return None
    return (moment - opened).total_seconds()


# the learner's own ratings (flashcards) -----------------------------------------------


def start_review(db, user: orm.User, question: orm.Question, now: datetime | None = None):
    """Mark the card opened (the review's time counts from now); a flashcard gets its
    card here if it has none. None: a graded question without a card. Commits."""
    now = now or orm.utcnow()
    row = db.get(orm.ReviewCard, (user.id, question.id))
    if row is None:
        if question.type != FLASHCARD:
            return None
        row = add_card(db, user.id, question.id, question.module.course_id, now)
    row.opened = now
    db.commit()
    return row


def rate_flashcard(
    db,
    rules: ReviewRules,
    user: orm.User,
    question: orm.Question,
    rating: fsrs.Rating,
    duration_ms: int | None = None,
    now: datetime | None = None,
) -> tuple[orm.ReviewCard, bool]:
    """The learner's rating of a flashcard: its card made on the first, reviewed while
    due; (card, whether it moved). ``db``: a writer session; commits."""
    now = now or orm.utcnow()
    # the learner's row locked: two ratings sent at once review the card once
    db.execute(select(orm.User.id).where(orm.User.id == user.id).with_for_update())
    row = db.get(orm.ReviewCard, (user.id, question.id), populate_existing=True)
    if row is None:
        row = add_card(db, user.id, question.id, question.module.course_id, now)
    if not is_due(row, now):
        db.commit()
        return row, False
    if duration_ms is None:
        seconds = seconds_since_opened(row, now)
        duration_ms = None if seconds is None else int(seconds * 1000)
    apply_review(db, rules, row, rating, now, source="self", duration_ms=duration_ms)
    db.commit()
    return row, True


# reading -----------------------------------------------------------------------------


def question_brief(question: orm.Question) -> dict:
    return {
        "id": question.id,
        "title": question.title,
        "type": question.type,
        "module": question.module_id,
        "module_slug": question.module.slug,
        "course": question.module.course.slug,
    }


def card_model(row: orm.ReviewCard | None, question: orm.Question) -> dict:
    """A card as the API shows it; ``row`` None: the question has no card yet (state
    "new", nothing due)."""
    if row is None:
        return {
            "question": question_brief(question),
            "due": None,
            "state": "new",
            "reviews": 0,
            "lapses": 0,
            "last_review": None,
            "opened": None,
        }
    state = fsrs.State(row.card["state"]) if row.card else fsrs.State.Learning
    return {
        "question": question_brief(question),
        "due": orm.isoformat(row.due),
        "state": STATES[state],
        "reviews": row.reviews,
        "lapses": row.lapses,
        "last_review": orm.isoformat(row.last_review),
        "opened": orm.isoformat(row.opened),
    }


def end_of_local_day(user: orm.User, now: datetime) -> datetime:
    """The end of the learner's day (User.timezone) that ``now`` falls in, naive UTC."""
    zone = zone_of(user.timezone)
    local = aware(now).astimezone(zone)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), zone)
    return naive(midnight)


def visible_cards(user: orm.User, course_ids, now: datetime):
    """The learner's cards of released, non-retired questions of these courses."""
    return (
        select(orm.ReviewCard)
        .join(orm.Question, orm.ReviewCard.question_id == orm.Question.id)
        .join(orm.Module, orm.Question.module_id == orm.Module.id)
        .where(
            orm.ReviewCard.user_id == user.id,
            orm.Module.course_id.in_(list(course_ids)),
            orm.Question.retired.is_(False),
            orm.Question.released <= now,
        )
    )


def reviews_model(db, user: orm.User, course_ids, limit: int = 50, now=None) -> dict:
    """`GET reviews`: the due cards (soonest first), counts, and the next due time."""
    now = now or orm.utcnow()
    cards = visible_cards(user, course_ids, now).subquery()
    end_of_day = end_of_local_day(user, now)
    week = now + timedelta(days=7)
    counts = db.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((cards.c.due <= now, 1), else_=0)), 0),
            func.coalesce(func.sum(case((cards.c.due <= end_of_day, 1), else_=0)), 0),
            func.coalesce(func.sum(case((cards.c.due <= week, 1), else_=0)), 0),
            func.min(case((cards.c.due > now, cards.c.due), else_=None)),
        ).select_from(cards)
    ).one()
    total, due_now, due_today, next_7_days, next_due = counts
    due_rows = db.scalars(
        visible_cards(user, course_ids, now)
        .where(orm.ReviewCard.due <= now)
        .order_by(orm.ReviewCard.due, orm.ReviewCard.question_id)
        .limit(limit)
    ).all()
    questions = {
        q.id: q
        for q in db.scalars(
            select(orm.Question)
            .where(orm.Question.id.in_([r.question_id for r in due_rows]))
            # each card names its module and course: loaded with the questions, not one
            # query per card
            .options(joinedload(orm.Question.module).joinedload(orm.Module.course))
        )
    }
    if isinstance(next_due, str):  # SQLite's MIN over a CASE loses the column's type
        next_due = datetime.fromisoformat(next_due)
    return {
        "due": [card_model(r, questions[r.question_id]) for r in due_rows],
        "counts": {
            "due_now": int(due_now),
            "due_today": int(due_today),
            "next_7_days": int(next_7_days),
            "total": int(total),
        },
        "next_due": orm.isoformat(next_due),
    }
