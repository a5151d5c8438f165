"""Courses in a real Hub: each course's groups and roles, the scopes they grant, joining
through the grader, per-course instructors, and all of it kept across a Hub restart.

The in-process tests (tests/test_courses.py) check the grader's side against a fake Hub
that grants what hub_config.courses's roles grant; these check that the real Hub does.
"""

from __future__ import annotations

import time

import pytest
import requests

from hub_config.settings import REPO_DIR
from hub_config.testing import RunningHub

pytestmark = pytest.mark.hub

COURSE = "python-foundations"  # course_content's sample course: open to anyone
LEARN = "custom:coursehub:learn"
AUTHOR = "custom:coursehub:author"


@pytest.fixture(scope="module")
def hub():
    with RunningHub(env={"COURSEHUB_COURSE_DIR": str(REPO_DIR / "course_content")}) as running:
        wait_for(lambda: running.api("GET", f"/groups/course-{COURSE}").status_code == 200,
                 "the grader made the sample course's groups", running)  # fmt: skip
        yield running


def wait_for(condition, what: str, hub, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not so after {timeout}s: {what}\n{hub.log()[-4000:]}"
        time.sleep(0.5)


def user_with_token(hub, name: str) -> str:
    assert hub.api("POST", f"/users/{name}").status_code == 201
    return hub.api("POST", f"/users/{name}/tokens", json={"note": "test"}).json()["token"]


def scopes_of(hub, token: str) -> set[str]:
    return set(hub.api("GET", "/user", token=token).json()["scopes"])


def grader(hub, method: str, path: str, token: str, **kwargs):
    return requests.request(
        method,
        f"{hub.url}/services/grader/api/v1/{path}",
        headers={"Authorization": f"token {token}"},
        timeout=30,
        **kwargs,
    )


def test_joining_an_open_course_grants_its_filtered_scope(hub):
    token = user_with_token(hub, "hc-lena")
    assert not {s for s in scopes_of(hub, token) if s.startswith("custom:coursehub")}
    r = grader(hub, "GET", "courses", token)
    assert r.status_code == 200, r.text
    (course,) = [c for c in r.json()["courses"] if c["slug"] == COURSE]
    assert course["enrolled"] is False and course["join"] == "open"
    assert grader(hub, "GET", f"modules?course={COURSE}", token).status_code == 403

    r = grader(hub, "POST", f"courses/{COURSE}/enrol", token)
    assert r.status_code == 200, r.text
    assert hub.api("GET", f"/groups/course-{COURSE}").json()["users"] == ["hc-lena"]
    assert f"{LEARN}!group=course-{COURSE}" in scopes_of(hub, token)
    r = grader(hub, "GET", "modules", token)
    assert r.status_code == 200 and r.json()["modules"], r.text
    assert {m["course"] for m in r.json()["modules"]} == {COURSE}


def test_the_course_api_of_the_hub_needs_admin_groups(hub):
    token = user_with_token(hub, "hc-mallory")
    r = hub.api("PUT", "/coursehub/courses/stolen", token=token, json={})
    assert r.status_code == 403
    assert hub.api("GET", "/groups/course-stolen").status_code == 404
    r = hub.api("PUT", "/coursehub/courses/Not A Slug", json={})
    assert r.status_code == 400
    r = hub.api("PUT", "/coursehub/courses/x-instructors", json={})
    assert r.status_code == 400


def test_an_instructor_of_one_course_teaches_that_course_only(hub):
    admin = hub.admin_token
    r = grader(hub, "POST", "courses", admin, json={"slug": "stats", "title": "Statistics"})
    assert r.status_code == 201, r.text
    assert hub.api("GET", "/groups/course-stats").status_code == 200
    assert hub.api("GET", "/groups/course-stats-instructors").status_code == 200

    ivy = user_with_token(hub, "hc-ivy")
    r = grader(hub, "POST", "courses/stats/members", admin,
               json={"user": "hc-ivy", "role": "instructor"})  # fmt: skip
    assert r.status_code == 201, r.text
    scopes = scopes_of(hub, ivy)
    assert {f"{AUTHOR}!group=course-stats", f"{LEARN}!group=course-stats"} <= scopes
    assert AUTHOR not in scopes and LEARN not in scopes

    r = grader(hub, "POST", "modules", ivy, json={"course": "stats", "slug": "m", "title": "M"})
    assert r.status_code == 201, r.text
    assert grader(hub, "GET", "gradebook?course=stats", ivy).status_code == 200
    r = grader(hub, "GET", f"gradebook?course={COURSE}", ivy)
    assert r.status_code == 403, r.text
    r = grader(hub, "POST", "modules", ivy, json={"course": COURSE, "slug": "x", "title": "X"})
    assert r.status_code == 403, r.text
    # an invitation-only course: invisible to those outside it
    outsider = user_with_token(hub, "hc-otto")
    assert "stats" not in {
        c["slug"] for c in grader(hub, "GET", "courses", outsider).json()["courses"]
    }
    assert grader(hub, "POST", "courses/stats/enrol", outsider).status_code == 404


def test_course_roles_and_members_outlive_a_hub_restart(hub):
    token = user_with_token(hub, "hc-rita")
    assert grader(hub, "POST", f"courses/{COURSE}/enrol", token).status_code == 200
    before = scopes_of(hub, token)
    assert f"{LEARN}!group=course-{COURSE}" in before

    hub.stop()
    hub.start()
    after = scopes_of(hub, token)
    assert f"{LEARN}!group=course-{COURSE}" in after
    ivy = hub.api("GET", "/users/hc-ivy").json()
    assert "course-stats-instructors" in ivy["groups"]
    wait_for(lambda: grader(hub, "GET", "health", token).status_code == 200, "grader up", hub)
    r = grader(hub, "GET", "modules", token)
    assert r.status_code == 200 and r.json()["modules"], r.text
