"""Integrity signals, opt-in per course (grader.learners.integrity): the course's
setting, signals sent with a submission, who reads them.

Service tests: the grader in-process on a migrated SQLite, people signed in with Hub
tokens holding their courses' filtered scopes (as the Hub grants them). What a learner
would notice: off by default, told when on (`GET courses`), their own signals shown
back to them. What an attacker would try: hostile `integrity` objects (huge lists,
negative numbers, NaN and infinities, unknown keys, strings, deep nesting) must be a
400 naming the field with no submission stored; another learner, or an instructor of
another course, reading someone's signals; a learner or another course's instructor
turning the setting on or off.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from grader import orm
from tests.conftest import fake_hub_course
from tests.test_grader_pages import fetch, page_url, token_header
from tests.test_watch_pages import learns, teaches

pytestmark = pytest.mark.sandbox

SIGNALS = {
    "pastes": [12, 480],
    "paste_count": 2,
    "paste_chars": 492,
    "away_count": 0,
    "away_seconds": 0,
    "timed": None,
    "open_seconds": 300.5,
    "visible_seconds": 250,
}


@pytest.fixture
async def world(grader, fake_hub, course):
    """demo (the square question; instructor tess) and other (instructor olga); ann and
    bob learn in demo."""
    await fake_hub_course(grader, fake_hub, "other")
    return SimpleNamespace(
        grader=grader,
        question=course["question"]["id"],
        tess=grader.client_for("tess", teaches("demo")),
        olga=grader.client_for("olga", teaches("other")),
        ann=grader.client_for("ann", learns("demo")),
        bob=grader.client_for("bob", learns("demo")),
    )


async def set_integrity(client, enabled, course="demo"):
    return await client.request("PUT", f"courses/{course}/integrity", {"enabled": enabled})


async def notebook_of(client, question_id) -> dict:
    code, model = await client.get(f"questions/{question_id}")
    assert code == 200, model
    return model["notebook"]


async def submit(client, question_id, integrity=None, raw_integrity: str | None = None):
    """POST submissions with the student notebook and ``integrity`` (or its raw JSON
    text, for what json.dumps will not write)."""
    notebook = await notebook_of(client, question_id)
    if raw_integrity is not None:
        body = json.dumps({"question": question_id, "notebook": notebook})
        raw = (body[:-1] + f', "integrity": {raw_integrity}}}').encode()
        return await client.post("submissions", raw=raw)
    body = {"question": question_id, "notebook": notebook}
    if integrity is not None:
        body["integrity"] = integrity
    return await client.post("submissions", body)


def counts(grader) -> tuple[int, int]:
    with grader.session_factory() as db:
        return (
            db.scalar(select(func.count()).select_from(orm.Submission)),
            db.scalar(select(func.count()).select_from(orm.IntegritySignals)),
        )


# the course's setting ---------------------------------------------------------------


async def test_off_by_default_and_turned_on_by_the_courses_instructor(world):
    code, data = await world.tess.get("courses/demo/integrity")
    assert code == 200, data
    assert data["enabled"] is False and data["updated"] is None
    assert any("paste" in item for item in data["recorded"])
    assert "keystrokes" in data["not_recorded"] and "the pasted text" in data["not_recorded"]
    assert "never proof" in data["caveat"]
    code, courses = await world.ann.get("courses")
    assert code == 200
    assert {c["slug"]: c["integrity"] for c in courses["courses"]}["demo"] is False

    code, data = await set_integrity(world.tess, True)
    assert code == 200 and data["enabled"] is True and data["updated_by"] == "tess", data
    # learners are told: their course list says so
    code, courses = await world.ann.get("courses")
    assert {c["slug"]: c["integrity"] for c in courses["courses"]}["demo"] is True
    code, data = await world.tess.get("courses/demo/integrity")
    assert data["enabled"] is True
    # by id too
    code, data = await world.tess.get(f"courses/{courses['courses'][0]['id']}/integrity")
    assert code == 200

    code, data = await set_integrity(world.tess, False)
    assert code == 200 and data["enabled"] is False


async def test_only_the_courses_instructors_read_or_change_the_setting(world):
    # a learner of the course: 403; an instructor of another course: 404 (they may not
    # even know the course); nobody: 403
    for client, expected in ((world.ann, 403), (world.olga, 404)):
        code, data = await client.get("courses/demo/integrity")
        assert code == expected, (client.token, data)
        code, data = await set_integrity(client, True)
        assert code == expected, (client.token, data)
    anonymous = type(world.ann)(world.ann.base_url, None)
    code, _ = await set_integrity(anonymous, True)
    assert code == 403
    code, data = await world.tess.get("courses/demo/integrity")
    assert data["enabled"] is False


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "enabled"),
        ({"enabled": "yes"}, "enabled"),
        ({"enabled": 1}, "enabled"),
        ({"enabled": True, "paste_text": True}, "paste_text"),
    ],
)
async def test_a_bad_setting_is_a_400_naming_the_field(world, body, field):
    code, data = await world.tess.request("PUT", "courses/demo/integrity", body)
    assert code == 400 and field in data["message"], data
    code, data = await world.tess.get("courses/demo/integrity")
    assert data["enabled"] is False


async def test_each_change_is_one_audit_entry(world):
    entry = getattr(orm, "AuditEntry", None)
    if entry is None:
        pytest.skip("the audit log's table is not there yet")
    await set_integrity(world.tess, True)
    await set_integrity(world.tess, True)  # no change: no entry
    await set_integrity(world.tess, False)
    with world.grader.session_factory() as db:
        rows = db.scalars(select(entry).where(entry.action == "integrity.settings")).all()
    assert len(rows) == 2
    assert [r.actor for r in rows] == ["tess", "tess"]


# signals with a submission ------------------------------------------------------------


async def test_signals_are_stored_with_the_submission_when_on(world):
    await set_integrity(world.tess, True)
    code, data = await submit(world.ann, world.question, SIGNALS)
    assert code == 202, data
    sid = data["id"]
    # the learner sees their own, the course's instructor too
    for client in (world.ann, world.tess):
        code, model = await client.get(f"submissions/{sid}")
        assert code == 200, model
        signals = model["integrity"]
        assert signals["pastes"] == [12, 480] and signals["paste_count"] == 2
        assert signals["paste_chars"] == 492 and signals["largest_paste"] == 480
        assert signals["open_seconds"] == 300.5 and signals["visible_seconds"] == 250
        assert signals["timed"] is None and signals["self_reported"] is True
    # a submission sent without signals has none
    code, data = await submit(world.ann, world.question)
    assert code == 202
    code, model = await world.ann.get(f"submissions/{data['id']}")
    assert model["integrity"] is None


async def test_signals_for_a_course_with_them_off_are_dropped(world):
    code, data = await submit(world.ann, world.question, SIGNALS)
    assert code == 202, data
    code, model = await world.tess.get(f"submissions/{data['id']}")
    assert code == 200 and model["integrity"] is None
    assert counts(world.grader) == (1, 0)
    # turned off again after being on: dropped again
    await set_integrity(world.tess, True)
    await set_integrity(world.tess, False)
    code, data = await submit(world.ann, world.question, SIGNALS)
    assert code == 202
    assert counts(world.grader) == (2, 0)


async def test_timed_signals_round_trip(world):
    await set_integrity(world.tess, True)
    signals = {"away_count": 3, "away_seconds": 41.5, "timed": "duel", "open_seconds": 90}
    code, data = await submit(world.bob, world.question, signals)
    assert code == 202, data
    code, model = await world.tess.get(f"submissions/{data['id']}")
    got = model["integrity"]
    assert (got["away_count"], got["away_seconds"], got["timed"]) == (3, 41.5, "duel")
    assert got["paste_count"] == 0 and got["pastes"] == []


HOSTILE = [
    # (the integrity object as JSON text, a word the 400's message names)
    ("[1, 2]", "integrity must be an object"),
    ('"lots"', "integrity must be an object"),
    (json.dumps({"pastes": list(range(201))}), "integrity.pastes"),
    (json.dumps({"pastes": [10] * 100_000}), "integrity.pastes"),
    (json.dumps({"pastes": [-5]}), "integrity.pastes[0]"),
    (json.dumps({"pastes": [1, "480"]}), "integrity.pastes[1]"),
    (json.dumps({"pastes": [1.5]}), "integrity.pastes[0]"),
    (json.dumps({"pastes": [True]}), "integrity.pastes[0]"),
    (json.dumps({"pastes": [10**30]}), "integrity.pastes[0]"),
    (json.dumps({"pastes": "12,480"}), "integrity.pastes"),
    (json.dumps({"pastes": [[[[[1]]]]]}), "integrity.pastes[0]"),
    (json.dumps({"pastes": [{"chars": 5}]}), "integrity.pastes[0]"),
    (json.dumps({"paste_count": -1}), "integrity.paste_count"),
    (json.dumps({"paste_count": 1, "pastes": [3, 4]}), "integrity.paste_count"),
    (json.dumps({"paste_chars": 2, "pastes": [3, 4]}), "integrity.paste_chars"),
    (json.dumps({"away_seconds": -0.5}), "integrity.away_seconds"),
    (json.dumps({"away_seconds": "10"}), "integrity.away_seconds"),
    (json.dumps({"away_seconds": None}), "integrity.away_seconds"),
    ('{"away_seconds": NaN}', "integrity.away_seconds"),
    ('{"open_seconds": Infinity}', "integrity.open_seconds"),
    ('{"visible_seconds": -Infinity}', "integrity.visible_seconds"),
    (json.dumps({"open_seconds": 1e12}), "integrity.open_seconds"),
    (json.dumps({"away_count": 2.0}), "integrity.away_count"),
    (json.dumps({"timed": "exam"}), "integrity.timed"),
    (json.dumps({"timed": ["quiz"]}), "integrity.timed"),
    (json.dumps({"keystrokes": ["a", "b"]}), "integrity.keystrokes"),
    (json.dumps({"pasted_text": "def square(x): ..."}), "integrity.pasted_text"),
    (json.dumps({"x" * 10_000: 1}), "is not a known field"),
    (json.dumps({"nested": {"a": {"b": {"c": {}}}}}), "integrity.nested"),
    ("[" * 200 + "]" * 200, "deep"),
]


@pytest.mark.parametrize("raw, named", HOSTILE, ids=range(len(HOSTILE)))
async def test_hostile_signals_are_a_400_and_nothing_is_stored(world, raw, named):
    await set_integrity(world.tess, True)
    code, data = await submit(world.ann, world.question, raw_integrity=raw)
    assert code == 400, data
    assert named in data["message"], data
    assert len(data["message"]) < 600  # an unknown key is cut, not echoed whole
    assert counts(world.grader) == (0, 0)


async def test_hostile_signals_are_refused_even_when_the_course_has_them_off(world):
    # the API is strict whatever the setting: a client learns at once it sent nonsense
    code, data = await submit(world.ann, world.question, {"pastes": [-1]})
    assert code == 400 and "integrity.pastes[0]" in data["message"]
    assert counts(world.grader) == (0, 0)


# who reads them ---------------------------------------------------------------------


async def test_another_learner_or_another_courses_instructor_cannot_read_them(world):
    await set_integrity(world.tess, True)
    code, data = await submit(world.ann, world.question, SIGNALS)
    assert code == 202
    sid = data["id"]
    for client in (world.bob, world.olga):
        code, model = await client.get(f"submissions/{sid}")
        assert code == 404, model
        assert "integrity" not in json.dumps(model)
        # nor through the lists or the page
        code, listing = await client.get("submissions?user=ann")
        assert code in (403, 200), listing
        if code == 200:
            assert all(s["id"] != sid for s in listing["submissions"])
            assert "paste" not in json.dumps(listing)
        r = await fetch(
            page_url(world.grader, f"courses/demo/submissions/{sid}"), token_header(client.token)
        )
        assert r.code in (403, 404), r.code
        assert b"integrity-signals" not in r.body


async def test_the_instructor_sees_them_beside_the_submission(world):
    await set_integrity(world.tess, True)
    code, data = await submit(
        world.ann, world.question, {**SIGNALS, "timed": "quiz", "away_count": 2, "away_seconds": 30}
    )
    assert code == 202
    r = await fetch(
        page_url(world.grader, f"courses/demo/submissions/{data['id']}"),
        token_header(world.tess.token),
    )
    assert r.code == 200, r.body
    html = r.body.decode()
    assert 'id="integrity-signals"' in html
    assert "2: 492 characters in all, the largest 480" in html
    assert "during a timed quiz: 2 times, 30 s away in all" in html
    assert "never proof" in html
    # a submission without signals has no section
    code, data = await submit(world.ann, world.question)
    r = await fetch(
        page_url(world.grader, f"courses/demo/submissions/{data['id']}"),
        token_header(world.tess.token),
    )
    assert r.code == 200 and b'id="integrity-signals"' not in r.body


async def test_the_setting_page_turns_them_on_with_its_form(world):
    r = await fetch(
        page_url(world.grader, "courses/demo/integrity"), token_header(world.tess.token)
    )
    assert r.code == 200, r.body
    html = r.body.decode()
    assert "Integrity signals are <strong>off</strong>" in html
    assert 'name="enabled" value="on"' in html and "keystrokes" in html
    assert "<script" not in html
    r = await fetch(
        page_url(world.grader, "courses/demo/integrity"),
        token_header(world.tess.token),
        method="POST",
        body="enabled=on",
    )
    assert r.code == 302, r.body
    code, data = await world.tess.get("courses/demo/integrity")
    assert data["enabled"] is True
    # a learner, or another course's instructor, cannot
    for client, expected in ((world.ann, 403), (world.olga, 404)):
        r = await fetch(
            page_url(world.grader, "courses/demo/integrity"),
            token_header(client.token),
            method="POST",
            body="enabled=off",
        )
        assert r.code == expected, (client.token, r.code)
        r = await fetch(
            page_url(world.grader, "courses/demo/integrity"), token_header(client.token)
        )
        assert r.code == expected
    code, data = await world.tess.get("courses/demo/integrity")
    assert data["enabled"] is True
    r = await fetch(
        page_url(world.grader, "courses/demo/integrity"),
        token_header(world.tess.token),
        method="POST",
        body="enabled=maybe",
    )
    assert r.code == 400


async def test_the_questions_submission_list_marks_those_with_signals(world):
    await set_integrity(world.tess, True)
    code, with_signals = await submit(world.ann, world.question, SIGNALS)
    code, without = await submit(world.bob, world.question)
    r = await fetch(
        page_url(world.grader, f"courses/demo/questions/{world.question}/submissions"),
        token_header(world.tess.token),
    )
    assert r.code == 200, r.body
    html = r.body.decode()
    rows = {
        int(part.split('"', 1)[0]): part.split("</tr>", 1)[0]
        for part in html.split('data-submission="')[1:]
    }
    assert "integrity-mark" in rows[with_signals["id"]]
    assert "2 pastes, largest 480 chars" in rows[with_signals["id"]]
    assert "integrity-mark" not in rows[without["id"]]
