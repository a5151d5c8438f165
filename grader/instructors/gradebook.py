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


def learners_page(db, question_ids: list[int], after: str | None, limit: int) -> list[dict]:
    """Up to ``limit`` learners with a best score, by name after ``after``: their scores
    on ``question_ids`` (None where they have none) and the total of those."""
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
    wanted = set(question_ids)
    by_user: dict[int, dict[int, float]] = {user_id: {} for user_id, _ in users}
    best = db.execute(
        select(orm.BestScore.user_id, orm.BestScore.question_id, orm.BestScore.score).where(
            orm.BestScore.user_id.in_(list(by_user))
        )
    )
    for user_id, question_id, score in best:
        if question_id in wanted:
            by_user[user_id][question_id] = score
    return [
        {
            "user": name,
            "scores": {str(q): by_user[user_id].get(q) for q in question_ids},
            "total": sum(by_user[user_id].values()),
        }
        for user_id, name in users
    ]


def csv_header(cols: list[dict]) -> str:
    return _csv_line(["user", *[c["slug"] for c in cols], "total"])


def csv_rows(cols: list[dict], learners: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in learners:
        scores = row["scores"]
        writer.writerow([row["user"], *[_blank(scores[str(c["id"])]) for c in cols], row["total"]])
    return out.getvalue()


def _csv_line(values) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(values)
    return out.getvalue()


def _blank(value):
    return "" if value is None else value
