"""Question types: what a question is made of, how an answer is read, how it is graded.

The queue, the authoring path and the submission handler go through this seam only, so a
new kind of question (multiple choice, fill in the blank...) is a new `QuestionType`
registered under the `coursehub.question_types` entry points, and touches none of them.
Every type stores its question as an nbgrader source notebook (`questions.source_notebook`)
and the learner's answer as a notebook, so `nbgrader autograde` can grade the same files.

Built in: ``notebook`` (code answered in solution cells), ``choice`` and ``fill_in``
(:mod:`grader.grading.choices`: an answer cell checked by generated hidden tests, graded
like any notebook), ``flashcard`` (:mod:`grader.grading.flashcards`: rated, never
submitted). Any of them may be a seeded variant (:mod:`grader.grading.variants`): what a
learner is served and what their submission is graded against go through
:meth:`QuestionType.for_learner` and :meth:`QuestionType.source_for`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from importlib.metadata import entry_points

from .notebooks import read_notebook, student_version, total_points, validate_source
from .run import GradingReport, grade
from .variants import check_variant, with_seed


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
    #: False for a type that is never submitted (a flashcard): nothing to grade or validate
    graded = True

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

    def for_learner(self, student_nb: dict, seed: int) -> dict:
        """The student notebook as one learner is served it (``seed``:
        :func:`~grader.grading.variants.variant_seed`): their variant's ``SEED``, and
        ``metadata.coursehub.type`` (the front end picks its widgets by it). A copy: the
        stored notebook is never changed."""
        nb = with_seed(student_nb, seed)
        nb = copy.copy(nb) if nb is student_nb else nb
        nb["metadata"] = metadata = dict(nb.get("metadata") or {})
        coursehub = metadata.get("coursehub")
        metadata["coursehub"] = {
            **(coursehub if isinstance(coursehub, dict) else {}),
            "type": self.name,
        }
        return nb

    def source_for(self, source_nb, seed: int):
        """The source one learner's submission is graded against: their variant."""
        return with_seed(source_nb, seed)


def typed(nb, name: str):
    """``nb`` (a notebook being prepared) with ``metadata.coursehub.type`` set."""
    coursehub = nb.metadata.get("coursehub")
    if not isinstance(coursehub, dict):
        coursehub = nb.metadata["coursehub"] = {}
    coursehub["type"] = name
    return nb


class NotebookQuestion(QuestionType):
    """Code answered in solution cells, graded by autograded (and hidden) test cells."""

    name = "notebook"

    def prepare(self, source) -> PreparedQuestion:
        nb = read_notebook(source)
        validate_source(nb)
        check_variant(nb)
        student = typed(student_version(nb), self.name)
        return PreparedQuestion(_as_dict(nb), _as_dict(student), total_points(nb))

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
        from .choices import ChoiceQuestion, FillInQuestion
        from .flashcards import FlashcardQuestion

        # built whole, then published at once: a thread never sees half the types
        found = {
            kind.name: kind()
            for kind in (NotebookQuestion, ChoiceQuestion, FillInQuestion, FlashcardQuestion)
        }
        for entry in entry_points(group="coursehub.question_types"):
            found.setdefault(entry.name, entry.load()())
        _TYPES.update(found)
    try:
        return _TYPES[name]
    except KeyError:
        raise UnknownQuestionType(f"unknown question type: {name}") from None


def type_names() -> list[str]:
    """Every registered type's name, built-in ones first."""
    question_type("notebook")
    return list(_TYPES)


def _as_dict(value):
    """A plain JSON-able copy of a NotebookNode, as stored and served."""
    if isinstance(value, dict):
        return {k: _as_dict(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_dict(v) for v in value]
    return value
