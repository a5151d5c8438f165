"""Grade one submission: merge the learner's answers, run the cells, score the tests.

:func:`grade` is the only step that waits on a sandbox; :func:`prepare` and
:func:`report` are the pure steps before and after, usable on their own.
"""

from __future__ import annotations

import ast
import asyncio
import re
from dataclasses import dataclass, field

from nbformat import NotebookNode

from ..executors.base import CellOutcome, CellSpec, Executor
from .languages import Language, grading_language
from .notebooks import (
    BEGIN_HIDDEN,
    END_HIDDEN,
    code_cells,
    is_locked,
    is_test,
    manual_answered,
    manual_specs,
    merge_answers,
    test_specs,
)
from .scoring import apply_outcomes, score_tests
from .variants import seed_setup


@dataclass
class GradingReport:
    """A graded submission: total, maximum, and per-test feedback.

    ``tests`` items have ``name`` (the grade_id), ``title`` (its human name),
    ``points``, ``max_points``, ``passed``, ``hidden``, ``message``. ``manual`` lists the manually graded answers, autograding left to an
    instructor: ``cell``, ``max_points``, ``points`` (0.0 for one left as released,
    nbgrader's rule; None to be graded). ``score`` is the autograded points;
    ``max_score`` counts the manual answers' points too, as nbgrader does.
    ``notebook`` is the executed notebook (hidden tests included: for instructors only;
    not part of :meth:`to_dict`).
    """

    score: float
    max_score: float
    tests: list[dict]
    notebook: NotebookNode | None = field(default=None, repr=False)
    manual: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "score": self.score,
            "max_score": self.max_score,
            "tests": [dict(t) for t in self.tests],
            "manual": [dict(m) for m in self.manual],
        }


def hidden_line_ranges(source: str) -> tuple[tuple[int, int], ...]:
    """1-based, inclusive line ranges of a test cell's hidden-test regions (markers too)."""
    ranges, start = [], None
    for number, line in enumerate(source.split("\n"), start=1):
        if BEGIN_HIDDEN in line and start is None:
            start = number
        elif END_HIDDEN in line and start is not None:
            ranges.append((start, number))
            start = None
    if start is not None:
        ranges.append((start, source.count("\n") + 1))
    return tuple(ranges)


def import_statements(source: str) -> str:
    """The top-level import statements of a cell, or "" (not Python: none)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return ""
    imports = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    return "\n".join(ast.unparse(node) for node in imports)


def setup_statements(cell, lang: Language | None = None) -> str:
    """What the trusted side runs after a locked cell: its imports, and a variant
    cell's ``SEED`` line (so a learner rebinding ``SEED`` does not move the tests); in
    another language, the lines its ``setup_pattern`` matches (``library(...)``...)."""
    if lang is not None and lang.foreign:
        if not lang.setup_pattern:
            return ""
        pattern = re.compile(lang.setup_pattern, re.MULTILINE)
        return "\n".join(match.group(0) for match in pattern.finditer(cell.source))
    return "\n".join(part for part in (import_statements(cell.source), seed_setup(cell)) if part)


def prepare(source_nb, learner_nb) -> tuple[NotebookNode, list[CellSpec]]:
    """The merged notebook and its code cells as the sandbox runs them, in order: test
    cells (always the source's, :func:`merge_answers`) run in the trusted process."""
    merged = merge_answers(source_nb, learner_nb)
    lang = grading_language(source_nb)
    cells = [
        CellSpec(cell.source, test=True, hidden_lines=hidden_line_ranges(cell.source))
        if is_test(cell)
        else CellSpec(cell.source, imports=setup_statements(cell, lang) if is_locked(cell) else "")
        for cell in code_cells(merged)
    ]
    return merged, cells


def report(source_nb, merged_nb, outcomes: list[CellOutcome]) -> GradingReport:
    """Score the executed cells by nbgrader's rules."""
    specs = test_specs(source_nb)
    hidden = {spec.name: spec.hidden for spec in specs}
    titles = {spec.name: spec.title for spec in specs}
    executed = apply_outcomes(merged_nb, outcomes)
    tests = score_tests(executed, outcomes, hidden, titles)
    answered = manual_answered(source_nb, merged_nb)
    manual = [
        {
            "cell": spec.name,
            "max_points": spec.max_points,
            "points": None if answered[spec.name] else 0.0,
        }
        for spec in manual_specs(source_nb)
    ]
    return GradingReport(
        score=sum(t["points"] for t in tests),
        max_score=sum(t["max_points"] for t in tests) + sum(m["max_points"] for m in manual),
        tests=tests,
        notebook=executed,
        manual=manual,
    )


async def grade(executor: Executor, source_nb, learner_nb) -> GradingReport:
    """Grade ``learner_nb`` against the question's ``source_nb`` with ``executor``.

    Merging and scoring run in a worker thread: a big notebook never stalls the loop.
    """
    merged, cells = await asyncio.to_thread(prepare, source_nb, learner_nb)
    job_language = grading_language(source_nb).job_language()
    if job_language is None:
        outcomes = await executor.run(cells)
    else:
        outcomes = await executor.run(cells, language=job_language)
    return await asyncio.to_thread(report, source_nb, merged, outcomes)
