"""Trying a question before learners do: its reference solution and its stub, graded.

An nbgrader source notebook holds the reference solution (its solution cells as the
instructor wrote them) and yields the stub learners are given (`student_version`). A
question is sound when the reference scores full marks and the stub does not: else a
test is wrong, or passes without any answer. :class:`QuestionValidator` grades both with
the real executor, exactly as a learner's submission would be graded, and says what is
wrong in sentences an instructor can act on.

The reference's feedback is what a learner handing in the reference would get (a
hidden test: its outcome and an error type; its details never leave the sandbox's
trusted process). Of the stub, only its score is reported: nothing it ran is returned.

These runs are not queued (an instructor waits for the answer), so they are limited
here instead: `concurrency` at once in this process, and one at a time per instructor.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from traitlets import Integer
from traitlets.config import LoggingConfigurable

from ..grading.questiontypes import UnknownQuestionType, question_type
from ..grading.run import GradingReport
from .authoring import QuestionError, prepare_notebooks

# longest failure shown in a problem sentence (the test's feedback has the whole of it)
MAX_DETAIL_CHARS = 300


class ValidationBusy(Exception):
    """No validation may start now; str(e) says why, ``retry_after`` when to try again."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class Validation:
    """What grading a question's reference solution and its stub found."""

    reference: GradingReport
    stub: GradingReport
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "problems": self.problems,
            "reference": self.reference.to_dict(),
            # the score only: nothing the stub's run printed or raised
            "stub": {"score": self.stub.score, "max_score": self.stub.max_score},
        }


class QuestionValidator(LoggingConfigurable):
    """Grades a source notebook's reference solution and stub, a few at a time."""

    concurrency = Integer(
        2,
        help="""Validations (each grades a question twice, one run after the other) that
        may run at once in this process; one more is refused with a 429. They run
        outside the grading queue, beside its workers: keep this small.""",
    ).tag(config=True)
    retry_after = Integer(
        5, help="Seconds a refused validation is told to wait (Retry-After)."
    ).tag(config=True)

    def __init__(self, executor, **kwargs):
        super().__init__(**kwargs)
        self.executor = executor
        self._running: set[str] = set()  # who is validating now

    async def validate(self, who: str, source, type_name: str = "notebook") -> Validation:
        """Grade the reference and the stub of ``source`` for the instructor ``who``.

        Raises ValidationBusy, QuestionError (not a valid source: nothing ran), or the
        executor's SandboxUnavailable / SandboxFailure (never a verdict on the question).
        """
        if who in self._running:
            raise ValidationBusy(
                "you are validating a question already: wait for its result", self.retry_after
            )
        if len(self._running) >= self.concurrency:
            raise ValidationBusy(
                f"{len(self._running)} questions are being validated: try again shortly",
                self.retry_after,
            )
        self._running.add(who)
        try:
            kind, source_nb, reference_nb, stub_nb = await asyncio.to_thread(
                _prepare, source, type_name
            )
            if not kind.graded:  # a flashcard: valid once prepared, nothing to run
                empty = GradingReport(score=0.0, max_score=0.0, tests=[])
                return Validation(empty, empty, [])
            # one run after the other: a validation holds one sandbox at a time
            reference = await kind.grade(self.executor, source_nb, reference_nb)
            stub = await kind.grade(self.executor, source_nb, stub_nb)
        finally:
            self._running.discard(who)
        return judge(reference, stub)


def _prepare(source, type_name: str):
    """(question type, source, reference as an answer, stub as an answer), checked as
    saving checks them (QuestionError naming what is wrong)."""
    try:
        kind = question_type(type_name)
    except UnknownQuestionType as e:
        raise QuestionError(str(e)) from None
    source_nb, student_nb, _ = prepare_notebooks(source, type_name)
    if not kind.graded:
        return kind, None, None, None
    return (
        kind,
        kind.read_source(source_nb),
        kind.read_answer(source_nb),
        kind.read_answer(student_nb),
    )


def judge(reference: GradingReport, stub: GradingReport) -> Validation:
    """The problems a reference's and a stub's reports show, in sentences. Only
    autograded points are judged: answers graded by hand are the instructor's to score
    (they count in `max_score`, as in nbgrader, never in an autograded `score`)."""
    problems = []
    autograded = sum(t["max_points"] for t in reference.tests)
    if autograded == 0:
        return Validation(reference, stub, problems)  # nothing here to check by running
    of = (
        f"{autograded:g} autograded points"
        if autograded < reference.max_score
        else (f"{autograded:g} points")
    )
    if reference.score < autograded:
        failing = "; ".join(
            f"test '{t['name']}' {'fails' if t['points'] == 0 else 'gives part of its points'}"
            f" ({_first_line(t['message'])})"
            for t in reference.tests
            if not t["passed"]
        )
        problems.append(
            f"the reference solution scores {reference.score:g} of {of}: {failing}. "
            "Fix the solution or the test."
        )
    if stub.score >= autograded:
        problems.append(
            f"the stub learners get already scores full marks ({stub.score:g} of {of}) "
            "without any answer: a test must fail until the question is answered."
        )
    return Validation(reference, stub, problems)


def _first_line(message: str) -> str:
    lines = (message or "").strip().splitlines()
    line = lines[0] if lines else "failed"
    return line if len(line) <= MAX_DETAIL_CHARS else line[:MAX_DETAIL_CHARS] + "..."
