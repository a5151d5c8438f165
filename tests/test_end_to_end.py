"""End to end: a real Hub, proxy, grader and learners' servers with the extension.

A learner opens a question through their server's coursehub extension, writes an
answer to disk through Jupyter's contents API (as JupyterLab does), submits through the
extension and reads the result; a second learner cannot read it; the leaderboard ranks
them; nothing a learner reads holds hidden tests or solutions.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest
import requests

from hub_config.settings import REPO_DIR
from hub_config.testing import RunningHub
from tests.conftest import square_question

pytestmark = [pytest.mark.hub, pytest.mark.sandbox]

SECRET = "SECRET_HIDDEN_ASSERT"
SOLUTION = "return x * x"
PARTIAL = "def square(x):\n    return x + 2"
CORRECT = "def square(x):\n    return x * x"


class Learner:
    """One learner: a Hub user with a running server, talking to it with their token."""

    def __init__(self, hub: RunningHub, name: str, course: str | None = "python-foundations"):
        self.hub, self.name = hub, name
        r = hub.api("POST", f"/users/{name}")
        assert r.status_code == 201, r.text
        r = hub.api("POST", f"/users/{name}/tokens", json={"note": "e2e"})
        assert r.status_code == 201, r.text
        self.token = r.json()["token"]
        self.seen: list[str] = []  # every response body this learner read
        if course:
            self.join(course)

    def join(self, course: str = "python-foundations"):
        """Join an open course through the grader's API, as the panel's Join button does:
        the Hub adds the learner to the course's group, and every token of theirs (their
        server's included) carries the course's scope from then on."""
        deadline = time.monotonic() + 120  # the grader may still be starting
        while True:
            try:
                r = requests.post(
                    f"{self.hub.url}/services/grader/api/v1/courses/{course}/enrol",
                    headers={"Authorization": f"token {self.token}"},
                    timeout=30,
                )
                if r.status_code not in (502, 503, 404) or time.monotonic() > deadline:
                    break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
            time.sleep(0.5)
        assert r.status_code == 200, r.text
        return r.json()

    def start_server(self, timeout=90):
        r = self.hub.api("POST", f"/users/{self.name}/server")
        assert r.status_code in (201, 202), r.text
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = self.hub.api("GET", f"/users/{self.name}").json()
            if model["servers"].get("", {}).get("ready"):
                return
            time.sleep(0.5)
        raise AssertionError(f"{self.name}'s server not ready:\n{self.hub.log()[-5000:]}")

    def call(self, method, path, **kwargs):
        """A request to this learner's server (`/user/<name>/...`) through the proxy."""
        r = requests.request(
            method,
            f"{self.hub.url}/user/{self.name}/{path}",
            headers={"Authorization": f"token {self.token}"},
            timeout=60,
            **kwargs,
        )
        self.seen.append(r.text)
        return r

    def coursehub(self, method, path, **kwargs):
        return self.call(method, f"coursehub/api/{path}", **kwargs)

    def write_answer(self, path: str, source: str):
        """Edit the solution cell on disk, as JupyterLab's save does."""
        r = self.call("GET", f"api/contents/{path}?content=1")
        assert r.status_code == 200, r.text
        nb = r.json()["content"]
        for cell in nb["cells"]:
            if cell["metadata"].get("nbgrader", {}).get("solution"):
                cell["source"] = source
        r = self.call("PUT", f"api/contents/{path}", json={"type": "notebook", "content": nb})
        assert r.status_code == 200, r.text

    def submit_and_wait(self, question_id: int, path: str, timeout=60) -> dict:
        """Submit, then follow the result as the front end does: the server-sent events
        the extension relays from the grader, through the Hub's proxy."""
        r = self.coursehub("POST", f"questions/{question_id}/submit", json={"path": path})
        assert r.status_code == 202, r.text
        events = self.follow(f"coursehub/api/submissions/{r.json()['id']}/events", timeout)
        assert events[-1]["status"] in ("graded", "error"), events
        return events[-1]

    def follow(self, path: str, timeout=60) -> list[dict]:
        """Every `submission` event of a stream under /user/<name>/ (or another path
        through the proxy if `path` starts with /), until the stream ends."""
        url = (
            self.hub.url + path
            if path.startswith("/")
            else f"{self.hub.url}/user/{self.name}/{path}"
        )
        events, data = [], []
        with requests.get(
            url, headers={"Authorization": f"token {self.token}"}, stream=True, timeout=timeout
        ) as r:
            assert r.status_code == 200, r.text
            assert r.headers["Content-Type"].startswith("text/event-stream")
            for line in r.iter_lines(decode_unicode=True):
                if line.startswith("data: "):
                    data.append(line[len("data: ") :])
                elif line == "" and data:
                    events.append(json.loads("\n".join(data)))
                    self.seen.append(data[-1])
                    data = []
        return events


@pytest.fixture(scope="module")
def hub():
    with RunningHub(env={"COURSEHUB_COURSE_DIR": str(REPO_DIR / "course_content")}) as running:
        yield running


def author_square_question(url: str, admin_token: str, module: str, log=lambda: "") -> dict:
    """Wait for the grader behind the Hub at `url`, then author the square question in a
    new module through its API with the admin token, as an instructor's script would."""
    grader = f"{url}/services/grader/api/v1/"
    headers = {"Authorization": f"token {admin_token}"}
    deadline = time.monotonic() + 120
    while True:
        try:
            if requests.get(grader + "health", timeout=10).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline, f"grader not healthy:\n{log()[-5000:]}"
        time.sleep(0.5)
    # the Hub's course (the sample course), or a new open one where it loads none
    courses = requests.get(grader + "courses", headers=headers, timeout=30).json()["courses"]
    if courses:
        course = courses[0]["slug"]
    else:
        course = "e2e"
        r = requests.post(
            grader + "courses",
            headers=headers,
            json={"slug": course, "title": "End to end", "join": "open"},
            timeout=30,
        )
        assert r.status_code == 201, r.text
    r = requests.post(
        grader + "modules",
        headers=headers,
        json={"course": course, "slug": module, "title": module},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    r = requests.post(
        grader + "questions",
        headers=headers,
        json={
            "module": module,
            "slug": "square",
            "title": "Square",
            "difficulty": "easy",
            "notebook": square_question(),
        },
    )
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture(scope="module")
def question(hub):
    """The square question, authored through the grader's API with the admin token."""
    return author_square_question(hub.url, hub.admin_token, "e2e", hub.log)


def test_learners_solve_submit_and_rank(hub, question):
    alice, bob = Learner(hub, "e2e-alice"), Learner(hub, "e2e-bob")
    hub.learners += [alice.name, bob.name]
    alice.start_server()
    bob.start_server()

    # the sample course is loaded and browsable through the extension
    modules = alice.coursehub("GET", "modules").json()["modules"]
    assert len(modules) >= 4 and modules[-1]["slug"] == "e2e"
    sample = alice.coursehub("GET", "questions").json()["questions"]
    assert len(sample) >= 13

    # open: the student version lands in the learner's home, never over their work
    r = alice.coursehub("POST", f"questions/{question['id']}/open")
    assert r.status_code == 201, r.text
    path = r.json()["path"]
    assert path == "e2e/square.ipynb"
    alice.write_answer(path, PARTIAL)
    r = alice.coursehub("POST", f"questions/{question['id']}/open")
    assert (r.status_code, r.json()["created"]) == (200, False)

    # a partial answer gets the partial score; the hidden test says only that it failed
    result = alice.submit_and_wait(question["id"], path)
    assert (result["status"], result["score"], result["max_score"]) == ("graded", 1, 3)
    hidden = next(t for t in result["tests"] if t["hidden"])
    assert not hidden["passed"] and "AssertionError" in hidden["message"]

    # a correct answer gets full marks
    alice.write_answer(path, CORRECT)
    result = alice.submit_and_wait(question["id"], path)
    assert result["score"] == 3 and all(t["passed"] for t in result["tests"])

    # another learner cannot read it, nor follow it
    r = bob.coursehub("GET", f"submissions/{result['id']}")
    assert r.status_code in (403, 404), r.text
    r = bob.coursehub("GET", f"submissions/{result['id']}/events")
    assert r.status_code == 404, r.text

    # the grader's own stream, straight through the Hub's proxy, ends with the result too
    direct = alice.follow(f"/services/grader/api/v1/submissions/{result['id']}/events")
    assert [(e["status"], e["score"]) for e in direct] == [("graded", 3)]

    # bob solves it partly; the module leaderboard ranks alice first
    r = bob.coursehub("POST", f"questions/{question['id']}/open")
    bob.write_answer(r.json()["path"], PARTIAL)
    assert bob.submit_and_wait(question["id"], r.json()["path"])["score"] == 1
    board = bob.coursehub("GET", "leaderboard?module=e2e").json()
    assert [(e["rank"], e["user"], e["score"]) for e in board["entries"]] == [
        (1, "e2e-alice", 3),
        (2, "e2e-bob", 1),
    ]
    progress = alice.coursehub("GET", "progress").json()["modules"]
    assert next(m for m in progress if m["module_slug"] == "e2e")["percent"] == 100

    # a sample-course question opens as its student version
    first = sample[0]
    r = bob.coursehub("POST", f"questions/{first['id']}/open")
    assert r.status_code == 201, r.text
    r = bob.call("GET", f"api/contents/{r.json()['path']}?content=1")
    assert "NotImplementedError" in r.text

    # nothing either learner read holds hidden tests or solutions
    for learner in (alice, bob):
        for body in learner.seen:
            assert SECRET not in body
            assert SOLUTION not in body
            assert "BEGIN HIDDEN TESTS" not in body
            assert "BEGIN SOLUTION" not in body


def test_learners_cannot_read_course_sources_or_grader_state(hub):
    """In development mode learners' servers are local processes: files must stay closed."""
    learner = Learner(hub, "e2e-carol")
    hub.learners.append(learner.name)
    learner.start_server()
    notebook = next((REPO_DIR / "course_content").glob("*/*/*.ipynb"))
    for secret in (notebook, hub.state_dir / "grader.sqlite"):
        probe = subprocess.run(
            ["runuser", "-u", "ch-e2e-carol", "--", "cat", str(secret)],
            capture_output=True,
            text=True,
        )
        assert probe.returncode != 0 and "Permission denied" in probe.stderr, secret


def test_bad_submissions_through_the_extension_get_clear_errors(hub, question):
    dave = Learner(hub, "e2e-dave")
    hub.learners.append(dave.name)
    dave.start_server()
    r = dave.coursehub("POST", f"questions/{question['id']}/submit", json={"path": "nope.ipynb"})
    assert r.status_code == 404 and "nope.ipynb" in r.json()["message"]
    r = dave.coursehub("POST", "questions/99999/open")
    assert r.status_code == 404, r.text
    r = dave.call(
        "PUT",
        "api/contents/broken.ipynb",
        json={"type": "file", "format": "text", "content": "{not json"},
    )
    assert r.status_code in (200, 201), r.text
    r = dave.coursehub("POST", f"questions/{question['id']}/submit", json={"path": "broken.ipynb"})
    assert r.status_code == 400, r.text
    assert json.loads(r.text)["message"]


def test_a_restricted_learner_reads_but_cannot_submit(hub, question):
    """An admin restricts a learner through the Hub's REST API (the accounts page does
    the same): they still browse and open questions, the grader refuses their work."""
    rex = Learner(hub, "e2e-rex")
    hub.learners.append(rex.name)
    r = hub.api("POST", "/groups/restricted/users", json={"users": [rex.name]})
    assert r.status_code == 200, r.text
    rex.start_server()
    r = rex.coursehub("POST", f"questions/{question['id']}/open")
    assert r.status_code == 201, r.text
    rex.write_answer(r.json()["path"], CORRECT)
    r = rex.coursehub("POST", f"questions/{question['id']}/submit", json={"path": r.json()["path"]})
    assert r.status_code == 403 and "restricted" in r.json()["message"], r.text
