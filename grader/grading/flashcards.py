"""Flashcards: a front and a back, rated by the learner, never submitted.

A flashcard is a notebook of markdown cells, one marked ``metadata.coursehub.card =
"front"`` (the prompt) and one ``"back"`` (what the learner checks their recall
against). Both are in the student version: the front end shows the back when the card
is flipped. It has no answer cell and no tests (``max_score`` 0); the learner rates
their recall (``POST reviews/{id}``, :mod:`grader.learners.reviews`), which schedules
its next review. A submission of a flashcard is refused with a 400.
"""

from __future__ import annotations

from .notebooks import NotebookFormatError, _meta, grade_id, read_notebook
from .questiontypes import PreparedQuestion, QuestionType, _as_dict, typed
from .run import GradingReport
from .variants import check_variant

SIDES = ("front", "back")
NOT_SUBMITTED = "a flashcard is rated, not submitted: POST reviews/{id}"


def card_side(cell) -> str | None:
    meta = cell.get("metadata", {}).get("coursehub")
    return meta.get("card") if isinstance(meta, dict) else None


class FlashcardQuestion(QuestionType):
    name = "flashcard"
    graded = False

    def prepare(self, source) -> PreparedQuestion:
        nb = read_notebook(source)
        for side in SIDES:
            cells = [c for c in nb.cells if card_side(c) == side]
            if len(cells) != 1:
                raise NotebookFormatError(
                    f"a flashcard has exactly one {side} card cell (a markdown cell with "
                    f'metadata.coursehub.card = "{side}"); found {len(cells)}'
                )
            if cells[0].cell_type != "markdown" or not cells[0].source.strip():
                raise NotebookFormatError(f"the {side} of a flashcard is a non-empty markdown cell")
        for index, cell in enumerate(nb.cells):
            side = card_side(cell)
            if side is not None and side not in SIDES:
                raise NotebookFormatError(f'cell {index + 1}: coursehub.card is "front" or "back"')
            meta = _meta(cell)
            if meta.get("solution") or meta.get("grade"):
                name = grade_id(cell) or index + 1
                raise NotebookFormatError(
                    f"cell {name}: a flashcard has no answer cells and no tests (it is rated, "
                    "not graded)"
                )
        check_variant(nb)
        typed(nb, self.name)
        student = typed(read_notebook(_as_dict(nb)), self.name)
        for cell in student.cells:
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
        coursehub = student.metadata.get("coursehub")
        if isinstance(coursehub, dict):
            coursehub.pop("hints", None)  # hints are revealed one at a time, as elsewhere
        return PreparedQuestion(_as_dict(nb), _as_dict(student), 0.0)

    def read_answer(self, data):
        raise ValueError(NOT_SUBMITTED)

    def read_source(self, data):
        return read_notebook(data)

    async def grade(self, executor, source, answer) -> GradingReport:
        # never queued (read_answer refuses every submission); nothing to score
        return GradingReport(score=0.0, max_score=0.0, tests=[])
