"""Quizzes: questions drawn per learner by filters, timed attempts, scores read from
the learner's submissions in the attempt's window.

A pool of questions is stored directly (their authoring is tested elsewhere); the
quizzes are made, started and scored through the API. Submissions are stored as made
at chosen times (a quiz's score reads `Submission.created`, never the clock), and once
graded in the real sandbox.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import nbformat
import pytest
from sqlalchemy import func, select

from grader import orm
from grader.learners import quizzes
from tests.conftest import AUTHOR, LEARN, answer, fake_hub_course

CORRECT = "def square(x):\n    return x * x"

# the pool: 12 in "basics" (4 hard), 8 in "loops" (tagged "loops"; 2 of them choice)
POOL = [("basics", f"b{i}", "hard" if i < 4 else "easy", [], "notebook") for i in range(12)] + [
    ("loops", f"l{i}", "medium", ["loops"], "choice" if i < 2 else "notebook") for i in range(8)
]


def make_pool(grader, course="demo", pool=POOL) -> dict[str, int]:
    """The questions of ``pool``, released, 2 points each, plus a flashcard and a draft
    (never drawn): {slug: id}."""
    ids = {}
    with grader.session_factory() as db:
        course_row = orm.Course.find_by_slug(db, course)
        modules = {}
        released = orm.utcnow() - timedelta(days=1)
        rows = [
            *pool,
            ("basics", "card", "easy", [], "flashcard"),
            ("basics", "draft", "", [], "notebook"),
        ]
        for module_slug, slug, difficulty, tags, qtype in rows:
            if module_slug not in modules:
                module = orm.Module.find_by_slug(db, module_slug, course_row.id)
                if module is None:
                    module = orm.Module(
                        course_id=course_row.id, slug=module_slug, title=module_slug
                    )
                    db.add(module)
                    db.flush()
                modules[module_slug] = module
            question = orm.Question(
                module_id=modules[module_slug].id,
                slug=slug,
                title=slug.upper(),
                difficulty=difficulty,
                tags=tags,
                type=qtype,
                max_score=0.0 if qtype == "flashcard" else 2.0,
                source_notebook={},
                student_notebook={},
                released=None if slug == "draft" else released,
            )
            db.add(question)
            db.flush()
            ids[slug] = question.id
        db.commit()
    return ids


def details(grader) -> dict[int, tuple]:
    with grader.session_factory() as db:
        rows = db.execute(
            select(
                orm.Question.id, orm.Module.slug, orm.Question.difficulty, orm.Question.tags
            ).join(orm.Module)
        ).all()
    return {qid: (module, difficulty, tags) for qid, module, difficulty, tags in rows}


DRAWS = [
    {"count": 2, "module": "basics", "difficulty": "hard"},
    {"count": 3, "module": "basics"},
    {"count": 2, "tag": "loops"},
    {"count": 1, "type": "choice"},
]


@pytest.fixture
async def teacher(grader):
    return grader.client_for("teacher", (LEARN, AUTHOR))


async def create(teacher, **fields) -> dict:
    body = {"course": "demo", "slug": "q1", "title": "Quiz one", "draws": DRAWS, **fields}
    code, quiz = await teacher.post("quizzes", body)
    assert code == 201, quiz
    return quiz


def drawn_ids(quiz) -> list[int]:
    return [q["id"] for q in quiz["attempt"]["questions"]]


def store_submission(grader, name, qid, created, score, status="graded"):
    with grader.session_factory() as db:
        user = orm.User.find_or_create(db, name)
        db.add(
            orm.Submission(
                user_id=user.id,
                question_id=qid,
                question_version=1,
                notebook={},
                status=status,
                score=score,
                max_score=2.0,
                created=created,
                finished=created,
            )
        )
        db.commit()


def move_attempt(grader, quiz_id, name, by: timedelta):
    """The attempt as if started ``by`` earlier (deadline too)."""
    with grader.session_factory() as db:
        user = orm.User.find(db, name)
        attempt = db.scalar(
            select(orm.QuizAttempt).where(
                orm.QuizAttempt.quiz_id == quiz_id, orm.QuizAttempt.user_id == user.id
            )
        )
        attempt.started -= by
        if attempt.deadline:
            attempt.deadline -= by
        db.commit()
        return attempt.started, attempt.deadline


# drawing ---------------------------------------------------------------------------------


async def test_each_learner_gets_a_fixed_draw_balanced_by_the_filters(grader, teacher):
    make_pool(grader)
    quiz = await create(teacher)
    assert quiz["count"] == 8 and quiz["attempt"] is None
    known = details(grader)
    draws = {}
    for n in range(8):
        learner = grader.client_for(f"learner{n}")
        code, started = await learner.post(f"quizzes/{quiz['id']}/start")
        assert code == 200, started
        ids = drawn_ids(started)
        assert len(ids) == 8 and len(set(ids)) == 8  # no question twice
        # each draw's count from its own filter, in draw order
        hard, basics, loops, choice = ids[:2], ids[2:5], ids[5:7], ids[7:]
        assert all(known[q][:2] == ("basics", "hard") for q in hard)
        assert all(known[q][0] == "basics" for q in basics)
        assert all("loops" in known[q][2] for q in loops)
        with grader.session_factory() as db:
            types = dict(db.execute(select(orm.Question.id, orm.Question.type)).all())
        assert types[choice[0]] == "choice"
        assert all(types[q] not in ("flashcard",) for q in ids)
        # the same learner, again: the same questions
        code, again = await learner.post(f"quizzes/{quiz['id']}/start")
        assert drawn_ids(again) == ids
        code, read = await learner.get(f"quizzes/{quiz['id']}")
        assert drawn_ids(read) == ids
        draws[n] = tuple(ids)
    # different learners, different draws (the pool is big enough for many)
    assert len(set(draws.values())) >= 6
    # the draw is the seed's, whatever process makes it
    with grader.session_factory() as db:
        user = orm.User.find(db, "learner3")
        course = orm.Course.find_by_slug(db, "demo")
        pool = quizzes.candidates(db, course)
        seed = quizzes.draw_seed(quiz["id"], user.id)
    assert tuple(quizzes.draw_questions(quizzes.check_draws(DRAWS), pool, seed)) == draws[3]


async def test_a_quiz_whose_draws_cannot_be_filled_is_refused_naming_the_draw(grader, teacher):
    ids = make_pool(grader)
    cases = [
        # 4 hard questions only
        ([{"count": 5, "difficulty": "hard"}], "draws[0]"),
        # each alone fits, together they need 13 of the 12 basics
        ([{"count": 10, "module": "basics"}, {"count": 3, "difficulty": "hard"}], "draws[1]"),
        # the draft and the flashcard do not count: 12 basics
        ([{"count": 13, "module": "basics"}], "draws[0]"),
        ([{"count": 1, "type": "flashcard"}], "draws[0].type"),
        ([{"count": 1, "module": "nowhere"}], "draws[0].module"),
        ([{"count": 0}], "draws[0].count"),
        ([{"count": 1, "colour": "red"}], "draws[0]"),
        ([], "draws"),
        ("all", "draws"),
        ([{"count": 101}], "at most 100"),
    ]
    for draws, named in cases:
        code, data = await teacher.post(
            "quizzes", {"course": "demo", "slug": "bad", "title": "Bad", "draws": draws}
        )
        assert code == 400 and named in data["message"], (draws, data)
    with grader.session_factory() as db:
        assert db.scalar(select(func.count()).select_from(orm.Quiz)) == 0
    # overlapping filters that can be filled are: the matching moves earlier draws
    quiz = await create(
        teacher, draws=[{"count": 8, "module": "basics"}, {"count": 4, "difficulty": "hard"}]
    )
    ann = grader.client_for("ann")
    code, started = await ann.post(f"quizzes/{quiz['id']}/start")
    ids_drawn = drawn_ids(started)
    assert len(set(ids_drawn)) == 12
    hard = {ids[f"b{i}"] for i in range(4)}
    assert set(ids_drawn[8:]) == hard
    for field, value, named in (
        ("time_limit", 0, "time_limit"),
        ("time_limit", "1h", "time_limit"),
        ("released", "soon", "released"),
        ("slug", "Not A Slug", "slug"),
        ("title", "", "title"),
    ):
        code, data = await teacher.post(
            "quizzes", {"course": "demo", "slug": "x", "title": "X", "draws": DRAWS, field: value}
        )
        assert code == 400 and named in data["message"], (field, data)
    code, data = await teacher.post(
        "quizzes", {"course": "demo", "slug": "q1", "title": "Again", "draws": DRAWS}
    )
    assert code == 409, data


async def test_two_starts_at_once_make_one_attempt(grader, teacher, monkeypatch):
    make_pool(grader)
    quiz = await create(teacher, time_limit=600)
    ann = grader.client_for("ann")
    results = await asyncio.gather(*(ann.post(f"quizzes/{quiz['id']}/start") for _ in range(6)))
    assert all(code == 200 for code, _ in results), results
    attempts = {(tuple(drawn_ids(q)), q["attempt"]["started"]) for _, q in results}
    assert len(attempts) == 1
    with grader.session_factory() as db:
        assert db.scalar(select(func.count()).select_from(orm.QuizAttempt)) == 1
    # the unique (quiz, user) itself: a second insert for the same learner does nothing
    with grader.writer_factory() as db:
        user = orm.User.find(db, "ann")
        course = orm.Course.find_by_slug(db, "demo")
        row = db.get(orm.Quiz, quiz["id"])
        first = quizzes.attempt_of(db, row, user)
        db.expunge(first)
        calls = []
        original = quizzes.attempt_of

        def stale_first_read(db, q, u):
            # the first read misses the attempt another request is inserting
            calls.append(1)
            return None if len(calls) == 1 else original(db, q, u)

        monkeypatch.setattr(quizzes, "attempt_of", stale_first_read)
        again = quizzes.start(db, row, course, user)
        assert again.id == first.id and again.started == first.started


# time and score ------------------------------------------------------------------------------


async def test_submissions_count_from_the_start_to_the_deadline_only(grader, teacher):
    make_pool(grader)
    quiz = await create(teacher, time_limit=600, draws=[{"count": 3, "module": "basics"}])
    ann = grader.client_for("ann")
    code, started = await ann.post(f"quizzes/{quiz['id']}/start")
    assert started["attempt"]["remaining"] in (599, 600)
    assert started["attempt"]["max_score"] == 6 and started["attempt"]["score"] == 0
    first, second, third = drawn_ids(started)
    # as if started an hour ago: the deadline passed 50 minutes ago
    began, deadline = move_attempt(grader, quiz["id"], "ann", timedelta(hours=1))
    store_submission(grader, "ann", first, began - timedelta(minutes=5), 2.0)  # before: no
    store_submission(grader, "ann", first, began + timedelta(minutes=1), 1.0)  # counts
    store_submission(grader, "ann", second, began + timedelta(minutes=2), 2.0)  # counts
    store_submission(grader, "ann", second, began + timedelta(minutes=3), 0.5)  # best stays 2
    store_submission(grader, "ann", third, deadline + timedelta(seconds=1), 2.0)  # late: no
    store_submission(grader, "ann", third, began + timedelta(minutes=4), 2.0, status="queued")
    # another learner's submissions never count for ann
    store_submission(grader, "bob", third, began + timedelta(minutes=4), 2.0)
    code, read = await ann.get(f"quizzes/{quiz['id']}")
    attempt = read["attempt"]
    assert attempt["remaining"] == 0
    assert attempt["score"] == 3.0 and attempt["max_score"] == 6.0
    assert [q["best_score"] for q in attempt["questions"]] == [1.0, 2.0, None]
    assert set(attempt["questions"][0]) >= {
        "id", "title", "module", "type", "difficulty", "points", "best_score"}  # fmt: skip

    code, results = await teacher.get(f"quizzes/{quiz['id']}/results")
    assert code == 200, results
    assert results["results"] == [
        {"user": "ann", "score": 3.0, "max_score": 6.0, "started": attempt["started"],
         "deadline": attempt["deadline"], "finished": None}
    ]  # fmt: skip


async def test_finishing_ends_the_window(grader, teacher):
    make_pool(grader)
    quiz = await create(teacher, draws=[{"count": 2, "tag": "loops"}])  # untimed
    ann = grader.client_for("ann")
    code, data = await ann.post(f"quizzes/{quiz['id']}/finish")
    assert code == 409, data  # not started
    code, started = await ann.post(f"quizzes/{quiz['id']}/start")
    assert started["attempt"]["remaining"] is None and started["attempt"]["deadline"] is None
    one, two = drawn_ids(started)
    began, _ = move_attempt(grader, quiz["id"], "ann", timedelta(minutes=30))
    store_submission(grader, "ann", one, began + timedelta(minutes=1), 2.0)
    code, finished = await ann.post(f"quizzes/{quiz['id']}/finish")
    assert code == 200 and finished["attempt"]["finished"] is not None
    store_submission(grader, "ann", two, orm.utcnow() + timedelta(seconds=5), 2.0)
    code, again = await ann.post(f"quizzes/{quiz['id']}/finish")
    assert again["attempt"]["finished"] == finished["attempt"]["finished"]
    assert again["attempt"]["score"] == 2.0
    # starting again after finishing returns the same, finished attempt
    code, restart = await ann.post(f"quizzes/{quiz['id']}/start")
    assert restart["attempt"]["finished"] == finished["attempt"]["finished"]


@pytest.mark.sandbox
async def test_a_quiz_scored_from_a_real_grading(grader, course):
    teacher = course["author"]
    quiz = await create(teacher, draws=[{"count": 1, "module": "basics"}], time_limit=3600)
    ann = grader.client_for("ann")
    code, started = await ann.post(f"quizzes/{quiz['id']}/start")
    assert drawn_ids(started) == [course["question"]["id"]]
    qid = course["question"]["id"]
    code, model = await ann.get(f"questions/{qid}")
    nb = answer(nbformat.from_dict(model["notebook"]), CORRECT)
    code, data = await ann.post("submissions", {"question": qid, "notebook": nb})
    assert code == 202, data
    await ann.wait_graded(data["id"])
    code, read = await ann.get(f"quizzes/{quiz['id']}")
    assert read["attempt"]["score"] == 3.0 and read["attempt"]["max_score"] == 3.0
    assert read["attempt"]["remaining"] > 0


# who sees and does what ----------------------------------------------------------------------


async def test_instructors_only_write_and_learners_see_released_quizzes_of_their_courses(
    grader, teacher, fake_hub
):
    make_pool(grader)
    released = await create(teacher)
    draft = await create(teacher, slug="draft", released=False)
    assert draft["released"] is None and "draws" in draft
    ann = grader.client_for("ann")
    code, listing = await ann.get("quizzes?course=demo")
    assert code == 200, listing
    assert [q["slug"] for q in listing["quizzes"]] == ["q1"]
    assert "draws" not in listing["quizzes"][0]
    code, listing = await teacher.get("quizzes?course=demo")
    assert [q["slug"] for q in listing["quizzes"]] == ["q1", "draft"]

    # a learner writes nothing: 403 for what they see, 404 for what they do not
    code, data = await ann.post(
        "quizzes", {"course": "demo", "slug": "mine", "title": "Mine", "draws": DRAWS}
    )
    assert code == 403, data
    for method, body in (("PUT", {"title": "Hacked"}), ("DELETE", None)):
        code, data = await ann.request(method, f"quizzes/{released['id']}", body)
        assert code == 403, data
        code, data = await ann.request(method, f"quizzes/{draft['id']}", body)
        assert code == 404, data
    code, data = await ann.get(f"quizzes/{released['id']}/results")
    assert code == 403, data
    for path in (f"quizzes/{draft['id']}", f"quizzes/{draft['id']}/results"):
        code, data = await ann.get(path)
        assert code == 404, data
    code, data = await ann.post(f"quizzes/{draft['id']}/start")
    assert code == 404, data

    # another course's learner sees nothing of demo's quizzes
    await fake_hub_course(grader, fake_hub, "other")
    dee = grader.client_for("dee", (f"{LEARN}!group=course-other",))
    code, data = await dee.get(f"quizzes/{released['id']}")
    assert code == 404, data
    code, data = await dee.post(f"quizzes/{released['id']}/start")
    assert code == 404, data
    code, data = await dee.get("quizzes")
    assert data["quizzes"] == []

    # the instructor edits and releases, then deletes
    code, edited = await teacher.request(
        "PUT", f"quizzes/{draft['id']}", {"title": "Now out", "released": True, "time_limit": 60}
    )
    assert code == 200, edited
    assert edited["title"] == "Now out" and edited["released"] and edited["time_limit"] == 60
    code, data = await teacher.request("PUT", f"quizzes/{draft['id']}", {"draws": [{"count": 50}]})
    assert code == 400 and "draws[0]" in data["message"], data
    code, listing = await ann.get("quizzes")
    assert [q["slug"] for q in listing["quizzes"]] == ["q1", "draft"]
    await ann.post(f"quizzes/{released['id']}/start")
    code, _ = await teacher.request("DELETE", f"quizzes/{released['id']}")
    assert code == 204
    code, data = await ann.get(f"quizzes/{released['id']}")
    assert code == 404, data
    with grader.session_factory() as db:
        assert db.scalar(select(func.count()).select_from(orm.QuizAttempt)) == 0


# the loader's helper ---------------------------------------------------------------------------


async def test_save_quiz_names_modules_by_slug_and_updates_by_slug(grader):
    make_pool(grader)
    spec = {
        "slug": "warm-up",
        "title": "Warm-up",
        "description": "Three questions.",
        "draws": [{"count": 2, "module": "basics"}, {"count": 1, "module": "loops"}],
        "time_limit": 900,
    }
    with grader.session_factory() as db:
        course = orm.Course.find_by_slug(db, "demo")
        quiz = quizzes.save_quiz(db, course, spec)
        db.commit()
        again = quizzes.save_quiz(db, course, {**spec, "title": "Warm-up!"})
        db.commit()
        assert again.id == quiz.id and again.title == "Warm-up!"
        assert quiz.released is not None and quiz.time_limit == 900
        for bad, named in (
            ({**spec, "draws": [{"count": 1, "module": "nope"}]}, "nope"),
            ({**spec, "slug": None}, "slug"),
            ({**spec, "draws": [{"count": 30, "module": "loops"}]}, "draws[0]"),
            ("not a quiz", "object"),
        ):
            with pytest.raises(ValueError, match=named.replace("[", r"\[")):
                quizzes.save_quiz(db, course, bad)
            db.rollback()
        assert db.scalar(select(func.count()).select_from(orm.Quiz)) == 1


def test_assignment_finds_a_matching_when_greedy_would_not():
    # slot 0 may take 1 or 2, slot 1 only 1: greedy gives 1 to slot 0 and fails
    assert quizzes.assign([[1, 2], [1]]) == [2, 1]
    assert quizzes.assign([[1], [1]]) is None
    assert quizzes.assign([]) == []
