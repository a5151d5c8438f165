"""coursehub grades an nbgrader assignment exactly like nbgrader does.

A small assignment (visible and hidden tests, a partial-credit test) goes through real
``nbgrader generate_assignment`` and ``nbgrader autograde``; the same submissions are
graded by :func:`grader.grading.grade` in a real bubblewrap sandbox, and the per-test
points and totals are compared with nbgrader's gradebook.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.executors.bubblewrap import BubblewrapExecutor
from grader.grading import grade
from grader.notebooks import student_version, validate_source

NBGRADER = Path(sys.executable).with_name("nbgrader")
ASSIGNMENT = "ps1"
NOTEBOOK = "questions"

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed"),
]


def _meta(gid, **kw):
    base = {"grade": False, "solution": False, "locked": False, "grade_id": gid}
    base.update(kw, schema_version=3)
    return {"nbgrader": base}


def build_source() -> nbformat.NotebookNode:
    """A three-question nbgrader source notebook."""
    return new_notebook(
        cells=[
            new_markdown_cell("# Problem set 1", metadata=_meta("header", locked=True)),
            new_code_cell("import math\nimport warnings"),
            new_markdown_cell("1. Write `square(x)`."),
            new_code_cell(
                "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION",
                metadata=_meta("square", solution=True),
            ),
            new_code_cell(
                "assert square(3) == 9\n### BEGIN HIDDEN TESTS\nassert square(-4) == 16\n"
                "assert square(0.5) == 0.25\n### END HIDDEN TESTS",
                metadata=_meta("test_square", grade=True, locked=True, points=2),
            ),
            new_markdown_cell("2. Write `mean(xs)`; partial credit per case."),
            new_code_cell(
                "def mean(xs):\n    ### BEGIN SOLUTION\n    return sum(xs) / len(xs)\n"
                "    ### END SOLUTION",
                metadata=_meta("mean", solution=True),
            ),
            new_code_cell(
                "cases = [([1, 2, 3], 2), ([5], 5), ([-1, 1], 0), ([1, 2], 1.5)]\n"
                "earned = 0.0\nfor xs, want in cases:\n    try:\n"
                "        earned += 0.75 * math.isclose(mean(xs), want, abs_tol=1e-9)\n"
                "    except Exception:\n        pass\nearned",
                metadata=_meta("test_mean", grade=True, locked=True, points=3),
            ),
            new_markdown_cell("3. Write `fizz(n)`."),
            new_code_cell(
                "### BEGIN SOLUTION\ndef fizz(n):\n    return 'fizz' if n % 3 == 0 else str(n)\n"
                "### END SOLUTION",
                metadata=_meta("fizz", solution=True),
            ),
            new_code_cell(
                "assert fizz(3) == 'fizz'\nassert fizz(4) == '4'",
                metadata=_meta("test_fizz", grade=True, locked=True, points=1),
            ),
        ],
        metadata={
            "kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}
        },
    )


# answers by solution cell index (3: square, 6: mean, 9: fizz)
ANSWERS = {
    "correct": {
        3: "def square(x):\n    return x ** 2",
        6: "def mean(xs):\n    return sum(xs) / len(xs)",
        9: "def fizz(n):\n    return 'fizz' if n % 3 == 0 else str(n)",
    },
    "partial": {
        3: "def square(x):\n    return abs(x) * 3 if x == 3 else x * x if x > 0 else 0",
        6: "def mean(xs):\n    return sum(xs) // len(xs)",
        9: "def fizz(n):\n    return 'fizz'",
    },
    "wrong": {
        3: "def square(x):\n    return x + x",
        6: "def mean(xs):\n    return 0",
        9: "def fizz(n):\n    return n",
    },
    "error": {
        3: "def square(x):\n    return undefined_name",
        6: "def mean(xs:\n    pass",
        9: "raise RuntimeError('gave up')",
    },
    "warns": {
        3: "def square(x):\n    warnings.warn('slow square')\n    return x * x",
        6: "def mean(xs):\n    print('computing')\n    return sum(xs) / len(xs)",
    },
    "unanswered": {},
}


def make_submission(released, kind: str):
    nb = nbformat.reads(nbformat.writes(released), as_version=4)
    for index, source in ANSWERS.get(kind, {}).items():
        nb.cells[index].source = source
    if kind == "edited_test":
        for index, source in ANSWERS["wrong"].items():
            nb.cells[index].source = source
        nb.cells[4].source = "assert True"
        nb.cells[10].source = "pass"
        nb.cells[10].metadata["nbgrader"]["points"] = 100
    return nb


KINDS = [*ANSWERS, "edited_test"]


def _path() -> str:
    # nbgrader runs `alembic` from PATH
    return f"{NBGRADER.parent}{os.pathsep}{os.environ.get('PATH', '')}"


TIMINGS: dict[str, float] = {}


def nbgrader(course: Path, *args: str) -> None:
    started = time.perf_counter()
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
    TIMINGS[args[0]] = time.perf_counter() - started


def nbgrader_grades(course: Path, source, submissions: dict) -> tuple[dict, object]:
    """Run real nbgrader on ``submissions``; return {student: {grade_id: points}}."""
    from nbgrader.api import Gradebook

    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        "c.CourseDirectory.course_id = 'course'\n"
    )
    src = course / "source" / ASSIGNMENT
    src.mkdir(parents=True)
    nbformat.write(source, src / f"{NOTEBOOK}.ipynb")
    nbgrader(course, "generate_assignment", ASSIGNMENT)
    released = nbformat.read(course / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    for student, make in submissions.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(make(released), folder / f"{NOTEBOOK}.ipynb")
    nbgrader(course, "autograde", ASSIGNMENT)
    scores = {}
    os.environ["PATH"] = _path()
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id="course") as gb:
        for student in submissions:
            nb = gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student)
            scores[student] = {g.name: float(g.score) for g in nb.grades}
    return scores, released


@pytest.fixture(scope="module")
def nbgrader_run(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    submissions = {kind: (lambda released, k=kind: make_submission(released, k)) for kind in KINDS}
    return nbgrader_grades(course, build_source(), submissions)


def test_student_version_matches_nbgrader_release(nbgrader_run):
    _, released = nbgrader_run
    ours = student_version(build_source())
    assert [c.source for c in ours.cells] == [c.source for c in released.cells]
    for mine, theirs in zip(ours.cells, released.cells, strict=True):
        assert mine.metadata.get("nbgrader") == theirs.metadata.get("nbgrader")
        assert mine.metadata.get("editable") == theirs.metadata.get("editable")
        assert mine.metadata.get("deletable") == theirs.metadata.get("deletable")


@pytest.mark.parametrize("kind", KINDS)
async def test_same_points_as_nbgrader(nbgrader_run, kind):
    theirs, released = nbgrader_run
    source = build_source()
    validate_source(source)
    report = await grade(
        BubblewrapExecutor(cell_time_limit=30), source, make_submission(released, kind)
    )
    ours = {t["name"]: t["points"] for t in report.tests}
    assert ours == theirs[kind]
    assert report.score == sum(theirs[kind].values())
    assert report.max_score == 6.0


async def test_deleted_test_cell_is_restored_from_the_source(nbgrader_run):
    # nbgrader scores a deleted test 0 (unless add_missing_cells); coursehub runs the
    # source's test anyway, so deleting a test neither helps nor hurts
    _, released = nbgrader_run
    learner = make_submission(released, "correct")
    del learner.cells[10]  # test_fizz
    del learner.cells[4]  # test_square
    report = await grade(BubblewrapExecutor(), build_source(), learner)
    assert report.score == report.max_score == 6.0
    wrong = make_submission(released, "wrong")
    del wrong.cells[4]
    report = await grade(BubblewrapExecutor(), build_source(), wrong)
    tests = {t["name"]: t for t in report.tests}
    assert tests["test_square"]["points"] == 0
    assert tests["test_square"]["message"] == "hidden test failed: AssertionError"
