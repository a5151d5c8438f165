"""Best scores, leaderboard totals, progress, ranks and leaderboards (profiles read
them: :mod:`grader.learners.profiles`).

`record_graded` is the one writer, in the transaction that finishes a graded submission:
the learner's best score, then their totals (the course's and the question's module's),
recomputed from their own best scores so that they always equal a full recomputation.
`rebuild_totals` recomputes every total when questions change (retired, moved, deleted).
`score_counts` keeps, per board, how many learners stand at each total score. Everything
else is a query over indexed rows: a rank adds up the counts of higher scores and counts
the learners tied on its own; a leaderboard page finds its starting score the same way,
then reads a range of the ranking index.
"""

from __future__ import annotations

from sqlalchemy import Row, case, delete, func, select, tuple_

from .. import orm
from ..dbutil import dialect_insert
from .grade_changes import SUBMISSION, GradeChange, grade_changed


def record_graded(db, submission: orm.Submission) -> bool:
    """Record a graded submission's score: best score, then totals. True if it improved.

    The learner's row is locked first (PostgreSQL; SQLite's writers take turns anyway):
    two replicas finishing two submissions of one learner would otherwise each sum the
    learner's best scores without the other's, and the last total written would miss one.
    """
    db.execute(select(orm.User.id).where(orm.User.id == submission.user_id).with_for_update())
    # the learner's row is locked: the best read here is the one the upsert replaces
    old = _best_score(db, submission.user_id, submission.question_id)
    improved = record_best_score(db, submission)
    if improved:
        grade_changed(
            db,
            GradeChange(
                user_id=submission.user_id,
                question_id=submission.question_id,
                old=old,
                new=submission.score,
                max_score=submission.max_score,
                submission_id=submission.id,
                cause=SUBMISSION,
            ),
        )
        module_id, course_id = db.execute(
            select(orm.Module.id, orm.Module.course_id)
            .join(orm.Question, orm.Question.module_id == orm.Module.id)
            .where(orm.Question.id == submission.question_id)
        ).one()
        update_totals(db, submission.user_id, (orm.course_board(course_id), module_id))
    return improved


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
    table = orm.BestScore.__table__
    statement = dialect_insert(db, table).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.user_id, table.c.question_id],
        set_={
            name: statement.excluded[name]
            for name in ("submission_id", "score", "max_score", "solved", "reached")
        },
        where=table.c.score < statement.excluded.score,
    )
    # RETURNING, not rowcount: drivers differ in what rowcount says of an upsert
    return db.execute(statement.returning(table.c.id)).first() is not None


def question_boards(db, question_id: int) -> tuple[int, int]:
    """The boards a question's scores count on: its course's and its module's."""
    module_id, course_id = db.execute(
        select(orm.Module.id, orm.Module.course_id)
        .join(orm.Question, orm.Question.module_id == orm.Module.id)
        .where(orm.Question.id == question_id)
    ).one()
    return orm.course_board(course_id), module_id


def _best_score(db, user_id: int, question_id: int) -> float | None:
    return db.scalar(
        select(orm.BestScore.score).where(
            orm.BestScore.user_id == user_id, orm.BestScore.question_id == question_id
        )
    )


def recompute_best(
    db, user_id: int, question_id: int, *, cause: str, actor: str | None = None
) -> None:
    """The learner's best score on a question found again from their graded
    submissions, then their totals: for when a score went *down* (an instructor
    corrected a hand grade, a regrade), which `record_graded` never does.

    The best is the highest score, reached when the first submission with it finished;
    none left (no graded submission) removes it. The learner's row is locked first, as
    in `record_graded`, so the two never interleave for one learner. A change is
    reported (`grade_changes`) with `cause` and `actor`.
    """
    db.execute(select(orm.User.id).where(orm.User.id == user_id).with_for_update())
    old = _best_score(db, user_id, question_id)
    s = orm.Submission
    best = db.execute(
        select(s.id, s.score, s.max_score, s.finished)
        .where(
            s.user_id == user_id,
            s.question_id == question_id,
            s.status == "graded",
            s.score.is_not(None),
        )
        .order_by(s.score.desc(), s.finished.asc(), s.id.asc())
        .limit(1)
    ).first()
    where = (orm.BestScore.user_id == user_id, orm.BestScore.question_id == question_id)
    if best is None:
        db.execute(delete(orm.BestScore).where(*where))
    else:
        values = {
            "submission_id": best.id,
            "score": best.score,
            "max_score": best.max_score,
            "solved": best.max_score is not None and best.score >= best.max_score > 0,
            "reached": best.finished or orm.utcnow(),
        }
        table = orm.BestScore.__table__
        statement = dialect_insert(db, table).values(
            user_id=user_id, question_id=question_id, **values
        )
        db.execute(
            statement.on_conflict_do_update(
                index_elements=[table.c.user_id, table.c.question_id], set_=values
            )
        )
    new = None if best is None else best.score
    if new != old:
        grade_changed(
            db,
            GradeChange(
                user_id=user_id,
                question_id=question_id,
                old=old,
                new=new,
                max_score=None if best is None else best.max_score,
                submission_id=None if best is None else best.id,
                cause=cause,
                actor=actor,
            ),
        )
    update_totals(db, user_id, question_boards(db, question_id))


def _total_columns():
    best = orm.BestScore
    return (
        func.coalesce(func.sum(best.score), 0.0),
        func.coalesce(func.sum(case((best.solved, 1), else_=0)), 0),
        func.max(best.reached),
    )


def counted_best_scores():
    """Best scores that count: those of questions not retired (with their modules, for
    the course)."""
    return (
        select()
        .select_from(orm.BestScore)
        .join(orm.Question, orm.Question.id == orm.BestScore.question_id)
        .join(orm.Module, orm.Module.id == orm.Question.module_id)
        .where(orm.Question.retired.is_(False))
    )


def update_totals(db, user_id: int, module_ids) -> None:
    """Recompute one learner's totals on the given boards (a course's, `course_board`,
    or a module's) from their best scores, and move them between the boards' score
    counts."""
    moves = []  # (board, score left or None, score taken or None)
    for module_id in module_ids:
        query = counted_best_scores().add_columns(*_total_columns())
        query = query.where(orm.BestScore.user_id == user_id)
        if module_id < 0:
            query = query.where(orm.Module.course_id == -module_id)
        else:
            query = query.where(orm.Question.module_id == module_id)
        score, solved, reached = db.execute(query).one()
        where = (orm.Total.user_id == user_id, orm.Total.module_id == module_id)
        before = db.scalar(select(orm.Total.score).where(*where))
        if reached is None:  # nothing counts on this board (any more)
            db.execute(delete(orm.Total).where(*where))
            moves.append((module_id, before, None))
            continue
        table = orm.Total.__table__
        values = {"score": score, "solved": solved, "reached": reached}
        statement = dialect_insert(db, table).values(user_id=user_id, module_id=module_id, **values)
        db.execute(
            statement.on_conflict_do_update(
                index_elements=[table.c.module_id, table.c.user_id], set_=values
            )
        )
        moves.append((module_id, before, score))
    count_moves(db, moves)


def count_moves(db, moves) -> None:
    """Apply learners' moves between scores to the score counts.

    Each count changes by one atomic upsert (two replicas moving learners in or out of
    one score at once both land), and in one order of (board, score) in every
    transaction, so two of them never wait on each other's counts (no deadlock).
    """
    deltas: dict[tuple[int, float], int] = {}
    for board, left, taken in moves:
        if left == taken:
            continue
        if left is not None:
            deltas[board, left] = deltas.get((board, left), 0) - 1
        if taken is not None:
            deltas[board, taken] = deltas.get((board, taken), 0) + 1
    table = orm.ScoreCount.__table__
    for (board, score), delta in sorted(deltas.items()):
        if delta == 0:
            continue
        statement = dialect_insert(db, table).values(module_id=board, score=score, learners=delta)
        db.execute(
            statement.on_conflict_do_update(
                index_elements=[table.c.module_id, table.c.score],
                set_={"learners": table.c.learners + statement.excluded.learners},
            )
        )


def rebuild_totals(db) -> None:
    """Recompute every total and score count (questions were retired, moved or deleted):
    rare, and one statement per board kind, in the caller's transaction."""
    db.execute(delete(orm.Total))
    db.execute(delete(orm.ScoreCount))
    table = orm.Total.__table__
    columns = ["user_id", "module_id", "score", "solved", "reached"]
    overall = counted_best_scores().add_columns(
        orm.BestScore.user_id, -orm.Module.course_id, *_total_columns()
    )
    per_module = counted_best_scores().add_columns(
        orm.BestScore.user_id, orm.Question.module_id, *_total_columns()
    )
    db.execute(
        table.insert().from_select(
            columns, overall.group_by(orm.BestScore.user_id, orm.Module.course_id)
        )
    )
    db.execute(
        table.insert().from_select(
            columns, per_module.group_by(orm.BestScore.user_id, orm.Question.module_id)
        )
    )
    t = orm.Total
    db.execute(
        orm.ScoreCount.__table__.insert().from_select(
            ["module_id", "score", "learners"],
            select(t.module_id, t.score, func.count()).group_by(t.module_id, t.score),
        )
    )


def best_scores_for(db, user: orm.User) -> dict[int, orm.BestScore]:
    rows = db.scalars(select(orm.BestScore).where(orm.BestScore.user_id == user.id))
    return {row.question_id: row for row in rows}


def progress(db, user: orm.User, course_ids) -> list[dict]:
    """Per module of these courses, in order: score, max_score, solved, total, percent
    (over the questions released to learners)."""
    best = best_scores_for(db, user)
    modules = db.scalars(
        select(orm.Module)
        .join(orm.Course)
        .where(orm.Module.course_id.in_(course_ids))
        .order_by(orm.Course.position, orm.Course.id, orm.Module.position, orm.Module.id)
    ).all()
    questions = db.execute(
        select(orm.Question.id, orm.Question.module_id, orm.Question.max_score).where(
            orm.Question.retired.is_(False),
            orm.Question.released <= orm.utcnow(),
            orm.Question.module_id.in_([m.id for m in modules]),
        )
    ).all()
    by_module: dict[int, list] = {}
    for question in questions:
        by_module.setdefault(question.module_id, []).append(question)
    result = []
    for module in modules:
        mine = by_module.get(module.id, [])
        max_score = sum(q.max_score for q in mine)
        score = sum(best[q.id].score for q in mine if q.id in best)
        solved = sum(1 for q in mine if q.id in best and best[q.id].solved)
        result.append(
            {
                "course": module.course_id,
                "module": module.id,
                "module_slug": module.slug,
                "title": module.title,
                "score": score,
                "max_score": max_score,
                "solved": solved,
                "total": len(mine),
                "percent": round(100 * score / max_score, 1) if max_score else 0.0,
            }
        )
    return result


# the leaderboard's order: score, then who got there first, then who joined first
RANKING = (orm.Total.score.desc(), orm.Total.reached.asc(), orm.Total.user_id.asc())


#: how a learner who chose anonymity appears to other learners on a leaderboard
ANONYMOUS_NAME = "anonymous learner"


def leaderboard(
    db, board: int, offset: int, limit: int, viewer_id: int | None = None, reveal: bool = False
) -> tuple[list[dict], int]:
    """A page of a board (a course's, `course_board`, or a module's id), as the learner
    `viewer_id` sees it: learners who chose anonymity are "anonymous learner" with no
    name, except to themselves (`you`) and when `reveal` (the course's instructors)."""
    size = board_size(db, board)
    # the score the page starts at, and how many learners tied on it come before: an
    # index range then skips only those, never every learner ahead
    page = select(orm.Total.user_id).where(orm.Total.module_id == board)
    if offset:  # the first page, the most read, needs no start
        start = page_start(db, board, offset)
        if start is None:  # past the end
            return [], size
        start_score, tied_before = start
        page = page.where(orm.Total.score <= start_score).offset(tied_before)
    page = page.order_by(*RANKING).limit(limit).subquery()
    # then the names and totals of those few
    u = orm.User
    rows = db.execute(
        select(u.id, u.name, u.display_name, u.anonymous, orm.Total.score, orm.Total.solved)
        .join(page, page.c.user_id == orm.Total.user_id)
        .join(u, u.id == orm.Total.user_id)
        .where(orm.Total.module_id == board)
        .order_by(*RANKING)
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
                "score": row.score,
                "solved": row.solved,
                "anonymous": row.anonymous,
                "you": you,
            }
        )
    return entries, size


def board_size(db, board: int) -> int:
    """How many learners are on a board."""
    counts = orm.ScoreCount
    return db.scalar(
        select(func.coalesce(func.sum(counts.learners), 0)).where(counts.module_id == board)
    )


def page_start(db, board: int, offset: int) -> tuple[float, int] | None:
    """The score of the learner at `offset` (0-based) on a board, and how many learners
    with that score come before them: a running sum over the board's score counts, one
    row per distinct score. None past the board's end."""
    counts = orm.ScoreCount
    running = select(
        counts.score,
        counts.learners,
        func.sum(counts.learners).over(order_by=counts.score.desc()).label("through"),
    ).where(counts.module_id == board, counts.learners > 0)
    running = running.subquery()
    row = db.execute(
        select(running.c.score, running.c.through, running.c.learners)
        .where(running.c.through > offset)
        .order_by(running.c.score.desc())
        .limit(1)
    ).first()
    return None if row is None else (row.score, offset - (row.through - row.learners))


def total_of(db, user: orm.User, board: int) -> orm.Total | None:
    return db.scalar(
        select(orm.Total).where(orm.Total.user_id == user.id, orm.Total.module_id == board)
    )


def rank_of(db, user: orm.User, board: int) -> int | None:
    """The learner's place on a board, or None before their first score there."""
    mine = total_of(db, user, board)
    return None if mine is None else rank_of_total(db, mine)


def rank_of_total(db, mine: orm.Total) -> int:
    """The place of a total on its board: the learners at higher scores, added up from
    the score counts, then those tied on its score who come first (one range of the
    ranking index)."""
    counts = orm.ScoreCount
    higher = db.scalar(
        select(func.coalesce(func.sum(counts.learners), 0)).where(
            counts.module_id == mine.module_id, counts.score > mine.score
        )
    )
    return 1 + higher + tied_ahead(db, mine)


def tied_ahead(db, mine) -> int:
    """How many learners tied on a total's score come before it (reached it earlier, or
    as early and joined first): one range of the ranking index. ``mine`` is a Total, or
    a row with its module_id, score, reached and user_id."""
    t = orm.Total
    return db.scalar(
        select(func.count()).where(
            t.module_id == mine.module_id,
            t.score == mine.score,
            tuple_(t.reached, t.user_id) < tuple_(mine.reached, mine.user_id),
        )
    )


def standings(db, user_id: int, boards) -> dict[int, Row]:
    """A learner's totals on these boards with, for each, how many learners stand at a
    higher score (`higher`) and on the whole board (`learners`): one statement over the
    boards' score counts (one row per distinct score), whatever their number of
    learners. Boards where the learner has no total are left out."""
    t, counts = orm.Total, orm.ScoreCount
    rows = db.execute(
        select(
            t.module_id,
            t.user_id,
            t.score,
            t.solved,
            t.reached,
            func.coalesce(
                func.sum(case((counts.score > t.score, counts.learners), else_=0)), 0
            ).label("higher"),
            func.coalesce(func.sum(counts.learners), 0).label("learners"),
        )
        .join(counts, counts.module_id == t.module_id)
        .where(t.user_id == user_id, t.module_id.in_(list(boards)))
        .group_by(t.module_id, t.user_id, t.score, t.solved, t.reached)
    ).all()
    return {row.module_id: row for row in rows}


#: the "top n%" a learner may be in, smallest first
TOP_BUCKETS = (1, 5, 10, 25, 50)


def percentile_and_top(higher: int, learners: int) -> tuple[float, int | None]:
    """A learner's percentile on a board (100 x place / learners, where the place is
    shared by everyone tied on a score: the learners strictly ahead, plus one) and the
    smallest "top n%" it is within (None past 50%). Alone on a board: 100, no bucket."""
    place = higher + 1
    learners = max(learners, place)  # counts read in another statement may lag
    top = next((b for b in TOP_BUCKETS if 100 * place <= b * learners), None)
    return round(100 * place / learners, 1), top
