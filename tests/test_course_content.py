"""The sample course in course_content/ is a course a teacher can use as it is.

Its layout is the one the loader reads (course.json lists exactly the notebooks on
disk), every question is a valid nbgrader source notebook with visible and hidden
tests, and, graded through coursehub's own pipeline in a real sandbox:

- the reference solution (the source notebook itself) scores full marks,
- a plausible wrong answer (checks/wrong_answers.json) scores less, and still runs,
- the student version as released scores 0, every test failing on the stub,

and the student version gives away neither the solutions nor the hidden tests.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbgrader.nbgraderformat import MetadataValidator

from grader.executors.bubblewrap import BubblewrapExecutor
from grader.grading.notebooks import read_notebook, student_version, test_specs, validate_source
from grader.grading.run import grade

COURSE_DIR = Path(__file__).resolve().parents[1] / "course_content" / "python-foundations"
COURSE = json.loads((COURSE_DIR / "course.json").read_text())
WRONG_ANSWERS = json.loads((COURSE_DIR / "checks" / "wrong_answers.json").read_text())
QUESTIONS = [f"{m['slug']}/{q}" for m in COURSE["modules"] for q in m["questions"]]

SOLUTION_REGION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
HIDDEN_REGION = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)
SLUG = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed (apt-get install bubblewrap)"
)


def source_notebook(question: str):
    return read_notebook((COURSE_DIR / f"{question}.ipynb").read_bytes())


def nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def solution_cells(nb):
    return [c for c in nb.cells if nbgrader_meta(c).get("solution")]


def with_answers(student_nb, answers: dict[str, str]):
    """The student notebook with the solution cells named in ``answers`` rewritten."""
    nb = copy.deepcopy(student_nb)
    for cell in solution_cells(nb):
        grade_id = nbgrader_meta(cell)["grade_id"]
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nb


def test_course_json_lists_exactly_the_notebooks_on_disk():
    assert COURSE["slug"] == COURSE_DIR.name
    assert COURSE["title"] and COURSE["description"]
    module_slugs = [m["slug"] for m in COURSE["modules"]]
    assert len(module_slugs) == len(set(module_slugs)), "module slugs must be unique"
    question_slugs = [q for m in COURSE["modules"] for q in m["questions"]]
    assert len(question_slugs) == len(set(question_slugs)), "question slugs must be unique"
    for slug in [COURSE["slug"], *module_slugs, *question_slugs]:
        assert SLUG.fullmatch(slug), f"{slug!r} is not a lower-case, hyphenated slug"
    for module in COURSE["modules"]:
        assert module["title"] and module["description"], module["slug"]
        assert module["questions"], f"module {module['slug']} has no questions"

    on_disk = {
        str(path.relative_to(COURSE_DIR).with_suffix(""))
        for path in COURSE_DIR.glob("*/*.ipynb")
        if path.parent.name != "checks"
    }
    assert on_disk == set(QUESTIONS)
    folders = {p.name for p in COURSE_DIR.iterdir() if p.is_dir()} - {"checks"}
    assert folders == set(module_slugs), "every module folder is listed in course.json"
    assert len(COURSE["modules"]) >= 3 and len(QUESTIONS) >= 12


def test_every_question_has_a_wrong_answer_for_its_solution_cells():
    assert set(WRONG_ANSWERS) == set(QUESTIONS)
    for question, answers in WRONG_ANSWERS.items():
        grade_ids = {
            nbgrader_meta(c)["grade_id"] for c in solution_cells(source_notebook(question))
        }
        assert answers, f"{question}: no wrong answer"
        assert set(answers) <= grade_ids, (
            f"{question}: {set(answers) - grade_ids} are not solution cells"
        )


@pytest.mark.parametrize("question", QUESTIONS)
def test_question_is_a_valid_source_notebook(question):
    nb = source_notebook(question)
    nbformat.validate(nb)
    MetadataValidator().validate_nb(nb)
    validate_source(nb)

    assert nb.metadata["kernelspec"]["name"] == "python3"
    meta = nb.metadata["coursehub"]
    assert meta["title"] and meta["category"]
    assert meta["difficulty"] in {"easy", "medium", "hard"}
    assert meta["tags"] and all(isinstance(tag, str) and tag for tag in meta["tags"])

    assert nb.cells[0].cell_type == "markdown", "the task description comes first"
    solutions = solution_cells(nb)
    assert 1 <= len(solutions) <= 2
    for cell in solutions:
        assert cell.cell_type == "code" and not nbgrader_meta(cell)["grade"]
        assert SOLUTION_REGION.search(cell.source), f"{cell.source!r} has no solution region"

    tests = [c for c in nb.cells if nbgrader_meta(c).get("grade")]
    assert 2 <= len(tests) <= 3
    for cell in tests:
        meta = nbgrader_meta(cell)
        assert cell.cell_type == "code" and meta["locked"] and not meta["solution"], (
            f"{meta['grade_id']}: only autograded, locked code test cells"
        )
        assert 1 <= meta["points"] <= 5
    visible = [HIDDEN_REGION.sub("", c.source) for c in tests]
    assert any("assert" in source for source in visible), "at least one visible test"
    assert any(spec.hidden for spec in test_specs(nb)), "at least one hidden test"


@pytest.mark.parametrize("question", QUESTIONS)
def test_student_version_gives_away_no_solution_and_no_hidden_test(question):
    source = source_notebook(question)
    released = "\n".join(c.source for c in student_version(source).cells)
    released_lines = {line.strip() for line in released.splitlines()}
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in released
    secret = "".join(
        region
        for cell in source.cells
        for region in SOLUTION_REGION.findall(cell.source) + HIDDEN_REGION.findall(cell.source)
    )
    # Lines like ")" or "return None" say nothing; every line with some substance counts.
    leaked = [
        line.strip()
        for line in secret.splitlines()
        if len(line.strip()) > 12 and line.strip() in released_lines
    ]
    assert not leaked, f"the student version shows {leaked}"


@pytest.fixture
def executor():
    return BubblewrapExecutor(time_limit=60, cell_time_limit=10)


def not_run(report) -> list[str]:
    """Tests the sandbox did not let finish (limits, sandbox errors), with why."""
    return [
        f"{t['name']}: {t['message']}"
        for t in report.tests
        if "not run" in t["message"] or re.search(r"_limit|sandbox_error", t["message"])
    ]


@needs_bwrap
@pytest.mark.sandbox
@pytest.mark.parametrize("question", QUESTIONS)
async def test_reference_solution_scores_full_marks(executor, question):
    source = source_notebook(question)
    report = await grade(executor, source, source)
    failed = [f"{t['name']}: {t['message']}" for t in report.tests if not t["passed"]]
    assert not failed, failed
    assert report.max_score == sum(spec.max_points for spec in test_specs(source))
    assert report.score == report.max_score


@needs_bwrap
@pytest.mark.sandbox
@pytest.mark.parametrize("question", QUESTIONS)
async def test_wrong_answer_scores_less_than_full_marks(executor, question):
    source = source_notebook(question)
    # Only the cells the wrong answer names change; the others keep the reference
    # solution, so the lost points are the tests catching exactly this mistake.
    reference = {nbgrader_meta(c)["grade_id"]: c.source for c in solution_cells(source)}
    answers = {**reference, **WRONG_ANSWERS[question]}
    learner = with_answers(student_version(source), answers)
    report = await grade(executor, source, learner)
    assert report.max_score == sum(spec.max_points for spec in test_specs(source))
    assert report.score < report.max_score, f"the wrong answer passed every test of {question}"
    assert not not_run(report), "the wrong answer should run to the end"


@needs_bwrap
@pytest.mark.sandbox
@pytest.mark.parametrize("question", QUESTIONS)
async def test_released_student_version_scores_zero(executor, question):
    source = source_notebook(question)
    report = await grade(executor, source, student_version(source))
    assert report.score == 0
    assert report.max_score > 0
    # Every test calls the learner's code: each fails on the stub, not on something else.
    not_on_stub = [t["name"] for t in report.tests if "NotImplementedError" not in t["message"]]
    assert not not_on_stub, f"tests that do not fail on the unanswered stub: {not_on_stub}"
