"""Integrity signals through the learner's server extension: `POST questions/{id}/submit`
`{"path", "integrity"}` relays the signals with the notebook read from disk to the real
grading service (in this process), which checks them, stores them when the course
collects them and drops them when it does not; a hostile object is the grader's 400,
passed back, and nothing is stored."""

# ruff: noqa: F811 (fixtures are imported, then used as arguments)

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403
from sqlalchemy import func, select

from grader import orm
from tests.conftest import Client
from tests.test_extension_practice import (  # noqa: F401 - fixtures
    api,
    close_executors,
    content,
    extension,
    jp_server_config,
    service,
)

pytestmark = pytest.mark.sandbox

SIGNALS = {"pastes": [40, 7], "open_seconds": 120, "visible_seconds": 100.5}


def set_integrity(service, teacher, enabled: bool) -> None:
    code, data = service.run(teacher.request("PUT", "courses/demo/integrity", {"enabled": enabled}))
    assert code == 200, data


def stored(service) -> tuple[int, int]:
    with service.app.session_factory() as db:
        return (
            db.scalar(select(func.count()).select_from(orm.Submission)),
            db.scalar(select(func.count()).select_from(orm.IntegritySignals)),
        )


def open_square(api, content) -> tuple[int, str]:
    qid = content["square"]["id"]
    status, opened = api("POST", f"questions/{qid}/open")
    assert status in (200, 201), opened
    return qid, opened["path"]


def test_signals_go_with_the_submission_when_the_course_collects_them(api, content, service):
    set_integrity(service, content["teacher"], True)
    status, courses = api("GET", "courses")
    assert status == 200 and courses["courses"][0]["integrity"] is True, courses
    qid, path = open_square(api, content)
    status, created = api("POST", f"questions/{qid}/submit", {"path": path, "integrity": SIGNALS})
    assert status == 202, created
    # the learner reads their own through the extension; the instructor through the API
    status, mine = api("GET", f"submissions/{created['id']}")
    assert status == 200 and mine["integrity"]["pastes"] == [40, 7], mine
    code, seen = service.run(content["teacher"].get(f"submissions/{created['id']}"))
    assert code == 200 and seen["integrity"]["paste_chars"] == 47, seen
    assert seen["integrity"]["visible_seconds"] == 100.5
    assert stored(service) == (1, 1)
    ada = Client(service.app.base_url, "token-ada")
    service.run(ada.wait_graded(created["id"]))


def test_signals_are_dropped_when_the_course_does_not_collect_them(api, content, service):
    qid, path = open_square(api, content)
    status, created = api("POST", f"questions/{qid}/submit", {"path": path, "integrity": SIGNALS})
    assert status == 202, created
    status, mine = api("GET", f"submissions/{created['id']}")
    assert status == 200 and mine["integrity"] is None
    assert stored(service) == (1, 0)
    ada = Client(service.app.base_url, "token-ada")
    service.run(ada.wait_graded(created["id"]))


@pytest.mark.parametrize(
    "integrity, named",
    [
        ({"pastes": [-1]}, "integrity.pastes[0]"),
        ({"pastes": [1] * 5000}, "integrity.pastes"),
        ({"keystrokes": "abc"}, "integrity.keystrokes"),
        ({"open_seconds": "long"}, "integrity.open_seconds"),
        ("everything", "integrity must be an object"),
    ],
)
def test_hostile_signals_are_the_graders_400_and_nothing_is_stored(
    api, content, service, integrity, named
):
    set_integrity(service, content["teacher"], True)
    qid, path = open_square(api, content)
    status, data = api("POST", f"questions/{qid}/submit", {"path": path, "integrity": integrity})
    assert status == 400, data
    assert named in data["message"], data
    assert stored(service) == (0, 0)
