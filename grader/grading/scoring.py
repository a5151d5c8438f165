"""Sandbox results -> nbgrader outputs -> per-test points and feedback.

Each :class:`~grader.executors.base.CellOutcome` becomes the outputs a Jupyter kernel
would have produced (stdout and stderr streams, an ``execute_result`` with
``text/plain``, an ``error``), set on the executed notebook's code cells; then every
autograded test cell is scored by nbgrader's own ``determine_grade``, so the rules are
nbgrader's exactly: an error or anything on stderr gives 0, a numeric result gives
partial credit, anything else full marks.

Feedback for a hidden test never contains its source, its exception's value or its
traceback (all of which can quote hidden test code), nor its output: only an outcome and
an error type from a fixed list (the built-in exceptions' names, the limits, "error").
A test cell with visible asserts and a hidden region reports a failing visible assert
like a visible test. An answer cell with a syntax error is named in the feedback of
every test that fails after it: the error the learner must fix is that one.
"""

from __future__ import annotations

import builtins
import copy
import re

from nbformat import NotebookNode
from nbformat.v4 import new_output

from ..executors.base import REASONS, CellOutcome
from .languages import LANGUAGES
from .notebooks import _meta, grade_id, is_solution, is_test

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: the error types a hidden test's feedback may name; anything else is "error"
#: (Python's built-in exceptions, and each other language's fixed list)
ERROR_TYPES = frozenset(
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
) | frozenset(name for lang in LANGUAGES.values() for name in lang.error_names)
SYNTAX_ERRORS = ("SyntaxError", "IndentationError", "TabError")
MAX_MESSAGE_LINES = 30
MAX_MESSAGE_CHARS = 4000


def cell_outputs(outcome: CellOutcome) -> list[NotebookNode]:
    """The nbformat outputs a kernel would have produced for ``outcome``, in order."""
    outputs = []
    if outcome.stdout:
        outputs.append(new_output("stream", name="stdout", text=outcome.stdout))
    if outcome.stderr:
        outputs.append(new_output("stream", name="stderr", text=outcome.stderr))
    if outcome.status == "ok":
        if outcome.result is not None:
            outputs.append(
                new_output(
                    "execute_result", data={"text/plain": outcome.result}, execution_count=None
                )
            )
    elif outcome.status == "error":
        outputs.append(
            new_output(
                "error",
                ename=outcome.ename or "Error",
                evalue=outcome.evalue or "",
                traceback=list(outcome.traceback),
            )
        )
    else:  # not_run: a test that never ran must not count as passed
        outputs.append(
            new_output(
                "error",
                ename="CellNotRun",
                evalue=outcome.reason or "error",
                traceback=[f"cell not run: {outcome.reason or 'error'}"],
            )
        )
    return outputs


def apply_outcomes(nb, outcomes: list[CellOutcome]) -> NotebookNode:
    """A copy of ``nb`` with each code cell's outputs set from its outcome, in order."""
    executed = copy.deepcopy(nb)
    code = [c for c in executed.cells if c.cell_type == "code"]
    if len(code) != len(outcomes):
        raise ValueError(f"{len(outcomes)} outcomes for {len(code)} code cells")
    for count, (cell, outcome) in enumerate(zip(code, outcomes, strict=True), start=1):
        cell.outputs = cell_outputs(outcome)
        cell.execution_count = count if outcome.status != "not_run" else None
        for output in cell.outputs:
            if output.output_type == "execute_result":
                output.execution_count = count
    return executed


def score_tests(
    executed_nb,
    outcomes: list[CellOutcome],
    hidden: dict[str, bool],
    titles: dict[str, str] | None = None,
) -> list[dict]:
    """Points and feedback for every autograded test cell of the executed notebook.

    ``hidden`` maps a test's grade_id to whether it has hidden tests, ``titles`` to its
    human name (both from the *source* notebook's
    :func:`~grader.grading.notebooks.test_specs`: never from the learner's copy); a
    test without a title is called by its grade_id.
    """
    titles = titles or {}
    from nbgrader.utils import determine_grade

    code = [c for c in executed_nb.cells if c.cell_type == "code"]
    tests = []
    answer_problem = None  # the latest answer cell that could not even be compiled
    for cell, outcome in zip(code, outcomes, strict=True):
        if not is_test(cell):
            if is_solution(cell) or not _meta(cell):
                problem = syntax_problem(cell, outcome)
                answer_problem = problem or (None if is_solution(cell) else answer_problem)
            continue
        name = grade_id(cell)
        max_points = float(_meta(cell).get("points", 0))
        try:
            points, max_points = determine_grade(cell)
            points = float(points)
            problem = None
        except ValueError:
            # nbgrader refuses results above the maximum; coursehub gives no credit
            points, problem = 0.0, "partial credit greater than the test's points"
        is_hidden = hidden.get(name, False)
        visible_failure = (
            outcome.status == "error" and not outcome.hidden_failure and outcome.reason is None
        )
        if is_hidden and not (visible_failure and not problem):
            message = hidden_message(outcome, points, max_points, problem)
        else:
            message = visible_message(outcome, points, max_points, problem)
        if answer_problem and points < max_points:
            message = _cap(f"{answer_problem}\n{message}")
        tests.append(
            {
                "name": name,
                "title": titles.get(name) or name,
                "points": points,
                "max_points": max_points,
                "passed": points == max_points,
                "hidden": is_hidden,
                "message": message,
            }
        )
    return tests


def syntax_problem(cell, outcome: CellOutcome) -> str | None:
    """What to tell a learner whose answer cell is not valid Python, or None."""
    if outcome.status != "error" or outcome.ename not in SYNTAX_ERRORS:
        return None
    where = f"your answer '{grade_id(cell)}'" if grade_id(cell) else "a cell you added"
    lines = [ANSI.sub("", line) for line in outcome.traceback[-6:]]
    return _cap("\n".join([f"{outcome.ename} in {where}: fix it first", *lines]))


def _error_kind(outcome: CellOutcome) -> str:
    """From a fixed list: a limit, a built-in exception's name, or "error"."""
    if outcome.reason:
        return outcome.reason if outcome.reason in REASONS else "error"
    if outcome.status == "error":
        return outcome.ename if outcome.ename in ERROR_TYPES else "error"
    return "output on stderr"


def hidden_message(outcome: CellOutcome, points, max_points, problem=None) -> str:
    """An outcome and an error type only: nothing that could quote the hidden test."""
    if problem:
        return "hidden test failed: invalid partial credit"
    if outcome.status == "not_run":
        return f"hidden test not run: {_error_kind(outcome) if outcome.reason else 'error'}"
    if outcome.status == "error" or outcome.stderr:
        return f"hidden test failed: {_error_kind(outcome)}"
    if points == max_points:
        return "hidden test passed"
    return f"hidden test partially passed: {points:g} of {max_points:g} points"


def visible_message(outcome: CellOutcome, points, max_points, problem=None) -> str:
    """A short message: the error and the cell's traceback lines, or the outcome."""
    if problem:
        return f"failed: {problem}"
    if outcome.status == "not_run":
        return f"not run: {outcome.reason or 'error'}"
    if outcome.status == "error":
        head = f"{outcome.ename}: {outcome.evalue}" if outcome.evalue else f"{outcome.ename}"
        if outcome.reason:
            head = f"{outcome.reason}: {head}"
        lines = [ANSI.sub("", line) for line in outcome.traceback]
        # the traceback ends with the "Name: value" line already shown as the head
        if lines and lines[-1].startswith(f"{outcome.ename}"):
            lines = lines[:-1]
        return _cap("\n".join([head, *lines[-MAX_MESSAGE_LINES:]]))
    if outcome.stderr:
        return _cap("failed: output on stderr:\n" + outcome.stderr)
    if points == max_points:
        return "passed"
    return f"partial credit: {points:g} of {max_points:g} points"


def _cap(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + "..."
