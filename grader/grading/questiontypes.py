"""Question types: what a question is made of, how an answer is read, how it is graded.

The queue, the authoring path and the submission handler go through this seam only, so a
new kind of question (multiple choice, fill in the blank...) is a new `QuestionType`
registered under the `coursehub.question_types` entry points, and touches none of them.
Every type stores its question as an nbgrader source notebook (`questions.source_notebook`)
and the learner's answer as a notebook, so `nbgrader autograde` can grade the same files.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points

from .notebooks import read_notebook, student_version, total_points, validate_source
from .run import GradingReport, grade


@dataclass
class PreparedQuestion:
    """What saving a question derives from its source, once: served and stored as is."""

    source: dict
    student: dict
    max_score: float


class QuestionType:
    """The interface; methods other than :meth:`grade` are synchronous (run them in a
    worker thread: notebooks may be MiB)."""

    name = ""

    def prepare(self, source) -> PreparedQuestion:
        """Validate a source and derive the learner's version and the maximum score;
        raises ValueError naming the problem."""
        raise NotImplementedError

    def read_answer(self, data):
        """A submitted answer, checked (ValueError naming the problem: a 400)."""
        raise NotImplementedError

    def read_source(self, data):
        """A stored source, parsed for :meth:`grade`."""
        raise NotImplementedError

    async def grade(self, executor, source, answer) -> GradingReport:
        raise NotImplementedError


class NotebookQuestion(QuestionType):
    """Code answered in solution cells, graded by autograded (and hidden) test cells."""

    name = "notebook"

    def prepare(self, source) -> PreparedQuestion:
        nb = read_notebook(source)
        validate_source(nb)
        return PreparedQuestion(_as_dict(nb), _as_dict(student_version(nb)), total_points(nb))

    def read_answer(self, data):
        return read_notebook(data)

    def read_source(self, data):
        return read_notebook(data)

    async def grade(self, executor, source, answer) -> GradingReport:
        return await grade(executor, source, answer)


class UnknownQuestionType(LookupError):
    pass


_TYPES: dict[str, QuestionType] = {}


def question_type(name: str) -> QuestionType:
    """The registered type called ``name`` (built in, or from an entry point)."""
    if not _TYPES:
        _TYPES[NotebookQuestion.name] = NotebookQuestion()
        for entry in entry_points(group="coursehub.question_types"):
            _TYPES.setdefault(entry.name, entry.load()())
    try:
        return _TYPES[name]
    except KeyError:
        raise UnknownQuestionType(f"unknown question type: {name}") from None


def _as_dict(value):
    """A plain JSON-able copy of a NotebookNode, as stored and served."""
    if isinstance(value, dict):
        return {k: _as_dict(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_dict(v) for v in value]
    return value
