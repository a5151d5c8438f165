"""The grading queue: infrastructure failure is never a grade.

When the sandbox breaks for a reason that is not the learner's doing, the executor
raises SandboxFailure: the queue counts the attempt, gives the submission back after a
backoff, and after `max_attempts` finishes it as `error` with the reason and no score. A
missing sandbox (SandboxUnavailable) costs no attempt.

The executor here is the real bubblewrap executor whose first runs fail the way a broken
sandbox does: a stand-in for the infrastructure only. Everything else, the grading
after the failures included, is the real service (in-process, SQLite and PostgreSQL).
"""

from __future__ import annotations

import asyncio

import nbformat
import pytest

from grader import orm
from grader.executors.base import SandboxFailure, SandboxUnavailable
from grader.executors.bubblewrap import BubblewrapExecutor
from tests.conftest import answer

pytestmark = pytest.mark.sandbox

CORRECT = "def square(x):\n    return x * x"
BROKEN = "the sandbox's trusted process died before it reported (exit -9)"


class FailingFirstExecutor(BubblewrapExecutor):
    """Bubblewrap whose first ``failures`` runs raise ``exception`` instead of running."""

    def __init__(self, failures: int, exception: Exception, **kwargs):
        super().__init__(**kwargs)
        self.failures = failures
        self.exception = exception
        self.runs = 0

    async def run(self, cells):
        self.runs += 1
        if self.runs <= self.failures:
            raise self.exception
        return await super().run(cells)


def sandbox_failing(grader, failures: int, exception: Exception | None = None):
    """Grade with an executor failing ``failures`` times; retries come at once."""
    executor = FailingFirstExecutor(failures, exception or SandboxFailure(BROKEN), parent=grader)
    grader.queue.executor = executor
    grader.queue.retry_backoff = 0.05
    grader.queue.unavailable_backoff = 0.05
    return executor


@pytest.fixture
def square(course):
    """The id of the square question (conftest's ``course``)."""
    return course["question"]["id"]


async def submit_correct(client, question_id) -> int:
    code, model = await client.get(f"questions/{question_id}")
    assert code == 200, model
    nb = answer(nbformat.from_dict(model["notebook"]), CORRECT)
    code, data = await client.post("submissions", {"question": question_id, "notebook": nb})
    assert code == 202, data
    return data["id"]


def stored(grader, submission_id) -> orm.Submission:
    with grader.session_factory() as db:
        return orm.Submission.find(db, submission_id)


def best_score(grader, user_name, question_id):
    with grader.session_factory() as db:
        user = orm.User.find(db, user_name)
        return orm.BestScore.find(db, user.id, question_id)


async def test_a_failing_sandbox_is_retried_then_graded(grader, square):
    executor = sandbox_failing(grader, failures=2)
    ann = grader.client_for("ann")
    result = await ann.wait_graded(await submit_correct(ann, square))
    assert (result["status"], result["score"], result["error"]) == ("graded", 3, None)
    assert executor.runs == 3
    assert stored(grader, result["id"]).attempts == 3
    assert best_score(grader, "ann", square).score == 3


async def test_a_sandbox_that_keeps_failing_ends_in_error_never_a_score(grader, square):
    executor = sandbox_failing(grader, failures=1_000_000)
    ann = grader.client_for("ann")
    submission_id = await submit_correct(ann, square)
    result = await ann.wait_graded(submission_id)
    # what the learner reads: an error saying why, no score, no tests
    assert result["status"] == "error"
    assert result["error"] == f"grading failed after 3 attempts: {BROKEN}"
    assert (result["score"], result["max_score"], result["tests"]) == (None, None, [])
    assert executor.runs == 3 and stored(grader, submission_id).attempts == 3
    # nothing counts for them: no best score, no leaderboard entry, no progress
    assert best_score(grader, "ann", square) is None
    code, board = await ann.get("leaderboard")
    assert code == 200 and board["entries"] == [] and board["total"] == 0
    code, progress = await ann.get("progress")
    assert progress["modules"][0]["score"] == 0
    code, history = await ann.get("submissions")
    assert [(s["id"], s["status"]) for s in history["submissions"]] == [(submission_id, "error")]
    # once the sandbox works again, the next submission is graded as usual
    executor.failures = 0
    result = await ann.wait_graded(await submit_correct(ann, square))
    assert (result["status"], result["score"]) == ("graded", 3)
    assert executor.runs == 4  # the failed submission was not tried again


async def test_an_unexpected_error_is_never_a_score_and_its_details_stay_in_the_log(grader, square):
    sandbox_failing(grader, 1_000_000, RuntimeError("assert square(-3) == 9 SECRET_HIDDEN"))
    ann = grader.client_for("ann")
    result = await ann.wait_graded(await submit_correct(ann, square))
    assert result["status"] == "error" and result["score"] is None
    assert result["error"] == (
        "grading failed after 3 attempts: an internal error in the grader (RuntimeError)"
    )
    assert best_score(grader, "ann", square) is None


async def test_a_missing_sandbox_costs_no_attempt(grader, square):
    executor = sandbox_failing(grader, 4, SandboxUnavailable("bwrap is not installed"))
    ann = grader.client_for("ann")
    result = await ann.wait_graded(await submit_correct(ann, square))
    assert (result["status"], result["score"]) == ("graded", 3)
    assert executor.runs == 5 and stored(grader, result["id"]).attempts == 1


async def test_a_failed_submission_is_not_retried_before_its_backoff(grader, square):
    executor = sandbox_failing(grader, failures=1)
    grader.queue.retry_backoff = 3600.0
    ann = grader.client_for("ann")
    submission_id = await submit_correct(ann, square)
    for _ in range(600):
        submission = stored(grader, submission_id)
        if submission.attempts == 1 and submission.status == "queued":
            break
        await asyncio.sleep(0.05)
    assert (submission.status, submission.attempts, executor.runs) == ("queued", 1, 1)
    assert submission.lease_expires > orm.utcnow()  # "not before", on a queued row
    assert grader.queue.claim_next() is None  # no worker may take it yet
    # once the backoff is over, it is claimed and graded
    with grader.session_factory() as db:
        db.get(orm.Submission, submission_id).lease_expires = orm.utcnow()
        db.commit()
    result = await ann.wait_graded(submission_id)
    assert (result["status"], result["score"]) == ("graded", 3)
    assert stored(grader, submission_id).attempts == 2


async def test_a_submission_whose_graders_keep_dying_ends_in_error(grader, square):
    """Each earlier claim ended with its grader (the lease ran out): the next claim
    finishes it as `error` rather than let it take graders down forever."""
    ann = grader.client_for("ann")
    code, model = await ann.get(f"questions/{square}")
    with grader.session_factory() as db:
        user = orm.User.find(db, "ann")
        question = db.get(orm.Question, square)
        submission = orm.Submission(
            user_id=user.id,
            question_id=question.id,
            question_version=question.version,
            notebook=answer(nbformat.from_dict(model["notebook"]), CORRECT),
            status="running",
            claim="a-grader-that-died",
            lease_expires=orm.utcnow(),
            attempts=grader.queue.max_attempts,
        )
        db.add(submission)
        db.commit()
        submission_id = submission.id
    result = await ann.wait_graded(submission_id)
    assert result["status"] == "error" and result["score"] is None
    assert result["error"] == (
        "grading failed after 3 attempts: the grader stopped while grading it"
    )
