"""Seeded variants: one question, a different instance for each learner.

A question becomes a variant question with one locked code cell marked
``metadata.coursehub.variant = true`` whose source is the single line ``SEED = <int>``.
Its setup cells and tests compute their data and expected values from ``SEED``. For a
learner, that line is replaced by ``SEED = <their seed>`` in the student notebook they are
served (:meth:`QuestionType.for_learner`) and in the source their submission is graded
against (:meth:`QuestionType.source_for`), so their tests expect the values of their own
instance: an answer copied from someone else's instance fails.

The seed cell is locked, so grading always takes it from the source (never from the
learner's copy); its line also runs in the trusted process (``grading.run.prepare``), so a
learner who rebinds ``SEED`` in their answer does not change what the tests expect.
"""

from __future__ import annotations

import copy
import hashlib
import re

from .notebooks import NotebookFormatError, _meta, grade_id

#: the one line a variant cell holds
SEED_LINE = re.compile(r"SEED = (\d{1,10})\s*")
SEED_LIMIT = 2**31


def variant_seed(question_id: int, user_id: int) -> int:
    """A learner's seed for a question: 0 <= seed < 2**31, the same in every process
    (sha256 of the two ids, never Python's salted ``hash``)."""
    digest = hashlib.sha256(f"coursehub-variant:{question_id}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % SEED_LIMIT


def _source(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def is_variant_cell(cell) -> bool:
    meta = cell.get("metadata", {}).get("coursehub")
    return isinstance(meta, dict) and meta.get("variant") is True


def check_variant(nb) -> None:
    """At most one variant cell, and a well-formed one: a locked code cell (read-only,
    neither an answer nor a test) holding only ``SEED = <int>``. NotebookFormatError
    names what is wrong."""
    cells = [
        (index, cell) for index, cell in enumerate(nb.get("cells", [])) if is_variant_cell(cell)
    ]
    if len(cells) > 1:
        raise NotebookFormatError("a notebook has at most one variant cell (coursehub.variant)")
    for index, cell in cells:
        gid = grade_id(cell)
        name = f"cell '{gid}'" if gid else f"cell {index + 1}"
        meta = _meta(cell)
        if cell.get("cell_type") != "code":
            raise NotebookFormatError(f"{name}: the variant cell must be a code cell")
        if not meta.get("locked") or meta.get("solution") or meta.get("grade"):
            raise NotebookFormatError(
                f"{name}: the variant cell must be read-only (nbgrader locked: true), "
                "neither an answer nor a test"
            )
        if not SEED_LINE.fullmatch(_source(cell)):
            raise NotebookFormatError(
                f"{name}: the variant cell must hold exactly one line 'SEED = <integer>'"
            )


def with_seed(nb, seed: int):
    """``nb`` with its variant cell's line set to ``SEED = <seed>``: a copy (the stored
    notebook is never changed), or ``nb`` itself when it has no variant cell."""
    cells = nb.get("cells", [])
    indexes = [index for index, cell in enumerate(cells) if is_variant_cell(cell)]
    if not indexes:
        return nb
    if not 0 <= seed < SEED_LIMIT:
        raise ValueError(f"a seed is from 0 to {SEED_LIMIT - 1}")
    seeded = copy.copy(nb)
    seeded["cells"] = list(cells)
    for index in indexes:
        cell = copy.deepcopy(cells[index])
        cell["source"] = f"SEED = {seed}"
        _update_checksum(cell)
        seeded["cells"][index] = cell
    return seeded


def _update_checksum(cell) -> None:
    """A released locked cell carries nbgrader's checksum of its source: keep it true, so
    nbgrader's own validation of the learner's copy does not call the cell changed."""
    meta = _meta(cell)
    if "checksum" not in meta:
        return
    import nbformat
    from nbgrader.utils import compute_checksum

    meta["checksum"] = compute_checksum(nbformat.from_dict(copy.deepcopy(cell)))


def seed_setup(cell) -> str:
    """What the trusted process runs after a variant cell (its ``SEED`` line), or ""."""
    if not is_variant_cell(cell):
        return ""
    source = _source(cell)
    return source.strip() if SEED_LINE.fullmatch(source) else ""
