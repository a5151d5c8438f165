"""nbgrader-format notebooks: read, validate, make the student version, merge answers.

A question is an nbgrader 0.9 *source* notebook: solution cells (``solution: true``)
hold the instructor's answer, optionally between ``### BEGIN SOLUTION`` / ``### END
SOLUTION``; autograded test cells (``grade: true``, code) hold asserts, optionally with
``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS`` regions the learner never sees;
read-only cells (``locked: true``) are given.

The learner receives exactly what nbgrader's ``generate_assignment`` releases (made here
with nbgrader's own preprocessors, in memory) and returns a copy they may have changed
in any way. :func:`merge_answers` builds the notebook that is executed: the source's
cells, with only the learner's answers (and helper cells right after them) taken from
the learner's copy.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass

import nbformat
from nbformat import NotebookNode
from nbformat.v4.rwbase import rejoin_lines

log = logging.getLogger(__name__)

BEGIN_SOLUTION = "BEGIN SOLUTION"
END_SOLUTION = "END SOLUTION"
BEGIN_HIDDEN = "BEGIN HIDDEN TESTS"
END_HIDDEN = "END HIDDEN TESTS"
# nbgrader's ClearSolutions.code_stub["python"]: what an unanswered solution cell holds
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


class NotebookFormatError(ValueError):
    """The notebook cannot be used; ``str(e)`` names the problem (shown in a 400)."""


@dataclass(frozen=True)
class TestSpec:
    """One autograded test cell: its grade_id, its points, whether it hides tests."""

    __test__ = False  # not a pytest class

    name: str
    max_points: float
    hidden: bool


# -- reading -------------------------------------------------------------------------


def read_notebook(data: bytes | str | dict) -> NotebookNode:
    """Parse ``data`` into an nbformat 4 notebook, or raise NotebookFormatError."""
    if isinstance(data, bytes | bytearray):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise NotebookFormatError(f"notebook is not UTF-8: {e}") from None
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError as e:
            raise NotebookFormatError(f"notebook is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise NotebookFormatError("notebook is not a JSON object")
    major = data.get("nbformat")
    if major != 4:
        raise NotebookFormatError(f"notebook is not nbformat 4 (found nbformat {major})")
    try:
        # multi-line strings may be stored as lists of lines: join them like nbformat.reads
        nb = rejoin_lines(nbformat.from_dict(copy.deepcopy(data)))
        nbformat.validate(nb)
    except (nbformat.ValidationError, AttributeError, TypeError) as e:
        raise NotebookFormatError(f"notebook does not validate: {_short(e)}") from None
    return nb


def _short(e: Exception) -> str:
    message = getattr(e, "message", None) or str(e)
    return message.splitlines()[0][:300] if message else type(e).__name__


# -- nbgrader metadata helpers ---------------------------------------------------------


def _meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def grade_id(cell) -> str | None:
    """The cell's nbgrader grade_id, if it has one."""
    gid = _meta(cell).get("grade_id")
    return gid if isinstance(gid, str) and gid else None


def is_solution(cell) -> bool:
    return bool(_meta(cell).get("solution"))


def is_test(cell) -> bool:
    """An autograded test cell: graded, not a solution, code."""
    meta = _meta(cell)
    return bool(meta.get("grade")) and not meta.get("solution") and cell.cell_type == "code"


def is_locked(cell) -> bool:
    meta = _meta(cell)
    return not meta.get("solution") and bool(meta.get("grade") or meta.get("locked"))


def _regions_balanced(source: str, begin: str, end: str) -> str | None:
    """None if every ``begin`` line has its ``end`` (no nesting), else what is wrong."""
    inside = False
    found = False
    for line in source.split("\n"):
        if begin in line:
            if inside:
                return f"nested '{begin}'"
            inside = found = True
        elif end in line:
            if not inside:
                return f"'{end}' without '{begin}'"
            inside = False
    if inside:
        return f"'{begin}' without '{end}'"
    return None if found or end not in source else f"'{end}' without '{begin}'"


def _has_region(source: str, begin: str) -> bool:
    return any(begin in line for line in source.split("\n"))


# -- validation ------------------------------------------------------------------------


def validate_source(nb) -> None:
    """Check that ``nb`` is a usable nbgrader source notebook for automatic grading.

    nbgrader's own metadata validator runs first (on a copy, upgraded to the current
    schema like nbgrader does); then coursehub's rules: at least one autograded test
    cell, non-negative points, balanced solution and hidden-test regions in the right
    kind of cell, and nothing that needs grading by hand.
    """
    from nbgrader.nbgraderformat import MetadataValidator

    checked = copy.deepcopy(nb)
    validator = MetadataValidator()
    for index, cell in enumerate(checked.cells):
        name = f"cell '{grade_id(cell)}'" if grade_id(cell) else f"cell {index + 1}"
        try:
            validator.upgrade_cell_metadata(cell)
            validator.validate_cell(cell)
        except Exception as e:  # ValidationError, SchemaTooNewError, bad value types
            raise NotebookFormatError(f"{name}: invalid nbgrader metadata: {_short(e)}") from None
    try:
        validator.validate_nb(checked)
    except Exception as e:
        raise NotebookFormatError(f"invalid nbgrader metadata: {_short(e)}") from None

    seen: set[str] = set()
    tests = 0
    for index, cell in enumerate(checked.cells):
        meta = _meta(cell)
        gid = grade_id(cell)
        name = f"cell '{gid}'" if gid else f"cell {index + 1}"
        source = cell.source
        if meta:
            if meta.get("task"):
                raise NotebookFormatError(
                    f"{name} is a task cell, graded by hand; coursehub grades automatically"
                )
            if meta.get("grade") and (meta.get("solution") or cell.cell_type != "code"):
                raise NotebookFormatError(
                    f"{name} is graded by hand; coursehub grades automatically"
                )
            if gid is not None and (
                meta.get("grade") or meta.get("solution") or meta.get("locked")
            ):
                if gid in seen:
                    raise NotebookFormatError(f"{name}: duplicate grade_id")
                seen.add(gid)
            if meta.get("grade"):
                points = meta.get("points", 0)
                if not isinstance(points, int | float) or points < 0:
                    raise NotebookFormatError(f"{name}: points must be a number >= 0")
            if is_solution(cell) and cell.cell_type != "code":
                raise NotebookFormatError(
                    f"{name}: written (markdown) answers are graded by hand; "
                    "coursehub grades automatically"
                )
        if "AUTOTEST" in source and cell.cell_type == "code":
            raise NotebookFormatError(
                f"{name}: '### AUTOTEST' test generation is not supported; write the asserts"
            )
        if _has_region(source, BEGIN_SOLUTION) or END_SOLUTION in source:
            if not is_solution(cell):
                raise NotebookFormatError(f"{name}: solution region outside a solution cell")
            problem = _regions_balanced(source, BEGIN_SOLUTION, END_SOLUTION)
            if problem:
                raise NotebookFormatError(f"{name}: unbalanced solution region ({problem})")
        if _has_region(source, BEGIN_HIDDEN) or END_HIDDEN in source:
            if not is_test(cell):
                raise NotebookFormatError(f"{name}: hidden tests outside an autograded test cell")
            problem = _regions_balanced(source, BEGIN_HIDDEN, END_HIDDEN)
            if problem:
                raise NotebookFormatError(f"{name}: unbalanced hidden tests ({problem})")
        if is_test(cell):
            tests += 1
    if tests == 0:
        raise NotebookFormatError(
            "notebook has no autograded test cell (a code cell with grade=true, solution=false)"
        )


def test_specs(nb) -> list[TestSpec]:
    """The autograded test cells of a source notebook, in order."""
    return [
        TestSpec(
            name=grade_id(cell),
            max_points=float(_meta(cell).get("points", 0)),
            hidden=_has_region(cell.source, BEGIN_HIDDEN),
        )
        for cell in nb.cells
        if is_test(cell)
    ]


test_specs.__test__ = False  # not a pytest test


# -- student version -------------------------------------------------------------------


def student_version(source_nb) -> NotebookNode:
    """What ``nbgrader generate_assignment`` releases for ``source_nb``.

    Runs nbgrader's own release preprocessors in nbgrader's order, minus the ones that
    need a course directory or a gradebook (IncludeHeaderFooter with no header is a
    no-op, SaveCells writes the gradebook, InstantiateTests needs a kernel and is
    rejected by :func:`validate_source`).
    """
    from nbgrader.preprocessors import (
        CheckCellMetadata,
        ClearHiddenTests,
        ClearMarkScheme,
        ClearOutput,
        ClearSolutions,
        ComputeChecksums,
        LockCells,
    )

    nb = copy.deepcopy(source_nb)
    resources: dict = {}
    steps = [
        LockCells,
        ClearSolutions,
        ClearOutput,
        CheckCellMetadata,
        ComputeChecksums,
        ClearHiddenTests,
        ClearMarkScheme,
        ComputeChecksums,
        CheckCellMetadata,
    ]
    try:
        for step in steps:
            nb, resources = step().preprocess(nb, resources)
    except Exception as e:  # RuntimeError / ValidationError from nbgrader
        raise NotebookFormatError(f"cannot make the student version: {_short(e)}") from None
    return nb


def _solution_stubs(source_nb) -> dict[str, str]:
    """grade_id -> the student's starting source of each solution cell."""
    released = student_version(source_nb)
    return {grade_id(c): c.source for c in released.cells if is_solution(c) and grade_id(c)}


# -- merging ---------------------------------------------------------------------------


def merge_answers(source_nb, learner_nb) -> NotebookNode:
    """The notebook to execute for a learner's submission.

    Source cells in source order. Each solution cell takes its source from the
    learner's cell with the same grade_id (the student stub if the learner deleted it),
    followed by the code cells the learner added right after it. Everything else, test
    cells with their hidden tests and locked cells included, is the source's: nothing in
    the learner's copy (metadata included) decides what is a test.
    """
    source_nb = copy.deepcopy(source_nb)
    learner_cells = list(learner_nb.get("cells", []))
    source_ids = {gid for c in source_nb.cells if (gid := grade_id(c))}
    source_cell_ids = {c.get("id") for c in source_nb.cells if c.get("id")}
    plain_sources = {_text(c.source) for c in source_nb.cells if not _meta(c)}

    def is_landmark(index: int, cell) -> bool:
        # a learner cell that stands for a source cell, not something they added;
        # a second cell with an answer's grade_id is a copy the learner made
        gid = grade_id(cell)
        if gid in source_ids and answers.get(gid, index) == index:
            return True
        if cell.get("id") and cell.get("id") in source_cell_ids:
            return True
        return not _meta(cell) and _text(cell.get("source", "")) in plain_sources

    # the first learner cell with a solution's grade_id is the answer (later copies
    # are plain cells, like nbgrader's DeduplicateIds makes them)
    answers: dict[str, int] = {}
    for index, cell in enumerate(learner_cells):
        gid = grade_id(cell)
        if gid in source_ids and gid not in answers:
            answers[gid] = index

    stubs = None
    merged = []
    for cell in source_nb.cells:
        if not (is_solution(cell) and grade_id(cell)):
            merged.append(cell)
            continue
        gid = grade_id(cell)
        answer_cell = copy.deepcopy(cell)
        if gid in answers:
            index = answers[gid]
            answer_cell.source = _text(learner_cells[index].get("source", ""))
            merged.append(answer_cell)
            for later, follower in enumerate(learner_cells[index + 1 :], start=index + 1):
                if is_landmark(later, follower):
                    break
                if follower.get("cell_type") == "code":
                    merged.append(
                        nbformat.v4.new_code_cell(source=_text(follower.get("source", "")))
                    )
        else:
            if stubs is None:
                stubs = _solution_stubs(source_nb)
            answer_cell.source = stubs.get(gid, CODE_STUB)
            merged.append(answer_cell)
    for cell in merged:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    source_nb.cells = merged
    return source_nb


def _text(source) -> str:
    if isinstance(source, list):
        return "".join(str(s) for s in source)
    return source if isinstance(source, str) else ""


def code_cells(nb) -> list[NotebookNode]:
    """The code cells of ``nb`` in order: what an executor runs."""
    return [c for c in nb.cells if c.cell_type == "code"]
