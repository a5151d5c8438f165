"""AI hints and the tutor through the learner's server extension: relayed to the real
grading service (in this process) and its fake model, streamed to the browser in
pieces as they come; refusals before the stream are JSON."""

# ruff: noqa: F811 (fixtures are imported, then used as arguments)

import json

import nbformat
import pytest

# The fixtures only (jp_fetch, jp_serverapp and what they need).
from pytest_jupyter.jupyter_server import *  # noqa: F403

from grader.handlers.ai import assistant_of
from tests.ai_support import FakeModel
from tests.conftest import AUTHOR, LEARN, answer
from tests.test_ai_grounding import MARKERS, marked_question
from tests.test_ai_service import KEY, KEY_ENV, WRONG, parse_events
from tests.test_extension_practice import (  # noqa: F401 - fixtures
    api,
    close_executors,
    extension,
    jp_server_config,
    service,
)

pytestmark = pytest.mark.sandbox


@pytest.fixture
def ai(service, extension, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    teacher = service.client("teacher", (LEARN, AUTHOR))
    ada = service.client("ada")
    ada.token = extension.grader_client.api_token

    async def make():
        model = FakeModel().start()
        assistant = assistant_of(service.app)
        assistant.allowed_base_urls = [model.base_url]
        assistant.request_timeout = 3.0
        code, _ = await teacher.post("modules", {"slug": "powers", "title": "Powers"})
        assert code == 201
        code, question = await teacher.post(
            "questions",
            {"module": "powers", "slug": "cube", "title": "Cubes", "notebook": marked_question()},
        )
        assert code == 201, question
        code, data = await teacher.request(
            "PUT",
            "courses/demo/ai",
            {"enabled": True, "tutor": True, "base_url": model.base_url, "model": "fake-1",
             "api_key_env": KEY_ENV},
        )  # fmt: skip
        assert code == 200, data
        code, student = await ada.get(f"questions/{question['id']}")
        nb = answer(nbformat.from_dict(student["notebook"]), WRONG, "cube-solution")
        code, sub = await ada.post("submissions", {"question": question["id"], "notebook": nb})
        assert code == 202, sub
        graded = await ada.wait_graded(sub["id"])
        return model, question["id"], graded["id"]

    model, question_id, submission_id = service.run(make())
    yield {"model": model, "question": question_id, "submission": submission_id}
    model.stop()


def test_a_hint_is_relayed_piece_by_piece(jp_fetch, jp_asyncio_loop, api, ai):
    model = ai["model"]
    model.mode = "gate"  # the rest of the answer waits until the first piece arrived
    chunks, early = [], []

    def reader(chunk):
        chunks.append(chunk)
        if b"data:" in chunk and not model.gate.is_set():
            early.append(chunk)
            model.gate.set()

    response = jp_asyncio_loop.run_until_complete(
        jp_fetch(
            f"coursehub/api/submissions/{ai['submission']}/hint",
            method="POST",
            body="{}",
            streaming_callback=reader,
        )
    )
    assert response.headers["Content-Type"] == "text/event-stream"
    # the first piece reached the browser while the model still held back the rest
    assert early and b"Look at " in early[0] and b"last step" not in early[0]
    events = parse_events(b"".join(chunks).decode())
    assert "".join(d["text"] for n, d in events if n == "message") == (
        "Look at your loop's last step."
    )
    assert events[-1][0] == "done"
    for marker in MARKERS:
        assert marker not in model.everything_sent()
    status, data = api("GET", f"submissions/{ai['submission']}/hint")
    assert status == 200 and data["hints"][0]["status"] == "ok"
    status, data = api("GET", f"questions/{ai['question']}/ai")
    assert status == 200 and data["hints"] and data["tutor"] and data["used_today"] == 1


def test_the_tutor_through_the_extension(jp_fetch, jp_asyncio_loop, api, ai):
    chunks = []
    jp_asyncio_loop.run_until_complete(
        jp_fetch(
            f"coursehub/api/tutor/{ai['question']}/messages",
            method="POST",
            body=json.dumps({"text": "What next?", "code": ["def cube(x):\n    pass"], "x": 1}),
            streaming_callback=chunks.append,
        )
    )
    assert parse_events(b"".join(chunks).decode())[-1][0] == "done"
    sent = ai["model"].requests[-1]["body"]["messages"]
    assert "def cube(x):\n    pass" in sent[0]["content"] and sent[-1]["content"] == "What next?"
    status, data = api("GET", f"tutor/{ai['question']}")
    assert status == 200 and [m["role"] for m in data["messages"]] == ["learner", "tutor"]


@pytest.mark.parametrize(
    "path, body, status, words",
    [
        ("tutor/{q}/messages", {"text": ""}, 400, "Write a message"),
        ("tutor/{q}/messages", {"text": "hi", "code": [1]}, 400, "list of strings"),
        ("tutor/{q}/messages", {"text": "x" * 2001}, 400, "at most 2000"),
        ("submissions/424242/hint", {}, 404, "no such submission"),
        ("tutor/424242/messages", {"text": "hi"}, 404, "no such question"),
    ],
)
def test_refusals_before_the_stream_are_json(api, ai, path, body, status, words):
    got, data = api("POST", path.format(q=ai["question"]), body)
    assert got == status and words in data["message"], data


def test_the_models_failure_reaches_the_browser_as_an_error_event(jp_fetch, jp_asyncio_loop, ai):
    ai["model"].mode = "error"
    chunks = []
    jp_asyncio_loop.run_until_complete(
        jp_fetch(
            f"coursehub/api/submissions/{ai['submission']}/hint",
            method="POST",
            body="{}",
            streaming_callback=chunks.append,
        )
    )
    name, data = parse_events(b"".join(chunks).decode())[-1]
    assert name == "error" and "answered HTTP 500" in data["message"]
