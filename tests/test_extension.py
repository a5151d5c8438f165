"""The learner's server extension against a real Jupyter server and a stand-in grader.

pytest-jupyter starts a real Jupyter server with the extension enabled; a real tornado
HTTP server in this process plays the grading service's v1 API, records every request
and checks the token. The tests are plain functions driving pytest-jupyter's event
loop, so they do not depend on how pytest-asyncio runs coroutine tests.
"""

import asyncio
import json
import socket
from urllib.parse import parse_qs

import nbformat
import pytest
import tornado.httpserver
import tornado.iostream
import tornado.testing
import tornado.web

# The fixtures only (jp_fetch, jp_serverapp and what they need), without registering
# pytest-jupyter's collection hooks for every other test module.
from pytest_jupyter.jupyter_server import *  # noqa: F403

from tests.openapi_check import check_fetched

SERVER_TOKEN = "learner-server-hub-token"

MODULE = {
    "id": 1,
    "slug": "python-basics",
    "title": "Python basics",
    "description": "Variables and functions",
    "position": 1,
    "questions": 1,
}


def student_notebook():
    """The student version of question 7: an answer cell and a visible test, with the
    authoring fields it inherits from the source notebook's metadata."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["coursehub"] = {"id": 7, "title": "Double a number", "slug": "double"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("Write `double(x)`."),
        nbformat.v4.new_code_cell(
            "def double(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()",
            metadata={"nbgrader": {"grade_id": "answer", "solution": True, "grade": False}},
        ),
        nbformat.v4.new_code_cell(
            "assert double(2) == 4",
            metadata={"nbgrader": {"grade_id": "test_double", "grade": True, "points": 1}},
        ),
    ]
    return nb


COURSE = {
    "id": 1,
    "slug": "python",
    "title": "Python",
    "description": "A first course",
    "join": "code",
    "enrolled": False,
    "role": None,
}
JOIN_CODE = "K7QP2XWM"

QUESTION = {
    "id": 7,
    "slug": "double",
    "title": "Double a number",
    "module": 1,
    "module_slug": "python-basics",
    "category": "functions",
    "difficulty": "easy",
    "tags": ["functions"],
    "points": 1,
    "best_score": None,
}


# the smallest PNG: one transparent pixel
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6300010000000500010d0a2db40000000049454e44ae426082"
)

ACHIEVEMENTS = {
    "course": "python",
    "xp": 20,
    "streak": 1,
    "best_streak": 1,
    "achievements": [
        {
            "key": "first-solve",
            "title": "First solve",
            "description": "",
            "icon": "🎉",
            "earned": "2025-01-01T10:00:00Z",
        }
    ],
}


def submitted_notebook():
    """What the grader keeps of submission 41: the learner's answer, their question id."""
    nb = student_notebook()
    nb.cells[1].source = "def double(x):\n    return 2 * x"
    nb.metadata["coursehub"] = {"question_id": 7}
    return nb


class FakeGraderHandler(tornado.web.RequestHandler):
    """Answers like the grader's v1 API and records what it was sent."""

    def initialize(self, grader):
        self.grader = grader

    def reply(self, status, data):
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))

    def record(self):
        content_type = self.request.headers.get("Content-Type", "")
        if not self.request.body:
            body = None
        elif content_type.startswith("image/"):
            body = self.request.body  # an avatar's bytes
        else:
            body = json.loads(self.request.body)
        self.grader.requests.append(
            {
                "method": self.request.method,
                "path": self.request.path.split("/api/v1/", 1)[1],
                "query": parse_qs(self.request.query),
                "authorization": self.request.headers.get("Authorization"),
                "body": body,
                "content_type": content_type,
            }
        )
        if self.request.headers.get("Authorization") != f"token {SERVER_TOKEN}":
            self.reply(403, {"status": 403, "message": "Invalid token"})
            return False
        return True

    def get(self, path):
        if not self.record():
            return
        if path == "profiles/ada/avatar":
            self.set_header("Content-Type", "image/png")
            self.finish(PNG_BYTES)
            return
        if path == "profiles/mallory/avatar":
            # not an image: never relayed to the browser as one
            self.set_header("Content-Type", "text/html")
            self.finish("<script>alert(1)</script>")
            return
        if path == "submissions/down":
            # What the Hub's proxy answers when the grader service is not running.
            self.set_status(503)
            self.finish("<html><body>Service Unavailable</body></html>")
            return
        question = dict(QUESTION, notebook=student_notebook())
        answers = {
            "modules": {"modules": [MODULE]},
            "questions": {"questions": [QUESTION]},
            "questions/filters": {
                "categories": ["functions"],
                "difficulties": ["easy"],
                "tags": ["functions"],
            },
            "questions/7": question,
            "submissions": {"submissions": [{"id": 41, "question": 7, "status": "graded"}]},
            "submissions/41": {
                "id": 41,
                "question": 7,
                "status": "graded",
                "score": 1.0,
                "max_score": 1.0,
                "tests": [],
            },
            "submissions/41/notebook": submitted_notebook(),
            "achievements": ACHIEVEMENTS,
            "questions/7/hints": {"count": 2, "revealed": [], "xp_penalty": 0.25},
            "profiles/bob": {"name": "bob", "display_name": "Bob", "xp": 30},
            "progress": {"modules": [{"slug": "python-basics", "percent": 100}]},
            "profile": {"user": "ada", "xp": 10},
            "leaderboard": {"entries": [{"rank": 1, "user": "ada"}], "total": 1},
            "courses": {"courses": [COURSE]},
            "questions/7/regrade": {
                "queued": 3,
                "running": 1,
                "graded": 6,
                "error": 0,
                "total": 10,
            },
        }
        if path in answers:
            self.reply(200, answers[path])
        else:
            self.reply(404, {"status": 404, "message": f"No such resource: {path}"})

    def patch(self, path):
        if not self.record():
            return
        self.reply(200, {"user": "ada", "xp": 10, **json.loads(self.request.body)})

    def post(self, path):
        if not self.record():
            return
        body = json.loads(self.request.body or b"null")
        if path == "questions/7/hints":
            self.reply(
                200,
                {"count": 2, "revealed": [{"index": 0, "text": "2 * x"}], "xp_penalty": 0.25},
            )
        elif path == "submissions" and body["question"] == 9:
            # a cool-off: the grader says when to come back
            self.set_header("Retry-After", "42")
            self.reply(429, {"status": 429, "message": "wait 42 s before submitting again"})
        elif path == "submissions":
            self.reply(202, {"id": 41, "status": "queued"})
        elif path == "courses/python/enrol":
            if body.get("code") != JOIN_CODE:
                self.reply(403, {"status": 403, "message": "that is not python's join code"})
            else:
                self.reply(200, dict(COURSE, enrolled=True, role="learner"))
        elif path == "questions":
            self.reply(201, dict(QUESTION, id=8, slug=body["slug"], status="draft"))
        elif path == "questions/validate":
            self.reply(
                200,
                {
                    "ok": True,
                    "problems": [],
                    "reference": {"score": 1.0, "max_score": 1.0, "tests": []},
                    "stub": {"score": 0.0, "max_score": 1.0},
                },
            )
        else:
            self.reply(404, {"status": 404, "message": f"No such resource: {path}"})

    def put(self, path):
        if not self.record():
            return
        if path == "profile/avatar":
            if not self.request.body.startswith(PNG_BYTES[:8]):
                self.reply(400, {"status": 400, "message": "the avatar is not a PNG, JPEG or WebP"})
            else:
                self.reply(200, {"name": "ada", "avatar": "profiles/ada/avatar?v=1"})
        elif path == "questions/8":
            self.reply(403, {"status": 403, "message": "only instructors of python may do this"})
        else:
            self.reply(200, dict(QUESTION, **json.loads(self.request.body)))

    def delete(self, path):
        if not self.record():
            return
        self.set_status(204)
        self.finish()


def submission_event(status: str, **fields) -> bytes:
    """One message of the grader's submission event stream."""
    data = {
        "id": 41,
        "question": 7,
        "user": "ada",
        "status": status,
        "score": None,
        "max_score": None,
        "tests": [],
        "error": None,
        "created": "2025-01-01T10:00:00Z",
        "finished": None,
        "queue_position": None,
        "estimated_wait": None,
        **fields,
    }
    return f"event: submission\ndata: {json.dumps(data)}\n\n".encode()


class FakeEventsHandler(FakeGraderHandler):
    """The grader's ``submissions/{id}/events``: server-sent events, paced by the test.

    41 sends "queued", waits for the test to say it has read it (``grader.release``),
    then "running" in two pieces cut mid-line, a keep-alive comment and "graded".
    42 sends "queued", then a keep-alive comment every 50 ms until the connection
    closes; 43 too, but says nothing between the two until ``grader.release``.
    """

    def on_connection_close(self):
        self.grader.stream_closed.set()

    async def wait_for_release(self):
        try:
            await asyncio.wait_for(self.grader.release.wait(), 5)
        except TimeoutError:
            pass  # the test's assertions say what went wrong

    async def send(self, piece: bytes, name: str | None = None):
        self.write(piece)
        await self.flush()
        if name:
            self.grader.sent.append(name)

    async def get(self, submission_id):
        if not self.record():
            return
        if submission_id == "down":
            self.set_status(503)
            self.finish("<html><body>Service Unavailable</body></html>")
            return
        if submission_id not in ("41", "42", "43"):
            self.reply(404, {"status": 404, "message": f"No submission {submission_id}"})
            return
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-store")
        await self.send(submission_event("queued", queue_position=2, estimated_wait=12.5), "queued")
        if submission_id == "41":
            await self.wait_for_release()
            running = submission_event("running")
            await self.send(running[:20])
            await asyncio.sleep(0.05)
            await self.send(running[20:], "running")
            await self.send(b": keep-alive\n\n")
            await self.send(submission_event("graded", score=1.0, max_score=1.0), "graded")
            self.finish()
            return
        if submission_id == "43":
            await self.wait_for_release()
        for _ in range(200):
            await asyncio.sleep(0.05)
            try:
                await self.send(b": keep-alive\n\n")
            except tornado.iostream.StreamClosedError:
                return


class FakeGrader:
    def __init__(self):
        self.requests = []
        # The submission event streams: what was sent, and the test's go-ahead.
        self.sent = []
        self.release = asyncio.Event()
        self.stream_closed = asyncio.Event()


@pytest.fixture
def grader(jp_asyncio_loop):
    """A real HTTP server on the test's event loop standing in for the grader."""
    fake = FakeGrader()
    app = tornado.web.Application(
        [
            (
                r"/services/grader/api/v1/submissions/([^/]+)/events",
                FakeEventsHandler,
                {"grader": fake},
            ),
            (r"/services/grader/api/v1/(.*)", FakeGraderHandler, {"grader": fake}),
        ]
    )
    sock, port = tornado.testing.bind_unused_port()

    async def start():
        server = tornado.httpserver.HTTPServer(app)
        server.add_sockets([sock])
        return server

    server = jp_asyncio_loop.run_until_complete(start())
    fake.url = f"http://127.0.0.1:{port}/services/grader/"
    yield fake
    server.stop()


@pytest.fixture
def jp_server_config(grader, monkeypatch):
    # The extension reads both from the environment, as in a spawned learner server.
    monkeypatch.setenv("COURSEHUB_GRADER_URL", grader.url)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", SERVER_TOKEN)
    return {"ServerApp": {"jpserver_extensions": {"coursehub_extension": True}}}


@pytest.fixture
def api(jp_fetch, jp_asyncio_loop):
    """Call the extension's API: ``api(method, path, body=None, **kw) -> (status, json)``."""

    def call(method, path, body=None, **kwargs):
        if body is not None and not isinstance(body, str | bytes):
            body = json.dumps(body)
        if method in ("POST", "PATCH", "PUT") and body is None:
            body = ""
        response = jp_asyncio_loop.run_until_complete(
            jp_fetch("coursehub/api", path, method=method, body=body, raise_error=False, **kwargs)
        )
        check_fetched(method, response, relayed_bodies=False)  # a stand-in grader's made-up models
        return response.code, json.loads(response.body) if response.body else None

    return call


@pytest.fixture
def extension(jp_serverapp):
    return jp_serverapp.web_app.settings["coursehub"]


def test_modules_and_questions_pass_through(api, grader):
    status, data = api("GET", "modules")
    assert status == 200
    assert data == {"modules": [MODULE]}

    status, data = api(
        "GET", "questions", params={"module": "python-basics", "difficulty": "easy", "x": "1"}
    )
    assert status == 200
    assert data["questions"][0]["slug"] == "double"
    sent = grader.requests[-1]
    assert sent["path"] == "questions"
    # Only the documented filters are forwarded.
    assert sent["query"] == {"module": ["python-basics"], "difficulty": ["easy"]}

    status, data = api("GET", "questions/filters")
    assert status == 200 and data["categories"] == ["functions"]

    status, data = api("GET", "questions/7")
    assert status == 200 and data["notebook"]["cells"][1]["source"].startswith("def double")


def test_grader_receives_the_servers_token(api, grader):
    api("GET", "progress")
    assert grader.requests
    assert all(r["authorization"] == f"token {SERVER_TOKEN}" for r in grader.requests)


def test_other_resources_pass_through(api, grader):
    assert api("GET", "progress") == (200, {"modules": [{"slug": "python-basics", "percent": 100}]})
    assert api("GET", "profile") == (200, {"user": "ada", "xp": 10})
    status, data = api("GET", "leaderboard", params={"module": "python-basics", "limit": "5"})
    assert status == 200 and data["total"] == 1
    assert grader.requests[-1]["query"] == {"module": ["python-basics"], "limit": ["5"]}
    status, data = api("GET", "submissions", params={"question": "7"})
    assert status == 200 and data["submissions"][0]["id"] == 41
    assert grader.requests[-1]["query"] == {"question": ["7"]}
    status, data = api("GET", "submissions/41")
    assert status == 200 and data["score"] == 1.0


def test_open_writes_student_notebook_once(api, jp_root_dir):
    status, data = api("POST", "questions/7/open")
    assert (status, data) == (201, {"path": "python-basics/double.ipynb", "created": True})

    on_disk = jp_root_dir / "python-basics" / "double.ipynb"
    nb = nbformat.read(on_disk, as_version=4)
    assert [c.source for c in nb.cells] == [c.source for c in student_notebook().cells]
    assert nb.metadata.coursehub.question_id == 7

    # The learner works on it, then opens the question again.
    nb.cells[1].source = "def double(x):\n    return 2 * x"
    nbformat.write(nb, on_disk)
    status, data = api("POST", "questions/7/open")
    assert (status, data) == (200, {"path": "python-basics/double.ipynb", "created": False})
    assert (
        nbformat.read(on_disk, as_version=4).cells[1].source == "def double(x):\n    return 2 * x"
    )


def test_open_accepts_module_slug_in_module_field(api, jp_root_dir, monkeypatch):
    monkeypatch.setitem(QUESTION, "module", "python-basics")
    monkeypatch.delitem(QUESTION, "module_slug")
    status, data = api("POST", "questions/7/open")
    assert (status, data["path"]) == (201, "python-basics/double.ipynb")
    assert (jp_root_dir / "python-basics" / "double.ipynb").exists()


def test_submit_sends_the_saved_notebook(api, grader, jp_root_dir):
    api("POST", "questions/7/open")
    on_disk = jp_root_dir / "python-basics" / "double.ipynb"
    nb = nbformat.read(on_disk, as_version=4)
    nb.cells[1].source = "def double(x):\n    return x + x"
    nbformat.write(nb, on_disk)

    status, data = api("POST", "questions/7/submit", {"path": "python-basics/double.ipynb"})
    assert (status, data) == (202, {"id": 41, "status": "queued"})

    sent = grader.requests[-1]
    assert (sent["method"], sent["path"]) == ("POST", "submissions")
    assert sent["body"]["question"] == 7
    assert sent["body"]["notebook"]["cells"][1]["source"] == "def double(x):\n    return x + x"
    # Trust marks added when reading are not part of the learner's notebook.
    assert "trusted" not in sent["body"]["notebook"]["cells"][1]["metadata"]


@pytest.mark.parametrize(
    "path, status, words",
    [
        ("../etc/passwd", 400, "leaves your home"),
        ("/etc/passwd", 400, "absolute path"),
        (".secret/answers.ipynb", 400, "hidden"),
        ("python-basics/missing.ipynb", 404, "No notebook at python-basics/missing.ipynb"),
        ("notes.txt", 400, "not a notebook"),
        ("broken.ipynb", 400, "cannot be read as a notebook"),
        ("", 400, "path"),
    ],
)
def test_submit_refuses_bad_paths(api, grader, jp_root_dir, path, status, words):
    (jp_root_dir / "notes.txt").write_text("not a notebook")
    (jp_root_dir / "broken.ipynb").write_text("{ this is not json")
    got_status, data = api("POST", "questions/7/submit", {"path": path})
    assert got_status == status
    assert data["status"] == status
    assert words in data["message"]
    assert not any(r["method"] == "POST" for r in grader.requests)


def test_submit_refuses_a_notebook_of_another_question(api, jp_root_dir):
    api("POST", "questions/7/open")
    status, data = api("POST", "questions/8/submit", {"path": "python-basics/double.ipynb"})
    assert status == 400
    assert "opened for question 7, not question 8" in data["message"]


def test_grader_errors_pass_through(api):
    status, data = api("GET", "questions/99")
    assert (status, data) == (404, {"status": 404, "message": "No such resource: questions/99"})
    status, data = api("POST", "questions/99/open")
    assert status == 404 and "questions/99" in data["message"]


def test_grader_down_is_a_clear_gateway_error(api, extension, jp_root_dir):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Nothing listens on the port once the socket is closed.
    extension.grader_client.grader_url = f"http://127.0.0.1:{port}/services/grader/"

    status, data = api("GET", "modules")
    assert status in (502, 503)
    assert data["status"] == status
    assert "grading service cannot be reached" in data["message"]

    (jp_root_dir / "a.ipynb").write_text(nbformat.writes(student_notebook()))
    status, data = api("POST", "questions/7/submit", {"path": "a.ipynb"})
    assert status in (502, 503) and "cannot be reached" in data["message"]


def test_unconfigured_grader_is_named(api, extension):
    extension.grader_client.grader_url = ""
    status, data = api("GET", "modules")
    assert status == 503 and "COURSEHUB_GRADER_URL" in data["message"]


def test_requests_without_the_servers_token_are_refused(api, grader):
    status, data = api("GET", "modules", headers={"Authorization": "token not-the-token"})
    assert status == 403 and data["status"] == 403
    status, _ = api("POST", "questions/7/open", headers={"Authorization": ""})
    assert status == 403
    assert grader.requests == []


def test_proxy_error_page_becomes_json(api):
    status, data = api("GET", "submissions/down")
    assert (status, data["status"]) == (503, 503)
    assert data["message"].startswith("The grading service is unavailable")
    assert "answered HTTP 503" in data["message"]


def test_profile_update_passes_through(api, grader):
    status, data = api("PATCH", "profile", {"display_name": "Ada"})
    assert (status, data["display_name"]) == (200, "Ada")
    assert grader.requests[-1]["body"] == {"display_name": "Ada"}


def test_open_refuses_a_slug_that_is_not_a_file_name(api, jp_root_dir, monkeypatch):
    monkeypatch.setitem(QUESTION, "slug", "../../escape")
    status, data = api("POST", "questions/7/open")
    assert status == 502
    assert "not a file name" in data["message"]
    assert list(jp_root_dir.iterdir()) == []


def test_concurrent_opens_write_once(jp_fetch, jp_asyncio_loop, jp_root_dir):
    async def open_twice():
        return await asyncio.gather(
            *(jp_fetch("coursehub/api/questions/7/open", method="POST", body="") for _ in "ab")
        )

    responses = jp_asyncio_loop.run_until_complete(open_twice())
    assert sorted(r.code for r in responses) == [200, 201]
    assert (jp_root_dir / "python-basics" / "double.ipynb").exists()


class EventReader:
    """What a browser reads of an event stream: the pieces, and the messages parsed."""

    def __init__(self, on_message=None):
        self.pieces = []
        self.messages = []
        self.text = ""
        self.on_message = on_message

    def __call__(self, piece: bytes):
        self.pieces.append(piece)
        self.text += piece.decode()
        while "\n\n" in self.text:
            block, self.text = self.text.split("\n\n", 1)
            lines = [line for line in block.split("\n") if not line.startswith(":")]
            if not lines:
                continue
            fields = dict(line.split(": ", 1) for line in lines)
            self.messages.append((fields["event"], json.loads(fields["data"])))
            if self.on_message:
                self.on_message(self)


def test_submission_events_are_relayed_as_they_come(jp_fetch, jp_asyncio_loop, grader):
    seen_when_first_arrived = []

    def on_message(reader):
        if len(reader.messages) == 1:
            seen_when_first_arrived.extend(grader.sent)
            grader.release.set()

    reader = EventReader(on_message)
    response = jp_asyncio_loop.run_until_complete(
        jp_fetch("coursehub/api/submissions/41/events", streaming_callback=reader)
    )
    assert response.code == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Accel-Buffering"] == "no"
    # The first event reached the browser before the grader sent the others.
    assert seen_when_first_arrived == ["queued"]
    assert [(event, data["status"]) for event, data in reader.messages] == [
        ("submission", "queued"),
        ("submission", "running"),
        ("submission", "graded"),
    ]
    queued = reader.messages[0][1]
    assert (queued["queue_position"], queued["estimated_wait"]) == (2, 12.5)
    assert reader.messages[2][1]["score"] == 1.0
    assert len(reader.pieces) > 1
    assert grader.requests[-1]["path"] == "submissions/41/events"
    assert grader.requests[-1]["authorization"] == f"token {SERVER_TOKEN}"


@pytest.mark.parametrize(
    "submission_id, status, words",
    [
        ("99", 404, "No submission 99"),
        ("down", 503, "The grading service is unavailable"),
    ],
)
def test_submission_events_refused_before_the_stream_is_json(api, submission_id, status, words):
    got_status, data = api("GET", f"submissions/{submission_id}/events")
    assert (got_status, data["status"]) == (status, status)
    assert words in data["message"]


def test_submission_events_with_the_grader_down(api, extension):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    extension.grader_client.grader_url = f"http://127.0.0.1:{port}/services/grader/"
    status, data = api("GET", "submissions/41/events")
    assert (status, data["status"]) == (503, 503)
    assert "grading service cannot be reached" in data["message"]


def test_submission_events_refused_for_the_servers_token(api, extension):
    extension.grader_client.api_token = "not-the-servers-token"
    assert api("GET", "submissions/41/events") == (403, {"status": 403, "message": "Invalid token"})


def test_browser_leaving_stops_the_upstream_stream(
    jp_asyncio_loop, http_server, jp_http_port, jp_base_url, jp_auth_header, grader
):
    async def scenario():
        # A browser, as plain as can be: read the first event, then hang up.
        reader, writer = await asyncio.open_connection("127.0.0.1", jp_http_port)
        headers = {"Host": f"127.0.0.1:{jp_http_port}", **jp_auth_header}
        writer.write(
            f"GET {jp_base_url}coursehub/api/submissions/42/events HTTP/1.1\r\n".encode()
            + b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items())
            + b"\r\n"
        )
        received = await asyncio.wait_for(reader.readuntil(b"\n\n"), 5)
        while b"event: submission" not in received:
            received += await asyncio.wait_for(reader.readuntil(b"\n\n"), 5)
        writer.close()
        await writer.wait_closed()
        # The fake grader would go on sending keep-alives for 10 s.
        await asyncio.wait_for(grader.stream_closed.wait(), 5)
        return received

    received = jp_asyncio_loop.run_until_complete(scenario())
    assert received.startswith(b"HTTP/1.1 200 ")
    assert b'"status": "queued"' in received
    assert grader.sent == ["queued"]


def test_a_quiet_grader_stream_is_given_up(jp_fetch, jp_asyncio_loop, grader, extension):
    extension.grader_client.stream_idle_timeout = 0.3
    reader = EventReader()

    async def scenario():
        response = await jp_fetch("coursehub/api/submissions/43/events", streaming_callback=reader)
        # The browser's stream ended while the grader was quiet...
        assert not grader.stream_closed.is_set()
        # ...and the upstream request ends at the grader's next keep-alive.
        grader.release.set()
        await asyncio.wait_for(grader.stream_closed.wait(), 5)
        return response

    response = jp_asyncio_loop.run_until_complete(scenario())
    assert response.code == 200
    assert [data["status"] for _, data in reader.messages] == ["queued"]


# courses and authoring ------------------------------------------------------------------


def test_courses_pass_through_and_the_course_argument_is_forwarded(api, grader):
    assert api("GET", "courses") == (200, {"courses": [COURSE]})
    for path in ("modules", "questions", "questions/filters", "progress", "profile"):
        status, _ = api("GET", path, params={"course": "python"})
        assert status == 200
        assert grader.requests[-1]["query"] == {"course": ["python"]}, path
    api("GET", "leaderboard", params={"course": "python", "module": "python-basics"})
    assert grader.requests[-1]["query"] == {"course": ["python"], "module": ["python-basics"]}


def test_joining_a_course_sends_only_the_code(api, grader):
    status, data = api("POST", "courses/python/enrol", {"code": JOIN_CODE, "user": "eve"})
    assert (status, data["enrolled"], data["role"]) == (200, True, "learner")
    sent = grader.requests[-1]
    assert (sent["method"], sent["path"], sent["body"]) == (
        "POST",
        "courses/python/enrol",
        {"code": JOIN_CODE},
    )
    # an open course: no body at all
    api("POST", "courses/python/enrol")
    assert grader.requests[-1]["body"] == {}


def test_a_wrong_join_code_is_the_graders_message(api, grader):
    status, data = api("POST", "courses/python/enrol", {"code": "NOPE"})
    assert (status, data) == (403, {"status": 403, "message": "that is not python's join code"})
    status, data = api("POST", "courses/python/enrol", {"code": 12345})
    assert status == 400 and "join code must be a string" in data["message"]
    assert len(grader.requests) == 1


def test_authoring_calls_pass_through_with_the_graders_status(api, grader):
    nb = nbformat.v4.new_notebook()
    body = {
        "course": "python",
        "module": 1,
        "slug": "triple",
        "title": "Triple",
        "tags": ["functions"],
        "notebook": nb,
        "release": None,
    }
    status, data = api("POST", "questions", body)
    assert (status, data["id"], data["status"]) == (201, 8, "draft")
    assert grader.requests[-1]["body"] == json.loads(json.dumps(body))

    status, data = api("POST", "questions/validate", {"notebook": nb})
    assert (status, data["ok"], data["reference"]["score"]) == (200, True, 1.0)
    assert grader.requests[-1]["path"] == "questions/validate"

    status, data = api("PUT", "questions/7", {"release": "now", "regrade": True})
    assert status == 200 and data["release"] == "now"
    assert grader.requests[-1]["body"] == {"release": "now", "regrade": True}

    status, data = api("GET", "questions/7/regrade")
    assert (status, data["graded"], data["total"]) == (200, 6, 10)

    assert api("DELETE", "questions/7") == (204, None)
    assert (grader.requests[-1]["method"], grader.requests[-1]["path"]) == (
        "DELETE",
        "questions/7",
    )


def test_authoring_refusals_and_bad_bodies(api, grader):
    status, data = api("PUT", "questions/8", {"title": "Mine now"})
    assert (status, data["message"]) == (403, "only instructors of python may do this")
    asked = len(grader.requests)
    for method, path in (("POST", "questions"), ("PUT", "questions/7")):
        status, data = api(method, path, [1, 2])
        assert status == 400 and "JSON object" in data["message"]
    status, _ = api("POST", "questions/validate", "{not json")
    assert status == 400
    assert len(grader.requests) == asked


def test_the_source_notebook_is_not_reachable(jp_fetch, jp_asyncio_loop, grader):
    response = jp_asyncio_loop.run_until_complete(
        jp_fetch("coursehub/api/questions/7/source", raise_error=False)
    )
    assert response.code == 404
    assert grader.requests == []


def test_preview_writes_a_read_only_copy_apart_from_the_learners(api, grader, jp_root_dir):
    api("POST", "questions/7/open")
    mine = jp_root_dir / "python-basics" / "double.ipynb"
    nb = nbformat.read(mine, as_version=4)
    nb.cells[1].source = "def double(x):\n    return 2 * x"
    nbformat.write(nb, mine)

    status, data = api("POST", "questions/7/preview")
    assert (status, data) == (200, {"path": "coursehub-preview/python-basics/double.ipynb"})
    preview = nbformat.read(jp_root_dir / data["path"], as_version=4)
    assert [c.source for c in preview.cells] == [c.source for c in student_notebook().cells]
    assert all(not c.metadata.editable and not c.metadata.deletable for c in preview.cells)
    # no question id: no Submit button, and it cannot be sent as an answer; nothing of
    # the source's authoring fields either: the Instructor tab does not author a preview
    assert preview.metadata.coursehub == {"preview": 7}
    assert nbformat.read(mine, as_version=4).cells[1].source == "def double(x):\n    return 2 * x"

    # a later preview shows the grader's current version
    (jp_root_dir / data["path"]).write_text("{}")
    assert api("POST", "questions/7/preview")[0] == 200
    assert len(nbformat.read(jp_root_dir / data["path"], as_version=4).cells) == 3


def test_cooloff_retry_after_reaches_the_browser(jp_fetch, jp_asyncio_loop, api, jp_root_dir):
    (jp_root_dir / "a.ipynb").write_text(nbformat.writes(student_notebook()))
    response = jp_asyncio_loop.run_until_complete(
        jp_fetch(
            "coursehub/api/questions/9/submit",
            method="POST",
            body=json.dumps({"path": "a.ipynb"}),
            raise_error=False,
        )
    )
    assert response.code == 429
    assert response.headers["Retry-After"] == "42"
    assert json.loads(response.body)["message"] == "wait 42 s before submitting again"


def test_a_past_submission_opens_as_a_read_only_copy_beside_the_question(api, grader, jp_root_dir):
    api("POST", "questions/7/open")
    mine = jp_root_dir / "python-basics" / "double.ipynb"
    before = mine.read_text()

    status, data = api("POST", "submissions/41/open")
    assert (status, data) == (
        201,
        {"path": "python-basics/submissions/double-41.ipynb", "created": True},
    )
    copy = nbformat.read(jp_root_dir / data["path"], as_version=4)
    assert copy.cells[1].source == "def double(x):\n    return 2 * x"
    # no question id: no Submit button, never sent as an answer by mistake
    assert copy.metadata.coursehub == {"submission": 41, "question": 7}
    assert all(not c.metadata.editable for c in copy.cells)
    assert mine.read_text() == before

    # a second time: the copy is there, nothing is written (the learner may have run it)
    (jp_root_dir / data["path"]).write_text(nbformat.writes(student_notebook()))
    asked = len(grader.requests)
    assert api("POST", "submissions/41/open") == (
        200,
        {"path": "python-basics/submissions/double-41.ipynb", "created": False},
    )
    assert "submissions/41/notebook" not in [r["path"] for r in grader.requests[asked:]]
    assert len(nbformat.read(jp_root_dir / data["path"], as_version=4).cells[1].source) > 0


def test_a_submission_of_someone_else_is_the_graders_refusal(api, jp_root_dir):
    status, data = api("POST", "submissions/99/open")
    assert status == 404 and "submissions/99" in data["message"]
    assert list(jp_root_dir.iterdir()) == []


def test_hints_achievements_and_profiles_pass_through(api, grader):
    status, data = api("GET", "questions/7/hints")
    assert (status, data["count"], data["revealed"]) == (200, 2, [])
    status, data = api("POST", "questions/7/hints")
    assert (status, data["revealed"][0]["text"]) == (200, "2 * x")
    assert (grader.requests[-1]["method"], grader.requests[-1]["path"]) == (
        "POST",
        "questions/7/hints",
    )
    status, data = api("GET", "achievements", params={"course": "python"})
    assert (status, data["xp"]) == (200, 20)
    assert grader.requests[-1]["query"] == {"course": ["python"]}
    status, data = api("GET", "profiles/bob", params={"course": "python"})
    assert (status, data["display_name"]) == (200, "Bob")
    status, _ = api("GET", "questions", params={"course": "python", "q": "recursion"})
    assert grader.requests[-1]["query"] == {"course": ["python"], "q": ["recursion"]}


def test_an_avatar_goes_to_the_grader_as_bytes(api, grader):
    status, data = api("PUT", "profile/avatar", PNG_BYTES, headers={"Content-Type": "image/png"})
    assert (status, data["avatar"]) == (200, "profiles/ada/avatar?v=1")
    sent = grader.requests[-1]
    assert (sent["method"], sent["path"], sent["content_type"]) == (
        "PUT",
        "profile/avatar",
        "image/png",
    )
    assert sent["body"] == PNG_BYTES

    # the grader's refusal is the learner's message
    status, data = api(
        "PUT", "profile/avatar", b"GIF89a....", headers={"Content-Type": "image/png"}
    )
    assert (status, data["message"]) == (400, "the avatar is not a PNG, JPEG or WebP")


def test_avatars_that_are_not_images_or_too_large_are_refused_here(api, grader):
    asked = len(grader.requests)
    status, data = api(
        "PUT", "profile/avatar", b"<svg/>", headers={"Content-Type": "image/svg+xml"}
    )
    assert status == 415 and "PNG, JPEG or WebP" in data["message"]
    big = PNG_BYTES + b"\0" * (2 * 1024 * 1024)
    status, data = api("PUT", "profile/avatar", big, headers={"Content-Type": "image/png"})
    assert status == 413 and "2 MiB" in data["message"]
    assert len(grader.requests) == asked


def test_avatar_images_are_streamed_back(jp_fetch, jp_asyncio_loop, grader):
    response = jp_asyncio_loop.run_until_complete(
        jp_fetch("coursehub/api/profiles/ada/avatar", params={"v": "1"})
    )
    assert response.headers["Content-Type"] == "image/png"
    assert response.body == PNG_BYTES
    assert grader.requests[-1]["query"] == {"v": ["1"]}
    response = jp_asyncio_loop.run_until_complete(
        jp_fetch("coursehub/api/profiles/mallory/avatar", raise_error=False)
    )
    assert response.code == 502
    assert b"<script>" not in response.body
    response = jp_asyncio_loop.run_until_complete(
        jp_fetch("coursehub/api/profiles/nobody/avatar", raise_error=False)
    )
    assert response.code == 404
