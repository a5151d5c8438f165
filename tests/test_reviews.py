"""Spaced-repetition reviews (FSRS): the schedule written in the graded step, read and
rated through the API.

Due dates are checked against the `fsrs` package itself: the same ratings at the same
times, given to an `fsrs.Scheduler` of the same settings, must give the stored due
date. Fuzzing is turned off (`ReviewRules.enable_fuzzing`), so that is exact. Times are
set in the database (submissions stored as made at chosen moments, cards made due):
the graded step reads `Submission.created`, never the clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import fsrs
import nbformat
import pytest
from sqlalchemy import func, select

from grader import orm
from grader.learners import reviews
from tests.conftest import ACCESS, LEARN, Client, answer, fake_hub_course

CORRECT = "def square(x):\n    return x * x"
PARTIAL = "def square(x):\n    return x + 2"  # 1 of 3 points


@pytest.fixture
def rules(grader):
    """The service's ReviewRules (the queue's), without fuzz: exact due dates."""
    rules = reviews.rules_of(grader.queue)
    rules.enable_fuzzing = False
    return rules


def library_due(steps, question_id: int) -> datetime:
    """The due date (naive UTC) fsrs itself gives a new card after these (rating,
    naive UTC time) reviews."""
    scheduler = fsrs.Scheduler(desired_retention=0.9, enable_fuzzing=False)
    card = fsrs.Card(card_id=question_id, due=steps[0][1].replace(tzinfo=UTC))
    for rating, moment in steps:
        card, _ = scheduler.review_card(card, rating, review_datetime=moment.replace(tzinfo=UTC))
    return card.due.astimezone(UTC).replace(tzinfo=None)


def graded_step(grader, name: str, qid: int, created: datetime, solved: bool = True):
    """The queue's graded step for a submission stored as made at ``created`` and graded
    (full score, or 1 of 3 points; `manual.settle` adds up the tests): its id."""
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
        return submission.id


def card_of(grader, name: str, qid: int) -> orm.ReviewCard | None:
    with grader.session_factory() as db:
        user = orm.User.find(db, name)
        return user and db.get(orm.ReviewCard, (user.id, qid))


def logs_of(grader, name: str, qid: int) -> list[tuple]:
    with grader.session_factory() as db:
        user = orm.User.find(db, name)
        return db.execute(
            select(orm.ReviewLog.rating, orm.ReviewLog.source, orm.ReviewLog.submission_id)
            .where(orm.ReviewLog.user_id == user.id, orm.ReviewLog.question_id == qid)
            .order_by(orm.ReviewLog.id)
        ).all()


def set_card(grader, name: str, qid: int, **fields):
    with grader.session_factory() as db:
        user = orm.User.find(db, name)
        row = db.get(orm.ReviewCard, (user.id, qid))
        for field, value in fields.items():
            setattr(row, field, value)
        db.commit()


def add_question(grader, slug: str, qtype: str = "notebook", course: str = "demo", **fields):
    """A released question stored directly (its type's authoring is tested elsewhere):
    its id."""
    with grader.session_factory() as db:
        course_row = orm.Course.find_by_slug(db, course)
        module = db.scalar(select(orm.Module).where(orm.Module.course_id == course_row.id))
        if module is None:
            module = orm.Module(course_id=course_row.id, slug="m", title="M")
            db.add(module)
            db.flush()
        question = orm.Question(
            module_id=module.id,
            slug=slug,
            title=slug.title(),
            type=qtype,
            max_score=0.0 if qtype == "flashcard" else 3.0,
            source_notebook={},
            student_notebook={},
            released=orm.utcnow() - timedelta(days=1),
            **fields,
        )
        db.add(question)
        db.commit()
        return question.id


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# the real submission path ------------------------------------------------------------


@pytest.mark.sandbox
async def test_a_solve_graded_in_the_sandbox_makes_the_card_fsrs_schedules(grader, course, rules):
    qid = course["question"]["id"]
    ann = grader.client_for("ann")
    code, model = await ann.get(f"questions/{qid}")
    assert code == 200, model
    student = nbformat.from_dict(model["notebook"])

    code, data = await ann.post(
        "submissions", {"question": qid, "notebook": answer(student, PARTIAL)}
    )
    assert code == 202, data
    assert (await ann.wait_graded(data["id"]))["score"] == 1
    code, data = await ann.get(f"reviews/{qid}")
    assert code == 200 and data["state"] == "new" and data["due"] is None, data  # no card yet

    code, data = await ann.post(
        "submissions", {"question": qid, "notebook": answer(student, CORRECT)}
    )
    assert code == 202, data
    solved = await ann.wait_graded(data["id"])
    assert solved["score"] == 3
    with grader.session_factory() as db:
        created = db.scalar(select(func.max(orm.Submission.created)))
    # solved soon after the first attempt: Good (a first solve is never rated Easy)
    expected = library_due([(fsrs.Rating.Good, created)], qid)
    code, card = await ann.get(f"reviews/{qid}")
    assert code == 200, card
    assert card["due"] == expected.isoformat() + "Z"
    assert card["state"] == "learning" and card["reviews"] == 1 and card["lapses"] == 0
    assert card["question"]["id"] == qid and card["question"]["course"] == "demo"
    assert logs_of(grader, "ann", qid) == [(3, "graded", solved["id"])]

    # submitting again before it is due moves nothing
    code, data = await ann.post(
        "submissions", {"question": qid, "notebook": answer(student, CORRECT)}
    )
    assert code == 202, data
    await ann.wait_graded(data["id"])
    code, again = await ann.get(f"reviews/{qid}")
    assert again == card
    assert len(logs_of(grader, "ann", qid)) == 1

    code, listing = await ann.get("reviews?course=demo")
    assert code == 200, listing
    assert listing["due"] == []
    assert listing["counts"]["total"] == 1 and listing["counts"]["due_now"] == 0
    assert listing["next_due"] == card["due"]


# the graded step, with times set -----------------------------------------------------


async def test_due_dates_move_as_fsrs_says_through_a_review_history(grader, course, rules):
    qid = course["question"]["id"]
    t0 = at("2025-05-01T09:00:00")
    # a failed attempt, then the solve two hours later: slow, so Hard
    graded_step(grader, "ann", qid, t0, solved=False)
    assert card_of(grader, "ann", qid) is None
    graded_step(grader, "ann", qid, t0 + timedelta(hours=2))
    steps = [(fsrs.Rating.Hard, t0 + timedelta(hours=2))]
    assert card_of(grader, "ann", qid).due == library_due(steps, qid)

    # due; opened for review and solved in a minute: Easy
    t1 = card_of(grader, "ann", qid).due + timedelta(hours=1)
    set_card(grader, "ann", qid, opened=t1 - timedelta(seconds=60))
    graded_step(grader, "ann", qid, t1)
    steps.append((fsrs.Rating.Easy, t1))
    card = card_of(grader, "ann", qid)
    assert card.due == library_due(steps, qid) and card.opened is None
    assert card.card["state"] == fsrs.State.Review

    # before it is due again: neither a failure nor a solve moves it
    for solved in (False, True):
        graded_step(grader, "ann", qid, card.due - timedelta(minutes=5), solved=solved)
    assert card_of(grader, "ann", qid).due == card.due

    # due, and failed: Again, a lapse, relearning
    t2 = card.due + timedelta(days=2)
    graded_step(grader, "ann", qid, t2, solved=False)
    steps.append((fsrs.Rating.Again, t2))
    card = card_of(grader, "ann", qid)
    assert card.due == library_due(steps, qid)
    assert (card.reviews, card.lapses, card.card["state"]) == (3, 1, fsrs.State.Relearning)

    # due again (the relearning step), solved without opening it for review: Good
    t3 = card.due + timedelta(minutes=1)
    graded_step(grader, "ann", qid, t3)
    steps.append((fsrs.Rating.Good, t3))
    card = card_of(grader, "ann", qid)
    assert card.due == library_due(steps, qid)

    # opened long ago, solved hours later: Hard
    t4 = card.due + timedelta(hours=1)
    set_card(grader, "ann", qid, opened=t4 - timedelta(hours=3))
    graded_step(grader, "ann", qid, t4)
    steps.append((fsrs.Rating.Hard, t4))
    assert card_of(grader, "ann", qid).due == library_due(steps, qid)
    assert [r for r, _, _ in logs_of(grader, "ann", qid)] == [int(r) for r, _ in steps]


async def test_a_submission_is_reviewed_once_and_one_graded_out_of_order_not_at_all(
    grader, course, rules
):
    qid = course["question"]["id"]
    t0 = at("2025-05-01T09:00:00")
    solve = graded_step(grader, "ann", qid, t0)
    due = card_of(grader, "ann", qid).due
    # the graded step again for the same submission (as after a hand grade)
    with grader.writer_factory() as db:
        grader.queue.submission_graded(db, db.get(orm.Submission, solve))
        db.commit()
    assert card_of(grader, "ann", qid).due == due
    assert len(logs_of(grader, "ann", qid)) == 1

    # a review at t2, then a submission made at t1 < t2 (due then too) graded after it
    t2 = due + timedelta(days=1)
    graded_step(grader, "ann", qid, t2)
    after = card_of(grader, "ann", qid)
    graded_step(grader, "ann", qid, due + timedelta(hours=1), solved=False)
    assert card_of(grader, "ann", qid).card == after.card
    assert len(logs_of(grader, "ann", qid)) == 2


async def test_due_today_ends_at_midnight_where_the_learner_lives(grader, course, rules):
    """At 14:00 UTC it is 23:00 in Tokyo: a card due at 15:30 UTC is due tomorrow for a
    learner there, today for one in UTC."""
    qid = course["question"]["id"]
    # tomorrow, 14:00 UTC (after the questions' release)
    now = datetime.combine(orm.utcnow().date() + timedelta(days=1), datetime.min.time())
    now += timedelta(hours=14)
    for name, zone in (("kei", "Asia/Tokyo"), ("uma", "UTC")):
        graded_step(grader, name, qid, now - timedelta(days=30))
        with grader.session_factory() as db:
            orm.User.find(db, name).timezone = zone
            db.commit()
    extra = add_question(grader, "extra")
    for name in ("kei", "uma"):
        graded_step(grader, name, extra, now - timedelta(days=30))
        set_card(grader, name, qid, due=now + timedelta(minutes=30))  # 14:30 UTC
        set_card(grader, name, extra, due=now + timedelta(minutes=90))  # 15:30 UTC
    with grader.session_factory() as db:
        course_id = orm.Course.find_by_slug(db, "demo").id
        kei = reviews.reviews_model(db, orm.User.find(db, "kei"), [course_id], now=now)
        uma = reviews.reviews_model(db, orm.User.find(db, "uma"), [course_id], now=now)
        # an hour later, a new day in Tokyo: both are due today there
        later = reviews.reviews_model(
            db, orm.User.find(db, "kei"), [course_id], now=now + timedelta(hours=1, minutes=1)
        )
    assert kei["counts"] == {"due_now": 0, "due_today": 1, "next_7_days": 2, "total": 2}
    assert uma["counts"] == {"due_now": 0, "due_today": 2, "next_7_days": 2, "total": 2}
    assert kei["next_due"] == (now + timedelta(minutes=30)).isoformat() + "Z"
    assert later["counts"]["due_now"] == 1 and later["counts"]["due_today"] == 2
    assert [c["question"]["id"] for c in later["due"]] == [qid]


async def test_the_due_list_through_the_api(grader, course, rules):
    qid = course["question"]["id"]
    other = add_question(grader, "other")
    now = orm.utcnow()
    for question in (qid, other):
        graded_step(grader, "ann", question, now - timedelta(days=10))
    set_card(grader, "ann", qid, due=now - timedelta(hours=1))
    set_card(grader, "ann", other, due=now - timedelta(hours=2))
    ann = grader.client_for("ann")
    code, listing = await ann.get("reviews?course=demo")
    assert code == 200, listing
    data = listing
    assert [c["question"]["id"] for c in data["due"]] == [other, qid]  # soonest first
    assert data["counts"]["due_now"] == 2 and data["next_due"] is None
    first = data["due"][0]
    assert set(first) >= {"question", "due", "state", "reviews", "last_review"}
    assert set(first["question"]) >= {"id", "title", "type", "module", "course"}
    code, data = await ann.get("reviews?limit=1")
    assert code == 200 and len(data["due"]) == 1 and data["counts"]["due_now"] == 2
    for bad in ("limit=0", "limit=abc", "limit=100000"):
        code, data = await ann.get(f"reviews?{bad}")
        assert code == 400, data

    # opening it for review: the time of a graded review counts from here
    code, started = await ann.post(f"reviews/{qid}/start")
    assert code == 200, started
    assert started["opened"] is not None and started["due"] == listing["due"][1]["due"]


# flashcards: the learner's own rating ----------------------------------------------------


async def test_a_flashcard_is_rated_by_the_learner_while_due_only(grader, course, rules):
    card_id = add_question(grader, "capital", "flashcard")
    ann = grader.client_for("ann")
    code, data = await ann.get(f"reviews/{card_id}")
    assert code == 200 and (data["state"], data["reviews"]) == ("new", 0), data
    # opening it makes its card (due now)
    code, opened = await ann.post(f"reviews/{card_id}/start")
    assert code == 200, opened
    assert opened["reviews"] == 0 and opened["opened"] is not None

    code, rated = await ann.post(f"reviews/{card_id}", {"rating": "good", "duration_ms": 4000})
    assert code == 200, rated
    assert rated["rated"] is True and rated["reviews"] == 1
    first = card_of(grader, "ann", card_id)
    steps = [(fsrs.Rating.Good, first.last_review)]
    assert first.due == library_due(steps, card_id)
    assert logs_of(grader, "ann", card_id) == [(3, "self", None)]

    # not due (its next learning step is minutes away): "easy" again and again moves nothing
    for _ in range(3):
        code, data = await ann.post(f"reviews/{card_id}", {"rating": 4})
        assert code == 200 and data["rated"] is False
    assert card_of(grader, "ann", card_id).card == first.card

    # made due: the rating counts, as fsrs says
    past = first.last_review - timedelta(days=1)
    with grader.session_factory() as db:
        row = db.get(orm.ReviewCard, (orm.User.find(db, "ann").id, card_id))
        row.due, row.last_review = past, past
        row.card = {**row.card, "due": past.replace(tzinfo=UTC).isoformat(),
                    "last_review": past.replace(tzinfo=UTC).isoformat()}  # fmt: skip
        db.commit()
    code, data = await ann.post(f"reviews/{card_id}", {"rating": "easy"})
    assert code == 200 and data["rated"] is True, data
    now_card = card_of(grader, "ann", card_id)
    scheduler = fsrs.Scheduler(desired_retention=0.9, enable_fuzzing=False)
    expected, _ = scheduler.review_card(
        fsrs.Card.from_dict(row.card),
        fsrs.Rating.Easy,
        review_datetime=now_card.last_review.replace(tzinfo=UTC),
    )
    assert now_card.due == expected.due.astimezone(UTC).replace(tzinfo=None)
    assert data["state"] == "review"

    # a first rating without opening makes the card too
    code, data = await ann.post(f"reviews/{add_question(grader, 'other-card', 'flashcard')}",
                                {"rating": 1})  # fmt: skip
    assert code == 200 and data["rated"] is True and data["state"] == "learning"


async def test_bad_ratings_are_named(grader, course, rules):
    card_id = add_question(grader, "capital", "flashcard")
    ann = grader.client_for("ann")
    for body in ({}, {"rating": 0}, {"rating": 5}, {"rating": "great"}, {"rating": True},
                 {"rating": 3.0}):  # fmt: skip
        code, data = await ann.post(f"reviews/{card_id}", body)
        assert code == 400 and "rating" in data["message"], (body, data)
    for duration in (-1, "10", 10**12, True):
        code, data = await ann.post(f"reviews/{card_id}", {"rating": 3, "duration_ms": duration})
        assert code == 400 and "duration_ms" in data["message"], data
    assert card_of(grader, "ann", card_id) is None  # nothing half-written


# what a learner cannot do ------------------------------------------------------------------


async def test_a_learner_cannot_rate_a_graded_question_nor_touch_anothers_card(
    grader, course, rules
):
    qid = course["question"]["id"]
    graded_step(grader, "ann", qid, orm.utcnow() - timedelta(days=30))
    set_card(grader, "ann", qid, due=orm.utcnow() - timedelta(days=1))
    before = card_of(grader, "ann", qid)
    ann = grader.client_for("ann")
    # forging a rating for a graded question: refused, with or without a card
    for rating in ("easy", 4, "again"):
        code, data = await ann.post(f"reviews/{qid}", {"rating": rating})
        assert code == 400 and "submit it" in data["message"], data
    assert card_of(grader, "ann", qid).card == before.card

    # another learner sees and moves nothing of ann's
    bob = grader.client_for("bob")
    code, data = await bob.get(f"reviews/{qid}")
    assert code == 200 and (data["state"], data["reviews"]) == ("new", 0), data  # bob's own
    code, data = await bob.post(f"reviews/{qid}/start")
    assert code == 404, data
    code, data = await bob.get("reviews")
    assert data["due"] == [] and data["counts"]["total"] == 0
    for path in (f"reviews/{qid}?user=ann", "reviews?user=ann"):
        code, data = await bob.get(path)
        assert code == 400 and "caller's own" in data["message"], data
    assert card_of(grader, "ann", qid).opened is None


async def test_questions_outside_the_learners_courses_are_not_found(grader, course, fake_hub):
    await fake_hub_course(grader, fake_hub, "other")
    theirs = add_question(grader, "secret-card", "flashcard", course="other")
    dee = grader.client_for("dee", (f"{LEARN}!group=course-demo",))
    for method, path, body in (
        ("GET", f"reviews/{theirs}", None),
        ("POST", f"reviews/{theirs}/start", None),
        ("POST", f"reviews/{theirs}", {"rating": 3}),
    ):
        code, data = await dee.request(method, path, body)
        assert code == 404, (path, data)
    assert card_of(grader, "dee", theirs) is None
    code, data = await dee.get("reviews?course=other")
    assert code in (403, 404), data


async def test_cards_of_a_left_course_or_a_retired_question_are_left_out(
    grader, course, fake_hub, rules
):
    await fake_hub_course(grader, fake_hub, "other")
    qid = course["question"]["id"]
    theirs = add_question(grader, "theirs", course="other")
    for question in (qid, theirs):
        graded_step(grader, "eve", question, orm.utcnow() - timedelta(days=30))
        set_card(grader, "eve", question, due=orm.utcnow() - timedelta(days=1))
    eve = grader.client_for("eve")  # learns everywhere
    code, data = await eve.get("reviews")
    assert data["counts"]["due_now"] == 2
    # eve leaves "other": its card is kept but no longer listed or counted
    # (a new token: the service caches what the Hub said of the first one)
    fake_hub.tokens["token-eve-now"] = {
        **fake_hub.tokens["token-eve"], "scopes": [ACCESS, f"{LEARN}!group=course-demo"]}  # fmt: skip
    eve = Client(grader.base_url, "token-eve-now")
    code, data = await eve.get("reviews")
    assert [c["question"]["id"] for c in data["due"]] == [qid]
    assert data["counts"]["total"] == 1
    assert card_of(grader, "eve", theirs) is not None
    # the question is retired: gone from the list and not found
    code, _ = await course["author"].request("DELETE", f"questions/{qid}")
    assert code == 204
    code, data = await eve.get("reviews")
    assert data["due"] == [] and data["counts"] == {
        "due_now": 0, "due_today": 0, "next_7_days": 0, "total": 0}  # fmt: skip
    code, data = await eve.get(f"reviews/{qid}")
    assert code == 404, data


async def test_start_without_a_card_is_a_404_for_a_graded_question(grader, course):
    ann = grader.client_for("ann")
    code, data = await ann.post(f"reviews/{course['question']['id']}/start")
    assert code == 404 and "solve it first" in data["message"], data
    assert card_of(grader, "ann", course["question"]["id"]) is None


def test_ratings_from_time_by_difficulty():
    rules = reviews.ReviewRules(easy_seconds={"Hard": 600}, hard_seconds={"hard": 1800})
    assert rules.rating_for("hard", 599) == fsrs.Rating.Easy
    assert rules.rating_for("hard", 1000) == fsrs.Rating.Good
    assert rules.rating_for("hard", 1801) == fsrs.Rating.Hard
    assert rules.rating_for("unknown", 200) == fsrs.Rating.Easy  # default_easy_seconds 300
    assert rules.rating_for("easy", None) == fsrs.Rating.Good
    with pytest.raises(Exception, match="desired_retention"):
        reviews.ReviewRules(desired_retention=1.5)
    assert reviews.parse_rating("Again") == fsrs.Rating.Again
