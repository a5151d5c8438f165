"""Saving questions: one path for the REST API and the course loader.

A question is saved from its nbgrader source notebook; the student version and the
maximum score are derived here, once, so every reader sees the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import orm
from ..grading.questiontypes import question_type

DIFFICULTIES = ("easy", "medium", "hard")


class QuestionError(ValueError):
    """A question that cannot be saved; the message names the problem."""


@dataclass
class QuestionFields:
    slug: str
    title: str
    category: str = ""
    difficulty: str = ""
    tags: list[str] = field(default_factory=list)
    position: int | None = None


def prepare_notebooks(source, type_name: str = "notebook") -> tuple[dict, dict, float]:
    """(source, student version, max score) from a source notebook, or QuestionError."""
    try:
        prepared = question_type(type_name).prepare(source)
    except ValueError as e:
        raise QuestionError(f"notebook: {e}") from None
    return prepared.source, prepared.student, prepared.max_score


def check_difficulty(difficulty: str) -> str:
    if difficulty and difficulty not in DIFFICULTIES:
        raise QuestionError(f"difficulty must be one of {', '.join(DIFFICULTIES)}")
    return difficulty


#: `create_question`'s default release: at once
NOW = object()


def create_question(
    db, module: orm.Module, fields: QuestionFields, source, released=NOW
) -> orm.Question:
    """A new question, released at once unless `released` says when (None: a draft)."""
    source_nb, student_nb, max_score = prepare_notebooks(source)
    position = fields.position
    if position is None:
        position = len(module.questions)
    question = orm.Question(
        module=module,
        slug=fields.slug,
        title=fields.title,
        category=fields.category,
        difficulty=check_difficulty(fields.difficulty),
        tags=fields.tags,
        position=position,
        max_score=max_score,
        source_notebook=source_nb,
        student_notebook=student_nb,
        version=1,
        released=orm.utcnow() if released is NOW else released,
    )
    db.add(question)
    return question


def replace_notebook(question: orm.Question, source) -> None:
    """A new version of the question's notebook; earlier submissions keep their scores."""
    source_nb, student_nb, max_score = prepare_notebooks(source, question.type)
    if source_nb == question.source_notebook:
        return
    question.source_notebook = source_nb
    question.student_notebook = student_nb
    question.max_score = max_score
    question.version += 1
