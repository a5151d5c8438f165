"""AI hints and the tutor through the real service (grading in the real sandbox),
against a fake OpenAI-compatible model on loopback (tests/ai_support.py) that records
everything it is sent.

What a learner would notice: off until the course turns it on; the hint streamed in
pieces; the model's failures shown as an error event naming them; the budget; XP
lowered by a hint; instructors read every exchange and conversation, learners only
their own. And what an attacker would try: hidden tests, their messages and the
solution never reach the model; an instructor cannot point the grader at another host
or name another secret as the key; the key is never in a response.
"""

from __future__ import annotations

import json
from datetime import timedelta

import nbformat
import pytest
from sqlalchemy import update
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from grader import orm
from grader.handlers.ai import assistant_of
from tests.ai_support import FakeModel
from tests.conftest import AUTHOR, LEARN, answer, free_port
from tests.test_ai_grounding import MARKERS, marked_question

pytestmark = pytest.mark.sandbox

KEY = "sk-test-SECRETKEY-0042"
KEY_ENV = "COURSEHUB_AI_KEY_TESTS"
WRONG = "def cube(x):\n    return x * 3"
RIGHT = "def cube(x):\n    return x ** 3"


@pytest.fixture
async def model():
    fake = FakeModel().start()
    yield fake
    fake.stop()


@pytest.fixture
async def ai(grader, model, monkeypatch):
    """The demo course with the marked question, and the grader allowed to reach the
    fake model (and nothing else)."""
    monkeypatch.setenv(KEY_ENV, KEY)
    assistant = assistant_of(grader)
    assistant.allowed_base_urls = [model.base_url]
    assistant.request_timeout = 3.0
    teacher = grader.client_for("teacher", (LEARN, AUTHOR))
    code, _ = await teacher.post("modules", {"slug": "powers", "title": "Powers"})
    assert code == 201
    code, question = await teacher.post(
        "questions",
        {
            "module": "powers",
            "slug": "cube",
            "title": "Cubes",
            "difficulty": "easy",
            "notebook": marked_question(),
        },
    )
    assert code == 201, question
    return {"teacher": teacher, "question": question["id"], "model": model, "grader": grader}


ON = {"enabled": True, "tutor": True, "model": "fake-1", "api_key_env": KEY_ENV}


async def turn_on(ai, **extra):
    code, data = await ai["teacher"].request(
        "PUT", "courses/demo/ai", {**ON, "base_url": ai["model"].base_url, **extra}
    )
    assert code == 200, data
    return data


async def submit(client, qid, source=WRONG) -> dict:
    code, model = await client.get(f"questions/{qid}")
    assert code == 200, model
    nb = answer(nbformat.from_dict(model["notebook"]), source, "cube-solution")
    code, data = await client.post("submissions", {"question": qid, "notebook": nb})
    assert code == 202, data
    return await client.wait_graded(data["id"])


async def stream(client, path, body=None):
    """POST to a streaming endpoint: (status, events, chunks as they came); for an
    answer that is not a stream, (status, its JSON, [])."""
    chunks: list[bytes] = []
    request = HTTPRequest(
        client.base_url + path,
        method="POST",
        headers={"Authorization": f"token {client.token}"},
        body=json.dumps(body or {}),
        streaming_callback=chunks.append,
        request_timeout=30,
    )
    try:
        response = await AsyncHTTPClient().fetch(request)
    except HTTPClientError as e:
        text = b"".join(chunks).decode() or (e.response.body or b"").decode()
        return e.code, json.loads(text), []
    assert response.headers["Content-Type"].startswith("text/event-stream")
    return 200, parse_events(b"".join(chunks).decode()), chunks


def parse_events(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.split("\n\n"):
        name, data = "message", None
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
        if data is not None:
            events.append((name, data))
    return events


def reply_text(events) -> str:
    return "".join(data["text"] for name, data in events if name == "message")


# off by default, settings -------------------------------------------------------------


async def test_off_by_default_with_a_message(ai):
    ann = ai["grader"].client_for("ann")
    graded = await submit(ann, ai["question"])
    code, data, _ = await stream(ann, f"submissions/{graded['id']}/hint")
    assert code == 403 and "not turned on in the course demo" in data["message"]
    code, data, _ = await stream(ann, f"tutor/{ai['question']}/messages", {"text": "help"})
    assert code == 403 and "tutor is not turned on" in data["message"]
    code, data = await ann.get(f"questions/{ai['question']}/ai")
    assert code == 200 and data["hints"] is False and data["tutor"] is False
    code, data = await ai["teacher"].get("courses/demo/ai")
    assert code == 200 and data["enabled"] is False and data["tutor"] is False
    assert "{code}" in data["prompt_template"] and "results" in data["placeholders"]
    # the hints only: the tutor stays off unless turned on too
    await turn_on(ai, tutor=False)
    code, data, _ = await stream(ann, f"tutor/{ai['question']}/messages", {"text": "help"})
    assert code == 403
    assert ai["model"].requests == []


async def test_settings_are_the_instructors_and_checked(ai):
    teacher, ann = ai["teacher"], ai["grader"].client_for("ann")
    code, data = await ann.get("courses/demo/ai")
    assert code == 403 and "only instructors of demo" in data["message"]
    code, data = await ann.request("PUT", "courses/demo/ai", {"enabled": True})
    assert code == 403
    allowed = ai["model"].base_url
    refused = {
        "http://169.254.169.254/latest": "not within the endpoints this grader allows",
        allowed.replace("/v1", "") + ".evil.example/v1": "not a URL",
        f"http://127.0.0.1:{free_port()}/v1": "AIAssistant.allowed_base_urls",
        allowed + "/../admin": "not within",
        "ftp://127.0.0.1/v1": "http:// or https://",
        "http://user:pw@127.0.0.1/v1": "user name or password",
    }
    for url, words in refused.items():
        code, data = await teacher.request("PUT", "courses/demo/ai", {"base_url": url})
        assert code == 400, url
        assert words in data["message"] or "allowed_base_urls" in data["message"], (url, data)
    for body, words in [
        ({"api_key": KEY}, "never stored"),
        ({"api_key_env": "JUPYTERHUB_API_TOKEN"}, "api_key_env_pattern"),
        ({"prompt_template": "{solution}"}, "placeholders are"),
        ({"daily_budget": -1}, "daily_budget"),
        ({"hint_cost": 2}, "hint_cost"),
        ({"enabled": True}, "without base_url and model"),
        ({"colour": "red"}, "unknown field"),
    ]:
        code, data = await teacher.request("PUT", "courses/demo/ai", body)
        assert code == 400 and words in data["message"], (body, data)
    data = await turn_on(ai, daily_budget=5, hint_cost=0.5)
    assert data["enabled"] and data["api_key_env"] == KEY_ENV and data["api_key_set"] is True
    assert data["daily_budget"] == 5 and data["hint_cost"] == 0.5
    assert data["updated_by"] == "teacher"
    code, again = await teacher.get("courses/demo/ai")
    assert again["base_url"] == allowed
    # the key never appears, in any answer
    for response in (data, again):
        assert KEY not in json.dumps(response)


# hints ------------------------------------------------------------------------------


async def test_a_hint_is_streamed_grounded_logged_and_nothing_hidden_reaches_the_model(ai):
    await turn_on(ai)
    ann, bob = ai["grader"].client_for("ann"), ai["grader"].client_for("bob")
    graded = await submit(ann, ai["question"])
    assert graded["score"] == 0
    code, events, chunks = await stream(ann, f"submissions/{graded['id']}/hint")
    assert code == 200
    assert reply_text(events) == "Look at your loop's last step."
    assert [name for name, _ in events] == ["message"] * 3 + ["done"]
    exchange = events[-1][1]["exchange"]

    (request,) = ai["model"].requests
    assert request["body"]["model"] == "fake-1" and request["body"]["stream"] is True
    assert request["headers"]["Authorization"] == f"Bearer {KEY}"
    sent = ai["model"].everything_sent()
    for marker in MARKERS:
        assert marker not in sent
    assert "Write `cube(x)`" in sent and "return x * 3" in sent
    assert "cube(2) should be 8" in sent and "a hidden test failed" in sent

    # the learner reads their hints again; nobody else asks on their submission
    code, data = await ann.get(f"submissions/{graded['id']}/hint")
    assert data["hints"][0]["text"] == "Look at your loop's last step."
    code, data, _ = await stream(bob, f"submissions/{graded['id']}/hint")
    assert code == 404
    code, data = await bob.get(f"submissions/{graded['id']}/hint")
    assert code == 404
    code, data, _ = await stream(ai["teacher"], f"submissions/{graded['id']}/hint")
    assert code == 403

    # the log: the course's instructors only
    code, data = await ai["teacher"].get(f"courses/demo/ai/exchanges?question={ai['question']}")
    assert code == 200
    (logged,) = data["exchanges"]
    assert logged["id"] == exchange and logged["user"] == "ann" and logged["kind"] == "hint"
    assert logged["status"] == "ok" and logged["reply"] == "Look at your loop's last step."
    assert logged["sent"] == request["body"]["messages"] and logged["finished"]
    code, data = await ai["teacher"].get("courses/demo/ai/exchanges?user=bob")
    assert data["exchanges"] == []
    code, data = await ann.get("courses/demo/ai/exchanges")
    assert code == 403
    code, data = await ai["teacher"].get("courses/demo/ai/exchanges?kind=nonsense")
    assert code == 400


async def test_a_hint_needs_a_graded_submission(ai):
    await turn_on(ai)
    ann = ai["grader"].client_for("ann")
    code, data, _ = await stream(ann, "submissions/99999/hint")
    assert code == 404
    with ai["grader"].session_factory() as db:
        graded = await submit(ann, ai["question"])
        db.execute(
            update(orm.Submission).where(orm.Submission.id == graded["id"]).values(status="queued")
        )
        db.commit()
    code, data, _ = await stream(ann, f"submissions/{graded['id']}/hint")
    assert code == 409 and "not graded" in data["message"]


async def test_the_budget_of_a_day_and_the_next_day(ai):
    await turn_on(ai, daily_budget=2)
    ann = ai["grader"].client_for("ann")
    graded = await submit(ann, ai["question"])
    for _ in range(2):
        code, events, _ = await stream(ann, f"submissions/{graded['id']}/hint")
        assert code == 200 and events[-1][0] == "done"
    code, data, _ = await stream(ann, f"submissions/{graded['id']}/hint")
    assert code == 429 and "used your 2 AI requests of today" in data["message"]
    code, data, _ = await stream(ann, f"tutor/{ai['question']}/messages", {"text": "and now?"})
    assert code == 429
    code, status = await ann.get(f"questions/{ai['question']}/ai")
    assert status["used_today"] == 2 and status["daily_budget"] == 2
    # another learner has their own budget
    bob = ai["grader"].client_for("bob")
    bob_graded = await submit(bob, ai["question"])
    code, events, _ = await stream(bob, f"submissions/{bob_graded['id']}/hint")
    assert code == 200
    # yesterday's requests: today has its budget again
    with ai["grader"].session_factory() as db:
        db.execute(
            update(orm.AIExchange).values(
                day=orm.AIExchange.day - timedelta(days=1),
                created=orm.AIExchange.created - timedelta(days=1),
            )
        )
        db.commit()
    code, events, _ = await stream(ann, f"submissions/{graded['id']}/hint")
    assert code == 200 and events[-1][0] == "done"


@pytest.mark.parametrize(
    "mode, words",
    [
        ("error", "answered HTTP 500"),
        ("hang", "did not answer within 3 s"),
        ("garbage", "could not be read"),
        ("refused", "cannot be reached"),
        ("unauthorized", "answered HTTP 401"),
    ],
)
async def test_the_models_failures_are_error_events_naming_them(ai, mode, words):
    await turn_on(ai, daily_budget=1)
    ann = ai["grader"].client_for("ann")
    graded = await submit(ann, ai["question"])
    if mode == "refused":
        ai["model"].stop()
    else:
        ai["model"].mode = mode
    code, events, _ = await stream(ann, f"submissions/{graded['id']}/hint")
    assert code == 200
    name, data = events[-1]
    assert name == "error" and words in data["message"], events
    assert KEY not in json.dumps(events)
    code, log = await ai["teacher"].get("courses/demo/ai/exchanges")
    assert log["exchanges"][0]["status"] == "error" and words in log["exchanges"][0]["error"]
    assert KEY not in json.dumps(log)
    # a failure costs no budget (1 a day here) and no XP
    code, status = await ann.get(f"questions/{ai['question']}/ai")
    assert status["used_today"] == 0
    code, hints = await ann.get(f"questions/{ai['question']}/hints")
    assert hints["xp"] == 10


async def test_an_endpoint_that_cannot_stream(ai):
    await turn_on(ai)
    assistant_of(ai["grader"]).stream = False
    ann = ai["grader"].client_for("ann")
    graded = await submit(ann, ai["question"])
    code, events, _ = await stream(ann, f"submissions/{graded['id']}/hint")
    assert [name for name, _ in events] == ["message", "done"]
    assert reply_text(events) == "Look at your loop's last step."
    assert "stream" not in ai["model"].requests[0]["body"]


async def test_a_hint_lowers_the_xp_of_a_later_solve(ai):
    await turn_on(ai, hint_cost=0.5)
    ann, bob = ai["grader"].client_for("ann"), ai["grader"].client_for("bob")
    graded = await submit(ann, ai["question"])
    code, hints = await ann.get(f"questions/{ai['question']}/hints")
    assert hints["xp"] == 10  # easy
    code, events, _ = await stream(ann, f"submissions/{graded['id']}/hint")
    assert events[-1][0] == "done"
    code, hints = await ann.get(f"questions/{ai['question']}/hints")
    assert hints["xp"] == 5
    solved = await submit(ann, ai["question"], RIGHT)
    assert solved["score"] == solved["max_score"] and solved["awards"]["xp"] == 5
    # without a hint: the whole XP
    solved = await submit(bob, ai["question"], RIGHT)
    assert solved["awards"]["xp"] == 10


# the tutor --------------------------------------------------------------------------


async def test_a_conversation_with_the_tutor(ai):
    await turn_on(ai)
    ann, bob = ai["grader"].client_for("ann"), ai["grader"].client_for("bob")
    qid = ai["question"]
    code, data = await ann.get(f"tutor/{qid}")
    assert code == 200 and data["messages"] == [] and data["tutor"] is True
    # before any submission: the code the extension sends
    code, events, _ = await stream(
        ann, f"tutor/{qid}/messages", {"text": "Where do I start?", "code": ["def cube(x):\n"]}
    )
    assert code == 200 and events[-1][0] == "done"
    first = ai["model"].requests[0]["body"]["messages"]
    assert first[-1] == {"role": "user", "content": "Where do I start?"}
    assert "def cube(x):" in first[0]["content"]
    assert "No graded submission yet." in first[0]["content"]
    # after a submission: its visible results, and the conversation so far
    await submit(ann, ai["question"])
    code, events, _ = await stream(ann, f"tutor/{qid}/messages", {"text": "Why does it fail?"})
    second = ai["model"].requests[1]["body"]["messages"]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user"]
    assert second[2]["content"] == "Look at your loop's last step."
    assert "cube(2) should be 8" in second[0]["content"]
    for marker in MARKERS:
        assert marker not in ai["model"].everything_sent()

    code, data = await ann.get(f"tutor/{qid}")
    assert [m["role"] for m in data["messages"]] == ["learner", "tutor"] * 2
    assert data["messages"][2]["text"] == "Why does it fail?"
    assert "system" not in json.dumps(data)  # the prompt is not the learner's to read
    # the instructors read it; other learners do not
    code, theirs = await ai["teacher"].get(f"tutor/{qid}?user=ann")
    assert code == 200 and theirs["messages"] == data["messages"]
    code, refused = await bob.get(f"tutor/{qid}?user=ann")
    assert code == 403
    code, own = await bob.get(f"tutor/{qid}")
    assert own["messages"] == []
    code, log = await ai["teacher"].get("courses/demo/ai/exchanges?kind=tutor&user=ann")
    assert len(log["exchanges"]) == 2 and log["exchanges"][0]["text"] == "Why does it fail?"
    # a tutor's answer costs no XP
    code, hints = await ann.get(f"questions/{qid}/hints")
    assert hints["xp"] == 10


async def test_tutor_messages_are_bounded(ai):
    await turn_on(ai)
    ann = ai["grader"].client_for("ann")
    qid = ai["question"]
    for body, words in [
        ({"text": ""}, "non-empty"),
        ({"text": "x" * 2001}, "longer than 2000"),
        ({"text": "hi", "code": {"a": 1}}, "code must be"),
        ({}, "non-empty"),
    ]:
        code, data, _ = await stream(ann, f"tutor/{qid}/messages", body)
        assert code == 400 and words in data["message"], body
    code, data, _ = await stream(ann, "tutor/99999/messages", {"text": "hi"})
    assert code == 404
    assert ai["model"].requests == []


async def test_the_exchange_log_is_paged(ai):
    await turn_on(ai, daily_budget=10)
    ann = ai["grader"].client_for("ann")
    graded = await submit(ann, ai["question"])
    for _ in range(3):
        code, events, _ = await stream(ann, f"submissions/{graded['id']}/hint")
    code, page = await ai["teacher"].get("courses/demo/ai/exchanges?limit=2")
    assert len(page["exchanges"]) == 2 and page["next"] == page["exchanges"][-1]["id"]
    code, rest = await ai["teacher"].get(f"courses/demo/ai/exchanges?limit=2&before={page['next']}")
    assert len(rest["exchanges"]) == 1 and rest["next"] is None
