"""Saving questions: one path for the REST API, the course loader and the nbgrader import.

A question is saved from its nbgrader source notebook; the student version, the
maximum score, the description (the task as plain text, for search) and the hints
(``metadata.coursehub.hints``) are derived here, once, so every reader sees the same
thing. Its type (:mod:`grader.grading.questiontypes`) is the one given, else the one
the notebook declares (``metadata.coursehub.type``), else "notebook" (a new question)
or the question's own (a new version).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field

from .. import orm
from ..grading.languages import LANGUAGES, language_of
from ..grading.notebooks import NotebookFormatError, description_of, hints_of
from ..grading.questiontypes import UnknownQuestionType, question_type

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
    # "": the type the notebook declares (metadata.coursehub.type), else "notebook"
    type: str = ""


def declared_type(source) -> str | None:
    """The type a source notebook declares in ``metadata.coursehub.type``, or None (also
    for what is not a notebook at all: preparing it names that problem)."""
    notebook = source
    if isinstance(source, bytes | bytearray | str):
        try:
            notebook = json.loads(source)
        except ValueError:
            return None
    metadata = notebook.get("metadata") if isinstance(notebook, dict) else None
    coursehub = metadata.get("coursehub") if isinstance(metadata, dict) else None
    declared = coursehub.get("type") if isinstance(coursehub, dict) else None
    return declared if isinstance(declared, str) and declared else None


def check_type(type_name) -> str:
    """A registered question type's name, or QuestionError."""
    if not isinstance(type_name, str):
        raise QuestionError("type must be the name of a question type")
    try:
        question_type(type_name)
    except UnknownQuestionType as e:
        raise QuestionError(str(e)) from None
    return type_name


def prepare_notebooks(source, type_name: str = "notebook") -> tuple[dict, dict, float]:
    """(source, student version, max score) from a source notebook, or QuestionError."""
    try:
        prepared = question_type(check_type(type_name)).prepare(source)
    except ValueError as e:
        raise QuestionError(f"notebook: {e}") from None
    return prepared.source, prepared.student, prepared.max_score


def question_language(source_nb: dict, type_name: str) -> str:
    """The language a question is written in (:mod:`grader.grading.languages`), from its
    notebook's kernel; QuestionError for a kernel coursehub cannot grade. Only notebook
    questions come in other languages: choices, blanks and flashcards are Python (their
    generated checks are Python code)."""
    try:
        language = language_of(source_nb)
    except NotebookFormatError as e:
        raise QuestionError(f"notebook: {e}") from None
    if type_name == "notebook":
        return language
    if language != "python" and question_type(type_name).graded:
        raise QuestionError(
            f"a {type_name} question is graded in Python: its notebook's kernel must be a "
            f"Python one, not {LANGUAGES[language].display}"
        )
    return "python"


def derived_fields(source_nb: dict) -> dict:
    """What a question's columns take from its (prepared) source: description, hints."""
    try:
        hints = hints_of(source_nb)
    except NotebookFormatError as e:
        raise QuestionError(f"notebook: {e}") from None
    return {"description": description_of(source_nb), "hints": hints}


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
    type_name = fields.type or declared_type(source) or "notebook"
    source_nb, student_nb, max_score = prepare_notebooks(source, type_name)
    language = question_language(source_nb, type_name)
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
        type=type_name,
        language=language,
        source_notebook=source_nb,
        student_notebook=student_nb,
        version=1,
        released=orm.utcnow() if released is NOW else released,
        **derived_fields(source_nb),
    )
    db.add(question)
    return question


def replace_notebook(question: orm.Question, source, type_name: str | None = None) -> None:
    """A new version of the question's notebook; earlier submissions keep their scores.
    Its type: ``type_name``, else the notebook's declared one, else the question's."""
    type_name = type_name or declared_type(source) or question.type
    source_nb, student_nb, max_score = prepare_notebooks(source, type_name)
    language = question_language(source_nb, type_name)
    # another type grades the same file differently: a new version too
    retyped = question.type != type_name or question.language != language
    question.type = type_name
    question.language = language
    # before the early return: a question saved before descriptions existed gets one
    # when its unchanged notebook is loaded again
    for name, value in derived_fields(source_nb).items():
        if getattr(question, name) != value:
            setattr(question, name, value)
    if source_nb == question.source_notebook and not retyped:
        return
    question.source_notebook = source_nb
    question.student_notebook = student_nb
    question.max_score = max_score
    question.version += 1


# -- pictures in a question ---------------------------------------------------------------

#: an uploaded picture (grader.images): its largest size, and side once re-encoded
QUESTION_IMAGE_BYTES = 4 * 1024 * 1024
QUESTION_IMAGE_SIDE = 1024
#: an attachment's name: it is written into markdown (`attachment:<name>`) as is
IMAGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def image_name(value) -> str:
    if not isinstance(value, str) or not IMAGE_NAME.fullmatch(value):
        raise QuestionError(
            "name must be a file name of letters, digits, '.', '_' and '-' (at most 100), "
            'such as "plot.png"'
        )
    return value


def attach_image(source: dict, name: str, png: bytes, cell: int | None = None) -> None:
    """Attach a (re-encoded) PNG to a markdown cell of a source notebook (a plain dict:
    the stored source), and show it there unless the cell already refers to it. ``cell``
    is the index of a markdown cell; None: the first one."""
    cells = source.get("cells", [])
    if cell is None:
        cell = next((i for i, c in enumerate(cells) if c.get("cell_type") == "markdown"), None)
        if cell is None:
            raise QuestionError("the notebook has no markdown cell to hold an image")
    elif isinstance(cell, bool) or not isinstance(cell, int) or not 0 <= cell < len(cells):
        raise QuestionError(f"cell must be the index of a cell (0 to {len(cells) - 1})")
    target = cells[cell]
    if target.get("cell_type") != "markdown":
        raise QuestionError(f"cell {cell} is a {target.get('cell_type')} cell, not markdown")
    attachments = target.setdefault("attachments", {})
    attachments[name] = {"image/png": base64.b64encode(png).decode("ascii")}
    text = target.get("source", "")
    text = "".join(text) if isinstance(text, list) else text
    if f"attachment:{name}" not in text:
        text = (
            f"{text.rstrip()}\n\n![{name}](attachment:{name})"
            if text.strip()
            else (f"![{name}](attachment:{name})")
        )
    target["source"] = text
