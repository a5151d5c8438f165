"""Duels (grader/learners/duels.py, grader/handlers/duels.py): challenges, open
challenges and the bot, winning through real gradings, time-outs, Elo ratings and their
board, and what a learner may not do.

The grading service runs in-process (the `grader` fixture) and grades in the bubblewrap
sandbox: wins are real submissions graded by the queue's workers. Time passing (a
deadline, the bot's solve time) is simulated by moving a duel's timestamps in the
database, never by waiting.

The people: ann, bob and cat learn in `demo` (the fixture's course, with the `square`
question, 3 points); dan learns in `other` only.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import nbformat
import pytest
from sqlalchemy import select, update

from grader import orm
from grader.learners import duels
from tests.conftest import LEARN, Client, answer, fake_hub_course, square_question

pytestmark = pytest.mark.sandbox

CORRECT = "def square(x):\n    return x * x"  # 3 of 3
PARTIAL = "def square(x):\n    return x + 2"  # 1 of 3: square(2) passes, square(-3) fails


def learner_of(grader, name: str, course: str = "demo") -> Client:
    return grader.client_for(name, (f"{LEARN}!group=course-{course}",))


@pytest.fixture
async def people(grader, course):
    """ann, bob, cat in demo; dan in other. Each has made a request, so the grader
    knows their enrolments (as any learner who opened the course has)."""
    clients = {name: learner_of(grader, name) for name in ("ann", "bob", "cat")}
    for client in clients.values():
        code, data = await client.get("duels")
        assert code == 200, data
    return {**clients, "question": course["question"], "author": course["author"]}


@pytest.fixture
async def dan(grader, fake_hub):
    await fake_hub_course(grader, fake_hub, "other")
    client = learner_of(grader, "dan", "other")
    code, data = await client.get("duels")
    assert code == 200, data
    return client


async def submit(client: Client, question_id: int, source: str) -> dict:
    """The learner's student version of the question, answered with `source`, graded."""
    code, model = await client.get(f"questions/{question_id}")
    assert code == 200, model
    nb = answer(nbformat.from_dict(model["notebook"]), source)
    code, data = await client.post("submissions", {"question": question_id, "notebook": nb})
    assert code == 202, data
    graded = await client.wait_graded(data["id"])
    assert graded["status"] == "graded", graded
    return graded


async def new_duel(challenger: Client, accepter: Client | None = None, **body) -> dict:
    code, duel = await challenger.post("duels", {"course": "demo", **body})
    assert code == 201, duel
    if accepter is not None:
        code, duel = await accepter.post(f"duels/{duel['id']}/accept")
        assert code == 200 and duel["status"] == "active", duel
    return duel


def stored(grader, duel_id: int) -> orm.Duel:
    """The duel as the database holds it (not through a read, which settles)."""
    with grader.session_factory() as db:
        return db.get(orm.Duel, duel_id)


def rating(grader, name: str, course: str = "demo") -> orm.DuelRating | None:
    with grader.session_factory() as db:
        return db.scalar(
            select(orm.DuelRating)
            .join(orm.User, orm.User.id == orm.DuelRating.user_id)
            .join(orm.Course, orm.Course.id == orm.DuelRating.course_id)
            .where(orm.User.name == name, orm.Course.slug == course)
        )


def move_back(grader, duel_id: int, seconds: float) -> None:
    """Time passes: the duel started (and ends) ``seconds`` earlier."""
    with grader.writer_factory() as db:
        duel = db.get(orm.Duel, duel_id)
        db.execute(
            update(orm.Duel)
            .where(orm.Duel.id == duel_id)
            .values(
                started=duel.started - timedelta(seconds=seconds),
                deadline=duel.deadline - timedelta(seconds=seconds),
            )
        )
        db.commit()


def duel_events(grader, name: str) -> list[dict]:
    with grader.session_factory() as db:
        user = orm.User.find(db, name)
        rows = db.scalars(
            select(orm.LearnerEvent)
            .where(orm.LearnerEvent.user_id == user.id, orm.LearnerEvent.kind == "duel")
            .order_by(orm.LearnerEvent.id)
        )
        return [row.data for row in rows]


async def add_question(author: Client, slug: str) -> dict:
    code, question = await author.post(
        "questions",
        {"module": "basics", "slug": slug, "title": slug.title(), "notebook": square_question()},
    )
    assert code == 201, question
    return question


# winning ------------------------------------------------------------------------------


async def test_the_first_full_score_in_time_wins_and_moves_the_ratings(grader, people):
    ann, bob, cat = people["ann"], people["bob"], people["cat"]
    other = await add_question(people["author"], "square-again")
    # a full score made before the duel starts will not count
    await submit(ann, people["question"]["id"], CORRECT)
    await submit(ann, other["id"], CORRECT)

    code, duel = await ann.post("duels", {"course": "demo", "opponent": "bob", "time_limit": 600})
    assert code == 201, duel
    assert (duel["status"], duel["you"], duel["question"], duel["opponent"]["name"]) == (
        "open", "challenger", None, "bob"
    )  # fmt: skip
    # the challenged hears of it, and sees it among their duels, still without a question
    code, listing = await bob.get("duels?course=demo")
    assert [d["id"] for d in listing["duels"]] == [duel["id"]] and listing["open"] == []
    assert listing["duels"][0]["you"] == "opponent" and listing["duels"][0]["question"] is None
    assert duel_events(grader, "bob")[-1]["status"] == "open"
    # nobody else sees a direct challenge, nor can act on it
    for path in (f"duels/{duel['id']}", f"duels/{duel['id']}/accept"):
        code, data = await cat.request("POST" if "accept" in path else "GET", path)
        assert code == 404, (path, data)

    code, active = await bob.post(f"duels/{duel['id']}/accept")
    assert code == 200 and active["status"] == "active", active
    question = active["question"]
    assert question["id"] in (people["question"]["id"], other["id"])
    assert set(question) == {
        "id",
        "title",
        "module",
        "module_slug",
        "type",
        "language",
        "difficulty",
    }
    assert 0 < active["remaining"] <= 600 and active["started"].endswith("Z")
    code, seen_by_ann = await ann.get(f"duels/{duel['id']}")
    assert seen_by_ann["question"] == question and seen_by_ann["you"] == "challenger"
    # ann's full score from before the start did not win it
    assert stored(grader, duel["id"]).status == "active"

    wrong_question = other["id"] if question["id"] != other["id"] else people["question"]["id"]
    await submit(ann, wrong_question, CORRECT)  # another question's full score
    await submit(bob, question["id"], PARTIAL)  # the question, below the maximum
    assert stored(grader, duel["id"]).status == "active"

    won = await submit(ann, question["id"], CORRECT)
    # decided in the graded step itself (read from the database, not through a read)
    finished = stored(grader, duel["id"])
    assert (finished.status, finished.result, finished.winning_submission_id) == (
        "finished", "challenger", won["id"]
    )  # fmt: skip
    code, seen = await bob.get(f"duels/{duel['id']}")
    assert (seen["winner"], seen["result"], seen["remaining"]) == ("ann", "challenger", None)
    # Elo, K 32, both at 1200: 16 points each way
    assert seen["ratings"] == {
        "challenger": {"before": 1200.0, "after": 1216.0},
        "opponent": {"before": 1200.0, "after": 1184.0},
    }
    ann_rating, bob_rating = rating(grader, "ann"), rating(grader, "bob")
    assert (ann_rating.games, ann_rating.wins, bob_rating.losses) == (1, 1, 1)
    # both participants were told, each their own view
    last_ann, last_bob = duel_events(grader, "ann")[-1], duel_events(grader, "bob")[-1]
    assert last_ann["status"] == last_bob["status"] == "finished"
    assert (last_ann["you"], last_bob["you"]) == ("challenger", "opponent")

    # the hand-grading path may run the graded step again: nothing moves twice
    with grader.writer_factory() as db:
        duels.duel_graded(db, db.get(orm.Submission, won["id"]))
        db.commit()
    assert rating(grader, "ann").games == 1
    code, board = await cat.get("duels/ratings?course=demo")
    assert code == 200, board
    assert [(e["rank"], e["user"], e["rating"], e["you"]) for e in board["entries"]] == [
        (1, "ann", 1216.0, False),
        (2, "bob", 1184.0, False),
    ]
    # the same submission cannot win again: resigning a finished duel is a conflict
    code, data = await bob.post(f"duels/{duel['id']}/resign")
    assert code == 409 and "finished" in data["message"]


async def test_both_full_scores_at_once_the_earliest_submission_wins_once(grader, people):
    """Two workers grade both players' winning submissions at the same time."""
    ann, bob, question = people["ann"], people["bob"], people["question"]
    duel = await new_duel(ann, bob, opponent="bob")
    code, model = await ann.get(f"questions/{question['id']}")
    notebook = answer(nbformat.from_dict(model["notebook"]), CORRECT)
    await grader.queue.stop()  # both wait in the queue, then are graded together
    ids = []
    for client in (bob, ann):
        code, data = await client.post(
            "submissions", {"question": question["id"], "notebook": notebook}
        )
        assert code == 202, data
        ids.append(data["id"])
    grader.queue.start()
    for client, submission_id in zip((bob, ann), ids, strict=True):
        assert (await client.wait_graded(submission_id))["score"] == 3
    finished = stored(grader, duel["id"])
    assert (finished.result, finished.winning_submission_id) == ("opponent", ids[0])
    assert [rating(grader, n).games for n in ("ann", "bob")] == [1, 1]
    assert [e["status"] for e in duel_events(grader, "ann")].count("finished") == 1


async def test_a_duel_finishes_exactly_once(grader, people):
    """The conditional UPDATE: a transaction holding a stale "active" duel changes
    nothing once another finished it; racing settlers finish it once."""
    rules = duels.rules_of(grader.queue)
    duel = await new_duel(people["ann"], people["bob"], opponent="bob")
    with grader.writer_factory() as stale_db:
        stale = stale_db.get(orm.Duel, duel["id"])
        stale_db.commit()  # the object keeps saying "active"
        with grader.writer_factory() as db:
            assert duels.finish(db, rules, db.get(orm.Duel, duel["id"]), "challenger", None)
            db.commit()
        assert stale.status == "active"
        assert duels.finish(stale_db, rules, stale, "opponent", None) is False
        stale_db.commit()
    finished = stored(grader, duel["id"])
    assert finished.result == "challenger"
    assert (rating(grader, "ann").wins, rating(grader, "bob").wins) == (1, 0)

    # several settlers at once on a duel whose time is up: one of them ends it
    second = await new_duel(people["ann"], people["cat"], opponent="cat")
    move_back(grader, second["id"], 601)
    results, start = [], threading.Barrier(4)

    def settler():
        start.wait()
        results.append(duels.settle(grader.writer_factory, rules, [second["id"]]))

    threads = [threading.Thread(target=settler) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        await asyncio.to_thread(thread.join)
    assert sorted(results) == [0, 0, 0, 1]
    assert stored(grader, second["id"]).result == "draw"
    assert rating(grader, "cat").games == 1 and rating(grader, "ann").games == 2


# time ---------------------------------------------------------------------------------


async def test_no_winner_by_the_deadline_is_a_draw(grader, people):
    ann, bob, cat = people["ann"], people["bob"], people["cat"]
    read_one = await new_duel(ann, bob, opponent="bob", time_limit=120)
    ticked_one = await new_duel(ann, cat, opponent="cat", time_limit=120)
    move_back(grader, read_one["id"], 121)
    move_back(grader, ticked_one["id"], 121)
    # a full score submitted after the deadline wins nothing: the duel is a draw
    question = stored(grader, read_one["id"]).question_id
    await submit(bob, question, CORRECT)
    finished = stored(grader, read_one["id"])
    assert (finished.status, finished.result) == ("finished", "draw")
    code, seen = await bob.get(f"duels/{read_one['id']}")
    assert (seen["winner"], seen["result"]) == (None, "draw")
    # equal ratings: a draw moves nothing, but counts
    assert seen["ratings"]["challenger"] == {"before": 1200.0, "after": 1200.0}
    assert (rating(grader, "bob").games, rating(grader, "bob").draws) == (1, 1)

    # the other one: nobody reads it, the service's periodic task settles it
    assert stored(grader, ticked_one["id"]).status == "active"
    assert await asyncio.to_thread(grader.settle_once) == 1
    assert stored(grader, ticked_one["id"]).result == "draw"
    assert await asyncio.to_thread(grader.settle_once) == 0
    assert duel_events(grader, "cat")[-1]["result"] == "draw"


async def test_a_read_settles_a_duel_whose_time_is_up(grader, people):
    ann, bob = people["ann"], people["bob"]
    duel = await new_duel(ann, bob, opponent="bob")
    move_back(grader, duel["id"], 700)
    code, listing = await ann.get("duels")
    assert code == 200
    (seen,) = [d for d in listing["duels"] if d["id"] == duel["id"]]
    assert (seen["status"], seen["result"]) == ("finished", "draw")


# the bot ------------------------------------------------------------------------------


def add_solves(grader, question_id: int, gaps: list[float]) -> None:
    """Learners who solved the question ``gaps`` seconds after their first try."""
    now = orm.utcnow()
    with grader.writer_factory() as db:
        for i, gap in enumerate(gaps):
            user = orm.User.find_or_create(db, f"past-{i}")
            first = now - timedelta(days=1, seconds=gap)
            for created, score in ((first, 1.0), (first + timedelta(seconds=gap), 3.0)):
                db.add(
                    orm.Submission(
                        user_id=user.id,
                        question_id=question_id,
                        question_version=1,
                        notebook={},
                        status="graded",
                        score=score,
                        max_score=3.0,
                        created=created,
                    )
                )
        db.commit()


async def test_the_bot_solves_at_a_real_solve_time_and_wins_unless_beaten(grader, people):
    ann, bob, question = people["ann"], people["bob"], people["question"]
    rules = duels.rules_of(grader.queue)
    # too few real solve times: the bot's time is the default for an easy question ± 25%
    code, fallback = await ann.post("duels", {"course": "demo", "bot": True})
    assert code == 201 and fallback["status"] == "active" and fallback["bot"], fallback
    assert fallback["opponent"] is None and fallback["question"]["id"] == question["id"]
    assert 90 <= stored(grader, fallback["id"]).bot_seconds <= 150

    gaps = [100.0, 200.0, 300.0, 400.0, 500.0, 0.0]  # a first-try solve says nothing
    add_solves(grader, question["id"], gaps)
    with grader.session_factory() as db:
        assert sorted(duels.solve_times(db, question["id"])) == gaps[:-1]
    code, bot_duel = await bob.post("duels", {"course": "demo", "bot": True})
    assert code == 201, bot_duel
    drawn = stored(grader, bot_duel["id"]).bot_seconds
    assert any(0.9 * g - 0.1 <= drawn <= 1.1 * g + 0.1 for g in gaps[:-1]), drawn
    # drawn deterministically from the duel's id
    with grader.session_factory() as db:
        again = duels.bot_seconds(
            db, db.get(orm.Duel, bot_duel["id"]), db.get(orm.Question, question["id"]), rules
        )
    assert again == drawn

    # bob does not solve it in time: once the bot's time has passed, the bot wins
    move_back(grader, bot_duel["id"], drawn + 1)
    code, seen = await bob.get(f"duels/{bot_duel['id']}")
    assert (seen["status"], seen["result"], seen["winner"]) == ("finished", "opponent", "bot")
    assert seen["ratings"] == {
        "challenger": {"before": 1200.0, "after": 1184.0},
        "opponent": {"before": 1200.0, "after": 1200.0},  # the bot's never moves
    }
    # and the bot is on no board
    code, board = await bob.get("duels/ratings?course=demo")
    assert [e["user"] for e in board["entries"]] == ["bob"]

    # ann solves before the bot's time: she wins
    await submit(ann, question["id"], CORRECT)
    code, seen = await ann.get(f"duels/{fallback['id']}")
    assert (seen["result"], seen["winner"]) == ("challenger", "ann")
    assert seen["ratings"]["challenger"]["after"] == 1216.0
    # the bot's win is settled by the periodic task as well
    code, third = await ann.post("duels", {"course": "demo", "bot": True})
    move_back(grader, third["id"], 2000)
    assert await asyncio.to_thread(grader.settle_once) == 1
    assert stored(grader, third["id"]).result == "opponent"


# two at once, ratings --------------------------------------------------------------------


async def test_both_players_see_how_the_other_is_doing(grader, people):
    """Live status both ways: a graded submission that wins nothing yet is pushed to both
    players, with each one's submissions and best score so far."""
    ann, bob = people["ann"], people["bob"]
    duel = await new_duel(ann, bob)
    assert duel["progress"] == {
        "challenger": {"submissions": 0, "best_score": None, "max_score": None},
        "opponent": {"submissions": 0, "best_score": None, "max_score": None},
    }
    await submit(bob, duel["question"]["id"], PARTIAL)
    for name in ("ann", "bob"):
        latest = duel_events(grader, name)[-1]
        assert latest["status"] == "active", latest
        assert latest["progress"]["opponent"] == {
            "submissions": 1, "best_score": 1.0, "max_score": 3.0
        }, latest  # fmt: skip
        assert latest["progress"]["challenger"]["submissions"] == 0
    # nobody else hears of it, and a finished duel shows no progress
    assert all(e["id"] != duel["id"] for e in duel_events(grader, "cat"))
    code, done = await ann.post(f"duels/{duel['id']}/resign")
    assert code == 200 and done["progress"] is None, done


async def test_a_question_a_player_solved_is_drawn_only_when_every_one_is(grader, people):
    """A solution already written would win the race before it starts: the draw skips
    questions either player has solved while another is left."""
    ann, bob = people["ann"], people["bob"]
    fresh = await add_question(people["author"], "square-fresh")
    await submit(ann, people["question"]["id"], CORRECT)
    for _ in range(4):  # whatever each duel's seed, the unsolved question comes up
        duel = await new_duel(ann, bob)
        assert duel["question"]["id"] == fresh["id"], duel
        code, data = await bob.post(f"duels/{duel['id']}/resign")
        assert code == 200, data
    duel = await new_duel(ann, bot=True)
    assert duel["question"]["id"] == fresh["id"], duel
    await ann.post(f"duels/{duel['id']}/resign")
    # once bob has solved the other one too, every question is someone's: any may come up
    await submit(bob, fresh["id"], CORRECT)
    drawn = set()
    for _ in range(5):
        duel = await new_duel(ann, bob)
        drawn.add(duel["question"]["id"])
        await bob.post(f"duels/{duel['id']}/resign")
    assert drawn <= {fresh["id"], people["question"]["id"]} and drawn


async def test_two_duels_at_once_are_independent(grader, people):
    ann, bob, cat, question = people["ann"], people["bob"], people["cat"], people["question"]
    with_bob = await new_duel(ann, bob, opponent="bob")
    with_cat = await new_duel(cat, ann, opponent="ann")
    code, listing = await ann.get("duels?status=active")
    assert sorted(d["id"] for d in listing["duels"]) == sorted([with_bob["id"], with_cat["id"]])
    # cat solves first: she wins hers; ann's duel with bob goes on
    await submit(cat, question["id"], CORRECT)
    assert stored(grader, with_cat["id"]).result == "challenger"
    assert stored(grader, with_bob["id"]).status == "active"
    # then ann solves: she wins the one with bob (hers with cat is over already)
    await submit(ann, question["id"], CORRECT)
    assert stored(grader, with_bob["id"]).result == "challenger"
    assert stored(grader, with_cat["id"]).result == "challenger"
    mine = rating(grader, "ann")
    assert (mine.games, mine.wins, mine.losses) == (2, 1, 1)
    # lost at 1200 to cat (1200): 1184; then beat bob (1200) from 1184: + 32 × (1 − 0.477)
    assert round(mine.rating, 1) == round(1184 + 32 * (1 - duels.expected(1184, 1200)), 1)


async def test_ratings_move_once_by_elo_with_the_configured_k(grader, people):
    ann, bob = people["ann"], people["bob"]
    rules = duels.rules_of(grader.queue)
    rules.k_factor = 16
    with grader.writer_factory() as db:
        course = orm.Course.find_by_slug(db, "demo")
        for name, value in (("ann", 1400.0), ("bob", 1200.0)):
            user = orm.User.find(db, name)
            db.add(orm.DuelRating(user_id=user.id, course_id=course.id, rating=value))
        db.commit()
    duel = await new_duel(ann, bob, opponent="bob")
    # ann resigns: bob, 200 below her, wins
    code, seen = await ann.post(f"duels/{duel['id']}/resign")
    assert code == 200 and (seen["result"], seen["winner"]) == ("opponent", "bob"), seen
    expected_ann = 1 / (1 + 10 ** (-200 / 400))  # 0.76
    change = round(16 * expected_ann, 1)
    assert seen["ratings"]["challenger"] == {
        "before": 1400.0,
        "after": round(1400 - 16 * expected_ann, 1),
    }
    assert seen["ratings"]["opponent"]["after"] == round(1200 + 16 * expected_ann, 1)
    assert change == 12.2
    # nothing moves twice: resign again, settle, read
    code, data = await bob.post(f"duels/{duel['id']}/resign")
    assert code == 409
    await asyncio.to_thread(grader.settle_once)
    code, seen_again = await bob.get(f"duels/{duel['id']}")
    assert seen_again["ratings"] == seen["ratings"]
    assert (rating(grader, "ann").games, rating(grader, "bob").games) == (1, 1)
    code, board = await bob.get("duels/ratings")
    assert [(e["user"], e["wins"], e["losses"], e["you"]) for e in board["entries"]] == [
        ("ann", 0, 1, False),
        ("bob", 1, 0, True),
    ]


# open challenges, and what learners may not do ---------------------------------------


async def test_an_open_challenge_is_for_anyone_else_in_the_course(grader, people, dan):
    ann, bob, cat = people["ann"], people["bob"], people["cat"]
    code, duel = await ann.post("duels", {"course": "demo"})
    assert code == 201 and duel["opponent"] is None and duel["status"] == "open", duel
    code, listing = await bob.get("duels")
    assert [d["id"] for d in listing["open"]] == [duel["id"]]
    assert listing["open"][0]["question"] is None and listing["open"][0]["you"] is None
    code, mine = await ann.get("duels")
    assert mine["open"] == [] and [d["id"] for d in mine["duels"]] == [duel["id"]]
    # another course's learner neither sees nor takes it
    code, theirs = await dan.get("duels")
    assert theirs == {"duels": [], "open": []}
    for method, path in (("GET", f"duels/{duel['id']}"), ("POST", f"duels/{duel['id']}/accept")):
        code, data = await dan.request(method, path)
        assert code == 404 and data["message"] == f"no such duel: {duel['id']}"
    # the challenger cannot take their own; nobody declines an open challenge
    code, data = await ann.post(f"duels/{duel['id']}/accept")
    assert code == 403, data
    code, data = await bob.post(f"duels/{duel['id']}/decline")
    assert code == 409, data
    code, data = await bob.post(f"duels/{duel['id']}/cancel")
    assert code == 403, data
    # the first to accept has it; the next is too late
    code, taken = await bob.post(f"duels/{duel['id']}/accept")
    assert code == 200 and taken["opponent"]["name"] == "bob" and taken["question"], taken
    code, data = await cat.post(f"duels/{duel['id']}/accept")
    assert code == 404, data  # no longer open to her: she does not see it any more
    assert duel_events(grader, "bob")[-1]["status"] == "active"


async def test_challenges_the_rules_refuse(grader, people, dan):
    ann, bob = people["ann"], people["bob"]
    for body, status, words in (
        ({"opponent": "nobody"}, 404, "no such learner in demo: nobody"),
        ({"opponent": "dan"}, 404, "no such learner in demo: dan"),
        ({"opponent": "ann"}, 400, "yourself"),
        ({"opponent": "bob", "bot": True}, 400, "not both"),
        ({"bot": "yes"}, 400, "bot must be"),
        ({"opponent": 7}, 400, "opponent must be"),
        ({"time_limit": 5}, 400, "time_limit must be between"),
        ({"time_limit": "600"}, 400, "time_limit must be"),
        ({"course": "other"}, 404, "no such course"),
    ):
        code, data = await ann.post("duels", {"course": "demo", **body})
        assert (code, words in data["message"]) == (status, True), (body, data)
    code, data = await dan.post("duels", {"course": "demo", "opponent": "ann"})
    assert code == 404, data

    # only the challenged accepts or declines; only the challenger cancels
    code, duel = await ann.post("duels", {"course": "demo", "opponent": "bob"})
    for client, action, status in (
        (ann, "accept", 403),
        (ann, "decline", 403),
        (bob, "cancel", 403),
        (bob, "resign", 409),
    ):
        code, data = await client.post(f"duels/{duel['id']}/{action}")
        assert code == status, (action, data)
    code, declined = await bob.post(f"duels/{duel['id']}/decline")
    assert code == 200 and declined["status"] == "declined"
    code, data = await bob.post(f"duels/{duel['id']}/accept")
    assert code == 409, data
    assert duel_events(grader, "ann")[-1]["status"] == "declined"
    code, duel = await ann.post("duels", {"course": "demo", "opponent": "bob"})
    code, cancelled = await ann.post(f"duels/{duel['id']}/cancel")
    assert code == 200 and cancelled["status"] == "cancelled"

    # a flood of challenges stops at the limit
    limit = duels.rules_of(grader.queue).max_open_challenges
    for _ in range(limit):
        code, data = await ann.post("duels", {"course": "demo"})
        assert code == 201, data
    code, data = await ann.post("duels", {"course": "demo"})
    assert code == 429 and "waiting" in data["message"]
    # ids out of range, another learner's events: nothing
    for path in ("duels/99999999999999999999", "duels/12345"):
        code, data = await bob.get(path)
        assert code == 404, data
    code, data = await ann.get("duels?status=won")
    assert code == 400


async def test_a_course_without_a_released_question_has_no_duels(grader, fake_hub):
    await fake_hub_course(grader, fake_hub, "empty")
    eve = learner_of(grader, "eve", "empty")
    code, data = await eve.post("duels", {"course": "empty", "bot": True})
    assert code == 409 and "no released question" in data["message"]
    with grader.session_factory() as db:
        assert db.scalar(select(orm.Duel.id)) is None  # nothing half-written
