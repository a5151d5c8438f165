"""Class scale: a fair queue with per-learner limits, totals kept in step with best
scores, a streamed gradebook, results pushed as server-sent events, worker liveness.

All against the real service in this process (SQLite, then PostgreSQL); grading in
bubblewrap where a test waits for a grade.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import time
from datetime import timedelta

import nbformat
import pytest
from sqlalchemy import column, func, inspect, select, table
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from grader import orm
from grader.instructors import gradebook
from grader.learners import profiles, scores
from tests.conftest import AUTHOR, LEARN, Client, answer

CORRECT = "def square(x):\n    return x * x"


@pytest.fixture
def square(course):
    return course["question"]["id"]


async def submit(client, question_id, code=CORRECT):
    """POST a submission: (status code, body)."""
    status, model = await client.get(f"questions/{question_id}")
    assert status == 200, model
    nb = answer(nbformat.from_dict(model["notebook"]), code)
    return await client.post("submissions", {"question": question_id, "notebook": nb})


async def submit_ok(client, question_id, code=CORRECT) -> int:
    status, data = await submit(client, question_id, code)
    assert status == 202, data
    return data["id"]


# the fair queue ---------------------------------------------------------------------


async def test_a_learner_with_many_queued_never_delays_anothers_first(grader, square):
    await grader.queue.stop()  # nothing is claimed while the queue fills
    grader.queue.max_queued_per_learner = 10
    ann, bob, cat = (grader.client_for(n) for n in ("ann", "bob", "cat"))
    anns = [await submit_ok(ann, square) for _ in range(4)]
    bobs = await submit_ok(bob, square)

    status, model = await bob.get(f"submissions/{bobs}")
    assert (model["status"], model["queue_position"]) == ("queued", 2)
    status, model = await ann.get(f"submissions/{anns[3]}")
    assert model["queue_position"] == 5

    claim = grader.queue.claim_next
    assert [claim()[0], claim()[0]] == [anns[0], bobs]
    # cat comes while ann's second is next: cat's first still goes before it
    cats = await submit_ok(cat, square)
    assert [claim()[0] for _ in range(4)] == [cats, anns[1], anns[2], anns[3]]


async def test_one_learner_resubmitting_one_at_a_time_cannot_starve_another(grader, square):
    await grader.queue.stop()
    grader.queue.max_queued_per_learner = 10
    ann, bob = grader.client_for("ann"), grader.client_for("bob")
    anns = [await submit_ok(ann, square) for _ in range(3)]
    assert grader.queue.claim_next()[0] == anns[0]
    # bob submits, is graded, submits again... each time one step after his last
    owners = []
    for _ in range(3):
        await submit_ok(bob, square)
        claimed = grader.queue.claim_next()[0]
        with grader.session_factory() as db:
            submission = db.get(orm.Submission, claimed)
            submission.status = "graded"
            owners.append(submission.user.name)
            db.commit()
    assert owners == ["bob", "ann", "bob"]


async def test_too_many_waiting_is_a_429_with_retry_after(grader, square):
    await grader.queue.stop()
    grader.queue.max_queued_per_learner = 2
    ann = grader.client_for("ann")
    await submit_ok(ann, square)
    await submit_ok(ann, square)
    status, data = await submit(ann, square)
    assert status == 429, data
    assert "2 submissions waiting" in data["message"] and "at most 2" in data["message"]
    assert int(ann.last_response.headers["Retry-After"]) >= 1
    # another learner is not affected, and nothing was stored for the refused one
    assert (await submit(grader.client_for("bob"), square))[0] == 202
    with grader.session_factory() as db:
        user = orm.User.find(db, "ann")
        assert db.scalar(select(func.count()).where(orm.Submission.user_id == user.id)) == 2


async def test_a_learner_over_their_storage_quota_gets_a_413(grader, square):
    await grader.queue.stop()
    ann = grader.client_for("ann")
    await submit_ok(ann, square)
    with grader.session_factory() as db:
        used = db.scalar(select(func.sum(orm.Submission.size)))
    grader.queue.storage_quota = used + 100
    status, data = await submit(ann, square)
    assert status == 413, data
    assert "storage quota" in data["message"] and "MiB" in data["message"]
    assert (await submit(grader.client_for("bob"), square))[0] == 202


async def test_a_restricted_learner_reads_but_cannot_submit(grader, fake_hub, square):
    """An admin put them in the Hub's `restricted` group (accounts page or REST API)."""
    from grader.scopes import RESTRICTED_GROUP

    rex = Client(grader.base_url, fake_hub.add_user("rex", groups=[RESTRICTED_GROUP]))
    assert (await rex.get(f"questions/{square}"))[0] == 200
    status, data = await submit(rex, square)
    assert status == 403 and "restricted" in data["message"]
    assert (await rex.get("submissions"))[1] == {"submissions": []}
    assert (await submit(grader.client_for("bob"), square))[0] == 202


# totals ------------------------------------------------------------------------------


def recomputed_totals(db) -> dict[tuple[int, int], tuple]:
    """Every total from scratch (the leaderboard as it used to be computed)."""
    best, question = orm.BestScore, orm.Question
    counted = (
        select(best.user_id, question.module_id, best.score, best.solved, best.reached)
        .join(question, question.id == best.question_id)
        .where(question.retired.is_(False))
    )
    totals: dict[tuple[int, int], list] = {}
    for user_id, module_id, score, solved, reached in db.execute(counted):
        for board in (orm.any_course(db).board, module_id):
            entry = totals.setdefault((board, user_id), [0.0, 0, reached])
            entry[0] += score
            entry[1] += int(solved)
            entry[2] = max(entry[2], reached)
    return {key: (round(s, 6), n, r) for key, (s, n, r) in totals.items()}


def stored_totals(db) -> dict[tuple[int, int], tuple]:
    return {
        (t.module_id, t.user_id): (round(t.score, 6), t.solved, t.reached)
        for t in db.scalars(select(orm.Total))
    }


def stored_score_counts(db) -> dict[tuple[int, float], int]:
    counts = db.scalars(select(orm.ScoreCount).where(orm.ScoreCount.learners != 0))
    return {(c.module_id, round(c.score, 6)): c.learners for c in counts}


def recounted_scores(totals: dict[tuple[int, int], tuple]) -> dict[tuple[int, float], int]:
    counts: dict[tuple[int, float], int] = {}
    for (board, _user), (score, _solved, _reached) in totals.items():
        counts[board, score] = counts.get((board, score), 0) + 1
    return counts


def make_course(db, modules=2, per_module=3):
    questions = []
    for m in range(modules):
        module = orm.Module(course=orm.any_course(db), slug=f"m{m}", title=f"M{m}", position=m)
        db.add(module)
        for q in range(per_module):
            question = orm.Question(
                module=module,
                slug=f"q{q}",
                title=f"Q{q}",
                position=q,
                max_score=4.0,
                source_notebook={},
                student_notebook={},
                released=orm.utcnow(),
            )
            db.add(question)
            questions.append(question)
    db.commit()
    return questions


def graded(user, question, score: float, finished) -> orm.Submission:
    """A graded submission's row, as a worker leaves it (out of 4 points)."""
    return orm.Submission(
        user_id=user.id,
        question_id=question.id,
        question_version=1,
        notebook={},
        status="graded",
        score=score,
        max_score=4.0,
        finished=finished,
    )


def grade_randomly(db, rng, users, questions, steps, finished=None):
    """`steps` graded submissions with random scores, recorded as the queue does."""
    for step in range(steps):
        user, question = rng.choice(users), rng.choice(questions)
        finished_at = (finished or orm.utcnow()) + timedelta(seconds=step)
        submission = graded(user, question, float(rng.randint(0, 4)), finished_at)
        db.add(submission)
        db.flush()
        scores.record_graded(db, submission)
        db.commit()


async def test_totals_always_equal_a_full_recomputation(grader):
    rng = random.Random(8)
    with grader.writer_factory() as db:
        questions = make_course(db)
        users = [orm.User(name=f"learner{i:02d}") for i in range(12)]
        db.add_all(users)
        db.commit()
        for _ in range(15):
            grade_randomly(db, rng, users, questions, steps=rng.randint(1, 15))
            if rng.random() < 0.4:  # an instructor retires a question, or brings one back
                question = rng.choice(questions)
                question.retired = not question.retired
                db.flush()
                scores.rebuild_totals(db)
                db.commit()
            assert stored_totals(db) == recomputed_totals(db)
            assert stored_score_counts(db) == recounted_scores(recomputed_totals(db))

        # and the leaderboards, ranks and the profile read them in the one order, on the
        # whole course's board and each module's
        names = {u.id: u.name for u in users}
        for board in (orm.any_course(db).board, *{q.module_id for q in questions}):
            expected = sorted(
                ((t, u) for (b, u), t in recomputed_totals(db).items() if b == board),
                key=lambda item: (-item[0][0], item[0][2], item[1]),
            )
            entries, total = scores.leaderboard(db, board, 0, 100)
            assert total == len(expected)
            assert [e["user"] for e in entries] == [names[u] for _, u in expected]
            for rank, (_, user_id) in enumerate(expected, 1):
                user = db.get(orm.User, user_id)
                assert scores.rank_of(db, user, board) == rank
                if board == orm.any_course(db).board:
                    # learners tied on a score share the best place for the percentile
                    score = next(t[0] for t, u in expected if u == user_id)
                    place = 1 + sum(1 for t, _ in expected if t[0] > score)
                    profile = profiles.profile(db, user, orm.any_course(db))
                    assert profile["rank"] == rank
                    assert profile["percentile"] == round(100 * place / total, 1)
            # every page, wherever it starts (inside a tie on a score or not)
            for offset in range(total + 1):
                page, _ = scores.leaderboard(db, board, offset, 4)
                assert [e["rank"] for e in page] == list(
                    range(offset + 1, min(offset + 4, total) + 1)
                )
                assert page == entries[offset : offset + 4]


async def test_learners_tied_on_score_and_time_rank_by_who_joined_first(grader):
    with grader.writer_factory() as db:
        (question,) = make_course(db, modules=1, per_module=1)
        users = [orm.User(name=f"learner{i}") for i in range(7)]
        db.add_all(users)
        db.commit()
        same_moment = orm.utcnow()
        for user, score in zip(users, (2, 4, 2, 2, 4, 1, 2), strict=True):
            submission = graded(user, question, float(score), same_moment)
            db.add(submission)
            db.flush()
            scores.record_graded(db, submission)
        db.commit()
        order = ["learner1", "learner4", "learner0", "learner2", "learner3", "learner6"]
        order.append("learner5")
        entries, total = scores.leaderboard(db, orm.any_course(db).board, 0, 10)
        assert total == 7 and [e["user"] for e in entries] == order
        assert [scores.rank_of(db, u, orm.any_course(db).board) for u in users] == [
            3,
            1,
            4,
            5,
            2,
            7,
            6,
        ]
        assert [
            e["user"] for e in scores.leaderboard(db, orm.any_course(db).board, 3, 2)[0]
        ] == order[3:5]
        assert scores.leaderboard(db, orm.any_course(db).board, 7, 10) == ([], 7)


async def record_all_at_once(grader, submission_ids):
    """Record graded submissions as many workers would: each in its own transaction, all
    at the same time."""

    def record(submission_id):
        with grader.writer_factory() as db:
            scores.record_graded(db, db.get(orm.Submission, submission_id))
            db.commit()

    await asyncio.gather(*(asyncio.to_thread(record, i) for i in submission_ids))


async def test_concurrent_results_of_one_learner_keep_the_total_exact(grader):
    """Workers finishing one learner's submissions at the same moment (PostgreSQL runs
    them side by side): each total still counts every best score."""
    with grader.writer_factory() as db:
        questions = make_course(db, modules=1, per_module=8)
        user = orm.User(name="ann")
        db.add(user)
        db.commit()
        ids = []
        for question in questions:
            submission = graded(user, question, 4.0, orm.utcnow())
            db.add(submission)
            db.commit()
            ids.append(submission.id)

    await record_all_at_once(grader, ids)
    with grader.session_factory() as db:
        assert stored_totals(db) == recomputed_totals(db)
        assert stored_totals(db)[(orm.any_course(db).board, user.id)][:2] == (32.0, 8)


async def test_many_learners_moving_between_scores_at_once_keep_the_counts_exact(grader):
    """Workers finishing many learners' submissions at the same moment move them in and
    out of the same scores' counts at once: every move lands, and none deadlocks."""
    rng = random.Random(3)
    with grader.writer_factory() as db:
        questions = make_course(db, modules=2, per_module=3)
        users = [orm.User(name=f"learner{i:02d}") for i in range(16)]
        db.add_all(users)
        db.commit()
        ids = []
        for user in users:
            for question in rng.sample(questions, 4):
                submission = graded(user, question, float(rng.randint(0, 4)), orm.utcnow())
                db.add(submission)
                db.commit()
                ids.append(submission.id)
    rng.shuffle(ids)

    await record_all_at_once(grader, ids)
    with grader.session_factory() as db:
        assert stored_totals(db) == recomputed_totals(db)
        assert stored_score_counts(db) == recounted_scores(recomputed_totals(db))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrated.sqlite'}"
    return request.getfixturevalue("postgres_url")


def test_upgrading_a_course_counts_its_learners_scores(empty_db_url):
    """A database at revision 0002 (totals, no score counts) with learners on the
    leaderboards: upgrade-db counts them (the whole course's board becomes the default
    course's, -1), and the schema is then the models' own."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from grader import dbutil

    dbutil.upgrade(empty_db_url, "0002")
    engine = dbutil.make_engine(empty_db_url)
    try:
        reached = orm.utcnow()
        with engine.begin() as connection:
            # the users table as it was at 0002 (the model's has columns added since)
            users = table("users", column("name"), column("display_name"), column("bio"),
                          column("created"))  # fmt: skip
            connection.execute(
                users.insert(),
                [{"name": f"learner{i}", "display_name": "", "bio": "", "created": reached}
                 for i in range(1, 5)],
            )  # fmt: skip
            ids = connection.scalars(select(orm.User.id).order_by(orm.User.id)).all()
            totals = [(0, 3.0), (0, 3.0), (0, 1.5), (0, 7.0), (2, 3.0), (2, 1.5)]
            connection.execute(
                orm.Total.__table__.insert(),
                [
                    {"user_id": ids[i % 4], "module_id": board, "score": score, "solved": 0,
                     "reached": reached}
                    for i, (board, score) in enumerate(totals)
                ],
            )  # fmt: skip
        dbutil.upgrade(empty_db_url)
        with engine.connect() as connection:
            counts = connection.execute(select(orm.ScoreCount.__table__)).all()
            assert sorted(tuple(row) for row in counts) == [
                (-1, 1.5, 1), (-1, 3.0, 2), (-1, 7.0, 1), (2, 1.5, 1), (2, 3.0, 1),
            ]  # fmt: skip

            # alembic cannot compare an index with a DESC column (an expression to it):
            # that one is compared by name
            def compared(obj, name, kind, reflected, compare_to):
                return name != "ix_totals_ranking"

            context = MigrationContext.configure(connection, opts={"include_object": compared})
            assert compare_metadata(context, orm.Base.metadata) == []
            indexes = inspect(connection).get_indexes("totals")
            assert "ix_totals_ranking" in {index["name"] for index in indexes}
    finally:
        engine.dispose()


# the gradebook -----------------------------------------------------------------------


def reference_gradebook_csv(db) -> str:
    """gradebook.csv as the service wrote it before streaming: everything in memory."""
    import csv
    import io

    questions = db.scalars(
        select(orm.Question)
        .join(orm.Module)
        .where(orm.Question.retired.is_(False))
        .order_by(orm.Module.position, orm.Question.position, orm.Question.id)
    ).all()
    by_user: dict[int, dict[int, float]] = {}
    for row in db.scalars(select(orm.BestScore)):
        by_user.setdefault(row.user_id, {})[row.question_id] = row.score
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["user", *[f"{q.module.slug}/{q.slug}" for q in questions], "total", "late"])
    for user in db.scalars(select(orm.User).order_by(orm.User.name)):
        if user.id not in by_user:
            continue
        mine = by_user[user.id]
        cells = [mine.get(q.id) for q in questions]
        total = sum(v for v in cells if v is not None)
        writer.writerow([user.name, *["" if v is None else v for v in cells], total, ""])
    return out.getvalue()


async def test_the_streamed_gradebook_equals_the_whole_one(grader, monkeypatch):
    monkeypatch.setattr(gradebook, "PAGE_SIZE", 3)  # many pages from a few learners
    rng = random.Random(3)
    with grader.writer_factory() as db:
        questions = make_course(db)
        users = [orm.User(name=f"l{i}") for i in range(11)] + [orm.User(name="no-scores")]
        db.add_all(users)
        db.commit()
        grade_randomly(db, rng, users[:11], questions, steps=60)
        questions[1].retired = True
        db.commit()
        expected = reference_gradebook_csv(db)
    author = grader.client_for("teacher", (LEARN, AUTHOR))
    status, body = await author.get("gradebook.csv")
    assert status == 200
    assert body == expected
    assert author.last_response.headers["Content-Type"].startswith("text/csv")

    # the JSON gradebook, page by page
    learners, after = [], None
    while True:
        path = "gradebook?limit=4" + (f"&after={after}" if after else "")
        status, page = await author.get(path)
        assert status == 200, page
        learners += page["learners"]
        after = page.get("next")
        if after is None:
            break
    assert [row["user"] for row in learners] == [f"l{i}" for i in sorted(range(11), key=str)]
    assert len(page["questions"]) == 5  # the retired one is not a column


async def test_learners_cannot_read_the_gradebook(grader):
    status, data = await grader.client_for("ann").get("gradebook.csv")
    assert status == 403 and "scope" in data["message"]


# results pushed ----------------------------------------------------------------------


async def follow(client, submission_id, received: list, timeout=60):
    """Read submissions/{id}/events to its end; each message's data goes to `received`."""
    buffer = b""

    def on_chunk(chunk):
        nonlocal buffer
        buffer += chunk
        while b"\n\n" in buffer:
            message, buffer = buffer.split(b"\n\n", 1)
            lines = message.decode().splitlines()
            data = [line[len("data: ") :] for line in lines if line.startswith("data: ")]
            if data:
                assert "event: submission" in lines
                received.append(json.loads("\n".join(data)))

    response = await AsyncHTTPClient().fetch(
        f"{client.base_url}submissions/{submission_id}/events",
        headers={"Authorization": f"token {client.token}"},
        streaming_callback=on_chunk,
        request_timeout=timeout,
    )
    return response


async def test_a_result_is_pushed_to_the_learner(grader, square):
    await grader.queue.stop()
    ann, bob = grader.client_for("ann"), grader.client_for("bob")
    first = await submit_ok(bob, square)
    mine = await submit_ok(ann, square)
    received = []
    following = asyncio.ensure_future(follow(ann, mine, received))
    for _ in range(100):
        if received:
            break
        await asyncio.sleep(0.05)
    assert received[0]["status"] == "queued" and received[0]["queue_position"] == 2
    grader.queue.start()
    response = await following
    assert response.headers["Content-Type"].startswith("text/event-stream")
    statuses = [m["status"] for m in received]
    assert statuses[-1] == "graded" and received[-1]["score"] == received[-1]["max_score"] == 3
    # in order, no status twice in a row, nothing after the end
    assert statuses == sorted(statuses, key=["queued", "running", "graded"].index)
    assert first < mine


async def test_nobody_follows_another_learners_submission(grader, square):
    mine = await submit_ok(grader.client_for("ann"), square)
    received = []
    with pytest.raises(HTTPClientError) as e:
        await follow(grader.client_for("bob"), mine, received)
    assert e.value.code == 404 and received == []
    status, data = await grader.client_for("bob").get(f"submissions/{mine}/events")
    assert (status, data["message"]) == (404, f"no such submission: {mine}")


async def test_a_status_read_loads_no_notebook_and_writes_nothing(grader, square):
    ann = grader.client_for("ann")
    submission_id = await submit_ok(ann, square)
    await ann.wait_graded(submission_id)
    statements = []

    from sqlalchemy import event

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(grader.engine, "before_cursor_execute", record)
    try:
        status, model = await ann.get(f"submissions/{submission_id}")
    finally:
        event.remove(grader.engine, "before_cursor_execute", record)
    assert status == 200 and model["status"] == "graded"
    assert statements and not any("notebook" in s for s in statements)
    assert not any(s.lstrip().upper().startswith(("INSERT", "UPDATE")) for s in statements)


# worker liveness ---------------------------------------------------------------------


def claimed_by_a_dead_worker(grader, user_name, question_id, host, heartbeat, lock):
    """A running submission whose worker is gone; the worker's lock file as it left it."""
    worker_id = f"dead-{host}-{lock}"
    with grader.writer_factory() as db:
        user = orm.User.find_or_create(db, user_name)
        question = db.get(orm.Question, question_id)
        db.add(orm.Worker(id=worker_id, host=host, pid=999999, heartbeat=heartbeat))
        submission = orm.Submission(
            user_id=user.id,
            question_id=question.id,
            question_version=question.version,
            notebook=answer(nbformat.from_dict(question.student_notebook), CORRECT),
            status="running",
            claim="theirs",
            worker=worker_id,
            attempts=1,
            started=orm.utcnow(),
            lease_expires=orm.utcnow() + timedelta(hours=1),  # not the lease: liveness
        )
        db.add(submission)
        db.commit()
    if lock:
        grader.queue.lock_dir.mkdir(parents=True, exist_ok=True)
        (grader.queue.lock_dir / f"{worker_id}.lock").touch()  # nobody holds it
    return submission.id


async def test_a_dead_workers_claims_return_at_once(grader, square):
    """Killed on this host (its lock is free) or silent elsewhere (its heartbeat is
    old): what it was grading is graded again, long before its lease would end."""
    await grader.queue.stop()
    here = claimed_by_a_dead_worker(
        grader, "ann", square, socket.gethostname(), orm.utcnow(), lock=True
    )
    away = claimed_by_a_dead_worker(
        grader, "bob", square, "another-host", orm.utcnow() - timedelta(minutes=5), lock=False
    )
    alive = claimed_by_a_dead_worker(grader, "cat", square, "third-host", orm.utcnow(), False)
    grader.queue.start()
    ann, bob = grader.client_for("ann"), grader.client_for("bob")
    assert (await ann.wait_graded(here, timeout=30))["score"] == 3
    assert (await bob.wait_graded(away, timeout=30))["score"] == 3
    with grader.session_factory() as db:
        assert db.get(orm.Submission, alive).status == "running"  # its worker may be alive
        assert db.get(orm.Submission, here).attempts == 2
        assert {w.id for w in db.scalars(select(orm.Worker))} == {
            grader.queue.worker_id,
            f"dead-third-host-{False}",
        }
    assert not list(grader.queue.lock_dir.glob("dead-*"))


async def test_a_result_is_written_after_a_short_database_outage(grader, square, monkeypatch):
    """The first writes of a finished grading fail as they would while the database
    restarts; the result is written once it is back, under the same claim."""
    from sqlalchemy.exc import OperationalError

    failures = []
    finish = grader.queue._finish

    def flaky_finish(*args, **kwargs):
        if len(failures) < 2:
            failures.append(1)
            raise OperationalError("UPDATE submissions", {}, ConnectionError("server closed"))
        return finish(*args, **kwargs)

    monkeypatch.setattr(grader.queue, "_finish", flaky_finish)
    ann = grader.client_for("ann")
    model = await ann.wait_graded(await submit_ok(ann, square), timeout=60)
    assert (model["status"], model["score"], len(failures)) == ("graded", 3, 2)
    with grader.session_factory() as db:
        assert db.get(orm.Submission, model["id"]).attempts == 1


def test_every_option_is_listed_by_help_all(tmp_path):
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "grader.cli", "serve", "--help-all"],
        capture_output=True,
        text=True,
        cwd=os.path.dirname(os.path.dirname(__file__)),
        env={**os.environ, "COURSEHUB_STATE_DIR": str(tmp_path)},
        timeout=60,
    ).stdout
    for option in (
        "--GradingQueue.max_queued_per_learner",
        "--GradingQueue.storage_quota",
        "--GradingQueue.heartbeat_timeout",
        "--StatusWatch.interval",
        "--BubblewrapExecutor.warm_learners",
        "--DockerExecutor.image",
        "--Executor.time_limit",
        "--GraderApp.worker_processes",
    ):
        assert option in out, option


async def test_grader_config_py_is_read(grader_env, tmp_path, monkeypatch):
    from grader.app import GraderApp

    config = tmp_path / "grader_config.py"
    config.write_text("c.GradingQueue.max_queued_per_learner = 7\nc.GraderApp.db_threads = 3\n")
    monkeypatch.chdir(tmp_path)
    app = GraderApp()
    try:
        app.initialize([], worker=True)
        assert app.queue.max_queued_per_learner == 7 and app.db_threads == 3
    finally:
        await app.close()
        GraderApp.clear_instance()


async def test_a_new_learners_first_requests_at_once_all_succeed(grader, square):
    """Made on first sight by whichever request comes first, never a 500 for the rest."""
    client = grader.client_for("newcomer")
    answers = await asyncio.gather(*(client.get("profile") for _ in range(12)))
    assert [code for code, _ in answers] == [200] * 12
    with grader.session_factory() as db:
        assert db.scalar(select(func.count()).where(orm.User.name == "newcomer")) == 1


async def test_an_api_only_service_is_healthy_while_a_worker_beats(grader):
    grader.api_only = True
    try:
        code, model = await Client(grader.base_url, None).get("health")
        assert (code, model["workers"]) == (200, "ok")  # the fixture's queue is a worker
        assert "executor" not in model
        with grader.writer_factory() as db:
            db.query(orm.Worker).update({"heartbeat": orm.utcnow() - timedelta(minutes=5)})
            db.commit()
        code, model = await Client(grader.base_url, None).get("health")
        assert code == 503 and "no grading worker" in model["workers"]
    finally:
        grader.api_only = False


def test_a_worker_started_on_its_own_grades_and_stops_on_sigterm(grader_env, tmp_path):
    """As a service manager starts it: stdin is /dev/null, no service around."""
    import signal
    import subprocess
    import sys

    from grader import dbutil

    url = f"sqlite:///{tmp_path / 'solo.sqlite'}"
    dbutil.upgrade(url)
    worker = subprocess.Popen(
        [sys.executable, "-m", "grader.cli", "worker"],
        cwd=os.path.dirname(os.path.dirname(__file__)),
        env={**os.environ, "COURSEHUB_GRADER_DB_URL": url},
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    engine = dbutil.make_engine(url)
    try:
        for _ in range(200):
            with dbutil.make_session_factory(engine)() as db:
                if db.scalar(select(func.count()).select_from(orm.Worker)):
                    break
            assert worker.poll() is None, worker.stderr.read()
            time.sleep(0.1)
        else:
            raise AssertionError("the worker never registered")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
        with dbutil.make_session_factory(engine)() as db:
            assert db.scalar(select(func.count()).select_from(orm.Worker)) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
        engine.dispose()


async def test_a_claim_whose_commit_answer_was_lost_is_queued_again(grader, square):
    """The database committed a claim but the worker never heard (the connection broke
    at that moment): the worker's heartbeat finds a claim of its own it does not hold
    and queues the submission again, long before its lease would end."""
    await grader.queue.stop()
    ann = grader.client_for("ann")
    submission_id = await submit_ok(ann, square)
    grader.queue.register_worker()
    with grader.writer_factory() as db:
        submission = db.get(orm.Submission, submission_id)
        submission.status, submission.claim = "running", "answer-lost"
        submission.worker = grader.queue.worker_id
        submission.lease_expires = orm.utcnow() + timedelta(hours=1)
        db.commit()
    grader.queue.heartbeat()
    with grader.session_factory() as db:
        assert db.get(orm.Submission, submission_id).status == "queued"
    grader.queue.unregister_worker()
    grader.queue.start()
    assert (await ann.wait_graded(submission_id))["score"] == 3


def test_the_service_waits_for_a_database_that_is_not_up_yet(grader_env, capfd):
    """Replicas start in no order: one that finds no database waits (and says so) for
    `db_wait_seconds`, then gives up with the database's own error."""
    from sqlalchemy.exc import OperationalError

    from grader.app import GraderApp
    from tests.conftest import free_port

    url = f"postgresql+psycopg://nobody:x@127.0.0.1:{free_port()}/grader"
    app = GraderApp(db_url=url, db_wait_seconds=2.0)
    started = time.monotonic()
    try:
        with pytest.raises(OperationalError):
            app.initialize([])
    finally:
        GraderApp.clear_instance()
    assert time.monotonic() - started >= 2.0
    assert "waiting for the database" in capfd.readouterr().err
