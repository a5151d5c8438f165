"""The grading service with the DockerExecutor: many submissions, hostile ones included,
leave no container behind; an engine that goes away leaves submissions queued, and they
are graded once it answers again.

The service runs in-process (as in test_service.py) against the real Docker engine.
"""

from __future__ import annotations

import asyncio
import secrets

import pytest
from tornado.httpserver import HTTPServer

from tests.conftest import LEARN, Client, answer, make_course, square_question
from tests.test_docker_executor import SocketProxy

pytestmark = pytest.mark.docker

PREFIX = f"coursehub-test-dg{secrets.token_hex(3)}-"

CORRECT = "def square(x):\n    return x * x"
PARTIAL = "def square(x):\n    return x + 2"
WRONG = "def square(x):\n    return x"
HOSTILE = {
    "time_limit": "def square(x):\n    while True:\n        pass",
    "output_limit": "def square(x):\n    while True:\n        print('spam' * 100)",
    "memory_limit": "def square(x):\n    b = []\n    while True:\n        b.append(' ' * 10**7)",
    "process_limit": "import os\ndef square(x):\n    while True:\n        os.fork()",
}


def our_containers(client):
    return [c for c in client.containers.list(all=True) if c.name.startswith(PREFIX)]


@pytest.fixture
async def docker_grader(grader_env, fake_hub, monkeypatch, learner_image, docker_engine):
    """Start the grading service with the DockerExecutor; `start(extra options)`."""
    from grader.app import GraderApp

    monkeypatch.setenv("COURSEHUB_EXECUTOR", "docker")
    running = []

    async def start(*options):
        GraderApp.clear_instance()
        app = GraderApp()
        app.initialize(
            [
                f"--DockerExecutor.image={learner_image}",
                f"--DockerExecutor.name_prefix={PREFIX}",
                "--DockerExecutor.cell_time_limit=3",
                "--DockerExecutor.time_limit=30",
                "--GradingQueue.unavailable_backoff=0.5",
                *options,
            ]
        )
        port = int(grader_env["JUPYTERHUB_SERVICE_URL"].rsplit(":", 1)[1])
        server = HTTPServer(app.webapp)
        server.listen(port, "127.0.0.1")
        app.queue.start()
        running.append((app, server))
        base = f"http://127.0.0.1:{port}/services/grader/api/v1/"
        author = Client(
            base,
            fake_hub.add_user(
                "teacher", ("access:services!service=grader", LEARN, "custom:coursehub:author")
            ),
        )
        await make_course(author)
        code, _ = await author.request("POST", "modules", {"slug": "m", "title": "M"})
        assert code == 201
        code, question = await author.request(
            "POST",
            "questions",
            {"module": "m", "slug": "square", "title": "Square", "notebook": square_question()},
        )
        assert code == 201, question
        learner = Client(base, fake_hub.add_user("ann", ("access:services!service=grader", LEARN)))
        code, model = await learner.get(f"questions/{question['id']}")
        return app, learner, question["id"], model["notebook"]

    yield start
    for app, server in running:
        server.stop()
        await app.close()
    GraderApp.clear_instance()
    left = our_containers(docker_engine)
    for container in left:
        container.remove(force=True)
    assert not left, f"containers left behind: {[c.name for c in left]}"


async def test_fifty_submissions_hostile_included_leave_no_container(docker_grader, docker_engine):
    app, learner, qid, student = await docker_grader(
        "--GradingQueue.workers=2", "--GradingQueue.max_queued_per_learner=100"
    )
    answers = [CORRECT, PARTIAL, WRONG] * 14 + list(HOSTILE.values()) * 2
    ids = []
    for source in answers:
        code, data = await learner.post(
            "submissions", {"question": qid, "notebook": answer(student, source)}
        )
        assert code == 202, data
        ids.append(data["id"])
    results = [await learner.wait_graded(i, timeout=300) for i in ids]
    assert [r["status"] for r in results] == ["graded"] * 50
    expected = {CORRECT: 3, PARTIAL: 1, WRONG: 0, **{h: 0 for h in HOSTILE.values()}}
    assert [r["score"] for r in results] == [expected[a] for a in answers]
    for reason, source in HOSTILE.items():
        result = results[answers.index(source)]
        assert any(reason in t["message"] for t in result["tests"]), (reason, result["tests"])
    assert our_containers(docker_engine) == []


async def test_submissions_wait_for_an_engine_that_went_away(docker_grader, tmp_path):
    # the grader reaches the engine through a socket that is not there yet: from the
    # grader's side, the engine is down
    socket_path = str(tmp_path / "docker.sock")
    app, learner, qid, student = await docker_grader(
        f"--DockerExecutor.docker_host=unix://{socket_path}"
    )
    ids = []
    for source in (CORRECT, PARTIAL):
        code, data = await learner.post(
            "submissions", {"question": qid, "notebook": answer(student, source)}
        )
        assert code == 202
        ids.append(data["id"])
    await asyncio.sleep(3)  # several tries, each finding no engine
    for submission_id in ids:
        code, data = await learner.get(f"submissions/{submission_id}")
        assert data["status"] == "queued", data
    code, health = await learner.get("health")
    assert code == 503 and health["executor"].startswith("unavailable")

    proxy = SocketProxy(socket_path)  # the engine is back
    try:
        results = [await learner.wait_graded(i, timeout=120) for i in ids]
    finally:
        proxy.stop()
    assert [(r["status"], r["score"]) for r in results] == [("graded", 3), ("graded", 1)]
    with app.session_factory() as db:
        from grader import orm

        attempts = [orm.Submission.find(db, i).attempts for i in ids]
    # waiting for the engine is not a failed attempt: each was graded once
    assert attempts == [1, 1]
