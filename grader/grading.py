"""Grade one submission: merge the learner's answers, run the cells, score the tests.

:func:`grade` is the only step that waits on a sandbox; :func:`prepare` and
:func:`report` are the pure steps before and after, usable on their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nbformat import NotebookNode

from .executors.base import CellOutcome, Executor
from .notebooks import code_cells, merge_answers, test_specs
from .scoring import apply_outcomes, score_tests


@dataclass
class GradingReport:
    """A graded submission: total, maximum, and per-test feedback.

    ``tests`` items have ``name``, ``points``, ``max_points``, ``passed``, ``hidden``,
    ``message``. ``notebook`` is the executed notebook (hidden tests included: for
    instructors only; not part of :meth:`to_dict`).
    """

    score: float
    max_score: float
    tests: list[dict]
    notebook: NotebookNode | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        return {
            "score": self.score,
            "max_score": self.max_score,
            "tests": [dict(t) for t in self.tests],
        }


def prepare(source_nb, learner_nb) -> tuple[NotebookNode, list[str]]:
    """The merged notebook and the sources of its code cells, in execution order."""
    merged = merge_answers(source_nb, learner_nb)
    return merged, [cell.source for cell in code_cells(merged)]


def report(source_nb, merged_nb, outcomes: list[CellOutcome]) -> GradingReport:
    """Score the executed cells by nbgrader's rules."""
    hidden = {spec.name: spec.hidden for spec in test_specs(source_nb)}
    executed = apply_outcomes(merged_nb, outcomes)
    tests = score_tests(executed, outcomes, hidden)
    return GradingReport(
        score=sum(t["points"] for t in tests),
        max_score=sum(t["max_points"] for t in tests),
        tests=tests,
        notebook=executed,
    )


async def grade(executor: Executor, source_nb, learner_nb) -> GradingReport:
    """Grade ``learner_nb`` against the question's ``source_nb`` with ``executor``."""
    merged, cells = prepare(source_nb, learner_nb)
    outcomes = await executor.run(cells)
    return report(source_nb, merged, outcomes)
