"""Best scores, progress, profiles and leaderboards, computed from `best_scores` rows.

Only `record_best_score` writes; everything else is a query, so the numbers a learner
sees are always consistent with the submissions that produced them.
"""

from __future__ import annotations

from sqlalchemy import and_, func, or_, select

from . import orm


def record_best_score(db, submission: orm.Submission) -> bool:
    """Keep the submission's score if it beats the learner's best; True if it did.

    `reached` only moves when the score improves, so resubmitting the same score
    does not cost a learner their place in a tie.

    One atomic upsert, not read-then-write: replicas finishing two submissions of one
    learner at once (PostgreSQL runs those transactions side by side) would otherwise
    both insert (a unique violation) or both update from the same stale best (a lost
    update). The conditional DO UPDATE waits for the other's row and re-checks it.
    """
    solved = submission.max_score is not None and submission.score >= submission.max_score > 0
    values = {
        "user_id": submission.user_id,
        "question_id": submission.question_id,
        "submission_id": submission.id,
        "score": submission.score,
        "max_score": submission.max_score,
        "solved": solved,
        "reached": submission.finished or orm.utcnow(),
    }
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - coursehub supports SQLite and PostgreSQL
        raise NotImplementedError(f"best scores on {dialect}")
    table = orm.BestScore.__table__
    statement = insert(table).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.user_id, table.c.question_id],
        set_={
            name: statement.excluded[name]
            for name in ("submission_id", "score", "max_score", "solved", "reached")
        },
        where=table.c.score < statement.excluded.score,
    )
    return db.execute(statement).rowcount == 1


def best_scores_for(db, user: orm.User) -> dict[int, orm.BestScore]:
    rows = db.scalars(select(orm.BestScore).where(orm.BestScore.user_id == user.id))
    return {row.question_id: row for row in rows}


def _active_questions():
    return select(orm.Question).where(orm.Question.retired.is_(False))


def progress(db, user: orm.User) -> list[dict]:
    """Per module, in order: score, max_score, solved, total, percent."""
    best = best_scores_for(db, user)
    modules = db.scalars(select(orm.Module).order_by(orm.Module.position, orm.Module.id))
    result = []
    for module in modules:
        questions = [q for q in module.questions if not q.retired]
        max_score = sum(q.max_score for q in questions)
        score = sum(best[q.id].score for q in questions if q.id in best)
        solved = sum(1 for q in questions if q.id in best and best[q.id].solved)
        result.append(
            {
                "module": module.id,
                "module_slug": module.slug,
                "title": module.title,
                "score": score,
                "max_score": max_score,
                "solved": solved,
                "total": len(questions),
                "percent": round(100 * score / max_score, 1) if max_score else 0.0,
            }
        )
    return result


def leaderboard_query(module_id: int | None = None):
    """Rows (user name, score, solved, reached) ranked: score, then who got there first."""
    best = orm.BestScore
    query = (
        select(
            orm.User.name,
            func.sum(best.score).label("score"),
            func.sum(func.cast(best.solved, orm.Integer)).label("solved"),
            func.max(best.reached).label("reached"),
        )
        .join(orm.User, orm.User.id == best.user_id)
        .join(orm.Question, orm.Question.id == best.question_id)
        .where(orm.Question.retired.is_(False))
        .group_by(orm.User.id, orm.User.name)
    )
    if module_id is not None:
        query = query.where(orm.Question.module_id == module_id)
    return query.order_by(
        func.sum(best.score).desc(), func.max(best.reached).asc(), orm.User.name.asc()
    )


def leaderboard(db, module_id: int | None, offset: int, limit: int) -> tuple[list[dict], int]:
    query = leaderboard_query(module_id)
    total = db.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.execute(query.offset(offset).limit(limit)).all()
    entries = [
        {"rank": offset + i + 1, "user": row.name, "score": row.score, "solved": row.solved or 0}
        for i, row in enumerate(rows)
    ]
    return entries, total


def rank_of(db, user: orm.User, module_id: int | None = None) -> int | None:
    """The learner's place on the leaderboard, or None before their first score.

    Counted in the database (who ranks ahead, by the leaderboard's own order) rather than
    by reading the whole leaderboard for one row.
    """
    board = leaderboard_query(module_id).order_by(None).subquery()
    mine = db.execute(
        select(board.c.score, board.c.reached).where(board.c.name == user.name)
    ).first()
    if mine is None:
        return None
    same_score = board.c.score == mine.score
    ahead = or_(
        board.c.score > mine.score,
        and_(same_score, board.c.reached < mine.reached),
        and_(same_score, board.c.reached == mine.reached, board.c.name < user.name),
    )
    return 1 + db.scalar(select(func.count()).select_from(board).where(ahead))


def profile(db, user: orm.User) -> dict:
    """The public profile: totals a learner shows to others."""
    best = best_scores_for(db, user)
    submissions = db.scalar(
        select(func.count()).select_from(orm.Submission).where(orm.Submission.user_id == user.id)
    )
    return {
        "name": user.name,
        "display_name": user.display_name or user.name,
        "bio": user.bio,
        "score": sum(row.score for row in best.values()),
        "solved": sum(1 for row in best.values() if row.solved),
        "attempted": len(best),
        "submissions": submissions,
        "rank": rank_of(db, user),
        "joined": user.created.isoformat() + "Z",
    }
