"""The sample course in course_content/ is a course a teacher can use as it is.

Its layout is the one the loader reads (course.json lists exactly the notebooks on
disk), every question is a valid nbgrader source notebook with visible and hidden
tests, named tests and hints, and, graded through coursehub's own pipeline in a real
sandbox:

- the reference solution (the source notebook itself) scores full marks,
- each of its plausible wrong answers (checks/wrong_answers.json, at least two a
  question) scores less, and still runs,
- the student version as released scores 0, every test failing on the stub,

and the student version gives away neither the solutions, nor the hidden tests, nor the
hints.

Questions of other types are checked as what saving makes of them (their type's
`prepare`): a choice or fill_in question's generated hidden checks are its tests (its
wrong answers are other values of `answer`, and its unanswered version fails every check
on the empty answer it is given); a flashcard has a front and a back and nothing to grade.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
import pytest_asyncio
from nbgrader.nbgraderformat import MetadataValidator
from PIL import Image

from grader.executors.bubblewrap import BubblewrapExecutor
from grader.grading.languages import LANGUAGES, language_of
from grader.grading.notebooks import (
    hints_of,
    read_notebook,
    student_version,
    test_specs,
    validate_source,
)
from grader.grading.notebooks import (
    test_title as title_of_test,
)
from grader.grading.questiontypes import question_type
from grader.grading.run import grade
from grader.grading.variants import is_variant_cell

COURSE_DIR = Path(__file__).resolve().parents[1] / "course_content" / "python-foundations"
COURSE = json.loads((COURSE_DIR / "course.json").read_text())
WRONG_ANSWERS = json.loads((COURSE_DIR / "checks" / "wrong_answers.json").read_text())
QUESTIONS = [f"{m['slug']}/{q}" for m in COURSE["modules"] for q in m["questions"]]


def type_of(question: str) -> str:
    raw = json.loads((COURSE_DIR / f"{question}.ipynb").read_text())
    return raw["metadata"].get("coursehub", {}).get("type", "notebook")


TYPES = {question: type_of(question) for question in QUESTIONS}
#: every question but flashcards: they are rated, never graded
GRADED = [q for q in QUESTIONS if question_type(TYPES[q]).graded]
CODE = [q for q in QUESTIONS if TYPES[q] == "notebook"]
WRONG_CASES = [
    pytest.param(question, index, id=f"{question}#{index + 1}")
    for question in GRADED
    for index in range(len(WRONG_ANSWERS.get(question, [])))
]

#: other languages (their modules r-basics, ...): words their visible tests check with,
#: and what a test says when it calls the unanswered stub (LANGUAGES[...].code_stub)
CHECK_WORDS = {"r": ("stopifnot", "expect_")}
STUB_ERRORS = {
    "r": "No Answer Given!",
    "javascript": "No Answer Given!",
    # C's stub is `__builtin_abort();`: the learner's function aborts
    "c": "Aborted",
}

# the markers in any language's comment syntax (### in Python and R, // in JavaScript and C)
SOLUTION_REGION = re.compile(r"(?:###|//) BEGIN SOLUTION\n(.*?)(?:###|//) END SOLUTION", re.S)
HIDDEN_REGION = re.compile(r"(?:###|//) BEGIN HIDDEN TESTS\n(.*?)(?:###|//) END HIDDEN TESTS", re.S)
SLUG = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
ATTACHMENT_LINK = re.compile(r"!\[[^\]]*\]\(attachment:([^)\s]+)\)")

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed (apt-get install bubblewrap)"
)


def prepared(question: str):
    return question_type(TYPES[question]).prepare((COURSE_DIR / f"{question}.ipynb").read_bytes())


def source_notebook(question: str):
    """The source as saving stores it (a choice's generated checks included)."""
    if TYPES[question] == "notebook":
        return read_notebook((COURSE_DIR / f"{question}.ipynb").read_bytes())
    return read_notebook(prepared(question).source)


def released_version(question: str):
    """What a learner is given (served through `for_learner`, seed aside)."""
    return read_notebook(prepared(question).student)


def nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def solution_cells(nb):
    return [c for c in nb.cells if nbgrader_meta(c).get("solution")]


def graded_cells(nb):
    return [c for c in nb.cells if nbgrader_meta(c).get("grade")]


def reference_answers(source) -> dict[str, str]:
    return {nbgrader_meta(c)["grade_id"]: c.source for c in solution_cells(source)}


def with_answers(student_nb, answers: dict[str, str]):
    """The student notebook with the solution cells named in ``answers`` rewritten."""
    nb = copy.deepcopy(student_nb)
    for cell in solution_cells(nb):
        grade_id = nbgrader_meta(cell)["grade_id"]
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nb


def secret_lines(source) -> set[str]:
    """Lines of substance that only solution regions and hidden tests hold: a line that
    the source also shows elsewhere (the buggy function a task quotes, a visible
    ``except ValueError:``) gives nothing away. Lines like ")" or "return None" say
    nothing; every line longer than 12 characters counts."""
    secret, shown = set(), set()
    for cell in source.cells:
        regions = SOLUTION_REGION.findall(cell.source) + HIDDEN_REGION.findall(cell.source)
        secret.update(line.strip() for region in regions for line in region.splitlines())
        outside = HIDDEN_REGION.sub("", SOLUTION_REGION.sub("", cell.source))
        shown.update(line.strip() for line in outside.splitlines())
    return {line for line in secret - shown if len(line) > 12}


# -- the course as a whole -------------------------------------------------------------


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


def test_the_course_is_big_enough_to_teach():
    assert len(COURSE["modules"]) >= 6, "at least six modules"
    assert len(QUESTIONS) >= 40, "at least forty questions"
    assert len(CODE) >= 40, "at least forty of them code questions"
    titles = {m["title"] for m in COURSE["modules"]}
    assert {"Data structures", "Text processing", "Testing your own code"} <= titles

    # a module in another language (r-basics, ...) shows that language with three
    def least(module) -> int:
        first = module["questions"][0] if module["questions"] else None
        python = (
            first is None or language_of(source_notebook(f"{module['slug']}/{first}")) == "python"
        )
        return 4 if python else 3

    assert all(len(m["questions"]) >= least(m) for m in COURSE["modules"]), "no module is a stub"
    difficulties = {source_notebook(q).metadata["coursehub"]["difficulty"] for q in QUESTIONS}
    assert difficulties == {"easy", "medium", "hard"}


def test_questions_of_every_type_and_a_variant():
    kinds = [TYPES[q] for q in QUESTIONS]
    assert len([k for k in kinds if k != "notebook"]) >= 10, "at least ten non-code questions"
    assert {"choice", "fill_in", "flashcard"} <= set(kinds)
    choices = [source_notebook(q) for q in QUESTIONS if TYPES[q] == "choice"]
    multiple = [nb.cells[1].metadata["coursehub"].get("multiple", False) for nb in choices]
    assert True in multiple and False in multiple, "single and multiple choices"
    matches = {
        blank.get("match", "exact")
        for q in QUESTIONS
        if TYPES[q] == "fill_in"
        for cell in source_notebook(q).cells
        for blank in cell.metadata.get("coursehub", {}).get("blanks", [])
    }
    assert matches == {"exact", "nocase", "numeric", "pattern"}
    variants = [q for q in CODE if any(is_variant_cell(c) for c in source_notebook(q).cells)]
    assert variants, "at least one seeded variant question"


def test_every_question_has_two_different_wrong_answers_for_its_solution_cells():
    assert set(WRONG_ANSWERS) == set(GRADED)
    for question, wrong_answers in WRONG_ANSWERS.items():
        source = source_notebook(question)
        reference = reference_answers(source)
        assert isinstance(wrong_answers, list) and len(wrong_answers) >= 2, (
            f"{question}: at least two wrong answers"
        )
        whole = []
        for answers in wrong_answers:
            assert answers and set(answers) <= set(reference), (
                f"{question}: {set(answers) - set(reference)} are not solution cells"
            )
            for grade_id, answer in answers.items():
                assert answer.strip() != reference[grade_id].strip(), (
                    f"{question}: a wrong answer for {grade_id} is the reference solution"
                )
                assert "BEGIN SOLUTION" not in answer and "NotImplementedError" not in answer
            whole.append({**reference, **answers})
        assert len({json.dumps(w, sort_keys=True) for w in whole}) == len(whole), (
            f"{question}: two of its wrong answers are the same"
        )


def test_most_questions_have_hints_and_one_has_a_diagram():
    with_hints = [q for q in GRADED if hints_of(source_notebook(q))]
    assert len(with_hints) >= 0.75 * len(GRADED), "most questions give hints"
    diagrams = [
        q
        for q in QUESTIONS
        for cell in source_notebook(q).cells
        if cell.cell_type == "markdown" and cell.get("attachments")
    ]
    assert diagrams, "at least one question shows an image (a markdown attachment)"


# -- each question ---------------------------------------------------------------------


@pytest.mark.parametrize("question", QUESTIONS)
def test_question_is_a_valid_source_notebook(question):
    nb = source_notebook(question)
    nbformat.validate(nb)
    MetadataValidator().validate_nb(nb)
    if TYPES[question] != "flashcard":  # nothing graded: not an nbgrader assignment
        validate_source(nb)

    language = language_of(nb)
    assert nb.metadata["kernelspec"]["name"] == LANGUAGES[language].kernels[0]
    if language != "python":
        assert TYPES[question] == "notebook", "only notebook questions come in other languages"
    meta = nb.metadata["coursehub"]
    assert meta["title"] and meta["category"]
    assert meta["difficulty"] in {"easy", "medium", "hard"}
    assert meta["tags"] and all(isinstance(tag, str) and tag for tag in meta["tags"])

    assert nb.cells[0].cell_type == "markdown", "the task description comes first"
    if TYPES[question] != "notebook":
        check_other_type(question, nb)
        return
    solutions = solution_cells(nb)
    assert 1 <= len(solutions) <= 2
    for cell in solutions:
        assert cell.cell_type == "code" and not nbgrader_meta(cell)["grade"]
        assert SOLUTION_REGION.search(cell.source), f"{cell.source!r} has no solution region"

    tests = graded_cells(nb)
    assert 2 <= len(tests) <= 3
    for cell in tests:
        meta = nbgrader_meta(cell)
        assert cell.cell_type == "code" and meta["locked"] and not meta["solution"], (
            f"{meta['grade_id']}: only autograded, locked code test cells"
        )
        assert 1 <= meta["points"] <= 5
    visible = [HIDDEN_REGION.sub("", c.source) for c in tests]
    checks = CHECK_WORDS.get(language, ("assert",))
    assert any(word in source for source in visible for word in checks), "a visible test"
    assert any(spec.hidden for spec in test_specs(nb)), "at least one hidden test"


def check_other_type(question: str, nb) -> None:
    """A choice or fill_in: one answer cell, its generated hidden checks; a flashcard:
    a front and a back, nothing graded."""
    kind = TYPES[question]
    assert nb.metadata["coursehub"]["type"] == kind
    if kind == "flashcard":
        assert [c.metadata["coursehub"]["card"] for c in nb.cells] == ["front", "back"]
        assert not graded_cells(nb) and not solution_cells(nb)
        return
    (answer,) = solution_cells(nb)
    assert SOLUTION_REGION.search(answer.source)
    tests = graded_cells(nb)
    blanks = answer.metadata["coursehub"].get("blanks", [None])
    assert len(tests) == len(blanks)
    for cell in tests:
        assert 1 <= nbgrader_meta(cell)["points"] <= 5
        assert HIDDEN_REGION.search(cell.source)


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_test_has_a_human_name_and_the_hints_help_without_solving(question):
    nb = source_notebook(question)
    names = []
    for cell in graded_cells(nb):
        declared = cell.metadata.get("coursehub", {}).get("test_name")
        assert isinstance(declared, str) and declared.strip(), (
            f"{nbgrader_meta(cell)['grade_id']}: no coursehub.test_name"
        )
        assert title_of_test(cell) == declared.strip()
        names.append(declared)
    assert len(names) == len(set(names)), "two tests of one question share a name"

    # A hint may name a step ("`value, left, right = tree` unpacks a node"), never
    # spell out the solution: together they quote at most a third of its lines.
    hints = hints_of(nb)
    assert len(hints) <= 3
    solution = {
        line
        for cell in solution_cells(nb)
        for region in SOLUTION_REGION.findall(cell.source)
        for line in (raw.strip() for raw in region.splitlines())
        if len(line) > 12
    }
    quoted = {line for line in solution if any(line in hint for hint in hints)}
    assert len(quoted) <= max(1, len(solution) // 3), f"the hints quote the solution: {quoted}"


@pytest.mark.parametrize("question", QUESTIONS)
def test_student_version_gives_away_no_solution_hidden_test_or_hint(question):
    source = source_notebook(question)
    released_nb = released_version(question)
    if TYPES[question] == "notebook":
        assert released_nb.cells == student_version(source).cells
    released = "\n".join(c.source for c in released_nb.cells)
    released_lines = {line.strip() for line in released.splitlines()}
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in released
    leaked = sorted(secret_lines(source) & released_lines)
    assert not leaked, f"the student version shows {leaked}"

    as_json = json.dumps(released_nb)
    assert "hints" not in released_nb.metadata.get("coursehub", {})
    for hint in hints_of(source):
        assert json.dumps(hint)[1:-1] not in as_json, "a hint is in the student version"
    for cell in source.cells:
        # a choice's key is shown only as one of the choices; no accepted answer of a
        # blank, no pattern, no matching rule is shown at all
        meta = cell.metadata.get("coursehub", {})
        served_cells = json.dumps([c for c in released_nb.cells if c.cell_type == "code"])
        for blank in meta.get("blanks", []):
            for secret in [*blank.get("answers", []), blank.get("pattern")]:
                if isinstance(secret, str):  # numbers: as the key's strings, below
                    assert json.dumps(secret) not in served_cells, secret
        if "blanks" in meta:
            key = SOLUTION_REGION.search(cell.source).group(1).strip().removeprefix("answer = ")
            for value in json.loads(key).values():
                assert json.dumps(value) not in served_cells, value
        if "choices" in meta or "blanks" in meta:
            public = {"choices", "multiple"} if "choices" in meta else {"blanks"}
            served = next(c for c in released_nb.cells if c.get("id") == cell.get("id"))
            assert set(served.metadata["coursehub"]) == public
            assert not {"answers", "match", "pattern", "tolerance", "points"} & {
                key for blank in served.metadata["coursehub"].get("blanks", []) for key in blank
            }


@pytest.mark.parametrize(
    "question",
    [
        q
        for q in QUESTIONS
        if any(c.cell_type == "markdown" and c.get("attachments") for c in source_notebook(q).cells)
    ],
)
def test_a_diagram_is_a_small_png_attachment_the_learner_gets_too(question):
    source = source_notebook(question)
    released = student_version(source)
    for index, cell in enumerate(source.cells):
        if cell.cell_type != "markdown" or not cell.get("attachments"):
            continue
        assert set(ATTACHMENT_LINK.findall(cell.source)) == set(cell.attachments), (
            "every attachment is shown, and every attachment shown exists"
        )
        for name, bundle in cell.attachments.items():
            data = base64.b64decode(bundle["image/png"])
            assert len(data) < 50_000, f"{name} is {len(data):,} bytes: keep diagrams small"
            with Image.open(io.BytesIO(data)) as image:
                assert image.format == "PNG" and max(image.size) <= 800
        assert released.cells[index].attachments == cell.attachments


# -- graded in a sandbox ---------------------------------------------------------------


# Every grading run of this module shares one executor (its warm trusted process and the
# learner sandboxes it starts ahead), so those tests share the module's event loop too.
in_module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def executor():
    sandbox = BubblewrapExecutor(time_limit=60, cell_time_limit=10)
    yield sandbox
    await sandbox.close()


def not_run(report) -> list[str]:
    """Tests the sandbox did not let finish (limits, sandbox errors), with why."""
    return [
        f"{t['name']}: {t['message']}"
        for t in report.tests
        if "not run" in t["message"] or re.search(r"_limit|sandbox_error", t["message"])
    ]


@needs_bwrap
@pytest.mark.sandbox
@in_module_loop
@pytest.mark.parametrize("question", GRADED)
async def test_reference_solution_scores_full_marks(executor, question):
    source = source_notebook(question)
    report = await grade(executor, source, source)
    failed = [f"{t['name']}: {t['message']}" for t in report.tests if not t["passed"]]
    assert not failed, failed
    assert report.max_score == sum(spec.max_points for spec in test_specs(source))
    assert report.score == report.max_score


@needs_bwrap
@pytest.mark.sandbox
@in_module_loop
@pytest.mark.parametrize(("question", "index"), WRONG_CASES)
async def test_wrong_answer_scores_less_than_full_marks(executor, question, index):
    source = source_notebook(question)
    # Only the cells the wrong answer names change; the others keep the reference
    # solution, so the lost points are the tests catching exactly this mistake.
    answers = {**reference_answers(source), **WRONG_ANSWERS[question][index]}
    learner = with_answers(released_version(question), answers)
    report = await grade(executor, source, learner)
    assert report.max_score == sum(spec.max_points for spec in test_specs(source))
    assert report.score < report.max_score, f"the wrong answer passed every test of {question}"
    assert not not_run(report), f"the wrong answer should run to the end: {not_run(report)}"


@needs_bwrap
@pytest.mark.sandbox
@in_module_loop
@pytest.mark.parametrize("question", GRADED)
async def test_released_student_version_scores_zero(executor, question):
    source = source_notebook(question)
    report = await grade(executor, source, released_version(question))
    assert report.score == 0
    assert report.max_score > 0
    if TYPES[question] != "notebook":
        return  # its answer cell holds an empty answer (`answer = None`), not a stub
    # Every test calls the learner's code: each fails on the stub, not on something else.
    stub_error = STUB_ERRORS.get(language_of(source), "NotImplementedError")
    not_on_stub = [t["name"] for t in report.tests if stub_error not in t["message"]]
    assert not not_on_stub, f"tests that do not fail on the unanswered stub: {not_on_stub}"
