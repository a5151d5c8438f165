"""Hostile and malformed input to the practice endpoints: never a 500, never a row.

Ids past any integer the database holds, ids that are not numbers, bodies of the wrong
shape: each is a 4xx naming the problem, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from sqlalchemy import func, select

from grader import orm
from tests.conftest import LEARN

HUGE = 2**70

PATHS = [
    ("GET", f"reviews/{HUGE}", None),
    ("POST", f"reviews/{HUGE}", {"rating": 3}),
    ("POST", f"reviews/{HUGE}/start", None),
    ("GET", f"paths/{HUGE}", None),
    ("PUT", f"paths/{HUGE}", {"title": "x"}),
    ("POST", f"paths/{HUGE}/enrol", None),
    ("GET", f"quizzes/{HUGE}", None),
    ("POST", f"quizzes/{HUGE}/start", None),
    ("GET", f"duels/{HUGE}", None),
    ("POST", f"duels/{HUGE}/accept", None),
    ("GET", f"questions/{HUGE}", None),
    ("GET", f"submissions/{HUGE}", None),
    ("GET", f"questions/{HUGE}/hints", None),
    ("GET", f"modules/{HUGE}", None),
    ("GET", f"questions?module={HUGE}", None),
    ("GET", f"paths?course={HUGE}", None),
    ("GET", "reviews/not-a-number", None),
    ("GET", "paths/-1", None),
    ("GET", "quizzes/1e9", None),
    ("GET", f"questions?type={'x' * 300}", None),
]

BODIES = [
    ("paths", {"title": "Mine", "questions": [HUGE]}),
    ("paths", {"title": "Mine", "questions": [1.5]}),
    ("paths", {"title": "Mine", "questions": "1,2"}),
    ("paths", {"title": ["no"], "questions": [1]}),
    ("paths", []),
    ("duels", {"course": "demo", "opponent": {"name": "bob"}}),
    ("duels", {"course": "demo", "bot": True, "time_limit": HUGE}),
    ("duels", {"course": "demo", "bot": "yes"}),
    ("quizzes", {"course": "demo", "slug": "q", "title": "Q", "draws": [{"count": HUGE}]}),
    ("quizzes", {"course": "demo", "slug": "q", "title": "Q", "draws": "all"}),
]


async def test_odd_ids_are_refused_never_a_server_error(grader, course):
    ann = grader.client_for("ann", (LEARN,))
    for method, path, body in PATHS:
        code, data = await ann.request(method, path, body)
        assert 400 <= code < 500, (path, code, data)
        if isinstance(data, dict):  # (a path no route matches is tornado's own 404 page)
            assert data["message"], data


async def test_malformed_bodies_are_refused_and_write_nothing(grader, course):
    author = course["author"]  # an instructor: quizzes may be made
    for path, body in BODIES:
        code, data = await author.request("POST", path, body)
        assert 400 <= code < 500, (path, body, code, data)
    with grader.session_factory() as db:
        for model in (orm.LearningPath, orm.Duel, orm.Quiz):
            assert db.scalar(select(func.count()).select_from(model)) == 0, model
