"""Hand grading, as nbgrader has it: manually graded answers (a markdown essay, a code
answer) count in the maximum, autograding leaves them to an instructor, and the total is
autograded + manual points - the late penalty.

The proof of equivalence runs real ``nbgrader generate_assignment`` and ``nbgrader
autograde`` on the same submissions, writes the same manual scores into nbgrader's
gradebook through its API (where nbgrader asks for a manual grade), and compares the
totals with coursehub's after the same grades were given through the REST API.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.executors.base import CellOutcome
from grader.grading.notebooks import manual_specs, student_version, total_points, validate_source
from grader.grading.run import prepare, report
from tests.conftest import AUTHOR, LEARN, fake_hub_course

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed"),
]

NBGRADER = Path(sys.executable).with_name("nbgrader")
ASSIGNMENT, NOTEBOOK = "ps1", "essay"


def meta(gid, **kw):
    base = {"grade": False, "solution": False, "locked": False, "grade_id": gid}
    base.update(kw, schema_version=3)
    return {"nbgrader": base}


def build_source() -> nbformat.NotebookNode:
    """Autograded `square` (2 points), a markdown essay (3) and a code answer (2), both
    graded by hand."""
    return new_notebook(
        cells=[
            new_markdown_cell("# Squares", metadata=meta("header", locked=True)),
            new_code_cell(
                "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION",
                metadata=meta("square", solution=True),
            ),
            new_code_cell(
                "assert square(3) == 9\n### BEGIN HIDDEN TESTS\nassert square(-2) == 4\n"
                "### END HIDDEN TESTS",
                metadata=meta("test_square", grade=True, locked=True, points=2),
            ),
            new_markdown_cell("Explain why squares grow faster than doubles."),
            new_markdown_cell(
                "Because x * x outgrows 2 * x once x > 2.",
                metadata=meta("essay", grade=True, solution=True, points=3),
            ),
            new_code_cell(
                "def describe(xs):\n    ### BEGIN SOLUTION\n    return f'{len(xs)} items'\n"
                "    ### END SOLUTION",
                metadata=meta("describe", grade=True, solution=True, points=2),
            ),
        ],
        metadata={
            "kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}
        },
    )


# answers by grade_id; a cell not named stays as released
ANSWERS = {
    "answered": {
        "square": "def square(x):\n    return x ** 2",
        "essay": "Squares multiply, doubles add.",
        "describe": "def describe(xs):\n    return 'a list'",
    },
    # the autograded answer wrong, the essay written, the code answer left as released
    "partly": {"square": "def square(x):\n    return x + x", "essay": "No idea, sorry."},
    "blank": {},
}
# what the instructor gives: exactly the answers nbgrader asks a grade for
MANUAL = {"answered": {"essay": 2.5, "describe": 1.0}, "partly": {"essay": 0.5}, "blank": {}}


def make_submission(released, kind: str):
    nb = nbformat.reads(nbformat.writes(released), as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in ANSWERS[kind]:
            cell.source = ANSWERS[kind][gid]
    return nb


def nbgrader(course: Path, *args: str) -> None:
    path = f"{NBGRADER.parent}{os.pathsep}{os.environ.get('PATH', '')}"  # it runs alembic
    done = subprocess.run(
        [str(NBGRADER), *args, "--force"],
        cwd=course,
        env=dict(os.environ, HOME=str(course), PATH=path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def nbgrader_totals(tmp_path_factory):
    """Real nbgrader: release, autograde, then the MANUAL grades through its Gradebook
    API. {kind: (total, max_score, cells needing a manual grade after autograde)}."""
    from nbgrader.api import Gradebook

    course = tmp_path_factory.mktemp("nbgrader_manual")
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(course)!r}\n"
        "c.CourseDirectory.course_id = 'course'\n"
    )
    source = course / "source" / ASSIGNMENT
    source.mkdir(parents=True)
    nbformat.write(build_source(), source / f"{NOTEBOOK}.ipynb")
    nbgrader(course, "generate_assignment", ASSIGNMENT)
    released = nbformat.read(course / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    for kind in ANSWERS:
        folder = course / "submitted" / kind / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(make_submission(released, kind), folder / f"{NOTEBOOK}.ipynb")
    nbgrader(course, "autograde", ASSIGNMENT)
    results = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id="course") as gb:
        for kind in ANSWERS:
            notebook = gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, kind)
            pending = {g.name for g in notebook.grades if g.needs_manual_grade}
            for cell, points in MANUAL[kind].items():
                grade = gb.find_grade(cell, NOTEBOOK, ASSIGNMENT, kind)
                grade.manual_score = points
                grade.needs_manual_grade = False
            gb.db.commit()
            submission = gb.find_submission(ASSIGNMENT, kind)
            results[kind] = (submission.score, submission.max_score, pending)
    return results, released


def test_manual_answers_are_accepted_and_released_as_nbgrader_does(nbgrader_totals):
    _, released = nbgrader_totals
    source = build_source()
    validate_source(source)
    assert [(s.name, s.max_points, s.cell_type) for s in manual_specs(source)] == [
        ("essay", 3.0, "markdown"),
        ("describe", 2.0, "code"),
    ]
    assert total_points(source) == 7
    ours = student_version(source)
    assert [c.source for c in ours.cells] == [c.source for c in released.cells]
    for mine, theirs in zip(ours.cells, released.cells, strict=True):
        assert mine.metadata.get("nbgrader") == theirs.metadata.get("nbgrader")


def test_report_leaves_answered_manual_cells_ungraded_and_unanswered_at_zero():
    source = build_source()
    learner = make_submission(student_version(source), "partly")
    merged, cells = prepare(source, learner)
    ok = CellOutcome(status="ok")
    graded = report(source, merged, [ok] * len(cells))
    assert (graded.score, graded.max_score) == (2.0, 7.0)
    assert graded.manual == [
        {"cell": "essay", "max_points": 3.0, "points": None},
        {"cell": "describe", "max_points": 2.0, "points": 0.0},
    ]
    assert graded.to_dict()["manual"] == graded.manual


# --- through the service -------------------------------------------------------------


async def create_essay_question(course) -> dict:
    code, question = await course["author"].post(
        "questions",
        {"module": "basics", "slug": "essay", "title": "Squares", "notebook": build_source()},
    )
    assert code == 201, question
    assert question["points"] == 7
    return question


async def released_notebook(client, qid):
    code, model = await client.get(f"questions/{qid}")
    assert code == 200, model
    return nbformat.from_dict(model["notebook"])


async def submit(client, qid, kind: str) -> dict:
    nb = make_submission(await released_notebook(client, qid), kind)
    code, data = await client.post("submissions", {"question": qid, "notebook": nb})
    assert code == 202, data
    return await client.wait_graded(data["id"])


async def put_grade(client, submission_id, cell, points, comment=""):
    return await client.request(
        "PUT", f"submissions/{submission_id}/grades/{cell}", {"points": points, "comment": comment}
    )


async def test_total_equals_nbgrader_autograde_plus_manual_grades(grader, course, nbgrader_totals):
    totals, _ = nbgrader_totals
    question = await create_essay_question(course)
    for kind in ANSWERS:
        learner = grader.client_for(kind)
        result = await submit(learner, question["id"], kind)
        nb_total, nb_max, nb_pending = totals[kind]
        assert result["status"] == "graded" and result["max_score"] == nb_max == 7
        waiting = {m["cell"] for m in result["manual"] if m["points"] is None}
        assert waiting == nb_pending == set(MANUAL[kind])
        assert result["manual_pending"] is bool(nb_pending)
        for cell, points in MANUAL[kind].items():
            code, model = await put_grade(course["author"], result["id"], cell, points)
            assert code == 200, model
        code, final = await learner.get(f"submissions/{result['id']}")
        assert final["score"] == pytest.approx(nb_total), kind
        assert final["manual_pending"] is False


async def test_pending_until_graded_and_the_learner_reads_points_and_comments(grader, course):
    ann = grader.client_for("ann")
    question = await create_essay_question(course)
    qid = question["id"]
    result = await submit(ann, qid, "answered")
    # autograded points only, until an instructor grades
    assert (result["score"], result["max_score"], result["manual_pending"]) == (2, 7, True)
    assert result["manual"] == [
        {"cell": "essay", "max_points": 3, "points": None, "comment": "", "grader": None},
        {"cell": "describe", "max_points": 2, "points": None, "comment": "", "grader": None},
    ]
    code, listing = await course["author"].get("submissions?user=ann")
    assert listing["submissions"][0]["manual_pending"] is True

    code, model = await put_grade(course["author"], result["id"], "essay", 2.5, "Say why, too.")
    assert code == 200, model
    assert (model["score"], model["manual_pending"]) == (4.5, True)
    code, model = await put_grade(course["author"], result["id"], "describe", 2)
    assert (model["score"], model["manual_pending"]) == (6.5, False)

    code, mine = await ann.get(f"submissions/{result['id']}")
    assert mine["score"] == 6.5
    assert mine["manual"][0] == {
        "cell": "essay",
        "max_points": 3,
        "points": 2.5,
        "comment": "Say why, too.",
        "grader": "teacher",
    }
    code, summary = await ann.get(f"questions/{qid}")
    assert (summary["best_score"], summary["solved"]) == (6.5, False)
    code, board = await ann.get("leaderboard")
    assert [(e["user"], e["score"]) for e in board["entries"]] == [("ann", 6.5)]


async def test_unanswered_manual_answers_score_zero_without_waiting(grader, course):
    ann = grader.client_for("ann")
    qid = (await create_essay_question(course))["id"]
    result = await submit(ann, qid, "blank")
    assert (result["score"], result["manual_pending"]) == (0, False)
    assert [(m["cell"], m["points"], m["grader"]) for m in result["manual"]] == [
        ("essay", 0, None),
        ("describe", 0, None),
    ]
    # the instructor may still grade one (nbgrader's manual score overrides its 0)
    code, model = await put_grade(course["author"], result["id"], "essay", 1, "Blank, but fair.")
    assert code == 200 and model["score"] == 1
    assert model["manual"][0]["grader"] == "teacher"


async def test_a_correction_can_lower_the_best_score(grader, course):
    ann = grader.client_for("ann")
    qid = (await create_essay_question(course))["id"]
    first = await submit(ann, qid, "answered")
    await put_grade(course["author"], first["id"], "essay", 3)
    await put_grade(course["author"], first["id"], "describe", 2)
    code, summary = await ann.get(f"questions/{qid}")
    assert (summary["best_score"], summary["solved"]) == (7, True)

    second = await submit(ann, qid, "partly")  # 0 autograded, essay pending
    code, model = await put_grade(course["author"], second["id"], "essay", 3)
    assert model["score"] == 3
    code, summary = await ann.get(f"questions/{qid}")
    assert summary["best_score"] == 7  # the first is still the best

    # the instructor corrects the first down to 2: the second's 3 is the best now
    code, model = await put_grade(course["author"], first["id"], "essay", 0, "Off topic.")
    assert model["score"] == 4
    code, model = await put_grade(course["author"], first["id"], "describe", 0)
    assert model["score"] == 2
    code, summary = await ann.get(f"questions/{qid}")
    assert (summary["best_score"], summary["solved"]) == (3, False)
    code, progress = await ann.get("progress")
    assert progress["modules"][0]["score"] == 3
    code, board = await ann.get("leaderboard")
    assert [(e["user"], e["score"], e["solved"]) for e in board["entries"]] == [("ann", 3, 0)]


async def test_only_instructors_of_the_course_grade_and_points_are_checked(
    grader, course, fake_hub
):
    await fake_hub_course(grader, fake_hub, "other")
    ann, bob = grader.client_for("ann"), grader.client_for("bob")
    olga = grader.client_for(
        "olga", (f"{LEARN}!group=course-other", f"{AUTHOR}!group=course-other")
    )
    qid = (await create_essay_question(course))["id"]
    result = await submit(ann, qid, "answered")
    sid = result["id"]

    code, data = await put_grade(ann, sid, "essay", 3)  # grading one's own
    assert code == 403 and "instructors of demo" in data["message"]
    code, data = await put_grade(bob, sid, "essay", 3)
    assert code == 404
    code, data = await put_grade(olga, sid, "essay", 3)  # another course's instructor
    assert code == 404
    code, data = await olga.get(f"submissions/{sid}")
    assert code == 404

    author = course["author"]
    for points in (-1, 3.5, "3", True, None):
        code, data = await put_grade(author, sid, "essay", points)
        assert code == 400 and "from 0 to 3" in data["message"], (points, data)
    code, data = await put_grade(author, sid, "nope", 1)
    assert code == 404 and "nope" in data["message"]
    code, data = await put_grade(author, sid, "test_square", 1)  # autograded, not by hand
    assert code == 404
    code, data = await author.request(
        "PUT", f"submissions/{sid}/grades/essay", {"points": 1, "comment": 5}
    )
    assert code == 400 and "comment" in data["message"]

    code, mine = await ann.get(f"submissions/{sid}")
    assert mine["score"] == 2 and all(m["points"] is None for m in mine["manual"])


async def test_the_submitted_notebook_for_its_owner_and_instructors_only(grader, course, fake_hub):
    await fake_hub_course(grader, fake_hub, "other")
    ann, bob = grader.client_for("ann"), grader.client_for("bob")
    olga = grader.client_for(
        "olga", (f"{LEARN}!group=course-other", f"{AUTHOR}!group=course-other")
    )
    qid = (await create_essay_question(course))["id"]
    sid = (await submit(ann, qid, "answered"))["id"]

    code, nb = await ann.get(f"submissions/{sid}/notebook")
    assert code == 200
    sources = [c["source"] for c in nbformat.from_dict(nb).cells]
    assert ANSWERS["answered"]["essay"] in sources and ANSWERS["answered"]["square"] in sources
    text = json.dumps(nb)
    assert "BEGIN SOLUTION" not in text and "square(-2)" not in text  # never the source
    code, theirs = await course["author"].get(f"submissions/{sid}/notebook")
    assert code == 200 and theirs == nb
    for other in (bob, olga):
        code, _ = await other.get(f"submissions/{sid}/notebook")
        assert code == 404


async def test_late_penalty_counts_the_manual_points_too(grader, course):
    ann = grader.client_for("ann")
    qid = (await create_essay_question(course))["id"]
    due = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    code, data = await course["author"].request(
        "PUT", f"questions/{qid}", {"due": due, "late_policy": "penalty", "penalty_per_day": 0.1}
    )
    assert code == 200, data
    result = await submit(ann, qid, "answered")
    # one day late: 10% of 7 points
    assert (result["late"], result["penalty"]) == (True, pytest.approx(0.7))
    assert result["score"] == pytest.approx(1.3)  # 2 autograded - 0.7
    await put_grade(course["author"], result["id"], "essay", 3)
    code, model = await put_grade(course["author"], result["id"], "describe", 2)
    assert model["score"] == pytest.approx(6.3) and model["penalty"] == pytest.approx(0.7)
    code, summary = await ann.get(f"questions/{qid}")
    assert summary["best_score"] == pytest.approx(6.3)
