"""The gradebook: best scores by learner and question, read a page of learners at a time.

A page is a range of learners by name (keyset: `after` the last name of the previous
page) and their best scores: memory stays the same for 100 or 100,000 learners, and
each page is a short transaction of its own, so an export never holds the database.
"""

from __future__ import annotations

import csv
import io

from sqlalchemy import exists, select

from .. import orm

PAGE_SIZE = 1000


def columns(db) -> list[dict]:
    """The questions that count, in course order: id, "module/question", points."""
    rows = db.execute(
        select(orm.Question.id, orm.Question.slug, orm.Module.slug, orm.Question.max_score)
        .join(orm.Module)
        .where(orm.Question.retired.is_(False))
        .order_by(orm.Module.position, orm.Question.position, orm.Question.id)
    ).all()
    return [
        {"id": question_id, "slug": f"{module}/{slug}", "points": points}
        for question_id, slug, module, points in rows
    ]


def learners_page(db, question_ids: list[int], after: str | None, limit: int) -> list[tuple]:
    """Up to ``limit`` learners with a best score, by name after ``after``: (name, their
    scores on ``question_ids`` in that order (None where they have none), the total of
    those)."""
    query = (
        select(orm.User.id, orm.User.name)
        .where(exists().where(orm.BestScore.user_id == orm.User.id))
        .order_by(orm.User.name)
        .limit(limit)
    )
    if after is not None:
        query = query.where(orm.User.name > after)
    users = db.execute(query).all()
    if not users:
        return []
    column = {question_id: i for i, question_id in enumerate(question_ids)}
    rows = {user_id: [None] * len(question_ids) for user_id, _ in users}
    best = db.execute(
        select(orm.BestScore.user_id, orm.BestScore.question_id, orm.BestScore.score).where(
            orm.BestScore.user_id.in_(list(rows))
        )
    )
    for user_id, question_id, score in best:
        i = column.get(question_id)
        if i is not None:
            rows[user_id][i] = score
    return [
        (name, rows[user_id], sum(s for s in rows[user_id] if s is not None))
        for user_id, name in users
    ]


def as_json(question_ids: list[int], learners: list[tuple]) -> list[dict]:
    keys = [str(q) for q in question_ids]
    return [
        {"user": name, "scores": dict(zip(keys, scores, strict=True)), "total": total}
        for name, scores, total in learners
    ]


def csv_header(cols: list[dict]) -> str:
    return _csv_text([["user", *[c["slug"] for c in cols], "total"]])


def csv_rows(learners: list[tuple]) -> str:
    return _csv_text(
        [name, *["" if s is None else s for s in scores], total] for name, scores, total in learners
    )


def _csv_text(rows) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()
