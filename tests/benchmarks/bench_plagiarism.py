"""How long a similarity report takes, and what the API's latency is while one runs.

Runs the grading service in this process (as the service tests do: a SQLite file, a
stand-in for the Hub's identity API), writes N learners' submissions of a question into
its database (long answers of their own, every 25th a disguised copy of the one before),
asks for a report through the API, and while the report's own process computes it
measures `GET health` and `GET courses` every 50 ms. Prints, for each N, the report's
time (asked -> done), its pairs, and p50 / p95 / max of the two requests' latencies,
with the same latencies measured idle before it for comparison. (The service runs with
the unsandboxed executor, which grades nothing: `GET health` answers 503, as quickly.)

    python tests/benchmarks/bench_plagiarism.py [--sizes 100 300] [--db-url URL]

A script, not a test: tests never assert on wall-clock time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tornado.httpserver import HTTPServer  # noqa: E402

from tests.conftest import (  # noqa: E402
    ACCESS,
    AUTHOR,
    LEARN,
    Client,
    FakeHub,
    fake_hub_course,
    free_port,
    service_env,
)
from tests.test_plagiarism import stats_question  # noqa: E402
from tests.test_plagiarism_service import seed_class  # noqa: E402


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def latency_row(name: str, ms: list[float]) -> str:
    if not ms:
        return f"  {name:28s} (no request)"
    return (
        f"  {name:28s} p50 {statistics.median(ms):7.1f} ms   p95 {percentile(ms, 95):7.1f} ms"
        f"   max {max(ms):7.1f} ms   ({len(ms)} requests)"
    )


async def timed(client: Client, path: str) -> float:
    started = time.perf_counter()
    code, data = await client.get(path)
    if code not in (200, 503):
        raise RuntimeError(f"GET {path}: {code} {data}")
    return 1000 * (time.perf_counter() - started)


async def sample(clients, until, interval=0.05) -> dict[str, list[float]]:
    """Latencies of each (name, client, path) every ``interval`` until ``until()``."""
    times = {name: [] for name, _, _ in clients}
    while not await until():
        for name, client, path in clients:
            times[name].append(await timed(client, path))
        await asyncio.sleep(interval)
    return times


async def one_size(app, teacher, anyone, size: int, db_url_note: str) -> None:
    code, question = await teacher.post(
        "questions",
        {
            "module": "bench",
            "slug": f"normalise-{size}",
            "title": f"Normalise ({size})",
            "notebook": stats_question(),
        },
    )
    assert code == 201, question
    started = time.perf_counter()
    planted = seed_class(app, question["id"], size)
    seeded = time.perf_counter() - started
    probes = [("GET health", anyone, "health"), ("GET courses", teacher, "courses")]

    idle_rounds = iter(range(20))

    async def idle_done():
        return next(idle_rounds, None) is None

    idle = await sample(probes, idle_done)

    started = time.perf_counter()
    code, report = await teacher.post(f"questions/{question['id']}/plagiarism", {})
    assert code == 202, report
    state = {}

    async def report_done():
        code, model = await teacher.get(f"plagiarism/{report['id']}")
        state.update(model)
        return model["status"] in ("done", "error")

    busy = await sample(probes, report_done)
    took = time.perf_counter() - started
    print(
        f"N = {size} submissions ({size * (size - 1) // 2} pairs, {db_url_note}; "
        f"written in {seeded:.1f} s): report {state['status']} in {took:.1f} s, "
        f"{state['pairs_listed']} pairs listed ({len(planted)} copies planted)"
    )
    for name, _, _ in probes:
        print(latency_row(name + ", idle", idle[name]))
        print(latency_row(name + ", report running", busy[name]))


async def main(args) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="coursehub-bench-plagiarism-"))
    hub = FakeHub()
    port = free_port()
    env = service_env(hub.api_url, port, str(workdir / "state"), "unsandboxed")
    os.environ.update(env)
    if args.db_url:
        os.environ["COURSEHUB_GRADER_DB_URL"] = args.db_url
    from grader.app import GraderApp

    app = GraderApp()
    app.initialize(["--log-level=ERROR"])  # not a line a request
    server = HTTPServer(app.webapp, max_body_size=64 * 2**20)
    server.listen(port, "127.0.0.1")
    try:
        await fake_hub_course(app, hub, "demo")
        base = f"http://127.0.0.1:{port}/services/grader/api/v1/"
        teacher = Client(base, hub.add_user("teacher", (ACCESS, LEARN, AUTHOR)))
        anyone = Client(base, hub.add_user("anyone", (ACCESS,)))
        code, module = await teacher.post("modules", {"slug": "bench", "title": "Bench"})
        assert code == 201, module
        note = "PostgreSQL" if args.db_url else "SQLite"
        for size in args.sizes:
            await one_size(app, teacher, anyone, size, note)
    finally:
        server.stop()
        await app.close()
        hub.server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--db-url", help="a PostgreSQL database instead of a SQLite file")
    asyncio.run(main(parser.parse_args()))
