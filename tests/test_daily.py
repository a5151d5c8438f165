"""The daily question: the same question for a course and a day in every process, the
learner's own day (their time zone), and its streak in the graded step.

Most tests run the queue's graded step on submissions stored with chosen times (no
sandbox: the step only reads the result) to cross days and zones without waiting; one
goes through the real submission path and the real sandbox."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import nbformat
import pytest

from grader import orm
from grader.learners import awards, daily
from tests.conftest import AUTHOR, LEARN, answer, square_question

pytestmark = pytest.mark.sandbox

REPO = Path(__file__).resolve().parent.parent
LONG_AGO = datetime(2020, 1, 1)
CORRECT = "def square(x):\n    return x * x"


@pytest.fixture
async def questions(grader):
    """Six released questions of demo (released long ago), a draft and a retired one."""
    author = grader.client_for("teacher", (LEARN, AUTHOR))
    code, module = await author.post("modules", {"slug": "basics", "title": "Basics"})
    assert code == 201, module
    ids = []
    for n in range(8):
        code, question = await author.post(
            "questions",
            {
                "module": "basics",
                "slug": f"square-{n}",
                "title": f"Square {n}",
                "notebook": square_question(),
                "release": "now" if n != 6 else None,
            },
        )
        assert code == 201, question
        ids.append(question["id"])
    with grader.session_factory() as db:
        for qid in ids:
            question = db.get(orm.Question, qid)
            if question.released is not None:
                question.released = LONG_AGO
        db.get(orm.Question, ids[7]).retired = True
        db.commit()
    return ids[:6]


def demo(db) -> orm.Course:
    return orm.Course.find_by_slug(db, "demo")


def question_of(grader, day: date) -> int:
    with grader.session_factory() as db:
        return daily.daily_question_id(db, demo(db), day, datetime(day.year, day.month, day.day))


def days_with_different_questions(grader, start: date) -> date:
    """The first day from ``start`` whose question differs from the next day's."""
    day = start
    while question_of(grader, day) == question_of(grader, day + timedelta(days=1)):
        day += timedelta(days=1)
    return day


def graded(grader, name: str, qid: int, created: datetime, solved: bool = True):
    """The queue's graded step for a submission made at ``created`` (naive UTC); the
    learner's daily (streak, best, last day) after it."""
    points = 3.0 if solved else 1.0
    with grader.writer_factory() as db:
        user = orm.User.find_or_create(db, name)
        submission = orm.Submission(
            user_id=user.id,
            question_id=qid,
            question_version=1,
            notebook={},
            status="graded",
            score=points,
            max_score=3.0,
            tests=[
                {
                    "name": "all",
                    "points": points,
                    "max_points": 3.0,
                    "passed": solved,
                    "hidden": False,
                }
            ],  # fmt: skip
            created=created,
            finished=created,
        )
        db.add(submission)
        db.flush()
        grader.queue.submission_graded(db, submission)
        db.commit()
        submission_id = submission.id
    return daily_stats(grader, name), submission_id


def daily_stats(grader, name: str):
    with grader.session_factory() as db:
        user = orm.User.find(db, name)
        row = db.get(orm.LearnerStats, (user.id, demo(db).id))
        return None if row is None else (row.daily_streak, row.daily_best, row.daily_last)


def set_timezone(grader, name: str, zone: str):
    with grader.session_factory() as db:
        orm.User.find_or_create(db, name).timezone = zone
        db.commit()


def noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12)


# which question ------------------------------------------------------------------------


def test_the_pick_is_sha256_of_the_course_and_the_day_in_every_process():
    candidates = [3, 5, 8, 13, 21, 34, 55]
    day = date(2025, 5, 17)
    digest = hashlib.sha256(b"python-foundations/2025-05-17").digest()
    expected = candidates[int.from_bytes(digest[:8], "big") % len(candidates)]
    assert daily.pick("python-foundations", day, candidates) == expected
    # another process, with another hash seed, picks the same for each of many days
    days = [day + timedelta(days=n) for n in range(30)]
    here = [daily.pick("python-foundations", d, candidates) for d in days]
    assert len(set(here)) > 2  # it does change from day to day
    script = (
        "from datetime import date, timedelta\n"
        "from grader.learners.daily import pick\n"
        f"print([pick('python-foundations', date(2025, 5, 17) + timedelta(days=n), "
        f"{candidates}) for n in range(30)])"
    )
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        ).stdout
        assert out.strip() == str(here)
    assert daily.pick("python-foundations", day, []) is None


async def test_candidates_are_released_scored_and_settled_before_the_day(grader, questions):
    day = date(2025, 6, 10)
    with grader.session_factory() as db:
        course = demo(db)
        # the draft (index 6) and the retired question (7) never
        assert daily.candidate_ids(db, course.id, day, noon(day)) == questions
        # released during the day: tomorrow's candidate, not today's (today's question
        # stays the same all day long, in every zone)
        db.get(orm.Question, questions[2]).released = datetime(2025, 6, 10, 3)
        db.flush()
        assert questions[2] not in daily.candidate_ids(db, course.id, day, noon(day))
        tomorrow = day + timedelta(days=1)
        assert questions[2] in daily.candidate_ids(db, course.id, tomorrow, noon(tomorrow))
        # a question with no points (a flashcard's max_score) is never the day's
        db.get(orm.Question, questions[3]).max_score = 0.0
        db.flush()
        assert questions[3] not in daily.candidate_ids(db, course.id, tomorrow, noon(tomorrow))
        db.rollback()


async def test_learners_in_tokyo_and_in_utc_have_their_own_days(grader, questions):
    set_timezone(grader, "kei", "Asia/Tokyo")
    set_timezone(grader, "uma", "UTC")
    day = days_with_different_questions(grader, date(2025, 3, 3))
    instant = datetime(day.year, day.month, day.day, 16)  # 01:00 the next day in Tokyo
    with grader.session_factory() as db:
        kei = daily.daily_model(db, orm.User.find(db, "kei"), demo(db), now=instant)
        uma = daily.daily_model(db, orm.User.find(db, "uma"), demo(db), now=instant)
    assert uma["day"] == day.isoformat()
    assert kei["day"] == (day + timedelta(days=1)).isoformat()
    assert uma["question"]["id"] == question_of(grader, day)
    assert kei["question"]["id"] == question_of(grader, day + timedelta(days=1))
    assert kei["question"]["id"] != uma["question"]["id"]

    # through the API, now: each sees their own local day's question
    for name in ("kei", "uma"):
        client = grader.client_for(name)
        code, model = await client.get("daily?course=demo")
        assert code == 200, model
        with grader.session_factory() as db:
            today = awards.today_for(orm.User.find(db, name))
        assert model["day"] == today.isoformat()
        assert model["question"]["id"] == question_of(grader, today)
        assert set(model) == {"course", "day", "question", "solved_today", "streak", "best_streak"}
        assert set(model["question"]) == {
            "id", "title", "module", "module_slug", "type", "language", "difficulty",
            "points", "best_score", "solved",
        }  # fmt: skip


async def test_outsiders_get_no_daily_question_and_an_empty_course_has_none(grader, fake_hub):
    from tests.conftest import fake_hub_course

    await fake_hub_course(grader, fake_hub, "secret")
    stranger = grader.client_for("stranger", (f"{LEARN}!group=course-demo",))
    code, data = await stranger.get("daily?course=secret")
    assert code in (403, 404), data
    code, model = await stranger.get("daily?course=demo")
    assert code == 200 and model["question"] is None, model
    assert (model["streak"], model["best_streak"], model["solved_today"]) == (0, 0, False)


# the streak -------------------------------------------------------------------------------


async def test_three_days_in_a_row_make_a_streak_of_three(grader, questions):
    start = date(2025, 4, 1)
    for n in range(3):
        day = start + timedelta(days=n)
        stats, _ = graded(grader, "ann", question_of(grader, day), noon(day))
        assert stats == (n + 1, n + 1, day)
    # solving it again the same day, or any other question, changes nothing
    last = start + timedelta(days=2)
    stats, submission_id = graded(grader, "ann", question_of(grader, last), noon(last))
    assert stats == (3, 3, last)
    # the graded step may run again for one submission (a hand grade): still once
    with grader.writer_factory() as db:
        grader.queue.submission_graded(db, db.get(orm.Submission, submission_id))
        db.commit()
    assert daily_stats(grader, "ann") == (3, 3, last)
    # read the next day, it stands (today's not done yet); two days on, it is over
    with grader.session_factory() as db:
        user = orm.User.find(db, "ann")
        next_day = daily.daily_model(db, user, demo(db), now=noon(last + timedelta(days=1)))
        later = daily.daily_model(db, user, demo(db), now=noon(last + timedelta(days=2)))
        same_day = daily.daily_model(db, user, demo(db), now=noon(last))
    assert (next_day["streak"], next_day["solved_today"]) == (3, False)
    assert (later["streak"], later["best_streak"]) == (0, 3)
    assert (same_day["solved_today"], same_day["question"]["solved"]) == (True, True)


async def test_a_missed_day_breaks_the_streak_and_a_partial_score_does_not_count(grader, questions):
    start = date(2025, 4, 1)
    for n in (0, 1):
        day = start + timedelta(days=n)
        graded(grader, "bo", question_of(grader, day), noon(day))
    gap = start + timedelta(days=3)
    stats, _ = graded(grader, "bo", question_of(grader, gap), noon(gap), solved=False)
    assert stats == (2, 2, start + timedelta(days=1))  # tried, not solved: nothing
    stats, _ = graded(grader, "bo", question_of(grader, gap), noon(gap))
    assert stats == (1, 2, gap)


async def test_solving_yesterdays_question_today_does_not_count(grader, questions):
    day = days_with_different_questions(grader, date(2025, 5, 1))
    graded(grader, "cy", question_of(grader, day), noon(day))
    today = day + timedelta(days=1)
    stats, _ = graded(grader, "cy", question_of(grader, day), noon(today))
    assert stats == (1, 1, day)
    stats, _ = graded(grader, "cy", question_of(grader, today), noon(today))
    assert stats == (2, 2, today)


async def test_the_submissions_local_day_decides_in_tokyo(grader, questions):
    set_timezone(grader, "kei", "Asia/Tokyo")
    day = days_with_different_questions(grader, date(2025, 3, 3))
    tokyo_day = day + timedelta(days=1)
    instant = datetime(day.year, day.month, day.day, 16)  # 01:00 on tokyo_day in Tokyo
    # the UTC day's question at that instant is not kei's
    stats, _ = graded(grader, "kei", question_of(grader, day), instant)
    assert stats == (0, 0, None)
    stats, _ = graded(grader, "kei", question_of(grader, tokyo_day), instant)
    assert stats == (1, 1, tokyo_day)


async def test_solving_the_daily_question_through_the_sandbox(grader, questions):
    sam = grader.client_for("sam")
    code, model = await sam.get("daily?course=demo")
    assert code == 200, model
    assert (model["solved_today"], model["streak"]) == (False, 0)
    qid = model["question"]["id"]
    code, served = await sam.get(f"questions/{qid}")
    assert code == 200, served
    nb = answer(nbformat.from_dict(served["notebook"]), CORRECT)
    code, submitted = await sam.post("submissions", {"question": qid, "notebook": nb})
    assert code == 202, submitted
    result = await sam.wait_graded(submitted["id"])
    assert result["score"] == result["max_score"] == 3, result
    code, model = await sam.get("daily?course=demo")
    assert (model["solved_today"], model["streak"], model["best_streak"]) == (True, 1, 1)
    assert (model["question"]["solved"], model["question"]["best_score"]) == (True, 3.0)
