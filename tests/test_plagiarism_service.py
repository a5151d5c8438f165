"""Similarity reports through the service: the API and the pages, the background process
that computes them (progress, restarts, replicas), and who may see them (instructors of
the question's course, nobody else: never a learner, not even one of the pair).

Service tests: the grader in-process on a migrated SQLite file; reports computed by the
real runner, in a real process of its own; people identified by Hub tokens with their
courses' filtered scopes, as the Hub grants them. Submissions of a few learners go
through the API; the large classes are written into the database directly (what a
term of submissions leaves), so grading hundreds of them is not the test's time.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from grader import orm
from grader.instructors import plagiarism_reports as reports
from tests.conftest import AUTHOR, LEARN, answer, fake_hub_course
from tests.test_grader_pages import fetch, page_url, token_header
from tests.test_plagiarism import (
    ANOTHER_INDEPENDENT,
    DISGUISED_COPY,
    INDEPENDENT,
    ORIGINAL,
    stats_question,
)
from tests.test_watch_pages import learns, teaches

# what a learner may put in their answer, to be shown as text on the instructor's pages
HOSTILE = '# </code></pre><script>alert("x")</script><img src=x onerror=alert(1)>\n'


@pytest.fixture
async def world(grader):
    """Course demo with the stats question (teacher: its instructor); learners of demo."""
    teacher = grader.client_for("teacher", (LEARN, AUTHOR))
    code, module = await teacher.post("modules", {"slug": "stats", "title": "Stats"})
    assert code == 201, module
    code, question = await teacher.post(
        "questions",
        {
            "module": "stats",
            "slug": "normalise",
            "title": "Normalise",
            "notebook": stats_question(),
        },
    )
    assert code == 201, question
    return {"grader": grader, "teacher": teacher, "question": question["id"]}


async def submit(grader, name: str, question_id: int, code: str) -> int:
    learner = grader.client_for(name, learns("demo"))
    status, model = await learner.get(f"questions/{question_id}")
    assert status == 200, model
    notebook = answer(model["notebook"], code, "stats")
    status, data = await learner.post(
        "submissions", {"question": question_id, "notebook": notebook}
    )
    assert status == 202, data
    return data["id"]


async def wait_done(client, report_id: int, timeout: float = 180.0, seen: list | None = None):
    """The report once it ended; ``seen`` collects the progress read on the way."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        code, report = await client.get(f"plagiarism/{report_id}")
        assert code == 200, report
        if seen is not None:
            seen.append((report["status"], report["progress"]["done"]))
        if report["status"] in ("done", "error"):
            return report
        await asyncio.sleep(0.05)
    raise AssertionError(f"report {report_id} not done in {timeout}s: {report}")


def pair_names(report) -> set[frozenset]:
    return {frozenset((p["a"]["user"], p["b"]["user"])) for p in report["pairs"]}


# the instructor's report -----------------------------------------------------------------


@pytest.fixture
async def reported(world):
    """alice's answer, bob's disguised copy of it, carol's and dave's own; a report."""
    grader, qid = world["grader"], world["question"]
    ids = {}
    for name, code in (
        ("alice", ORIGINAL),
        ("bob", HOSTILE + DISGUISED_COPY),
        ("carol", INDEPENDENT),
        ("dave", ANOTHER_INDEPENDENT),
    ):
        ids[name] = await submit(grader, name, qid, code)
    # alice's earlier, different attempt is not compared: her latest is
    await submit(grader, "alice", qid, ANOTHER_INDEPENDENT.replace("0.0", "1.0"))
    ids["alice"] = await submit(grader, "alice", qid, ORIGINAL)
    code, started = await world["teacher"].post(f"questions/{qid}/plagiarism", {"threshold": 0.6})
    assert code == 202, started
    report = await wait_done(world["teacher"], started["id"])
    return {**world, "report": report, "submissions": ids}


async def test_a_disguised_copy_is_listed_and_independent_answers_are_not(reported):
    report = reported["report"]
    assert report["status"] == "done", report
    assert report["threshold"] == 0.6
    assert report["submissions"] == 4  # each learner's latest
    assert report["progress"] == {"done": 6, "total": 6}
    assert pair_names(report) == {frozenset(("alice", "bob"))}
    (pair,) = report["pairs"]
    sides = {pair["a"]["user"]: pair["a"], pair["b"]["user"]: pair["b"]}
    assert sides["alice"]["submission"] == reported["submissions"]["alice"]
    assert sides["bob"]["submission"] == reported["submissions"]["bob"]
    assert sides["alice"]["similarity"] >= 0.9 and sides["bob"]["similarity"] >= 0.9
    assert pair["similarity"] == max(s["similarity"] for s in sides.values())

    # side by side: each answer's code as compared, the matched regions in it
    code, detail = await reported["teacher"].get(f"plagiarism/{report['id']}/pairs/{pair['id']}")
    assert code == 200, detail
    for side in ("a", "b"):
        text = detail[side]["code"]
        assert "def mean(" in text and "assert" not in text  # answer cells only
        covered = sum(end - start for start, end in detail[side]["regions"])
        assert covered > 0.8 * len(text.replace(HOSTILE, "")), detail[side]

    # the question's reports
    code, listing = await reported["teacher"].get(f"questions/{reported['question']}/plagiarism")
    assert code == 200, listing
    assert [r["id"] for r in listing["reports"]] == [report["id"]]
    assert listing["reports"][0]["pairs_listed"] == 1

    # asking for it is in the audit log, once
    with reported["grader"].session_factory() as db:
        entries = db.scalars(
            select(orm.AuditEntry).where(orm.AuditEntry.action == "plagiarism.run")
        ).all()
    assert len(entries) == 1
    assert entries[0].actor == "teacher" and entries[0].target == f"question {reported['question']}"
    assert entries[0].detail["report"] == report["id"]


async def test_the_pages_run_a_report_and_show_the_pair_side_by_side_as_text(reported):
    grader, teacher, qid = reported["grader"], reported["teacher"], reported["question"]
    headers = token_header(teacher.token)
    # the question's page links to its reports
    r = await fetch(page_url(grader, f"courses/demo/questions/{qid}/submissions"), headers)
    assert r.code == 200 and f"questions/{qid}/plagiarism" in r.body.decode()

    r = await fetch(page_url(grader, f"courses/demo/questions/{qid}/plagiarism"), headers)
    assert r.code == 200, r.body
    html = r.body.decode()
    assert 'id="run-report"' in html and f'data-report="{reported["report"]["id"]}"' in html

    # the form runs another report and goes to its page, which reloads while it computes
    r = await fetch(
        page_url(grader, f"courses/demo/questions/{qid}/plagiarism"),
        {**headers, "Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
        body="threshold=0.5",
    )
    assert r.code == 303, r.body
    report_url = r.headers["Location"]
    report_id = int(report_url.rsplit("/", 1)[1])
    assert report_url.endswith(f"/services/grader/courses/demo/plagiarism/{report_id}")
    report = await wait_done(teacher, report_id)
    assert report["threshold"] == 0.5 and pair_names(report) == {frozenset(("alice", "bob"))}

    r = await fetch(page_url(grader, f"courses/demo/plagiarism/{report_id}"), headers)
    assert r.code == 200, r.body
    assert "Refresh" not in r.headers  # done: nothing to wait for
    html = r.body.decode()
    assert "alice" in html and "bob" in html and "carol" not in html
    pair_id = report["pairs"][0]["id"]
    assert f"plagiarism/{report_id}/pairs/{pair_id}" in html

    r = await fetch(
        page_url(grader, f"courses/demo/plagiarism/{report_id}/pairs/{pair_id}"), headers
    )
    assert r.code == 200, r.body
    assert r.headers["Content-Security-Policy"].startswith("default-src 'none'")
    html = r.body.decode()
    assert "<script" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert html.count("<mark>") >= 2  # regions highlighted on both sides
    marked = "".join(part.split("</mark>", 1)[0] for part in html.split("<mark>")[1:])
    assert "acc += x" in marked and "total += v" in marked  # both sides' loops


# never shown to learners -------------------------------------------------------------


async def test_learners_get_403_or_404_everywhere_even_those_in_a_pair(reported):
    grader, qid = reported["grader"], reported["question"]
    report = reported["report"]
    pair_id = report["pairs"][0]["id"]
    for name in ("bob", "carol"):  # bob is in the pair, carol is not
        learner = grader.client_for(name, learns("demo"))
        for method, path, body in (
            ("GET", f"questions/{qid}/plagiarism", None),
            ("POST", f"questions/{qid}/plagiarism", {"threshold": 0.5}),
            ("POST", f"questions/{qid}/plagiarism", None),
            ("GET", f"plagiarism/{report['id']}", None),
            ("GET", f"plagiarism/{report['id']}/pairs/{pair_id}", None),
        ):
            code, data = await learner.request(method, path, body=body)
            assert code in (403, 404), (name, path, code, data)
            assert "alice" not in json.dumps(data) and "similar" not in json.dumps(data)
        for path in (
            f"courses/demo/questions/{qid}/plagiarism",
            f"courses/demo/plagiarism/{report['id']}",
            f"courses/demo/plagiarism/{report['id']}/pairs/{pair_id}",
        ):
            r = await fetch(page_url(grader, path), token_header(learner.token))
            assert r.code in (403, 404), (name, path, r.code)
            assert b"alice" not in r.body and b"<mark>" not in r.body
        r = await fetch(
            page_url(grader, f"courses/demo/questions/{qid}/plagiarism"),
            {**token_header(learner.token), "Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
            body="threshold=0.5",
        )
        assert r.code in (403, 404), r.code
    # a learner's own submissions say nothing of it
    bob = grader.client_for("bob", learns("demo"))
    for path in (f"submissions/{reported['submissions']['bob']}", f"submissions?question={qid}"):
        code, data = await bob.get(path)
        assert code == 200, data
        text = json.dumps(data).lower()
        assert "plagiar" not in text and "similar" not in text and "alice" not in text
    # and nobody asked for a report through them
    with grader.session_factory() as db:
        assert (
            db.scalar(select(orm.PlagiarismReport.id).order_by(orm.PlagiarismReport.id.desc()))
            == report["id"]
        )


async def test_an_instructor_of_another_course_gets_404(reported, fake_hub):
    grader, qid = reported["grader"], reported["question"]
    await fake_hub_course(grader, fake_hub, "other")
    olga = grader.client_for("olga", teaches("other"))
    report = reported["report"]
    pair_id = report["pairs"][0]["id"]
    for method, path in (
        ("GET", f"questions/{qid}/plagiarism"),
        ("POST", f"questions/{qid}/plagiarism"),
        ("GET", f"plagiarism/{report['id']}"),
        ("GET", f"plagiarism/{report['id']}/pairs/{pair_id}"),
    ):
        code, data = await olga.request(method, path, body={} if method == "POST" else None)
        assert code == 404, (path, code, data)
    r = await fetch(
        page_url(grader, f"courses/demo/plagiarism/{report['id']}"), token_header(olga.token)
    )
    assert r.code == 404


# bad input ---------------------------------------------------------------------------


async def test_bad_input_gets_a_message(world):
    grader, teacher, qid = world["grader"], world["teacher"], world["question"]
    await submit(grader, "alice", qid, ORIGINAL)
    code, data = await teacher.post(f"questions/{qid}/plagiarism", {})
    assert code == 400 and "at least two" in data["message"], data
    await submit(grader, "bob", qid, DISGUISED_COPY)
    for body, words in (
        ({"threshold": 0}, "between 0.1 and 1"),
        ({"threshold": 1.5}, "between 0.1 and 1"),
        ({"threshold": -0.3}, "between 0.1 and 1"),
        ({"threshold": "high"}, "must be a number"),
        ({"threshold": True}, "must be a number"),
        ({"threshold": None}, "must be a number"),
        ({"threshold": 0.5, "learners": ["bob"]}, "unknown field"),
    ):
        code, data = await teacher.post(f"questions/{qid}/plagiarism", body)
        assert code == 400 and words in data["message"], (body, data)
    code, data = await teacher.request("POST", f"questions/{qid}/plagiarism", raw=b"[1, 2]")
    assert code == 400, data
    code, data = await teacher.request("POST", f"questions/{qid}/plagiarism", raw=b"{nope")
    assert code == 400, data
    for path in ("questions/999999/plagiarism", "questions/99999999999999999999999/plagiarism"):
        code, data = await teacher.post(path, {"threshold": 0.5})
        assert code == 404 and "no such question" in data["message"], data
    code, data = await teacher.get("plagiarism/424242")
    assert code == 404 and "no such report" in data["message"], data
    code, data = await teacher.get("plagiarism/424242/pairs/1")
    assert code == 404, data
    code, data = await teacher.get("plagiarism/1?limit=0")
    assert code in (400, 404), data
    # nothing half-written: no report, no audit entry
    with grader.session_factory() as db:
        assert db.scalar(select(orm.PlagiarismReport.id)) is None
        assert not db.scalars(
            select(orm.AuditEntry).where(orm.AuditEntry.action == "plagiarism.run")
        ).all()
    # one report a question at a time
    code, first = await teacher.post(f"questions/{qid}/plagiarism", {"threshold": 0.5})
    assert code == 202, first
    code, data = await teacher.post(f"questions/{qid}/plagiarism", {"threshold": 0.7})
    if code != 202:  # the first may already be done (two answers: one pair)
        assert code == 409 and str(first["id"]) in data["message"], data
    report = await wait_done(teacher, first["id"])
    assert report["status"] == "done"
    code, data = await teacher.get(f"plagiarism/{first['id']}?limit=5000")
    assert code == 400, data
    code, data = await teacher.get(f"plagiarism/{first['id']}?offset=99999999999999999999999")
    assert code == 400, data
    code, pair = await teacher.get(f"plagiarism/{first['id']}/pairs/999999")
    assert code == 404, pair


# a large class: progress, responsiveness, restarts, replicas ----------------------------

OPS = ["+", "-", "*", "//", "%", "<<", "^", "|", "&"]


def generated_answer(n: int) -> str:
    """A learner's own long answer: random structure, names and numbers (numbers stay
    in copydetect's filtered code, so two of these share little)."""
    rng = random.Random(n)
    lines = []
    for f in range(8):
        args = [f"p{i}" for i in range(rng.randint(1, 3))]
        lines.append(f"def f{f}_{n}({', '.join(args)}):")
        for _ in range(rng.randint(3, 6)):
            a, b = rng.choice(args), rng.choice(args)
            number = rng.randint(2, 10_000)
            shape = rng.randrange(4)
            if shape == 0:
                lines.append(f"    {a} = ({a} {rng.choice(OPS)} {number}) {rng.choice(OPS)} {b}")
            elif shape == 1:
                lines.append(
                    f"    if {a} > {number}:\n        {b} = {b} {rng.choice(OPS)} {number}"
                )
            elif shape == 2:
                lines.append(f"    for i in range({number % 17}):\n        {a} += i * {number}")
            else:
                lines.append(
                    f"    while {a} < {number}:\n        {a} = {a} * 2 + {rng.randint(1, 99)}"
                )
        lines.append(f"    return {' + '.join(args)}\n\n")
    return "\n".join(lines)


def renamed(code: str, n: int) -> str:
    """A copy of ``code``: every name changed, functions in reverse order."""
    functions = code.strip().split("\n\n\n")
    functions.reverse()
    copy = "\n\n\n".join(functions)
    return copy.replace("def f", f"def copied{n}_").replace("p0", "alpha").replace("p1", "beta")


def seed_class(grader, question_id: int, learners: int, copy_every: int = 25) -> dict:
    """``learners`` learners' latest submissions written into the database: their own
    answers, and every ``copy_every``-th a disguised copy of the one before. Returns
    the planted pairs (names)."""
    planted = set()
    with grader.session_factory() as db:
        question = db.get(orm.Question, question_id)
        student = question.student_notebook
        previous = None
        for n in range(learners):
            name = f"learner{n:04d}"
            user = orm.User.find_or_create(db, name)
            if previous is not None and n % copy_every == 0:
                code = renamed(previous[1], n)
                planted.add(frozenset((previous[0], name)))
            else:
                code = generated_answer(n)
            previous = (name, code)
            db.add(
                orm.Submission(
                    user_id=user.id,
                    question_id=question_id,
                    question_version=question.version,
                    notebook=answer(student, code, "stats"),
                    status="graded",
                    score=0.0,
                    max_score=3.0,
                )
            )
        db.commit()
    return planted


class Stepped:
    """A report's computing process, paused (SIGSTOP) and resumed (SIGCONT) by the test,
    so that it runs in short steps between the test's looks: a fast machine cannot
    finish the report between two of them."""

    def __init__(self, pid: int):
        self.pid = pid
        self.pause()

    def _signal(self, number):
        try:
            os.kill(self.pid, number)
        except ProcessLookupError:  # it ended
            pass

    def pause(self):
        self._signal(signal.SIGSTOP)

    def resume(self):
        self._signal(signal.SIGCONT)


async def stepped(grader, deadline: float) -> Stepped:
    """The report's computing process once it has started, paused."""
    loop = asyncio.get_running_loop()
    while grader.plagiarism.process is None:
        assert loop.time() < deadline, "no computing process"
        await asyncio.sleep(0.01)
    return Stepped(grader.plagiarism.process.pid)


async def test_progress_moves_and_the_api_answers_while_a_large_report_runs(world):
    grader, teacher, qid = world["grader"], world["teacher"], world["question"]
    planted = seed_class(grader, qid, 220)
    grader.plagiarism.progress_interval = 0.05
    code, started = await teacher.post(f"questions/{qid}/plagiarism", {"threshold": 0.6})
    assert code == 202, started
    assert started["status"] == "queued" and started["progress"] == {
        "done": 0,
        "total": 220 * 219 // 2,
    }
    anyone = grader.client_for("anyone")
    seen, answered_while_running = [], 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 300
    # the computing process runs in short steps, paused while the test reads the
    # report: so the test sees it mid-way however fast the machine is
    process = await stepped(grader, deadline)
    while loop.time() < deadline:
        code, report = await teacher.get(f"plagiarism/{started['id']}")
        assert code == 200, report
        seen.append(report["progress"]["done"])
        if report["status"] in ("done", "error"):
            break
        process.resume()
        if report["status"] == "running" and 0 < report["progress"]["done"]:
            code, health = await anyone.get("health")
            page = await fetch(
                page_url(grader, f"courses/demo/plagiarism/{started['id']}"),
                token_header(teacher.token),
            )
            code_after, after = await teacher.get(f"plagiarism/{started['id']}")
            if after["status"] == "running":
                assert code == 200, health  # answered while the report was computing
                assert page.code == 200 and page.headers["Refresh"] == "2"  # reloads itself
                assert b"<progress" in page.body
                answered_while_running += 1
        await asyncio.sleep(0.02)
        process.pause()
    process.resume()
    assert report["status"] == "done", report
    assert answered_while_running >= 1
    # progress moved: several values between none and all, never backwards
    assert seen == sorted(seen)
    assert len({d for d in seen if 0 < d < report["progress"]["total"]}) >= 2, seen
    assert report["progress"]["done"] == report["progress"]["total"]
    assert pair_names(report) == planted


async def test_a_report_whose_process_died_resumes_where_it_was(world):
    grader, teacher, qid = world["grader"], world["teacher"], world["question"]
    planted = seed_class(grader, qid, 200)
    grader.plagiarism.progress_interval = 0.05
    code, started = await teacher.post(f"questions/{qid}/plagiarism", {"threshold": 0.6})
    assert code == 202, started
    seen = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    process = await stepped(grader, deadline)
    while loop.time() < deadline:
        code, report = await teacher.get(f"plagiarism/{started['id']}")
        seen.append((report["status"], report["progress"]["done"]))
        if report["status"] == "running" and report["progress"]["done"] > 0:
            break
        assert report["status"] in ("queued", "running"), report
        process.resume()
        await asyncio.sleep(0.02)
        process.pause()
    assert process.pid == grader.plagiarism.process.pid
    assert report["progress"]["done"] < report["progress"]["total"], report
    os.kill(process.pid, signal.SIGKILL)  # the computing process dies mid-report
    report = await wait_done(teacher, started["id"], seen=seen)
    assert report["status"] == "done", report
    done_values = [done for _, done in seen]
    assert done_values == sorted(done_values), "resumed after the pairs done, not from 0"
    with grader.session_factory() as db:
        row = db.get(orm.PlagiarismReport, started["id"])
        assert row.attempts == 2 and row.claim is None
        count = db.scalar(select(func.count()).where(orm.PlagiarismPair.report_id == started["id"]))
    # what a report computed in one go finds: the same pairs, none twice
    assert pair_names(report) == planted
    assert len(report["pairs"]) == len(planted)
    code, fresh = await teacher.post(f"questions/{qid}/plagiarism", {"threshold": 0.6})
    assert code == 202, fresh
    fresh = await wait_done(teacher, fresh["id"])
    assert pair_names(fresh) == pair_names(report)
    assert count == len(planted)  # none written twice


async def test_a_report_left_by_a_dead_replica_is_taken_over_and_a_live_one_is_not(world):
    grader, teacher, qid = world["grader"], world["teacher"], world["question"]
    planted = seed_class(grader, qid, 30, copy_every=10)
    runner = grader.plagiarism
    with grader.session_factory() as db:
        question = db.get(orm.Question, qid)
        report = reports.create_report(db, question, "teacher", 0.6, runner.limits())
        report.status, report.claim, report.attempts = "running", "other-replica", 1
        report.heartbeat = orm.utcnow()
        db.commit()
        report_id = report.id
    # another replica computes it, alive: nobody takes it from it
    runner.wake()
    await asyncio.sleep(1.0)
    with grader.session_factory() as db:
        row = db.get(orm.PlagiarismReport, report_id)
        assert (row.status, row.claim, row.attempts) == ("running", "other-replica", 1)
    # its heartbeat stops (the replica died): taken over, and computed
    with grader.session_factory() as db:
        db.execute(
            update(orm.PlagiarismReport)
            .where(orm.PlagiarismReport.id == report_id)
            .values(heartbeat=orm.utcnow() - timedelta(seconds=runner.stale_seconds + 5))
        )
        db.commit()
    runner.wake()
    report = await wait_done(teacher, report_id)
    assert report["status"] == "done" and pair_names(report) == planted
    with grader.session_factory() as db:
        assert db.get(orm.PlagiarismReport, report_id).attempts == 2


async def test_replicas_racing_for_a_report_claim_it_once(world):
    grader, qid = world["grader"], world["question"]
    seed_class(grader, qid, 3)
    with grader.session_factory() as db:
        question = db.get(orm.Question, qid)
        report_id = reports.create_report(db, question, "teacher", 0.6, reports.Limits()).id
        db.commit()
    claims, barrier = [], threading.Barrier(6)

    def replica():
        barrier.wait()
        with grader.session_factory() as db:
            claims.append(reports.claim_next(db, stale_seconds=60, max_attempts=3))

    threads = [threading.Thread(target=replica) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    taken = [c for c in claims if c is not None]
    assert len(taken) == 1 and taken[0][0] == report_id, claims
    # the loser's token writes nothing: releasing or failing with it changes nothing
    with grader.session_factory() as db:
        assert not reports.fail(db, report_id, "not-the-claim", "x")
        assert not reports.release(db, report_id, "not-the-claim")
        assert db.get(orm.PlagiarismReport, report_id).claim == taken[0][1]
