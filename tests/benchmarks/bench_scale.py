"""Class-scale reads: the service's read endpoints over 100k learners and 1M submissions.

Builds a database of LEARNERS learners, QUESTIONS questions in MODULES modules and
SUBMISSIONS graded submissions, with their best scores and leaderboard totals, in bulk
(Core executemany in chunks; totals by `grader.learners.scores.rebuild_totals`), on a SQLite file
and on a PostgreSQL cluster of its own. Then it starts the real service on it
(`coursehub-grader serve --GraderApp.worker_processes=0`, nothing queued: this measures
reads) with a stand-in Hub answering token lookups, and times requests over HTTP, one at
a time: p50 / p99 / max of each read endpoint, the streamed gradebook.csv (time, and the
service process's peak RSS growth sampled from /proc), and how long cheap requests (GET
health, GET submissions/{id}) wait while an export runs. Prints a table per database
with issue 8's goals beside the figures::

    python tests/benchmarks/bench_scale.py [--db sqlite|postgresql|both] [--learners 100000]
        [--questions 200] [--modules 10] [--submissions 1000000] [--requests 100] [--quick]

The service runs in a process of its own, as deployed: the client's work (and the
stand-in Hub's, in a thread of this process) never shares its event loop or GIL. Times
are as the client sees them (loopback HTTP included, about 1 ms). A script, not a test:
tests never assert on wall-clock time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# the checkout's grader (not an installed copy), and the tests' helpers
sys.path[:0] = [str(REPO)]

from sqlalchemy import Text, column, func, select, table, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402
from tornado.httpclient import AsyncHTTPClient  # noqa: E402

from grader import dbutil, orm
from grader.instructors.authoring import QuestionFields, create_question
from grader.learners import profiles, scores
from tests.conftest import (  # noqa: E402
    ACCESS,
    AUTHOR,
    LEARN,
    FakeHub,
    answer,
    free_port,
    service_env,
    square_question,
)
from tests.pg_support import PostgresServer, postgres_missing_reason  # noqa: E402
from tests.test_postgres import ANSWERS  # noqa: E402

# issue 8's goals
READ_P99_MS = 20.0  # leaderboard and profile
CHEAP_WAIT_MS = 200.0  # a cheap request never waits longer, behind anything
EXPORT_RSS_MIB = 100.0  # gradebook.csv export's memory


# shared with bench_load.py ------------------------------------------------------------


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def machine_load() -> str:
    """The load averages: figures taken on a busy machine say so."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min)"


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (peak) ... of a process, in KiB (empty once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            lines = f.read().splitlines()
    except OSError:
        return {}
    found = {}
    for line in lines:
        key, _, value = line.partition(":")
        if key.startswith("Vm") and value.strip().endswith("kB"):
            found[key] = int(value.split()[0])
    return found


def children(pid: int) -> list[int]:
    """Direct child processes of ``pid``."""
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return found


def cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


class HubThread:
    """tests.conftest.FakeHub on an event loop of its own, in a thread: token lookups are
    answered however busy this process's own loop is with the client's work."""

    def __init__(self):
        self.hub: FakeHub | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    async def _main(self):
        self.hub = FakeHub()
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        await self._stop.wait()
        self.hub.server.stop()

    def __enter__(self) -> FakeHub:
        self._thread.start()
        self._ready.wait(30)
        return self.hub

    def __exit__(self, *exc):
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


class GraderService:
    """`python -m grader.cli serve ARGS` on ``db_url``, as the Hub runs it (its env from
    tests.conftest.service_env), from the checkout; stopped with SIGTERM."""

    def __init__(self, db_url: str, hub: FakeHub, state_dir: Path, executor: str, args=()):
        self.port = free_port()
        self.state_dir = state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = state_dir / "service.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("COURSEHUB_")}
        env |= service_env(hub.api_url, self.port, str(state_dir), executor)
        env |= {"COURSEHUB_GRADER_DB_URL": db_url, "PYTHONPATH": str(REPO)}
        self.env = env
        self.args = list(args)
        self.url = f"http://127.0.0.1:{self.port}/services/grader/api/v1/"
        self.process: subprocess.Popen | None = None

    async def start(self, timeout: float = 120.0):
        log = open(self.log_path, "wb")  # noqa: SIM115 - the child writes it until stopped
        self.process = subprocess.Popen(
            [sys.executable, "-m", "grader.cli", "serve", *self.args],
            cwd=self.state_dir,  # no grader_config.py of the checkout's is picked up
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        client = AsyncHTTPClient()
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the service ended ({self.process.returncode}):\n{self.log()}")
            try:
                response = await client.fetch(
                    self.url + "health", request_timeout=5, raise_error=False
                )
                if response.code in (200, 503):
                    return
            except OSError:
                pass
            await asyncio.sleep(0.2)
        raise RuntimeError(f"the service did not answer in {timeout:.0f} s:\n{self.log()}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def worker_pids(self) -> list[int]:
        """The grading worker processes it started (`grader.cli worker`)."""
        return [c for c in children(self.pid) if "worker" in cmdline(c)[2:4]]

    def log(self, tail: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-tail:])
        except OSError:
            return ""

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def timed_get(url: str, token: str | None = None) -> tuple[int, float, bytes]:
    """(status, milliseconds, body) of a GET as a client sees it."""
    headers = {"Authorization": f"token {token}"} if token else {}
    start = time.perf_counter()
    response = await AsyncHTTPClient().fetch(
        url, headers=headers, request_timeout=300, raise_error=False
    )
    return response.code, 1000 * (time.perf_counter() - start), response.body or b""


@dataclass
class Sizes:
    learners: int
    questions: int
    modules: int
    submissions: int


# the database -------------------------------------------------------------------------


def plain(model) -> table:
    """A lightweight Core table of ``model``'s columns, its JSON columns as plain text:
    bulk rows carry JSON encoded once, not once a row."""
    t = model.__table__
    return table(
        t.name,
        *[column(c.name, Text if isinstance(c.type, orm.JSONText) else c.type) for c in t.columns],
    )


def build_engine(url: str):
    """An engine for the bulk load (SQLite: no fsync, a large page cache)."""
    engine = dbutil.make_engine(url)
    if url.startswith("sqlite"):
        from sqlalchemy import event

        @event.listens_for(engine, "connect")
        def _fast(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA synchronous = OFF")
            cursor.execute("PRAGMA cache_size = -1000000")  # 1 GB
            cursor.close()

    return engine


def insert_chunks(engine, model, rows, chunk: int = 10_000) -> int:
    """Insert an iterable of row dicts, ``chunk`` at a time, a transaction each."""
    statement = plain(model).insert()
    count, batch = 0, []
    for row in rows:
        batch.append(row)
        if len(batch) == chunk:
            with engine.begin() as connection:
                connection.execute(statement, batch)
            count += len(batch)
            batch = []
    if batch:
        with engine.begin() as connection:
            connection.execute(statement, batch)
        count += len(batch)
    return count


def build(url: str, sizes: Sizes, seed: int = 8) -> dict[str, float]:
    """Fill an empty database; seconds per step."""
    rng = random.Random(seed)
    times: dict[str, float] = {}

    def step(name, started):
        times[name] = time.perf_counter() - started
        print(f"  {name}: {times[name]:.1f} s", flush=True)
        return time.perf_counter()

    t = time.perf_counter()
    dbutil.upgrade(url)
    t = step("schema", t)
    engine = build_engine(url)
    semester = datetime(2026, 9, 1)
    try:
        # modules, and the first question through the authoring path (a real nbgrader
        # source notebook, its student version and points derived as always)
        with Session(engine) as db:
            course = orm.any_course(db)
            modules = [
                orm.Module(
                    course=course,
                    slug=f"module{m:02d}",
                    title=f"Module {m}",
                    position=m,
                )
                for m in range(sizes.modules)
            ]
            db.add_all(modules)
            db.flush()
            fields = QuestionFields(
                slug="q000", title="Question 0", category="functions", difficulty="easy",
                tags=["arithmetic", "functions"],
            )  # fmt: skip
            first = create_question(db, modules[0], fields, square_question())
            db.commit()
            module_ids = [m.id for m in modules]
            first_id, max_score = first.id, first.max_score
            source_json = json.dumps(first.source_notebook)
            student = first.student_notebook
            student_json = json.dumps(student)

        def question_rows():
            per_module = -(-sizes.questions // sizes.modules)
            for i in range(1, sizes.questions):
                yield {
                    "id": first_id + i,
                    "module_id": module_ids[i // per_module],
                    "slug": f"q{i:03d}",
                    "title": f"Question {i}",
                    "category": "functions",
                    "difficulty": ("easy", "medium", "hard")[i % 3],
                    "tags": json.dumps(["arithmetic", "functions"]),
                    "position": i % per_module,
                    "max_score": max_score,
                    "version": 1,
                    "retired": False,
                    "type": "notebook",
                    "source_notebook": source_json,
                    "student_notebook": student_json,
                    "created": semester,
                }

        insert_chunks(engine, orm.Question, question_rows())
        question_ids = list(range(first_id, first_id + sizes.questions))
        t = step("modules and questions", t)

        insert_chunks(
            engine,
            orm.User,
            (
                {
                    "id": i + 1,
                    "name": f"learner{i:06d}",
                    "display_name": "",
                    "bio": "",
                    "created": semester - timedelta(seconds=rng.randrange(14 * 86400)),
                }
                for i in range(sizes.learners)
            ),
        )
        t = step("learners", t)

        # submissions in time order (ids follow time); learners as active as a lognormal
        # says, earlier questions more attempted, answers wrong / partial / correct 1:1:2
        weights = [rng.lognormvariate(0, 1) for _ in range(sizes.learners)]
        who = rng.choices(range(1, sizes.learners + 1), weights=weights, k=sizes.submissions)
        question_weights = [1 / (1 + q / 50) for q in range(sizes.questions)]
        what = rng.choices(question_ids, weights=question_weights, k=sizes.submissions)
        kinds = rng.choices(range(3), weights=[1, 1, 2], k=sizes.submissions)
        variants = []
        for code, score in ANSWERS.items():  # wrong, partial, correct
            nb = json.dumps(answer(student, code))
            tests = json.dumps(
                [
                    _test("visible", float(score >= 1), 1.0, False),
                    _test("hidden", float(score >= 3) * 2, 2.0, True),
                ]
            )
            variants.append((nb, len(nb), score, tests))
        step_seconds = 100 * 86400 / max(sizes.submissions, 1)  # over a 100-day course
        best: dict[tuple[int, int], tuple[float, int, datetime]] = {}

        def submission_rows():
            for i in range(sizes.submissions):
                sid = i + 1
                nb, size, score, tests = variants[kinds[i]]
                created = semester + timedelta(seconds=i * step_seconds)
                finished = created + timedelta(milliseconds=150)
                key = (who[i], what[i])
                mine = best.get(key)
                if mine is None or score > mine[0]:
                    best[key] = (score, sid, finished)
                yield {
                    "id": sid,
                    "user_id": who[i],
                    "question_id": what[i],
                    "question_version": 1,
                    "notebook": nb,
                    "size": size,
                    "status": "graded",
                    "priority": float(sid),
                    "score": score,
                    "max_score": max_score,
                    "tests": tests,
                    "error": None,
                    "attempts": 1,
                    "claim": None,
                    "worker": None,
                    "lease_expires": None,
                    "created": created,
                    "started": created + timedelta(milliseconds=50),
                    "finished": finished,
                }

        insert_chunks(engine, orm.Submission, submission_rows())
        t = step("submissions", t)

        insert_chunks(
            engine,
            orm.BestScore,
            (
                {
                    "user_id": user_id,
                    "question_id": question_id,
                    "submission_id": sid,
                    "score": score,
                    "max_score": max_score,
                    "solved": score >= max_score,
                    "reached": reached,
                }
                for (user_id, question_id), (score, sid, reached) in sorted(best.items())
            ),
        )
        times["best_score_rows"] = len(best)
        t = step("best scores", t)

        with Session(engine) as db:
            scores.rebuild_totals(db)
            db.commit()
        t = step("totals (rebuild_totals)", t)

        if engine.dialect.name == "postgresql":
            # explicit ids: move the sequences past them
            with engine.begin() as connection:
                for name in ("users", "questions", "submissions"):
                    connection.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                            f"(SELECT max(id) FROM {name}))"
                        )
                    )
            # what autovacuum does after a bulk load: statistics, and the visibility map
            # that index-only scans (counts over the ranking index) rely on
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text("VACUUM ANALYZE"))
            t = step("VACUUM ANALYZE", t)
        else:
            with engine.connect() as connection:
                connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    finally:
        engine.dispose()
    return times


def _test(name, points, max_points, hidden):
    return {
        "name": name,
        "points": points,
        "max_points": max_points,
        "passed": points == max_points,
        "hidden": hidden,
        "message": "" if points == max_points else f"{name}: AssertionError",
    }


def database_size(url: str) -> int:
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    engine = dbutil.make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.scalar(text("SELECT pg_database_size(current_database())"))
    finally:
        engine.dispose()


@dataclass
class Facts:
    """What the requests need to know of a built database."""

    learners: int
    ranked: int
    submissions: int
    middle: str  # the learner halfway down the leaderboard
    names: list[str]  # ranked learners, for profiles/{name}
    modules: list[str]


def describe(url: str, seed: int = 8) -> Facts:
    rng = random.Random(seed)
    engine = dbutil.make_engine(url)
    try:
        with Session(engine) as db:
            learners = db.scalar(select(func.count()).select_from(orm.User))
            ranked = db.scalar(
                select(func.count()).where(orm.Total.module_id == orm.any_course(db).board)
            )
            submissions = db.scalar(select(func.max(orm.Submission.id)))
            middle = db.scalar(
                select(orm.User.name)
                .join(orm.Total, orm.Total.user_id == orm.User.id)
                .where(orm.Total.module_id == orm.any_course(db).board)
                .order_by(*scores.RANKING)
                .offset(ranked // 2)
                .limit(1)
            )
            ids = rng.sample(range(1, learners + 1), min(learners, 500))
            names = db.scalars(
                select(orm.User.name)
                .join(orm.Total, orm.Total.user_id == orm.User.id)
                .where(orm.Total.module_id == orm.any_course(db).board, orm.User.id.in_(ids))
            ).all()
            modules = db.scalars(select(orm.Module.slug).order_by(orm.Module.position)).all()
    finally:
        engine.dispose()
    return Facts(learners, ranked, submissions, middle, list(names), list(modules))


def idle_poll_ms(url: str, polls: int = 20) -> list[float]:
    """What each grading worker pays every poll_interval with nothing queued:
    GradingQueue.claim_next on this database, in milliseconds."""
    from grader.grading.queue import GradingQueue

    reader, writer = dbutil.make_engine(url), dbutil.make_engine(url, writer=True)
    try:
        queue = GradingQueue(
            dbutil.make_session_factory(reader),
            executor=None,
            writer_factory=dbutil.make_session_factory(writer),
        )
        times = []
        for _ in range(polls):
            start = time.perf_counter()
            assert queue.claim_next() is None
            times.append(1000 * (time.perf_counter() - start))
        return times
    finally:
        reader.dispose()
        writer.dispose()


def query_costs(url: str, facts: Facts, runs: int = 5) -> dict[str, float]:
    """Where a request's time goes: the grader's own functions on this database, from
    this process (no HTTP, no service), median milliseconds of ``runs``."""
    from grader.instructors import gradebook

    engine = dbutil.make_engine(url)
    costs = {}
    try:
        with Session(engine) as db:
            me = orm.User.find(db, facts.middle)
            course = orm.any_course(db)
            cols = gradebook.columns(db, course)
            ids = [c["id"] for c in cols]
            page = gradebook.learners_page(db, course, ids, None, gradebook.PAGE_SIZE)
            for name, fn in (
                ("board_size (sum of score counts)", lambda: scores.board_size(db, course.board)),
                ("rank_of(mid-ranked)", lambda: scores.rank_of(db, me, course.board)),
                ("profile(mid-ranked)", lambda: profiles.profile(db, me, course)),
                (
                    "leaderboard first page",
                    lambda: scores.leaderboard(db, course.board, 0, 50),
                ),
                (
                    "leaderboard deep page",
                    lambda: scores.leaderboard(db, course.board, max(0, facts.ranked - 50), 50),
                ),
                (
                    f"gradebook page ({len(page)} learners)",
                    lambda: gradebook.learners_page(db, course, ids, None, gradebook.PAGE_SIZE),
                ),
                ("its csv_rows (in the same thread)", lambda: gradebook.csv_rows(cols, page)),
            ):
                times = []
                for _ in range(runs):
                    start = time.perf_counter()
                    fn()
                    times.append(1000 * (time.perf_counter() - start))
                costs[name] = statistics.median(times)
    finally:
        engine.dispose()
    return costs


# the requests -------------------------------------------------------------------------


async def series(name, url_of, token, n, warmup=3) -> dict:
    """``n`` requests one at a time (after ``warmup`` unrecorded ones): latencies."""
    times, failures = [], []
    for i in range(-warmup, n):
        code, ms, body = await timed_get(url_of(i), token)
        if code != 200:
            failures.append(f"{code} {body[:200]!r}")
        elif i >= 0:
            times.append(ms)
    if failures:
        print(f"  {name}: {len(failures)} failed, e.g. {failures[0]}")
    return {"name": name, "times": times, "failed": len(failures)}


async def poke(cheap, done: asyncio.Event, waits: dict[str, list[float]]):
    """Time ``cheap`` requests ((name, url or url(i), token)) in turn, one at a time,
    10 ms apart, until ``done``."""
    i = 0
    while not done.is_set():
        name, url, who = cheap[i % len(cheap)]
        code, ms, _ = await timed_get(url(i) if callable(url) else url, who)
        if code == 200 and not done.is_set():
            waits.setdefault(name, []).append(ms)
        i += 1
        await asyncio.sleep(0.01)


async def idle(cheap, seconds: float) -> dict[str, list[float]]:
    """The same requests at the same pace for ``seconds``, with nothing else running."""
    done, waits = asyncio.Event(), {}
    asyncio.get_running_loop().call_later(seconds, done.set)
    await poke(cheap, done, waits)
    return waits


async def export(service: GraderService, token: str, cheap=None) -> dict:
    """Stream gradebook.csv; sample the service's RSS meanwhile; with ``cheap``, time
    those requests all along (:func:`poke`)."""
    before = proc_status(service.pid)
    peak = {"rss": before.get("VmRSS", 0)}
    received = {"bytes": 0, "lines": 0}
    done = asyncio.Event()

    def chunk(data: bytes):
        received["bytes"] += len(data)
        received["lines"] += data.count(b"\n")

    async def sample():
        while not done.is_set():
            peak["rss"] = max(peak["rss"], proc_status(service.pid).get("VmRSS", 0))
            await asyncio.sleep(0.02)

    waits: dict[str, list[float]] = {name: [] for name, _, _ in cheap or ()}
    sampler = asyncio.create_task(sample())
    poker = asyncio.create_task(poke(cheap, done, waits)) if cheap else None
    start = time.perf_counter()
    response = await AsyncHTTPClient().fetch(
        service.url + "gradebook.csv",
        headers={"Authorization": f"token {token}"},
        streaming_callback=chunk,
        request_timeout=3600,
        raise_error=False,
    )
    seconds = time.perf_counter() - start
    done.set()
    await sampler
    if poker is not None:
        await poker
    after = proc_status(service.pid)
    return {
        "code": response.code,
        "seconds": seconds,
        "bytes": received["bytes"],
        "rows": received["lines"] - 1,
        "rss_before": before.get("VmRSS", 0),
        "rss_growth": peak["rss"] - before.get("VmRSS", 0),
        "hwm_growth": after.get("VmHWM", 0) - before.get("VmHWM", 0),
        "waits": waits,
    }


async def measure(url: str, facts: Facts, workdir: Path, n: int, executor: str) -> dict:
    AsyncHTTPClient.configure(None, max_clients=100)
    rng = random.Random(1)
    load_before = machine_load()
    with HubThread() as hub:
        service = GraderService(
            url, hub, workdir / "state", executor, ["--GraderApp.worker_processes=0"]
        )
        await service.start()
        try:
            me = hub.add_user(facts.middle, (ACCESS, LEARN))
            author = hub.add_user("bench-author", (ACCESS, LEARN, AUTHOR))
            api = service.url
            deep = max(0, facts.ranked - 50)
            ids = [rng.randrange(1, facts.submissions + 1) for _ in range(n + 10)]
            names = facts.names or [facts.middle]
            rows = [
                await series("leaderboard, first page", lambda i: api + "leaderboard", me, n),
                await series(
                    f"leaderboard, deep page (offset {deep})",
                    lambda i: api + f"leaderboard?offset={deep}",
                    me,
                    n,
                ),
                await series(
                    "module leaderboard, first page",
                    lambda i: api + f"leaderboard?module={facts.modules[i % len(facts.modules)]}",
                    me,
                    n,
                ),
                await series("profile (mid-ranked learner)", lambda i: api + "profile", me, n),
                await series(
                    "profiles/{name} (random learners)",
                    lambda i: api + f"profiles/{names[i % len(names)]}",
                    me,
                    n,
                ),
                await series("progress", lambda i: api + "progress", me, n),
                await series("questions list", lambda i: api + "questions", me, n),
                await series(
                    "submissions/{id} (random ids)",
                    lambda i: api + f"submissions/{ids[i]}",
                    author,
                    n,
                ),
                await series("health", lambda i: api + "health", None, n),
            ]
            alone = await export(service, author)
            cheap = [
                ("health", api + "health", None),
                ("submissions/{id}", lambda i: api + f"submissions/{ids[i % len(ids)]}", author),
            ]
            during = await export(service, author, cheap)
            during["idle"] = await idle(cheap, during["seconds"])
            service_rss = proc_status(service.pid).get("VmRSS", 0)
        except BaseException:
            print(service.log())
            raise
        finally:
            service.stop()
    polls = idle_poll_ms(url)
    costs = query_costs(url, facts)
    return {
        "costs": costs,
        "rows": rows,
        "export": alone,
        "during": during,
        "service_rss": service_rss,
        "polls": polls,
        "load_before": load_before,
        "load_after": machine_load(),
    }


# the report -----------------------------------------------------------------------------

READ_GOALS = ("leaderboard", "module leaderboard", "profile", "profiles/")


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def report(label: str, sizes: Sizes, facts: Facts, times: dict, size: int, m: dict, n: int):
    print()
    print(
        f"== {label}: {facts.learners:,} learners ({facts.ranked:,} on the leaderboard), "
        f"{sizes.questions} questions in {sizes.modules} modules, "
        f"{facts.submissions:,} graded submissions =="
    )
    if times:
        steps = {k: v for k, v in times.items() if k != "best_score_rows"}
        print(
            "build: "
            + ", ".join(f"{k} {v:.1f} s" for k, v in steps.items())
            + f"; total {sum(steps.values()):.0f} s; "
            f"{times.get('best_score_rows', 0):,} best scores; database {size / 2**30:.2f} GiB"
        )
    print(f"{'request (' + str(n) + ' one at a time)':44} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'max ms':>8}  goal")  # fmt: skip
    for row in m["rows"]:
        t = row["times"]
        if not t:
            print(f"{row['name']:44} {'failed':>8}")
            continue
        p99 = percentile(t, 99)
        goal = ""
        if row["name"].startswith(READ_GOALS):
            goal = f"p99 <= {READ_P99_MS:.0f} ms  {verdict(p99 <= READ_P99_MS)}"
        failed = f"  ({row['failed']} failed)" if row["failed"] else ""
        print(f"{row['name']:44} {percentile(t, 50):8.1f} {p99:8.1f} {max(t):8.1f}  {goal}{failed}")
    e = m["export"]
    growth = max(e["rss_growth"], e["hwm_growth"]) / 1024
    print(
        f"gradebook.csv: HTTP {e['code']}, {e['rows']:,} learners, {e['bytes'] / 2**20:.1f} MiB "
        f"in {e['seconds']:.1f} s; service RSS {e['rss_before'] / 1024:.0f} MiB before, "
        f"peak growth {e['rss_growth'] / 1024:.1f} MiB (VmHWM +{e['hwm_growth'] / 1024:.1f} "
        f"MiB)  goal < {EXPORT_RSS_MIB:.0f} MiB  {verdict(growth < EXPORT_RSS_MIB)}"
    )
    d = m["during"]
    print(
        f"cheap requests during a second export ({d['seconds']:.1f} s, peak RSS growth "
        f"{d['rss_growth'] / 1024:.1f} MiB), one at a time:"
    )
    for name, waits in d["waits"].items():
        if not waits:
            print(f"  {name:42} none answered")
            continue
        print(
            f"  {name + ' (' + str(len(waits)) + ')':42} {percentile(waits, 50):8.1f} "
            f"{percentile(waits, 99):8.1f} {max(waits):8.1f}  max <= {CHEAP_WAIT_MS:.0f} ms  "
            f"{verdict(max(waits) <= CHEAP_WAIT_MS)}"
        )
    print("  the same, as long, with no export running:")
    for name, waits in d["idle"].items():
        print(
            f"  {name + ' (' + str(len(waits)) + ')':42} {percentile(waits, 50):8.1f} "
            f"{percentile(waits, 99):8.1f} {max(waits):8.1f}"
        )
    polls = m["polls"]
    print(
        f"idle queue poll (GradingQueue.claim_next, nothing queued; each worker, every "
        f"poll_interval): p50 {statistics.median(polls):.1f} ms, max {max(polls):.1f} ms"
    )
    print(
        "where the time goes (grader functions called in this process, median ms): "
        + ", ".join(f"{k} {v:.1f}" for k, v in m["costs"].items())
    )
    print(f"service RSS at the end: {m['service_rss'] / 1024:.0f} MiB")
    print(
        f"machine: {os.cpu_count()} cores, {m['load_before']} before the requests; "
        f"{m['load_after']} after"
    )


# main -----------------------------------------------------------------------------------


def run_one(kind: str, sizes: Sizes, args, pg: PostgresServer | None) -> None:
    workdir = Path(tempfile.mkdtemp(prefix=f"coursehub-bench-scale-{kind}-"))
    try:
        times = {}
        if kind == "sqlite":
            path = Path(args.sqlite_file) if args.sqlite_file else workdir / "grader.sqlite"
            url = f"sqlite:///{path}"
            fresh = not path.exists()
        else:
            url = pg.create_database("scale")
            fresh = True
        label = "SQLite" if kind == "sqlite" else "PostgreSQL 15"
        if fresh:
            print(f"{label}: building ({url.split('@')[-1]})", flush=True)
            times = build(url, sizes)
        else:
            print(f"{label}: measuring the existing {url}")
        size = database_size(url)
        facts = describe(url)
        m = asyncio.run(measure(url, facts, workdir, args.requests, args.executor))
        report(label, sizes, facts, times, size, m, args.requests)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Full size takes a few minutes per database on 2 cores and ~5 GB of disk.",
    )
    parser.add_argument(
        "--db", choices=["sqlite", "postgresql", "both"], default="both", help="default both"
    )
    parser.add_argument("--learners", type=int, default=100_000, help="default 100,000")
    parser.add_argument("--questions", type=int, default=200, help="default 200")
    parser.add_argument("--modules", type=int, default=10, help="default 10")
    parser.add_argument(
        "--submissions", type=int, default=1_000_000, help="graded submissions (default 1M)"
    )
    parser.add_argument(
        "--requests", type=int, default=100, help="timed requests per endpoint (default 100)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test in under 2 minutes: 2,000 learners, 20 questions in 4 modules, "
        "20,000 submissions, 30 requests each",
    )
    parser.add_argument(
        "--executor",
        default="bubblewrap",
        help="COURSEHUB_EXECUTOR of the service (its health check runs it); default bubblewrap",
    )
    parser.add_argument(
        "--sqlite-file",
        help="SQLite file to build into and keep (measured as is if it exists already)",
    )
    args = parser.parse_args()
    if args.quick:
        args.learners, args.questions, args.modules = 2000, 20, 4
        args.submissions, args.requests = 20_000, 30
    sizes = Sizes(args.learners, args.questions, args.modules, args.submissions)
    on_each_database(args.db, lambda kind, pg: run_one(kind, sizes, args, pg))
    return 0


def on_each_database(choice: str, run) -> None:
    """``run(kind, pg)`` on SQLite and/or PostgreSQL (one cluster for all, stopped after);
    PostgreSQL is skipped, with the reason, where its server binaries are missing."""
    kinds = ["sqlite", "postgresql"] if choice == "both" else [choice]
    pg = None
    try:
        for kind in kinds:
            if kind == "postgresql" and pg is None:
                reason = postgres_missing_reason()
                if reason:
                    print(f"PostgreSQL skipped: {reason}")
                    continue
                pg = PostgresServer()
                pg.start()
            run(kind, pg)
    finally:
        if pg is not None:
            pg.stop()


if __name__ == "__main__":
    sys.exit(main())
