"""The production database path: PostgreSQL, for real, and several grader replicas.

Several `GraderApp`s (replicas, as in a deployment with more than one grader container)
share one database and its queue: every submission is graded exactly once, none is
lost, best scores come out right, and a replica that dies mid-grading gives its work
up when its lease runs out. The replica tests run on SQLite too (one file, several
apps). The rest is PostgreSQL's own: `upgrade-db` on an empty database, the schema
check, and a whole Hub with both its databases in PostgreSQL.
"""

from __future__ import annotations

import asyncio
import collections
import os
import re
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select
from traitlets.config import Config

from grader import dbutil, orm
from grader.grading.notebooks import student_version
from grader.instructors.authoring import QuestionFields, create_question
from tests.conftest import answer, square_question

ANSWERS = {  # answer source -> its score on square_question (1 visible + 2 hidden points)
    "def square(x):\n    return 0": 0.0,
    "def square(x):\n    return x + 2": 1.0,  # square(2) passes, square(-3) fails
    "def square(x):\n    return x * x": 3.0,
}
MARKER = re.compile(r"# submission (\w+)")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def shared_db_url(request, tmp_path):
    """One database the replicas share: a SQLite file, or a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/shared.sqlite"
    return request.getfixturevalue("postgres_server").create_database("replicas")


class RecordingExecutor:
    """The replica's real executor, recording which submission each run was for.

    Each answer carries a `# submission <key>` comment, so a run is attributed by what
    the sandbox was asked to execute, not by the queue's own bookkeeping.
    """

    def __init__(self, inner, replica: str, started: collections.Counter, log: list):
        self.inner = inner
        self.replica = replica
        self.started = started
        self.log = log
        self.hold: asyncio.Event | None = None  # set: runs wait for it (a stuck replica)
        self.entered = asyncio.Event()

    async def check(self):
        return await self.inner.check()

    async def run(self, cells):
        key = next(m.group(1) for c in cells if (m := MARKER.search(c.source)))
        self.started[key] += 1
        self.log.append((self.replica, key))
        self.entered.set()
        if self.hold is not None:
            await self.hold.wait()
        return await self.inner.run(cells)

    async def close(self):
        await self.inner.close()


def start_replica(db_url, name, started, log, workers=2, lease_seconds=300.0):
    """A GraderApp on `db_url` with a recording executor; its queue not started yet."""
    from grader.app import GraderApp

    config = Config()
    config.GradingQueue.workers = workers
    config.GradingQueue.poll_interval = 0.1  # other replicas' work is found by polling
    config.GradingQueue.lease_seconds = lease_seconds
    config.GradingQueue.max_queued_per_learner = 100  # seed() queues several per learner
    app = GraderApp(db_url=db_url, config=config)
    app.initialize([])
    app.queue.executor = RecordingExecutor(app.executor, name, started, log)
    return app


def seed(app, learners: int, per_learner: int) -> dict[str, float]:
    """Queue `learners * per_learner` submissions of square; their keys -> expected score."""
    expected = {}
    source = square_question()
    student = student_version(source)
    answers = list(ANSWERS.items())
    with app.session_factory() as db:
        module = orm.Module(course=orm.any_course(db), slug="basics", title="Basics")
        db.add(module)
        question = create_question(db, module, QuestionFields(slug="sq", title="Sq"), source)
        users = [orm.User(name=f"learner{i}") for i in range(learners)]
        db.add_all(users)
        db.commit()
        for round_ in range(per_learner):
            for i, user in enumerate(users):
                code, score = answers[(i + round_) % len(answers)]
                key = f"u{i}r{round_}"
                nb = answer(student, f"{code}\n# submission {key}")
                app.queue.enqueue(db, user, question, nb)
                expected[key] = score
    return expected


async def wait_until_done(app, timeout=180.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.session_factory() as db:
            pending = db.scalar(
                select(func.count())
                .select_from(orm.Submission)
                .where(orm.Submission.status.in_(("queued", "running")))
            )
        if pending == 0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{pending} submissions still pending after {timeout}s")


def results(app) -> tuple[dict[str, tuple], dict[str, float]]:
    """Per submission key: (status, score, attempts); per learner: best score."""
    with app.session_factory() as db:
        subs = {
            MARKER.search(str(s.notebook)).group(1): (s.status, s.score, s.attempts)
            for s in db.scalars(select(orm.Submission))
        }
        best = {
            name: score
            for name, score in db.execute(
                select(orm.User.name, orm.BestScore.score).join(
                    orm.BestScore, orm.BestScore.user_id == orm.User.id
                )
            )
        }
    return subs, best


def feedback_of(db_url) -> dict[str, list]:
    """Per submission key: the feedback it got (to show why a score is unexpected)."""
    engine = dbutil.make_engine(db_url)
    try:
        with dbutil.make_session_factory(engine)() as db:
            return {
                MARKER.search(str(s.notebook)).group(1): s.tests
                for s in db.scalars(select(orm.Submission))
            }
    finally:
        engine.dispose()


async def stop_all(apps):
    for app in apps:
        await app.close()


async def grade_with_replicas(db_url, replicas=2, learners=10, per_learner=5):
    """Queue submissions, start `replicas` apps at once and wait for all to be graded.

    Returns (expected scores, sandbox runs per submission, (replica, submission) runs in
    order, per submission (status, score, attempts), best score per learner, seconds).
    """
    started, log = collections.Counter(), []
    apps = [start_replica(db_url, f"r{i}", started, log) for i in range(replicas)]
    try:
        expected = seed(apps[0], learners, per_learner)
        t0 = time.monotonic()
        for app in apps:  # all at once: every worker races for the same rows
            app.queue.start()
        await wait_until_done(apps[0])
        elapsed = time.monotonic() - t0
        subs, best = results(apps[0])
    finally:
        await stop_all(apps)
    return expected, started, log, subs, best, elapsed


@pytest.mark.sandbox
async def test_replicas_grade_every_submission_exactly_once(grader_env, shared_db_url):
    expected, started, log, subs, best, elapsed = await grade_with_replicas(shared_db_url)
    feedback = feedback_of(shared_db_url)

    assert len(subs) == len(expected) == 50
    # each submission went into a sandbox once, was claimed once, and got its own score
    assert dict(started) == {key: 1 for key in expected}
    wrong = {
        k: [t["message"] for t in feedback[k] or []]
        for k, v in subs.items()
        if v != ("graded", expected[k], 1)
    }
    assert subs == {key: ("graded", score, 1) for key, score in expected.items()}, wrong
    # learner i's best is the best of their five answers
    want = {}
    for key, score in expected.items():
        learner = f"learner{key[1:].split('r')[0]}"
        want[learner] = max(want.get(learner, 0.0), score)
    assert best == want
    per_replica = collections.Counter(replica for replica, _ in log)
    print(f"\n{len(expected)} graded in {elapsed:.1f}s by {dict(per_replica)}")


@pytest.mark.sandbox
async def test_a_replica_killed_mid_grading_gives_its_submission_up(grader_env, shared_db_url):
    """A replica dies with a submission claimed; another grades it after the lease."""
    started, log = collections.Counter(), []
    doomed = start_replica(shared_db_url, "doomed", started, log, workers=1, lease_seconds=1.0)
    doomed.queue.executor.hold = asyncio.Event()  # never set: it is stuck in the sandbox
    expected = seed(doomed, learners=1, per_learner=1)
    (key,) = expected
    doomed.queue.start()
    survivor = None
    try:
        await asyncio.wait_for(doomed.queue.executor.entered.wait(), 60)
        # a process kill: no release, no result; the row stays `running` under its claim
        doomed.queue._release = lambda *args, **kwargs: None
        await doomed.queue.stop()
        assert results(doomed)[0][key][0] == "running"

        survivor = start_replica(shared_db_url, "survivor", started, log, lease_seconds=30.0)
        survivor.queue.start()
        await wait_until_done(survivor, timeout=60)
        subs, best = results(survivor)
    finally:
        await stop_all([a for a in (doomed, survivor) if a is not None])

    assert log == [("doomed", key), ("survivor", key)]
    assert subs == {key: ("graded", expected[key], 2)}  # claimed twice, graded once
    assert best == {"learner0": expected[key]}


@pytest.mark.sandbox
async def test_a_stalled_replica_cannot_overwrite_the_result_of_the_one_that_took_over(
    grader_env, shared_db_url
):
    """A replica that comes back after its lease ran out finds its claim gone."""
    started, log = collections.Counter(), []
    slow = start_replica(shared_db_url, "slow", started, log, workers=1, lease_seconds=1.0)
    slow.queue.executor.hold = asyncio.Event()
    expected = seed(slow, learners=1, per_learner=1)
    (key,) = expected
    slow.queue.start()
    other = start_replica(shared_db_url, "other", started, log, lease_seconds=30.0)
    # the slow replica's attempt to write its result, once its sandbox run returns
    late_write = asyncio.Event()
    finish = slow.queue._finish
    loop = asyncio.get_running_loop()

    def finish_and_tell(*args, **kwargs):
        try:
            return finish(*args, **kwargs)
        finally:
            # _finish runs in a worker thread: wake the loop from there
            loop.call_soon_threadsafe(late_write.set)

    slow.queue._finish = finish_and_tell
    try:
        await asyncio.wait_for(slow.queue.executor.entered.wait(), 60)
        other.queue.start()  # claims the submission once the slow one's lease has run out
        await wait_until_done(other, timeout=60)
        graded_by_other = results(other)
        slow.queue.executor.hold.set()  # the slow replica wakes up and tries to finish
        await asyncio.wait_for(late_write.wait(), 60)
        subs, best = results(other)
    finally:
        await stop_all([slow, other])

    assert [r for r, _ in log] == ["slow", "other"]
    assert subs == {key: ("graded", expected[key], 2)}
    assert (subs, best) == graded_by_other  # the slow replica's late result was discarded
    assert best == {"learner0": expected[key]}


# claim and result races -----------------------------------------------------------------


def test_results_finishing_at_once_keep_the_learners_best_score(grader_env, shared_db_url):
    """Two replicas write results for one learner's question in overlapping transactions."""
    import threading

    from grader.learners import scores

    dbutil.upgrade(shared_db_url)
    engine = dbutil.make_engine(shared_db_url)
    sessions = dbutil.make_session_factory(engine)
    with sessions() as db:
        module = orm.Module(course=orm.any_course(db), slug="m", title="M")
        question = create_question(
            db, module, QuestionFields(slug="q", title="Q"), square_question()
        )
        user = orm.User(name="ann")
        db.add_all([module, user])
        db.flush()
        subs = {}
        for score in (1.0, 3.0, 2.0, 1.5):
            subs[score] = orm.Submission(
                user=user, question=question, question_version=1, notebook={}, status="graded",
                score=score, max_score=3.0, attempts=1, finished=orm.utcnow(),
            )  # fmt: skip
            db.add(subs[score])
        db.commit()

    def overlapping(first: float, second: float):
        """`first` is written but not committed while `second` is written beside it."""
        errors = []
        with sessions() as a, sessions() as b:
            scores.record_best_score(a, a.merge(subs[first]))

            def write_second():
                try:
                    scores.record_best_score(b, b.merge(subs[second]))
                    b.commit()
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append(e)

            thread = threading.Thread(target=write_second)
            thread.start()
            thread.join(0.5)  # on PostgreSQL it now waits for `first`'s row
            a.commit()
            thread.join(60)
        assert errors == []
        with sessions() as db:
            best = orm.BestScore.find(db, user.id, question.id)
            return best.score, best.submission_id

    try:
        # no best yet: both insert; the higher one stands, whichever commits first
        assert overlapping(3.0, 1.0) == (3.0, subs[3.0].id)
        with sessions() as db:
            db.execute(orm.BestScore.__table__.update().values(score=1.0))
            db.commit()
        # an improvement in flight, a lesser result beside it: no lost update
        assert overlapping(3.0, 2.0) == (3.0, subs[3.0].id)
        assert overlapping(1.5, 2.0) == (3.0, subs[3.0].id)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_claim_next_never_hands_one_row_to_two_workers_on_postgresql(grader_env, postgres_url):
    """Many threads (connections) claim at once under READ COMMITTED: no row twice."""
    from concurrent.futures import ThreadPoolExecutor

    from grader.grading.queue import GradingQueue

    dbutil.upgrade(postgres_url)
    engine = dbutil.make_engine(postgres_url)
    sessions = dbutil.make_session_factory(engine)
    queue = GradingQueue(sessions, executor=None, max_queued_per_learner=200)
    with sessions() as db:
        module = orm.Module(course=orm.any_course(db), slug="m", title="M")
        question = create_question(
            db, module, QuestionFields(slug="q", title="Q"), square_question()
        )
        user = orm.User(name="ann")
        db.add_all([module, user])
        db.commit()
        for _ in range(200):
            queue.enqueue(db, user, question, {"cells": []})
    try:
        with engine.connect() as connection:
            level = connection.exec_driver_sql("SHOW transaction_isolation").scalar()
        assert level == "read committed"

        def drain():
            mine = []
            while (claimed := queue.claim_next()) is not None:
                mine.append(claimed[0])
            return mine

        with ThreadPoolExecutor(8) as pool:
            claimed = [i for part in pool.map(lambda _: drain(), range(8)) for i in part]
    finally:
        engine.dispose()
    assert sorted(claimed) == list(range(1, 201))  # every row once, none twice


# schema and upgrade-db ----------------------------------------------------------------


def grader_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "grader.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.postgres
def test_upgrade_db_creates_the_schema_and_the_service_then_starts(grader_env, postgres_url):
    from sqlalchemy import inspect

    from grader.app import GraderApp

    done = grader_cli("upgrade-db", "--db-url", postgres_url)
    assert done.returncode == 0, done.stderr
    assert f"database at revision {dbutil.head_revision()}" in done.stdout
    engine = dbutil.make_engine(postgres_url)
    try:
        assert engine.dialect.name == "postgresql"
        tables = set(inspect(engine).get_table_names())
        assert {"users", "modules", "questions", "submissions", "best_scores"} <= tables
        assert dbutil.current_revision(engine) == dbutil.head_revision()
    finally:
        engine.dispose()
    # running it again on an up-to-date database is harmless
    assert grader_cli("upgrade-db", "--db-url", postgres_url).returncode == 0

    app = GraderApp(db_url=postgres_url)
    app.initialize([])
    app.engine.dispose()


@pytest.mark.postgres
def test_replicas_starting_together_on_an_empty_database_all_start(grader_env, postgres_url):
    """Each replica migrates an empty database at start-up: they take turns."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda _: dbutil.upgrade(postgres_url), range(3)))  # none raises
    engine = dbutil.make_engine(postgres_url)
    try:
        assert dbutil.current_revision(engine) == dbutil.head_revision()
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_database_at_an_unknown_revision_is_refused(grader_env, postgres_url):
    from sqlalchemy import text

    dbutil.upgrade(postgres_url)
    engine = dbutil.make_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    engine.dispose()

    # the service itself, as the Hub starts it: exits with the remedy, serves nothing
    done = grader_cli("serve", env={"COURSEHUB_GRADER_DB_URL": postgres_url})
    assert done.returncode == 1
    assert "ffff" in done.stderr and "coursehub-grader upgrade-db" in done.stderr


# a whole Hub on PostgreSQL --------------------------------------------------------------


@pytest.mark.hub
@pytest.mark.postgres
def test_the_hub_and_the_grader_keep_everything_in_postgresql(postgres_server):
    import requests
    from sqlalchemy import inspect, text

    from hub_config.testing import RunningHub
    from tests.test_authenticator import sign_up

    hub_url = postgres_server.create_database("hub")
    grader_url = postgres_server.create_database("grader")
    os.environ["PATH"] = f"/opt/coursehub/chp/node_modules/.bin{os.pathsep}{os.environ['PATH']}"
    env = {
        "COURSEHUB_HUB_DB_URL": hub_url,
        "COURSEHUB_GRADER_DB_URL": grader_url,
        "COURSEHUB_SPAWNER": "local",  # no learner servers here: the databases are the point
        "COURSEHUB_EXECUTOR": "bubblewrap",
    }
    hub = RunningHub(env=env)
    try:
        hub.start()
        # the grader starts on an empty database and migrates it itself
        health = f"{hub.url}/services/grader/api/v1/health"
        deadline = time.monotonic() + 60
        while (r := requests.get(health, timeout=10)).status_code != 200:
            assert time.monotonic() < deadline, f"grader not healthy: {r.text}"
            time.sleep(0.5)
        assert r.json()["database"] == "ok"

        # the Hub's own rows and coursehub's accounts live in PostgreSQL
        assert hub.api("GET", "/users").status_code == 200
        r = sign_up(hub, "pg-ann", "pg horse battery staple", email="pg-ann@example.org")
        assert r.status_code == 201, r.text
        engine = dbutil.make_engine(hub_url)
        try:
            tables = set(inspect(engine).get_table_names())
            assert {"users", "api_tokens", "alembic_version", "coursehub_accounts"} <= tables
            assert {"coursehub_email_codes", "coursehub_accounts_alembic_version"} <= tables
            with engine.connect() as connection:
                accounts = connection.execute(
                    text("SELECT username FROM coursehub_accounts")
                ).scalars()
                assert "pg-ann" in list(accounts)
                # the Hub's own rows: its services' tokens and the service records
                services = connection.execute(text("SELECT name FROM services")).scalars()
                assert "grader" in list(services)
        finally:
            engine.dispose()

        # what instructors author through the grader lands in the grader's database
        headers = {"Authorization": f"token {hub.admin_token}"}
        r = requests.post(
            f"{hub.url}/services/grader/api/v1/modules",
            headers=headers,
            json={"slug": "pg-module", "title": "Stored in PostgreSQL"},
            timeout=30,
        )
        assert r.status_code == 201, r.text
        engine = dbutil.make_engine(grader_url)
        try:
            with engine.connect() as connection:
                titles = (
                    connection.execute(text("SELECT title FROM modules WHERE slug = 'pg-module'"))
                    .scalars()
                    .all()
                )
            assert titles == ["Stored in PostgreSQL"]
            assert dbutil.current_revision(engine) == dbutil.head_revision()
        finally:
            engine.dispose()
    except BaseException:
        print(hub.log()[-20000:])
        raise
    finally:
        hub.cleanup()
