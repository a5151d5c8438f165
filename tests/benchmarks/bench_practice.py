"""Practice at class scale: the practice endpoints' reads, and the push channel's fan-out.

Builds a SQLite database as bench_scale.py does (LEARNERS learners, QUESTIONS questions,
SUBMISSIONS graded submissions, best scores and totals), then adds what a term of
practice leaves: a review card for every solved question (due dates spread over the
weeks around now), three public learning paths with every learner enrolled in one, a
quiz with thousands of attempts, finished duels and their ratings, and learner events.
It starts the real service on it (`coursehub-grader serve`, nothing graded) with a
stand-in Hub, and

- times each practice read over HTTP, one at a time (p50 / p99 / max): `GET reviews`,
  `paths`, `paths/{id}`, `daily`, `quizzes/{id}` (an attempt's score), `duels`,
  `duels/ratings` (first and a deep page);
- opens STREAMS event streams (`GET events`, one learner each: a class with the Practice
  tab open), writes EVENTS duel events for random ones of them, one every 50 ms, as a
  duel's change does (its own transaction), and measures how long each takes from its
  commit to the client (p50 / p99 / max, all delivered?), and the service's CPU while
  the streams are open::

    python tests/benchmarks/bench_practice.py [--learners 10000] [--questions 100]
        [--submissions 200000] [--streams 300] [--events 200] [--requests 100]

A script, not a test: tests never assert on wall-clock time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "benchmarks")]

import fsrs  # noqa: E402
from bench_scale import (  # noqa: E402
    GraderService,
    HubThread,
    Sizes,
    build,
    insert_chunks,
    machine_load,
    percentile,
    series,
)
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402
from tornado.httpclient import AsyncHTTPClient, HTTPRequest  # noqa: E402

from grader import dbutil, orm  # noqa: E402
from grader.learners import events  # noqa: E402
from tests.conftest import ACCESS, LEARN  # noqa: E402

CARDS_PER_LEARNER_MAX = 60


def add_practice(url: str, seed: int = 12) -> dict:
    """Cards, paths, a quiz and attempts, duels and ratings, events; counts."""
    rng = random.Random(seed)
    engine = dbutil.make_engine(url)
    now = orm.utcnow()
    counts = {}
    try:
        with Session(engine) as db:
            course = orm.any_course(db)
            course_id = course.id
            questions = db.scalars(select(orm.Question.id).order_by(orm.Question.id)).all()
            learners = db.scalars(select(orm.User.id).order_by(orm.User.id)).all()
            solved = db.execute(
                select(orm.BestScore.user_id, orm.BestScore.question_id).where(
                    orm.BestScore.solved.is_(True)
                )
            ).all()
            for q in questions:  # every question released a while ago
                db.get(orm.Question, q).released = now - timedelta(days=60)
            db.commit()

        template = fsrs.Scheduler(enable_fuzzing=False)
        card, _ = template.review_card(fsrs.Card(card_id=1), fsrs.Rating.Good)
        card_json = json.dumps(card.to_dict())

        def cards():
            seen: dict[int, int] = {}
            for user_id, question_id in solved:
                if seen.get(user_id, 0) >= CARDS_PER_LEARNER_MAX:
                    continue
                seen[user_id] = seen.get(user_id, 0) + 1
                due = now + timedelta(hours=rng.uniform(-10 * 24, 30 * 24))
                yield {
                    "user_id": user_id,
                    "question_id": question_id,
                    "course_id": course_id,
                    "card": card_json,
                    "due": due,
                    "reviews": 1,
                    "lapses": 0,
                    "last_review": due - timedelta(days=3),
                    "opened": None,
                    "created": due - timedelta(days=3),
                }

        counts["review cards"] = insert_chunks(engine, orm.ReviewCard, cards())

        paths = [
            {
                "id": p + 1,
                "slug": f"path-{p}",
                "title": f"Path {p}",
                "description": "",
                "owner_id": None,
                "course_id": course_id,
                "public": True,
                "position": p,
                "created": now,
                "updated": now,
            }
            for p in range(3)
        ]
        insert_chunks(engine, orm.LearningPath, paths)
        items = []
        for p in range(3):
            for position, q in enumerate(rng.sample(questions, min(20, len(questions)))):
                items.append({"path_id": p + 1, "question_id": q, "position": position})
        counts["path items"] = insert_chunks(engine, orm.PathItem, items)
        counts["path enrolments"] = insert_chunks(
            engine,
            orm.PathEnrolment,
            ({"path_id": 1, "user_id": u, "enrolled": now} for u in learners),
        )

        with Session(engine) as db:
            quiz = orm.Quiz(
                course_id=course_id,
                slug="midterm",
                title="Midterm",
                draws=[{"count": 5}],
                time_limit=1800,
                released=now - timedelta(days=1),
            )
            db.add(quiz)
            db.commit()
            quiz_id = quiz.id
        counts["quiz attempts"] = insert_chunks(
            engine,
            orm.QuizAttempt,
            (
                {
                    "quiz_id": quiz_id,
                    "user_id": u,
                    "questions": json.dumps(rng.sample(questions, 5)),
                    "started": now - timedelta(days=40),
                    "deadline": now - timedelta(days=40) + timedelta(seconds=1800),
                    "finished": None,
                }
                for u in learners[: len(learners) // 2]
            ),
        )

        records: dict[int, list[int]] = {}

        def duels():
            for _ in range(len(learners) * 2):
                a, b = rng.sample(learners, 2)
                started = now - timedelta(days=rng.uniform(1, 50))
                result = rng.choice(("challenger", "opponent", "draw"))
                for user, points in ((a, result), (b, result)):
                    records.setdefault(user, []).append(points)
                yield {
                    "course_id": course_id,
                    "challenger_id": a,
                    "opponent_id": b,
                    "bot": False,
                    "question_id": rng.choice(questions),
                    "status": "finished",
                    "time_limit": 600,
                    "bot_seconds": None,
                    "created": started,
                    "started": started,
                    "deadline": started + timedelta(seconds=600),
                    "finished": started + timedelta(seconds=rng.uniform(60, 600)),
                    "result": result,
                    "winning_submission_id": None,
                    "ratings": None,
                }

        counts["duels"] = insert_chunks(engine, orm.Duel, duels())
        counts["duel ratings"] = insert_chunks(
            engine,
            orm.DuelRating,
            (
                {
                    "user_id": u,
                    "course_id": course_id,
                    "rating": rng.gauss(1200, 150),
                    "games": len(games),
                    "wins": len(games) // 3,
                    "losses": len(games) // 3,
                    "draws": len(games) - 2 * (len(games) // 3),
                    "updated": now,
                }
                for u, games in records.items()
            ),
        )
        counts["learner events"] = insert_chunks(
            engine,
            orm.LearnerEvent,
            (
                {
                    "user_id": rng.choice(learners),
                    "kind": "duel",
                    "data": json.dumps({"id": i, "status": "finished"}),
                    "created": now - timedelta(hours=rng.uniform(0, 72)),
                }
                for i in range(len(learners) * 10)
            ),
        )
        with Session(engine) as db:
            busiest = db.scalar(
                select(orm.ReviewCard.user_id)
                .group_by(orm.ReviewCard.user_id)
                .order_by(func.count().desc(), orm.ReviewCard.user_id)
                .limit(1)
            )
            names = dict(db.execute(select(orm.User.id, orm.User.name)).all())
        counts["me"] = names[busiest]
        counts["names"] = [names[u] for u in learners]
        counts["ids"] = {names[u]: u for u in learners}
        counts["quiz"] = quiz_id
    finally:
        engine.dispose()
    return counts


async def fan_out(service, hub, url: str, facts: dict, streams: int, n_events: int) -> dict:
    """`streams` learners each with an open `GET events`; `n_events` events written for
    random ones of them: latency from commit to the client."""
    rng = random.Random(5)
    chosen = rng.sample(facts["names"], streams)
    tokens = {name: hub.add_user(name, (ACCESS, LEARN)) for name in chosen}
    committed: dict[int, float] = {}
    received: dict[int, float] = {}
    ready = 0
    connections = []
    client = AsyncHTTPClient()

    def on_chunk(chunk: bytes):
        nonlocal ready
        now = time.perf_counter()
        for line in chunk.decode().splitlines():
            if line.startswith("id: "):
                received.setdefault(int(line[4:]), now)
            elif line.startswith(": events after"):
                ready += 1

    for name in chosen:
        request = HTTPRequest(
            service.url + "events",
            headers={"Authorization": f"token {tokens[name]}"},
            streaming_callback=on_chunk,
            request_timeout=3600,
        )
        connections.append(asyncio.ensure_future(client.fetch(request, raise_error=False)))
    deadline = time.monotonic() + 120
    while ready < streams and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    cpu_before, wall_before = cpu_seconds(service.pid), time.monotonic()

    def write_events():
        engine = dbutil.make_engine(url, writer=True)
        factory = dbutil.make_session_factory(engine)
        try:
            for _ in range(n_events):
                name = rng.choice(chosen)
                with factory() as db:
                    event = events.record(db, facts["ids"][name], "duel", {"bench": True})
                    db.commit()
                    committed[event.id] = time.perf_counter()
                time.sleep(0.05)
        finally:
            engine.dispose()

    writer = threading.Thread(target=write_events)
    writer.start()
    while writer.is_alive():
        await asyncio.sleep(0.1)
    await asyncio.sleep(2)  # the last ones' look
    cpu = cpu_seconds(service.pid) - cpu_before
    wall = time.monotonic() - wall_before
    # the streams are cut off here: tornado's complaints about that are no figure
    logging.getLogger("tornado.application").setLevel(logging.CRITICAL)
    for connection in connections:
        connection.cancel()
    client.close()
    latencies = [(received[i] - committed[i]) * 1000 for i in committed if i in received]
    return {
        "streams": ready,
        "sent": len(committed),
        "delivered": len(latencies),
        "latencies": latencies,
        "cpu_percent": 100 * cpu / wall,
    }


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(url: str, facts: dict, workdir: Path, args) -> dict:
    AsyncHTTPClient.configure(None, max_clients=args.streams + 50)
    with HubThread() as hub:
        service = GraderService(
            url, hub, workdir / "state", "bubblewrap", ["--GraderApp.worker_processes=0"]
        )
        await service.start()
        try:
            me = hub.add_user(facts["me"], (ACCESS, LEARN))
            api, n = service.url, args.requests
            deep = max(0, facts["duel ratings"] - 50)
            rows = [
                await series("reviews (due list, counts)", lambda i: api + "reviews", me, n),
                await series("paths", lambda i: api + "paths", me, n),
                await series("paths/{id} (20 items)", lambda i: api + "paths/1", me, n),
                await series("daily", lambda i: api + "daily", me, n),
                await series("quizzes", lambda i: api + "quizzes", me, n),
                await series(
                    "quizzes/{id} (an attempt)", lambda i: api + f"quizzes/{facts['quiz']}", me, n
                ),
                await series("duels (own history)", lambda i: api + "duels", me, n),
                await series("duels/ratings, first page", lambda i: api + "duels/ratings", me, n),
                await series(
                    f"duels/ratings, deep page (offset {deep})",
                    lambda i: api + f"duels/ratings?offset={deep}",
                    me,
                    n,
                ),
            ]
            push = await fan_out(service, hub, url, facts, args.streams, args.events)
        except BaseException:
            print(service.log())
            raise
        finally:
            service.stop()
    return {"rows": rows, "push": push}


def report(sizes: Sizes, facts: dict, m: dict, load_before: str) -> None:
    print()
    print(
        f"SQLite: {sizes.learners:,} learners, {sizes.questions} questions, "
        f"{sizes.submissions:,} submissions; "
        + ", ".join(
            f"{facts[k]:,} {k}"
            for k in (
                "review cards",
                "path enrolments",
                "quiz attempts",
                "duels",
                "duel ratings",
                "learner events",
            )
        )
    )
    print(f"machine load before: {load_before}, after: {machine_load()}")
    print(f"{'endpoint':<40} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for row in m["rows"]:
        times = row["times"]
        if not times:
            print(f"{row['name']:<40} failed")
            continue
        print(
            f"{row['name']:<40} {statistics.median(times):8.1f} "
            f"{percentile(times, 99):8.1f} {max(times):8.1f}"
        )
    push = m["push"]
    lat = push["latencies"]
    print()
    print(
        f"push channel: {push['streams']} streams open, {push['sent']} events sent, "
        f"{push['delivered']} delivered; commit to client p50 {statistics.median(lat):.0f} ms, "
        f"p99 {percentile(lat, 99):.0f} ms, max {max(lat):.0f} ms "
        f"(EventWatch.interval 0.5 s); service CPU {push['cpu_percent']:.1f}% of a core"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--modules", type=int, default=5)
    parser.add_argument("--submissions", type=int, default=200_000)
    parser.add_argument("--streams", type=int, default=300)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    sizes = Sizes(args.learners, args.questions, args.modules, args.submissions)
    workdir = Path(tempfile.mkdtemp(prefix="coursehub-bench-practice-"))
    try:
        url = f"sqlite:///{workdir}/grader.sqlite"
        print("building", flush=True)
        build(url, sizes)
        facts = add_practice(url)
        load_before = machine_load()
        m = asyncio.run(measure(url, facts, workdir, args))
        report(sizes, facts, m, load_before)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
