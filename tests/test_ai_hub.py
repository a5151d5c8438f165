"""An AI hint streamed through the Hub's proxy: a real JupyterHub, its proxy and the
grader it manages, the fake model on loopback (tests/ai_support.py). The model holds
back the rest of its answer until the test has read the first piece through the
proxy: the hint arrives in pieces, not buffered whole."""

from __future__ import annotations

import json
import time

import nbformat
import pytest
import requests

from tests.ai_support import FakeModel, hub_reaching
from tests.conftest import answer
from tests.test_end_to_end import Learner, author_square_question

pytestmark = [pytest.mark.hub, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def model():
    fake = FakeModel().in_thread()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def hub(model, tmp_path_factory):
    """The Hub of these tests alone: its grader may reach the fake model."""
    with hub_reaching(model, tmp_path_factory.mktemp("no-courses"), 30.0) as running:
        yield running


def test_a_hint_streams_through_the_proxy_in_pieces(hub, model):
    question = author_square_question(hub.url, hub.admin_token, "ai", hub.log)
    grader = f"{hub.url}/services/grader/api/v1/"
    admin = {"Authorization": f"token {hub.admin_token}"}
    course = requests.get(grader + "courses", headers=admin, timeout=30).json()["courses"][0]
    r = requests.put(
        grader + f"courses/{course['slug']}/ai",
        headers=admin,
        json={"enabled": True, "base_url": model.base_url, "model": "fake-1"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    learner = Learner(hub, "aihub", course=course["slug"])
    hub.learners.append("aihub")
    headers = {"Authorization": f"token {learner.token}"}
    student = requests.get(grader + f"questions/{question['id']}", headers=headers, timeout=30)
    nb = answer(nbformat.from_dict(student.json()["notebook"]), "def square(x):\n    return x")
    r = requests.post(
        grader + "submissions",
        headers=headers,
        json={"question": question["id"], "notebook": nb},
        timeout=30,
    )
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 120
    while True:
        submission = requests.get(grader + f"submissions/{r.json()['id']}", headers=headers).json()
        if submission["status"] in ("graded", "error"):
            break
        assert time.monotonic() < deadline, hub.log()[-3000:]
        time.sleep(0.3)
    assert submission["status"] == "graded", submission

    model.mode = "gate"
    response = requests.post(
        grader + f"submissions/{submission['id']}/hint",
        headers=headers,
        stream=True,
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/event-stream")
    lines = response.iter_lines(decode_unicode=True)
    first = next(line for line in lines if line.startswith("data: "))
    # the first piece came through the proxy while the model still held back the rest
    assert not model.gate.is_set()
    assert json.loads(first[6:]) == {"text": "Look at "}
    model.gate.set()
    rest = [line for line in lines if line]
    assert rest[-2:] == ["event: done", rest[-1]] and json.loads(rest[-1][6:])["status"] == "ok"
    texts = [json.loads(line[6:])["text"] for line in rest if line.startswith('data: {"text')]
    assert "Look at " + "".join(texts) == "Look at your loop's last step."
    assert "SECRET_HIDDEN_ASSERT" not in model.everything_sent()
