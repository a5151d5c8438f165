"""Deadlines, late policies, submission limits and cool-offs, through the real service.

Dates are set through the API relative to now (a due date a day and a half ago makes a
submission two days late), never waited for. Grading runs in the real sandbox.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import nbformat
import pytest

from grader import orm
from tests.conftest import answer, square_question

pytestmark = pytest.mark.sandbox

CORRECT = "def square(x):\n    return x * x"
PARTIAL = "def square(x):\n    return x + 2"  # 1 of 3 points


def iso(delta: timedelta) -> str:
    """A time ``delta`` from now, as a client sends it (with its zone)."""
    return (datetime.now(UTC) + delta).isoformat()


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def set_rules(course, **rules):
    qid = course["question"]["id"]
    code, model = await course["author"].request("PUT", f"questions/{qid}", rules)
    assert code == 200, model
    return model


async def notebook(client, qid, source=CORRECT):
    code, model = await client.get(f"questions/{qid}")
    assert code == 200, model
    return answer(nbformat.from_dict(model["notebook"]), source)


async def post(client, qid, source=CORRECT):
    nb = await notebook(client, qid, source)
    return await client.post("submissions", {"question": qid, "notebook": nb})


async def submit(client, qid, source=CORRECT):
    code, data = await post(client, qid, source)
    assert code == 202, data
    return await client.wait_graded(data["id"])


async def test_past_due_is_refused_with_the_date_when_the_policy_refuses(grader, course):
    ann = grader.client_for("ann")
    qid = course["question"]["id"]
    due = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    await set_rules(course, due=due.isoformat(), late_policy="refuse")

    code, data = await post(ann, qid)
    assert code == 403
    assert due.strftime("%Y-%m-%dT%H:%M:%S") in data["message"]
    assert "refuses late submissions" in data["message"]
    code, summary = await ann.get(f"questions/{qid}")
    assert (summary["due"], summary["late_policy"]) == (
        due.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "refuse",
    )
    assert summary["submissions_used"] == 0  # a refusal is not a submission

    # the instructor extends the deadline: accepted, and not late
    await set_rules(course, due=iso(timedelta(days=1)))
    result = await submit(ann, qid)
    assert (result["status"], result["score"], result["late"], result["penalty"]) == (
        "graded",
        3,
        False,
        0,
    )


async def test_a_late_submission_accepted_is_flagged_and_keeps_its_points(grader, course):
    ann = grader.client_for("ann")
    qid = course["question"]["id"]
    await set_rules(course, due=iso(-timedelta(minutes=5)), late_policy="accept")
    result = await submit(ann, qid)
    assert (result["late"], result["penalty"], result["score"], result["max_score"]) == (
        True,
        0,
        3,
        3,
    )
    # with a due date and no policy, late work is accepted (nbgrader's default)
    await set_rules(course, late_policy=None)
    code, summary = await ann.get(f"questions/{qid}")
    assert summary["late_policy"] == "accept"
    assert (await submit(ann, qid))["late"] is True


async def test_penalty_per_started_day_reaches_best_score_and_leaderboard(grader, course):
    ann, bob = grader.client_for("ann"), grader.client_for("bob")
    qid = course["question"]["id"]
    # a day and a half late: two days (a part of a day counts as one), 25% of 3 points each
    await set_rules(
        course, due=iso(-timedelta(days=1, hours=12)), late_policy="penalty", penalty_per_day=0.25
    )
    result = await submit(ann, qid)
    assert (result["late"], result["penalty"], result["score"], result["max_score"]) == (
        True,
        1.5,
        1.5,
        3,
    )
    # the penalty never takes the score below 0
    result = await submit(bob, qid, PARTIAL)
    assert (result["penalty"], result["score"]) == (1.5, 0)

    code, summary = await ann.get(f"questions/{qid}")
    assert (summary["best_score"], summary["solved"]) == (1.5, False)
    assert summary["late_policy"] == "penalty" and summary["penalty_per_day"] == 0.25
    code, board = await ann.get("leaderboard")
    assert [(e["user"], e["score"]) for e in board["entries"]] == [("ann", 1.5), ("bob", 0)]
    code, progress = await ann.get("progress")
    assert progress["modules"][0]["score"] == 1.5

    # a minute late is one day late
    await set_rules(course, due=iso(-timedelta(minutes=1)), penalty_per_day=0.1)
    result = await submit(bob, qid)
    assert result["penalty"] == pytest.approx(0.3) and result["score"] == pytest.approx(2.7)
    code, board = await bob.get("leaderboard")
    assert [(e["user"], round(e["score"], 6)) for e in board["entries"]] == [
        ("bob", 2.7),
        ("ann", 1.5),
    ]


async def test_module_rules_are_inherited_and_a_question_overrides_them(grader, course):
    ann = grader.client_for("ann")
    qid = course["question"]["id"]
    module = course["module"]["slug"]
    code, data = await course["author"].request(
        "PUT", f"modules/{module}", {"submission_limit": 1, "due": iso(timedelta(days=2))}
    )
    assert code == 200, data
    code, summary = await ann.get(f"questions/{qid}")
    assert (summary["submission_limit"], summary["late_policy"]) == (1, "accept")
    assert parse(summary["due"]) > datetime.now(UTC)
    await submit(ann, qid)
    code, data = await post(ann, qid)
    assert code == 403 and data["message"].startswith("1 of 1 submission used")

    # 0 on the question lifts the module's limit
    await set_rules(course, submission_limit=0)
    code, summary = await ann.get(f"questions/{qid}")
    assert (summary["submission_limit"], summary["submissions_used"]) == (None, 1)
    await submit(ann, qid)


async def test_the_limit_counts_every_submission_but_infrastructure_errors(grader, course):
    ann, bob = grader.client_for("ann"), grader.client_for("bob")
    qid = course["question"]["id"]
    await set_rules(course, submission_limit=2)
    await submit(ann, qid, PARTIAL)  # a wrong answer counts
    second = await submit(ann, qid)
    code, data = await post(ann, qid)
    assert code == 403
    assert data["message"].startswith("2 of 2 submissions used")
    code, listing = await ann.get("questions")
    mine = next(q for q in listing["questions"] if q["id"] == qid)
    assert (mine["submission_limit"], mine["submissions_used"]) == (2, 2)
    code, other = await bob.get("questions")
    assert next(q for q in other["questions"] if q["id"] == qid)["submissions_used"] == 0

    # grading that failed for the grader's own reasons gives the attempt back
    with grader.session_factory() as db:
        row = db.get(orm.Submission, second["id"])
        row.status, row.score, row.error = "error", None, "grading failed after 3 attempts"
        db.commit()
    code, summary = await ann.get(f"questions/{qid}")
    assert summary["submissions_used"] == 1
    await submit(ann, qid)


async def test_two_submissions_at_once_cannot_pass_the_last_attempt(grader, course):
    ann = grader.client_for("ann")
    qid = course["question"]["id"]
    await set_rules(course, submission_limit=1)
    nb = await notebook(ann, qid)
    answers = await asyncio.gather(
        *(ann.post("submissions", {"question": qid, "notebook": nb}) for _ in range(4))
    )
    codes = sorted(code for code, _ in answers)
    assert codes == [202, 403, 403, 403], answers
    code, history = await ann.get(f"submissions?question={qid}")
    assert len(history["submissions"]) == 1


async def test_cooloff_answers_429_with_retry_after_then_lets_the_learner_in(grader, course):
    ann = grader.client_for("ann")
    qid = course["question"]["id"]
    await set_rules(course, cooloff=3600)
    code, summary = await ann.get(f"questions/{qid}")
    assert (summary["cooloff"], summary["next_submission_at"]) == (3600, None)
    first = await submit(ann, qid, PARTIAL)

    code, data = await post(ann, qid)
    assert code == 429 and "cool-off of 3600 s" in data["message"]
    retry_after = int(ann.last_response.headers["Retry-After"])
    assert 3500 < retry_after <= 3600
    code, summary = await ann.get(f"questions/{qid}")
    next_at = parse(summary["next_submission_at"])
    assert next_at == parse(first["created"]) + timedelta(seconds=3600)

    # a short cool-off: wait what Retry-After says, then it is accepted
    await set_rules(course, cooloff=2)
    code, data = await post(ann, qid)
    if code == 429:
        retry_after = int(ann.last_response.headers["Retry-After"])
        assert 1 <= retry_after <= 2
        await asyncio.sleep(retry_after)
    code, data = await post(ann, qid)
    assert code == 202, data
    await ann.wait_graded(data["id"])
    code, summary = await ann.get(f"questions/{qid}")
    assert summary["submissions_used"] == 2


async def test_summaries_carry_the_rules_and_the_fields_are_checked(grader, course):
    ann = grader.client_for("ann")
    qid = course["question"]["id"]
    code, summary = await ann.get(f"questions/{qid}")
    assert {k: summary[k] for k in RULES} == {
        "due": None,
        "late_policy": None,
        "penalty_per_day": None,
        "submission_limit": None,
        "cooloff": None,
        "submissions_used": 0,
        "next_submission_at": None,
    }
    for body, field in [
        ({"late_policy": "sometimes"}, "late_policy"),
        ({"penalty_per_day": 2}, "penalty_per_day"),
        ({"submission_limit": -1}, "submission_limit"),
        ({"cooloff": "1h"}, "cooloff"),
        ({"due": "next tuesday"}, "due"),
    ]:
        code, data = await course["author"].request("PUT", f"questions/{qid}", body)
        assert code == 400 and field in data["message"], (body, data)

    # rules given when the question is created
    code, created = await course["author"].post(
        "questions",
        {
            "module": "basics",
            "slug": "square-again",
            "title": "Square, with a deadline",
            "notebook": square_question(),
            "due": "2030-01-01T12:00:00+01:00",
            "late_policy": "penalty",
            "penalty_per_day": 0.5,
            "submission_limit": 3,
            "cooloff": 60,
        },
    )
    assert code == 201, created
    code, summary = await ann.get(f"questions/{created['id']}")
    assert {k: summary[k] for k in RULES} == {
        "due": "2030-01-01T11:00:00Z",
        "late_policy": "penalty",
        "penalty_per_day": 0.5,
        "submission_limit": 3,
        "cooloff": 60,
        "submissions_used": 0,
        "next_submission_at": None,
    }


RULES = (
    "due",
    "late_policy",
    "penalty_per_day",
    "submission_limit",
    "cooloff",
    "submissions_used",
    "next_submission_at",
)
