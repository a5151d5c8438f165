"""Grading in two processes: what tests see of the learner's code, and the feedback.

A real bubblewrap sandbox runs every case (no mocks). The adversarial module
(test_adversarial.py) attacks the service; these pin down the semantics documented in
docs/internals.md ("Grading in two processes").
"""

import shutil

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from grader.executors.bubblewrap import BubblewrapExecutor
from grader.grading.run import grade, hidden_line_ranges

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed"),
]

MARK = "HIDDEN_MARK_2f9c"


def meta(gid, **kw):
    base = {"grade": False, "solution": False, "locked": False, "grade_id": gid}
    base.update(kw, schema_version=3)
    return {"nbgrader": base}


def question(*tests, answer="def f(x):\n    return x * 2"):
    cells = [new_code_cell(answer, metadata=meta("answer", solution=True))]
    for i, (source, points) in enumerate(tests):
        cells.append(new_code_cell(source, metadata=meta(f"t{i}", grade=True, points=points)))
    return new_notebook(cells=cells)


async def graded(nb, answer):
    learner = new_notebook(cells=[c.copy() for c in nb.cells])
    learner.cells[0] = new_code_cell(answer, metadata=nb.cells[0].metadata)
    report = await grade(BubblewrapExecutor(time_limit=30, cell_time_limit=3), nb, learner)
    return report, {t["name"]: t for t in report.tests}


def test_hidden_line_ranges():
    source = "a\n### BEGIN HIDDEN TESTS\nb\n### END HIDDEN TESTS\nc\n### BEGIN HIDDEN TESTS\nd"
    assert hidden_line_ranges(source) == ((2, 4), (6, 7))
    assert hidden_line_ranges("assert True") == ()


async def test_a_syntax_error_in_the_answer_is_named_in_the_feedback():
    nb = question(
        ("assert f(2) == 4", 1),
        (f"### BEGIN HIDDEN TESTS\nassert f(3) == 6, '{MARK}'\n### END HIDDEN TESTS", 1),
    )
    report, tests = await graded(nb, "def f(x)\n    return x * 2")
    assert report.score == 0
    for test in tests.values():
        assert test["message"].startswith("SyntaxError in your answer 'answer': fix it first")
        assert "def f(x)" in test["message"]
    assert tests["t1"]["message"].endswith("hidden test failed: NameError")
    assert MARK not in tests["t1"]["message"]


async def test_a_cell_with_visible_asserts_and_hidden_tests_reports_each_part_right():
    nb = question(
        (
            "assert f(2) == 4, 'f(2) should be 4'\n### BEGIN HIDDEN TESTS\n"
            f"assert f(-7) == -14, '{MARK}'\n### END HIDDEN TESTS",
            2,
        )
    )
    # wrong everywhere: the visible assert fails first, with its message
    _, tests = await graded(nb, "def f(x):\n    return 0")
    assert tests["t0"]["hidden"] is True
    assert tests["t0"]["message"].startswith("AssertionError: f(2) should be 4")
    assert "assert f(2) == 4" in tests["t0"]["message"]
    # right on the visible case only: the hidden part fails, and says nothing more
    _, tests = await graded(nb, "def f(x):\n    return 4 if x == 2 else 0")
    assert tests["t0"]["message"] == "hidden test failed: AssertionError"
    _, tests = await graded(nb, "def f(x):\n    return x * 2")
    assert tests["t0"]["passed"]


async def test_lying_objects_cannot_pass_a_comparison_with_the_tests_values():
    nb = question(
        ("assert f(2) == 4", 1),
        ("assert abs(f(2) - 4.0) < 1e-9", 1),
        ("assert not (f(2) != 4)", 1),
        ("assert 4 in f(2)", 1),
        ("import math\nassert math.isclose(f(2), 4)", 1),
    )
    liar = (
        "class Liar:\n"
        "    def __eq__(self, other): return True\n"
        "    def __ne__(self, other): return False\n"
        "    def __sub__(self, other): return 0\n"
        "    def __contains__(self, item): return True\n"
        "    def __iter__(self): return iter(())\n"
        "    def __float__(self): return 0.0\n"
        "def f(x):\n    return Liar()"
    )
    report, tests = await graded(nb, liar)
    assert report.score == 0, tests


async def test_the_learners_builtins_and_modules_do_not_reach_the_tests():
    nb = question(
        ("assert len(f(2)) == 3\nassert sum(f(2)) == 6", 1),
        ("import math\nassert math.isclose(f(0)[0], 1.0)", 1),
    )
    cheat = (
        "import builtins, math\n"
        "len = lambda x: 3\nsum = lambda x: 6\n"
        "builtins.len = len\nbuiltins.sum = sum\nmath.isclose = lambda *a, **k: True\n"
        "def f(x):\n    return [0]"
    )
    report, _ = await graded(nb, cheat)
    assert report.score == 0


async def test_learner_classes_generators_and_callbacks_work_from_tests():
    answer = (
        "class Account:\n"
        "    def __init__(self, balance=0):\n        self.balance = balance\n"
        "    def deposit(self, amount):\n        self.balance += amount\n        return self\n"
        "    def __eq__(self, other):\n        return self.balance == other.balance\n"
        "def count(n):\n    yield from range(n)\n"
        "def apply(fn, x):\n    return fn(fn(x))\n"
        "def f(x):\n    return x * 2"
    )
    nb = question(
        ("a = Account(5).deposit(3)\nassert a.balance == 8\nassert isinstance(a, Account)", 1),
        ("assert Account(2) == Account(2) and Account(2) != Account(3)", 1),
        ("assert list(count(3)) == [0, 1, 2]\ng = count(2)\nassert next(g) == 0", 1),
        (
            "calls = []\nassert apply(lambda x: calls.append(x) or x + 1, 3) == 5\nassert calls == [3, 4]",
            1,
        ),
        ("assert f(2) == 4 and type(f(2.5)) is float", 1),
        answer=answer,
    )
    report, tests = await graded(nb, answer)
    assert report.score == report.max_score, tests


async def test_a_hidden_test_is_never_in_the_learners_process():
    nb = question(
        ("assert f(1) == 2", 1),
        (
            f"### BEGIN HIDDEN TESTS\nexpected = '{MARK}'\n"
            "assert f(expected) == expected * 2, 'HIDDEN_MESSAGE_81d0'\n### END HIDDEN TESTS",
            1,
        ),
        ("assert f(found()) == ''", 1),
    )
    # the learner's code looks everywhere it can for the hidden test, and shows what it
    # found in a visible test's failure (its own message)
    spy = (
        "import gc, linecache, os, sys\n"
        "seen = []\n"
        "def f(x):\n    seen.append(repr(x))\n    return x * 2\n"
        "def found():\n"
        "    hits = [repr(o)[:200] for o in gc.get_objects() if 'HIDDEN' in repr(o)[:10000]]\n"
        "    hits += [k for k, v in linecache.cache.items() if 'HIDDEN' in ''.join(v[2])]\n"
        "    for root, _, files in os.walk('/tmp'):\n"
        "        hits += [n for n in files if 'HIDDEN' in open(os.path.join(root, n), errors='ignore').read()]\n"
        "    raise AssertionError(' | '.join(hits) or 'nothing')"
    )
    report, tests = await graded(nb, spy)
    assert tests["t0"]["passed"] and tests["t1"]["passed"]
    message = tests["t2"]["message"]
    # the argument the hidden test passed was seen (it must be), never its source
    assert message.startswith("AssertionError")
    assert "expected * 2" not in message and "BEGIN HIDDEN" not in message
    assert "HIDDEN_MESSAGE_81d0" not in message


async def test_setup_imports_mean_the_trusted_modules_and_nothing_else():
    nb = question(
        ("assert isclose(f(0.1), 0.2) and np.hypot(3, 4) == 5", 1),
        ("assert m.isclose(f(0.1), 0.2)", 1),
        ("assert runner('x') != 0", 1),
    )
    # the learner's process points the names at what would pass every test
    setup = new_code_cell(
        "from math import isclose\nimport math as np", metadata=meta("setup", locked=True)
    )
    nb.cells.insert(0, setup)
    cheat = (
        "import math as m, types, os\n"
        "fake = types.ModuleType('math')\nfake.isclose = lambda *a, **k: True\n"
        "m = fake\nisclose = fake.isclose\nisclose.__module__ = 'math'\n"
        "isclose.__qualname__ = 'isclose'\n"
        "runner = os.system\n"
        "def f(x):\n    return 0"
    )
    learner = new_notebook(cells=[c.copy() for c in nb.cells])
    learner.cells[1] = new_code_cell(cheat, metadata=nb.cells[1].metadata)
    report = await grade(BubblewrapExecutor(time_limit=30, cell_time_limit=3), nb, learner)
    tests = {t["name"]: t for t in report.tests}
    assert tests["t0"]["points"] == 0 and tests["t1"]["points"] == 0, tests
    report = await grade(BubblewrapExecutor(), nb, nb)  # the honest answer still passes
    assert report.tests[0]["passed"]
    # os.system stays the learner's (a reference): it runs in the learner's sandbox
    assert report.score <= 1


async def test_a_learner_that_keeps_calling_back_is_stopped_at_the_time_limit():
    nb = question(("assert apply(lambda x: x, 1) == 1", 1), ("assert f(2) == 4", 1))
    answer = (
        "def apply(fn, x):\n    while True:\n        try:\n            fn(x)\n"
        "        except BaseException:\n            pass\n"
        "def f(x):\n    return x * 2"
    )
    report, tests = await graded(nb, answer)
    assert tests["t0"]["points"] == 0 and "time_limit" in tests["t0"]["message"]
