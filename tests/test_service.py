"""The grading service in-process: its REST API, permissions, queue and scores.

Identity comes from a stand-in for the Hub's `/hub/api/user` (the grader's real HubAuth
asks it); grading runs in the real sandbox.
"""

from __future__ import annotations

import json

import nbformat
import pytest

from grader.grading.notebooks import student_version
from tests.conftest import AUTHOR, LEARN, answer, nbgrader_cell, square_question

pytestmark = pytest.mark.sandbox

CORRECT = "def square(x):\n    return x * x"
PARTIAL = "def square(x):\n    return x + 2"  # square(2) passes, square(-3) fails


async def student_notebook(client, question_id):
    code, model = await client.get(f"questions/{question_id}")
    assert code == 200, model
    return nbformat.from_dict(model["notebook"])


async def submit(client, question_id, nb):
    code, data = await client.post("submissions", {"question": question_id, "notebook": nb})
    assert code == 202, data
    return await client.wait_graded(data["id"])


# health and authoring -------------------------------------------------------------


async def test_health_reports_each_part(grader):
    code, data = await grader.client_for("anyone").get("health")
    assert code == 200, data
    limits = data.pop("limits")
    assert data == {"status": "ok", "database": "ok", "executor": "ok", "hub": "ok"}
    # which limits are in force, said plainly: here cgroups hold the whole sandbox
    assert {"memory", "cpu", "pids", "seccomp", "uids"} <= set(limits)
    assert "seccomp filter" in limits["seccomp"]


async def test_requests_without_a_token_are_refused(grader):
    from tests.conftest import Client

    code, data = await Client(grader.base_url, None).get("modules")
    assert code == 403
    assert data["status"] == 403 and data["message"]


async def test_authoring_needs_the_author_scope(grader):
    learner = grader.client_for("ann")
    code, data = await learner.post("modules", {"slug": "x", "title": "X"})
    assert code == 403
    assert "custom:coursehub:author" in data["message"]


async def test_module_fields_are_checked(grader):
    author = grader.client_for("teacher", (LEARN, AUTHOR))
    code, data = await author.post("modules", {"slug": "Not A Slug", "title": "X"})
    assert code == 400 and "slug" in data["message"]
    code, data = await author.post("modules", {"slug": "ok"})
    assert code == 400 and "title" in data["message"]
    code, data = await author.post("modules", raw=b"{nope")
    assert code == 400 and "JSON" in data["message"]
    assert (await author.post("modules", {"slug": "ok", "title": "OK"}))[0] == 201
    code, data = await author.post("modules", {"slug": "ok", "title": "Again"})
    assert code == 409


async def test_a_source_notebook_that_is_not_nbgrader_format_is_refused(grader, course):
    author = course["author"]
    plain = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    code, data = await author.post(
        "questions", {"module": "basics", "slug": "plain", "title": "Plain", "notebook": plain}
    )
    assert code == 400
    assert "test" in data["message"]
    code, data = await author.post(
        "questions",
        {"module": "basics", "slug": "bad", "title": "Bad", "notebook": "not a notebook"},
    )
    assert code == 400 and "notebook" in data["message"]
    code, data = await author.post(
        "questions", {"module": "nowhere", "slug": "q", "title": "Q", "notebook": plain}
    )
    assert code == 404 and "nowhere" in data["message"]


async def test_learners_see_the_student_version_only(grader, course):
    learner = grader.client_for("ann")
    qid = course["question"]["id"]
    code, model = await learner.get(f"questions/{qid}")
    assert code == 200
    text = json.dumps(model)
    assert "SECRET_HIDDEN_ASSERT" not in text
    assert "return x * x" not in text
    assert "NotImplementedError" in text
    code, data = await learner.get(f"questions/{qid}/source")
    assert code == 403
    code, listing = await learner.get("questions?module=basics&difficulty=easy&tag=functions")
    assert [q["slug"] for q in listing["questions"]] == ["square"]
    assert listing["questions"][0]["points"] == 3
    code, listing = await learner.get("questions?tag=nothing")
    assert listing["questions"] == []
    code, filters = await learner.get("questions/filters")
    assert filters == {
        "categories": ["functions"],
        "difficulties": ["easy"],
        "tags": ["arithmetic", "functions"],
        "types": ["notebook"],
        "languages": ["python"],
    }
    code, modules = await learner.get("modules")
    assert [(m["slug"], m["questions"]) for m in modules["modules"]] == [("basics", 1)]


# submissions: bad input -----------------------------------------------------------


async def test_bad_submissions_get_clear_errors(grader, course):
    learner = grader.client_for("ann")
    qid = course["question"]["id"]
    code, data = await learner.post("submissions", {"question": qid, "notebook": "{not json"})
    assert code == 400 and "JSON" in data["message"]
    nb3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": []}
    code, data = await learner.post("submissions", {"question": qid, "notebook": nb3})
    assert code == 400 and "nbformat 4" in data["message"]
    nb = await student_notebook(learner, qid)
    code, data = await learner.post("submissions", {"question": 9999, "notebook": nb})
    assert code == 404 and "9999" in data["message"]
    code, data = await learner.post("submissions", {"notebook": nb})
    assert code == 400 and "question" in data["message"]
    huge = answer(nb, "x = '" + "a" * (17 * 2**20) + "'")
    code, data = await learner.post("submissions", {"question": qid, "notebook": huge})
    assert code == 413 and "16 MiB" in data["message"]
    code, data = await learner.get("submissions")
    assert data["submissions"] == [], "no half-written submission"


# grading --------------------------------------------------------------------------


async def test_partial_then_full_marks_with_hidden_feedback_kept_secret(grader, course):
    learner = grader.client_for("ann")
    qid = course["question"]["id"]
    nb = await student_notebook(learner, qid)

    result = await submit(learner, qid, answer(nb, PARTIAL))
    assert (result["status"], result["score"], result["max_score"]) == ("graded", 1, 3)
    tests = {t["name"]: t for t in result["tests"]}
    assert tests["visible"]["passed"] and not tests["visible"]["hidden"]
    assert not tests["hidden"]["passed"] and tests["hidden"]["hidden"]
    assert "AssertionError" in tests["hidden"]["message"]
    assert "SECRET_HIDDEN_ASSERT" not in json.dumps(result)
    assert "square(-3)" not in json.dumps(result)

    result = await submit(learner, qid, answer(nb, CORRECT))
    assert result["score"] == 3 and all(t["passed"] for t in result["tests"])

    code, progress = await learner.get("progress")
    basics = progress["modules"][0]
    assert (basics["score"], basics["solved"], basics["total"], basics["percent"]) == (3, 1, 1, 100)
    code, history = await learner.get(f"submissions?question={qid}")
    assert [s["score"] for s in history["submissions"]] == [3, 1]


async def test_unanswered_student_version_scores_zero(grader, course):
    learner = grader.client_for("ann")
    qid = course["question"]["id"]
    result = await submit(learner, qid, await student_notebook(learner, qid))
    assert result["score"] == 0 and result["max_score"] == 3


async def test_deleted_or_edited_tests_are_graded_with_the_source(grader, course):
    learner = grader.client_for("ann")
    qid = course["question"]["id"]
    nb = answer(await student_notebook(learner, qid), PARTIAL)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "visible":
            cell.source = "pass"
            cell.metadata["nbgrader"]["points"] = 100
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "hidden"]
    nb.cells.append(nbgrader_cell("test", "pass", "hidden", 2))
    result = await submit(learner, qid, nb)
    assert (result["score"], result["max_score"]) == (1, 3)


async def test_others_cannot_read_a_submission(grader, course):
    ann, bob = grader.client_for("ann"), grader.client_for("bob")
    qid = course["question"]["id"]
    result = await submit(ann, qid, answer(await student_notebook(ann, qid), CORRECT))
    code, data = await bob.get(f"submissions/{result['id']}")
    assert code == 404
    code, data = await bob.get("submissions?user=ann")
    assert code == 403
    code, data = await course["author"].get(f"submissions/{result['id']}")
    assert code == 200 and data["user"] == "ann"
    code, data = await course["author"].get("progress/ann")
    assert code == 200 and data["modules"][0]["score"] == 3
    code, data = await bob.get("progress/ann")
    assert code == 403


async def test_leaderboard_ranks_by_score_then_who_was_first(grader, course):
    qid = course["question"]["id"]
    clients = {name: grader.client_for(name) for name in ("ann", "bob", "cat")}
    nb = await student_notebook(clients["ann"], qid)
    await submit(clients["bob"], qid, answer(nb, PARTIAL))
    await submit(clients["cat"], qid, answer(nb, CORRECT))
    await submit(clients["ann"], qid, answer(nb, CORRECT))
    code, board = await clients["ann"].get("leaderboard")
    assert code == 200
    assert [(e["rank"], e["user"], e["score"], e["solved"]) for e in board["entries"]] == [
        (1, "cat", 3, 1),
        (2, "ann", 3, 1),
        (3, "bob", 1, 0),
    ]
    assert board["total"] == 3
    code, page = await clients["ann"].get("leaderboard?module=basics&offset=1&limit=1")
    assert [e["user"] for e in page["entries"]] == ["ann"] and page["total"] == 3
    code, data = await clients["ann"].get("leaderboard?limit=0")
    assert code == 400 and "limit" in data["message"]
    code, profile = await clients["bob"].get("profiles/ann")
    assert (profile["score"], profile["solved"], profile["rank"]) == (3, 1, 2)
    code, own = await clients["bob"].request("PATCH", "profile", {"display_name": "Bob B."})
    assert code == 200 and own["display_name"] == "Bob B."
    code, data = await clients["bob"].request("PATCH", "profile", {"name": "root"})
    assert code == 400 and "name" in data["message"]


async def test_gradebook_for_instructors(grader, course):
    qid = course["question"]["id"]
    ann = grader.client_for("ann")
    await submit(ann, qid, answer(await student_notebook(ann, qid), PARTIAL))
    code, book = await course["author"].get("gradebook")
    assert code == 200
    assert book["learners"] == [{"user": "ann", "scores": {str(qid): 1}, "total": 1, "late": []}]
    code, text = await course["author"].get("gradebook.csv")
    assert text.splitlines() == ["user,basics/square,total,late", "ann,1.0,1.0,"]
    assert (await ann.get("gradebook"))[0] == 403


# hostile code ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "code, reason",
    [
        ("def square(x):\n    while True:\n        pass", "time_limit"),
        ("def square(x):\n    while True:\n        print('spam' * 100)", "output_limit"),
        (
            "def square(x):\n    blob = []\n    while True:\n        blob.append(' ' * 10**7)",
            "memory_limit",
        ),
        ("import os\ndef square(x):\n    while True:\n        os.fork()", "process_limit"),
    ],
    ids=["loops-forever", "prints-forever", "allocates-forever", "forks-forever"],
)
async def test_hostile_answers_are_graded_and_the_service_keeps_serving(
    grader, course, code, reason
):
    learner = grader.client_for("ann")
    qid = course["question"]["id"]
    nb = await student_notebook(learner, qid)
    result = await submit(learner, qid, answer(nb, code))
    assert result["status"] == "graded"
    assert result["score"] == 0
    assert any(reason in t["message"] for t in result["tests"]), result["tests"]
    # the service answers, and the next submission is graded as usual
    assert (await learner.get("modules"))[0] == 200
    assert (await submit(learner, qid, answer(nb, CORRECT)))["score"] == 3


# durability -----------------------------------------------------------------------


async def test_a_queued_submission_survives_a_restart_and_is_graded_once(
    grader_env, fake_hub, tmp_path
):
    from grader import orm
    from grader.app import GraderApp

    def fresh_app():
        GraderApp.clear_instance()
        app = GraderApp()
        app.initialize([])
        return app

    app = fresh_app()
    source = square_question()
    with app.session_factory() as db:
        from grader.instructors.authoring import QuestionFields, create_question

        module = orm.Module(course=orm.any_course(db), slug="basics", title="Basics")
        db.add(module)
        question = create_question(db, module, QuestionFields(slug="sq", title="Sq"), source)
        user = orm.User(name="ann")
        db.add(user)
        db.commit()
        # acknowledged, then the grader "dies" before a worker picks it up
        queued = app.queue.enqueue(db, user, question, answer(student_version(source), CORRECT))
        # and one that was being graded when it died: its lease has run out
        running = app.queue.enqueue(db, user, question, answer(student_version(source), PARTIAL))
        running.status, running.claim = "running", "dead-worker"
        running.lease_expires = orm.utcnow()
        db.commit()
        ids = queued.id, running.id
    app.engine.dispose()

    app = fresh_app()  # the restart
    app.queue.start()
    try:
        import asyncio

        for _ in range(600):
            with app.session_factory() as db:
                subs = [orm.Submission.find(db, i) for i in ids]
                if all(s.status == "graded" for s in subs):
                    break
            await asyncio.sleep(0.05)
        assert [(s.status, s.score, s.attempts) for s in subs] == [
            ("graded", 3, 1),
            ("graded", 1, 1),
        ]
        with app.session_factory() as db:
            best = orm.BestScore.find(db, subs[0].user_id, subs[0].question_id)
            assert best.score == 3
    finally:
        await app.queue.stop()
        app.engine.dispose()
        GraderApp.clear_instance()


def test_the_service_refuses_a_database_from_another_version(grader_env, tmp_path):
    from sqlalchemy import text

    from grader import dbutil
    from grader.app import GraderApp

    url = f"sqlite:///{tmp_path}/old.sqlite"
    dbutil.upgrade(url)
    engine = dbutil.make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    GraderApp.clear_instance()
    app = GraderApp(db_url=url)
    with pytest.raises(dbutil.SchemaMismatch, match="upgrade-db"):
        app.init_db()


# big or deep input ----------------------------------------------------------------


def one_line_cells(nb, count: int, size: int = 0) -> dict:
    """``nb`` as plain JSON with ``count`` one-line code cells added at the end (where
    grading ignores them), each padded to about ``size`` bytes of JSON."""
    nb = json.loads(json.dumps(nb))
    pad = "#" * max(size - 120, 0)
    nb["cells"] += [
        {
            "cell_type": "code",
            "id": f"c{i}",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": f"x{i} = {i}  {pad}",
        }
        for i in range(count)
    ]
    return nb


async def test_a_huge_notebook_is_refused_while_the_service_keeps_answering(grader, course):
    """100,000 one-line cells in just under 16 MiB: a 400 naming the cell limit, and a
    request that arrives while the service works on it is answered first."""
    import asyncio
    from urllib.parse import urlparse

    from grader.grading.notebooks import MAX_CELLS
    from grader.handlers.submissions import MAX_NOTEBOOK_BYTES

    learner = grader.client_for("ann")
    qid = course["question"]["id"]
    nb = one_line_cells(await student_notebook(learner, qid), 100_000, size=160)
    body = json.dumps({"question": qid, "notebook": nb}).encode()
    assert 15 * 2**20 < len(body) <= MAX_NOTEBOOK_BYTES

    # send all of it but its last byte; the service reads it as it comes
    url = urlparse(grader.base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(
        f"POST {url.path}submissions HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"Authorization: token {learner.token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body[:-1]
    )
    await writer.drain()
    assert (await learner.get("modules"))[0] == 200  # by now the service has read the rest
    # the last byte: the service starts on the notebook; meanwhile, a cheap request
    order = []
    writer.write(body[-1:])
    await writer.drain()
    big = asyncio.ensure_future(reader.read())
    cheap = asyncio.ensure_future(learner.get("modules"))
    big.add_done_callback(lambda _: order.append("big"))
    cheap.add_done_callback(lambda _: order.append("cheap"))
    response, (code, modules) = await asyncio.gather(big, cheap)
    writer.close()
    assert code == 200 and modules["modules"]
    head, _, payload = response.partition(b"\r\n\r\n")
    assert head.split()[1] == b"400", response[:1000]
    message = json.loads(payload)["message"]
    assert "100,004 cells" in message and f"at most {MAX_CELLS:,} cells" in message
    assert order == ["cheap", "big"]
    code, data = await learner.get("submissions")
    assert data["submissions"] == [], "no half-written submission"


async def test_deeply_nested_or_sprawling_json_is_a_400_never_a_500(grader, course):
    from grader.grading.notebooks import MAX_JSON_CONTAINERS
    from grader.handlers.base import MAX_BODY_CONTAINERS

    learner, author = grader.client_for("ann"), course["author"]
    qid = course["question"]["id"]
    deep = "[" * 100_000 + "]" * 100_000
    # the notebook as JSON text, nested 100,000 deep
    text = '{"nbformat": 4, "nbformat_minor": 5, "cells": [], "metadata": {"x": ' + deep + "}}"
    code, data = await learner.post("submissions", {"question": qid, "notebook": text})
    assert code == 400 and "nested more than 64 levels" in data["message"], data
    # the whole request body nested 100,000 deep, or the notebook in it 500 deep (a body
    # may nest one level more than the notebook it holds)
    raw = f'{{"question": {qid}, "notebook": {{"metadata": {deep}}}}}'.encode()
    code, data = await learner.post("submissions", raw=raw)
    assert code == 400 and "request body is nested more than 65" in data["message"], data
    nb = json.loads(json.dumps(await student_notebook(learner, qid)))
    nb["metadata"]["x"] = json.loads("[" * 500 + "]" * 500)
    code, data = await learner.post("submissions", {"question": qid, "notebook": nb})
    assert code == 400 and "request body is nested more than 65" in data["message"], data
    raw = '{"module": "basics", "slug": "deep", "title": "Deep", "notebook": ' + deep + "}"
    code, data = await author.post("questions", raw=raw.encode())
    assert code == 400 and "levels deep" in data["message"], data
    code, data = await author.request(
        "PUT", f"questions/{qid}", {"notebook": nb, "title": "Not saved"}
    )
    assert code == 400 and "levels deep" in data["message"], data
    # shallow, but sprawling: more arrays than any notebook needs
    nb["metadata"]["x"] = [[] for _ in range(MAX_JSON_CONTAINERS + 10_000)]
    code, data = await learner.post("submissions", {"question": qid, "notebook": nb})
    assert code == 400 and "JSON arrays and objects" in data["message"], data
    assert f"at most {MAX_BODY_CONTAINERS:,} are accepted" in data["message"]
    # nothing was stored, and the service answers as usual
    assert (await learner.get("submissions"))[1]["submissions"] == []
    code, question = await learner.get(f"questions/{qid}")
    assert question["title"] == "Square a number" and question["version"] == 1
    assert (await learner.get("health"))[0] == 200


async def test_a_notebook_at_the_limits_is_graded(grader, course):
    from grader.grading.notebooks import MAX_CELLS, MAX_CODE_CELL_CHARS, MAX_JSON_DEPTH

    learner, author = grader.client_for("ann"), course["author"]
    qid = course["question"]["id"]
    nb = answer(await student_notebook(learner, qid), CORRECT)
    nb = one_line_cells(nb, MAX_CELLS - len(nb.cells))
    nb["cells"][-1]["source"] = "x" * MAX_CODE_CELL_CHARS
    deep: list = []
    for _ in range(MAX_JSON_DEPTH - 3):  # the notebook, its metadata, then 62 lists
        deep = [deep]
    nb["metadata"]["x"] = deep
    result = await submit(learner, qid, nb)
    assert (result["status"], result["score"]) == ("graded", 3)
    # one more cell is one too many
    nb["cells"].append(nb["cells"][-2])
    code, data = await learner.post("submissions", {"question": qid, "notebook": nb})
    assert code == 400 and f"at most {MAX_CELLS:,} cells" in data["message"]
    # an instructor's question at the limits is saved, as a new version
    source = one_line_cells(square_question(), MAX_CELLS - 4)
    source["metadata"]["x"] = deep
    code, data = await author.request("PUT", f"questions/{qid}", {"notebook": source})
    assert code == 200 and data["version"] == 2, data


async def test_bodies_without_a_notebook_are_small(grader):
    author = grader.client_for("teacher", (LEARN, AUTHOR))
    big = {"slug": "big", "title": "Big", "description": "x" * 2**20}
    code, data = await author.post("modules", big)
    assert code == 413 and "1 MiB" in data["message"], data
    code, data = await author.request("PATCH", "profile", {"bio": "x" * 2**20})
    assert code == 413 and "1 MiB" in data["message"], data
