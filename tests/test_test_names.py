"""Human test names and hints in a question's notebook: a test's title comes from its
`coursehub.test_name`, else its first comment line (never from inside a hidden region),
else its grade_id; hints (`coursehub.hints`) never reach the learner's notebook."""

from __future__ import annotations

import json

import nbformat
import pytest

from grader.executors.base import CellOutcome
from grader.grading.notebooks import (
    MAX_HINTS,
    NotebookFormatError,
    hints_of,
    student_version,
    test_specs,
    test_title,
    validate_source,
)
from grader.grading.run import prepare, report
from tests.conftest import nbgrader_cell, python_notebook, square_question
from tests.test_service import CORRECT, answer, student_notebook, submit


def graded_cell(source: str, grade_id: str = "t", test_name=None):
    cell = nbgrader_cell("test", source, grade_id, 1)
    if test_name is not None:
        cell.metadata["coursehub"] = {"test_name": test_name}
    return cell


@pytest.mark.parametrize(
    "source, test_name, title",
    [
        ("# hours wrap after a day\nassert f(25) == 1", None, "hours wrap after a day"),
        ("\n\n  ## negative hours  \nassert f(-1) == 23", None, "negative hours"),
        ("assert f(1) == 1  # one", None, "t"),  # the first line is code
        ("#\nassert True", None, "t"),  # an empty comment names nothing
        ("# visible name\nassert f(1) == 1", "from metadata", "from metadata"),
        ("assert True", "  padded  ", "padded"),
        ("# " + "x" * 300 + "\nassert True", None, "x" * 120),
    ],
)
def test_a_tests_title(source, test_name, title):
    assert test_title(graded_cell(source, test_name=test_name)) == title


def test_a_hidden_tests_title_never_comes_from_its_hidden_region():
    cell = graded_cell("### BEGIN HIDDEN TESTS\n# secret expected 42\nassert f() == 42\n"
                     "### END HIDDEN TESTS", "hidden-answer")  # fmt: skip
    assert test_title(cell) == "hidden-answer"
    # a comment after a hidden region is not "first" either: the hidden part came first
    cell = graded_cell("### BEGIN HIDDEN TESTS\nassert f() == 42\n### END HIDDEN TESTS\n"
                     "# after the secret", "hidden-answer")  # fmt: skip
    assert test_title(cell) == "hidden-answer"
    # a visible comment before the hidden region names it
    cell = graded_cell("# the answer\n### BEGIN HIDDEN TESTS\n# secret expected 42\n"
                     "assert f() == 42\n### END HIDDEN TESTS", "hidden-answer")  # fmt: skip
    assert test_title(cell) == "the answer"


def titled_question():
    nb = square_question()
    nb.cells[2].source = '# squares a small number\nassert square(2) == 4, "square(2)"'
    nb.cells[3].source = ("### BEGIN HIDDEN TESTS\n# secret expected 9 for -3\n"
                          "assert square(-3) == 9\n### END HIDDEN TESTS")  # fmt: skip
    nb.cells.append(graded_cell("assert square(0) == 0", "zero", "zero stays zero"))
    nb.metadata["coursehub"] = {"title": "Square", "hints": ["multiply x by itself", "x * x"]}
    return nb


def test_specs_and_feedback_carry_the_titles():
    nb = titled_question()
    validate_source(nb)
    assert [(s.name, s.title) for s in test_specs(nb)] == [
        ("visible", "squares a small number"),
        ("hidden", "hidden"),
        ("zero", "zero stays zero"),
    ]
    merged, cells = prepare(nb, student_version(nb))
    outcomes = [CellOutcome(status="ok") for _ in cells]
    tests = report(nb, merged, outcomes).tests
    assert [(t["name"], t["title"]) for t in tests] == [
        ("visible", "squares a small number"),
        ("hidden", "hidden"),
        ("zero", "zero stays zero"),
    ]
    assert "secret" not in json.dumps(tests)


def test_a_learner_cannot_rename_a_test_in_their_copy():
    """Titles come from the source: a learner's metadata or comments change nothing."""
    nb = titled_question()
    mine = student_version(nb)
    for cell in mine.cells:
        cell.metadata["coursehub"] = {"test_name": "I passed everything"}
        if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code":
            cell.source = "# I passed everything\n" + cell.source
    merged, cells = prepare(nb, mine)
    tests = report(nb, merged, [CellOutcome(status="ok") for _ in cells]).tests
    assert "I passed everything" not in json.dumps(tests)


@pytest.mark.parametrize(
    "test_name, message",
    [
        (42, "test_name must be a non-empty string"),
        ("  ", "test_name must be a non-empty string"),
        ("x" * 121, "longer than 120"),
    ],
)
def test_a_bad_test_name_is_refused_naming_the_cell(test_name, message):
    nb = square_question()
    nb.cells[2].metadata["coursehub"] = {"test_name": test_name}
    with pytest.raises(NotebookFormatError, match=message) as e:
        validate_source(nb)
    assert "cell 'visible'" in str(e.value)


@pytest.mark.parametrize(
    "hints, message",
    [
        ("one hint", "must be a list"),
        (["ok", 3], "hint 2 must be a non-empty string"),
        (["ok", " "], "hint 2 must be a non-empty string"),
        (["x" * 2001], "hint 1 is longer than 2000"),
        (["h"] * (MAX_HINTS + 1), f"at most {MAX_HINTS}"),
    ],
)
def test_bad_hints_are_refused(hints, message):
    nb = square_question()
    nb.metadata["coursehub"] = {"hints": hints}
    with pytest.raises(NotebookFormatError, match=message):
        hints_of(nb)
    with pytest.raises(NotebookFormatError, match=message):
        validate_source(nb)


def test_the_student_version_has_no_hints():
    nb = titled_question()
    assert hints_of(nb) == ["multiply x by itself", "x * x"]
    released = student_version(nb)
    assert released.metadata["coursehub"] == {"title": "Square"}
    assert "multiply x by itself" not in json.dumps(released)
    assert nb.metadata["coursehub"]["hints"]  # the source keeps them


# through the service ------------------------------------------------------------------


async def test_feedback_titles_and_no_hints_for_the_learner(grader):
    author = grader.client_for("teacher", ("custom:coursehub:learn", "custom:coursehub:author"))
    code, _ = await author.post("modules", {"slug": "basics", "title": "Basics"})
    assert code == 201
    code, question = await author.post(
        "questions",
        {"module": "basics", "slug": "square", "title": "Square", "notebook": titled_question()},
    )
    assert code == 201, question
    assert question["hints"] == 2
    ann = grader.client_for("ann")
    code, model = await ann.get(f"questions/{question['id']}")
    assert model["hints"] == 2
    assert "multiply x by itself" not in json.dumps(model)
    code, listed = await ann.get("questions")
    assert "multiply x by itself" not in json.dumps(listed)

    nb = answer(await student_notebook(ann, question["id"]), CORRECT)
    result = await submit(ann, question["id"], nb)
    assert result["status"] == "graded" and result["score"] == 4
    assert [(t["name"], t["title"]) for t in result["tests"]] == [
        ("visible", "squares a small number"),
        ("hidden", "hidden"),
        ("zero", "zero stays zero"),
    ]
    assert "secret" not in json.dumps(result)

    # a hint list that breaks the rules is a 400 naming it
    bad = titled_question()
    bad.metadata["coursehub"]["hints"] = ["fine", {"not": "a string"}]
    code, data = await author.request(
        "PUT", f"questions/{question['id']}", {"notebook": nbformat.from_dict(bad)}
    )
    assert code == 400 and "coursehub.hints: hint 2" in data["message"], data


def test_python_notebook_without_metadata_has_no_hints():
    assert hints_of(python_notebook()) == []
