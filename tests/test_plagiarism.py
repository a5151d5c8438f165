"""Similarity of answers (grader.instructors.plagiarism): the comparison itself, on
notebooks built in memory, with the real copydetect.

What an instructor relies on: a copy is found through renamed variables and reordered
functions; two learners who solved the task each their own way are not paired; the
starter code every learner got never makes two answers alike; only the learner's
answer cells are compared (never the locked or test cells, hidden tests included).
"""

from __future__ import annotations

import nbformat
import pytest

from grader.grading.notebooks import student_version
from grader.instructors import plagiarism
from tests.conftest import answer, nbgrader_cell, python_notebook

THRESHOLD = 0.6

ORIGINAL = """def mean(values):
    total = 0
    for v in values:
        total += v
    return total / len(values)


def variance(values):
    m = mean(values)
    squares = [(v - m) ** 2 for v in values]
    return sum(squares) / len(values)


def normalise(values):
    m = mean(values)
    s = variance(values) ** 0.5
    if s == 0:
        return [0.0 for _ in values]
    return [(v - m) / s for v in values]
"""

# the same code, every name changed, the functions in another order, comments added
DISGUISED_COPY = """# my own work
def normalise(data):
    mu = mean(data)  # the centre
    sd = variance(data) ** 0.5
    if sd == 0:
        return [0.0 for _ in data]
    return [(x - mu) / sd for x in data]


def mean(data):
    acc = 0
    for x in data:
        acc += x
    return acc / len(data)


def variance(data):
    mu = mean(data)
    sq = [(x - mu) ** 2 for x in data]
    return sum(sq) / len(data)
"""

# two correct solutions written independently
INDEPENDENT = """import statistics

def mean(xs):
    return sum(xs) / len(xs) if xs else 0.0

def variance(xs):
    if not xs:
        return 0.0
    avg = mean(xs)
    return sum((x - avg) * (x - avg) for x in xs) / len(xs)

def normalise(xs):
    sigma = variance(xs) ** 0.5
    avg = mean(xs)
    result = []
    for x in xs:
        result.append(0.0 if sigma == 0 else (x - avg) / sigma)
    return result
"""

ANOTHER_INDEPENDENT = """def mean(values):
    n = 0
    s = 0.0
    for value in values:
        n += 1
        s += value
    return s / n

def variance(values):
    mu = mean(values)
    return mean([(value - mu) ** 2 for value in values])

def normalise(values):
    mu, sigma = mean(values), variance(values) ** 0.5
    return [((value - mu) / sigma) if sigma else 0.0 for value in values]
"""


def stats_question() -> nbformat.NotebookNode:
    """Write mean, variance and normalise (one answer cell), a visible and a hidden test."""
    return python_notebook(
        [
            nbgrader_cell("locked", "Write `mean`, `variance`, `normalise`.", "task", cell_type="markdown"),
            nbgrader_cell(
                "solution", "### BEGIN SOLUTION\n" + ORIGINAL + "### END SOLUTION", "stats"
            ),
            nbgrader_cell("test", "assert mean([1, 2, 3]) == 2", "visible", 1),
            nbgrader_cell(
                "test",
                "### BEGIN HIDDEN TESTS\nassert variance([1, 1]) == 0, 'HIDDEN_SECRET_TEST'\n"
                "### END HIDDEN TESTS",
                "hidden",
                2,
            ),
        ]
    )  # fmt: skip


def compared(source, student, codes: dict[str, str], grade_id="stats") -> dict:
    """Each pair of learners' answers (their code in the student version) compared."""
    fingerprinter = plagiarism.Fingerprinter(
        plagiarism.Settings(threshold=THRESHOLD), plagiarism.starter_code(student)
    )
    prints = {
        name: fingerprinter.fingerprint(
            plagiarism.answer_code(source, answer(student, code, grade_id))
        )
        for name, code in codes.items()
    }
    names = sorted(prints)
    return {
        (a, b): plagiarism.compare(prints[a], prints[b])
        for i, a in enumerate(names)
        for b in names[i + 1 :]
    }


def test_a_copy_with_renamed_variables_and_reordered_functions_is_flagged():
    source = stats_question()
    student = student_version(source)
    pairs = compared(
        source,
        student,
        {
            "alice": ORIGINAL,
            "bob": DISGUISED_COPY,
            "carol": INDEPENDENT,
            "dave": ANOTHER_INDEPENDENT,
        },
    )
    settings = plagiarism.Settings(threshold=THRESHOLD)
    copy = pairs[("alice", "bob")]
    assert copy.similarity_a >= 0.9 and copy.similarity_b >= 0.9, copy
    assert copy.listed(settings)
    # the matched regions cover each function of both answers
    bob_code = plagiarism.answer_code(source, answer(student, DISGUISED_COPY, "stats"))
    marked = "".join(text for text, hit in plagiarism.segments(bob_code, copy.regions_b) if hit)
    for line in ("acc += x", "sq = [(x - mu) ** 2 for x in data]", "return [(x - mu) / sd"):
        assert line in marked
    # unrelated correct solutions of the same question are not
    for pair, comparison in pairs.items():
        if pair != ("alice", "bob"):
            assert not comparison.listed(settings), (pair, comparison)
            assert comparison.similarity < 0.35, (pair, comparison)


LONG_STARTER = '''import math


class Inventory:
    """Items and their counts."""

    def __init__(self):
        self.items = {}

    def add(self, name, count=1):
        if count <= 0:
            raise ValueError("count must be positive")
        self.items[name] = self.items.get(name, 0) + count

    def remove(self, name, count=1):
        if self.items.get(name, 0) < count:
            raise KeyError(name)
        self.items[name] -= count
        if self.items[name] == 0:
            del self.items[name]

    def total(self):
        ### BEGIN SOLUTION
        return sum(self.items.values())
        ### END SOLUTION

    def names(self):
        return sorted(self.items)

    def report(self):
        lines = []
        for name in self.names():
            lines.append(f"{name}: {self.items[name]}")
        return "\\n".join(lines)
'''


def test_starter_code_alone_does_not_make_two_answers_similar():
    """Two learners who only filled a tiny answer of their own into a long starter."""
    source = python_notebook(
        [
            nbgrader_cell("solution", LONG_STARTER, "inventory"),
            nbgrader_cell("test", "assert Inventory().total() == 0", "t", 1),
        ]
    )
    student = student_version(source)
    stub = student.cells[0].source
    assert "class Inventory" in stub and "raise NotImplementedError()" in stub
    tiny = {
        "ann": stub.replace("raise NotImplementedError()", "return sum(self.items.values())"),
        "ben": stub.replace(
            "raise NotImplementedError()",
            "t = 0\n        for c in self.items.values():\n            t += c\n        return t",
        ),
        "cy": stub,  # handed in the starter as it was
    }
    pairs = compared(source, student, tiny, grade_id="inventory")
    settings = plagiarism.Settings(threshold=THRESHOLD)
    for pair, comparison in pairs.items():
        assert not comparison.listed(settings), (pair, comparison)
        assert comparison.similarity == 0, (pair, comparison)
    # without the starter taken out, the starter alone would have paired them
    bare = plagiarism.Fingerprinter(settings)
    whole = plagiarism.compare(bare.fingerprint(tiny["ann"]), bare.fingerprint(tiny["ben"]))
    assert whole.similarity > 0.8


def test_only_the_answer_cells_are_compared():
    source = stats_question()
    learner = answer(student_version(source), "def mean(v):\n    return 1\n", "stats")
    # a learner's copy of the test cells (or anything else of theirs) is not theirs to set
    learner.cells[2].source = "print('my own test')"
    # a cell they added after their answer is part of it
    learner.cells.insert(2, nbformat.v4.new_code_cell("def helper():\n    return 42\n"))
    code = plagiarism.answer_code(source, learner)
    assert "def mean(v)" in code and "def helper()" in code
    assert "assert" not in code and "HIDDEN_SECRET_TEST" not in code
    assert "my own test" not in code and "Write `mean`" not in code
    # the starter: the student version's answer cells (nbgrader's stub here)
    assert plagiarism.starter_code(student_version(source)).strip() == (
        "# YOUR CODE HERE\nraise NotImplementedError()"
    )


COPIES = {
    "r": (
        """mean_of <- function(values) {
  total <- 0
  for (v in values) {
    total <- total + v
  }
  total / length(values)
}
scale_all <- function(values) {
  m <- mean_of(values)
  s <- sqrt(sum((values - m)^2) / length(values))
  if (s == 0) return(rep(0, length(values)))
  (values - m) / s
}""",
        """scale_all <- function(xs) {
  mu <- mean_of(xs)
  sd <- sqrt(sum((xs - mu)^2) / length(xs))
  if (sd == 0) return(rep(0, length(xs)))
  (xs - mu) / sd
}
mean_of <- function(xs) {
  acc <- 0
  for (x in xs) {
    acc <- acc + x
  }
  acc / length(xs)
}""",
        """mean_of <- function(values) sum(values) / length(values)
scale_all <- function(values) {
  sigma <- sd(values) * sqrt((length(values) - 1) / length(values))
  ifelse(rep(sigma, length(values)) > 0, (values - mean_of(values)) / sigma, 0)
}""",
    ),
    "javascript": (
        """function meanOf(values) {
  let total = 0;
  for (const v of values) { total += v; }
  return total / values.length;
}
function scaleAll(values) {
  const m = meanOf(values);
  const s = Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / values.length);
  if (s === 0) return values.map(() => 0);
  return values.map(v => (v - m) / s);
}""",
        """function scaleAll(xs) {
  const mu = meanOf(xs);
  const sd = Math.sqrt(xs.reduce((acc, x) => acc + (x - mu) ** 2, 0) / xs.length);
  if (sd === 0) return xs.map(() => 0);
  return xs.map(x => (x - mu) / sd);
}
function meanOf(xs) {
  let acc = 0;
  for (const x of xs) { acc += x; }
  return acc / xs.length;
}""",
        """const meanOf = (arr) => arr.length ? arr.reduce((p, q) => p + q) / arr.length : 0;
function scaleAll(arr) {
  const avg = meanOf(arr);
  const dev = Math.sqrt(meanOf(arr.map(q => (q - avg) * (q - avg))));
  return arr.map(q => dev > 0 ? (q - avg) / dev : 0);
}""",
    ),
    "c": (
        """double mean_of(const double *values, int n) {
    double total = 0;
    for (int i = 0; i < n; i++) {
        total += values[i];
    }
    return total / n;
}
double largest(const double *values, int n) {
    double best = values[0];
    for (int i = 1; i < n; i++) {
        if (values[i] > best) best = values[i];
    }
    return best;
}""",
        """double largest(const double *xs, int len) {
    double top = xs[0];
    for (int k = 1; k < len; k++) {
        if (xs[k] > top) top = xs[k];
    }
    return top;
}
double mean_of(const double *xs, int len) {
    double acc = 0;
    for (int k = 0; k < len; k++) {
        acc += xs[k];
    }
    return acc / len;
}""",
        """double mean_of(const double *a, int n) {
    return n <= 0 ? 0.0 : (a[0] + (n > 1 ? mean_of(a + 1, n - 1) * (n - 1) : 0.0)) / n;
}
double largest(const double *a, int n) {
    const double *p = a, *end = a + n, *top = a;
    while (++p < end) top = *p > *top ? p : top;
    return *top;
}""",
    ),
}


@pytest.mark.parametrize("language", sorted(COPIES))
def test_other_languages_copies_are_found_through_renaming(language):
    original, copy, independent = COPIES[language]
    settings = plagiarism.Settings(language=language, threshold=THRESHOLD)
    fingerprinter = plagiarism.Fingerprinter(settings)
    prints = [fingerprinter.fingerprint(code) for code in (original, copy, independent)]
    found = plagiarism.compare(prints[0], prints[1])
    assert found.similarity_a >= 0.9 and found.similarity_b >= 0.9, found
    unrelated = plagiarism.compare(prints[0], prints[2])
    assert not unrelated.listed(settings), unrelated


def test_matched_regions_fall_on_the_code_that_matched():
    """Regions are character ranges of the learner's own text (comments and spacing
    included), even after a class name, which copydetect's own offsets misplace."""
    settings = plagiarism.Settings()
    fingerprinter = plagiarism.Fingerprinter(settings)
    prefix = "class Unrelated(Base):\n    pass  # a comment\n\n\n"
    a = fingerprinter.fingerprint(ORIGINAL)
    b = fingerprinter.fingerprint(prefix + DISGUISED_COPY)
    found = plagiarism.compare(a, b)
    code_b = prefix + DISGUISED_COPY
    first = min(start for start, _ in found.regions_b)
    assert first >= len(prefix), code_b[first:]
    assert code_b[first:].startswith("def normalise(data)")
    # every matched piece of the original is text that is in it, ends included
    pieces = [ORIGINAL[s:e] for s, e in found.regions_a]
    assert pieces and all(p.strip() for p in pieces)
    assert ORIGINAL.rstrip().endswith(pieces[-1].rstrip())


def test_segments_are_clamped_and_never_overlap():
    assert plagiarism.segments("abcdefgh", [(1, 3), (2, 5), (7, 100), ("x", 2)]) == [
        ("a", False),
        ("bc", True),
        ("de", True),
        ("fg", False),
        ("h", True),
    ]
    assert plagiarism.segments("abc", []) == [("abc", False)]
    assert "".join(t for t, _ in plagiarism.segments("abcdef", [(5, 2), (-3, 1)])) == "abcdef"


def test_pairs_resume_after_the_ones_compared():
    every = list(plagiarism.pairs_from(5, 0))
    assert len(every) == plagiarism.pair_count(5) == 10
    assert len(set(every)) == 10 and all(i < j for i, j in every)
    for done in range(11):
        assert list(plagiarism.pairs_from(5, done)) == every[done:]
