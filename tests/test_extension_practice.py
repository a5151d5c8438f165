"""The learner's practice through the server extension: paths, reviews, quizzes, duels,
the daily question and the push channel, relayed to the real grading service; and a
question opened afresh to review it.

pytest-jupyter starts a real Jupyter server with the extension; the grading service
runs in this process on the same event loop (a migrated SQLite database, bubblewrap
sandboxes, the conftest's stand-in for the Hub's identity API), and the extension
talks to it with a learner's token, as a spawned server does with its own. What only
a recording upstream can show (which query arguments and bodies are passed on) is
checked against a small recording server instead.
"""

import asyncio
import datetime
import json
from urllib.parse import parse_qs

import nbformat
import pytest
import tornado.httpclient
import tornado.httputil
import tornado.web

# The fixtures only (jp_fetch, jp_serverapp and what they need).
from pytest_jupyter.jupyter_server import *  # noqa: F403
from tornado.httpserver import HTTPServer

from tests.conftest import (
    ACCESS,
    AUTHOR,
    LEARN,
    Client,
    FakeHub,
    fake_hub_course,
    free_port,
    nbgrader_cell,
    python_notebook,
    service_env,
    square_question,
)
from tests.openapi_check import check_fetched, unchecked

SQUARE = "def square(x):\n    return x * x"


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"coursehub_extension": True}}}


@pytest.fixture
def close_executors():
    """Replaces the conftest's (an async fixture on another event loop): the service's
    executors are closed by the `service` fixture, on the loop that made them."""
    yield


class Service:
    """The grading service in this process, with a Hub stand-in and its users."""

    def __init__(self, app, hub, loop):
        self.app = app
        self.hub = hub
        self.loop = loop
        self.url = app.base_url.removesuffix("api/v1/")

    def client(self, name, scopes=(LEARN,)) -> Client:
        return Client(self.app.base_url, self.hub.add_user(name, (ACCESS, *scopes)))

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)


@pytest.fixture
def service(jp_asyncio_loop, tmp_path, monkeypatch):
    from grader.app import GraderApp
    from grader.executors.bubblewrap import BubblewrapExecutor

    made = []
    original = BubblewrapExecutor.__init__

    def recording_init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(BubblewrapExecutor, "__init__", recording_init)
    monkeypatch.delenv("COURSEHUB_COURSE_DIR", raising=False)
    monkeypatch.delenv("COURSEHUB_GRADER_DB_URL", raising=False)

    async def start():
        # everything listens on the Jupyter server's loop, which runs during each call
        hub = FakeHub()
        port = free_port()
        env = service_env(hub.api_url, port, str(tmp_path / "state"), "bubblewrap")
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        app = GraderApp()
        app.initialize([])
        await fake_hub_course(app, hub, "demo")
        server = HTTPServer(app.webapp, max_body_size=64 * 2**20)
        server.listen(port, "127.0.0.1")
        app.queue.start()
        app.base_url = f"http://127.0.0.1:{port}/services/grader/api/v1/"
        return app, hub, server

    app, hub, server = jp_asyncio_loop.run_until_complete(start())
    yield Service(app, hub, jp_asyncio_loop)

    async def stop():
        server.stop()
        await app.close()
        for executor in made:
            await executor.close()
        hub.server.stop()

    jp_asyncio_loop.run_until_complete(stop())
    GraderApp.clear_instance()


@pytest.fixture
def extension(jp_serverapp, service):
    """The extension, talking to the service as the learner ada."""
    ext = jp_serverapp.web_app.settings["coursehub"]
    ext.grader_client.grader_url = service.url
    ext.grader_client.api_token = service.hub.add_user("ada", (ACCESS, LEARN))
    return ext


@pytest.fixture
def api(jp_fetch, jp_asyncio_loop, extension):
    """Call the extension's API: ``api(method, path, body=None, **kw) -> (status, json)``."""

    def call(method, path, body=None, **kwargs):
        if body is not None and not isinstance(body, str | bytes):
            body = json.dumps(body)
        if method in ("POST", "PATCH", "PUT") and body is None:
            body = ""
        response = jp_asyncio_loop.run_until_complete(
            jp_fetch("coursehub/api", path, method=method, body=body, raise_error=False, **kwargs)
        )
        check_fetched(method, response)
        try:
            return response.code, json.loads(response.body) if response.body else None
        except ValueError:
            return response.code, response.body.decode()  # Jupyter's own 404 page

    return call


def choice_question() -> nbformat.NotebookNode:
    """A multiple-choice question's source: which of these are mutable?"""
    nb = python_notebook()
    nb.metadata["coursehub"] = {"type": "choice"}
    answer_cell = nbgrader_cell(
        "solution",
        '### BEGIN SOLUTION\nanswer = ["a", "c"]\n### END SOLUTION',
        "mutable",
    )
    answer_cell.metadata["coursehub"] = {
        "choices": [
            {"id": "a", "text": "a `list`"},
            {"id": "b", "text": "a `tuple`"},
            {"id": "c", "text": "a `dict`"},
        ],
        "multiple": True,
        "points": 1,
    }
    nb.cells = [
        nbgrader_cell("locked", "Which of these are mutable?", "task", cell_type="markdown"),
        answer_cell,
    ]
    return nb


def flashcard_question() -> nbformat.NotebookNode:
    nb = python_notebook()
    nb.metadata["coursehub"] = {"type": "flashcard"}
    front = nbformat.v4.new_markdown_cell("What does `len([1, 2])` return?")
    front.metadata["coursehub"] = {"card": "front"}
    back = nbformat.v4.new_markdown_cell("`2`")
    back.metadata["coursehub"] = {"card": "back"}
    nb.cells = [front, back]
    return nb


@pytest.fixture
def content(service):
    """The teacher's module with the square question (scored) and a flashcard."""
    teacher = service.client("teacher", (LEARN, AUTHOR))

    async def make():
        code, module = await teacher.post("modules", {"slug": "basics", "title": "Basics"})
        assert code == 201, module
        made = {"teacher": teacher}
        for slug, title, notebook in [
            ("square", "Square a number", square_question()),
            ("len-card", "len of a list", flashcard_question()),
        ]:
            code, question = await teacher.post(
                "questions",
                {
                    "module": "basics",
                    "slug": slug,
                    "title": title,
                    "difficulty": "easy",
                    "notebook": notebook,
                },
            )
            assert code == 201, question
            made[slug] = question
        return made

    return service.run(make())


def solve_through_the_extension(api, jp_root_dir, service, question_id) -> dict:
    """Open the square question, answer it and submit it through the extension; the
    graded submission."""
    status, opened = api("POST", f"questions/{question_id}/open")
    assert status in (200, 201), opened
    on_disk = jp_root_dir / opened["path"]
    nb = nbformat.read(on_disk, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "square-solution":
            cell.source = SQUARE
    nbformat.write(nb, on_disk)
    status, created = api("POST", f"questions/{question_id}/submit", {"path": opened["path"]})
    assert status == 202, created
    ada = Client(service.app.base_url, "token-ada")
    graded = service.run(ada.wait_graded(created["id"]))
    assert graded["status"] == "graded" and graded["score"] == graded["max_score"], graded
    return graded


# opening a question afresh ----------------------------------------------------------


def test_a_fresh_open_writes_a_new_notebook_and_keeps_the_learners_work(api, content, jp_root_dir):
    qid = content["square"]["id"]
    status, first = api("POST", f"questions/{qid}/open")
    assert (status, first) == (201, {"path": "basics/square.ipynb", "created": True})
    own = jp_root_dir / "basics" / "square.ipynb"
    nb = nbformat.read(own, as_version=4)
    nb.cells[1].source = "# my earlier work\n" + SQUARE
    nbformat.write(nb, own)

    days = {datetime.date.today().isoformat()}
    status, fresh = api("POST", f"questions/{qid}/open", {"fresh": True})
    days.add(datetime.date.today().isoformat())  # the test may straddle midnight
    assert status == 201 and fresh["created"] is True
    assert fresh["path"] in {f"basics/reviews/square-{day}.ipynb" for day in days}
    copy = nbformat.read(jp_root_dir / fresh["path"], as_version=4)
    assert copy.metadata.coursehub.question_id == qid  # Submit works in it
    assert "raise NotImplementedError" in copy.cells[1].source  # the student version
    assert "SECRET_HIDDEN_ASSERT" not in json.dumps(copy)
    # the learner's own notebook is as they left it
    assert nbformat.read(own, as_version=4).cells[1].source.startswith("# my earlier work")

    # again the same day: a new name, never over the first copy
    day = fresh["path"].removeprefix("basics/reviews/square-").removesuffix(".ipynb")
    (jp_root_dir / fresh["path"]).write_text("the learner's review work")
    # a folder or a file of the learner's at the next name is skipped too
    (jp_root_dir / f"basics/reviews/square-{day}-2.ipynb").mkdir()
    status, again = api("POST", f"questions/{qid}/open", {"fresh": True})
    assert (status, again["path"]) == (201, f"basics/reviews/square-{day}-3.ipynb")
    assert (jp_root_dir / fresh["path"]).read_text() == "the learner's review work"

    # the normal open still answers with the learner's own notebook, untouched
    status, normal = api("POST", f"questions/{qid}/open", {"fresh": False})
    assert (status, normal) == (200, {"path": "basics/square.ipynb", "created": False})


def test_a_fresh_open_refuses_nonsense_and_questions_out_of_reach(api, content, jp_root_dir):
    qid = content["square"]["id"]
    for body in ({"fresh": "yes"}, {"fresh": 1}):
        status, data = api("POST", f"questions/{qid}/open", body)
        assert (status, data["message"]) == (400, '"fresh" must be true or false.')
    status, data = api("POST", f"questions/{qid}/open", "[true]")
    assert status == 400
    status, data = api("POST", "questions/99999/open", {"fresh": True})
    assert status == 404
    assert not (jp_root_dir / "basics").exists()


def fill_in_question() -> nbformat.NotebookNode:
    nb = python_notebook()
    nb.metadata["coursehub"] = {"type": "fill_in"}
    answer_cell = nbgrader_cell(
        "solution",
        '### BEGIN SOLUTION\nanswer = {"quote": "say \\"hi\\"", "half": "0.5"}\n### END SOLUTION',
        "blanks",
    )
    answer_cell.metadata["coursehub"] = {
        "blanks": [
            {"id": "quote", "label": "The text", "match": "exact", "answers": ['say "hi"']},
            {"id": "half", "label": "One half", "match": "numeric", "answers": ["0.5"],
             "tolerance": 0.01},
        ]
    }  # fmt: skip
    nb.cells = [nbgrader_cell("locked", "Fill in.", "task", cell_type="markdown"), answer_cell]
    return nb


def answer_cell_of(nb) -> nbformat.NotebookNode:
    [cell] = [c for c in nb.cells if "choices" in c.metadata.get("coursehub", {})
              or "blanks" in c.metadata.get("coursehub", {})]  # fmt: skip
    return cell


@pytest.mark.parametrize(
    "make, written",
    [
        # exactly what the JupyterLab widgets write (answers.ts: choiceSource, fillInSource)
        (choice_question, None),
        (fill_in_question, 'answer = {"quote": "say \\"hi\\"", "half": "0.50"}'),
    ],
)
def test_what_the_widgets_write_is_graded_like_any_answer(api, service, jp_root_dir, make, written):
    teacher = service.client("teacher", (LEARN, AUTHOR))

    async def publish():
        code, module = await teacher.post("modules", {"slug": "quiz", "title": "Quiz"})
        assert code == 201, module
        return await teacher.post(
            "questions", {"module": "quiz", "slug": "q", "title": "Q", "notebook": make()}
        )

    code, question = service.run(publish())
    assert code == 201, question
    status, opened = api("POST", f"questions/{question['id']}/open")
    assert status == 201, opened
    nb = nbformat.read(jp_root_dir / opened["path"], as_version=4)
    assert nb.metadata.coursehub.type == make().metadata.coursehub.type
    cell = answer_cell_of(nb)
    assert "BEGIN SOLUTION" not in cell.source and "answers" not in json.dumps(nb)
    if written is None:
        # the choices in the learner's own order; the widget writes ids in that order
        order = [c["id"] for c in cell.metadata.coursehub.choices]
        assert sorted(order) == ["a", "b", "c"]
        ids = ", ".join(f'"{i}"' for i in order if i in ("a", "c"))
        assert cell.source == "answer = []"
        written = f"answer = [{ids}]"
    cell.source = written
    nbformat.write(nb, jp_root_dir / opened["path"])
    status, created = api("POST", f"questions/{question['id']}/submit", {"path": opened["path"]})
    assert status == 202, created
    graded = service.run(Client(service.app.base_url, "token-ada").wait_graded(created["id"]))
    assert graded["status"] == "graded", graded
    assert graded["score"] == graded["max_score"] > 0, graded


# reviews ------------------------------------------------------------------------


def test_reviews_are_relayed_and_only_flashcards_take_a_rating(api, content, jp_root_dir, service):
    square, card = content["square"]["id"], content["len-card"]["id"]
    status, data = api("GET", f"reviews/{square}")
    assert status == 200 and data["state"] == "new"  # no card before a first solve

    solve_through_the_extension(api, jp_root_dir, service, square)

    status, listed = api("GET", "reviews", params={"course": "demo", "limit": "5"})
    assert status == 200, listed
    assert set(listed["counts"]) >= {"due_now", "due_today", "next_7_days", "total"}
    assert listed["counts"]["total"] == 1
    status, got = api("GET", f"reviews/{square}")
    assert status == 200 and got["question"]["id"] == square and got["reviews"] == 1
    status, started = api("POST", f"reviews/{square}/start", {"opened": "2020-01-01T00:00:00Z"})
    assert status == 200 and started["opened"] is not None
    assert not started["opened"].startswith("2020")  # the body is not passed on

    # a graded question cannot be given a rating by its learner
    status, data = api("POST", f"reviews/{square}", {"rating": 4})
    assert status == 400 and "rated by grading" in data["message"]

    # a flashcard is rated through the extension; the reply says when it is due
    status, rated = api("POST", f"reviews/{card}", {"rating": "good", "duration_ms": 4200})
    assert status == 200, rated
    assert rated["question"]["id"] == card and rated["reviews"] == 1
    assert rated["due"].endswith("Z")
    for bad in ({"rating": 9}, {"rating": "perfect"}, {}):
        status, data = api("POST", f"reviews/{card}", bad)
        assert status == 400, (bad, data)
    status, data = api("POST", f"reviews/{card}", "not json")
    assert status == 400


# learning paths -------------------------------------------------------------------


def test_paths_are_relayed_with_their_owners_rules(api, content, service):
    teacher = content["teacher"]
    square, card = content["square"]["id"], content["len-card"]["id"]
    code, public = service.run(
        teacher.post(
            "paths",
            {"title": "Warm-up", "course": "demo", "questions": [square, card]},
        )
    )
    assert code == 201, public

    status, listed = api("GET", "paths", params={"course": "demo"})
    assert status == 200 and [p["id"] for p in listed["paths"]] == [public["id"]]
    status, got = api("GET", f"paths/{public['id']}")
    assert status == 200 and [i["id"] for i in got["items"]] == [square, card]
    assert got["mine"] is False

    status, enrolled = api("POST", f"paths/{public['id']}/enrol")
    assert status == 200 and enrolled["enrolled"] is True
    status, data = api("DELETE", f"paths/{public['id']}/enrol")
    assert (status, data) == (204, None)
    with unchecked():  # a method the endpoint does not have
        status, data = api("GET", f"paths/{public['id']}/enrol")
    assert status == 405 and data["status"] == 405

    # someone else's path cannot be changed or deleted
    status, data = api("PUT", f"paths/{public['id']}", {"title": "Mine now"})
    assert status == 403, data
    status, data = api("DELETE", f"paths/{public['id']}")
    assert status == 403, data

    # the learner's own private path
    status, mine = api("POST", "paths", {"title": "My mix", "questions": [card, square]})
    assert status == 201 and mine["mine"] is True and mine["public"] is False
    status, changed = api("PUT", f"paths/{mine['id']}", {"questions": [square]})
    assert status == 200 and changed["total"] == 1
    status, data = api("DELETE", f"paths/{mine['id']}")
    assert (status, data) == (204, None)
    status, data = api("GET", f"paths/{mine['id']}")
    assert status == 404


# quizzes --------------------------------------------------------------------------


def test_quizzes_are_relayed_and_an_attempt_is_the_learners_own(api, content, service):
    teacher = content["teacher"]
    code, quiz = service.run(
        teacher.post(
            "quizzes",
            {
                "course": "demo",
                "slug": "check",
                "title": "Quick check",
                "draws": [{"count": 1, "module": "basics"}],
                "released": True,
            },
        )
    )
    assert code == 201, quiz

    status, listed = api("GET", "quizzes", params={"course": "demo"})
    assert status == 200 and [q["id"] for q in listed["quizzes"]] == [quiz["id"]]
    status, got = api("GET", f"quizzes/{quiz['id']}")
    assert status == 200 and got["attempt"] is None

    status, started = api("POST", f"quizzes/{quiz['id']}/start", {"questions": [1, 2, 3]})
    assert status == 200, started
    drawn = [q["id"] for q in started["attempt"]["questions"]]
    assert len(drawn) == 1
    status, again = api("POST", f"quizzes/{quiz['id']}/start")
    assert status == 200 and [q["id"] for q in again["attempt"]["questions"]] == drawn
    status, finished = api("POST", f"quizzes/{quiz['id']}/finish", {"score": 100})
    assert status == 200 and finished["attempt"]["finished"] is not None
    assert finished["attempt"]["score"] == 0

    # what only instructors may do, refused by the grader, not by this server
    status, data = api("GET", f"quizzes/{quiz['id']}/results")
    assert status == 403, data
    status, data = api("PUT", f"quizzes/{quiz['id']}", {"title": "Easy"})
    assert status == 403, data
    status, data = api("DELETE", f"quizzes/{quiz['id']}")
    assert status == 403, data
    with unchecked():  # no such action: the server's own 404 page, outside the contract
        status, data = api("POST", f"quizzes/{quiz['id']}/restart")
    assert status == 404


# duels and the push channel ---------------------------------------------------------


class EventStream:
    """What a browser reads of an event stream: its messages (id, event, data), until
    `stop(self)` says enough, which ends the connection as a closed tab would."""

    def __init__(self, stop):
        self.text = ""
        self.messages = []
        self.stop = stop
        self.opened = asyncio.Event()

    def __call__(self, piece: bytes):
        self.opened.set()
        self.text += piece.decode()
        while "\n\n" in self.text:
            block, self.text = self.text.split("\n\n", 1)
            fields = {}
            for line in block.split("\n"):
                if line and not line.startswith(":"):
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")
            if "data" in fields:
                self.messages.append(
                    (int(fields["id"]), fields.get("event"), json.loads(fields["data"]))
                )
        if self.stop(self):
            raise tornado.httputil.HTTPInputError("the test read enough")


def test_duels_are_relayed_and_pushed_as_events(jp_fetch, jp_asyncio_loop, api, content):
    async def follow(stream: EventStream, headers=None, params=None):
        try:
            await jp_fetch(
                "coursehub/api/events",
                headers=headers or {},
                params=params or {},
                streaming_callback=stream,
                request_timeout=30,
            )
        except (tornado.httputil.HTTPInputError, tornado.httpclient.HTTPClientError):
            pass  # the test hung up: what it read is in the stream

    async def challenge_the_bot(stream):
        following = asyncio.ensure_future(follow(stream))
        await asyncio.wait_for(stream.opened.wait(), 10)
        duel = await jp_fetch(
            "coursehub/api/duels",
            method="POST",
            body=json.dumps({"course": "demo", "bot": True}),
        )
        await asyncio.wait_for(following, 20)
        return json.loads(duel.body)

    pushed = EventStream(stop=lambda s: len(s.messages) >= 1)
    duel = jp_asyncio_loop.run_until_complete(challenge_the_bot(pushed))
    assert duel["bot"] is True and duel["status"] == "active" and duel["you"] == "challenger"
    assert duel["question"]["id"] == content["square"]["id"]  # the only scored question
    [(first_id, kind, data)] = pushed.messages
    assert (kind, data["id"], data["status"]) == ("duel", duel["id"], "active")

    status, listed = api("GET", "duels", params={"course": "demo", "status": "active"})
    assert status == 200 and [d["id"] for d in listed["duels"]] == [duel["id"]]
    status, got = api("GET", f"duels/{duel['id']}")
    assert status == 200 and got["status"] == "active"
    status, data = api("POST", f"duels/{duel['id']}/accept")
    assert status == 403 and "your own challenge" in data["message"]  # the grader's word
    status, resigned = api("POST", f"duels/{duel['id']}/resign", {"winner": "ada"})
    assert status == 200 and resigned["status"] == "finished"
    assert resigned["winner"] == "bot"  # the body is not passed on
    status, ratings = api("GET", "duels/ratings", params={"course": "demo"})
    assert status == 200, ratings
    [me] = [e for e in ratings["entries"] if e["you"]]
    assert (me["user"], me["games"], me["losses"]) == ("ada", 1, 1)
    with unchecked():  # no such action: the server's own 404 page, outside the contract
        status, data = api("POST", f"duels/{duel['id']}/forfeit")
    assert status == 404
    status, data = api("GET", "duels/99999")
    assert status == 404

    # reconnecting with the last id seen replays what happened since: the resignation
    replayed = EventStream(stop=lambda s: len(s.messages) >= 1)
    jp_asyncio_loop.run_until_complete(
        asyncio.wait_for(follow(replayed, headers={"Last-Event-ID": str(first_id)}), 20)
    )
    [(later_id, kind, data)] = replayed.messages
    assert later_id > first_id
    assert (kind, data["id"], data["status"]) == ("duel", duel["id"], "finished")
    # the same from the query, for a first connection that cannot set the header
    from_query = EventStream(stop=lambda s: len(s.messages) >= 1)
    jp_asyncio_loop.run_until_complete(
        asyncio.wait_for(follow(from_query, params={"last_event_id": str(first_id)}), 20)
    )
    assert from_query.messages == replayed.messages


def test_the_event_stream_refuses_a_forged_last_event_id(api):
    for forged in ("abc", "1 2", "-1", "9" * 30):
        status, data = api("GET", "events", headers={"Last-Event-ID": forged})
        assert status == 400 and data["status"] == 400, forged


def test_another_learners_duel_is_out_of_reach(api, content, service):
    bob = service.client("bob")
    code, duel = service.run(bob.post("duels", {"course": "demo", "bot": True}))
    assert code == 201, duel
    for method, path in [
        ("GET", f"duels/{duel['id']}"),
        ("POST", f"duels/{duel['id']}/resign"),
        ("POST", f"duels/{duel['id']}/accept"),
    ]:
        status, data = api(method, path)
        assert status == 404, (method, path, data)
    status, listed = api("GET", "duels", params={"course": "demo"})
    assert status == 200 and listed["duels"] == [] and listed["open"] == []


# the daily question ---------------------------------------------------------------


def test_the_daily_question_is_relayed(api, content):
    status, daily = api("GET", "daily", params={"course": "demo", "day": "2020-01-01"})
    assert status == 200, daily
    assert daily["course"] == "demo"
    assert daily["question"]["id"] == content["square"]["id"]  # the only scored one
    assert daily["solved_today"] is False and daily["streak"] == 0
    status, data = api("GET", "daily", params={"course": "elsewhere"})
    assert status == 404 and "elsewhere" in data["message"]


# what is passed on, seen by a recording upstream -------------------------------------


class RecordingHandler(tornado.web.RequestHandler):
    def initialize(self, seen):
        self.seen = seen

    def prepare(self):
        self.seen.append(
            {
                "method": self.request.method,
                "path": self.request.path.split("/api/v1/", 1)[1],
                "query": parse_qs(self.request.query),
                "body": json.loads(self.request.body) if self.request.body else None,
                "last_event_id": self.request.headers.get("Last-Event-ID"),
                "authorization": self.request.headers.get("Authorization"),
            }
        )
        if self.request.path.endswith("/events"):
            self.set_header("Content-Type", "text/event-stream")
            self.finish('id: 8\nevent: duel\ndata: {"id": 1}\n\n')
        else:
            self.set_header("Content-Type", "application/json")
            self.finish("{}")


@pytest.fixture
def recorder(jp_asyncio_loop, jp_serverapp):
    """The extension pointed at a server that records what reaches it."""
    seen = []
    app = tornado.web.Application(
        [(r"/services/grader/api/v1/.*", RecordingHandler, {"seen": seen})]
    )
    port = free_port()

    async def start():
        server = HTTPServer(app)
        server.listen(port, "127.0.0.1")
        return server

    server = jp_asyncio_loop.run_until_complete(start())
    ext = jp_serverapp.web_app.settings["coursehub"]
    ext.grader_client.grader_url = f"http://127.0.0.1:{port}/services/grader/"
    ext.grader_client.api_token = "the-servers-token"
    yield seen
    server.stop()


@pytest.fixture
def relayed(jp_fetch, jp_asyncio_loop, recorder):
    def call(method, path, body=None, **kwargs):
        if method in ("POST", "PUT") and body is None:
            body = ""
        response = jp_asyncio_loop.run_until_complete(
            jp_fetch("coursehub/api", path, method=method, body=body, raise_error=False, **kwargs)
        )
        check_fetched(method, response, relayed_bodies=False)  # a stand-in grader's made-up models
        return response.code, response.body

    return call


@pytest.mark.parametrize(
    "path, params, forwarded",
    [
        ("paths", {"course": "demo", "user": "bob"}, {"course": ["demo"]}),
        ("reviews", {"course": "demo", "limit": "5", "user": "bob"}, {"course": ["demo"], "limit": ["5"]}),
        ("quizzes", {"course": "demo", "all": "1"}, {"course": ["demo"]}),
        ("duels", {"course": "demo", "status": "open", "limit": "3", "user": "bob"},
         {"course": ["demo"], "status": ["open"], "limit": ["3"]}),
        ("duels/ratings", {"course": "demo", "offset": "5", "limit": "5", "x": "y"},
         {"course": ["demo"], "offset": ["5"], "limit": ["5"]}),
        ("daily", {"course": "demo", "day": "2020-01-01"}, {"course": ["demo"]}),
        ("paths/3", {"course": "demo"}, {}),
        ("quizzes/3", {"user": "bob"}, {}),
        ("duels/3", {"as": "bob"}, {}),
        ("reviews/3", {"user": "bob"}, {}),
    ],
)  # fmt: skip
def test_only_the_named_query_arguments_are_passed_on(relayed, recorder, path, params, forwarded):
    status, _ = relayed("GET", path, params=params)
    assert status == 200
    assert recorder[-1]["path"] == path
    assert recorder[-1]["query"] == forwarded
    assert recorder[-1]["authorization"] == "token the-servers-token"


@pytest.mark.parametrize(
    "path",
    [
        "paths/3/enrol",
        "reviews/3/start",
        "quizzes/3/start",
        "quizzes/3/finish",
        "duels/3/accept",
        "duels/3/decline",
        "duels/3/cancel",
        "duels/3/resign",
    ],
)
def test_actions_pass_on_nothing_but_the_action(relayed, recorder, path):
    forged = json.dumps({"winner": "ada", "score": 100, "user": "bob"})
    status, _ = relayed("POST", path, forged)
    assert status == 200
    assert (recorder[-1]["method"], recorder[-1]["path"], recorder[-1]["body"]) == (
        "POST",
        path,
        {},
    )


def test_bodies_are_passed_on_as_given_where_they_mean_something(relayed, recorder):
    for method, path, body in [
        ("POST", "paths", {"title": "Mine", "questions": [1, 2]}),
        ("PUT", "paths/3", {"questions": [2, 1]}),
        ("POST", "reviews/3", {"rating": 3, "duration_ms": 1200}),
        ("POST", "duels", {"course": "demo", "opponent": "bob"}),
        ("POST", "quizzes", {"course": "demo", "slug": "q", "title": "Q", "draws": []}),
        ("PUT", "quizzes/3", {"title": "Q2"}),
    ]:
        status, _ = relayed(method, path, json.dumps(body))
        assert status == 200, path
        assert (recorder[-1]["method"], recorder[-1]["path"], recorder[-1]["body"]) == (
            method,
            path,
            body,
        )
    # a body that is not an object never reaches the grader
    count = len(recorder)
    for method, path in [("POST", "paths"), ("POST", "reviews/3"), ("POST", "duels")]:
        status, body = relayed(method, path, "[1, 2]")
        assert status == 400 and json.loads(body)["status"] == 400
    assert len(recorder) == count


def test_ids_are_escaped_so_no_other_grader_path_is_reached(
    jp_asyncio_loop, http_server, jp_http_port, jp_base_url, jp_auth_header, recorder
):
    async def get(raw_path):
        # sent as is: jp_fetch would escape the escapes
        url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}coursehub/api/{raw_path}"
        client = tornado.httpclient.AsyncHTTPClient()
        return await client.fetch(url, headers=jp_auth_header, raise_error=False)

    for raw_path, upstream in [
        ("paths/..%2F..%2Fquestions%2F1%2Fsource", "paths/..%2F..%2Fquestions%2F1%2Fsource"),
        ("duels/1%3Fuser%3Dbob", "duels/1%3Fuser%3Dbob"),
        ("reviews/1%2Fstart", "reviews/1%2Fstart"),
    ]:
        response = jp_asyncio_loop.run_until_complete(get(raw_path))
        assert response.code == 200, raw_path
        assert (recorder[-1]["path"], recorder[-1]["query"]) == (upstream, {})
    # a path with more segments than a route has is this server's 404, never relayed
    count = len(recorder)
    response = jp_asyncio_loop.run_until_complete(get("paths/1/../../questions/1"))
    assert response.code == 404
    assert len(recorder) == count


def test_the_last_event_id_is_passed_on_as_the_header(jp_fetch, jp_asyncio_loop, recorder):
    for headers, params, expected in [
        ({"Last-Event-ID": "41"}, {}, "41"),
        ({}, {"last_event_id": "42"}, "42"),
        ({"Last-Event-ID": "43"}, {"last_event_id": "1"}, "43"),  # the header wins
        ({}, {}, None),
    ]:
        response = jp_asyncio_loop.run_until_complete(
            jp_fetch("coursehub/api/events", headers=headers, params=params)
        )
        assert response.code == 200
        assert response.headers["Content-Type"] == "text/event-stream"
        assert response.body == b'id: 8\nevent: duel\ndata: {"id": 1}\n\n'
        assert recorder[-1]["path"] == "events"
        assert recorder[-1]["last_event_id"] == expected
        assert recorder[-1]["query"] == {}
        assert recorder[-1]["authorization"] == "token the-servers-token"
