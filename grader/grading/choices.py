"""Multiple choice and fill in the blank: questions answered by one value.

Both are nbgrader source notebooks with one **answer cell**: a code solution cell whose
``metadata.coursehub`` describes the question (``choices`` / ``blanks``) and whose
source, in the source notebook, is the key between solution markers::

    ### BEGIN SOLUTION
    answer = "b"                    # choice; multiple: answer = ["b", "d"]
    ### END SOLUTION                # fill_in: answer = {"capital": "Paris"}

Saving (:meth:`prepare`) checks the metadata and the key, and (re)generates the
autograded test cells right after the answer cell, their checks inside hidden-test
regions: one for a choice (``<answer grade_id>_check``), one per blank
(``<blank id>_check``). From then on the question *is* an nbgrader notebook: graded by
:func:`grader.grading.run.grade` in the sandbox like any other (so ``nbgrader
autograde`` gives the same score, and whatever a learner writes in the answer cell runs
contained), and its student version is nbgrader's release with the answer cell set to
an empty answer and its metadata reduced to what the widgets show: no key, no matching
rule, no accepted answers anywhere.

The checks compare plain data only: a test sees the learner's ``answer`` as a plain copy
when it is one (docs/internals.md, "What a test sees"), and they check its type first, so
an object that claims to equal everything is not an answer.
"""

from __future__ import annotations

import ast
import copy
import json
import math
import random
import re

import nbformat

from .notebooks import (
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    END_HIDDEN,
    END_SOLUTION,
    MAX_TEST_NAME,
    NotebookFormatError,
    _meta,
    grade_id,
    is_manual,
    is_solution,
    is_test,
    read_notebook,
    student_version,
    total_points,
    validate_source,
)
from .questiontypes import PreparedQuestion, QuestionType, _as_dict, typed
from .run import GradingReport, grade
from .variants import check_variant

#: a choice's or a blank's id: shown to learners, part of a grade_id and a cell id
ITEM_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
MAX_CHOICES = 26
MAX_CHOICE_TEXT = 2000
MAX_BLANKS = 20
MAX_LABEL = 200
MAX_ACCEPTED = 50
MATCHES = ("exact", "nocase", "numeric", "pattern")
#: the generated test cells carry this in ``metadata.coursehub``: saving again replaces them
GENERATED = "generated"
CHECKED_LINE = "# Checked when you submit."


def _coursehub(cell) -> dict:
    meta = cell.get("metadata", {}).get("coursehub")
    return meta if isinstance(meta, dict) else {}


def _problem(where: str, message: str) -> NotebookFormatError:
    return NotebookFormatError(f"{where}: {message}")


def _points(value, where: str) -> float:
    if value is None:
        return 1.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise _problem(where, "points must be a number > 0")
    if not math.isfinite(value):
        raise _problem(where, "points must be a finite number")
    return float(value)


def _item_id(value, where: str) -> str:
    if not isinstance(value, str) or not ITEM_ID.fullmatch(value):
        raise _problem(where, "id must be 1 to 40 letters, digits, '_' or '-'")
    return value


def _text(value, where: str, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _problem(where, f"{field} must be a non-empty string")
    if len(value) > limit:
        raise _problem(where, f"{field} is longer than {limit} characters")
    return value


def key_of(cell, where: str):
    """The value the source's answer cell assigns to ``answer`` between the solution
    markers (a Python literal), or NotebookFormatError."""
    source = cell.source
    if BEGIN_SOLUTION not in source or END_SOLUTION not in source:
        raise _problem(
            where, "the answer cell holds the key between ### BEGIN SOLUTION / ### END SOLUTION"
        )
    region = source.split(BEGIN_SOLUTION, 1)[1].split(END_SOLUTION, 1)[0]
    region = region.split("\n", 1)[1] if "\n" in region else ""
    try:
        tree = ast.parse(region.strip())
    except SyntaxError:
        tree = None
    statements = tree.body if tree is not None else []
    if (
        len(statements) != 1
        or not isinstance(statements[0], ast.Assign)
        or [getattr(t, "id", None) for t in statements[0].targets] != ["answer"]
    ):
        raise _problem(where, "the solution must be one line: answer = <the key>")
    try:
        return ast.literal_eval(statements[0].value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise _problem(where, "the key must be a literal (a string, a list, a dict)") from None


def _new_test_cell(nb, gid: str, points: float, title: str, check: str):
    cell = nbformat.v4.new_code_cell(
        f"{CHECKED_LINE}\n### {BEGIN_HIDDEN}\n{check}\n### {END_HIDDEN}",
        metadata={
            "nbgrader": {
                "grade": True,
                "solution": False,
                "locked": True,
                "points": points,
                "grade_id": gid,
                "schema_version": 3,
            },
            # a test's name has a limit of its own (a blank's label may be longer)
            "coursehub": {"test_name": title.strip()[:MAX_TEST_NAME].strip(), GENERATED: True},
        },
    )
    # the same source prepares to the same notebook: no new version on a reload
    if nb.get("nbformat_minor", 0) >= 5:
        cell["id"] = gid[:64]
    else:
        cell.pop("id", None)
    return cell


class AnswerCellQuestion(QuestionType):
    """What choice and fill_in share: one answer cell, generated hidden tests."""

    #: the answer cell's ``metadata.coursehub`` key that marks it
    marker = ""

    def prepare(self, source) -> PreparedQuestion:
        nb = read_notebook(source)
        nb.cells = [cell for cell in nb.cells if not _coursehub(cell).get(GENERATED)]
        index, cell = self.answer_cell(nb)
        tests = self.test_cells(nb, cell, f"answer cell '{grade_id(cell)}'")
        nb.cells[index + 1 : index + 1] = tests
        typed(nb, self.name)
        validate_source(nb)
        check_variant(nb)
        student = typed(student_version(nb), self.name)
        for released in student.cells:
            if grade_id(released) == grade_id(cell):
                released.source = self.empty_answer(cell)
                released.metadata["coursehub"] = self.public_metadata(cell)
                released.outputs = []
                _refresh_checksum(released)
        return PreparedQuestion(_as_dict(nb), _as_dict(student), total_points(nb))

    def answer_cell(self, nb):
        """(index, cell) of the one answer cell; no other answer or test is allowed."""
        found = [
            (index, cell) for index, cell in enumerate(nb.cells) if self.marker in _coursehub(cell)
        ]
        if len(found) != 1:
            raise NotebookFormatError(
                f"a {self.name} question has exactly one answer cell (a code solution cell "
                f"with metadata.coursehub.{self.marker}); found {len(found)}"
            )
        index, cell = found[0]
        meta = _meta(cell)
        if cell.cell_type != "code" or not is_solution(cell) or meta.get("grade"):
            raise NotebookFormatError(
                f"the {self.name} answer cell must be a code cell, an nbgrader autograded "
                "answer (solution: true, grade: false) with a grade_id"
            )
        if not grade_id(cell):
            raise NotebookFormatError(f"the {self.name} answer cell needs a grade_id")
        for other in nb.cells:
            if other is not cell and (is_solution(other) or is_test(other) or is_manual(other)):
                raise NotebookFormatError(
                    f"cell '{grade_id(other) or '?'}': a {self.name} question has one answer "
                    "cell and no tests of its own (its check is generated)"
                )
        return index, cell

    def read_answer(self, data):
        return read_notebook(data)

    def read_source(self, data):
        return read_notebook(data)

    async def grade(self, executor, source, answer) -> GradingReport:
        return await grade(executor, source, answer)

    # -- per type -------------------------------------------------------------------

    def test_cells(self, nb, cell, where: str) -> list:
        raise NotImplementedError

    def empty_answer(self, cell) -> str:
        raise NotImplementedError

    def public_metadata(self, cell) -> dict:
        raise NotImplementedError


def _refresh_checksum(cell) -> None:
    meta = _meta(cell)
    if "checksum" in meta:
        from nbgrader.utils import compute_checksum

        meta["checksum"] = compute_checksum(cell)


# -- multiple choice -------------------------------------------------------------------


def check_choices(meta: dict, where: str) -> tuple[list[dict], bool, float]:
    """(choices, multiple, points) of an answer cell's ``metadata.coursehub``."""
    choices = meta.get("choices")
    if not isinstance(choices, list) or not 2 <= len(choices) <= MAX_CHOICES:
        raise _problem(where, f"choices must be a list of 2 to {MAX_CHOICES} choices")
    seen = set()
    clean = []
    for number, choice in enumerate(choices, start=1):
        at = f"{where}: choice {number}"
        if not isinstance(choice, dict):
            raise _problem(at, 'a choice is {"id": ..., "text": ...}')
        choice_id = _item_id(choice.get("id"), at)
        if choice_id in seen:
            raise _problem(at, f"duplicate id {choice_id!r}")
        seen.add(choice_id)
        clean.append(
            {"id": choice_id, "text": _text(choice.get("text"), at, "text", MAX_CHOICE_TEXT)}
        )
    multiple = meta.get("multiple", False)
    if not isinstance(multiple, bool):
        raise _problem(where, "multiple must be true or false")
    return clean, multiple, _points(meta.get("points"), where)


class ChoiceQuestion(AnswerCellQuestion):
    """Multiple choice: one answer (``answer = "b"``) or several (``answer = ["b", "d"]``,
    ``coursehub.multiple``); the learner's choices are served in an order of their own."""

    name = "choice"
    marker = "choices"

    def test_cells(self, nb, cell, where):
        choices, multiple, points = check_choices(_coursehub(cell), where)
        ids = [c["id"] for c in choices]
        key = key_of(cell, where)
        if multiple:
            if not isinstance(key, list) or not key or not all(isinstance(k, str) for k in key):
                raise _problem(where, 'the key of a multiple choice is a list: answer = ["b", "d"]')
            if len(set(key)) != len(key):
                raise _problem(where, "the key names a choice twice")
            check = f"assert type(answer) in (list, tuple) and sorted(answer) == {sorted(key)!r}"
        else:
            if not isinstance(key, str):
                raise _problem(where, 'the key of a single choice is one id: answer = "b"')
            key = [key]
            check = f"assert type(answer) is str and answer == {key[0]!r}"
        unknown = [k for k in key if k not in ids]
        if unknown:
            raise _problem(where, f"the key names no choice: {', '.join(map(repr, unknown))}")
        return [_new_test_cell(nb, f"{grade_id(cell)}_check", points, "your answer", check)]

    def empty_answer(self, cell) -> str:
        return "answer = []" if _coursehub(cell).get("multiple") else "answer = None"

    def public_metadata(self, cell) -> dict:
        choices, multiple, _ = check_choices(_coursehub(cell), "answer cell")
        return {"choices": choices, "multiple": multiple}

    def for_learner(self, student_nb: dict, seed: int) -> dict:
        """Each learner's own order of the choices (deterministic: seeded by ``seed``)."""
        nb = super().for_learner(student_nb, seed)
        cells = nb["cells"] = list(nb.get("cells", []))
        for index, cell in enumerate(cells):
            choices = _coursehub(cell).get("choices")
            if isinstance(choices, list):
                cell = cells[index] = copy.deepcopy(cell)
                random.Random(f"choices:{seed}").shuffle(cell["metadata"]["coursehub"]["choices"])
        return nb


# -- fill in the blank -----------------------------------------------------------------


def _number(value, where: str) -> float:
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise _problem(where, f"{value!r} is not a finite number")
    return number


def check_blank(blank, where: str) -> dict:
    """One blank's definition, checked and normalised."""
    if not isinstance(blank, dict):
        raise _problem(where, 'a blank is {"id", "label", "match", "answers", ...}')
    clean = {
        "id": _item_id(blank.get("id"), where),
        "label": _text(blank.get("label"), where, "label", MAX_LABEL),
        "match": blank.get("match", "exact"),
        "points": _points(blank.get("points"), where),
    }
    match = clean["match"]
    if match not in MATCHES:
        raise _problem(where, f"match must be one of {', '.join(MATCHES)}")
    answers = blank.get("answers", [] if match == "pattern" else None)
    if not isinstance(answers, list) or len(answers) > MAX_ACCEPTED:
        raise _problem(where, f"answers must be a list of at most {MAX_ACCEPTED} accepted answers")
    if not answers and match != "pattern":
        raise _problem(where, "answers must list at least one accepted answer")
    if match == "numeric":
        clean["answers"] = [_number(a, where) for a in answers]
        tolerance = blank.get("tolerance", 0)
        if isinstance(tolerance, bool) or not isinstance(tolerance, int | float):
            raise _problem(where, "tolerance must be a number >= 0")
        if not (math.isfinite(tolerance) and tolerance >= 0):
            raise _problem(where, "tolerance must be a number >= 0")
        clean["tolerance"] = float(tolerance)
    else:
        if not all(isinstance(a, str) and a.strip() for a in answers):
            raise _problem(where, "answers must be non-empty strings")
        clean["answers"] = [a.strip() for a in answers]
    if "tolerance" in blank and match != "numeric":
        raise _problem(where, "tolerance is for a numeric blank only")
    if match == "pattern":
        pattern = blank.get("pattern")
        if not isinstance(pattern, str) or not pattern:
            raise _problem(where, "a pattern blank needs pattern: a regular expression")
        try:
            re.compile(pattern)
        except re.error as e:
            raise _problem(where, f"pattern is not a regular expression: {e}") from None
        clean["pattern"] = pattern
    elif "pattern" in blank:
        raise _problem(where, "pattern is for a pattern blank only")
    return clean


def accepts(blank: dict, value) -> bool:
    """Whether a checked blank (:func:`check_blank`) accepts ``value``: what its
    generated test decides in the sandbox, here for the key at saving."""
    match = blank["match"]
    if match == "numeric":
        if type(value) not in (str, int, float):
            return False
        try:
            number = float(str(value).strip())
        except ValueError:
            return False
        return any(abs(number - x) <= _slack(blank["tolerance"], x) for x in blank["answers"])
    if type(value) is not str:
        return False
    if match == "exact":
        return value.strip() in blank["answers"]
    if match == "nocase":
        return value.strip().casefold() in [a.casefold() for a in blank["answers"]]
    return re.fullmatch(blank["pattern"], value.strip()) is not None


def _slack(tolerance: float, expected: float) -> float:
    # a typed 3.15 is within 0.01 of 3.14, whatever binary floats make of the difference
    return tolerance + 1e-9 * max(1.0, abs(expected))


def blank_check(blank: dict) -> str:
    """The assertion of a blank's generated test (Python source; every literal is
    written by ``repr``, never pasted)."""
    given = f"given = answer.get({blank['id']!r}) if type(answer) is dict else None"
    match = blank["match"]
    if match == "exact":
        return f"{given}\nassert type(given) is str and given.strip() in {blank['answers']!r}"
    if match == "nocase":
        accepted = [a.casefold() for a in blank["answers"]]
        return f"{given}\nassert type(given) is str and given.strip().casefold() in {accepted!r}"
    if match == "numeric":
        return (
            f"{given}\nassert type(given) in (str, int, float)\n"
            "number = float(str(given).strip())\n"
            f"tolerance = {blank['tolerance']!r}\n"
            "assert any(abs(number - expected) <= tolerance + 1e-09 * max(1.0, abs(expected)) "
            f"for expected in {blank['answers']!r})"
        )
    return (
        f"import re\n{given}\n"
        f"assert type(given) is str and re.fullmatch({blank['pattern']!r}, given.strip()) "
        "is not None"
    )


def check_blanks(meta: dict, where: str) -> list[dict]:
    blanks = meta.get("blanks")
    if not isinstance(blanks, list) or not 1 <= len(blanks) <= MAX_BLANKS:
        raise _problem(where, f"blanks must be a list of 1 to {MAX_BLANKS} blanks")
    clean = [check_blank(b, f"{where}: blank {n}") for n, b in enumerate(blanks, start=1)]
    ids = [b["id"] for b in clean]
    if len(set(ids)) != len(ids):
        raise _problem(where, "two blanks share an id")
    return clean


class FillInQuestion(AnswerCellQuestion):
    """Fill in the blank: ``answer = {"capital": "Paris", ...}``, one value a blank,
    each matched exactly, ignoring case, as a number within a tolerance, or by a
    regular expression; each blank is a test of its own."""

    name = "fill_in"
    marker = "blanks"

    def test_cells(self, nb, cell, where):
        blanks = check_blanks(_coursehub(cell), where)
        key = key_of(cell, where)
        ids = [b["id"] for b in blanks]
        if not isinstance(key, dict) or sorted(key) != sorted(ids):
            raise _problem(where, f"the key is a dict with one value a blank: {', '.join(ids)}")
        tests = []
        for blank in blanks:
            if not accepts(blank, key[blank["id"]]):
                raise _problem(
                    where, f"the key's {blank['id']!r} is not accepted by its own blank's rule"
                )
            gid = f"{blank['id']}_check"
            tests.append(
                _new_test_cell(nb, gid, blank["points"], blank["label"], blank_check(blank))
            )
        return tests

    def empty_answer(self, cell) -> str:
        ids = [b["id"] for b in check_blanks(_coursehub(cell), "answer cell")]
        return "answer = " + json.dumps(dict.fromkeys(ids, ""), ensure_ascii=False)

    def public_metadata(self, cell) -> dict:
        return {
            "blanks": [
                {
                    "id": b["id"],
                    "label": b["label"],
                    "kind": "number" if b["match"] == "numeric" else "text",
                }
                for b in check_blanks(_coursehub(cell), "answer cell")
            ]
        }
