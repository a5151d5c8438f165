"""Faults at class scale: the grading service killed mid-run, its database restarted.

The real service runs as the Hub runs it (`python -m grader.cli serve`, in a process
group of its own, with its two worker processes); 100 learners have submitted one
notebook each. Then:

- the whole group is killed (SIGKILL) while submissions are being graded, and the
  service started again: its new workers take the dead ones' claims back at once;
- PostgreSQL is restarted (an immediate stop, as a crash) while the service grades:
  results finished during the outage are written once it is back.

Either way every acknowledged submission ends graded exactly once (one result with the
right score, one best score) within 30 s of the restart, and no temp dir is left.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest
from sqlalchemy import func, select

from grader import dbutil, orm
from tests.conftest import (
    ACCESS,
    AUTHOR,
    LEARN,
    Client,
    answer,
    free_port,
    make_course,
    service_env,
    square_question,
)
from tests.test_postgres import ANSWERS

pytestmark = [pytest.mark.sandbox, pytest.mark.faults]

REPO = Path(__file__).resolve().parents[1]
LEARNERS = 100
# how long recovery may take before a test gives up: a generous bound, not a goal (the
# recovery time is printed; tests never assert on wall-clock time)
RECOVERY_TIMEOUT = 120


class ServiceProcess:
    """`python -m grader.cli serve` with its workers, in a process group of its own."""

    def __init__(self, env: dict, log_path: Path):
        self.env = env
        self.log_path = log_path
        self.process = None

    def start(self):
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child writes it
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "grader.cli",
                "serve",
                "--GraderApp.worker_processes=2",
                "--GradingQueue.workers=2",
                "--GradingQueue.max_queued_per_learner=100",
            ],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def kill(self):
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def log(self, tail: int | None = 6000) -> str:
        text = self.log_path.read_text(errors="replace")
        return text if tail is None else text[-tail:]


@pytest.fixture
async def service(fake_hub, tmp_path, request):
    """Start/kill/restart the real service on SQLite or on a PostgreSQL cluster."""
    db = getattr(request, "param", "sqlite")
    port = free_port()
    env = {
        **os.environ,
        **service_env(fake_hub.api_url, port, str(tmp_path / "state"), "bubblewrap"),
    }
    env.pop("COURSEHUB_COURSE_DIR", None)
    pg = None
    if db == "postgresql":
        from tests.pg_support import PostgresServer

        pg = PostgresServer(crash_safe_commits=True).start()
        env["COURSEHUB_GRADER_DB_URL"] = pg.create_database("faults")
    else:
        env["COURSEHUB_GRADER_DB_URL"] = f"sqlite:///{tmp_path / 'grader.sqlite'}"
    service = ServiceProcess(env, tmp_path / "service.log")
    service.db_url = env["COURSEHUB_GRADER_DB_URL"]
    service.pg = pg
    service.base_url = f"http://127.0.0.1:{port}/services/grader/api/v1/"
    service.client_for = lambda name, scopes=(LEARN,): Client(
        service.base_url, fake_hub.add_user(name, (ACCESS, *scopes))
    )
    yield service
    service.stop()
    if pg is not None:
        pg.stop()


async def healthy(service, timeout=60):
    client = Client(service.base_url, None)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            code, _ = await client.get("health")
            if code == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError(f"the service did not become healthy:\n{service.log()}")


async def submit_everyone(service) -> dict[int, float]:
    """The square question, then one submission from each of 100 learners: id -> score."""
    author = service.client_for("teacher", (LEARN, AUTHOR))
    await make_course(author)
    code, _ = await author.post("modules", {"slug": "basics", "title": "Basics"})
    assert code == 201
    code, question = await author.post(
        "questions",
        {"module": "basics", "slug": "square", "title": "Square", "notebook": square_question()},
    )
    assert code == 201, question
    student = nbformat.from_dict((await author.get(f"questions/{question['id']}"))[1]["notebook"])
    answers = list(ANSWERS.items())

    async def one(i):
        source, score = answers[i % len(answers)]
        client = service.client_for(f"learner{i:03d}")
        nb = answer(student, source)
        code, data = await client.post("submissions", {"question": question["id"], "notebook": nb})
        assert code == 202, data
        return data["id"], score

    return dict(await asyncio.gather(*(one(i) for i in range(LEARNERS))))


def counts(db_url) -> dict[str, int]:
    engine = dbutil.make_engine(db_url)
    try:
        with dbutil.make_session_factory(engine)() as db:
            return dict(
                db.execute(
                    select(orm.Submission.status, func.count()).group_by(orm.Submission.status)
                ).all()
            )
    finally:
        engine.dispose()


async def wait_for(predicate, timeout, what, service):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await asyncio.to_thread(predicate)
        if value:
            return value
        await asyncio.sleep(0.1)
    try:
        now = counts(service.db_url)
    except Exception as e:
        now = e
    raise AssertionError(f"{what} within {timeout}s (now: {now}):\n{service.log()}")


def check_graded_exactly_once(db_url, expected: dict[int, float]):
    engine = dbutil.make_engine(db_url)
    try:
        with dbutil.make_session_factory(engine)() as db:
            subs = {s.id: s for s in db.scalars(select(orm.Submission))}
            best = db.execute(
                select(orm.BestScore.user_id, func.count(), func.max(orm.BestScore.score)).group_by(
                    orm.BestScore.user_id
                )
            ).all()
            total_rows = db.scalar(select(func.count()).select_from(orm.Total))
            workers = db.scalar(select(func.count()).select_from(orm.Worker))
    finally:
        engine.dispose()
    assert set(subs) == set(expected)
    wrong = {
        i: (s.status, s.score, s.error)
        for i, s in subs.items()
        if (s.status, s.score) != ("graded", expected[i])
    }
    assert wrong == {}
    # one best score per learner (each submitted once), equal to the submission's
    by_user = {s.user_id: s.score for s in subs.values()}
    assert sorted((u, n, score) for u, n, score in best) == sorted(
        (u, 1, score) for u, score in by_user.items()
    )
    assert total_rows == 2 * len(best)  # overall and the module's board
    return workers


def sandbox_dirs_of(pids) -> list[Path]:
    root = Path(tempfile.gettempdir())
    return [p for pid in pids for p in root.glob(f"coursehub-sandbox-{pid}-*")]


def process_tree(pid: int) -> list[int]:
    """pid and its descendants (the workers), from /proc."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += children.get(current, [])
    return tree


async def start_and_submit_everyone(service):
    """Start the service, submit for everyone, return once grading is under way:
    (expected scores by submission id, submissions by status at that moment)."""
    service.start()
    await healthy(service)
    expected = await submit_everyone(service)

    def some_graded_some_running():
        c = counts(service.db_url)
        return c.get("graded", 0) >= 10 and c.get("running", 0) >= 1 and c

    return expected, await wait_for(some_graded_some_running, 120, "grading under way", service)


@pytest.mark.parametrize(
    "service", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_killed_mid_run_and_restarted_grades_everything_exactly_once(service):
    expected, at_kill = await start_and_submit_everyone(service)
    pids = process_tree(service.process.pid)
    service.kill()
    assert at_kill.get("queued", 0) + at_kill.get("running", 0) > 0

    restarted = time.monotonic()
    service.start()

    def all_graded():
        return counts(service.db_url) == {"graded": LEARNERS}

    await wait_for(all_graded, RECOVERY_TIMEOUT, "everything graded", service)
    recovery = time.monotonic() - restarted
    print(f"killed at {at_kill}; everything graded {recovery:.1f} s after the restart")
    workers = check_graded_exactly_once(service.db_url, expected)
    assert workers == 2  # the new service's two; the dead ones' rows are gone
    assert sandbox_dirs_of(pids) == []  # the killed processes' temp dirs were cleaned
    # The whole log: a hundred "graded" lines follow the requeue message.
    assert "are queued again" in service.log(tail=None)


@pytest.mark.postgres
@pytest.mark.parametrize("service", ["postgresql"], indirect=True)
async def test_a_database_restart_mid_grading_loses_and_doubles_nothing(service):
    expected, _ = await start_and_submit_everyone(service)
    await asyncio.to_thread(service.pg.restart)
    restarted = time.monotonic()

    def all_graded():
        try:
            return counts(service.db_url) == {"graded": LEARNERS}
        except Exception:
            return False  # still starting

    await wait_for(all_graded, RECOVERY_TIMEOUT, "everything graded", service)
    recovery = time.monotonic() - restarted
    print(f"everything graded {recovery:.1f} s after the database restart")
    check_graded_exactly_once(service.db_url, expected)
    assert service.process.poll() is None  # the service lived through it
