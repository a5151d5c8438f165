"""Practice at a glance, for the instructor's *Practice* page: the course's quizzes (with
their attempts and mean score), learning paths (who follows them, who finished them),
reviews, duels (and the top of the duel ratings) and today's daily question; and one
quiz's results, a page of learners at a time.

A fixed handful of grouped statements, whatever the class size or the number of
quizzes and paths (the page's test counts them): every count is a GROUP BY or a
conditional sum, and a quiz's scores are read from submissions in one statement for
every attempt of every quiz (never one per learner or per quiz).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, select

from .. import orm
from ..learners import daily as daily_questions
from ..learners import duels as duel_rules
from ..learners import quizzes
from .overview import question_status

#: learners a page of a quiz's results shows
RESULTS_PAGE = 50
#: entries of the duel ratings the overview shows
TOP_RATINGS = 10


def duration_text(seconds: int | None) -> str:
    """A time limit as people read it: "90 s", "10 min", "1 h 30 min"; "" for none."""
    if not seconds:
        return ""
    if seconds < 60 or seconds % 60:
        return f"{seconds} s"
    hours, minutes = divmod(seconds // 60, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


# quizzes -------------------------------------------------------------------------------


def attempt_over(attempt: orm.QuizAttempt, now: datetime) -> bool:
    """Finished by the learner, or past its deadline: nothing it scores changes."""
    return attempt.finished is not None or (
        attempt.deadline is not None and attempt.deadline <= now
    )


def attempts_scores(db, attempts: list[orm.QuizAttempt]) -> dict[int, float]:
    """Per attempt id, its quiz score (`quizzes.attempt_scores`, summed). One statement."""
    return {
        attempt_id: sum(scores.values())
        for attempt_id, scores in quizzes.attempt_scores(db, attempts).items()
    }


def question_points(db, attempts: list[orm.QuizAttempt]) -> dict[int, float]:
    """max_score of every question drawn in ``attempts`` (one statement, none if none)."""
    ids = {q for a in attempts for q in a.questions}
    if not ids:
        return {}
    return dict(
        db.execute(
            select(orm.Question.id, orm.Question.max_score).where(orm.Question.id.in_(ids))
        ).all()
    )


def max_of(attempt: orm.QuizAttempt, points: dict[int, float]) -> float:
    # a question deleted since counts for nothing, as the learner's own view says
    return sum(points.get(q, 0.0) for q in attempt.questions)


def quiz_summaries(db, course: orm.Course, now: datetime) -> list[dict]:
    """The course's quizzes in course order: ``{"id", "slug", "title", "count",
    "time_limit", "status", "released", "started", "finished", "mean_score",
    "mean_max"}``; ``finished`` counts attempts that are over (finished, or timed
    out), the means are over every attempt (None without one)."""
    quiz_rows = db.scalars(
        select(orm.Quiz)
        .where(orm.Quiz.course_id == course.id)
        .order_by(orm.Quiz.position, orm.Quiz.id)
    ).all()
    if not quiz_rows:
        return []
    attempts = db.scalars(
        select(orm.QuizAttempt).where(orm.QuizAttempt.quiz_id.in_([quiz.id for quiz in quiz_rows]))
    ).all()
    scores = attempts_scores(db, attempts)
    points = question_points(db, attempts)
    of_quiz: dict[int, list[orm.QuizAttempt]] = {}
    for attempt in attempts:
        of_quiz.setdefault(attempt.quiz_id, []).append(attempt)
    summaries = []
    for quiz in quiz_rows:
        mine = of_quiz.get(quiz.id, [])
        summaries.append(
            {
                "id": quiz.id,
                "slug": quiz.slug,
                "title": quiz.title,
                "count": sum(d["count"] for d in quiz.draws),
                "time_limit": duration_text(quiz.time_limit),
                "status": question_status(False, quiz.released, now),
                "released": quiz.released,
                "started": len(mine),
                "finished": sum(1 for a in mine if attempt_over(a, now)),
                "mean_score": sum(scores[a.id] for a in mine) / len(mine) if mine else None,
                "mean_max": sum(max_of(a, points) for a in mine) / len(mine) if mine else None,
            }
        )
    return summaries


def quiz_results_page(
    db, quiz: orm.Quiz, after: str | None = None, limit: int = RESULTS_PAGE, now=None
) -> list[dict]:
    """Up to ``limit`` attempts at ``quiz``, by learner name after ``after``:
    ``{"name", "display_name", "started", "deadline", "finished", "over", "score",
    "max_score"}``. Three statements (attempts, their submissions, points)."""
    now = now or orm.utcnow()
    query = (
        select(orm.QuizAttempt, orm.User.name, orm.User.display_name)
        .join(orm.User, orm.QuizAttempt.user_id == orm.User.id)
        .where(orm.QuizAttempt.quiz_id == quiz.id)
        .order_by(orm.User.name)
        .limit(limit)
    )
    if after is not None:
        query = query.where(orm.User.name > after)
    rows = db.execute(query).all()
    attempts = [attempt for attempt, _, _ in rows]
    # one attempt per learner here: the quizzes module's own reading applies
    best = quizzes.attempt_scores(db, attempts)
    points = question_points(db, attempts)
    return [
        {
            "name": name,
            "display_name": display_name,
            "started": attempt.started,
            "deadline": attempt.deadline,
            "finished": attempt.finished,
            "over": attempt_over(attempt, now),
            "score": sum(best[attempt.id].values()),
            "max_score": max_of(attempt, points),
        }
        for attempt, name, display_name in rows
    ]


def attempt_count(db, quiz: orm.Quiz) -> int:
    return (
        db.scalar(
            select(func.count())
            .select_from(orm.QuizAttempt)
            .where(orm.QuizAttempt.quiz_id == quiz.id)
        )
        or 0
    )


# paths ---------------------------------------------------------------------------------


def path_summaries(db, course: orm.Course, now: datetime) -> list[dict]:
    """The course's paths in course order: ``{"id", "slug", "title", "public",
    "questions", "enrolled", "completed"}``. ``questions`` counts what learners can work on (released,
    not retired); ``completed``, the learners following the path who solved every one
    of them. Two statements."""
    item, question = orm.PathItem, orm.Question
    workable = and_(question.retired.is_(False), question.released <= now)
    items = (
        select(func.count())
        .select_from(item)
        .join(question, question.id == item.question_id)
        .where(item.path_id == orm.LearningPath.id, workable)
        .scalar_subquery()
    )
    enrolled = (
        select(func.count())
        .select_from(orm.PathEnrolment)
        .where(orm.PathEnrolment.path_id == orm.LearningPath.id)
        .scalar_subquery()
    )
    paths = db.execute(
        select(
            orm.LearningPath.id,
            orm.LearningPath.slug,
            orm.LearningPath.title,
            orm.LearningPath.public,
            items.label("items"),
            enrolled.label("enrolled"),
        )
        .where(orm.LearningPath.course_id == course.id)
        .order_by(orm.LearningPath.position, orm.LearningPath.id)
    ).all()
    if not paths:
        return []
    # per path and follower: how many of its workable items they solved (followers who
    # solved none have no row, and are not finished anyway)
    solved = db.execute(
        select(orm.PathEnrolment.path_id, func.count())
        .join(item, item.path_id == orm.PathEnrolment.path_id)
        .join(question, question.id == item.question_id)
        .join(
            orm.BestScore,
            and_(
                orm.BestScore.question_id == item.question_id,
                orm.BestScore.user_id == orm.PathEnrolment.user_id,
                orm.BestScore.solved.is_(True),
            ),
        )
        .where(orm.PathEnrolment.path_id.in_([p.id for p in paths]), workable)
        .group_by(orm.PathEnrolment.path_id, orm.PathEnrolment.user_id)
    ).all()
    size = {p.id: p.items for p in paths}
    completed: dict[int, int] = {}
    for path_id, count in solved:
        if count >= size[path_id] > 0:
            completed[path_id] = completed.get(path_id, 0) + 1
    return [
        {
            "id": p.id,
            "slug": p.slug,
            "title": p.title,
            "public": p.public,
            "questions": p.items,
            "enrolled": p.enrolled,
            "completed": completed.get(p.id, 0),
        }
        for p in paths
    ]


# reviews, duels, the daily question ----------------------------------------------------


def review_summary(db, course: orm.Course, now: datetime) -> dict:
    """``{"cards", "learners", "due_now", "reviewed_7_days"}`` over the review cards of
    the course's questions (a learner's card of a question hidden since included: it is
    still theirs). Two statements."""
    card = orm.ReviewCard
    cards, learners, due_now = db.execute(
        select(
            func.count(),
            func.count(func.distinct(card.user_id)),
            func.coalesce(func.sum(case((card.due <= now, 1), else_=0)), 0),
        ).where(card.course_id == course.id)
    ).one()
    in_course = (
        select(orm.Question.id)
        .join(orm.Module, orm.Module.id == orm.Question.module_id)
        .where(orm.Module.course_id == course.id)
    )
    reviewed = db.scalar(
        select(func.count())
        .select_from(orm.ReviewLog)
        .where(
            orm.ReviewLog.question_id.in_(in_course),
            orm.ReviewLog.reviewed >= now - timedelta(days=7),
        )
    )
    return {
        "cards": cards,
        "learners": learners,
        "due_now": int(due_now),
        "reviewed_7_days": reviewed or 0,
    }


def duel_summary(db, course: orm.Course) -> dict:
    """``{"finished", "active", "open", "draws", "ratings": [the top TOP_RATINGS of
    the ratings board, names shown]}``. Three statements. ``active`` counts duels as
    stored: one whose time is up is settled by the service's periodic task."""
    by_status = {
        status: (count, draws)
        for status, count, draws in db.execute(
            select(
                orm.Duel.status,
                func.count(),
                func.coalesce(func.sum(case((orm.Duel.result == "draw", 1), else_=0)), 0),
            )
            .where(orm.Duel.course_id == course.id)
            .group_by(orm.Duel.status)
        ).all()
    }
    # instructors see who is who: anonymous learners are named here (reveal)
    ratings, _ = duel_rules.ratings_board(
        db, course, viewer_id=None, reveal=True, limit=TOP_RATINGS
    )
    return {
        "finished": by_status.get("finished", (0, 0))[0],
        "active": by_status.get("active", (0, 0))[0],
        "open": by_status.get("open", (0, 0))[0],
        "draws": int(by_status.get("finished", (0, 0))[1]),
        "ratings": ratings,
    }


def daily_summary(db, course: orm.Course, now: datetime) -> dict:
    """Today's (UTC day's) daily question and ``solved_today``: learners whose daily
    streak counted this day (the day's question, solved on that day where they live;
    a day's question is the same in every zone)."""
    day: date = now.date()
    question_id = daily_questions.daily_question_id(db, course, day, now)
    question = None
    solved = 0
    if question_id is not None:
        row = db.execute(
            select(orm.Question.id, orm.Question.slug, orm.Question.title, orm.Module.slug)
            .join(orm.Module, orm.Module.id == orm.Question.module_id)
            .where(orm.Question.id == question_id)
        ).one()
        question = {"id": row[0], "slug": row[1], "title": row[2], "module_slug": row[3]}
        solved = (
            db.scalar(
                select(func.count())
                .select_from(orm.LearnerStats)
                .where(
                    orm.LearnerStats.course_id == course.id,
                    orm.LearnerStats.daily_last == day,
                )
            )
            or 0
        )
    return {"day": day, "question": question, "solved_today": solved}


def practice_overview(db, course: orm.Course, now: datetime | None = None) -> dict:
    """Everything the Practice page shows: ``{"quizzes", "paths", "reviews", "duels",
    "daily"}`` (see each part's function)."""
    now = now or orm.utcnow()
    return {
        "quizzes": quiz_summaries(db, course, now),
        "paths": path_summaries(db, course, now),
        "reviews": review_summary(db, course, now),
        "duels": duel_summary(db, course),
        "daily": daily_summary(db, course, now),
    }
