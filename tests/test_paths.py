"""Learning paths through the service: who sees which path and which of its items,
who may make and change them, progress from best scores, following them; the loaders'
`save_path` and the sample course's paths.json.

Best scores are made by the queue's graded step on stored submissions (no sandbox: the
step only reads the result; grading itself is tested elsewhere)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from grader import orm
from grader.learners import paths
from tests.conftest import AUTHOR, LEARN, fake_hub_course, square_question

REPO = Path(__file__).resolve().parent.parent
FOUNDATIONS = REPO / "course_content" / "python-foundations"


def learner_of(*courses):
    return tuple(f"{LEARN}!group=course-{c}" for c in courses)


def instructor_of(*courses):
    return learner_of(*courses) + tuple(f"{AUTHOR}!group=course-{c}" for c in courses)


async def add_question(author, course, module, slug, release="now"):
    code, question = await author.post(
        "questions",
        {
            "course": course,
            "module": module,
            "slug": slug,
            "title": slug.replace("-", " ").title(),
            "difficulty": "easy",
            "notebook": square_question(),
            "release": release,
        },
    )
    assert code == 201, question
    return question["id"]


@pytest.fixture
async def world(grader, fake_hub):
    """Two courses: demo (basics: q1, q2, q3, qr; loops: q4; a draft qd)
    and other (extra: qo); an instructor of demo (tina), learners of demo (ann), of both
    (bob), of other (olga), and a global instructor (teacher)."""
    await fake_hub_course(grader, fake_hub, "other")
    teacher = grader.client_for("teacher", (LEARN, AUTHOR))
    for course, module in (("demo", "basics"), ("demo", "loops"), ("other", "extra")):
        code, data = await teacher.post(
            "modules", {"course": course, "slug": module, "title": module.title()}
        )
        assert code == 201, data
    ids = {}
    for name, course, module in (
        ("q1", "demo", "basics"),
        ("q2", "demo", "basics"),
        ("q3", "demo", "basics"),
        ("q4", "demo", "loops"),
        ("qr", "demo", "basics"),
        ("qo", "other", "extra"),
    ):
        ids[name] = await add_question(teacher, course, module, name)
    ids["qd"] = await add_question(teacher, "demo", "basics", "qd", release=None)
    return {
        "ids": ids,
        "teacher": teacher,
        "tina": grader.client_for("tina", instructor_of("demo")),
        "ann": grader.client_for("ann", learner_of("demo")),
        "bob": grader.client_for("bob", learner_of("demo", "other")),
        "olga": grader.client_for("olga", learner_of("other")),
    }


def best(grader, name: str, qid: int, score: float, max_score: float = 3.0):
    """A graded submission of ``name`` with this score, through the graded step."""
    with grader.writer_factory() as db:
        user = orm.User.find_or_create(db, name)
        submission = orm.Submission(
            user_id=user.id,
            question_id=qid,
            question_version=1,
            notebook={},
            status="graded",
            score=score,
            max_score=max_score,
            # the score is the tests' points (`settle` adds them up again)
            tests=[
                {
                    "name": "all",
                    "points": score,
                    "max_points": max_score,
                    "passed": score == max_score,
                    "hidden": False,
                }
            ],  # fmt: skip
            created=orm.utcnow() - timedelta(minutes=5),
            finished=orm.utcnow(),
        )
        db.add(submission)
        db.flush()
        grader.queue.submission_graded(db, submission)
        db.commit()


def retire(grader, qid: int):
    with grader.session_factory() as db:
        db.get(orm.Question, qid).retired = True
        db.commit()


def item_ids(model) -> list[int]:
    return [item["id"] for item in model["items"]]


# course paths ---------------------------------------------------------------------------


async def test_a_course_path_shows_each_reader_the_items_they_can_see(grader, world):
    ids, teacher, tina = world["ids"], world["teacher"], world["tina"]
    ann, bob, olga = world["ann"], world["bob"], world["olga"]

    code, start = await tina.post(
        "paths",
        {"course": "demo", "title": "Start here", "questions": [ids["q1"], ids["q2"], ids["q4"]]},
    )
    assert code == 201, start
    assert {k: start[k] for k in ("slug", "course", "owner", "public", "mine", "total")} == {
        "slug": "start-here",
        "course": "demo",
        "owner": "tina",
        "public": True,
        "mine": True,
        "total": 3,
    }
    assert item_ids(start) == [ids["q1"], ids["q2"], ids["q4"]]
    item = start["items"][0]
    assert set(item) == {
        "id", "slug", "title", "module", "module_slug", "course", "type", "difficulty",
        "points", "best_score", "solved",
    }  # fmt: skip
    assert (item["module_slug"], item["course"], item["type"], item["points"]) == (
        "basics", "demo", "notebook", 3.0,
    )  # fmt: skip

    # a path across both courses, with a draft and a retired question in it
    shared = [ids["q3"], ids["qo"], ids["qd"], ids["qr"]]
    code, wide = await teacher.post(
        "paths", {"course": "demo", "title": "Wide", "questions": shared}
    )
    assert code == 201, wide
    retire(grader, ids["qr"])
    # the learner of demo only: q3 (qo's course is not theirs, a draft, a retired one)
    code, seen = await ann.get(f"paths/{wide['id']}")
    assert code == 200, seen
    assert (item_ids(seen), seen["total"], seen["mine"]) == ([ids["q3"]], 1, False)
    # the learner of both sees the other course's question too
    code, seen = await bob.get(f"paths/{wide['id']}")
    assert item_ids(seen) == [ids["q3"], ids["qo"]]
    # an instructor sees the draft of their course, never a retired question
    code, seen = await teacher.get(f"paths/{wide['id']}")
    assert item_ids(seen) == [ids["q3"], ids["qo"], ids["qd"]]
    code, seen = await tina.get(f"paths/{wide['id']}")
    assert item_ids(seen) == [ids["q3"], ids["qd"]]

    # a learner of the other course only sees neither of demo's paths
    code, data = await olga.get(f"paths/{start['id']}")
    assert code == 404, data
    code, data = await olga.get("paths")
    assert code == 200 and data["paths"] == []
    code, data = await olga.get("paths?course=demo")
    assert code in (403, 404), data

    code, listed = await ann.get("paths?course=demo")
    assert code == 200, listed
    assert [p["title"] for p in listed["paths"]] == ["Start here", "Wide"]
    assert "items" not in listed["paths"][0]
    code, listed = await bob.get("paths?course=other")
    assert listed["paths"] == []  # demo's paths are demo's, though one holds qo


async def test_progress_and_next_come_from_best_scores(grader, world):
    ids, tina, ann = world["ids"], world["tina"], world["ann"]
    code, path = await tina.post(
        "paths",
        {"course": "demo", "title": "Loops", "questions": [ids["q1"], ids["q2"], ids["q4"]]},
    )
    assert code == 201
    code, mine = await ann.get(f"paths/{path['id']}")
    assert (mine["solved"], mine["percent"], mine["next"]["id"]) == (0, 0, ids["q1"])
    assert set(mine["next"]) == {"id", "title", "module", "module_slug", "type"}

    best(grader, "ann", ids["q1"], 3.0)
    best(grader, "ann", ids["q2"], 1.0)  # tried, not solved
    code, mine = await ann.get(f"paths/{path['id']}")
    assert (mine["total"], mine["solved"], mine["percent"]) == (3, 1, 33)
    assert mine["next"]["id"] == ids["q2"]
    assert [(i["best_score"], i["solved"]) for i in mine["items"]] == [
        (3.0, True), (1.0, False), (None, False),
    ]  # fmt: skip
    # the others' progress is their own
    code, theirs = await world["bob"].get(f"paths/{path['id']}")
    assert (theirs["solved"], theirs["next"]["id"]) == (0, ids["q1"])

    # a retired question leaves the count
    code, _ = await world["teacher"].request("DELETE", f"questions/{ids['q2']}")
    assert code == 204
    code, mine = await ann.get(f"paths/{path['id']}")
    assert (mine["total"], mine["solved"], mine["percent"], mine["next"]["id"]) == (
        2, 1, 50, ids["q4"],
    )  # fmt: skip
    best(grader, "ann", ids["q4"], 3.0)
    code, listed = await ann.get("paths?course=demo")
    (mine,) = listed["paths"]
    assert (mine["percent"], mine["next"]) == (100, None)


async def test_only_instructors_publish_and_only_with_questions_they_teach(grader, world):
    ids, tina, ann = world["ids"], world["tina"], world["ann"]
    body = {"course": "demo", "title": "Mine", "questions": [ids["q1"]]}
    code, data = await ann.post("paths", body)
    assert code == 403 and "instructors of demo" in data["message"], data
    code, data = await ann.post("paths", {"title": "Mine", "public": True, "questions": [1]})
    assert code == 400 and "public" in data["message"], data
    # an instructor of demo adds no question of a course they do not teach
    code, data = await tina.post("paths", {**body, "questions": [ids["q1"], ids["qo"]]})
    assert code in (400, 403) and str(ids["qo"]) in data["message"], data
    # ...nor of a course they only learn in
    bob_teacher = grader.client_for("bt", instructor_of("demo") + learner_of("other"))
    code, data = await bob_teacher.post("paths", {**body, "questions": [ids["qo"]]})
    assert code == 403 and str(ids["qo"]) in data["message"], data
    assert "do not teach" in data["message"]
    # nor publish in a course they do not teach
    code, data = await tina.post("paths", {**body, "course": "other"})
    assert code in (403, 404), data
    with grader.session_factory() as db:
        assert db.scalar(select(func.count()).select_from(orm.LearningPath)) == 0

    code, path = await tina.post("paths", body)
    assert code == 201, path
    code, data = await tina.post("paths", {**body, "slug": path["slug"]})
    assert code == 409, data
    code, again = await tina.post("paths", body)  # a title again: another slug
    assert code == 201 and again["slug"] == "mine-2", again

    # a learner may not change or delete it; a learner's PUT never publishes anything
    code, data = await ann.request("PUT", f"paths/{path['id']}", {"title": "Hacked"})
    assert code == 403, data
    code, data = await ann.request("DELETE", f"paths/{path['id']}")
    assert code == 403, data
    # its instructor may; the course and visibility stay what they were made
    code, data = await tina.request("PUT", f"paths/{path['id']}", {"public": False})
    assert code == 400 and "public" in data["message"], data
    code, data = await tina.request("PUT", f"paths/{path['id']}", {"questions": [ids["qo"]]})
    assert code in (400, 403) and str(ids["qo"]) in data["message"], data
    code, changed = await tina.request(
        "PUT",
        f"paths/{path['id']}",
        {"title": "Renamed", "description": "Step by step", "questions": [ids["q4"], ids["q1"]]},
    )
    assert code == 200, changed
    assert (changed["title"], changed["description"], item_ids(changed)) == (
        "Renamed", "Step by step", [ids["q4"], ids["q1"]],
    )  # fmt: skip
    code, _ = await tina.request("DELETE", f"paths/{again['id']}")
    assert code == 204
    code, _ = await ann.get(f"paths/{again['id']}")
    assert code == 404


async def test_an_editor_reorders_what_they_see_and_keeps_what_they_cannot(grader, world):
    ids, teacher, tina, bob = world["ids"], world["teacher"], world["tina"], world["bob"]
    code, path = await teacher.post(
        "paths",
        {"course": "demo", "title": "Both", "questions": [ids["q1"], ids["qo"], ids["q2"]]},
    )
    assert code == 201
    # tina teaches demo, where the path is: she reorders demo's part; qo is not hers to drop
    code, changed = await tina.request(
        "PUT", f"paths/{path['id']}", {"questions": [ids["q2"], ids["q1"]]}
    )
    assert code == 200, changed
    assert item_ids(changed) == [ids["q2"], ids["q1"]]
    code, seen = await bob.get(f"paths/{path['id']}")
    assert item_ids(seen) == [ids["q2"], ids["q1"], ids["qo"]]


# learners' own paths ----------------------------------------------------------------------


async def test_a_learners_own_path_is_private_and_holds_only_what_they_see(grader, world):
    ids, ann, bob, tina = world["ids"], world["ann"], world["bob"], world["tina"]
    retire(grader, ids["qr"])
    for bad, what in (
        ([ids["qo"]], str(ids["qo"])),  # a course ann is not in
        ([ids["qd"]], str(ids["qd"])),  # a draft
        ([ids["qr"]], str(ids["qr"])),  # retired
        ([999_999], "999999"),
        ([ids["q1"], ids["q1"]], "twice"),
        ([], "questions"),
        (["basics/q1"], "questions"),
    ):
        code, data = await ann.post("paths", {"title": "Mine", "questions": bad})
        assert code == 400 and what in data["message"], (bad, data)

    code, mine = await ann.post("paths", {"title": "Revision", "questions": [ids["q4"], ids["q1"]]})
    assert code == 201, mine
    assert (mine["public"], mine["course"], mine["owner"], mine["mine"]) == (
        False, None, "ann", True,
    )  # fmt: skip
    assert item_ids(mine) == [ids["q4"], ids["q1"]]

    # nobody else sees it: not another learner, not an instructor of its questions' course
    for other in (bob, tina, world["teacher"]):
        for method, suffix, body in (
            ("GET", "", None),
            ("PUT", "", {"title": "Mine now"}),
            ("DELETE", "", None),
            ("POST", "/enrol", {}),
            ("DELETE", "/enrol", None),
        ):
            code, data = await other.request(method, f"paths/{mine['id']}{suffix}", body)
            assert code == 404, (method, suffix, data)
        code, listed = await other.get("paths")
        assert mine["id"] not in [p["id"] for p in listed["paths"]]

    code, listed = await ann.get("paths?course=demo")
    assert [p["title"] for p in listed["paths"]] == ["Revision"]
    code, data = await ann.request("PUT", f"paths/{mine['id']}", {"public": True})
    assert code == 400, data
    code, changed = await ann.request("PUT", f"paths/{mine['id']}", {"questions": [ids["q1"]]})
    assert code == 200 and item_ids(changed) == [ids["q1"]], changed
    code, _ = await ann.request("DELETE", f"paths/{mine['id']}")
    assert code == 204
    code, _ = await ann.get(f"paths/{mine['id']}")
    assert code == 404
    with grader.session_factory() as db:
        assert db.scalar(select(func.count()).select_from(orm.PathItem)) == 0


async def test_a_learner_cannot_make_paths_without_end(grader, world, monkeypatch):
    ann, q1 = world["ann"], world["ids"]["q1"]
    monkeypatch.setattr(paths, "MAX_OWN_PATHS", 2)
    for n in range(2):
        code, _ = await ann.post("paths", {"title": f"P{n}", "questions": [q1]})
        assert code == 201
    code, data = await ann.post("paths", {"title": "One more", "questions": [q1]})
    assert code == 409, data
    code, data = await ann.post("paths", {"title": "x" * 300, "questions": [q1]})
    assert code == 400 and "title" in data["message"]


async def test_following_a_path_is_idempotent(grader, world):
    ids, tina, ann = world["ids"], world["tina"], world["ann"]
    code, path = await tina.post(
        "paths", {"course": "demo", "title": "Follow me", "questions": [ids["q1"]]}
    )
    assert path["enrolled"] is False
    for _ in range(2):
        code, followed = await ann.post(f"paths/{path['id']}/enrol", {})
        assert code == 200 and followed["enrolled"] is True, followed
    with grader.session_factory() as db:
        assert db.scalar(select(func.count()).select_from(orm.PathEnrolment)) == 1
    code, seen = await world["bob"].get(f"paths/{path['id']}")
    assert seen["enrolled"] is False  # following is each learner's own
    for _ in range(2):
        code, _ = await ann.request("DELETE", f"paths/{path['id']}/enrol")
        assert code == 204
    code, seen = await ann.get(f"paths/{path['id']}")
    assert seen["enrolled"] is False
    code, data = await world["olga"].post(f"paths/{path['id']}/enrol", {})
    assert code == 404, data


async def test_reading_paths_is_a_few_statements_whatever_their_size(grader, world):
    """Not a timing: the statements `GET paths` sends, counted, with one short path and
    then with many long ones: the same number (no query per path or per item)."""
    ids, teacher, ann = world["ids"], world["teacher"], world["ann"]
    more = [await add_question(teacher, "demo", "loops", f"extra-{n}") for n in range(12)]
    code, _ = await teacher.post(
        "paths", {"course": "demo", "title": "A", "questions": [ids["q1"]]}
    )
    assert code == 201
    best(grader, "ann", ids["q1"], 3.0)

    async def statements_of(path):
        await ann.get(path)  # enrolments synced, caches warm
        sent = []

        def count(conn, cursor, statement, *args):
            sent.append(statement)

        event.listen(grader.engine, "before_cursor_execute", count)
        try:
            code, data = await ann.get(path)
        finally:
            event.remove(grader.engine, "before_cursor_execute", count)
        assert code == 200, data
        return sent

    small = await statements_of("paths?course=demo")
    for n in range(5):
        code, _ = await teacher.post(
            "paths",
            {"course": "demo", "title": f"Long {n}", "questions": [ids["q2"], *more, ids["q1"]]},
        )
        assert code == 201
    code, _ = await ann.post("paths", {"title": "Own", "questions": more})
    for qid in more[:5]:
        best(grader, "ann", qid, 3.0)
    large = await statements_of("paths?course=demo")
    assert len(large) == len(small), large
    # the caller, the course, the paths, their items with best scores, enrolments
    assert len(small) <= 5, small
    code, listed = await ann.get("paths?course=demo")
    assert len(listed["paths"]) == 7 and listed["paths"][1]["total"] == 14
    # one path with its items: as few
    one = await statements_of(f"paths/{listed['paths'][1]['id']}")
    assert len(one) <= 5, one


# loaders -----------------------------------------------------------------------------


async def test_save_path_creates_then_updates_by_slug_and_names_bad_questions(grader, world):
    ids = world["ids"]
    with grader.writer_factory() as db:
        demo = orm.Course.find_by_slug(db, "demo")
        spec = {"slug": "tour", "title": "Tour", "questions": ["basics/q2", "loops/q4"]}
        path = paths.save_path(db, demo, None, spec)
        db.commit()
        assert (path.public, path.course_id, path.owner_id) == (True, demo.id, None)
        assert paths.item_ids(db, path) == [ids["q2"], ids["q4"]]
        again = paths.save_path(db, demo, None, {**spec, "questions": ["loops/q4", ids["q1"]]})
        db.commit()
        assert again.id == path.id and paths.item_ids(db, path) == [ids["q4"], ids["q1"]]
        for bad, message in (
            ({**spec, "questions": ["basics/nope"]}, "basics/nope"),
            ({**spec, "questions": ["extra/qo"]}, "extra/qo"),  # another course's
            ({**spec, "questions": ["basics/q2", "basics/q2"]}, "twice"),
            ({**spec, "questions": []}, "questions"),
            ({"questions": ["basics/q2"]}, "title"),
            ({**spec, "slug": "Not a slug"}, "slug"),
        ):
            with pytest.raises(paths.PathError, match=message):
                paths.save_path(db, demo, None, bad)
        db.rollback()
        assert db.scalar(select(func.count()).select_from(orm.LearningPath)) == 1


def test_the_sample_courses_paths_name_its_questions():
    manifest = json.loads((FOUNDATIONS / "course.json").read_text())
    questions = {f"{m['slug']}/{q}" for m in manifest["modules"] for q in m["questions"]}
    specs = json.loads((FOUNDATIONS / "paths.json").read_text())
    assert len(specs) >= 3
    assert len({s["slug"] for s in specs}) == len(specs)
    for spec in specs:
        assert spec["title"] and spec["description"], spec["slug"]
        assert set(spec["questions"]) <= questions, spec["slug"]
        assert len({q.split("/")[0] for q in spec["questions"]}) >= 2, spec["slug"]


async def test_loading_the_sample_course_makes_its_paths_once(grader):
    from grader.instructors.content import load_course

    with grader.writer_factory() as db:
        counts = load_course(db, FOUNDATIONS)
        assert (counts["paths"], counts["quizzes"]) == (3, 2)
        course = orm.Course.find_by_slug(db, "python-foundations")
        made = db.scalars(
            select(orm.LearningPath)
            .where(orm.LearningPath.course_id == course.id)
            .order_by(orm.LearningPath.position)
        ).all()
        assert [p.slug for p in made] == [
            s["slug"] for s in json.loads((FOUNDATIONS / "paths.json").read_text())
        ]
        assert all(p.public and p.owner_id is None for p in made)
        quiz = db.scalar(select(orm.Quiz).order_by(orm.Quiz.id).limit(1))
        quiz.released = released = quiz.released - timedelta(days=3)
        db.commit()
        load_course(db, FOUNDATIONS)
        assert db.scalar(select(func.count()).select_from(orm.LearningPath)) == 3
        assert db.scalar(select(func.count()).select_from(orm.Quiz)) == 2
        # loading again keeps it
        assert db.get(orm.Quiz, quiz.id, populate_existing=True).released == released
        assert db.scalar(select(func.count()).select_from(orm.PathItem)) == sum(
            len(s["questions"]) for s in json.loads((FOUNDATIONS / "paths.json").read_text())
        )


async def test_a_bad_paths_json_is_a_course_error_naming_it(grader, tmp_path):
    import shutil

    from grader.instructors.content import CourseError, load_course

    folder = tmp_path / "mini"
    (folder / "basics").mkdir(parents=True)
    shutil.copy(FOUNDATIONS / "basics" / "leap-year.ipynb", folder / "basics")
    manifest = {
        "slug": "mini",
        "modules": [{"slug": "basics", "title": "B", "questions": ["leap-year"]}],
    }
    (folder / "course.json").write_text(json.dumps(manifest))
    for content, message in (
        ([{"slug": "t", "title": "T", "questions": ["basics/leap-yaer"]}], "basics/leap-yaer"),
        ([{"title": "T", "questions": ["basics/leap-year"]}], "needs a slug"),
        ({"not": "a list"}, "must be a list"),
        ([{"slug": "a", "title": "A", "questions": ["basics/leap-year"]}] * 2, "used twice"),
    ):
        (folder / "paths.json").write_text(json.dumps(content))
        with grader.writer_factory() as db, pytest.raises(CourseError, match=message) as e:
            load_course(db, folder)
        assert "paths.json" in str(e.value)
    with grader.session_factory() as db:
        assert orm.Course.find_by_slug(db, "mini") is None  # nothing half-loaded
