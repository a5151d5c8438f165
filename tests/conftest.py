"""Shared fixtures: nbgrader-format notebooks built in memory, and the grading service
in-process against a stand-in for the Hub's identity API."""

from __future__ import annotations

import json
import socket

import nbformat
import pytest
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from tornado.httpserver import HTTPServer

# Shared fixtures, imported once here so each session fixture exists once:
# Docker (`docker_engine`, `learner_image`, `hub_image`: the images are built when
# missing or stale), PostgreSQL (`postgres_server`, one cluster a session; `postgres_url`)
# and SMTP on loopback (`smtp_server`, `smtp_server_module`, `smtp_tls_server`)
from tests.docker_support import docker_engine, hub_image, learner_image  # noqa: F401
from tests.mail_support import smtp_server, smtp_server_module, smtp_tls_server  # noqa: F401
from tests.openapi_check import check_response
from tests.pg_support import postgres_server, postgres_url  # noqa: F401

LEARN = "custom:coursehub:learn"
AUTHOR = "custom:coursehub:author"
ACCESS = "access:services!service=grader"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# notebooks -----------------------------------------------------------------


def nbgrader_cell(kind: str, source: str, grade_id: str, points: float = 0, cell_type="code"):
    """A cell with nbgrader metadata: kind is solution, test or locked."""
    meta = {
        "grade_id": grade_id,
        "schema_version": 3,
        "solution": kind == "solution",
        "grade": kind == "test",
        "locked": kind != "solution",
    }
    if kind == "test":
        meta["points"] = points
    make = nbformat.v4.new_code_cell if cell_type == "code" else nbformat.v4.new_markdown_cell
    return make(source, metadata={"nbgrader": meta})


def python_notebook(cells=()) -> nbformat.NotebookNode:
    """An nbformat 4 notebook with the Python 3 kernelspec and ``cells``."""
    nb = nbformat.v4.new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def square_question() -> nbformat.NotebookNode:
    """A small question: square(x), one visible test (1 point), one hidden (2 points)."""
    nb = python_notebook()
    nb.cells = [
        nbgrader_cell("locked", "Write `square(x)`.", "task", cell_type="markdown"),
        nbgrader_cell(
            "solution",
            "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION",
            "square-solution",
        ),
        nbgrader_cell("test", 'assert square(2) == 4, "square(2) should be 4"', "visible", 1),
        nbgrader_cell(
            "test",
            "### BEGIN HIDDEN TESTS\nassert square(-3) == 9, 'SECRET_HIDDEN_ASSERT'\n"
            "### END HIDDEN TESTS",
            "hidden",
            2,
        ),
    ]
    return nb


def answer(student_nb, source: str, grade_id: str = "square-solution"):
    """A copy of the student notebook with the solution cell `grade_id` replaced."""
    nb = nbformat.from_dict(json.loads(json.dumps(student_nb)))
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = source
    return nb


# a stand-in for the Hub's identity API ----------------------------------------


class FakeHubUserHandler(web.RequestHandler):
    """GET /hub/api/user: the model of whoever holds the token, as the Hub answers."""

    def get(self):
        token = self.request.headers.get("Authorization", "").split(" ", 1)[-1]
        model = self.settings["tokens"].get(token)
        if model is None:
            raise web.HTTPError(403)
        self.finish(model)


class FakeHub:
    """Tokens -> user models with scopes; the grader's real HubAuth asks it who's who.

    Courses' groups as the Hub keeps them (hub_config.courses): a member of
    `course-<slug>` gets the course's filtered learn scope, of `course-<slug>-instructors`
    its author scope too. The real Hub's side of this is tested with a real Hub
    (tests/test_courses_hub.py)."""

    def __init__(self):
        self.tokens = {"service-token": {"kind": "service", "name": "grader", "scopes": []}}
        self.groups: dict[str, set[str]] = {}
        self.port = free_port()
        app = web.Application(
            [
                (r"/hub/api/user", FakeHubUserHandler),
                (r"/hub/api/coursehub/courses/([^/]+)", _FakeCourseHandler),
                (r"/hub/api/groups/([^/]+)/users", _FakeGroupUsersHandler),
                (r"/hub/api/groups/([^/]+)", _FakeGroupHandler),
                (r"/hub/api/?", _HubRoot),
            ],
            tokens=self.tokens,
            hub=self,
        )
        self.server = HTTPServer(app)
        self.server.listen(self.port, "127.0.0.1")

    @property
    def api_url(self):
        return f"http://127.0.0.1:{self.port}/hub/api"

    def add_user(self, name, scopes=(LEARN, ACCESS), groups=()) -> str:
        token = f"token-{name}"
        self.tokens[token] = {
            "kind": "user", "name": name, "scopes": list(scopes), "groups": list(groups),
            "own_scopes": list(scopes),
        }  # fmt: skip
        self.grant(name)
        return token

    def grant(self, name):
        """A user's scopes: their own, and those of their courses' groups."""
        for model in self.tokens.values():
            if model["name"] != name or model["kind"] != "user":
                continue
            scopes = list(model["own_scopes"])
            for group, members in self.groups.items():
                if name not in members or not group.startswith("course-"):
                    continue
                learners = group.removesuffix("-instructors")
                scopes.append(f"{LEARN}!group={learners}")
                if group.endswith("-instructors"):
                    scopes.append(f"{AUTHOR}!group={learners}")
            model["scopes"] = scopes


class _FakeCourseHandler(web.RequestHandler):
    def put(self, slug):
        hub = self.settings["hub"]
        hub.groups.setdefault(f"course-{slug}", set())
        hub.groups.setdefault(f"course-{slug}-instructors", set())
        self.finish({"course": slug})


class _FakeGroupHandler(web.RequestHandler):
    def get(self, group):
        members = self.settings["hub"].groups.get(group)
        if members is None:
            raise web.HTTPError(404)
        self.finish({"name": group, "users": sorted(members)})


class _FakeGroupUsersHandler(web.RequestHandler):
    def post(self, group):
        hub = self.settings["hub"]
        if group not in hub.groups:
            raise web.HTTPError(404)
        for name in json.loads(self.request.body)["users"]:
            hub.groups[group].add(name)
            hub.grant(name)
        self.finish({"name": group})

    def delete(self, group):
        hub = self.settings["hub"]
        if group not in hub.groups:
            raise web.HTTPError(404)
        for name in json.loads(self.request.body)["users"]:
            hub.groups[group].discard(name)
            hub.grant(name)
        self.finish({"name": group})


class _HubRoot(web.RequestHandler):
    def get(self):
        self.finish({"version": "6.1.1"})


class Client:
    """JSON over HTTP to the in-process grader, as one Hub user."""

    def __init__(self, base_url: str, token: str | None):
        self.base_url = base_url
        self.token = token

    async def request(
        self, method, path, body=None, raw: bytes | None = None, contract: bool = True
    ):
        """``(status, JSON or text)``; the response checked against the OpenAPI
        contract (tests/openapi_check.py) unless ``contract`` is False (garbage sent on
        purpose: a path or method no endpoint has)."""
        headers = {"Authorization": f"token {self.token}"} if self.token else {}
        if body is not None:
            raw = json.dumps(body).encode()
        try:
            response = await AsyncHTTPClient().fetch(
                self.base_url + path,
                method=method,
                headers=headers,
                body=raw,
                allow_nonstandard_methods=True,
                request_timeout=60,
            )
        except HTTPClientError as e:
            response = e.response
        self.last_response = response
        if contract:
            check_response(
                method,
                response.effective_url or self.base_url + path,
                response.code,
                response.headers.get("Content-Type"),
                response.body,
            )
        text = response.body.decode() if response.body else ""
        try:
            data = json.loads(text) if text else None
        except ValueError:
            data = text
        return response.code, data

    async def get(self, path):
        return await self.request("GET", path)

    async def post(self, path, body=None, raw=None):
        return await self.request("POST", path, body=body, raw=raw)

    async def wait_graded(self, submission_id, timeout=60.0):
        import asyncio

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            code, data = await self.get(f"submissions/{submission_id}")
            assert code == 200, data
            if data["status"] in ("graded", "error"):
                return data
            await asyncio.sleep(0.05)
        raise AssertionError(f"submission {submission_id} not graded in {timeout}s: {data}")


@pytest.fixture
async def fake_hub():
    # async: the server must listen on the test's running event loop
    hub = FakeHub()
    yield hub
    hub.server.stop()


def service_env(api_url: str, port: int, state_dir: str, executor: str) -> dict[str, str]:
    """What the Hub puts in a managed grader service's environment."""
    return {
        "JUPYTERHUB_API_URL": api_url,
        "JUPYTERHUB_API_TOKEN": "service-token",
        "JUPYTERHUB_CLIENT_ID": "service-grader",
        "JUPYTERHUB_SERVICE_NAME": "grader",
        "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{port}",
        "JUPYTERHUB_SERVICE_PREFIX": "/services/grader/",
        "JUPYTERHUB_BASE_URL": "/",
        "JUPYTERHUB_OAUTH_CALLBACK_URL": "/services/grader/oauth_callback",
        "COURSEHUB_STATE_DIR": state_dir,
        "COURSEHUB_EXECUTOR": executor,
    }


@pytest.fixture
def grader_env(tmp_path, fake_hub, monkeypatch):
    """Environment the Hub gives a managed service."""
    # the service tests grade in bubblewrap; Docker grading has tests of its own
    env = service_env(fake_hub.api_url, free_port(), str(tmp_path / "state"), "bubblewrap")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("COURSEHUB_COURSE_DIR", raising=False)
    monkeypatch.delenv("COURSEHUB_GRADER_DB_URL", raising=False)
    return env


# Service tests whose subject is the sandbox, not the database: run on SQLite only, so the
# PostgreSQL pass adds seconds, not the sandbox's time limits again.
SQLITE_ONLY = {"test_hostile_answers_are_graded_and_the_service_keeps_serving"}


#: markers whose tests are also "slow" (see pyproject's addopts and tests/run.sh)
SLOW_MARKERS = {"docker", "swarm", "browser"}


@pytest.hookimpl(tryfirst=True)  # before pytest's own -m selection reads the markers
def pytest_collection_modifyitems(config, items):
    for item in items:
        if any(item.get_closest_marker(name) for name in SLOW_MARKERS):
            item.add_marker(pytest.mark.slow)
    keep, drop = [], []
    for item in items:
        spec = getattr(item, "callspec", None)
        on_postgres = spec is not None and spec.params.get("grader") == "postgresql"
        (drop if on_postgres and item.originalname in SQLITE_ONLY else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
    ]
)
async def grader(request, grader_env, fake_hub, monkeypatch):
    """The grading service running in this process, on a fresh migrated database: a
    SQLite file, then a database of its own on the session's PostgreSQL cluster."""
    from grader.app import GraderApp

    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_server").create_database("service")
        monkeypatch.setenv("COURSEHUB_GRADER_DB_URL", url)
    app = GraderApp()
    app.initialize([])
    # the course every test's modules go in (a test of courses makes more)
    await fake_hub_course(app, fake_hub, "demo")
    server = HTTPServer(app.webapp, max_body_size=64 * 2**20)
    port = int(grader_env["JUPYTERHUB_SERVICE_URL"].rsplit(":", 1)[1])
    server.listen(port, "127.0.0.1")
    app.queue.start()
    app.base_url = f"http://127.0.0.1:{port}/services/grader/api/v1/"
    # every Hub user may reach the service (the `user` role grants it); scopes add to it
    app.client_for = lambda name, scopes=(LEARN,): Client(
        app.base_url, fake_hub.add_user(name, (ACCESS, *scopes))
    )
    yield app
    server.stop()
    await app.close()
    GraderApp.clear_instance()


async def make_course(author, slug: str = "demo") -> None:
    """A course made through the API by a global instructor (with the FakeHub's groups);
    nothing if it exists."""
    code, data = await author.post("courses", {"slug": slug, "title": slug.title()})
    assert code in (201, 409), data


async def fake_hub_course(app, fake_hub, slug: str, join: str = "invite"):
    """A course in the grader's database and its groups in the fake Hub."""
    from grader import orm

    with app.session_factory() as db:
        db.add(orm.Course(slug=slug, title=slug.title(), join=join))
        db.commit()
    await app.hub_groups.ensure_course(slug)


@pytest.fixture(autouse=True)
async def close_executors(monkeypatch):
    """End the warm processes of every bubblewrap executor a test made, in its loop."""
    from grader.executors.bubblewrap import BubblewrapExecutor

    made = []
    original = BubblewrapExecutor.__init__

    def recording_init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(BubblewrapExecutor, "__init__", recording_init)
    yield
    for executor in made:
        await executor.close()


@pytest.fixture
async def course(grader):
    """A module with the square question, created through the authoring API."""
    author = grader.client_for("teacher", (LEARN, AUTHOR))
    code, module = await author.post("modules", {"slug": "basics", "title": "Basics"})
    assert code == 201, module
    code, question = await author.post(
        "questions",
        {
            "module": "basics",
            "slug": "square",
            "title": "Square a number",
            "category": "functions",
            "difficulty": "easy",
            "tags": ["arithmetic", "functions"],
            "notebook": square_question(),
        },
    )
    assert code == 201, question
    return {"author": author, "module": module, "question": question}
