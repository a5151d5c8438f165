"""The audit log (grader/audit/, grader/handlers/audit.py): every listed instructor and
admin action, and every grade change, leaves exactly one entry, in the transaction of
the change; nobody changes an entry, through the API or the database; the hash chain
finds an edit made behind the triggers' back; admins read and export it, instructors
their own courses' entries, learners nothing; followers get it as server-sent events,
replayed after a disconnect.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import threading

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from grader import audit, orm
from grader.audit.chain import verify
from grader.scopes import AUDIT_SCOPE, HUB_SCOPE
from tests.conftest import ACCESS, AUTHOR, LEARN, Client, answer, fake_hub_course, square_question
from tests.test_push_events import EventStream

pytestmark = pytest.mark.sandbox


# helpers ----------------------------------------------------------------------


def last_id(grader) -> int:
    with grader.session_factory() as db:
        return db.scalar(select(func.coalesce(func.max(orm.AuditEntry.id), 0)))


def entries_after(grader, entry_id: int) -> list[orm.AuditEntry]:
    with grader.session_factory() as db:
        return list(
            db.scalars(
                select(orm.AuditEntry)
                .where(orm.AuditEntry.id > entry_id)
                .order_by(orm.AuditEntry.id)
            )
        )


def admin_client(grader, fake_hub, name="root") -> Client:
    client = grader.client_for(name, ())
    fake_hub.tokens[client.token]["admin"] = True
    return client


def hub_client(grader, fake_hub) -> Client:
    """The Hub's own service token (hub_config's `coursehub-hub`)."""
    fake_hub.tokens["hub-calls"] = {
        "kind": "service",
        "name": "coursehub-hub",
        "scopes": [HUB_SCOPE, ACCESS],
    }
    return Client(grader.base_url, "hub-calls")


def manual_question() -> nbformat.NotebookNode:
    """`square` autograded (1 point) and an essay graded by hand (3)."""

    def meta(gid, **kw):
        return {"nbgrader": {"grade": False, "solution": False, "locked": False,
                             "grade_id": gid, "schema_version": 3, **kw}}  # fmt: skip

    return new_notebook(
        cells=[
            new_code_cell(
                "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION",
                metadata=meta("square", solution=True),
            ),
            new_code_cell(
                "assert square(3) == 9", metadata=meta("test", grade=True, locked=True, points=1)
            ),
            new_markdown_cell("Why?", metadata=meta("essay", grade=True, solution=True, points=3)),
        ],
        metadata={
            "kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}
        },
    )


async def question(author, slug, notebook=None, **fields) -> dict:
    code, data = await author.post(
        "questions",
        {"module": "basics", "slug": slug, "title": slug,
         "notebook": notebook or square_question(), **fields},
    )  # fmt: skip
    assert code == 201, data
    return data


async def submit(client, question_id, grade_id="square-solution") -> dict:
    code, q = await client.get(f"questions/{question_id}")
    assert code == 200, q
    notebook = answer(q["notebook"], "def square(x):\n    return x * x", grade_id)
    code, sub = await client.post("submissions", {"question": question_id, "notebook": notebook})
    assert code == 202, sub
    return await client.wait_graded(sub["id"])


# every listed action: exactly one entry ------------------------------------------


@pytest.fixture
async def world(grader, fake_hub, course):
    """The demo course with a module and a question (the `course` fixture), a learner
    in it, a second empty module, an open course, an admin and the Hub's token."""
    teacher = course["author"]
    ann = grader.client_for("ann", (LEARN + "!group=course-demo",))
    await fake_hub_course(grader, fake_hub, "opencourse", join="open")
    code, data = await teacher.post(
        "modules", {"course": "demo", "slug": "spare", "title": "Spare"}
    )
    assert code == 201, data
    return {
        **course,
        "teacher": teacher,
        "ann": ann,
        "bob": grader.client_for("bob", ()),  # in no course yet
        "admin": admin_client(grader, fake_hub),
        "hub": hub_client(grader, fake_hub),
        "spare": data,
    }


async def _ok(expected_codes, coro):
    code, data = await coro
    assert code in expected_codes, data
    return data


def _cases():
    """(name, action(world) -> awaitable, the actions of the entries it leaves)."""
    q = lambda w: w["question"]["id"]  # noqa: E731

    async def draft_then_release(w):
        draft = await question(w["teacher"], "drafted", release=None)
        w["mark"]()  # only the release counts here
        await _ok(
            (200,), w["teacher"].request("PUT", f"questions/{draft['id']}", {"release": "now"})
        )

    async def manual_grade(w):
        manual = await question(w["teacher"], "essay", manual_question())
        graded = await submit(w["ann"], manual["id"], "square")
        assert graded["status"] == "graded", graded
        w["mark"]()  # the autograding's own grade.changed is not this action's
        await _ok(
            (200,),
            w["teacher"].request(
                "PUT", f"submissions/{graded['id']}/grades/essay", {"points": 2, "comment": "ok"}
            ),
        )

    async def learner_graded(w):
        await submit(w["ann"], q(w))

    async def regrade(w):
        fresh = await question(w["teacher"], "regraded")
        w["mark"]()
        await _ok(
            (200,), w["teacher"].request("PUT", f"questions/{fresh['id']}", {"regrade": True})
        )

    async def restore(w):
        await _ok((204,), w["teacher"].request("DELETE", f"questions/{q(w)}"))
        w["mark"]()
        await _ok((200,), w["teacher"].request("PUT", f"questions/{q(w)}", {"retired": False}))

    async def leave(w):
        await _ok((200,), w["bob"].post("courses/opencourse/enrol"))
        w["mark"]()
        await _ok((204,), w["bob"].request("DELETE", "courses/opencourse/enrol"))

    async def remove(w):
        await _ok((201,), w["teacher"].post("courses/demo/members", {"user": "cat"}))
        w["mark"]()
        await _ok((204,), w["teacher"].request("DELETE", "courses/demo/members/cat"))

    def account(action):
        return lambda w: _ok(
            (201,),
            w["hub"].post(
                "audit/entries",
                {
                    "actor": "root",
                    "action": action,
                    "target": "user mallory",
                    "address": "192.0.2.7",
                },
            ),  # fmt: skip
        )

    return [
        ("question.create", lambda w: question(w["teacher"], "cube"), ["question.create"]),
        (
            "question.update",
            lambda w: _ok(
                (200,), w["teacher"].request("PUT", f"questions/{q(w)}", {"title": "New"})
            ),
            ["question.update"],
        ),
        ("question.release", draft_then_release, ["question.release"]),
        (
            "question.retire",
            lambda w: _ok((204,), w["teacher"].request("DELETE", f"questions/{q(w)}")),
            ["question.retire"],
        ),
        ("question.restore", restore, ["question.restore"]),
        (
            "rules.update (question)",
            lambda w: _ok(
                (200,),
                w["teacher"].request(
                    "PUT", f"questions/{q(w)}", {"due": "2030-01-01T00:00:00Z", "cooloff": 5}
                ),
            ),
            ["rules.update"],
        ),
        (
            "rules.update (module)",
            lambda w: _ok(
                (200,), w["teacher"].request("PUT", "modules/basics", {"late_policy": "refuse"})
            ),
            ["rules.update"],
        ),
        ("submission.regrade", regrade, ["submission.regrade"]),
        (
            "module.create",
            lambda w: _ok(
                (201,),
                w["teacher"].post("modules", {"course": "demo", "slug": "more", "title": "More"}),
            ),
            ["module.create"],
        ),
        (
            "module.update",
            lambda w: _ok((200,), w["teacher"].request("PUT", "modules/spare", {"title": "S"})),
            ["module.update"],
        ),
        (
            "module.delete",
            lambda w: _ok((204,), w["teacher"].request("DELETE", "modules/spare")),
            ["module.delete"],
        ),
        (
            "course.create",
            lambda w: _ok((201,), w["teacher"].post("courses", {"slug": "c2", "title": "C2"})),
            ["course.create"],
        ),
        (
            "course.update",
            lambda w: _ok(
                (200,),
                w["teacher"].request("PUT", "courses/demo", {"title": "Demo!", "new_code": True}),
            ),
            ["course.update"],
        ),
        (
            "enrolment.add",
            lambda w: _ok((201,), w["teacher"].post("courses/demo/members", {"user": "dan"})),
            ["enrolment.add"],
        ),
        ("enrolment.remove", remove, ["enrolment.remove"]),
        (
            "enrolment.join",
            lambda w: _ok((200,), w["bob"].post("courses/opencourse/enrol")),
            ["enrolment.join"],
        ),
        ("enrolment.leave", leave, ["enrolment.leave"]),
        (
            "export.gradebook",
            lambda w: _ok((200,), w["teacher"].get("gradebook.csv?course=demo")),
            ["export.gradebook"],
        ),
        ("export.audit", lambda w: _ok((200,), w["admin"].get("audit.csv")), ["export.audit"]),
        (
            "ai.settings",
            lambda w: _ok(
                (200,), w["teacher"].request("PUT", "courses/demo/ai", {"daily_budget": 7})
            ),
            ["ai.settings"],
        ),
        ("grade.hand", manual_grade, ["grade.hand", "grade.changed"]),
        ("grade.changed", learner_graded, ["grade.changed"]),
        *[
            (a, account(a), [a])
            for a in (
                "account.approve",
                "account.reject",
                "account.restrict",
                "account.unrestrict",
                "account.reset",
            )
        ],  # fmt: skip
    ]


CASES = _cases()


@pytest.mark.parametrize("name,act,expected", CASES, ids=[c[0] for c in CASES])
async def test_each_action_leaves_exactly_one_entry(grader, world, name, act, expected):
    mark = {"id": last_id(grader)}
    world["mark"] = lambda: mark.update(id=last_id(grader))
    await act(world)
    new = entries_after(grader, mark["id"])
    assert [e.action for e in new] == expected, [(e.action, e.actor, e.detail) for e in new]
    entry = new[0]
    assert entry.time is not None and entry.hash
    if name.startswith("account."):
        # the admin the Hub named, vouched for by the Hub's own service
        assert (entry.actor, entry.actor_kind, entry.address) == ("root", "user", "192.0.2.7")
        assert entry.detail["via"] == "coursehub-hub" and entry.course_id is None
    elif name == "grade.changed":
        assert (entry.actor, entry.actor_kind) == ("grader", "system")
        assert entry.detail["user"] == "ann" and entry.detail["cause"] == "submission"
        assert (entry.detail["old"], entry.detail["new"]) == (None, 3.0)
    elif name == "export.audit":
        assert entry.actor == "root"
    elif name in ("enrolment.join", "enrolment.leave"):
        assert entry.actor == "bob" and entry.target == "user bob"
    else:
        assert (entry.actor, entry.actor_kind) == ("teacher", "user")
        assert entry.course_id is not None
        # the request's client address, from the database thread (audit.client_address)
        assert entry.address == "127.0.0.1"
    if name == "grade.hand":
        hand, changed = new
        assert hand.detail["cell"] == "essay" and hand.detail["points"] == 2.0
        assert changed.actor == "teacher" and changed.detail["cause"] == "hand_grade"
        assert (changed.detail["old"], changed.detail["new"]) == (1.0, 3.0)
    if name == "course.update":
        # what changed, never the new join code
        with grader.session_factory() as db:
            code = db.scalar(select(orm.Course.join_code).where(orm.Course.slug == "demo"))
        assert entry.detail["new_code"] is True and code not in json.dumps(entry.detail)
    assert verify(grader.session_factory).ok


async def test_an_action_refused_leaves_no_entry(grader, world):
    before = last_id(grader)
    code, _ = await world["ann"].request(
        "PUT", f"questions/{world['question']['id']}", {"title": "x"}
    )
    assert code in (403, 404)
    code, _ = await world["teacher"].post(
        "modules", {"course": "demo", "slug": "basics", "title": "Again"}
    )
    assert code == 409
    code, _ = await world["teacher"].request(
        "PUT", f"questions/{world['question']['id']}", {"title": "ok", "due": "not a date"}
    )
    assert code == 400  # the title was set, then the request failed: nothing recorded
    assert entries_after(grader, before) == []


# nobody changes an entry --------------------------------------------------------


AUDIT_PATHS = [
    "audit",
    "audit.csv",
    "audit.jsonl",
    "audit/entries",
    "audit/entries/1",
    "audit/verify",
    "audit/events",
]


@pytest.mark.parametrize("who", ["admin", "hub", "teacher"])
async def test_no_api_changes_or_deletes_an_entry(grader, world, who):
    before = entries_after(grader, 0)
    assert before
    client = world[who]
    for path in AUDIT_PATHS:
        for method in ("PUT", "PATCH", "DELETE"):
            code, data = await client.request(
                method, path, {"detail": {"forged": True}}, contract=False
            )
            assert code in (404, 405), (method, path, code, data)
    # a POST anywhere but the Hub's own path adds nothing either
    for path in [p for p in AUDIT_PATHS if p != "audit/entries"]:
        code, _ = await client.request("POST", path, {"action": "account.restrict"}, contract=False)
        assert code in (403, 404, 405), (path, code)
    after = entries_after(grader, 0)
    assert [(e.id, e.hash) for e in after[: len(before)]] == [(e.id, e.hash) for e in before]
    # an instructor or admin may not write entries, nor name another actor
    if who != "hub":
        code, data = await client.post(
            "audit/entries", {"actor": "someone", "action": "account.restrict"}
        )
        assert code == 403, data
    assert len(entries_after(grader, 0)) == len(before)


async def test_the_hub_records_account_actions_only(grader, world):
    hub = world["hub"]
    for body in (
        {"actor": "root", "action": "grade.changed"},  # not the Hub's to say
        {"actor": "", "action": "account.restrict"},
        {"actor": "root", "action": "account.restrict", "detail": "x"},
        {"actor": "root", "action": "account.restrict", "target": 5},
        {"actor": "root" * 100, "action": "account.restrict"},
    ):
        code, data = await hub.post("audit/entries", body)
        assert code == 400, (body, data)


def test_the_database_refuses_update_and_delete(grader):
    with grader.session_factory() as db:
        audit.record(db, actor="teacher", action="question.create", target="question 1")
        db.commit()
    for statement in (
        "UPDATE audit_entries SET actor = 'nobody'",
        "UPDATE audit_entries SET hash = 'x' WHERE id = 1",
        "DELETE FROM audit_entries",
        "DELETE FROM audit_entries WHERE id = 1",
    ):
        with grader.engine.connect() as connection:
            with pytest.raises(DBAPIError, match="append-only"):
                connection.execute(text(statement))
    assert verify(grader.session_factory).ok


def _drop_triggers(connection):
    if connection.dialect.name == "postgresql":
        connection.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))
    else:
        connection.execute(text("DROP TRIGGER audit_entries_no_update"))
        connection.execute(text("DROP TRIGGER audit_entries_no_delete"))


def test_an_edit_behind_the_triggers_back_is_found(grader, capsys):
    with grader.session_factory() as db:
        for n in range(5):
            audit.record(db, actor="teacher", action="grade.hand", target=f"submission {n}",
                         detail={"points": n})  # fmt: skip
            db.commit()
    assert verify(grader.session_factory).ok
    with grader.engine.begin() as connection:
        _drop_triggers(connection)
        connection.execute(
            text("UPDATE audit_entries SET detail = :d WHERE id = 3"), {"d": '{"points": 9}'}
        )
    found = verify(grader.session_factory)
    assert not found.ok and [p["id"] for p in found.problems] == [3]
    # the command an admin runs says so too, with exit status 1
    from grader import cli

    with pytest.raises(SystemExit) as exit_status:
        cli.main(["audit", "verify", "--db-url", grader.db_url])
    assert exit_status.value.code == 1
    assert json.loads(capsys.readouterr().out)["problems"][0]["id"] == 3


def test_removed_and_forged_entries_are_found(grader):
    with grader.session_factory() as db:
        for n in range(6):
            audit.record(db, actor="teacher", action="grade.hand", target=f"submission {n}")
            db.commit()
    with grader.engine.begin() as connection:
        _drop_triggers(connection)
        connection.execute(text("DELETE FROM audit_entries WHERE id = 2"))
        connection.execute(text("DELETE FROM audit_entries WHERE id = 6"))  # the last one
    problems = verify(grader.session_factory).problems
    assert {p["id"] for p in problems} >= {3, 6}, problems


def test_concurrent_writers_keep_one_chain(grader):
    """Two threads (two API replicas, two grading workers) recording at once: ids
    dense, each hash chained to the entry before."""
    errors = []

    def write(who):
        try:
            for n in range(40):
                with grader.session_factory() as db:
                    audit.record(db, actor=who, action="grade.hand", target=f"submission {n}")
                    db.commit()
        except Exception as e:  # pragma: no cover - the failure is the assertion below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(name,)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    found = verify(grader.session_factory)
    assert found.ok, found.problems
    ids = [e.id for e in entries_after(grader, 0)]
    assert ids == list(range(1, len(ids) + 1)) and len(ids) >= 80


# who reads it -------------------------------------------------------------------


async def test_learners_read_nothing(grader, world):
    ann = world["ann"]
    await submit(ann, world["question"]["id"])  # a grade.changed about ann herself
    for path in ("audit", "audit.csv", "audit.jsonl", "audit/verify", "audit/entries/1",
                 "audit/events", "audit?course=demo"):  # fmt: skip
        code, data = await ann.get(path)
        assert code == 403, (path, data)
    # the page too (a signed-in learner's browser)
    code, _ = await Client(grader.base_url.replace("api/v1/", ""), ann.token).get("audit")
    assert code == 403


async def test_instructors_read_their_own_courses_entries(grader, fake_hub, world):
    await fake_hub_course(grader, fake_hub, "other")
    other = grader.client_for("olga", (LEARN, AUTHOR + "!group=course-other"))
    code, data = await other.post("modules", {"course": "other", "slug": "m", "title": "M"})
    assert code == 201, data
    await world["hub"].post("audit/entries", {"actor": "root", "action": "account.restrict"})
    code, data = await other.get("audit")
    assert code == 200, data
    assert {e["course"] for e in data["entries"]} == {"other"}
    assert [e["action"] for e in data["entries"]] == ["module.create"]
    code, data = await other.get("audit?course=demo")
    assert code == 404, data
    demo_entry = entries_after(grader, 0)[0]  # the `course` fixture's module.create
    code, _ = await other.get(f"audit/entries/{demo_entry.id}")
    assert code == 404
    # the admin reads everything, account actions included
    code, data = await world["admin"].get("audit?limit=1000")
    assert code == 200
    assert {"other", "demo", None} <= {e["course"] for e in data["entries"]}
    # a token with the audit scope (a SIEM) too
    siem = grader.client_for("siem", (AUDIT_SCOPE,))
    code, data2 = await siem.get("audit?limit=1000")
    assert code == 200 and len(data2["entries"]) == len(data["entries"])


async def test_filters_and_keyset_paging(grader, world):
    admin = world["admin"]
    code, data = await admin.get("audit?action=question.*&limit=1")
    assert code == 200 and len(data["entries"]) == 1 and data["next"]
    first = data["entries"][0]
    code, data = await admin.get(f"audit?action=question.*&after_id={data['next']}")
    assert all(
        e["id"] > first["id"] and e["action"].startswith("question.") for e in data["entries"]
    )
    code, data = await admin.get("audit?actor=teacher&course=demo")
    assert data["entries"] and all(e["actor"] == "teacher" for e in data["entries"])
    code, data = await admin.get("audit?since=2100-01-01T00:00:00Z")
    assert code == 200 and data["entries"] == []
    code, data = await admin.get("audit?since=yesterday")
    assert code == 400
    code, data = await admin.get("audit?before_id=3")
    assert [e["id"] for e in data["entries"]] == [2, 1]


async def test_the_exports_rows_equal_the_entries(grader, world):
    admin = world["admin"]
    await submit(world["ann"], world["question"]["id"])
    code, listed = await admin.get("audit?limit=1000")
    entries = listed["entries"]
    code, body = await admin.get("audit.jsonl")
    assert code == 200
    assert "application/x-ndjson" in admin.last_response.headers["Content-Type"]
    rows = [json.loads(line) for line in body.splitlines()]
    # the export is on the record before its first byte: its own entry is its last row
    assert rows[:-1] == entries
    assert rows[-1]["action"] == "export.audit" and rows[-1]["target"] == "audit.jsonl"
    code, listed = await admin.get("audit?limit=1000")
    entries = listed["entries"]
    code, text_ = await admin.get("audit.csv")
    assert code == 200
    table = list(csv.DictReader(io.StringIO(text_)))
    assert [int(r["id"]) for r in table] == [e["id"] for e in entries] + [entries[-1]["id"] + 1]
    for row, entry in zip(table, entries, strict=False):
        assert (row["action"], row["actor"], row["target"], row["hash"]) == (
            entry["action"], entry["actor"], entry["target"], entry["hash"]
        )  # fmt: skip
        assert json.loads(row["detail"]) == entry["detail"]
        assert row["time"] == entry["time"] and row["course"] == (entry["course"] or "")
    assert table[-1]["action"] == "export.audit"


async def test_the_admin_page_lists_and_filters(grader, world):
    pages = Client(grader.base_url.replace("api/v1/", ""), world["admin"].token)
    code, html = await pages.get("audit?action=question.create")
    assert code == 200
    assert 'id="audit"' in html and "question.create" in html and "module.create" not in html
    code, html = await pages.get("audit?since=bad")
    assert code == 400
    # an instructor's page: their course's entries (linked from the course's tabs)
    mine = Client(pages.base_url, world["teacher"].token)
    code, html = await mine.get("audit?course=demo")
    assert code == 200 and "module.create" in html


async def test_verify_endpoint(grader, world):
    code, data = await world["admin"].get("audit/verify")
    assert code == 200 and data["ok"] and data["entries"] == data["head"]["id"] > 0
    code, data = await world["teacher"].get("audit/verify")
    assert code == 403


# the event stream ----------------------------------------------------------------


async def test_events_replay_after_a_disconnect(grader, world, monkeypatch):
    grader.audit_watch.interval = 0.05
    admin = world["admin"]
    feed = Client(grader.base_url + "audit/", admin.token)
    stream = await EventStream(feed).open()
    assert stream.status == 200
    teacher = world["teacher"]
    await teacher.request("PUT", "modules/basics", {"title": "One"})
    first = await stream.next()
    assert first["event"] == "audit" and first["data"]["action"] == "module.update"
    await stream.close()
    # while nobody listens: two more
    await teacher.request("PUT", "modules/basics", {"title": "Two"})
    await teacher.request("PUT", "modules/basics", {"due": "2031-01-01T00:00:00Z"})
    again = await EventStream(feed, last_event_id=first["id"]).open()
    missed = [await again.next(), await again.next()]
    assert [m["data"]["action"] for m in missed] == ["module.update", "rules.update"]
    assert [m["id"] for m in missed] == [first["id"] + 1, first["id"] + 2]
    assert missed[1]["data"]["hash"] == entries_after(grader, 0)[-1].hash
    await asyncio.sleep(0.2)
    assert again.pending() == []
    await again.close()


async def test_instructors_stream_only_their_course(grader, fake_hub, world):
    grader.audit_watch.interval = 0.05
    await fake_hub_course(grader, fake_hub, "other")
    olga = grader.client_for("olga", (LEARN,))
    fake_hub.groups["course-other-instructors"].add("olga")
    fake_hub.grant("olga")
    stream = await EventStream(Client(grader.base_url + "audit/", olga.token)).open()
    await world["teacher"].request("PUT", "modules/basics", {"title": "Demo's"})
    code, _ = await olga.post("modules", {"course": "other", "slug": "m", "title": "M"})
    assert code == 201
    event = await stream.next()
    assert event["data"]["course"] == "other" and event["data"]["action"] == "module.create"
    await asyncio.sleep(0.2)
    assert stream.pending() == []
    await stream.close()
    learner = await EventStream(Client(grader.base_url + "audit/", world["ann"].token)).open()
    assert learner.status == 403
