"""nbgrader-format notebooks: read, validate, make the student version, merge answers.

A question is an nbgrader 0.9 *source* notebook: solution cells (``solution: true``)
hold the instructor's answer, optionally between ``### BEGIN SOLUTION`` / ``### END
SOLUTION``; autograded test cells (``grade: true``, code) hold asserts, optionally with
``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS`` regions the learner never sees;
read-only cells (``locked: true``) are given. Manually graded answers (``grade: true``
with ``solution: true``: a markdown free-text answer, or code) carry points an
instructor awards by hand, after autograding (see :mod:`grader.grading.manual`).

The learner receives exactly what nbgrader's ``generate_assignment`` releases (made here
with nbgrader's own preprocessors, in memory) and returns a copy they may have changed
in any way. :func:`merge_answers` builds the notebook that is executed: the source's
cells, with only the learner's answers (and helper cells right after them) taken from
the learner's copy.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import json
import logging
import re
import threading
from dataclasses import dataclass, field

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

# Limits on what :func:`read_notebook` accepts, so that one notebook cannot make parsing,
# validation, merging and scoring (all linear in its size) take the service minutes. The
# byte size of a request is capped before anything is parsed (a 413, in the handlers);
# these caps are on the shape of a notebook that fits in those bytes (a 400).
# A real course notebook has well under 300 cells; 100,000 one-line cells fit in 16 MiB.
MAX_CELLS = 2000
# Levels of nested JSON arrays and objects, the notebook object itself being level 1.
# nbformat needs 7 (cell -> outputs -> data -> lines); metadata of widgets and tools a
# dozen or so. Deeper input is refused before anything recurses over it.
MAX_JSON_DEPTH = 64
# JSON arrays and objects in one notebook: a few per cell, more in rich outputs (a chart's
# data rows); tens of thousands for a big notebook. 16 MiB of `[]` would be 5.6 million,
# each walked by every copy, every validation and every run of the garbage collector,
# which holds the GIL: seconds-long stalls of the whole service, for minutes.
MAX_JSON_CONTAINERS = 500_000
# Characters in one code cell: no person writes a megabyte of code in one cell, and every
# code cell is compiled in the sandbox and shown back in tracebacks. Markdown and raw
# cells are never run (and may embed images as data URIs): only the byte size caps them.
MAX_CODE_CELL_CHARS = 1_000_000


class NotebookFormatError(ValueError):
    """The notebook cannot be used; ``str(e)`` names the problem (shown in a 400)."""


class JSONLimitError(ValueError):
    """JSON nested too deeply or holding too many arrays and objects; ``str(e)`` names
    the limit (it reads after "notebook" or "request body")."""


@dataclass(frozen=True)
class TestSpec:
    """One autograded test cell: its grade_id, its points, whether it hides tests, and
    its human name (:func:`test_title`)."""

    __test__ = False  # not a pytest class

    name: str
    max_points: float
    hidden: bool
    # not part of equality: the name is the test's identity, the title only its label
    title: str = field(default="", compare=False)


# -- reading -------------------------------------------------------------------------


def read_notebook(data: bytes | str | dict) -> NotebookNode:
    """Parse ``data`` into an nbformat 4 notebook, or raise NotebookFormatError.

    Untrusted input of up to many MiB: the caller runs this in a worker thread. Its
    shape is checked against :data:`MAX_CELLS`, :data:`MAX_JSON_DEPTH`,
    :data:`MAX_JSON_CONTAINERS` and :data:`MAX_CODE_CELL_CHARS` before anything walks
    it recursively (copying, nbformat's validation), so a deep or huge notebook costs one
    linear pass.
    """
    if isinstance(data, bytes | bytearray):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise NotebookFormatError(f"notebook is not UTF-8: {e}") from None
    if isinstance(data, str):
        try:
            data = decode_json(data)
        except JSONLimitError as e:
            raise NotebookFormatError(f"notebook {e}") from None
        except ValueError as e:
            raise NotebookFormatError(f"notebook is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise NotebookFormatError("notebook is not a JSON object")
    major = data.get("nbformat")
    if major != 4:
        raise NotebookFormatError(f"notebook is not nbformat 4 (found nbformat {major})")
    check_limits(data)
    try:
        # multi-line strings may be stored as lists of lines: join them like nbformat.reads
        nb = rejoin_lines(nbformat.from_dict(copy.deepcopy(data)))
        nbformat.validate(nb)
    except (nbformat.ValidationError, AttributeError, TypeError) as e:
        raise NotebookFormatError(f"notebook does not validate: {_short(e)}") from None
    except RecursionError:  # cannot happen below MAX_JSON_DEPTH; never a 500 if it does
        raise NotebookFormatError(f"notebook {_too_deep(MAX_JSON_DEPTH)}") from None
    return nb


# -- limits ----------------------------------------------------------------------------


def decode_json(
    text: bytes | str,
    max_depth: int = MAX_JSON_DEPTH,
    max_containers: int = MAX_JSON_CONTAINERS,
):
    """``json.loads`` for untrusted text of up to many MiB, in a worker thread.

    Raises ValueError naming the problem: JSONLimitError if the JSON nests deeper than
    ``max_depth`` or holds more than ``max_containers`` arrays and objects. The C
    decoder recurses, guarded by the interpreter's recursion limit: JSON nested some
    thousand levels deep raises RecursionError there, reported as too deep; what it
    returns is then checked by :func:`json_shape_problem`, which does not recurse.

    Two things keep the event loop's thread running while a worker thread decodes:
    objects are built by a Python function (so other threads get the GIL between
    objects), and the garbage collector waits until the value is checked (see
    :func:`_collector_paused`); JSON that is refused is freed before it resumes.
    """
    with _collector_paused():
        try:
            value = json.loads(text, object_pairs_hook=_json_object)
        except RecursionError:
            raise JSONLimitError(_too_deep(max_depth)) from None
        problem = json_shape_problem(value, max_depth, max_containers)
        if problem is not None:
            del value  # freed now: the collector never walks it
            raise JSONLimitError(problem)
    return value


def _json_object(pairs: list) -> dict:
    return dict(pairs)


def _too_deep(max_depth: int) -> str:
    return (
        f"is nested more than {max_depth} levels deep; at most {max_depth} levels of "
        "JSON arrays and objects are accepted"
    )


def json_shape_problem(
    value, max_depth: int = MAX_JSON_DEPTH, max_containers: int = MAX_JSON_CONTAINERS
) -> str | None:
    """What is wrong with the shape of decoded JSON ``value`` (itself level 1), or None.

    Iterative, stopping at the first container past a limit: safe and cheap on any input.
    """
    if not isinstance(value, dict | list):
        return None
    stack = [(value, 1)]
    containers = 1
    while stack:
        item, depth = stack.pop()
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, dict | list):
                if depth >= max_depth:
                    return _too_deep(max_depth)
                containers += 1
                if containers > max_containers:
                    return (
                        f"holds more than {max_containers:,} JSON arrays and objects; "
                        f"at most {max_containers:,} are accepted"
                    )
                stack.append((child, depth + 1))
    return None


_collector_lock = threading.Lock()
_collector_pauses = 0
_collector_was_enabled = True


@contextlib.contextmanager
def _collector_paused():
    """Hold off Python's cyclic garbage collector, process-wide, for the duration.

    Decoding MiB of JSON makes up to millions of lists and dicts at once; every
    collection that starts meanwhile walks all of them holding the GIL: the event
    loop's thread stalls (for seconds with 16 MiB of ``[]``) though decoding runs in
    another thread. JSON makes no reference cycles, so nothing waits to be collected.
    Overlapping pauses (requests decoding at once) resume it when the last one ends,
    and only if it was enabled before the first.
    """
    global _collector_pauses, _collector_was_enabled
    with _collector_lock:
        if _collector_pauses == 0:
            _collector_was_enabled = gc.isenabled()
            gc.disable()
        _collector_pauses += 1
    try:
        yield
    finally:
        with _collector_lock:
            _collector_pauses -= 1
            if _collector_pauses == 0 and _collector_was_enabled:
                gc.enable()


def check_limits(nb: dict) -> None:
    """Raise NotebookFormatError naming the limit if the notebook (a parsed JSON object)
    has more than :data:`MAX_CELLS` cells, nests deeper than :data:`MAX_JSON_DEPTH`,
    holds more than :data:`MAX_JSON_CONTAINERS` arrays and objects, or has a code cell
    longer than :data:`MAX_CODE_CELL_CHARS`. Cheapest check first."""
    cells = nb.get("cells")
    if isinstance(cells, list) and len(cells) > MAX_CELLS:
        raise NotebookFormatError(
            f"notebook has {len(cells):,} cells; at most {MAX_CELLS:,} cells are accepted"
        )
    problem = json_shape_problem(nb)
    if problem is not None:
        raise NotebookFormatError(f"notebook {problem}")
    for index, cell in enumerate(cells if isinstance(cells, list) else []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source")
        # a string, or a list of lines; anything else is left to nbformat's validation
        if isinstance(source, list):
            size = sum(len(line) for line in source if isinstance(line, str))
        else:
            size = len(source) if isinstance(source, str) else 0
        if size > MAX_CODE_CELL_CHARS:
            raise NotebookFormatError(
                f"cell {index + 1} has {size:,} characters of code; at most "
                f"{MAX_CODE_CELL_CHARS:,} characters a code cell are accepted"
            )


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
    """Check that ``nb`` is a usable nbgrader source notebook.

    nbgrader's own metadata validator runs first (on a copy, upgraded to the current
    schema like nbgrader does); then coursehub's rules: at least one graded cell (an
    autograded test, or a manually graded answer), non-negative points, balanced
    solution and hidden-test regions in the right kind of cell. Task cells (marks for
    work spread over the notebook) are not supported.
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
    graded = 0
    for index, cell in enumerate(checked.cells):
        meta = _meta(cell)
        gid = grade_id(cell)
        name = f"cell '{gid}'" if gid else f"cell {index + 1}"
        source = cell.source
        if meta:
            if meta.get("task"):
                raise NotebookFormatError(
                    f"{name} is a task cell (marks for work across the notebook), which "
                    "coursehub does not support: make it a manually graded answer"
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
        if is_test(cell) or is_manual(cell):
            graded += 1
    if graded == 0:
        raise NotebookFormatError(
            "notebook has no autograded test cell (a code cell with grade=true, "
            "solution=false) and no manually graded answer (grade=true, solution=true)"
        )
    _check_coursehub_metadata(checked)


def test_specs(nb) -> list[TestSpec]:
    """The autograded test cells of a source notebook, in order."""
    return [
        TestSpec(
            name=grade_id(cell),
            max_points=float(_meta(cell).get("points", 0)),
            hidden=_has_region(cell.source, BEGIN_HIDDEN),
            title=test_title(cell),
        )
        for cell in nb.cells
        if is_test(cell)
    ]


test_specs.__test__ = False  # not a pytest test

# -- coursehub's own metadata (``metadata.coursehub``) --------------------------------

#: longest human name of a test (``coursehub.test_name``, or its first comment line)
MAX_TEST_NAME = 120
#: hints of a question (``coursehub.hints`` in the notebook's metadata): how many, how long
MAX_HINTS = 10
MAX_HINT_CHARS = 2000


def _coursehub(holder) -> dict:
    meta = holder.get("metadata", {}).get("coursehub")
    return meta if isinstance(meta, dict) else {}


def test_title(cell) -> str:
    """A test cell's human name: ``metadata.coursehub.test_name`` if the author set one;
    else its first non-blank line if that is a ``#`` comment outside every hidden region
    (a hidden test's name must never come from what it hides); else its grade_id."""
    named = _coursehub(cell).get("test_name")
    if isinstance(named, str) and named.strip():
        return named.strip()[:MAX_TEST_NAME]
    source = _text(cell.get("source", ""))
    inside_hidden = False
    for line in source.split("\n"):
        if BEGIN_HIDDEN in line:
            inside_hidden = True
        if inside_hidden:
            break  # the first line with words is hidden (or a hidden region's marker)
        if not line.strip():
            continue
        title = _comment_text(line.strip())
        if title:
            return title[:MAX_TEST_NAME]
        break
    return grade_id(cell) or ""


test_title.__test__ = False  # not a pytest test

#: a C preprocessor line, not a comment (a C test cell may start with one)
_PREPROCESSOR = re.compile(r"#\s*(include|define|undef|if|ifdef|ifndef|else|elif|endif|pragma)\b")


def _comment_text(line: str) -> str:
    """The words of a whole-line comment in any of the languages' syntaxes (``#``,
    ``//``, ``/* ... */``), else ""."""
    if line.startswith("#") and not _PREPROCESSOR.match(line):
        return line.lstrip("#").strip()
    if line.startswith("//"):
        return line.lstrip("/").strip()
    if line.startswith("/*"):
        return line[2:].split("*/", 1)[0].strip(" *")
    return ""


def hints_of(nb) -> list[str]:
    """A source notebook's hints (``metadata.coursehub.hints``), checked: a list of at
    most :data:`MAX_HINTS` non-empty strings of at most :data:`MAX_HINT_CHARS`
    characters; NotebookFormatError naming what is wrong."""
    hints = _coursehub(nb).get("hints", [])
    if hints is None:
        return []
    where = "metadata.coursehub.hints"
    if not isinstance(hints, list):
        raise NotebookFormatError(f"{where} must be a list of strings")
    if len(hints) > MAX_HINTS:
        raise NotebookFormatError(f"{where} has {len(hints)} hints; at most {MAX_HINTS}")
    for number, hint in enumerate(hints, start=1):
        if not isinstance(hint, str) or not hint.strip():
            raise NotebookFormatError(f"{where}: hint {number} must be a non-empty string")
        if len(hint) > MAX_HINT_CHARS:
            raise NotebookFormatError(
                f"{where}: hint {number} is longer than {MAX_HINT_CHARS} characters"
            )
    return [hint.strip() for hint in hints]


def _check_coursehub_metadata(nb) -> None:
    """coursehub's own metadata in a source: its hints, its tests' names."""
    hints_of(nb)
    for index, cell in enumerate(nb.cells):
        if "test_name" not in _coursehub(cell):
            continue
        name = f"cell '{grade_id(cell)}'" if grade_id(cell) else f"cell {index + 1}"
        named = _coursehub(cell)["test_name"]
        if not isinstance(named, str) or not named.strip():
            raise NotebookFormatError(f"{name}: coursehub.test_name must be a non-empty string")
        if len(named) > MAX_TEST_NAME:
            raise NotebookFormatError(
                f"{name}: coursehub.test_name is longer than {MAX_TEST_NAME} characters"
            )


@dataclass(frozen=True)
class ManualSpec:
    """One manually graded answer: its grade_id, its points, code or markdown."""

    name: str
    max_points: float
    cell_type: str


def is_manual(cell) -> bool:
    """A manually graded answer: graded and a solution (nbgrader's "Manually graded
    answer"), code or markdown. Autograding runs a code one but never scores it."""
    meta = _meta(cell)
    return bool(meta.get("grade")) and bool(meta.get("solution"))


def manual_specs(nb) -> list[ManualSpec]:
    """The manually graded answers of a source notebook, in order."""
    return [
        ManualSpec(grade_id(cell), float(_meta(cell).get("points", 0)), cell.cell_type)
        for cell in nb.cells
        if is_manual(cell)
    ]


def manual_answered(source_nb, merged_nb) -> dict[str, bool]:
    """Whether each manually graded answer of a merged notebook (:func:`merge_answers`)
    differs from what the learner received. nbgrader scores one left as released 0
    without asking for a grade (its checksum is the released cell's)."""
    specs = manual_specs(source_nb)
    if not specs:
        return {}
    stubs = _solution_stubs(source_nb)
    merged = {grade_id(c): _text(c.source) for c in merged_nb.cells if is_manual(c)}
    return {s.name: merged.get(s.name, stubs.get(s.name)) != stubs.get(s.name) for s in specs}


def total_points(nb) -> float:
    """A source notebook's points, autograded and manual, as nbgrader counts them."""
    return sum(s.max_points for s in test_specs(nb)) + sum(s.max_points for s in manual_specs(nb))


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
    clear_solutions = ClearSolutions(code_stub=code_stubs(nb))
    steps = [
        LockCells,
        lambda: clear_solutions,
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
    # hints are revealed one at a time (GET questions/{id}/hints), never all at once
    coursehub = nb.metadata.get("coursehub")
    if isinstance(coursehub, dict):
        coursehub.pop("hints", None)
    return nb


def code_stubs(nb) -> dict[str, str]:
    """nbgrader's ``ClearSolutions.code_stub`` for ``nb``: its defaults, and the stub of
    the notebook's language (:mod:`grader.grading.languages`) under the key nbgrader
    looks up, ``metadata.kernelspec.language`` ("R" for IRkernel). An unknown kernel is
    a NotebookFormatError naming it."""
    from nbgrader.preprocessors import ClearSolutions

    from .languages import LANGUAGES, language_of

    stubs = dict(ClearSolutions().code_stub)
    stubs.update(nbgrader_code_stubs())
    spec = nb.get("metadata", {}).get("kernelspec") or {}
    key = spec.get("language", "python") if isinstance(spec, dict) else "python"
    if isinstance(key, str):
        stubs[key] = LANGUAGES[language_of(nb)].code_stub
    return stubs


def nbgrader_code_stubs() -> dict[str, str]:
    """``ClearSolutions.code_stub`` entries for every language coursehub grades, keyed
    by the kernelspec ``language`` values their kernels declare ("R" for IRkernel), for
    nbgrader's own configuration."""
    from .languages import LANGUAGES

    stubs = {}
    for lang in LANGUAGES.values():
        for key in (lang.name, lang.display, lang.display.lower()):
            stubs[key] = lang.code_stub
    return stubs


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


#: markdown reduced to words for search: images, links' targets, markup characters
_MARKDOWN_NOISE = (
    (re.compile(r"!\[[^\]]*\]\([^)]*\)"), " "),  # images (attachments included)
    (re.compile(r"\[([^\]]*)\]\([^)]*\)"), r"\1"),  # links: their text
    (re.compile(r"<[^>]+>"), " "),  # HTML tags
    (re.compile(r"[#*_`>|~]+"), " "),
    (re.compile(r"\s+"), " "),
)
DESCRIPTION_LENGTH = 1000


def description_of(nb) -> str:
    """The task of a question as plain text: its first markdown cell with the markup
    taken out, at most :data:`DESCRIPTION_LENGTH` characters (what search reads).

    Solution cells are skipped: a manually graded markdown answer holds the
    instructor's answer in the source, and the description is shown to learners."""
    for cell in nb.get("cells", ()):
        if cell.get("cell_type") == "markdown" and not is_solution(cell):
            text = _text(cell.get("source", ""))
            for pattern, replacement in _MARKDOWN_NOISE:
                text = pattern.sub(replacement, text)
            return text.strip()[:DESCRIPTION_LENGTH]
    return ""


def code_cells(nb) -> list[NotebookNode]:
    """The code cells of ``nb`` in order: what an executor runs."""
    return [c for c in nb.cells if c.cell_type == "code"]
