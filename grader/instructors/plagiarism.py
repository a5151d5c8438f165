"""Similarity of learners' answers to one question: the comparison itself, no database.

A learner's *answer code* is what they wrote: the code of the question's solution cells
as :func:`grader.grading.notebooks.merge_answers` takes them from their notebook, and
the code cells they added right after one; never a locked or test cell (those are the
source's, the same for everyone). The *starter code* is the same cells of the question's
student version (the code around each solution region, and nbgrader's stub): every
learner got it, so it is passed to copydetect as boilerplate and never counts.

copydetect (https://github.com/blingenf/copydetect) tokenizes code with a pygments lexer
and replaces every name by one letter (variables V, functions F, classes O) and every
string by S, drops whitespace and comments, then fingerprints the k-grams of what is
left (winnowing, as MOSS does). Renaming variables changes nothing; reordering functions
changes only the k-grams that span two of them, so a copy with renamed variables and
reordered functions is still found. A pair's similarity, each way, is the share of that
learner's fingerprinted code that the other's code holds too.

Settings (k-gram length and window) were chosen on real answers of a few lines: k = 25
filtered characters (copydetect's own default) finds such copies entirely while two
independent correct solutions of the same task share nothing; a window of 1 keeps every
k-gram (no winnowing loss), affordable at coursehub's code sizes.

The code is filtered here (:func:`filter_code`) by copydetect's own rules, with one
addition: pygments' JavaScript lexer calls every identifier `Name.Other`, which
copydetect's filter keeps verbatim, so renamed JavaScript variables would hide a copy;
they become V here too. (It also keeps the offsets of class names right, which
copydetect's filter gets wrong, so highlighted regions fall where they should.) The
fingerprints and their comparison are copydetect's.
"""

from __future__ import annotations

import copy
import io
from dataclasses import dataclass

import nbformat
import numpy
from pygments import lexers, token
from pygments.util import ClassNotFound

from ..grading import notebooks

#: pygments lexer of each question language (grader.grading.languages); copydetect's
#: tokenizers handle them all
LEXERS = {"python": "python", "r": "r", "javascript": "javascript", "c": "c"}

# a mark put on the source's cells before merging: a merged cell without it is one the
# learner added after an answer cell
_SOURCE_MARK = "coursehub_plagiarism_source"


def answer_code(source_nb, learner_nb) -> str:
    """The learner's answer code: their solution code cells and the code cells they added
    after them, in the source's order, joined by blank lines. Locked and test cells,
    hidden tests included, are never part of it (``merge_answers`` takes them from the
    source and they are left out here)."""
    source = copy.deepcopy(_node(source_nb))
    for cell in source.cells:
        cell.setdefault("metadata", {})[_SOURCE_MARK] = True
    merged = notebooks.merge_answers(source, _node(learner_nb))
    parts = []
    for cell in merged.cells:
        if cell.cell_type != "code":
            continue
        added = not cell.get("metadata", {}).get(_SOURCE_MARK)
        if added or notebooks.is_solution(cell):
            parts.append(notebooks._text(cell.source))
    return "\n\n".join(p for p in parts if p.strip())


def starter_code(student_nb) -> str:
    """What every learner started from: the student version's solution code cells."""
    nb = _node(student_nb)
    return "\n\n".join(
        notebooks._text(c.source)
        for c in nb.cells
        if c.cell_type == "code" and notebooks.is_solution(c)
    )


def _node(nb):
    if isinstance(nb, nbformat.NotebookNode):
        return nb
    return nbformat.from_dict(copy.deepcopy(nb))


# what copydetect's filter turns into V, plus Name.Other (JavaScript's identifiers)
_NAME_TOKENS = {token.Name, token.Name.Variable, token.Name.Attribute, token.Name.Other}


def filter_code(code: str, lexer_name: str | None) -> tuple[str, numpy.ndarray]:
    """``code`` tokenized and filtered as copydetect's ``filter_code`` does (names to
    V, F, O; preprocessor lines to P; strings to S; whitespace and comments dropped),
    and where each filtered character came from: a ``2 x len`` array of the start and
    end, in ``code``, of the text it stands for. Unknown language: the code as it is."""
    try:
        lexer = lexers.get_lexer_by_name(lexer_name) if lexer_name else None
    except ClassNotFound:
        lexer = None
    if lexer is None:
        positions = numpy.arange(len(code) + 1)
        return code, numpy.array([positions[:-1], positions[1:]])
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    # unprocessed: positions in the code as given (get_tokens strips and rewrites it);
    # lexers expect the final newline get_tokens would add (whitespace: never shown)
    text_of = code if code.endswith("\n") else code + "\n"
    for text_start, kind, text in lexer.get_tokens_unprocessed(text_of):
        if kind in _NAME_TOKENS:
            letter = "V"
        elif kind in token.Name.Function:
            letter = "F"
        elif kind in token.Name.Class:
            letter = "O"
        elif kind in (token.Comment.Preproc, token.Comment.Hashbang):
            letter = "P"
        elif kind in token.Text or kind in token.Comment:
            continue
        elif kind in token.Literal.String:
            letter = '"' if text in ("'", '"') else "S"
        else:
            # kept as it is: each character stands for itself
            out.append(text)
            starts.extend(range(text_start, text_start + len(text)))
            ends.extend(range(text_start + 1, text_start + len(text) + 1))
            continue
        out.append(letter)
        starts.append(text_start)
        ends.append(text_start + len(text))
    return "".join(out), numpy.array([starts, ends], dtype=numpy.int64).reshape(2, -1)


@dataclass(frozen=True)
class Settings:
    """How code is compared (picklable: it travels to the computing process)."""

    language: str = "python"
    # copydetect's noise threshold: the k-gram length, in filtered characters
    noise_threshold: int = 25
    # copydetect's guarantee threshold: a match this long is always found (>= noise)
    guarantee_threshold: int = 25
    # a pair is listed when either way's similarity reaches this (0..1]
    threshold: float = 0.5
    # ... and at least this many filtered characters of code match
    min_match: int = 50

    @property
    def window(self) -> int:
        return self.guarantee_threshold - self.noise_threshold + 1


@dataclass(frozen=True)
class Comparison:
    """Two answers compared: each way's similarity (share of that code found in the
    other's), the matched length (filtered characters), and the matched regions of each
    code as ``[start, end)`` character ranges."""

    similarity_a: float
    similarity_b: float
    matched: int
    regions_a: list[tuple[int, int]]
    regions_b: list[tuple[int, int]]

    @property
    def similarity(self) -> float:
        return max(self.similarity_a, self.similarity_b)

    def listed(self, settings: Settings) -> bool:
        return self.similarity >= settings.threshold and self.matched >= settings.min_match


class Fingerprinter:
    """copydetect fingerprints of answers, with the starter code's taken out.

    copydetect hashes k-grams with Python's ``hash()``, which differs between processes:
    every fingerprint of one comparison must be made by the same Fingerprinter, in one
    process (a report computed again after a crash makes them all again)."""

    def __init__(self, settings: Settings, starter: str = ""):
        from copydetect import CodeFingerprint

        self._fingerprint = CodeFingerprint
        self.settings = settings
        self.lexer = LEXERS.get(settings.language)
        self.boilerplate = []
        if starter.strip():
            # every k-gram of the starter code, as copydetect makes boilerplate (window 1)
            starter_print = self._make(starter, window=1)
            self.boilerplate = numpy.unique(numpy.array(list(starter_print.hashes)))

    def _make(self, code: str, window: int, boilerplate=None):
        filtered, positions = filter_code(code, self.lexer)
        # copydetect fingerprints the filtered code (filter=False: it is filtered
        # already; `file` only names it in copydetect's logs), so compare_files answers
        # in filtered characters, which `positions` maps back onto the learner's code
        made = self._fingerprint(
            "answer",
            self.settings.noise_threshold,
            window,
            boilerplate=boilerplate,
            filter=False,
            fp=io.StringIO(filtered),
        )
        made.raw_code = code
        made.positions = positions
        return made

    def fingerprint(self, code: str):
        """A copydetect ``CodeFingerprint`` of an answer, the starter code taken out."""
        return self._make(code, self.settings.window, self.boilerplate)


def compare(print_a, print_b) -> Comparison:
    """Two fingerprints compared (copydetect's ``compare_files``)."""
    from copydetect import compare_files

    if not print_a.hashes or not print_b.hashes or not (print_a.hashes & print_b.hashes):
        return Comparison(0.0, 0.0, 0, [], [])
    matched, (sim_a, sim_b), (slices_a, slices_b) = compare_files(print_a, print_b)
    return Comparison(
        similarity_a=min(1.0, float(sim_a)),
        similarity_b=min(1.0, float(sim_b)),
        matched=int(matched),
        regions_a=_regions(slices_a, print_a.positions),
        regions_b=_regions(slices_b, print_b.positions),
    )


def _regions(slices, positions) -> list[tuple[int, int]]:
    """copydetect's slices (a 2 x N array of starts and ends in the filtered code) as
    sorted, non-overlapping ``(start, end)`` ranges of the learner's code."""
    if len(slices) == 0 or len(slices[0]) == 0 or positions.shape[1] == 0:
        return []
    last = positions.shape[1] - 1
    ranges = sorted(
        (
            int(positions[0][min(max(int(s), 0), last)]),
            int(positions[1][min(max(int(e) - 1, 0), last)]),
        )
        for s, e in zip(slices[0], slices[1], strict=True)
    )
    merged: list[list[int]] = []
    for start, end in ranges:
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def segments(code: str, regions) -> list[tuple[str, bool]]:
    """``code`` cut at ``regions`` into ``(text, matched)`` pieces, for a template that
    escapes each piece and wraps the matched ones in a highlight. Regions out of range
    (a stored report read with other code) are clamped, never trusted."""
    pieces = []
    at = 0
    for start, end in regions or ():
        try:
            start, end = int(start), int(end)
        except (TypeError, ValueError):
            continue
        start = max(at, min(start, len(code)))
        end = max(start, min(end, len(code)))
        if start > at:
            pieces.append((code[at:start], False))
        if end > start:
            pieces.append((code[start:end], True))
        at = end
    if at < len(code):
        pieces.append((code[at:], False))
    return pieces


def pair_count(n: int) -> int:
    """Pairs among ``n`` submissions."""
    return n * (n - 1) // 2


def pairs_from(n: int, done: int):
    """``(i, j)`` with ``i < j < n`` in row order, skipping the first ``done`` pairs
    (what a resumed report already compared)."""
    index = 0
    for i in range(n):
        row = n - i - 1
        if index + row <= done:
            index += row
            continue
        for j in range(i + 1, n):
            if index >= done:
                yield i, j
            index += 1
