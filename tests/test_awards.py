"""XP, streaks, achievements and hints through the real service (grading in the real
sandbox), and the graded step on the database for days and time zones.

The day arithmetic itself is unit-tested in tests/test_achievements.py; here the graded
step runs on submissions stored with chosen times (no sandbox: the step only reads the
result) to cross day boundaries, time zones and the grace without waiting for them.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, timedelta

import nbformat
import pytest
from sqlalchemy import func, select

from grader import orm
from grader.learners import awards
from tests.conftest import LEARN, answer, fake_hub_course, square_question

pytestmark = pytest.mark.sandbox

CORRECT = "def square(x):\n    return x * x"
PARTIAL = "def square(x):\n    return x + 2"  # the visible test only: 1 of 3 points
HINTS = ["Multiplying is enough.", "x * x", "Really: return x * x."]


async def post(client, qid, source=CORRECT):
    code, model = await client.get(f"questions/{qid}")
    assert code == 200, model
    nb = answer(nbformat.from_dict(model["notebook"]), source)
    return await client.post("submissions", {"question": qid, "notebook": nb})


async def submit(client, qid, source=CORRECT) -> dict:
    code, data = await post(client, qid, source)
    assert code == 202, data
    return await client.wait_graded(data["id"])


def give_hints(grader, qid, hints=HINTS):
    """Hints as authoring stores them (from the source's `coursehub.hints`, tested with
    the authoring path): here set directly, so these tests are about revealing them."""
    with grader.session_factory() as db:
        db.get(orm.Question, qid).hints = list(hints)
        db.commit()


def stats(grader, name, course="demo"):
    with grader.session_factory() as db:
        user = orm.User.find(db, name)
        course = orm.Course.find_by_slug(db, course)
        row = user and db.get(orm.LearnerStats, (user.id, course.id))
        return None if row is None else (row.xp, row.streak, row.best_streak, row.last_day)


def grants(grader, name) -> list[int]:
    with grader.session_factory() as db:
        user = orm.User.find(db, name)
        return list(db.scalars(select(orm.XPGrant.xp).where(orm.XPGrant.user_id == user.id)))


def keys(achievements) -> set[str]:
    return {a["key"] for a in achievements}


# XP and achievements ---------------------------------------------------------------


async def test_a_first_solve_earns_xp_once_and_each_submission_says_what_it_earned(grader, course):
    ann = grader.client_for("ann")
    qid = course["question"]["id"]

    partial = await submit(ann, qid, PARTIAL)
    # not solved: no XP, but the first active day of a streak
    assert partial["awards"] == {"xp": 0, "streak": 1, "achievements": []}

    solved = await submit(ann, qid)
    assert solved["score"] == solved["max_score"] == 3
    assert solved["awards"]["xp"] == 10  # easy
    assert solved["awards"]["streak"] == 1
    earned = solved["awards"]["achievements"]
    # a one-question module is complete; not first try (the second submission)
    assert keys(earned) == {"first-solve", "module-completed"}
    first = next(a for a in earned if a["key"] == "first-solve")
    assert set(first) == {"key", "title", "description", "icon"} and first["icon"]

    again = await submit(ann, qid)
    assert again["awards"] is None  # the same day, nothing new: nothing to celebrate
    assert grants(grader, "ann") == [10]
    assert stats(grader, "ann")[:3] == (10, 1, 1)

    code, mine = await ann.get("achievements?course=demo")
    assert code == 200, mine
    assert (mine["course"], mine["xp"], mine["streak"], mine["best_streak"]) == ("demo", 10, 1, 1)
    by_key = {a["key"]: a for a in mine["achievements"]}
    assert set(by_key) >= {"first-solve", "first-try", "streak-7", "ten-solved", "xp-100"}
    assert by_key["first-solve"]["earned"].endswith("Z")
    assert by_key["first-try"]["earned"] is None
    # the history lists what each grading earned too
    code, history = await ann.get(f"submissions?question={qid}")
    assert [s["awards"] and s["awards"]["xp"] for s in history["submissions"]] == [None, 10, 0]
    # the course summary the profile shows: earned ones only
    with grader.session_factory() as db:
        user = orm.User.find(db, "ann")
        summary = awards.summary(db, user, orm.Course.find_by_slug(db, "demo"))
    assert (summary["xp"], summary["streak"], summary["best_streak"]) == (10, 1, 1)
    assert keys(summary["achievements"]) == {"first-solve", "module-completed"}
    assert all(a["earned"] for a in summary["achievements"])


async def test_every_test_passed_at_the_first_submission_is_right_first_time(grader, course):
    author = course["author"]
    code, hard = await author.post(
        "questions",
        {
            "module": "basics",
            "slug": "hard-square",
            "title": "Square, the hard way",
            "difficulty": "hard",
            "notebook": square_question(),
        },
    )
    assert code == 201, hard
    bob = grader.client_for("bob")
    result = await submit(bob, hard["id"])
    assert result["awards"]["xp"] == 40
    assert keys(result["awards"]["achievements"]) == {"first-solve", "first-try", "hard-solved"}
    # the module has another question: not complete yet
    result = await submit(bob, course["question"]["id"])
    assert result["awards"]["xp"] == 10
    assert keys(result["awards"]["achievements"]) == {"module-completed"}
    assert stats(grader, "bob")[0] == 50


async def test_a_learner_cannot_earn_xp_twice_for_a_question_even_submitting_at_once(
    grader, course
):
    ann = grader.client_for("ann")
    qid = course["question"]["id"]
    # four correct submissions queued together: the service's workers grade them side by
    # side, each graded step in its own transaction
    posted = await asyncio.gather(*(post(ann, qid) for _ in range(4)))
    assert all(code == 202 for code, _ in posted), posted
    results = [await ann.wait_graded(data["id"]) for _, data in posted]
    assert all(r["score"] == 3 for r in results)
    gained = [r["awards"]["xp"] for r in results if r["awards"]]
    assert sum(gained) == 10 and gained.count(10) == 1
    earned = [k for r in results if r["awards"] for k in keys(r["awards"]["achievements"])]
    assert sorted(earned) == sorted(set(earned))  # each achievement once
    assert grants(grader, "ann") == [10]
    assert stats(grader, "ann")[0] == 10
    with grader.session_factory() as db:
        rows = db.scalars(select(orm.Achievement.key)).all()
    assert sorted(rows) == sorted(set(rows))


async def test_a_regrade_awards_nothing_and_takes_nothing_away(grader, course):
    ann = grader.client_for("ann")
    author = course["author"]
    qid = course["question"]["id"]
    solved = await submit(ann, qid)
    assert solved["awards"]["xp"] == 10
    before = stats(grader, "ann")

    # the question changes so that ann's answer now fails; everything is graded again
    stricter = square_question()
    stricter.cells[
        3
    ].source = "### BEGIN HIDDEN TESTS\nassert square(-3) == 10\n### END HIDDEN TESTS"
    code, model = await author.request(
        "PUT", f"questions/{qid}", {"notebook": stricter, "regrade": True}
    )
    assert code == 200, model
    for _ in range(600):
        code, data = await ann.get(f"submissions/{solved['id']}")
        if data["status"] == "graded" and data["score"] != 3:
            break
        await asyncio.sleep(0.1)
    assert data["score"] == 1
    assert data["awards"] is None  # the regrading earned nothing
    assert stats(grader, "ann") == before  # and took nothing away
    assert grants(grader, "ann") == [10]
    code, mine = await ann.get("achievements?course=demo")
    assert mine["xp"] == 10 and "first-solve" in {
        a["key"] for a in mine["achievements"] if a["earned"]
    }

    # solving the new version later is not a second first solve
    fixed = square_question()
    fixed.cells[3].source = "### BEGIN HIDDEN TESTS\nassert square(-3) == 9\n### END HIDDEN TESTS"
    code, model = await author.request("PUT", f"questions/{qid}", {"notebook": fixed})
    assert code == 200, model
    result = await submit(ann, qid)
    assert result["score"] == 3
    assert result["awards"] is None
    assert grants(grader, "ann") == [10]


async def test_xp_goes_to_the_questions_course_and_another_courses_question_is_out_of_reach(
    grader, course, fake_hub
):
    await fake_hub_course(grader, fake_hub, "other")
    teacher = course["author"]
    code, _ = await teacher.post("modules", {"course": "other", "slug": "m", "title": "M"})
    assert code == 201
    code, theirs = await teacher.post(
        "questions",
        {
            "course": "other",
            "module": "m",
            "slug": "t",
            "title": "T",
            "notebook": square_question(),
        },
    )
    assert code == 201, theirs
    give_hints(grader, theirs["id"])
    # dee learns in demo only
    dee = grader.client_for("dee", (f"{LEARN}!group=course-demo",))
    nb = answer(square_question(), CORRECT)
    code, _ = await dee.post("submissions", {"question": theirs["id"], "notebook": nb})
    assert code == 404
    for method in ("GET", "POST"):
        code, data = await dee.request(method, f"questions/{theirs['id']}/hints")
        assert code == 404, data
        assert "Multiplying" not in json.dumps(data)
    code, _ = await dee.get("achievements?course=other")
    assert code in (403, 404)
    assert stats(grader, "dee", "other") is None

    # a learner of both courses: XP lands in each question's own course
    eve = grader.client_for("eve")
    await submit(eve, theirs["id"])
    assert stats(grader, "eve", "other")[0] == 10
    assert stats(grader, "eve", "demo") is None
    code, mine = await eve.get("achievements?course=demo")
    assert (mine["xp"], mine["streak"]) == (0, 0)
    assert not any(a["earned"] for a in mine["achievements"])


# hints ------------------------------------------------------------------------------


async def test_hints_are_revealed_one_at_a_time_and_cost_xp(grader, course):
    qid = course["question"]["id"]
    give_hints(grader, qid)
    ann, bob = grader.client_for("ann"), grader.client_for("bob")

    code, hints = await ann.get(f"questions/{qid}/hints")
    assert code == 200, hints
    assert hints == {"count": 3, "revealed": [], "xp_penalty": 0.25, "xp": 10}
    # no hint's text anywhere a learner reads before it is revealed
    code, summary = await ann.get(f"questions/{qid}")
    for text in HINTS:
        assert text not in json.dumps(summary)

    code, hints = await ann.post(f"questions/{qid}/hints")
    assert code == 200, hints
    assert hints["revealed"] == [{"index": 0, "text": HINTS[0]}]
    assert hints["xp"] == 8
    assert HINTS[1] not in json.dumps(hints) and HINTS[2] not in json.dumps(hints)
    code, hints = await ann.post(f"questions/{qid}/hints")
    assert [h["index"] for h in hints["revealed"]] == [0, 1] and hints["xp"] == 5
    code, hints = await ann.get(f"questions/{qid}/hints")
    assert [h["text"] for h in hints["revealed"]] == HINTS[:2]

    # another learner sees none of ann's: hints are revealed per learner
    code, theirs = await bob.get(f"questions/{qid}/hints")
    assert theirs["revealed"] == [] and theirs["xp"] == 10

    result = await submit(ann, qid)
    assert result["awards"]["xp"] == 5  # two hints revealed before solving: half
    code, hints = await ann.get(f"questions/{qid}/hints")
    assert hints["xp"] is None  # earned already
    # a hint revealed after the solve costs nothing more
    code, hints = await ann.post(f"questions/{qid}/hints")
    assert len(hints["revealed"]) == 3
    code, data = await ann.post(f"questions/{qid}/hints")
    assert code == 409 and "every hint" in data["message"]
    assert grants(grader, "ann") == [5]

    bob_result = await submit(bob, qid)
    assert bob_result["awards"]["xp"] == 10


async def test_hints_of_hidden_questions_and_questions_without_hints(grader, course):
    author = course["author"]
    ann = grader.client_for("ann")
    code, draft = await author.post(
        "questions",
        {
            "module": "basics",
            "slug": "draft",
            "title": "Draft",
            "notebook": square_question(),
            "release": None,  # a draft: learners cannot see it, nor its hints
        },
    )
    assert code == 201, draft
    give_hints(grader, draft["id"])
    code, data = await ann.get(f"questions/{draft['id']}/hints")
    assert code == 404 and "Multiplying" not in json.dumps(data)
    code, data = await ann.post(f"questions/{draft['id']}/hints")
    assert code == 404
    # its instructor (a learner too) may not reveal a draft's hints either
    code, data = await author.get(f"questions/{draft['id']}/hints")
    assert code == 403 and "not released" in data["message"]
    # a question nobody has, and a question with no hints
    code, _ = await ann.get("questions/999999/hints")
    assert code == 404
    code, _ = await ann.get("questions/not-a-number/hints")
    assert code == 404
    qid = course["question"]["id"]
    code, hints = await ann.get(f"questions/{qid}/hints")
    assert (code, hints["count"], hints["revealed"]) == (200, 0, [])
    code, data = await ann.post(f"questions/{qid}/hints")
    assert code == 409 and "no hints" in data["message"]


# achievements: the caller's own, and a course's own ---------------------------------


async def test_the_achievements_endpoint_is_the_callers_own(grader, course):
    ann, bob = grader.client_for("ann"), grader.client_for("bob")
    await submit(bob, course["question"]["id"])
    code, data = await ann.get("achievements?course=demo&user=bob")
    assert code == 400 and "profiles" in data["message"]
    code, mine = await ann.get("achievements?course=demo")
    assert mine["xp"] == 0 and not any(a["earned"] for a in mine["achievements"])
    code, theirs = await bob.get("achievements")  # their one course
    assert theirs["xp"] == 10
    code, _ = await ann.get("achievements?course=nope")
    assert code == 404
    nobody = grader.client_for("nobody", ())
    code, _ = await nobody.get("achievements?course=demo")
    assert code in (400, 403, 404)


async def test_an_instructor_adds_the_courses_own_achievements(grader, course):
    author = course["author"]
    mine = {
        "key": "squarer",
        "title": "Squarer",
        "description": "Solve an easy question.",
        "icon": "🟩",
        "when": {"solved_difficulty": "easy"},
    }
    for bad, message in (
        ([{**mine, "key": "first-solve"}], "built-in"),
        ([mine, mine], "duplicate key 'squarer'"),
        ([{**mine, "when": {"telepathy": 1}}], "unknown rule kind 'telepathy'"),
        ("squarer", "must be a list"),
    ):
        code, data = await author.request("PUT", "courses/demo", {"achievements": bad})
        assert code == 400 and message in data["message"], data
    ann = grader.client_for("ann")
    code, data = await ann.request("PUT", "courses/demo", {"achievements": [mine]})
    assert code == 403  # learners cannot
    code, model = await author.request("PUT", "courses/demo", {"achievements": [mine]})
    assert code == 200, model
    assert model["achievements"][0]["when"] == {"solved_difficulty": "easy", "count": 1}

    code, listed = await ann.get("achievements?course=demo")
    squarer = next(a for a in listed["achievements"] if a["key"] == "squarer")
    assert squarer == {
        **{k: mine[k] for k in ("key", "title", "description", "icon")},
        "earned": None,
    }
    result = await submit(ann, course["question"]["id"])
    assert "squarer" in keys(result["awards"]["achievements"])


# streaks through the graded step ------------------------------------------------------


def graded_step(grader, name: str, qid: int, created: datetime, solved: bool = True):
    """The queue's graded step for a submission stored as made at ``created`` (naive
    UTC) and graded: its awards."""
    tests = [
        {"name": "visible", "points": 1.0, "max_points": 1.0, "passed": True, "hidden": False},
        {"name": "hidden", "points": 2.0 if solved else 0.0, "max_points": 2.0,
         "passed": solved, "hidden": True},
    ]  # fmt: skip
    with grader.writer_factory() as db:
        user = orm.User.find_or_create(db, name)
        submission = orm.Submission(
            user_id=user.id,
            question_id=qid,
            question_version=1,
            notebook={},
            status="graded",
            score=3.0 if solved else 1.0,
            max_score=3.0,
            tests=tests,
            created=created,
            finished=created,
        )
        db.add(submission)
        db.flush()
        grader.queue.submission_graded(db, submission)
        db.commit()
        return submission.awards


def set_timezone(grader, name: str, zone: str):
    with grader.session_factory() as db:
        orm.User.find_or_create(db, name).timezone = zone
        db.commit()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_streaks_count_the_learners_own_days(grader, course):
    qid = course["question"]["id"]
    set_timezone(grader, "kei", "Asia/Tokyo")
    set_timezone(grader, "uma", "UTC")
    # 20:00 UTC on the 1st and 16:00 UTC on the 2nd: in Tokyo 05:00 on the 2nd and 01:00
    # on the 3rd
    for name in ("kei", "uma"):
        graded_step(grader, name, qid, at("2025-03-01T20:00:00"), solved=False)
        graded_step(grader, name, qid, at("2025-03-02T16:00:00"), solved=False)
    assert stats(grader, "kei")[1:] == (2, 2, date(2025, 3, 3))
    assert stats(grader, "uma")[1:] == (2, 2, date(2025, 3, 2))
    # 23:59 and 00:01 in Tokyo (14:59 and 15:01 UTC): two days there, one in UTC
    graded_step(grader, "kei", qid, at("2025-03-03T14:59:00"), solved=False)
    graded_step(grader, "uma", qid, at("2025-03-03T14:59:00"), solved=False)
    assert stats(grader, "kei")[1] == 2  # still the 3rd in Tokyo
    awards_kei = graded_step(grader, "kei", qid, at("2025-03-03T15:01:00"), solved=False)
    awards_uma = graded_step(grader, "uma", qid, at("2025-03-03T15:01:00"), solved=False)
    assert awards_kei == {"xp": 0, "streak": 3, "achievements": [awards_kei["achievements"][0]]}
    assert awards_kei["achievements"][0]["key"] == "streak-3"
    assert awards_uma is None  # the same UTC day as the one before: nothing new
    assert stats(grader, "uma")[1] == 3


async def test_a_missed_day_is_forgiven_and_a_longer_gap_starts_again(grader, course):
    qid = course["question"]["id"]
    set_timezone(grader, "gus", "America/New_York")
    noon = "T17:00:00"  # 12:00 or 13:00 in New York
    graded_step(grader, "gus", qid, at("2025-04-01" + noon), solved=False)
    graded_step(grader, "gus", qid, at("2025-04-02" + noon), solved=False)
    graded_step(grader, "gus", qid, at("2025-04-04" + noon), solved=False)  # missed the 3rd
    assert stats(grader, "gus")[1:3] == (3, 3)
    graded_step(grader, "gus", qid, at("2025-04-07" + noon), solved=False)  # missed two
    assert stats(grader, "gus")[1:3] == (1, 3)
    # a learner with a zone zoneinfo does not know counts in UTC
    set_timezone(grader, "zed", "Nowhere/Atlantis")
    graded_step(grader, "zed", qid, at("2025-04-01T23:30:00"), solved=False)
    assert stats(grader, "zed")[3] == date(2025, 4, 1)


async def test_a_seven_day_streak_through_the_service_in_tokyo(grader, course):
    """The real submission path: a streak of 6 that ended yesterday in Tokyo, then a
    submission today: the seventh day, and its achievement."""
    qid = course["question"]["id"]
    set_timezone(grader, "kei", "Asia/Tokyo")
    kei = grader.client_for("kei")
    yesterday = awards.today_for(_user(grader, "kei")) - timedelta(days=1)
    with grader.session_factory() as db:
        user = orm.User.find(db, "kei")
        db.add(
            orm.LearnerStats(
                user_id=user.id,
                course_id=orm.Course.find_by_slug(db, "demo").id,
                xp=0,
                streak=6,
                best_streak=6,
                last_day=yesterday,
            )
        )
        db.commit()
    result = await submit(kei, qid, PARTIAL)
    assert result["awards"]["streak"] == 7
    assert "streak-7" in keys(result["awards"]["achievements"])
    code, mine = await kei.get("achievements?course=demo")
    assert (mine["streak"], mine["best_streak"]) == (7, 7)


def _user(grader, name):
    with grader.session_factory() as db:
        return orm.User.find(db, name)


async def test_an_old_streak_reads_as_zero_but_the_best_stays(grader, course):
    qid = course["question"]["id"]
    long_ago = orm.utcnow() - timedelta(days=10)
    for n in range(4):
        graded_step(grader, "old", qid, long_ago + timedelta(days=n), solved=False)
    assert stats(grader, "old")[1:3] == (4, 4)
    with grader.session_factory() as db:
        user = orm.User.find(db, "old")
        summary = awards.summary(db, user, orm.Course.find_by_slug(db, "demo"))
    assert (summary["streak"], summary["best_streak"]) == (0, 4)
    # with a grace long enough, it still stands
    with grader.session_factory() as db:
        user = orm.User.find(db, "old")
        rules = awards.AwardRules(grace_days=10)
        summary = awards.summary(db, user, orm.Course.find_by_slug(db, "demo"), rules)
    assert summary["streak"] == 4


async def test_the_graded_step_stays_a_few_queries(grader, course):
    """Not a timing (tests assert no wall-clock time): the statements one graded step
    sends, counted, so an accidental scan per definition shows up here."""
    from sqlalchemy import event

    qid = course["question"]["id"]
    graded_step(grader, "cnt", qid, orm.utcnow() - timedelta(days=1), solved=False)
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    engine = grader.writer_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        graded_step(grader, "cnt", qid, orm.utcnow(), solved=True)  # a first solve
    finally:
        event.remove(engine, "before_cursor_execute", count)
    mine = [s for s in statements if any(t in s for t in ("learner_stats", "xp_grants",
            "achievements", "hint_views"))]  # fmt: skip
    # stats (read, write), hint count, grant, earned keys, achievements inserted
    assert len(mine) <= 10, mine
    with grader.session_factory() as db:
        total = db.scalar(select(func.count()).select_from(orm.Achievement))
    assert total >= 2
