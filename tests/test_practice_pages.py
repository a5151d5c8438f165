"""The instructor's view of practice: `/services/grader/courses/<slug>/practice`
(quizzes, learning paths, reviews, duels and their ratings, the daily question) and
`courses/<slug>/quizzes/<id>` (one quiz's results).

Service tests: the grader in-process, everything shown made through the API (a quiz
started and scored by a submission graded in the real sandbox, a path followed, a bot
duel won, a flashcard rated); people signed in with a Hub token holding their courses'
filtered scopes, as the Hub grants them. The statement count is read from the engine,
never a timing.
"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import event, update

from grader import orm
from grader.handlers import course_pages
from grader.instructors import practice_overview
from tests.conftest import fake_hub_course, square_question
from tests.test_grader_pages import PAGE, fetch, page_url, token_header
from tests.test_question_types import flashcard_source
from tests.test_watch_pages import learns, submit, teaches

pytestmark = pytest.mark.sandbox

CORRECT = "def square(x):\n    return x * x"
# what a learner may type as their display name, to be shown as text
HOSTILE_NAME = '<b>Ann</b><script>alert("x")</script>'
HOSTILE_ESCAPED = "&lt;b&gt;Ann&lt;/b&gt;&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"


async def ok(call, expected: int = 200):
    code, data = await call
    assert code == expected, data
    return data


@pytest.fixture
async def practised(grader, fake_hub):
    """Course demo (instructor prof): the square question (3 points) and a flashcard;
    a 10-minute quiz of one question, a path of the square question and a bot duel.
    ann (display name with HTML in it) starts the quiz, follows the path, accepts the
    bot's duel, solves the square question (in the sandbox: it scores the quiz, wins
    the duel, makes her review card and solves the daily question) and rates the
    flashcard; bob starts the quiz and answers nothing. Course other (instructor olga)
    has a quiz of its own."""
    prof = grader.client_for("prof", teaches("demo"))
    await ok(prof.post("modules", {"course": "demo", "slug": "basics", "title": "Basics"}), 201)
    square = await ok(
        prof.post(
            "questions",
            {
                "module": "basics",
                "slug": "square",
                "title": "Square a number",
                "notebook": square_question(),
            },
        ),
        201,
    )
    card = await ok(
        prof.post(
            "questions",
            {"module": "basics", "slug": "card", "title": "Empty", "notebook": flashcard_source()},
        ),
        201,
    )
    quiz = await ok(
        prof.post(
            "quizzes",
            {
                "course": "demo",
                "slug": "check",
                "title": "Quick check",
                "draws": [{"count": 1}],
                "time_limit": 600,
            },
        ),
        201,
    )
    path = await ok(
        prof.post("paths", {"course": "demo", "title": "Start here", "questions": [square["id"]]}),
        201,
    )

    ann = grader.client_for("ann", learns("demo"))
    bob = grader.client_for("bob", learns("demo"))
    await ok(ann.request("PATCH", "profile", {"display_name": HOSTILE_NAME}))
    await ok(ann.post(f"quizzes/{quiz['id']}/start"))
    await ok(bob.post(f"quizzes/{quiz['id']}/start"))
    await ok(ann.post(f"paths/{path['id']}/enrol"))
    duel = await ok(ann.post("duels", {"course": "demo", "bot": True}), 201)
    assert duel["status"] == "active" and duel["question"]["id"] == square["id"], duel
    graded = await ann.wait_graded(await submit(ann, square["id"], CORRECT))
    assert (graded["status"], graded["score"]) == ("graded", 3.0), graded
    duel = await ok(ann.get(f"duels/{duel['id']}"))
    assert (duel["status"], duel["winner"]) == ("finished", "ann"), duel
    await ok(ann.post(f"reviews/{card['id']}", {"rating": "good"}))

    await fake_hub_course(grader, fake_hub, "other")
    olga = grader.client_for("olga", teaches("other"))
    await ok(olga.post("modules", {"course": "other", "slug": "m", "title": "M"}), 201)
    await ok(
        olga.post(
            "questions",
            {"module": "m", "slug": "sq", "title": "Sq", "notebook": square_question()},
        ),
        201,
    )
    other_quiz = await ok(
        olga.post(
            "quizzes",
            {"course": "other", "slug": "theirs", "title": "Theirs", "draws": [{"count": 1}]},
        ),
        201,
    )
    return SimpleNamespace(
        grader=grader,
        prof=prof,
        ann=ann,
        bob=bob,
        olga=olga,
        square=square,
        card=card,
        quiz=quiz,
        path=path,
        other_quiz=other_quiz,
    )


async def get_page(world, path: str, client=None):
    client = client or world.prof
    return await fetch(page_url(world.grader, path), token_header(client.token))


def section(html: str, marker: str) -> str:
    start = html.index(marker)
    return html[start : html.index("</section>", start)]


def row(html: str, marker: str) -> str:
    start = html.index(marker)
    return html[start : html.index("</tr>", start)]


def no_script_nothing_foreign(html: str):
    assert "<script" not in html and "http://" not in html and "https://" not in html


# the practice page ---------------------------------------------------------------------


async def test_the_practice_page_shows_each_part_with_what_learners_did(practised):
    r = await get_page(practised, "courses/demo/practice")
    assert r.code == 200, r.body
    assert r.headers["Content-Security-Policy"].startswith("default-src 'none'")
    html = r.body.decode()
    no_script_nothing_foreign(html)
    # the tab, current, beside the others
    assert f'aria-current="page" href="{PAGE}courses/demo/practice">Practice<' in html
    assert f'href="{PAGE}courses/demo/gradebook">Gradebook<' in html

    quiz = row(html, f'data-quiz="{practised.quiz["id"]}"')
    assert f'href="{PAGE}courses/demo/quizzes/{practised.quiz["id"]}">Quick check<' in quiz
    assert "<code>check</code>" in quiz and 'class="count">1<' in quiz
    assert 'class="time-limit">10 min<' in quiz and 'class="status">released<' in quiz
    assert 'class="started">2<' in quiz and 'class="finished">0<' in quiz
    assert 'class="mean">1.5 / 3<' in quiz  # ann 3 of 3, bob 0 of 3

    path = row(html, f'data-path="{practised.path["id"]}"')
    assert "Start here" in path and 'class="public">yes<' in path
    assert 'class="items">1<' in path and 'class="enrolled">1<' in path
    assert 'class="completed">1<' in path

    # ann's cards: the square question's (her first solve) and the flashcard's
    reviews = section(html, 'id="reviews"')
    assert 'class="cards">2<' in reviews and 'class="learners">1<' in reviews
    assert 'class="due">0<' in reviews and 'class="reviewed">2<' in reviews

    duels = section(html, 'id="duels"')
    assert 'class="finished">1<' in duels and 'class="draws">0<' in duels
    assert 'class="active">0<' in duels and 'class="open">0<' in duels
    ann = row(duels, 'data-learner="ann"')
    assert f'href="{PAGE}courses/demo/learners/ann">{HOSTILE_ESCAPED}</a>' in ann
    assert 'class="rating">1216.0<' in ann and 'class="games">1<' in ann
    assert 'class="wins">1<' in ann and 'class="losses">0<' in ann

    # the only scored question is the day's; ann solved it
    daily = section(html, 'id="daily"')
    assert f'href="{PAGE}courses/demo/questions/{practised.square["id"]}/submissions"' in daily
    assert "Square a number" in daily and 'class="solved">1 learner<' in daily

    # the other course's practice is nowhere in it
    assert "Theirs" not in html


async def test_a_course_without_practice_says_so(grader, fake_hub):
    prof = grader.client_for("prof", teaches("demo"))
    r = await fetch(page_url(grader, "courses/demo/practice"), token_header(prof.token))
    assert r.code == 200, r.body
    html = r.body.decode()
    for empty in ('id="no-daily"', 'id="no-quizzes"', 'id="no-paths"', 'id="no-ratings"'):
        assert empty in html
    assert 'class="cards">0<' in html and 'class="finished">0<' in html


# one quiz's results ----------------------------------------------------------------------


async def test_the_quiz_page_lists_every_attempt_a_page_at_a_time(practised, monkeypatch):
    qid = practised.quiz["id"]
    await ok(practised.ann.post(f"quizzes/{qid}/finish"))
    r = await get_page(practised, f"courses/demo/quizzes/{qid}")
    assert r.code == 200, r.body
    html = r.body.decode()
    no_script_nothing_foreign(html)
    assert "Quick check" in html and "10 min to answer" in html and "2 attempts" in html
    assert f'aria-current="page" href="{PAGE}courses/demo/practice">Practice<' in html
    ann = row(html, 'data-learner="ann"')
    assert f'href="{PAGE}courses/demo/learners/ann">{HOSTILE_ESCAPED}</a>' in ann
    assert "finished <time" in ann and 'class="score">3 / 3<' in ann
    bob = row(html, 'data-learner="bob"')
    assert "in progress, until <time" in bob and 'class="score">0 / 3<' in bob

    # time passes for bob: his attempt timed out
    with practised.grader.writer_factory() as db:
        db.execute(
            update(orm.QuizAttempt)
            .where(orm.QuizAttempt.quiz_id == qid, orm.QuizAttempt.finished.is_(None))
            .values(
                started=orm.utcnow() - timedelta(hours=1),
                deadline=orm.utcnow() - timedelta(minutes=50),
            )
        )
        db.commit()
    html = (await get_page(practised, f"courses/demo/quizzes/{qid}")).body.decode()
    assert "timed out <time" in row(html, 'data-learner="bob"')
    html = (await get_page(practised, "courses/demo/practice")).body.decode()
    assert 'class="finished">2<' in row(html, f'data-quiz="{qid}"')

    # a page at a time, by name
    monkeypatch.setattr(course_pages, "RESULTS_PAGE", 1)
    html = (await get_page(practised, f"courses/demo/quizzes/{qid}")).body.decode()
    assert 'data-learner="ann"' in html and 'data-learner="bob"' not in html
    assert 'id="next-page" href="?after=ann"' in html
    html = (await get_page(practised, f"courses/demo/quizzes/{qid}?after=ann")).body.decode()
    assert 'data-learner="bob"' in html and 'data-learner="ann"' not in html
    html = (await get_page(practised, f"courses/demo/quizzes/{qid}?after=bob")).body.decode()
    assert 'id="no-attempts"' in html and "next-page" not in html


# who sees what ------------------------------------------------------------------------------


async def test_learners_get_403_outsiders_and_other_courses_quizzes_404(practised):
    qid, theirs = practised.quiz["id"], practised.other_quiz["id"]
    for path in ("courses/demo/practice", f"courses/demo/quizzes/{qid}"):
        # a learner of the course, even one with a score in it
        for learner in (practised.ann, practised.bob):
            r = await get_page(practised, path, learner)
            assert r.code == 403, (path, r.code)
            assert "Quick check" not in r.body.decode()
        # an instructor of another course: no such course for them
        r = await get_page(practised, path, practised.olga)
        assert r.code == 404, (path, r.code)
    # signed out: to the Hub's login
    r = await fetch(page_url(practised.grader, "courses/demo/practice"))
    assert r.code == 302 and "/hub/api/oauth2/authorize" in r.headers["Location"]

    # a quiz that is not the course's, or no quiz at all
    for path in (
        f"courses/demo/quizzes/{theirs}",
        "courses/demo/quizzes/999999",
        f"courses/demo/quizzes/{2**64}",
        f"courses/other/quizzes/{theirs}",  # prof does not teach other
    ):
        r = await get_page(practised, path)
        assert r.code == 404, (path, r.code)
        assert "Theirs" not in r.body.decode()
    r = await get_page(practised, f"courses/other/quizzes/{theirs}", practised.olga)
    assert r.code == 200 and "Theirs" in r.body.decode()
    r = await get_page(practised, f"courses/other/quizzes/{qid}", practised.olga)
    assert r.code == 404


# a handful of statements ----------------------------------------------------------------


def add_class(grader, size: int, first: int) -> None:
    """``size`` more learners, stored directly, each with an attempt at every quiz of
    demo, following every path, with a review card and a duel rating; and one more quiz
    and path."""
    now = orm.utcnow()
    with grader.writer_factory() as db:
        course = orm.Course.find_by_slug(db, "demo")
        quizzes = db.query(orm.Quiz).filter_by(course_id=course.id).all()
        question = db.query(orm.Question).filter_by(slug="square").one()
        extra_quiz = orm.Quiz(
            course_id=course.id, slug=f"more-{first}", title="More", draws=[{"count": 1}],
            released=now,
        )  # fmt: skip
        extra_path = orm.LearningPath(
            course_id=course.id, slug=f"more-{first}", title="More", public=True
        )
        db.add_all([extra_quiz, extra_path])
        db.flush()
        db.add(orm.PathItem(path_id=extra_path.id, question_id=question.id, position=0))
        paths = db.query(orm.LearningPath).filter_by(course_id=course.id).all()
        for n in range(first, first + size):
            user = orm.User.find_or_create(db, f"learner-{n:03}")
            for quiz in [*quizzes, extra_quiz]:
                db.add(
                    orm.QuizAttempt(
                        quiz_id=quiz.id, user_id=user.id, questions=[question.id], started=now
                    )
                )
            for path in paths:
                db.add(orm.PathEnrolment(path_id=path.id, user_id=user.id))
            db.add(
                orm.ReviewCard(
                    user_id=user.id, question_id=question.id, course_id=course.id, card={},
                    due=now, reviews=1, lapses=0,
                )
            )  # fmt: skip
            db.add(orm.DuelRating(user_id=user.id, course_id=course.id, rating=1100.0 + n, games=1))
        db.commit()


async def test_the_practice_page_is_a_handful_of_statements_whatever_the_class(practised):
    grader = practised.grader

    async def statements_of(path):
        await get_page(practised, path)  # enrolments synced, caches warm
        sent = []

        def count(conn, cursor, statement, *args):
            sent.append(statement)

        event.listen(grader.engine, "before_cursor_execute", count)
        try:
            r = await get_page(practised, path)
        finally:
            event.remove(grader.engine, "before_cursor_execute", count)
        assert r.code == 200, r.body
        return sent

    qid = practised.quiz["id"]
    small = await statements_of("courses/demo/practice")
    small_quiz = await statements_of(f"courses/demo/quizzes/{qid}")
    add_class(grader, 40, 0)
    add_class(grader, 40, 40)  # two more quizzes and paths too
    large = await statements_of("courses/demo/practice")
    large_quiz = await statements_of(f"courses/demo/quizzes/{qid}")
    assert len(large) == len(small), large
    assert len(large_quiz) == len(small_quiz), large_quiz
    # with the caller, their courses and the course looked up
    assert len(large) <= 20 and len(large_quiz) <= 10, (large, large_quiz)

    # the overview on its own: at most these, whatever the size
    sent = []

    def count(conn, cursor, statement, *args):
        sent.append(statement)

    with grader.session_factory() as db:
        course = orm.Course.find_by_slug(db, "demo")
        event.listen(grader.engine, "before_cursor_execute", count)
        try:
            overview = practice_overview.practice_overview(db, course)
        finally:
            event.remove(grader.engine, "before_cursor_execute", count)
    # quizzes, attempts, their submissions, points; paths, solves; cards, logs;
    # duels, ratings (count, page); the day's candidates, its question, solved today
    assert len(sent) <= 14, sent
    # each class joined what existed when it came
    assert [q["started"] for q in overview["quizzes"]] == [82, 80, 40]
    assert [p["enrolled"] for p in overview["paths"]] == [81, 80, 40]
    assert len(overview["duels"]["ratings"]) == practice_overview.TOP_RATINGS
    assert overview["reviews"]["cards"] == 82

    html = (await get_page(practised, "courses/demo/practice")).body.decode()
    assert html.count('data-learner="') == practice_overview.TOP_RATINGS


def test_time_limits_read_as_people_say_them():
    text = practice_overview.duration_text
    assert [text(None), text(45), text(600), text(3600), text(5400), text(90)] == [
        "", "45 s", "10 min", "1 h", "1 h 30 min", "90 s"
    ]  # fmt: skip
