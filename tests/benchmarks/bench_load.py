"""Many learners submit at once: nothing lost, every score right, throughput that holds.

For each N of --learners (default 50,150,300), on a fresh database (a SQLite file, or a
database on a PostgreSQL cluster of its own): starts the real service as the Hub runs it
(`python -m grader.cli serve`, its env from tests.conftest.service_env, a stand-in Hub in
this process answering token lookups) grading in bubblewrap with --worker-processes
worker processes of --gradings-per-worker gradings each; an author creates the square
question through the API; each learner opens it (GET questions/{id}); then all N POST
one answer at the same moment (wrong, partial and correct in turn: expected scores 0, 1
and 3) and follow it as the front end does, on the server-sent events of
`submissions/{id}/events`, until graded. Prints per N: accepted, errors, lost, wrong
scores, p50/p99/max submit-to-graded, throughput and the grader's peak RSS (service and
worker processes, from /proc), with issue 8's goals beside them; then the events each
learner received and the CPU time the service, its workers and the database server took
during the burst (where the cores went besides the sandboxes)::

    python tests/benchmarks/bench_load.py [--db sqlite|postgresql|both]
        [--learners 50,150,300] [--worker-processes 2] [--gradings-per-worker 2] [--quick]

Throughput "as learners see it" is graded / (first POST to last result received);
"service" is graded / (first submission stored to last one finished), from the
database. Results reach followers within StatusWatch.interval (0.5 s) of being written.
A script, not a test: tests never assert on wall-clock time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# the checkout's grader, the tests' helpers and bench_scale's (service, stand-in Hub, /proc)
sys.path[:0] = [str(REPO), str(Path(__file__).resolve().parent)]

from bench_scale import (  # noqa: E402
    GraderService,
    HubThread,
    children,
    machine_load,
    on_each_database,
    percentile,
    proc_status,
)
from sqlalchemy import func, select  # noqa: E402
from tornado.httpclient import AsyncHTTPClient  # noqa: E402

from grader import dbutil, orm  # noqa: E402
from tests.conftest import ACCESS, AUTHOR, LEARN, answer, square_question  # noqa: E402
from tests.pg_support import PostgresServer  # noqa: E402
from tests.test_postgres import ANSWERS  # noqa: E402

# issue 8's goal: throughput at the largest N at least this share of that at the smallest
THROUGHPUT_HOLD = 0.9
FINAL = ("graded", "error")


async def request(method, url, token, body=None, timeout=120.0):
    """(status, decoded JSON body or text)."""
    response = await AsyncHTTPClient().fetch(
        url,
        method=method,
        headers={"Authorization": f"token {token}"},
        body=None if body is None else json.dumps(body),
        request_timeout=timeout,
        raise_error=False,
    )
    text = response.body.decode(errors="replace") if response.body else ""
    try:
        return response.code, json.loads(text)
    except ValueError:
        return response.code, text


async def follow(url: str, token: str, timeout: float) -> tuple[dict | None, str | None, int]:
    """Read a submission's event stream until a final status: (last model, error, number
    of events received)."""
    buffer = b""
    last: dict | None = None
    events = 0

    def chunk(data: bytes):
        nonlocal buffer, last, events
        buffer += data
        while b"\n\n" in buffer:
            event, buffer = buffer.split(b"\n\n", 1)
            for line in event.split(b"\n"):
                if line.startswith(b"data: "):
                    last = json.loads(line[len(b"data: ") :])
                    events += 1

    response = await AsyncHTTPClient().fetch(
        url,
        headers={"Authorization": f"token {token}", "Accept": "text/event-stream"},
        streaming_callback=chunk,
        request_timeout=timeout,
        raise_error=False,
    )
    if response.code != 200:
        return last, f"events: HTTP {response.code}", events
    if last is None or last["status"] not in FINAL:
        return last, "events: the stream ended before a final status", events
    return last, None, events


async def warm_up(api: str, hub, question_id: int, student_nb, count: int):
    """``count`` submissions by one learner, graded before the measured ones are sent."""
    token = hub.add_user("bench-warm-up", (ACCESS, LEARN))
    nb = answer(student_nb, next(iter(ANSWERS)))
    ids = []
    for _ in range(count):
        code, body = await request(
            "POST", api + "submissions", token, {"question": question_id, "notebook": nb}
        )
        assert code == 202, body
        ids.append(body["id"])
    for submission_id in ids:
        model, error, _ = await follow(api + f"submissions/{submission_id}/events", token, 300)
        assert error is None, error


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_use(service: GraderService, db_pids) -> dict[str, float]:
    """CPU seconds so far of the service, its worker processes (their own, not their
    sandboxes'), the database server's processes and this one."""
    return {
        "service": cpu_seconds(service.pid),
        "workers": sum(cpu_seconds(p) for p in service.worker_pids()),
        "database": sum(cpu_seconds(p) for p in db_pids()),
        "client": time.process_time(),  # this process: the learners and the stand-in Hub
    }


def postgres_pids(pg: PostgresServer) -> list[int]:
    """The cluster's postmaster and its children (backends, background workers)."""
    try:
        postmaster = int((pg.data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return []
    return [postmaster, *children(postmaster)]


class RssSampler:
    """Peak of the summed VmRSS of the service and its grading worker processes."""

    def __init__(self, service: GraderService, every: float = 0.1):
        self.service = service
        self.every = every
        self.peak_kib = 0
        self.peak_parts: dict[str, int] = {}
        self._task = None

    def sample(self) -> int:
        service = proc_status(self.service.pid).get("VmRSS", 0)
        workers = [proc_status(p).get("VmRSS", 0) for p in self.service.worker_pids()]
        total = service + sum(workers)
        if total > self.peak_kib:
            self.peak_kib = total
            self.peak_parts = {"service": service, "workers": sum(workers), "n": len(workers)}
        return total

    async def _run(self):
        while True:
            self.sample()
            await asyncio.sleep(self.every)

    def __enter__(self):
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc):
        self._task.cancel()


async def wait_for_workers(url: str, count: int, timeout: float = 120.0):
    """Until ``count`` grading workers have registered (started and imported)."""
    engine = dbutil.make_engine(url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                registered = connection.scalar(select(func.count()).select_from(orm.Worker))
            if registered >= count:
                return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"{registered} of {count} grading workers registered in {timeout} s")
    finally:
        engine.dispose()


def stored_outcomes(url: str) -> dict[int, tuple[str, float | None, object, object]]:
    """Per submission in the database: (status, score, created, finished)."""
    engine = dbutil.make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(
                    orm.Submission.id,
                    orm.Submission.status,
                    orm.Submission.score,
                    orm.Submission.created,
                    orm.Submission.finished,
                )
            ).all()
    finally:
        engine.dispose()
    return {r.id: (r.status, r.score, r.created, r.finished) for r in rows}


async def one_round(url: str, n: int, args, workdir: Path, db_pids=lambda: []) -> dict:
    """N learners submit at once on a fresh database; what they saw, and what was stored,
    and the CPU time the service, its workers and the database (``db_pids()``) took."""
    AsyncHTTPClient.configure(None, max_clients=4 * n + 20)
    workers = args.worker_processes
    options = [
        f"--GraderApp.worker_processes={workers}",
        f"--GradingQueue.workers={args.gradings_per_worker}",
        "--GradingQueue.max_queued_per_learner=1000",  # not what is measured here
    ]
    with HubThread() as hub:
        service = GraderService(url, hub, workdir / "state", "bubblewrap", options)
        await service.start()
        try:
            if workers:
                await wait_for_workers(url, workers)
            api = service.url
            author = hub.add_user("bench-author", (ACCESS, LEARN, AUTHOR))
            code, module = await request(
                "POST", api + "modules", author, {"slug": "basics", "title": "Basics"}
            )
            assert code == 201, module
            code, question = await request(
                "POST",
                api + "questions",
                author,
                {"module": "basics", "slug": "square", "title": "Square",
                 "notebook": square_question()},
            )  # fmt: skip
            assert code == 201, question
            qid = question["id"]
            answers = list(ANSWERS.items())
            learners = []
            for i in range(n):
                token = hub.add_user(f"learner{i:03d}", (ACCESS, LEARN))
                source, expected = answers[i % len(answers)]
                learners.append((token, source, expected))

            async def open_question(token):
                code, model = await request("GET", api + f"questions/{qid}", token)
                assert code == 200, model
                return model["notebook"]

            # each learner opened the question before (and the service knows their token)
            notebooks = await asyncio.gather(*(open_question(t) for t, _, _ in learners))
            # a service that has graded before: every lane's sandbox is warm
            await warm_up(api, hub, qid, notebooks[0], max(workers, 1) * args.gradings_per_worker)

            async def submit_and_follow(i):
                token, source, expected = learners[i]
                nb = answer(notebooks[i], source)
                await go.wait()
                start = time.perf_counter()
                code, body = await request(
                    "POST", api + "submissions", token, {"question": qid, "notebook": nb}
                )
                if code != 202:
                    return {"accepted": False, "error": f"POST: HTTP {code} {str(body)[:200]}"}
                model, error, events = await follow(
                    api + f"submissions/{body['id']}/events", token, args.timeout
                )
                return {
                    "accepted": True,
                    "id": body["id"],
                    "model": model,
                    "error": error,
                    "events": events,
                    "expected": expected,
                    "start": start,
                    "end": time.perf_counter(),
                }

            go = asyncio.Event()
            tasks = [asyncio.create_task(submit_and_follow(i)) for i in range(n)]
            await asyncio.sleep(0.2)  # every task waits at the starting line
            with RssSampler(service) as rss:
                cpu_before = cpu_use(service, db_pids)
                go.set()
                results = await asyncio.gather(*tasks)
                cpu = {k: v - cpu_before.get(k, 0) for k, v in cpu_use(service, db_pids).items()}
                rss.sample()
        except BaseException:
            print(service.log())
            raise
        finally:
            service.stop()
    return {"results": results, "stored": stored_outcomes(url), "rss": rss, "cpu": cpu}


def summarize(n: int, outcome: dict) -> dict:
    results, stored = outcome["results"], outcome["stored"]
    accepted = [r for r in results if r["accepted"]]
    errors, lost, wrong, latencies = [], [], [], []
    for r in results:
        if not r["accepted"]:
            errors.append(r["error"])
            continue
        model = r["model"]
        status = stored.get(r["id"], ("missing",))[0]
        if model is None or model["status"] not in FINAL:
            # accepted, but no result reached the learner
            lost.append(f"submission {r['id']}: {r['error']} (stored: {status})")
            continue
        if model["status"] == "error":
            errors.append(f"graded with error: {model.get('error')}")
            continue
        latencies.append(r["end"] - r["start"])
        if model["score"] != r["expected"] or stored[r["id"]][1] != r["expected"]:
            wrong.append((r["id"], r["expected"], model["score"]))
    graded = len(latencies)
    span = (max(r["end"] for r in accepted) - min(r["start"] for r in accepted)) if accepted else 0
    mine = {r["id"] for r in accepted}  # not the warm-up's
    finished = [s for i, s in stored.items() if i in mine and s[0] == "graded" and s[3]]
    service_span = (
        (max(s[3] for s in finished) - min(s[2] for s in finished)).total_seconds()
        if finished
        else 0
    )
    rss = outcome["rss"]
    return {
        "n": n,
        "accepted": len(accepted),
        "errors": errors,
        "lost": lost,
        "wrong": wrong,
        "latencies": latencies,
        "throughput": graded / span if span else 0.0,
        "service_throughput": len(finished) / service_span if service_span else 0.0,
        "stored": len(mine & set(stored)),
        "rss_mib": rss.peak_kib / 1024,
        "cpu": outcome["cpu"],
        "events": sum(r.get("events", 0) for r in accepted) / max(len(accepted), 1),
        "rss_parts": rss.peak_parts,
    }


def report(label: str, rows: list[dict], args):
    print()
    print(
        f"== {label}: {args.worker_processes} worker processes x {args.gradings_per_worker} "
        f"gradings (bubblewrap), one submission per learner, all at once =="
    )
    print(
        f"{'learners':>8} {'accepted':>8} {'errors':>6} {'lost':>4} {'wrong':>5} "
        f"{'p50 s':>6} {'p99 s':>6} {'max s':>6} {'graded/s':>8} {'service':>8} "
        f"{'RSS MiB':>8}  (service + workers)"
    )
    for row in rows:
        lat = row["latencies"]
        p50, p99, mx = (
            (percentile(lat, 50), percentile(lat, 99), max(lat)) if lat else (0.0, 0.0, 0.0)
        )
        parts = row["rss_parts"]
        print(
            f"{row['n']:8d} {row['accepted']:8d} {len(row['errors']):6d} {len(row['lost']):4d} "
            f"{len(row['wrong']):5d} {p50:6.2f} {p99:6.2f} {mx:6.2f} {row['throughput']:8.1f} "
            f"{row['service_throughput']:8.1f} {row['rss_mib']:8.0f}  "
            f"({parts.get('service', 0) / 1024:.0f} + {parts.get('workers', 0) / 1024:.0f} "
            f"in {parts.get('n', 0)})"
        )
        for error in row["errors"][:5]:
            print(f"    error: {error}")
        for lost in row["lost"][:5]:
            print(f"    lost: {lost}")
        for sid, want, got in row["wrong"][:5]:
            print(f"    wrong score: submission {sid} expected {want}, got {got}")
    print(
        f"{'learners':>8} {'events per learner':>18} {'CPU s: service':>14} {'workers':>8} "
        f"{'database':>8} {'client':>8}  (during the burst; sandboxes not counted)"
    )
    for row in rows:
        cpu = row["cpu"]
        print(
            f"{row['n']:8d} {row['events']:18.1f} {cpu['service']:14.1f} {cpu['workers']:8.1f} "
            f"{cpu['database']:8.1f} {cpu['client']:8.1f}"
        )
    errors = sum(len(r["errors"]) for r in rows)
    lost = sum(len(r["lost"]) for r in rows)
    wrong = sum(len(r["wrong"]) for r in rows)
    ok = lambda good: "ok" if good else "MISSED"  # noqa: E731
    print(f"goals: 0 lost: {lost} {ok(lost == 0)}; 0 errors: {errors} {ok(errors == 0)}; "
          f"0 wrong scores: {wrong} {ok(wrong == 0)}")  # fmt: skip
    if len(rows) > 1 and rows[0]["throughput"]:
        first, last = rows[0], rows[-1]
        for key, name in (("throughput", "as learners see it"), ("service_throughput", "service")):
            share = last[key] / first[key] if first[key] else 0.0
            print(
                f"throughput at {last['n']} / at {first['n']} ({name}): {last[key]:.1f} / "
                f"{first[key]:.1f} = {100 * share:.0f}%  goal >= {100 * THROUGHPUT_HOLD:.0f}%  "
                f"{ok(share >= THROUGHPUT_HOLD)}"
            )


def sandbox_reference(runs: int, concurrency: int):
    """The sandbox alone, without the service: bench_grading.py's grade_all on the square
    question's answers (that script compares the sandbox with nbgrader at length)."""
    from bench_grading import grade_all

    from grader.grading.notebooks import student_version

    source = square_question()
    student = student_version(source)
    answers = list(ANSWERS)
    learners = {f"s{i}": answer(student, answers[i % len(answers)]) for i in range(runs)}
    _, elapsed, times = asyncio.run(grade_all(source, learners, concurrency))
    print(
        f"sandbox alone (bench_grading.grade_all, square question, {runs} runs at "
        f"concurrency {concurrency}, one process): {runs / elapsed:.1f} gradings/s, "
        f"median {1000 * percentile(list(times.values()), 50):.0f} ms each "
        "(tests/benchmarks/bench_grading.py measures it against nbgrader)"
    )


def run_db(kind: str, ns: list[int], args, pg: PostgresServer | None):
    label = "SQLite" if kind == "sqlite" else "PostgreSQL 15"
    rows = []
    for n in ns:
        workdir = Path(tempfile.mkdtemp(prefix=f"coursehub-bench-load-{kind}-"))
        try:
            if kind == "sqlite":
                url = f"sqlite:///{workdir}/grader.sqlite"
            else:
                url = pg.create_database("load")
            started = time.perf_counter()
            db_pids = (lambda: postgres_pids(pg)) if kind == "postgresql" else (lambda: [])
            outcome = asyncio.run(one_round(url, n, args, workdir, db_pids))
            row = summarize(n, outcome)
            rows.append(row)
            print(
                f"{label}, {n} learners: {row['accepted']} accepted, "
                f"{len(row['latencies'])} graded, {row['throughput']:.1f}/s "
                f"({time.perf_counter() - started:.0f} s with start-up)",
                flush=True,
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    report(label, rows, args)
    print(f"machine: {os.cpu_count()} cores, {machine_load()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db", choices=["sqlite", "postgresql", "both"], default="both", help="default both"
    )
    parser.add_argument(
        "--learners", default="50,150,300", help="comma-separated class sizes (default 50,150,300)"
    )
    parser.add_argument(
        "--worker-processes",
        "--workers-processes",
        type=int,
        default=2,
        help="GraderApp.worker_processes (default 2; 0 grades in the service's process)",
    )
    parser.add_argument(
        "--gradings-per-worker",
        type=int,
        default=2,
        help="GradingQueue.workers: gradings at once per worker process (default 2)",
    )
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds a learner waits for a result"
    )
    parser.add_argument(
        "--sandbox-runs",
        type=int,
        default=40,
        help="gradings of the sandbox alone, for reference (0: skip)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke test in under 2 minutes: 10 and 30 learners"
    )
    args = parser.parse_args()
    if args.quick:
        args.learners, args.sandbox_runs = "10,30", min(args.sandbox_runs, 12)
    ns = [int(n) for n in args.learners.split(",")]
    print(f"machine: {os.cpu_count()} cores, {machine_load()}")
    if args.sandbox_runs:
        lanes = max(args.worker_processes, 1) * args.gradings_per_worker
        sandbox_reference(args.sandbox_runs, lanes)
    on_each_database(args.db, lambda kind, pg: run_db(kind, ns, args, pg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
