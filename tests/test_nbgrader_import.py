"""A real nbgrader course directory, imported as a coursehub course, grades the same.

`tests/nbgrader_course/` is an nbgrader course as an instructor has it (`nbgrader_config.py`
with a course_id; `source/` with three assignments, five notebooks, solution regions,
autograded tests with points, hidden tests, read-only and markdown cells, a partial-credit
test and a data file). Importing it gives a module per assignment and a question per
notebook; bad files are all reported at once, naming each; importing again changes
nothing; and the imported questions grade learners' submissions (full, partial, wrong,
raising) to exactly the points real `nbgrader generate_assignment` + `nbgrader autograde`
give them, read from nbgrader's gradebook.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from sqlalchemy import select

from grader import dbutil, orm
from grader.executors.bubblewrap import BubblewrapExecutor
from grader.grading.run import grade
from grader.instructors.nbgrader_course import (
    NbgraderCourseError,
    load_nbgrader_course,
    read_nbgrader_course,
)

COURSE_DIR = Path(__file__).resolve().parent / "nbgrader_course"
NBGRADER = Path(sys.executable).with_name("nbgrader")

# module slug -> (title, {question slug: title}), in order
EXPECTED = {
    "ps1-functions": ("Ps1 functions", {"area": "Area of a circle", "greeting": "Greeting people"}),
    "ps2-collections": (
        "Ps2 collections",
        {"dedupe": "Removing duplicates", "word_count": "Counting words"},
    ),
    "ps3-recursion": ("Ps3 recursion", {"factorial": "Factorial"}),
}
DATA_FILE_WARNING = (
    "source/ps2-collections/words.txt: data files are not supported yet; learners will not get it"
)


@pytest.fixture
def db(tmp_path):
    url = f"sqlite:///{tmp_path / 'grader.sqlite'}"
    dbutil.upgrade(url)
    engine = dbutil.make_engine(url)
    with dbutil.make_session_factory(engine)() as session:
        yield session
    engine.dispose()


@pytest.fixture
def course_copy(tmp_path) -> Path:
    """A copy of the course to break or change."""
    return Path(shutil.copytree(COURSE_DIR, tmp_path / "intro"))


def questions_by_module(db, course_slug: str) -> dict[str, dict[str, orm.Question]]:
    course = orm.Course.find_by_slug(db, course_slug)
    modules = sorted(course.modules, key=lambda m: m.position)
    return {
        m.slug: {q.slug: q for q in sorted(m.questions, key=lambda q: q.position)} for m in modules
    }


def edit_notebook(path: Path, change) -> None:
    nb = nbformat.read(path, as_version=4)
    change(nb)
    nbformat.write(nb, path)


# --- reading and loading ----------------------------------------------------------------


def test_reading_gives_a_module_per_assignment_and_a_question_per_notebook():
    course = read_nbgrader_course(COURSE_DIR)
    assert (course.slug, course.title, course.course_id) == (
        "intro-programming",
        "Intro programming",
        "intro-programming",
    )
    got = {a.slug: (a.title, {n.slug: n.title for n in a.notebooks}) for a in course.assignments}
    assert list(got) == list(EXPECTED)
    assert got == EXPECTED
    area = course.assignments[0].notebooks[0]
    assert (area.category, area.difficulty) == ("functions", "easy")
    assert area.tags == ["functions", "math"]
    # the data file is said to be left out, not dropped without a word
    assert course.warnings == [DATA_FILE_WARNING]


def test_loading_creates_the_course_released(db):
    counts = load_nbgrader_course(db, COURSE_DIR)
    assert counts == {
        "course": "intro-programming",
        "modules": 3,
        "questions_created": 5,
        "questions_updated": 0,
        "warnings": [DATA_FILE_WARNING],
    }
    course = orm.Course.find_by_slug(db, "intro-programming")
    assert course.title == "Intro programming"
    loaded = questions_by_module(db, "intro-programming")
    assert {m: list(qs) for m, qs in loaded.items()} == {
        m: list(titles) for m, (_, titles) in EXPECTED.items()
    }
    for slug, (title, titles) in EXPECTED.items():
        module = orm.Module.find_by_slug(db, slug, course.id)
        assert module.title == title
        for q_slug, q_title in titles.items():
            question = loaded[slug][q_slug]
            assert question.title == q_title
            assert question.is_released() and question.version == 1
            released = json.dumps(question.student_notebook)
            assert "BEGIN SOLUTION" not in released and "HIDDEN TESTS" not in released
    area = loaded["ps1-functions"]["area"]
    assert (area.category, area.difficulty) == ("functions", "easy")
    assert area.tags == ["functions", "math"]
    assert {q.slug: q.max_score for qs in loaded.values() for q in qs.values()} == {
        "area": 3,
        "greeting": 3,
        "dedupe": 5,
        "word_count": 5,
        "factorial": 3,
    }


def test_release_false_loads_drafts(db):
    load_nbgrader_course(db, COURSE_DIR, release=False)
    questions = db.scalars(select(orm.Question)).all()
    assert len(questions) == 5
    assert all(q.released is None and not q.is_released() for q in questions)


def test_importing_again_is_idempotent_and_a_changed_notebook_is_a_new_version(db, course_copy):
    load_nbgrader_course(db, course_copy, release=False)
    before = {q.id: (q.slug, q.version, q.released) for q in db.scalars(select(orm.Question))}
    modules_before = {m.id: m.slug for m in db.scalars(select(orm.Module))}
    # an instructor renames the course and releases a question in coursehub meanwhile
    orm.Course.find_by_slug(db, "intro-programming").title = "Introduction to programming"
    greeting = next(q for q in db.scalars(select(orm.Question)) if q.slug == "greeting")
    greeting.released = orm.utcnow()
    db.commit()
    before[greeting.id] = ("greeting", 1, greeting.released)

    counts = load_nbgrader_course(db, course_copy)
    assert (counts["questions_created"], counts["questions_updated"]) == (0, 5)
    after = {q.id: (q.slug, q.version, q.released) for q in db.scalars(select(orm.Question))}
    assert after == before  # same rows, same versions; release states kept, not released
    assert {m.id: m.slug for m in db.scalars(select(orm.Module))} == modules_before
    assert orm.Course.find_by_slug(db, "intro-programming").title == "Introduction to programming"
    assert [c.slug for c in db.scalars(select(orm.Course))] == ["intro-programming"]

    def harder(nb):
        nb.cells[-1].source = nb.cells[-1].source.replace("factorial(20)", "factorial(21)")
        nb.cells[-1].source = nb.cells[-1].source.replace(
            "2432902008176640000", "51090942171709440000"
        )
        nb.metadata["coursehub"] = {"title": "Recursive factorial", "difficulty": "medium"}

    edit_notebook(course_copy / "source" / "ps3-recursion" / "factorial.ipynb", harder)
    load_nbgrader_course(db, course_copy)
    versions = {q.slug: q.version for q in db.scalars(select(orm.Question))}
    assert versions == {"area": 1, "greeting": 1, "dedupe": 1, "word_count": 1, "factorial": 2}
    factorial = next(q for q in db.scalars(select(orm.Question)) if q.slug == "factorial")
    assert (factorial.title, factorial.difficulty) == ("Recursive factorial", "medium")
    assert "51090942171709440000" in json.dumps(factorial.source_notebook)


def test_what_nbgrader_ignores_is_skipped(course_copy):
    ps1 = course_copy / "source" / "ps1-functions"
    area = (ps1 / "area.ipynb").read_bytes()
    (ps1 / ".ipynb_checkpoints").mkdir()
    (ps1 / ".ipynb_checkpoints" / "area-checkpoint.ipynb").write_bytes(area)
    (ps1 / ".ipynb_checkpoints" / "notes-checkpoint.txt").write_text("old")
    (ps1 / ".scratch.ipynb").write_text("not even JSON")
    (ps1 / ".DS_Store").write_bytes(b"\0")
    (course_copy / "source" / ".ipynb_checkpoints").mkdir()
    (course_copy / "source" / ".old-ps0").mkdir()
    (course_copy / "source" / ".old-ps0" / "draft.ipynb").write_text("{}")
    (course_copy / "source" / "README.md").write_text("not an assignment: a file")
    (course_copy / "source" / "ps4-empty").mkdir()
    (ps1 / "extra").mkdir()
    (ps1 / "extra" / "more.ipynb").write_bytes(area)

    course = read_nbgrader_course(course_copy)
    got = {a.slug: (a.title, {n.slug: n.title for n in a.notebooks}) for a in course.assignments}
    assert got == EXPECTED
    assert course.warnings == [
        "source/ps1-functions/extra/more.ipynb: skipped, as nbgrader skips it (only notebooks "
        "at the top of an assignment folder matching CourseDirectory.notebook_id are "
        "assignments)",
        DATA_FILE_WARNING,
        "source/ps4-empty: no notebooks; the assignment is skipped",
    ]


def test_every_bad_file_is_reported_and_nothing_is_loaded(db, course_copy):
    source = course_copy / "source"
    (source / "ps1-functions" / "notes.ipynb").write_text("{this is not json")
    edit_notebook(  # no autograded test left
        source / "ps1-functions" / "greeting.ipynb", lambda nb: nb.cells.__delitem__(slice(2, 4))
    )

    def unbalanced(nb):
        nb.cells[1].source = nb.cells[1].source.replace("    ### END SOLUTION", "")

    edit_notebook(source / "ps2-collections" / "dedupe.ipynb", unbalanced)

    def bad_metadata(nb):
        nb.metadata["coursehub"] = {"difficulty": "impossible"}

    edit_notebook(source / "ps2-collections" / "word_count.ipynb", bad_metadata)

    def in_r(nb):
        nb.metadata["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}

    edit_notebook(source / "ps3-recursion" / "factorial.ipynb", in_r)
    shutil.copy(source / "ps1-functions" / "area.ipynb", source / "ps1-functions" / "Area.ipynb")

    with pytest.raises(NbgraderCourseError) as caught:
        load_nbgrader_course(db, course_copy)
    problems = caught.value.problems
    # one problem a file, each naming it (the wording of notebook problems is validate_source's)
    expected = {
        "source/ps1-functions/area.ipynb": "has the slug 'area' of source/ps1-functions/Area.ipynb",
        "source/ps1-functions/greeting.ipynb": "no autograded test cell",
        "source/ps1-functions/notes.ipynb": "notebook is not valid JSON",
        "source/ps2-collections/dedupe.ipynb": "cell 'dedupe': unbalanced solution region",
        "source/ps2-collections/word_count.ipynb": "difficulty must be one of easy, medium, hard",
        "source/ps3-recursion/factorial.ipynb": "in R; coursehub grades Python notebooks only",
    }
    assert len(problems) == len(expected), problems
    for problem, (path, phrase) in zip(sorted(problems), sorted(expected.items()), strict=True):
        assert problem.startswith(f"{path}: ") and phrase in problem, problem
    # the message names the course directory and every problem
    message = str(caught.value)
    assert str(course_copy) in message and all(p in message for p in problems)
    assert db.scalars(select(orm.Question)).all() == []
    assert orm.Course.find_by_slug(db, "intro-programming") is None


def test_course_slug_without_course_id_is_the_folder_name(course_copy):
    (course_copy / "nbgrader_config.py").write_text("c = get_config()\n")
    course = read_nbgrader_course(course_copy)
    assert (course.slug, course.title, course.course_id) == ("intro", "Intro", "")
    (course_copy / "nbgrader_config.py").unlink()
    assert read_nbgrader_course(course_copy).slug == "intro"  # nbgrader needs none either


def test_a_config_that_fails_or_no_source_is_reported(tmp_path, course_copy):
    (course_copy / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = undefined_name\n"
    )
    with pytest.raises(NbgraderCourseError, match="nbgrader_config.py: cannot be loaded: .*"):
        read_nbgrader_course(course_copy)
    with pytest.raises(NbgraderCourseError, match=r"source/: no assignment .*not an nbgrader"):
        read_nbgrader_course(tmp_path / "empty")


# --- the same points as nbgrader autograde ------------------------------------------------

# learner answers by notebook and kind: {grade_id of a solution cell: its new source}
ANSWERS = {
    "ps1-functions/area": {
        "full": {
            "circle_area": "def circle_area(r):\n    if r < 0:\n        raise ValueError(r)\n"
            "    return math.pi * r * r"
        },
        "partial": {"circle_area": "def circle_area(r):\n    return math.pi * r**2"},
        "wrong": {"circle_area": "def circle_area(r):\n    return 2 * math.pi * r"},
        "exception": {"circle_area": "def circle_area(r):\n    return math.pi * radius**2"},
    },
    "ps1-functions/greeting": {
        "full": {
            "greet": "def greet(name):\n    return 'Hello, ' + (name.strip() or 'stranger') + '!'"
        },
        "partial": {"greet": "def greet(name):\n    return f'Hello, {name}!'"},
        "wrong": {"greet": "def greet(name):\n    return 'Hi ' + name"},
        "exception": {"greet": "def greet(name):\n    return 'Hello, ' + name + 1"},
    },
    "ps2-collections/dedupe": {
        "full": {"dedupe": "def dedupe(items):\n    return list(dict.fromkeys(items))"},
        "partial": {"dedupe": "def dedupe(items):\n    return sorted(set(items))"},
        "wrong": {"dedupe": "def dedupe(items):\n    return items"},
        "exception": {"dedupe": "def dedupe(items):\n    return list(dict.fromkeys(items)"},
    },
    "ps2-collections/word_count": {
        "full": {
            "word_count": "from collections import Counter\n\n\ndef word_count(text):\n"
            "    return dict(Counter(text.lower().split()))"
        },
        "partial": {
            "word_count": "def word_count(text):\n    counts = {}\n    for w in text.split():\n"
            "        counts[w] = counts.get(w, 0) + 1\n    return counts"
        },
        "wrong": {"word_count": "def word_count(text):\n    return len(text.split())"},
        "exception": {
            "word_count": "from collections import Countr\n\n\ndef word_count(text):\n"
            "    return dict(Countr(text.split()))"
        },
    },
    "ps3-recursion/factorial": {
        "full": {
            "factorial": "def factorial(n):\n    if n < 0:\n        raise ValueError(n)\n"
            "    return n * factorial(n - 1) if n else 1"
        },
        "partial": {
            "factorial": "def factorial(n):\n    result = 1\n    for i in range(2, n + 1):\n"
            "        result *= i\n    return result"
        },
        "wrong": {"factorial": "def factorial(n):\n    return n * (n - 1)"},
        "exception": {"factorial": "def factorial(n):\n    return n * factorial(n - 1)"},
    },
}
KINDS = ["full", "partial", "wrong", "exception"]
# what each kind scores, so that a test failing for both graders alike (a mistake in the
# course) cannot pass as "the same"
EXPECTED_SCORES = {
    "ps1-functions/area": {"full": 3, "partial": 1, "wrong": 0, "exception": 0},
    "ps1-functions/greeting": {"full": 3, "partial": 1, "wrong": 0, "exception": 0},
    "ps2-collections/dedupe": {"full": 5, "partial": 3, "wrong": 1, "exception": 0},
    "ps2-collections/word_count": {"full": 5, "partial": 2, "wrong": 0, "exception": 0},
    "ps3-recursion/factorial": {"full": 3, "partial": 1, "wrong": 0, "exception": 0},
}

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed"
)


def submission(released, kind: str, notebook: str):
    nb = nbformat.reads(nbformat.writes(released), as_version=4)
    answers = ANSWERS[notebook][kind]
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    return nb


def _path() -> str:
    # nbgrader runs `alembic` from PATH
    return f"{NBGRADER.parent}{os.pathsep}{os.environ.get('PATH', '')}"


def nbgrader(course: Path, *args: str) -> None:
    env = dict(os.environ, HOME=str(course), PATH=_path())
    done = subprocess.run(
        [str(NBGRADER), *args, "--force"],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def nbgrader_run(tmp_path_factory):
    """Real nbgrader on a copy of the course: every assignment generated, every kind of
    learner submitted and autograded. Returns the released notebooks by notebook, the
    points by (kind, notebook) as {grade_id: points}, and the maximum scores by notebook,
    read from nbgrader's gradebook. (One run for all: each nbgrader command costs seconds
    of start-up, and a gradebook per assignment its migrations.)"""
    from nbgrader.api import Gradebook

    course = Path(shutil.copytree(COURSE_DIR, tmp_path_factory.mktemp("nbgrader") / "course"))
    nbgrader(course, "generate_assignment", "*")
    released = {
        name: nbformat.read(course / "release" / f"{name}.ipynb", as_version=4) for name in ANSWERS
    }
    for kind in KINDS:
        for name in ANSWERS:
            path = course / "submitted" / kind / f"{name}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(submission(released[name], kind, name), path)
    nbgrader(course, "autograde", "*")
    points, max_scores = {}, {}
    url = f"sqlite:///{course / 'gradebook.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", _path())  # opening the gradebook runs `alembic`
        with Gradebook(url, course_id="intro-programming") as gb:
            for name in ANSWERS:
                assignment, notebook = name.split("/")
                for kind in KINDS:
                    nb = gb.find_submission_notebook(notebook, assignment, kind)
                    points[kind, name] = {g.name: float(g.score) for g in nb.grades}
                    max_scores[name] = float(nb.max_score)
    return released, points, max_scores


@pytest.fixture
def imported(db) -> dict[str, orm.Question]:
    load_nbgrader_course(db, COURSE_DIR)
    loaded = questions_by_module(db, "intro-programming")
    return {f"{m}/{q}": question for m, qs in loaded.items() for q, question in qs.items()}


@needs_bwrap
@pytest.mark.sandbox
@pytest.mark.parametrize("kind", KINDS)
async def test_imported_questions_score_as_nbgrader_autograde(nbgrader_run, imported, kind):
    released, theirs, max_scores = nbgrader_run
    executor = BubblewrapExecutor(cell_time_limit=30)

    async def ours(name: str):
        source = nbformat.from_dict(imported[name].source_notebook)
        return name, await grade(executor, source, submission(released[name], kind, name))

    reports = dict(await asyncio.gather(*(ours(name) for name in ANSWERS)))
    for name, report in reports.items():
        failed = {t["name"]: t["message"] for t in report.tests if not t["passed"]}
        assert sum(theirs[kind, name].values()) == EXPECTED_SCORES[name][kind], name
        assert {t["name"]: t["points"] for t in report.tests} == theirs[kind, name], (
            name,
            failed,
        )
        assert report.score == sum(theirs[kind, name].values())
        assert report.max_score == imported[name].max_score == max_scores[name]


def test_imported_student_versions_are_what_nbgrader_releases(nbgrader_run, imported):
    released, _, _ = nbgrader_run
    for name, question in imported.items():
        ours = nbformat.from_dict(question.student_notebook)
        theirs = released[name]
        assert [c.source for c in ours.cells] == [c.source for c in theirs.cells], name
        for mine, their in zip(ours.cells, theirs.cells, strict=True):
            assert mine.metadata.get("nbgrader") == their.metadata.get("nbgrader"), name
            assert mine.metadata.get("editable") == their.metadata.get("editable"), name
