"""Quizzes: a few questions drawn at random for each learner, timed, scored as a whole.

A quiz (`orm.Quiz`) lists *draws*, each a filter of the course's questions and how
many to take from it: ``{"count": 2, "module": "basics", "difficulty": "easy",
"tag": "loops", "type": "choice"}`` (every key but `count` optional). Questions are
drawn among the course's released, non-retired, scored ones (a flashcard has nothing to
score, so none is ever drawn).

**Drawing** (:func:`draw_questions`): each draw gives exactly its `count`, and no
question comes twice, even when filters overlap (a module's questions and the easy
ones): the draws' slots are matched to questions (Kuhn's augmenting paths), each slot
trying its candidates in an order shuffled by ``random.Random(seed)``, the seed a
SHA-256 of the quiz's and the learner's ids. So one learner always gets the same
questions, different learners different ones (with a pool big enough), and a
quiz whose draws cannot all be filled is refused when it is saved, naming the first
draw that cannot (:class:`QuizError`).

**An attempt** (`orm.QuizAttempt`, one per learner and quiz: a unique constraint, so
two starts at once make one) holds the questions drawn and its times: `started`,
`deadline` (started + `time_limit`, None if untimed) and `finished` (the learner said
so). Learners answer the drawn questions by the ordinary submissions; the quiz's score
is read from them: per drawn question, the best score among the learner's graded
submissions created in [started, min(deadline, finished)], summed. Submissions before
the start (a question solved earlier) or after the end do not count. Nothing is written
in the graded step.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from .. import orm
from ..dbutil import dialect_insert
from ..scopes import SLUG

#: keys of a draw, besides `count`
DRAW_FILTERS = ("module", "difficulty", "tag", "type")
#: questions in a quiz, at most (all its draws together)
MAX_QUIZ_QUESTIONS = 100
#: a quiz's time limit, at most (seconds): a week
MAX_TIME_LIMIT = 7 * 24 * 3600
FLASHCARD = "flashcard"


class QuizError(ValueError):
    """A quiz's spec is not valid; the message names the field."""


@dataclass
class Candidate:
    id: int
    module_slug: str
    difficulty: str
    tags: list
    type: str


# checking a spec -------------------------------------------------------------------


def check_draws(draws) -> list[dict]:
    """The draws of a spec, normalised (`count` and the filters given), or QuizError."""
    if not isinstance(draws, list) or not draws:
        raise QuizError(
            "draws must be a non-empty list of {count, module?, difficulty?, tag?, type?}"
        )
    checked, total = [], 0
    for index, draw in enumerate(draws):
        where = f"draws[{index}]"
        if not isinstance(draw, dict):
            raise QuizError(
                f"{where} must be an object {{count, module?, difficulty?, tag?, type?}}"
            )
        unknown = set(draw) - {"count", *DRAW_FILTERS}
        if unknown:
            raise QuizError(f"{where} has unknown keys: {', '.join(sorted(map(str, unknown)))}")
        count = draw.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise QuizError(f"{where}.count must be a whole number >= 1")
        total += count
        entry = {"count": count}
        for key in DRAW_FILTERS:
            value = draw.get(key)
            if value is None:
                continue
            if not isinstance(value, str) or not value.strip() or len(value) > 100:
                raise QuizError(f"{where}.{key} must be a non-empty string")
            entry[key] = value.strip()
        if entry.get("type") == FLASHCARD:
            raise QuizError(
                f"{where}.type: flashcards are rated, not scored: a quiz draws scored questions"
            )
        checked.append(entry)
    if total > MAX_QUIZ_QUESTIONS:
        raise QuizError(f"draws ask for {total} questions: a quiz has at most {MAX_QUIZ_QUESTIONS}")
    return checked


def check_time_limit(value) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_TIME_LIMIT:
        raise QuizError(f"time_limit must be seconds between 1 and {MAX_TIME_LIMIT}, or null")
    return value


def describe(draw: dict) -> str:
    filters = ", ".join(f"{key} {draw[key]}" for key in DRAW_FILTERS if key in draw)
    return filters or "any question"


# drawing ---------------------------------------------------------------------------


def candidates(db, course: orm.Course, now: datetime | None = None) -> list[Candidate]:
    """The course's released, non-retired, scored questions, by id."""
    now = now or orm.utcnow()
    rows = db.execute(
        select(
            orm.Question.id,
            orm.Module.slug,
            orm.Question.difficulty,
            orm.Question.tags,
            orm.Question.type,
        )
        .join(orm.Module, orm.Question.module_id == orm.Module.id)
        .where(
            orm.Module.course_id == course.id,
            orm.Question.retired.is_(False),
            orm.Question.released <= now,
            orm.Question.max_score > 0,
            orm.Question.type != FLASHCARD,
        )
        .order_by(orm.Question.id)
    ).all()
    return [Candidate(*row) for row in rows]


def matches(draw: dict, question: Candidate) -> bool:
    return (
        draw.get("module") in (None, question.module_slug)
        and draw.get("difficulty") in (None, question.difficulty)
        and draw.get("type") in (None, question.type)
        and ("tag" not in draw or draw["tag"] in (question.tags or ()))
    )


def assign(pools: list[list[int]]) -> list[int] | None:
    """One question per slot, each from its slot's pool (tried in the pool's order),
    none twice; None if no assignment exists. Kuhn's algorithm: a slot takes the first
    free question of its pool, else moves an earlier slot to another of its own."""
    owner: dict[int, int] = {}  # question -> slot

    def place(slot: int, seen: set[int]) -> bool:
        for question in pools[slot]:
            if question not in owner:
                owner[question] = slot
                return True
        for question in pools[slot]:
            if question in seen:
                continue
            seen.add(question)
            if place(owner[question], seen):
                owner[question] = slot
                return True
        return False

    for slot in range(len(pools)):
        if not place(slot, set()):
            return None
    chosen = [0] * len(pools)
    for question, slot in owner.items():
        chosen[slot] = question
    return chosen


def slot_pools(draws: list[dict], pool: list[Candidate], rng: random.Random | None):
    """Each draw's candidates (shuffled by ``rng``, if given), once per slot."""
    pools = []
    for draw in draws:
        ids = [q.id for q in pool if matches(draw, q)]
        if rng is not None:
            rng.shuffle(ids)
        pools.extend([ids] * draw["count"])
    return pools


def check_fillable(draws: list[dict], pool: list[Candidate]) -> None:
    """QuizError naming the first draw that cannot be filled along with those before it."""
    for index in range(len(draws)):
        if assign(slot_pools(draws[: index + 1], pool, None)) is None:
            draw = draws[index]
            alone = sum(1 for q in pool if matches(draw, q))
            others = " once the draws before it have theirs" if alone >= draw["count"] else ""
            raise QuizError(
                f"draws[{index}] ({describe(draw)}) cannot be filled: it needs "
                f"{draw['count']} released, scored questions and the course has "
                f"{alone}{others}"
            )


def draw_seed(quiz_id: int, user_id: int) -> int:
    digest = hashlib.sha256(f"coursehub-quiz:{quiz_id}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def draw_questions(draws: list[dict], pool: list[Candidate], seed: int) -> list[int] | None:
    """The questions drawn with this seed, draw after draw; None if they cannot be."""
    return assign(slot_pools(draws, pool, random.Random(seed)))


# saving ------------------------------------------------------------------------------


def release_value(value, now: datetime) -> datetime | None:
    """`released` of a spec: true/"now" (now), false/null (not released), or an ISO
    8601 time (naive UTC is stored)."""
    if value is True or value == "now":
        return now
    if value is False or value is None:
        return None
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise QuizError('released must be true, false, "now" or an ISO 8601 time') from None
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


def apply_spec(db, course: orm.Course, quiz: orm.Quiz, spec: dict, partial: bool) -> orm.Quiz:
    """Set the fields ``spec`` gives (all required ones unless ``partial``), checked."""
    now = orm.utcnow()
    for field in ("slug", "title", "draws"):
        if not partial and field not in spec:
            raise QuizError(f"{field} is required")
    if "slug" in spec:
        slug = spec["slug"]
        if not isinstance(slug, str) or not SLUG.match(slug) or slug.isdigit():
            raise QuizError(
                "slug must be a slug: lower-case letters, digits, '-' and '_', with a letter"
            )
        quiz.slug = slug
    if "title" in spec:
        title = spec["title"]
        if not isinstance(title, str) or not title.strip() or len(title) > 255:
            raise QuizError("title is required: a non-empty string of at most 255 characters")
        quiz.title = title.strip()
    if "description" in spec or not partial:
        description = spec.get("description") or ""
        if not isinstance(description, str) or len(description) > 10_000:
            raise QuizError("description must be a string of at most 10000 characters")
        quiz.description = description
    if "time_limit" in spec or not partial:
        quiz.time_limit = check_time_limit(spec.get("time_limit"))
    if "released" in spec or not partial:
        quiz.released = release_value(spec.get("released", True), now)
    if "draws" in spec:
        draws = check_draws(spec["draws"])
        known = set(db.scalars(select(orm.Module.slug).where(orm.Module.course_id == course.id)))
        for index, draw in enumerate(draws):
            if "module" in draw and draw["module"] not in known:
                raise QuizError(
                    f"draws[{index}].module: {course.slug} has no module {draw['module']!r}"
                )
        check_fillable(draws, candidates(db, course, now))
        quiz.draws = draws
    return quiz


def save_quiz(db, course: orm.Course, spec: dict) -> orm.Quiz:
    """A quiz of ``course`` from a spec (`course_content/<course>/quizzes.json`: `slug`,
    `title`, `description`, `draws` naming modules by slug, `time_limit`, `released`,
    default true); the course's quiz of that slug is updated if there is one. Flushed,
    not committed; ValueError (QuizError) naming the problem."""
    if not isinstance(spec, dict):
        raise QuizError("a quiz must be an object {slug, title, draws, ...}")
    quiz = None
    if isinstance(spec.get("slug"), str):
        quiz = db.scalar(
            select(orm.Quiz).where(orm.Quiz.course_id == course.id, orm.Quiz.slug == spec["slug"])
        )
    if quiz is None:
        quiz = orm.Quiz(course_id=course.id, created=orm.utcnow())
        apply_spec(db, course, quiz, spec, partial=False)
        db.add(quiz)
    else:
        apply_spec(db, course, quiz, spec, partial=False)
    db.flush()
    return quiz


# attempts ----------------------------------------------------------------------------


def attempt_of(db, quiz: orm.Quiz, user: orm.User) -> orm.QuizAttempt | None:
    return db.scalar(
        select(orm.QuizAttempt).where(
            orm.QuizAttempt.quiz_id == quiz.id, orm.QuizAttempt.user_id == user.id
        )
    )


def start(db, quiz: orm.Quiz, course: orm.Course, user: orm.User) -> orm.QuizAttempt:
    """The learner's attempt, drawn and started now, or the one they have: two starts
    (even at once, on two replicas) make one, as the unique (quiz, user) says. ``db``: a
    writer session; commits. QuizError if the draws can no longer be filled."""
    attempt = attempt_of(db, quiz, user)
    if attempt is not None:
        return attempt
    now = orm.utcnow()
    drawn = draw_questions(quiz.draws, candidates(db, course, now), draw_seed(quiz.id, user.id))
    if drawn is None:
        db.rollback()
        raise QuizError(
            f"quiz {quiz.slug} cannot be drawn any more (questions were retired): "
            "ask the course's instructors"
        )
    deadline = now + timedelta(seconds=quiz.time_limit) if quiz.time_limit else None
    table = orm.QuizAttempt.__table__
    db.execute(
        dialect_insert(db, table)
        .values(
            quiz_id=quiz.id,
            user_id=user.id,
            questions=drawn,
            started=now,
            deadline=deadline,
            finished=None,
        )
        .on_conflict_do_nothing(index_elements=[table.c.quiz_id, table.c.user_id])
    )
    db.commit()
    return attempt_of(db, quiz, user)


def finish(db, attempt: orm.QuizAttempt) -> orm.QuizAttempt:
    """Mark the attempt finished now (once; a second finish keeps the first time)."""
    if attempt.finished is None:
        attempt.finished = orm.utcnow()
        db.commit()
    return attempt


def window_end(attempt: orm.QuizAttempt) -> datetime | None:
    """When submissions stop counting: the deadline or the finish, whichever is first."""
    ends = [t for t in (attempt.deadline, attempt.finished) if t is not None]
    return min(ends) if ends else None


def attempt_scores(db, attempts: list[orm.QuizAttempt]) -> dict[int, dict[int, float]]:
    """Per attempt id, per drawn question: the best score of the learner's graded
    submissions in the attempt's window (questions with none are absent). Attempts of
    any number of quizzes (a learner has one per quiz, so maybe several here). One
    query."""
    if not attempts:
        return {}
    by_user: dict[int, list[orm.QuizAttempt]] = {}
    for attempt in attempts:
        by_user.setdefault(attempt.user_id, []).append(attempt)
    rows = db.execute(
        select(
            orm.Submission.user_id,
            orm.Submission.question_id,
            orm.Submission.score,
            orm.Submission.created,
        ).where(
            orm.Submission.user_id.in_(list(by_user)),
            orm.Submission.question_id.in_({q for a in attempts for q in a.questions}),
            orm.Submission.status == "graded",
            orm.Submission.score.is_not(None),
            orm.Submission.created >= min(a.started for a in attempts),
        )
    ).all()
    best: dict[int, dict[int, float]] = {a.id: {} for a in attempts}
    for user_id, question_id, score, created in rows:
        for attempt in by_user[user_id]:
            end = window_end(attempt)
            if question_id not in attempt.questions or created < attempt.started:
                continue
            if end is not None and created > end:
                continue
            mine = best[attempt.id]
            mine[question_id] = max(score, mine.get(question_id, score))
    return best


def remaining(attempt: orm.QuizAttempt, now: datetime) -> int | None:
    """Seconds left (None: untimed); 0 once the deadline passed or it is finished."""
    if attempt.deadline is None:
        return None
    if attempt.finished is not None:
        return 0
    return max(0, int((attempt.deadline - now).total_seconds()))


def attempt_model(db, attempt: orm.QuizAttempt, now: datetime | None = None) -> dict:
    now = now or orm.utcnow()
    questions = {
        q.id: q
        for q in db.scalars(select(orm.Question).where(orm.Question.id.in_(attempt.questions)))
    }
    best = attempt_scores(db, [attempt])[attempt.id]
    entries = []
    for qid in attempt.questions:
        question = questions.get(qid)
        if question is None:  # deleted since: nothing to answer, nothing to count
            continue
        entries.append(
            {
                "id": question.id,
                "title": question.title,
                "module": question.module_id,
                "module_slug": question.module.slug,
                "type": question.type,
                "language": question.language or "python",
                "difficulty": question.difficulty,
                "points": question.max_score,
                # the best score *in this attempt* (what the quiz counts)
                "best_score": best.get(qid),
            }
        )
    return {
        "started": orm.isoformat(attempt.started),
        "deadline": orm.isoformat(attempt.deadline),
        "finished": orm.isoformat(attempt.finished),
        "remaining": remaining(attempt, now),
        "questions": entries,
        "score": sum(best.values()),
        "max_score": sum(e["points"] for e in entries),
    }


def quiz_model(
    db, quiz: orm.Quiz, course: orm.Course, user: orm.User | None, teaching: bool = False
) -> dict:
    """A quiz as the caller sees it: with their attempt (if ``user``), and its draws
    for its instructors (``teaching``)."""
    attempt = attempt_of(db, quiz, user) if user is not None else None
    model = {
        "id": quiz.id,
        "course": course.slug,
        "slug": quiz.slug,
        "title": quiz.title,
        "description": quiz.description or "",
        "count": sum(d["count"] for d in quiz.draws),
        "time_limit": quiz.time_limit,
        "released": orm.isoformat(quiz.released),
        "attempt": None if attempt is None else attempt_model(db, attempt),
    }
    if teaching:
        model["draws"] = quiz.draws
    return model


def results(db, quiz: orm.Quiz) -> list[dict]:
    """Every learner's attempt: score, max score, times (by name)."""
    rows = db.execute(
        select(orm.QuizAttempt, orm.User.name)
        .join(orm.User, orm.QuizAttempt.user_id == orm.User.id)
        .where(orm.QuizAttempt.quiz_id == quiz.id)
        .order_by(orm.User.name)
    ).all()
    attempts = [attempt for attempt, _ in rows]
    best = attempt_scores(db, attempts)
    points = dict(
        db.execute(
            select(orm.Question.id, orm.Question.max_score).where(
                orm.Question.id.in_({q for a in attempts for q in a.questions})
            )
        ).all()
    )
    return [
        {
            "user": name,
            "score": sum(best[attempt.id].values()),
            "max_score": sum(points.get(q, 0.0) for q in attempt.questions),
            "started": orm.isoformat(attempt.started),
            "deadline": orm.isoformat(attempt.deadline),
            "finished": orm.isoformat(attempt.finished),
        }
        for attempt, name in rows
    ]
