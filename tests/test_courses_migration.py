"""Migration 0004: a service from before courses keeps every module, question,
submission and score, in one course; its leaderboards move to that course's board."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlalchemy import text

from grader import dbutil, orm
from grader.instructors.content import load_course
from grader.learners import scores
from hub_config.settings import REPO_DIR


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.sqlite'}"
    return request.getfixturevalue("postgres_url")


CREATED = datetime(2026, 9, 1, 8, 0)
# as SQLAlchemy writes a DateTime in SQLite (and PostgreSQL reads it the same)
STORED = CREATED.isoformat(sep=" ", timespec="microseconds")


def fill_at_0003(connection) -> None:
    """What a service at revision 0003 holds: two modules (one named like the sample
    course's), a question each, a learner's graded submission and their totals."""
    run = lambda sql, **p: connection.execute(text(sql), p)  # noqa: E731
    run("INSERT INTO users (id, name, display_name, bio, created) VALUES (1, 'ann', '', '', :t)",
        t=STORED)  # fmt: skip
    for module_id, slug in ((1, "basics"), (2, "extras")):
        run("INSERT INTO modules (id, slug, title, description, position, created) "
            "VALUES (:id, :slug, :slug, '', :id, :t)", id=module_id, slug=slug, t=STORED)  # fmt: skip
        run("INSERT INTO questions (id, module_id, slug, title, category, difficulty, tags, "
            "position, max_score, version, retired, type, source_notebook, student_notebook, "
            "created) VALUES (:id, :id, 'q', 'Q', '', '', '[]', 0, 2, 1, false, 'notebook', "
            "'{}', '{}', :t)", id=module_id, t=STORED)  # fmt: skip
    run("INSERT INTO submissions (id, user_id, question_id, question_version, notebook, size, "
        "status, priority, score, max_score, attempts, created) VALUES (1, 1, 1, 1, '{}', 2, "
        "'graded', 1, 2, 2, 1, :t)", t=STORED)  # fmt: skip
    run("INSERT INTO best_scores (user_id, question_id, submission_id, score, max_score, "
        "solved, reached) VALUES (1, 1, 1, 2, 2, true, :t)", t=STORED)  # fmt: skip
    for board in (0, 1):
        run("INSERT INTO totals (user_id, module_id, score, solved, reached) "
            "VALUES (1, :b, 2, 1, :t)", b=board, t=STORED)  # fmt: skip
        run("INSERT INTO score_counts (module_id, score, learners) VALUES (:b, 2, 1)", b=board)
    if connection.dialect.name == "postgresql":  # rows given ids: move the sequences on
        for table in ("users", "modules", "questions", "submissions"):
            run(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 10)")


def test_an_old_service_becomes_one_open_course_that_a_course_folder_takes_over(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    dbutil.upgrade(db_url, "0003")
    engine = dbutil.make_engine(db_url)
    try:
        with engine.begin() as connection:
            fill_at_0003(connection)
        dbutil.upgrade(db_url)

        with engine.connect() as connection:

            def compared(obj, name, kind, reflected, compare_to):
                return name != "ix_totals_ranking"  # alembic cannot compare a DESC index

            context = MigrationContext.configure(connection, opts={"include_object": compared})
            assert compare_metadata(context, orm.Base.metadata) == []

        sessions = dbutil.make_session_factory(engine)
        with sessions() as db:
            (course,) = db.query(orm.Course).all()
            assert (course.id, course.slug, course.join) == (1, "default", "open")
            assert {m.slug for m in course.modules} == {"basics", "extras"}
            question = db.get(orm.Question, 1)
            assert question.released == CREATED and question.is_released()
            # the learner's place on the course's board, and their module's, are kept
            ann = orm.User.find(db, "ann")
            assert scores.rank_of(db, ann, course.board) == 1
            assert scores.rank_of(db, ann, 1) == 1
            assert scores.leaderboard(db, course.board, 0, 10)[1] == 1
            submission = db.get(orm.Submission, 1)
            assert (submission.late, submission.penalty, submission.manual_pending) == (
                False, 0.0, False,
            )  # fmt: skip
            # the same slug may now be used by two courses
            db.add(orm.Course(slug="other", title="Other"))
            db.flush()
            other = orm.Course.find_by_slug(db, "other")
            db.add(orm.Module(course=other, slug="basics", title="Basics again"))
            db.commit()

            # the sample course's folder has a module `basics`: it takes the migrated
            # course over, with its learners' scores
            counts = load_course(db, REPO_DIR / "course_content" / "python-foundations")
            assert counts["course"] == "python-foundations"
            course = db.get(orm.Course, 1)
            assert course.slug == "python-foundations" and course.join == "open"
            assert scores.rank_of(db, ann, course.board) == 1
            manifest = json.loads(
                (REPO_DIR / "course_content/python-foundations/course.json").read_text()
            )
            assert {m["slug"] for m in manifest["modules"]} <= {m.slug for m in course.modules}
    finally:
        engine.dispose()


def test_downgrade_and_upgrade_again(db_url):
    dbutil.upgrade(db_url, "0003")
    engine = dbutil.make_engine(db_url)
    try:
        with engine.begin() as connection:
            fill_at_0003(connection)
        dbutil.upgrade(db_url)
        from alembic import command

        command.downgrade(dbutil.alembic_config(db_url), "0003")
        with engine.connect() as connection:
            boards = connection.execute(text("SELECT DISTINCT module_id FROM totals")).scalars()
            assert sorted(boards) == [0, 1]
        dbutil.upgrade(db_url)
    finally:
        engine.dispose()


def test_0005_gives_questions_their_descriptions(db_url):
    """Questions saved before 0005 get their task as plain text, from their source's
    first markdown cell that is not a solution; a source without one gets ""."""
    from tests.conftest import nbgrader_cell, square_question

    source = square_question()
    source.cells[0].source = "## Factorial\n\nUse **recursion**: ![tree](attachment:t.png)"
    source.cells.insert(0, nbgrader_cell("solution", "MODEL ANSWER", "essay", cell_type="markdown"))
    dbutil.upgrade(db_url, "0003")
    engine = dbutil.make_engine(db_url)
    try:
        with engine.begin() as connection:
            fill_at_0003(connection)
        dbutil.upgrade(db_url, "0004")
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE questions SET source_notebook = :nb WHERE id = 1"),
                {"nb": json.dumps(source)},
            )
        dbutil.upgrade(db_url)
        sessions = dbutil.make_session_factory(engine)
        with sessions() as db:
            assert db.get(orm.Question, 1).description == "Factorial Use recursion :"
            assert db.get(orm.Question, 2).description == ""  # its source is {}
            assert db.get(orm.Question, 1).hints == []
            ann = orm.User.find(db, "ann")
            assert (ann.links, ann.timezone, ann.anonymous, ann.settings) == ({}, "UTC", False, {})
    finally:
        engine.dispose()


def test_0006_keeps_learners_stats_and_starts_their_daily_streak_at_zero(db_url):
    """A database with learners' XP and streaks (0005) upgrades to practice: the stats
    are kept, the daily question's streak starts at 0, and every practice table is
    there and empty; downgrading and upgrading again works."""
    dbutil.upgrade(db_url, "0003")
    engine = dbutil.make_engine(db_url)
    try:
        with engine.begin() as connection:
            fill_at_0003(connection)
        dbutil.upgrade(db_url, "0005")
        with engine.begin() as connection:
            course = connection.execute(text("SELECT id FROM courses")).scalars().first()
            user = connection.execute(text("SELECT id FROM users WHERE name = 'ann'")).scalar()
            connection.execute(
                text(
                    "INSERT INTO learner_stats (user_id, course_id, xp, streak, best_streak, "
                    "last_day, updated) VALUES (:u, :c, 120, 3, 5, '2026-11-30', "
                    "'2026-11-30 10:00:00')"
                ),
                {"u": user, "c": course},
            )
        dbutil.upgrade(db_url)
        sessions = dbutil.make_session_factory(engine)
        with sessions() as db:
            stats = db.get(orm.LearnerStats, (user, course))
            assert (stats.xp, stats.streak, stats.best_streak) == (120, 3, 5)
            assert (stats.daily_streak, stats.daily_best, stats.daily_last) == (0, 0, None)
            for model in (orm.LearningPath, orm.ReviewCard, orm.Quiz, orm.Duel, orm.LearnerEvent):
                assert db.query(model).count() == 0, model
        from alembic import command

        command.downgrade(dbutil.alembic_config(db_url), "0005")
        dbutil.upgrade(db_url)
        with sessions() as db:
            assert db.get(orm.LearnerStats, (user, course)).xp == 120
    finally:
        engine.dispose()
