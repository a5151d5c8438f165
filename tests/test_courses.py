"""Two courses on one grading service: joining them, and that nothing of one course
reaches the learners or the instructors of another.

The real grader runs in-process; the FakeHub (tests/conftest.py) keeps the courses'
groups as the Hub does and grants their filtered scopes, as the Hub's course roles
(hub_config/courses.py) do: a learner ``custom:coursehub:learn!group=course-<slug>``, an
instructor that and ``custom:coursehub:author!group=course-<slug>``. Grading runs in the
bubblewrap sandbox.

The courses: ``a`` is open, ``b`` takes a join code, ``demo`` (the `grader` fixture's)
is by invitation. The people (`world`): prof, an instructor of every course (unfiltered
author scope); ada and bea, instructors of a and b, whom prof enrolled; alice, who joined
a; bob, who joined b with its code; anyone else is in no course at all.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import nbformat
import pytest

from grader import orm
from tests.conftest import AUTHOR, LEARN, Client, answer, square_question

pytestmark = pytest.mark.sandbox

CORRECT = "def square(x):\n    return x * x"  # 3 points
PARTIAL = "def square(x):\n    return x + 2"  # 1 point: square(2) passes, square(-3) fails
WRONG = "def square(x):\n    return 0"  # 0 points, and on the board


@dataclass
class World:
    prof: Client
    ada: Client
    bea: Client
    alice: Client
    bob: Client
    join_code: str  # b's
    modules: dict  # course slug -> its module `basics`
    questions: dict  # course slug -> its question `square`


@pytest.fixture
async def world(grader) -> World:
    prof = grader.client_for("prof", (LEARN, AUTHOR))
    for slug, join in (("a", "open"), ("b", "code")):
        code, model = await prof.post(
            "courses", {"slug": slug, "title": f"Course {slug.upper()}", "join": join}
        )
        assert code == 201, model
    for name, slug in (("ada", "a"), ("bea", "b")):
        code, data = await prof.post(
            f"courses/{slug}/members", {"user": name, "role": "instructor"}
        )
        assert code == 201, data
    ada, bea = grader.client_for("ada", ()), grader.client_for("bea", ())
    modules, questions = {}, {}
    # the same slugs in both courses; each instructor teaches one course, which is
    # what they make things in when they do not name one
    for slug, instructor in (("a", ada), ("b", bea)):
        code, modules[slug] = await instructor.post(
            "modules", {"slug": "basics", "title": f"Basics of {slug}"}
        )
        assert code == 201 and modules[slug]["course"] == slug, modules[slug]
        code, questions[slug] = await instructor.post(
            "questions",
            {
                "module": "basics",
                "slug": "square",
                "title": f"Square in {slug}",
                "category": f"category-{slug}",
                "tags": [f"tag-{slug}"],
                "notebook": square_question(),
            },
        )
        assert code == 201 and questions[slug]["course"] == slug, questions[slug]
    code, b = await bea.get("courses/b")
    assert code == 200 and len(b["join_code"]) == 8, b
    alice, bob = grader.client_for("alice", ()), grader.client_for("bob", ())
    code, data = await alice.post("courses/a/enrol")
    assert code == 200, data
    code, data = await bob.post("courses/b/enrol", {"code": b["join_code"]})
    assert code == 200, data
    return World(prof, ada, bea, alice, bob, b["join_code"], modules, questions)


async def submit(client: Client, question_id: int, source: str) -> dict:
    """The student version of the question, answered with `source`, graded."""
    code, model = await client.get(f"questions/{question_id}")
    assert code == 200, model
    nb = answer(nbformat.from_dict(model["notebook"]), source)
    code, data = await client.post("submissions", {"question": question_id, "notebook": nb})
    assert code == 202, data
    graded = await client.wait_graded(data["id"])
    assert graded["status"] == "graded", graded
    return graded


def slugs(models) -> list[str]:
    return [m["slug"] for m in models]


def board(data) -> list[tuple]:
    return [(e["rank"], e["user"], e["score"]) for e in data["entries"]]


# listing and joining ------------------------------------------------------------------


async def test_outsiders_see_open_and_code_courses_without_codes(grader, world):
    eve = grader.client_for("eve", ())  # reaches the service, in no course
    code, data = await eve.get("courses")
    assert code == 200, data
    assert slugs(data["courses"]) == ["a", "b"]  # not demo: by invitation
    for course in data["courses"]:
        assert (course["enrolled"], course["role"]) == (False, None)
        assert "join_code" not in course and "learners" not in course
    assert world.join_code not in json.dumps(data)
    code, b = await eve.get("courses/b")
    assert code == 200 and b["join"] == "code" and "join_code" not in b
    assert world.join_code not in json.dumps(b)

    # an invitation-only course is the same 404 as one that does not exist, by slug or id
    for ref in ("demo", _course_id(grader, "demo"), "nope"):
        code, data = await eve.get(f"courses/{ref}")
        assert code == 404 and data["message"] == f"no such course: {ref}", data
    code, data = await eve.get("courses/demo/members")
    assert code == 404

    # a learner of b sees b but not its code; its instructor sees the code
    code, data = await world.bob.get("courses/b")
    assert (data["enrolled"], data["role"]) == (True, "learner") and "join_code" not in data
    code, data = await world.bea.get("courses/b")
    assert data["role"] == "instructor" and data["join_code"] == world.join_code
    assert data["learners"] == 1  # bob
    # ...and the instructor of another course does not
    code, data = await world.ada.get("courses")
    by_slug = {c["slug"]: c for c in data["courses"]}
    assert list(by_slug) == ["a", "b"]
    assert by_slug["a"]["role"] == "instructor" and by_slug["a"]["learners"] == 1
    assert by_slug["b"]["role"] is None and "join_code" not in by_slug["b"]
    # an instructor of every course sees every course and code
    code, data = await world.prof.get("courses")
    assert slugs(data["courses"]) == ["demo", "a", "b"]
    assert {c["slug"]: c.get("join_code") for c in data["courses"]}["b"] == world.join_code


async def test_joining_an_open_course_and_leaving_it(grader, world):
    eve = grader.client_for("eve", ())
    qid = world.questions["a"]["id"]
    code, data = await eve.get("modules")
    assert code == 200 and data["modules"] == []
    code, data = await eve.get(f"questions/{qid}")
    assert code == 404

    code, data = await eve.post("courses/a/enrol")
    assert code == 200, data
    assert (data["slug"], data["enrolled"], data["role"]) == ("a", True, "learner")
    code, data = await eve.get("modules")
    assert [(m["course"], m["slug"]) for m in data["modules"]] == [("a", "basics")]
    code, data = await eve.get("questions")
    assert [q["id"] for q in data["questions"]] == [qid]
    code, data = await world.ada.get("courses/a/members")
    assert data["learners"] == ["alice", "eve"]
    # joining again changes nothing
    code, data = await eve.post("courses/a/enrol")
    assert code == 200 and data["role"] == "learner"

    code, data = await eve.request("DELETE", "courses/a/enrol")
    assert code == 204, data
    code, data = await eve.get("modules")
    assert data["modules"] == []
    code, data = await eve.get(f"questions/{qid}")
    assert code == 404
    code, data = await eve.post("submissions", {"question": qid, "notebook": square_question()})
    assert code == 404
    code, data = await eve.get("courses/a")
    assert (data["enrolled"], data["role"]) == (False, None)
    code, data = await world.ada.get("courses/a/members")
    assert data["learners"] == ["alice"]


async def test_a_code_course_takes_its_own_current_code_only(grader, world):
    eve = grader.client_for("eve", ())
    for body in (None, {}, {"code": ""}, {"code": "   "}, {"code": 12345678}):
        code, data = await eve.post("courses/b/enrol", body)
        assert code == 400 and "join code" in data["message"], (body, data)
    code, data = await eve.post("courses/b/enrol", {"code": "WRONGCDE"})
    assert code == 403 and "wrong join code" in data["message"]
    # another course's code is a wrong code
    code, c = await world.prof.post("courses", {"slug": "c", "title": "C", "join": "code"})
    assert code == 201 and c["join_code"] not in (None, world.join_code), c
    code, data = await eve.post("courses/b/enrol", {"code": c["join_code"]})
    assert code == 403
    code, data = await eve.get("modules?course=b")
    assert code == 403

    # typed in lower case, with spaces around: fine
    code, data = await eve.post("courses/b/enrol", {"code": f"  {world.join_code.lower()} \n"})
    assert code == 200 and data["role"] == "learner", data
    code, data = await eve.get("modules?course=b")
    assert code == 200 and slugs(data["modules"]) == ["basics"]

    # a new code: the old one stops working
    code, data = await world.bea.request("PUT", "courses/b", {"new_code": True})
    assert code == 200, data
    new_code = data["join_code"]
    assert len(new_code) == 8 and new_code != world.join_code
    fred = grader.client_for("fred", ())
    code, data = await fred.post("courses/b/enrol", {"code": world.join_code})
    assert code == 403
    code, data = await fred.post("courses/b/enrol", {"code": new_code})
    assert code == 200
    # only b's instructors change it
    for other in (world.bob, world.ada):
        code, data = await other.request("PUT", "courses/b", {"new_code": True})
        assert code == 403, data
    code, data = await world.bea.get("courses/b")
    assert data["join_code"] == new_code


async def test_an_invitation_only_course_cannot_be_joined(grader, world):
    eve = grader.client_for("eve", ())
    code, data = await eve.post("courses/demo/enrol")
    # by invitation: hidden from outsiders, so a 404 (as the course listing hides it)
    assert code == 404 and "demo" in data["message"]
    code, data = await eve.post("courses/demo/enrol", {"code": "ANYTHING"})
    assert code == 404
    # a code course its instructor closes: the code stops working and the course hides
    code, data = await world.bea.request("PUT", "courses/b", {"join": "invite"})
    assert code == 200 and data["join"] == "invite"
    code, data = await eve.post("courses/b/enrol", {"code": world.join_code})
    assert code == 404
    code, data = await eve.get("courses")
    assert slugs(data["courses"]) == ["a"]
    # its learners keep it
    code, data = await world.bob.get("modules?course=b")
    assert code == 200 and slugs(data["modules"]) == ["basics"]
    code, data = await world.bea.request("PUT", "courses/b", {"join": "party"})
    assert code == 400 and "join must be one of" in data["message"]
    code, data = await world.bea.request("PUT", "courses/b", {"slug": "renamed"})
    assert code == 400 and "slug" in data["message"]


async def test_an_instructor_edits_their_course(grader, world):
    code, data = await world.bea.request(
        "PUT", "courses/b", {"title": "Bees", "description": "All about b", "position": 0}
    )
    assert code == 200 and (data["title"], data["description"]) == ("Bees", "All about b")
    code, data = await grader.client_for("eve", ()).get("courses")
    assert slugs(data["courses"]) == ["b", "a"]  # b moved to the top
    for position in (-1, "first", True, 1.5):
        code, data = await world.bea.request(
            "PUT", "courses/b", {"title": "Changed", "position": position}
        )
        assert code == 400 and "position" in data["message"], (position, data)
    code, data = await world.bob.get("courses/b")
    assert data["title"] == "Bees"  # a refused change changes nothing


# members ---------------------------------------------------------------------------------


async def test_instructors_manage_their_own_courses_members(grader, world):
    gus = grader.client_for("gus", ())
    code, data = await world.ada.post("courses/a/members", {"user": "gus"})
    assert code == 201 and data == {"course": "a", "user": "gus", "role": "learner"}
    code, data = await world.ada.get("courses/a/members")
    assert code == 200
    assert data == {"course": "a", "learners": ["alice", "gus"], "instructors": ["ada"]}
    code, data = await gus.get("modules")
    assert [(m["course"], m["slug"]) for m in data["modules"]] == [("a", "basics")]
    code, data = await world.ada.get("gradebook")
    assert [row["user"] for row in data["learners"]] == ["alice", "gus"]

    code, data = await world.ada.post("courses/a/members", {"user": "gus", "role": "admin"})
    assert code == 400 and "role" in data["message"]
    code, data = await world.ada.post("courses/a/members", {"role": "learner"})
    assert code == 400 and "user" in data["message"]

    # a learner manages nobody, not even in their own course
    code, data = await world.alice.get("courses/a/members")
    assert code == 403
    code, data = await world.alice.post("courses/a/members", {"user": "mallory"})
    assert code == 403
    code, data = await world.alice.post(
        "courses/a/members", {"user": "alice", "role": "instructor"}
    )
    assert code == 403
    code, data = await world.alice.request("DELETE", "courses/a/members/gus")
    assert code == 403
    # nor does another course's instructor: a is open (they see it, 403), demo is not (404)
    code, data = await world.bea.get("courses/a/members")
    assert code == 403 and "only instructors of a" in data["message"]
    code, data = await world.bea.post("courses/a/members", {"user": "bea", "role": "instructor"})
    assert code == 403
    code, data = await world.bea.request("DELETE", "courses/a/members/gus")
    assert code == 403
    code, data = await world.bea.post("courses/demo/members", {"user": "bea"})
    assert code == 404
    code, data = await world.ada.request("PUT", "courses/b", {"join": "open"})
    assert code == 403
    code, data = await world.alice.request("PUT", "courses/a", {"title": "Mine"})
    assert code == 403
    code, data = await world.ada.get("courses/a/members")
    assert data == {"course": "a", "learners": ["alice", "gus"], "instructors": ["ada"]}
    code, data = await world.alice.get("modules?course=b")
    assert code == 403

    code, data = await world.ada.request("DELETE", "courses/a/members/gus")
    assert code == 204, data
    code, data = await world.ada.get("courses/a/members")
    assert data["learners"] == ["alice"]
    code, data = await world.ada.get("gradebook")
    assert [row["user"] for row in data["learners"]] == ["alice"]
    code, data = await gus.get("modules")
    assert data["modules"] == []
    code, data = await gus.get(f"questions/{world.questions['a']['id']}")
    assert code == 404


async def test_an_enrolled_instructor_teaches_that_course(grader, world):
    code, data = await world.ada.post("courses/a/members", {"user": "tom", "role": "instructor"})
    assert code == 201, data
    tom = grader.client_for("tom", ())
    code, data = await tom.get(f"questions/{world.questions['a']['id']}/source")
    assert code == 200 and "BEGIN SOLUTION" in json.dumps(data["notebook"])
    code, data = await tom.get(f"questions/{world.questions['b']['id']}/source")
    assert code == 404
    code, data = await tom.get("courses/a/members")
    assert data["instructors"] == ["ada", "tom"]


# a learner of one course -------------------------------------------------------------------


async def test_a_learner_of_one_course_reaches_nothing_of_another(grader, world):
    alice = world.alice
    b_module, b_question = world.modules["b"]["id"], world.questions["b"]["id"]
    not_enrolled = {"status": 403, "message": "you are not enrolled in b: join it first"}
    for path in (
        "modules?course=b",
        "modules/basics?course=b",
        "questions?course=b",
        "questions?course=b&module=basics",
        "questions/filters?course=b",
        "leaderboard?course=b",
        "leaderboard?course=b&module=basics",
        "progress?course=b",
        "profile?course=b",
        "profiles/bob?course=b",
    ):
        code, data = await alice.get(path)
        assert (code, data) == (403, not_enrolled), path
    for path in (
        "modules?course=demo",  # by invitation: not even a 403
        f"modules/{b_module}",
        f"questions?module={b_module}",
        f"questions?course=a&module={b_module}",
        f"questions/{b_question}",
        f"questions/{b_question}/source",
        f"leaderboard?module={b_module}",
    ):
        code, data = await alice.get(path)
        assert code == 404, (path, data)
    code, data = await alice.post("submissions", {"question": b_question, "notebook": {}})
    assert code == 404 and data["message"] == f"no such question: {b_question}"
    for path in ("gradebook?course=b", "gradebook", "submissions?user=bob", "progress/bob"):
        code, data = await alice.get(path)
        assert code == 403, (path, data)

    # without ?course=, everything is her one course's
    code, data = await alice.get("modules")
    assert [(m["course"], m["id"]) for m in data["modules"]] == [("a", world.modules["a"]["id"])]
    code, data = await alice.get("modules/basics")
    assert data["id"] == world.modules["a"]["id"]
    code, data = await alice.get("questions")
    assert [q["id"] for q in data["questions"]] == [world.questions["a"]["id"]]
    code, data = await alice.get("questions?module=basics&tag=tag-b")
    assert data["questions"] == []
    code, data = await alice.get("questions?category=category-b")
    assert data["questions"] == []
    code, data = await alice.get("questions/filters")
    assert (data["categories"], data["tags"]) == (["category-a"], ["tag-a"])
    code, data = await alice.get("progress")
    assert [(m["course"], m["module"]) for m in data["modules"]] == [
        (_course_id(grader, "a"), world.modules["a"]["id"])
    ]
    code, data = await alice.get("profile")
    assert data["course"] == "a"
    code, data = await alice.get("leaderboard")
    assert code == 200 and data["course"] == "a"


def _course_id(grader, slug: str) -> int:
    with grader.session_factory() as db:
        return orm.Course.find_by_slug(db, slug).id


# an instructor of one course ---------------------------------------------------------------


async def test_an_instructor_of_one_course_reaches_nothing_of_another(grader, world):
    ada = world.ada
    a_question, b_question = world.questions["a"]["id"], world.questions["b"]["id"]
    b_module = world.modules["b"]["id"]
    alices, bobs = await asyncio.gather(
        submit(world.alice, a_question, CORRECT), submit(world.bob, b_question, PARTIAL)
    )

    # authoring in b: refused whichever way b or its module is named
    new_question = {"slug": "mine", "title": "Mine", "notebook": square_question()}
    code, data = await ada.post("modules", {"course": "b", "slug": "mine", "title": "Mine"})
    assert code == 403 and "only instructors of b" in data["message"]
    code, data = await ada.post("modules", {"course": "demo", "slug": "mine", "title": "Mine"})
    assert code == 404
    for target in ({"course": "b", "module": "basics"}, {"module": b_module}):
        code, data = await ada.post("questions", {**target, **new_question})
        assert code == 404, (target, data)  # b's modules are hidden from her
    for method, path, body in (
        ("PUT", f"modules/{b_module}", {"title": "Taken"}),
        ("DELETE", f"modules/{b_module}", None),
        ("GET", f"questions/{b_question}/source", None),
        ("PUT", f"questions/{b_question}", {"title": "Taken"}),
        ("DELETE", f"questions/{b_question}", None),
        ("GET", f"questions/{b_question}/regrade", None),
    ):
        code, data = await ada.request(method, path, body)
        assert code == 404, (method, path, data)

    # b's learners' work
    code, data = await ada.get("submissions?user=bob")
    assert code == 200 and data["submissions"] == []
    code, data = await ada.get("submissions?user=*")
    assert [s["id"] for s in data["submissions"]] == [alices["id"]]
    code, data = await ada.get(f"submissions?user=bob&question={b_question}")
    assert code == 404
    for path in (
        f"submissions/{bobs['id']}",
        f"submissions/{bobs['id']}/notebook",
        f"submissions/{bobs['id']}/events",
        f"analytics?question={b_question}",
        f"analytics?course=a&question={b_question}",
    ):
        code, data = await ada.get(path)
        assert code == 404, (path, data)
    code, data = await ada.request(
        "PUT", f"submissions/{bobs['id']}/grades/square-solution", {"points": 1}
    )
    assert code == 404
    for path in ("gradebook?course=b", "gradebook.csv?course=b", "analytics?course=b"):
        code, data = await ada.get(path)
        assert code == 403 and "only instructors of b" in data["message"], (path, data)
    code, data = await ada.get("progress/bob?course=b")
    assert code == 403 and "not enrolled in b" in data["message"]
    code, data = await ada.get("progress/bob")  # bob, as far as a goes: nothing
    assert code == 200 and [(m["module"], m["score"]) for m in data["modules"]] == [
        (world.modules["a"]["id"], 0)
    ]

    # in her own course she does all of it
    code, data = await ada.post("modules", {"course": "a", "slug": "more", "title": "More"})
    assert code == 201 and data["course"] == "a"
    code, data = await ada.post("questions", {"module": "more", **new_question})
    assert code == 201 and data["course"] == "a"
    code, data = await ada.get(f"questions/{a_question}/source")
    assert code == 200 and "SECRET_HIDDEN_ASSERT" in json.dumps(data["notebook"])
    code, data = await ada.get(f"submissions/{alices['id']}")
    assert code == 200 and data["score"] == 3
    code, data = await ada.get("submissions?user=alice")
    assert [s["id"] for s in data["submissions"]] == [alices["id"]]
    code, data = await ada.get("gradebook")
    assert code == 200 and data["course"] == "a"
    assert [(row["user"], row["total"]) for row in data["learners"]] == [("alice", 3)]
    code, data = await ada.get("gradebook.csv?course=a")
    assert code == 200 and "alice" in data and "bob" not in data
    code, data = await ada.get("progress/alice")
    assert [m["score"] for m in data["modules"]] == [3, 0]  # basics, more
    code, data = await world.bea.get("gradebook")
    assert [(row["user"], row["total"]) for row in data["learners"]] == [("bob", 1)]


async def test_learning_in_another_course_gives_its_instructor_nothing_more(grader, world):
    """ada teaches a and joins b as a learner: in b she is a learner like any other."""
    ada = world.ada
    b_question = world.questions["b"]["id"]
    bobs = await submit(world.bob, b_question, PARTIAL)
    code, data = await ada.post("courses/b/enrol", {"code": world.join_code})
    assert code == 200 and data["role"] == "learner"
    code, data = await ada.get(f"questions/{b_question}")
    assert code == 200 and "SECRET_HIDDEN_ASSERT" not in json.dumps(data)
    code, data = await ada.get(f"questions/{b_question}/source")
    assert code == 403
    code, data = await ada.post(
        "questions",
        {"course": "b", "module": "basics", "slug": "x", "title": "X", "notebook": {}},
    )
    assert code == 403
    code, data = await ada.post("modules", {"course": "b", "slug": "x", "title": "X"})
    assert code == 403
    # she still teaches one course: what she makes without naming one is a's
    code, data = await ada.post("modules", {"slug": "x", "title": "X"})
    assert code == 201 and data["course"] == "a"
    code, data = await ada.get(f"submissions/{bobs['id']}")
    assert code == 404
    code, data = await ada.get("submissions?user=bob")
    assert data["submissions"] == []
    for path in ("gradebook?course=b", "progress/bob?course=b", "courses/b/members"):
        code, data = await ada.get(path)
        assert code == 403, (path, data)
    code, data = await ada.get("courses/b")
    assert data["role"] == "learner" and "join_code" not in data


# global instructors and creating courses -----------------------------------------------


async def test_only_an_instructor_of_every_course_creates_courses(grader, world):
    prof = world.prof
    for client in (world.ada, world.alice, grader.client_for("eve", ())):
        code, data = await client.post("courses", {"slug": "mine", "title": "Mine"})
        assert code == 403 and "only instructors of every course" in data["message"]
    for body, status, words in (
        ({"slug": "Bad Slug", "title": "X"}, 400, "slug"),
        ({"slug": "-x", "title": "X"}, 400, "slug"),
        ({"title": "X"}, 400, "slug"),
        ({"slug": "x-instructors", "title": "X"}, 400, "-instructors"),
        ({"slug": "x"}, 400, "title"),
        ({"slug": "x", "title": "X", "join": "party"}, 400, "join"),
        ({"slug": "a", "title": "Again"}, 409, "exists already"),
        ({"slug": "demo", "title": "Again"}, 409, "exists already"),
    ):
        code, data = await prof.post("courses", body)
        assert code == status and words in data["message"], (body, data)
    code, data = await prof.get("courses")
    assert slugs(data["courses"]) == ["demo", "a", "b"]

    code, data = await prof.post("courses", {"slug": "new", "title": "New"})
    assert code == 201 and (data["join"], data["join_code"]) == ("invite", None), data
    assert (data["role"], data["modules"], data["learners"]) == ("instructor", 0, 0)
    code, data = await grader.client_for("eve", ()).get("courses")
    assert slugs(data["courses"]) == ["a", "b"]  # by invitation: hidden

    # prof sees both courses' everything
    code, data = await prof.get("modules")
    assert [(m["course"], m["slug"]) for m in data["modules"]] == [
        ("a", "basics"),
        ("b", "basics"),
    ]
    code, data = await prof.get(f"questions/{world.questions['b']['id']}/source")
    assert code == 200
    bobs = await submit(world.bob, world.questions["b"]["id"], CORRECT)
    code, data = await prof.get("submissions?user=bob")
    assert [s["id"] for s in data["submissions"]] == [bobs["id"]]
    code, data = await prof.get("gradebook?course=b")
    assert [(row["user"], row["total"]) for row in data["learners"]] == [("bob", 3)]
    code, data = await prof.get("gradebook")
    assert code == 400 and "course is required" in data["message"]
    code, data = await prof.get("courses/b/members")
    assert data == {"course": "b", "learners": ["bob"], "instructors": ["bea"]}


# leaderboards --------------------------------------------------------------------------


async def test_leaderboards_are_per_course(grader, world):
    """alice and carl score in a, bob in b; dan is in both: top in b, last in a."""
    carl, dan = grader.client_for("carl", ()), grader.client_for("dan", ())
    assert (await carl.post("courses/a/enrol"))[0] == 200
    assert (await dan.post("courses/a/enrol"))[0] == 200
    assert (await dan.post("courses/b/enrol", {"code": world.join_code}))[0] == 200

    # the same slugs in two courses: ?course= picks
    code, data = await dan.get("modules")
    assert [(m["course"], m["slug"]) for m in data["modules"]] == [
        ("a", "basics"),
        ("b", "basics"),
    ]
    code, data = await dan.get("modules/basics?course=b")
    assert data["id"] == world.modules["b"]["id"]
    code, data = await dan.get("questions?course=b&module=basics")
    assert [q["id"] for q in data["questions"]] == [world.questions["b"]["id"]]
    b_question = data["questions"][0]["id"]

    a_question = world.questions["a"]["id"]
    await asyncio.gather(
        submit(world.alice, a_question, CORRECT),
        submit(carl, a_question, PARTIAL),
        submit(world.bob, b_question, PARTIAL),
        submit(dan, b_question, CORRECT),
    )
    # after his 3 points in b: they must not count in a
    await submit(dan, a_question, WRONG)

    a_board = [(1, "alice", 3), (2, "carl", 1), (3, "dan", 0)]
    code, data = await world.alice.get("leaderboard")
    assert (data["course"], board(data), data["total"]) == ("a", a_board, 3)
    code, data = await world.bob.get("leaderboard")
    assert (data["course"], board(data), data["total"]) == ("b", [(1, "dan", 3), (2, "bob", 1)], 2)
    code, data = await dan.get("leaderboard")
    assert code == 400 and data["message"] == "course is required: one of a, b"
    code, data = await dan.get("leaderboard?course=a")
    assert board(data) == a_board
    code, data = await dan.get("leaderboard?course=a&offset=1&limit=1")
    assert board(data) == [(2, "carl", 1)]
    code, data = await dan.get("leaderboard?course=b&module=basics")
    assert (data["module"], board(data)) == (
        world.modules["b"]["id"],
        [(1, "dan", 3), (2, "bob", 1)],
    )
    code, data = await world.prof.get("leaderboard?course=demo")
    assert board(data) == []

    # profiles and progress: per course
    code, data = await dan.get("profile?course=a")
    assert (data["score"], data["rank"], data["submissions"]) == (0, 3, 1)
    code, data = await dan.get("profile?course=b")
    assert (data["score"], data["rank"], data["submissions"]) == (3, 1, 1)
    code, data = await world.alice.get("profiles/carl")
    assert (data["course"], data["score"], data["rank"]) == ("a", 1, 2)
    code, data = await world.alice.get("profiles/bob")  # not in her course: nothing ranked
    assert (data["course"], data["score"], data["rank"], data["submissions"]) == ("a", 0, None, 0)
    code, data = await dan.get("progress")
    assert [(m["module"], m["score"]) for m in data["modules"]] == [
        (world.modules["a"]["id"], 0),
        (world.modules["b"]["id"], 3),
    ]
    code, data = await dan.get("progress?course=b")
    assert [m["module"] for m in data["modules"]] == [world.modules["b"]["id"]]


async def test_a_public_profile_tells_nothing_of_a_course_the_reader_is_not_in(grader, world):
    await submit(world.bob, world.questions["b"]["id"], PARTIAL)
    code, data = await world.prof.post("courses", {"slug": "c", "title": "C", "join": "open"})
    assert code == 201, data
    # alice in two courses, neither of them b; eve in none: no one course to read it in
    assert (await world.alice.post("courses/c/enrol"))[0] == 200
    for reader in (world.alice, grader.client_for("eve", ())):
        code, data = await reader.get("profiles/bob")
        assert code == 400 or (data["submissions"], data["attempted"]) == (0, 0), data


# bad input and forged scopes -------------------------------------------------------------


async def test_bad_course_arguments_are_named(grader, world):
    for client, path in (
        (world.alice, "modules?course=nope"),
        (world.alice, "questions?course=nope"),
        (world.alice, "leaderboard?course=nope"),
        (world.alice, "progress?course=nope"),
        (world.alice, "profile?course=nope"),
        (world.prof, "gradebook?course=nope"),
        (world.prof, "analytics?course=nope"),
        (world.prof, "courses/nope/members"),
        (world.alice, "courses/nope/enrol"),
    ):
        method = "POST" if path.endswith("enrol") else "GET"
        code, data = await client.request(method, path)
        assert (code, data) == (404, {"status": 404, "message": "no such course: nope"}), path
    code, data = await world.prof.post("modules", {"slug": "x", "title": "X"})
    assert code == 400 and "course is required" in data["message"]
    code, data = await world.prof.post("modules", {"course": "nope", "slug": "x", "title": "X"})
    assert code == 404 and "nope" in data["message"]
    code, data = await world.prof.post("modules", {"course": True, "slug": "x", "title": "X"})
    assert code == 400 and "course must be" in data["message"]
    code, data = await world.prof.post("modules", {"course": "b", "slug": "x", "title": "X"})
    assert code == 201 and data["course"] == "b"
    code, data = await world.prof.post(
        "modules", {"course": _course_id(grader, "a"), "slug": "x", "title": "X"}
    )
    assert code == 201 and data["course"] == "a"
    # an instructor of two courses names one
    code, data = await world.prof.post("courses/b/members", {"user": "ada", "role": "instructor"})
    assert code == 201
    code, data = await world.ada.post("modules", {"slug": "y", "title": "Y"})
    assert code == 400 and "course is required" in data["message"]
    code, data = await world.ada.get("gradebook")
    assert code == 400 and "course is required" in data["message"]
    # someone in no course is told to join one
    eve = grader.client_for("eve", ())
    code, data = await eve.get("leaderboard")
    assert code == 400 and "you are in no course yet" in data["message"]
    code, data = await eve.get("gradebook")
    assert code == 403


async def test_scopes_that_name_no_course_grant_no_course(grader, world):
    """Filters the grader must not read as a course: another kind of filter, a group
    that is not a course's, an empty course name, the instructors' group."""
    mallory = grader.client_for(
        "mallory",
        (
            f"{AUTHOR}!user=mallory",
            f"{LEARN}!user=mallory",
            f"{AUTHOR}!group=instructors",
            f"{AUTHOR}!group=cohort-b",  # "cohort-" is as long as "course-"
            f"{LEARN}!group=cohort-a",
            f"{AUTHOR}!group=course-",
            f"{AUTHOR}!server=mallory/",
            f"{AUTHOR}!group=course-b-instructors",
            f"{LEARN}!service=grader",
            "custom:coursehub:learner",
            "custom:coursehub:author:all",
        ),
    )
    code, data = await mallory.get("modules")
    assert code == 200 and data["modules"] == []
    code, data = await mallory.get("courses")
    assert [(c["slug"], c["role"]) for c in data["courses"]] == [("a", None), ("b", None)]
    assert world.join_code not in json.dumps(data)
    for path in (
        "gradebook?course=b",
        "gradebook?course=a",
        "submissions?user=bob",
        "courses/b/members",
    ):
        code, data = await mallory.get(path)
        assert code == 403, (path, data)
    code, data = await mallory.get(f"questions/{world.questions['b']['id']}")
    assert code == 404
    code, data = await mallory.post("modules", {"course": "b", "slug": "x", "title": "X"})
    assert code == 403
    code, data = await mallory.post("courses", {"slug": "x", "title": "X"})
    assert code == 403
