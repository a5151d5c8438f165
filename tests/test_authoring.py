"""Authoring on the grader's side: trying a question before saving it, drafts and
scheduled releases, editing a question with a regrade, retiring and restoring one.

Against the real service in this process (SQLite, then PostgreSQL), grading in
bubblewrap; identities from the fake Hub, with course-filtered scopes where a test is
about two courses.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import nbformat
import pytest
from sqlalchemy import func, select

from grader import orm
from grader.executors.unsandboxed import UnsandboxedExecutor
from tests.conftest import (
    AUTHOR,
    LEARN,
    Client,
    answer,
    fake_hub_course,
    nbgrader_cell,
    python_notebook,
    square_question,
)
from tests.test_class_scale import (
    recomputed_totals,
    recounted_scores,
    stored_score_counts,
    stored_totals,
)

pytestmark = pytest.mark.sandbox

CORRECT = "def square(x):\n    return x * x"
PLUS_TWO = "def square(x):\n    return x + 2"  # square(2) passes, square(-3) fails
ONE_AT_ZERO = "def square(x):\n    return x * x if x else 1"


def square_with_hidden(
    hidden: str, visible: str = "assert square(2) == 4"
) -> nbformat.NotebookNode:
    """The square question with other tests: visible (1 point), hidden (2 points)."""
    nb = square_question()
    nb.cells[2].source = visible
    nb.cells[3].source = f"### BEGIN HIDDEN TESTS\n{hidden}\n### END HIDDEN TESTS"
    return nb


async def create(author, slug, notebook, **fields):
    code, question = await author.post(
        "questions",
        {"module": "basics", "slug": slug, "title": slug.title(), "notebook": notebook, **fields},
    )
    assert code == 201, question
    return question


async def submit(client, question_id, code=CORRECT):
    status, model = await client.get(f"questions/{question_id}")
    assert status == 200, model
    nb = answer(nbformat.from_dict(model["notebook"]), code)
    status, data = await client.post("submissions", {"question": question_id, "notebook": nb})
    assert status == 202, data
    return data["id"]


async def wait_regraded(author, question_id, timeout=120.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        code, progress = await author.get(f"questions/{question_id}/regrade")
        assert code == 200, progress
        if progress["queued"] == progress["running"] == 0:
            return progress
        await asyncio.sleep(0.1)
    raise AssertionError(f"regrade of {question_id} not done in {timeout}s: {progress}")


# validating a question before saving it ---------------------------------------------


async def test_a_sound_question_validates(grader, course):
    author = course["author"]
    code, result = await author.post("questions/validate", {"notebook": square_question()})
    assert code == 200, result
    assert result["ok"] is True and result["problems"] == []
    assert (result["reference"]["score"], result["reference"]["max_score"]) == (3, 3)
    assert [t["name"] for t in result["reference"]["tests"]] == ["visible", "hidden"]
    assert all(t["passed"] for t in result["reference"]["tests"])
    # the stub's score, and nothing it ran
    assert result["stub"] == {"score": 0, "max_score": 3}
    # nothing was saved
    code, listing = await author.get("questions")
    assert [q["slug"] for q in listing["questions"]] == ["square"]


async def test_a_reference_that_fails_its_own_test_is_named(grader, course):
    wrong = square_with_hidden("assert square(-3) == -9, 'SECRET_HIDDEN_ASSERT'")
    code, result = await course["author"].post("questions/validate", {"notebook": wrong})
    assert code == 200, result
    assert result["ok"] is False
    assert result["reference"]["score"] == 1
    (problem,) = result["problems"]
    assert "reference solution scores 1 of 3" in problem and "'hidden'" in problem
    assert "AssertionError" in problem


async def test_a_stub_that_already_scores_full_marks_is_named(grader, course):
    lenient = square_with_hidden("assert True", visible="assert 2 * 2 == 4")
    code, result = await course["author"].post("questions/validate", {"notebook": lenient})
    assert code == 200, result
    assert result["ok"] is False
    assert result["stub"] == {"score": 3, "max_score": 3}
    (problem,) = result["problems"]
    assert "stub" in problem and "full marks" in problem


async def test_a_notebook_that_is_not_a_question_is_a_400(grader, course):
    author = course["author"]
    plain = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    code, data = await author.post("questions/validate", {"notebook": plain})
    assert code == 400 and "test" in data["message"]
    code, data = await author.post("questions/validate", {"notebook": "not a notebook"})
    assert code == 400 and "notebook" in data["message"]
    code, data = await author.post("questions/validate", {})
    assert code == 400 and "notebook" in data["message"]
    code, data = await author.post(
        "questions/validate", {"notebook": square_question(), "type": "no-such-type"}
    )
    assert code == 400 and "no-such-type" in data["message"]


async def test_learners_cannot_validate(grader, course):
    code, data = await grader.client_for("ann").post(
        "questions/validate", {"notebook": square_question()}
    )
    assert code == 403 and AUTHOR in data["message"]


async def test_validations_are_limited_per_instructor_and_in_all(grader, course):
    # a reference that takes a moment, so that the second request comes while it runs
    slow = square_question()
    slow.cells[1].source = (
        "def square(x):\n    ### BEGIN SOLUTION\n    import time\n    time.sleep(1.5)\n"
        "    return x * x\n    ### END SOLUTION"
    )
    teacher = course["author"]
    # one instructor, two windows
    windows = [Client(grader.base_url, teacher.token) for _ in range(2)]
    results = await asyncio.gather(
        *(window.post("questions/validate", {"notebook": slow}) for window in windows)
    )
    assert sorted(code for code, _ in results) == [200, 429]
    ((_, refused), refused_window) = next(
        (r, w) for r, w in zip(results, windows, strict=True) if r[0] == 429
    )
    assert "already" in refused["message"]
    assert int(refused_window.last_response.headers["Retry-After"]) >= 1

    grader.validator.concurrency = 1
    other = grader.client_for("other-teacher", (LEARN, AUTHOR))
    results = await asyncio.gather(
        teacher.post("questions/validate", {"notebook": slow}),
        other.post("questions/validate", {"notebook": slow}),
    )
    assert sorted(code for code, _ in results) == [200, 429]
    # and once they are done, anyone may validate again
    code, _ = await other.post("questions/validate", {"notebook": square_question()})
    assert code == 200


async def test_no_sandbox_is_a_503(grader, course):
    grader.validator.executor = UnsandboxedExecutor(allow_unsandboxed=False)
    code, data = await course["author"].post("questions/validate", {"notebook": square_question()})
    assert code == 503 and "sandbox" in data["message"]


# drafts and scheduled releases ------------------------------------------------------


async def test_learners_never_see_a_draft(grader, course):
    author = course["author"]
    draft = await create(
        author,
        "secret",
        square_question(),
        release=None,
        category="secret-category",
        tags=["secret-tag"],
    )
    assert draft["status"] == "draft" and draft["released"] is None
    qid = draft["id"]
    ann = grader.client_for("ann")

    code, data = await ann.get(f"questions/{qid}")
    assert code == 404, data
    nb = answer(square_question(), CORRECT)
    code, data = await ann.post("submissions", {"question": qid, "notebook": nb})
    assert code == 404, data
    code, data = await ann.get(f"questions/{qid}/source")
    assert code == 404, data
    code, data = await ann.get(f"submissions?question={qid}")
    assert code == 404, data
    code, data = await ann.get(f"questions/{qid}/regrade")
    assert code == 404, data
    for query in ("", "?module=basics", "?category=secret-category", "?tag=secret-tag"):
        code, listing = await ann.get(f"questions{query}")
        assert code == 200, listing
        assert "secret" not in [q["slug"] for q in listing["questions"]], query
    code, filters = await ann.get("questions/filters")
    assert "secret-category" not in filters["categories"]
    assert "secret-tag" not in filters["tags"]
    code, modules = await ann.get("modules")
    assert [m["questions"] for m in modules["modules"]] == [1]
    code, progress = await ann.get("progress")
    assert [(m["total"], m["max_score"]) for m in progress["modules"]] == [(1, 3)]
    assert "secret" not in json.dumps([listing, filters, modules, progress])

    # the course's instructors see it, as a draft
    code, listing = await author.get("questions")
    assert {q["slug"]: q["status"] for q in listing["questions"]} == {
        "square": "released",
        "secret": "draft",
    }
    code, model = await author.get(f"questions/{qid}")
    assert code == 200 and model["status"] == "draft"
    code, modules = await author.get("modules")
    assert [m["questions"] for m in modules["modules"]] == [2]
    code, filters = await author.get("questions/filters")
    assert "secret-category" in filters["categories"]

    # released: learners see it and may answer it
    code, model = await author.request("PUT", f"questions/{qid}", {"release": "now"})
    assert code == 200 and model["status"] == "released"
    code, model = await ann.get(f"questions/{qid}")
    assert code == 200 and model["status"] == "released"
    assert (await ann.wait_graded(await submit(ann, qid)))["score"] == 3


async def test_a_scheduled_question_opens_when_its_time_comes(grader, course):
    author = course["author"]
    later = await create(author, "later", square_question(), release="2999-01-01T09:00:00Z")
    assert later["status"] == "scheduled" and later["released"] == "2999-01-01T09:00:00Z"
    ann = grader.client_for("ann")
    code, _ = await ann.get(f"questions/{later['id']}")
    assert code == 404
    code, listing = await ann.get("questions")
    assert [q["slug"] for q in listing["questions"]] == ["square"]

    # its time passes (moved, rather than waited for)
    with grader.session_factory() as db:
        question = db.get(orm.Question, later["id"])
        question.released = orm.utcnow() - timedelta(seconds=1)
        db.commit()
    code, model = await ann.get(f"questions/{later['id']}")
    assert code == 200 and model["status"] == "released"
    code, listing = await ann.get("questions")
    assert [q["slug"] for q in listing["questions"]] == ["square", "later"]
    code, progress = await ann.get("progress")
    assert progress["modules"][0]["total"] == 2
    assert (await ann.wait_graded(await submit(ann, later["id"])))["score"] == 3


async def test_a_release_date_is_checked(grader, course):
    code, data = await course["author"].request(
        "PUT", f"questions/{course['question']['id']}", {"release": "next tuesday"}
    )
    assert code == 400 and "release" in data["message"]


# editing a question and regrading it ------------------------------------------------


def best_scores(db) -> dict[tuple[int, int], float]:
    return {(b.user_id, b.question_id): b.score for b in db.scalars(select(orm.BestScore))}


def best_of_graded_submissions(db) -> dict[tuple[int, int], float]:
    """Each learner's best on each question, from scratch."""
    s = orm.Submission
    rows = db.execute(
        select(s.user_id, s.question_id, func.max(s.score))
        .where(s.status == "graded")
        .group_by(s.user_id, s.question_id)
    )
    return {(user, question): score for user, question, score in rows}


async def test_a_regrade_raises_and_lowers_scores_and_totals_follow(grader, course):
    author = course["author"]
    # v1's hidden test is wrong: a correct answer fails it (square(0) is 0, not 1), and
    # an answer that returns 1 for 0 passes it
    buggy = square_with_hidden("assert square(-3) >= 0 and square(0) == 1")
    question = await create(author, "sq", buggy)
    qid = question["id"]
    ann, bob, cat = (grader.client_for(n) for n in ("ann", "bob", "cat"))
    submitted = {
        "ann": [await submit(ann, qid, PLUS_TWO), await submit(ann, qid, CORRECT)],
        "bob": [await submit(bob, qid, PLUS_TWO)],
        "cat": [await submit(cat, qid, ONE_AT_ZERO), await submit(cat, qid, PLUS_TWO)],
    }
    clients = {"ann": ann, "bob": bob, "cat": cat}
    for name, ids in submitted.items():
        for submission_id in ids:
            await clients[name].wait_graded(submission_id)
    code, board = await ann.get("leaderboard?course=demo")
    assert {e["user"]: e["score"] for e in board["entries"]} == {"ann": 1, "bob": 1, "cat": 3}
    with grader.session_factory() as db:
        sizes_before = db.scalar(select(func.sum(orm.Submission.size)))

    # the test fixed, every submission graded again against it
    fixed = square_with_hidden("assert square(-3) == 9 and square(0) == 0")
    code, model = await author.request(
        "PUT", f"questions/{qid}", {"notebook": fixed, "regrade": True}
    )
    assert code == 200, model
    assert model["version"] == 2
    assert model["regrade"] == {"queued": 5}
    progress = await wait_regraded(author, qid)
    assert progress == {
        "question": qid,
        "version": 2,
        "total": 5,
        "queued": 0,
        "running": 0,
        "graded": 5,
        "error": 0,
        "outdated": 0,
    }

    # ann's correct answer now has its points; cat's answer that only passed the wrong
    # test has lost them; bob's is the same
    code, board = await ann.get("leaderboard?course=demo")
    assert {e["user"]: e["score"] for e in board["entries"]} == {"ann": 3, "bob": 1, "cat": 1}
    assert [e["user"] for e in board["entries"]][0] == "ann"
    for name, expected in (("ann", [1, 3]), ("bob", [1]), ("cat", [1, 1])):
        results = [await clients[name].get(f"submissions/{i}") for i in submitted[name]]
        assert [data["score"] for _, data in results] == expected, name
        assert all(data["status"] == "graded" for _, data in results)
    code, progress_ann = await ann.get("progress")
    assert progress_ann["modules"][0]["score"] == 3  # sq; the fixture's square unanswered
    with grader.session_factory() as db:
        assert best_scores(db) == best_of_graded_submissions(db)
        assert stored_totals(db) == recomputed_totals(db)
        assert stored_score_counts(db) == recounted_scores(recomputed_totals(db))
        versions = db.scalars(
            select(orm.Submission.question_version).where(orm.Submission.question_id == qid)
        )
        assert set(versions) == {2}
        # the same rows graded again: nothing copied, nothing more stored
        assert db.scalar(select(func.count()).select_from(orm.Submission)) == 5
        assert db.scalar(select(func.sum(orm.Submission.size))) == sizes_before


async def test_an_edit_without_a_regrade_keeps_the_old_scores(grader, course):
    author = course["author"]
    qid = course["question"]["id"]
    ann = grader.client_for("ann")
    first = await ann.wait_graded(await submit(ann, qid, PLUS_TWO))
    assert first["score"] == 1
    stricter = square_with_hidden("assert square(-3) == 9", visible="assert square(3) == 9")
    code, model = await author.request("PUT", f"questions/{qid}", {"notebook": stricter})
    assert code == 200 and model["version"] == 2 and "regrade" not in model
    code, progress = await author.get(f"questions/{qid}/regrade")
    assert (progress["version"], progress["graded"], progress["outdated"]) == (2, 0, 1)
    code, again = await ann.get(f"submissions/{first['id']}")
    assert again["score"] == 1
    # asked for later, with no new notebook: graded against the current version
    code, model = await author.request("PUT", f"questions/{qid}", {"regrade": True})
    assert code == 200 and model["version"] == 2 and model["regrade"]["queued"] == 1
    progress = await wait_regraded(author, qid)
    assert (progress["graded"], progress["outdated"]) == (1, 0)
    code, again = await ann.get(f"submissions/{first['id']}")
    assert again["score"] == 0
    code, board = await ann.get("leaderboard?course=demo")
    assert [(e["rank"], e["user"], e["score"], e["solved"]) for e in board["entries"]] == [
        (1, "ann", 0, 0)
    ]


async def test_a_regrade_waits_behind_learners_and_counts_against_no_limit(grader, course):
    qid = course["question"]["id"]
    ann, bob = grader.client_for("ann"), grader.client_for("bob")
    for submission_id in [await submit(ann, qid, PLUS_TWO), await submit(ann, qid, CORRECT)]:
        await ann.wait_graded(submission_id)
    await grader.queue.stop()  # nothing is claimed while we look at the queue
    code, model = await course["author"].request("PUT", f"questions/{qid}", {"regrade": True})
    assert code == 200 and model["regrade"] == {"queued": 2}

    # ann's two regradings do not count against her limit of one waiting submission
    grader.queue.max_queued_per_learner = 1
    fresh = await submit(ann, qid, CORRECT)
    bobs = await submit(bob, qid, CORRECT)
    # and learners' own submissions go first
    positions = {}
    with grader.session_factory() as db:
        queued = db.scalars(
            select(orm.Submission.id).where(orm.Submission.status == "queued")
        ).all()
        positions = grader.queue.positions(db, queued)
    assert sorted(positions[i] for i in (fresh, bobs)) == [1, 2]
    assert sorted(p for i, p in positions.items() if i not in (fresh, bobs)) == [3, 4]
    code, data = await ann.get(f"submissions/{fresh}")
    assert data["queue_position"] in (1, 2)
    # the limit still holds for what ann submits herself
    code, model = await ann.get(f"questions/{qid}")
    nb = answer(nbformat.from_dict(model["notebook"]), CORRECT)
    code, data = await ann.post("submissions", {"question": qid, "notebook": nb})
    assert code == 429, data

    grader.queue.start()
    progress = await wait_regraded(course["author"], qid)
    assert progress["graded"] == 4
    with grader.session_factory() as db:
        assert best_scores(db) == best_of_graded_submissions(db)
        assert stored_totals(db) == recomputed_totals(db)


async def test_learners_cannot_regrade(grader, course):
    qid = course["question"]["id"]
    ann = grader.client_for("ann")
    code, data = await ann.request("PUT", f"questions/{qid}", {"regrade": True})
    assert code == 403, data
    code, data = await ann.get(f"questions/{qid}/regrade")
    assert code == 403, data
    code, data = await course["author"].request("PUT", f"questions/{qid}", {"regrade": "yes"})
    assert code == 400 and "regrade" in data["message"]


# retiring and restoring -------------------------------------------------------------


async def test_a_retired_question_is_gone_for_learners_until_restored(grader, course):
    author, qid = course["author"], course["question"]["id"]
    ann = grader.client_for("ann")
    await ann.wait_graded(await submit(ann, qid))
    code, board = await ann.get("leaderboard?course=demo")
    assert [(e["user"], e["score"]) for e in board["entries"]] == [("ann", 3)]

    code, _ = await author.request("DELETE", f"questions/{qid}")
    assert code == 204
    code, _ = await ann.get(f"questions/{qid}")
    assert code == 404
    nb = answer(square_question(), CORRECT)
    code, _ = await ann.post("submissions", {"question": qid, "notebook": nb})
    assert code == 404
    code, listing = await ann.get("questions")
    assert listing["questions"] == []
    code, board = await ann.get("leaderboard?course=demo")
    assert board["entries"] == []
    # its instructors still read it, as retired; it is retired once
    code, model = await author.get(f"questions/{qid}")
    assert code == 200 and model["status"] == "retired"
    code, _ = await author.request("DELETE", f"questions/{qid}")
    assert code == 404

    code, model = await author.request("PUT", f"questions/{qid}", {"retired": False})
    assert code == 200 and model["status"] == "released"
    code, model = await ann.get(f"questions/{qid}")
    assert code == 200
    code, board = await ann.get("leaderboard?course=demo")
    assert [(e["user"], e["score"]) for e in board["entries"]] == [("ann", 3)]
    with grader.session_factory() as db:
        assert stored_totals(db) == recomputed_totals(db)


# two courses ------------------------------------------------------------------------


async def test_an_instructor_of_one_course_cannot_author_or_regrade_anothers(
    grader, course, fake_hub
):
    await fake_hub_course(grader, fake_hub, "other")
    teacher = course["author"]  # teaches every course
    code, module = await teacher.post(
        "modules", {"course": "other", "slug": "other-basics", "title": "Other"}
    )
    assert code == 201, module
    code, theirs = await teacher.post(
        "questions",
        {
            "course": "other",
            "module": "other-basics",
            "slug": "theirs",
            "title": "Theirs",
            "notebook": square_question(),
        },
    )
    assert code == 201, theirs
    ann = grader.client_for("ann")  # learns everywhere
    graded = await ann.wait_graded(await submit(ann, theirs["id"]))

    alice = grader.client_for("alice", (f"{AUTHOR}!group=course-demo",))
    # she may try a notebook (nothing of a course in it)...
    code, result = await alice.post("questions/validate", {"notebook": square_question()})
    assert code == 200 and result["ok"]
    # ...but not save it into the other course, by its slug or its module's id
    for target in ({"course": "other", "module": "other-basics"}, {"module": module["id"]}):
        code, data = await alice.post(
            "questions", {**target, "slug": "mine", "title": "Mine", "notebook": square_question()}
        )
        assert code in (403, 404), data
    # nor edit, regrade or follow the other course's question
    tid = theirs["id"]
    code, _ = await alice.request("PUT", f"questions/{tid}", {"regrade": True})
    assert code == 404
    code, _ = await alice.request("PUT", f"questions/{tid}", {"notebook": square_question()})
    assert code == 404
    code, _ = await alice.get(f"questions/{tid}/regrade")
    assert code == 404
    code, _ = await alice.get(f"questions/{tid}/source")
    assert code == 404
    code, _ = await alice.request("DELETE", f"questions/{tid}")
    assert code == 404
    with grader.session_factory() as db:
        in_other = db.scalars(
            select(orm.Question.slug)
            .join(orm.Module)
            .join(orm.Course)
            .where(orm.Course.slug == "other")
        ).all()
        assert in_other == ["theirs"]
        submission = db.get(orm.Submission, graded["id"])
        assert (submission.status, submission.question_version) == ("graded", 1)
    # her own course's question she regrades
    code, model = await alice.request(
        "PUT", f"questions/{course['question']['id']}", {"regrade": True}
    )
    assert code == 200 and model["regrade"] == {"queued": 0}


async def test_manually_graded_answers_only_leave_nothing_to_check(grader, course):
    nb = python_notebook(
        [
            nbgrader_cell("locked", "Explain squares.", "task", cell_type="markdown"),
            nbgrader_cell("solution", "Squares are products.", "essay", 2, cell_type="markdown"),
        ]
    )
    nb.cells[1].metadata["nbgrader"].update(grade=True, points=2)
    code, result = await course["author"].post("questions/validate", {"notebook": nb})
    assert code == 200, result
    assert result["ok"] is True and result["reference"]["tests"] == []
