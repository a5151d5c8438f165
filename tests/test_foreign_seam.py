"""The language-neutral seam: driver pairs started in both processes, messages relayed.

A toy language (Python source, run by the two small drivers in tests/foreign_toy/)
goes through the same path as R, JavaScript and C, in a real bubblewrap sandbox: what
reaches the learner's driver, what comes back, and what the limits do to a driver.
"""

import shutil
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from grader.executors.bubblewrap import BubblewrapExecutor
from grader.grading import languages
from grader.grading.run import grade

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed"),
]

TOY = Path(__file__).parent / "foreign_toy"
MARK = "TOY_HIDDEN_MARK_51c3"


class ToyLanguage(languages.Language):
    def driver_source(self, role):
        name = self.learner_file if role == "learner" else self.trusted_file
        return (TOY / name).read_text()


@pytest.fixture(autouse=True)
def toy_language(monkeypatch):
    toy = ToyLanguage(
        name="toy",
        display="Toy",
        kernels=("coursehub-toy",),
        code_stub="# YOUR CODE HERE",
        error_names=frozenset({"AssertionError"}),
        driver="toy",
        learner_file="learner.py",
        trusted_file="trusted.py",
        learner_argv=("/usr/bin/python3", "-I", "{driver}"),
        trusted_argv=("/usr/bin/python3", "-I", "{driver}"),
    )
    monkeypatch.setitem(languages.LANGUAGES, "toy", toy)
    monkeypatch.setitem(languages.KERNEL_LANGUAGES, "coursehub-toy", "toy")


def meta(gid, **kw):
    base = {"grade": False, "solution": False, "locked": False, "grade_id": gid}
    base.update(kw, schema_version=3)
    return {"nbgrader": base}


def question(*tests, answer="def double(x):\n    return x * 2"):
    cells = [new_code_cell(answer, metadata=meta("answer", solution=True))]
    for i, (source, points) in enumerate(tests):
        cells.append(new_code_cell(source, metadata=meta(f"t{i}", grade=True, points=points)))
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "coursehub-toy", "display_name": "Toy", "language": "toy"}
    return nb


async def graded(nb, answer, **limits):
    learner = new_notebook(cells=[c.copy() for c in nb.cells], metadata=nb.metadata)
    learner.cells[0] = new_code_cell(answer, metadata=nb.cells[0].metadata)
    executor = BubblewrapExecutor(time_limit=30, cell_time_limit=limits.get("cell", 3))
    try:
        report = await grade(executor, nb, learner)
    finally:
        await executor.close()
    return report, {t["name"]: t for t in report.tests}


HIDDEN = f"### BEGIN HIDDEN TESTS\nassert double(21) == 42, '{MARK}'\n### END HIDDEN TESTS"
VISIBLE = "assert double(2) == 4, 'double(2) should be 4'"


async def test_an_honest_answer_scores_full_marks_through_both_drivers():
    report, tests = await graded(
        question((VISIBLE, 1), (HIDDEN, 2)), "def double(x):\n    return x + x"
    )
    assert report.score == report.max_score == 3
    assert all(t["passed"] for t in tests.values())


async def test_a_wrong_answer_fails_with_the_visible_message_and_a_bare_hidden_name():
    report, tests = await graded(
        question((VISIBLE, 1), (HIDDEN, 2)), "def double(x):\n    return x"
    )
    assert report.score == 0
    assert "double(2) should be 4" in tests["t0"]["message"]
    assert tests["t1"]["message"] == "hidden test failed: AssertionError"
    assert MARK not in str(report.to_dict())


async def test_a_hidden_error_outside_the_language_list_is_named_error():
    nb = question(
        ("### BEGIN HIDDEN TESTS\nraise ValueError('" + MARK + "')\n### END HIDDEN TESTS", 1)
    )
    report, tests = await graded(nb, "def double(x):\n    return 2 * x")
    assert tests["t0"]["message"] == "hidden test failed: error"
    assert MARK not in str(report.to_dict())


async def test_a_visible_line_after_hidden_ones_keeps_its_message():
    nb = question((HIDDEN + "\nassert double(0) == 1, 'zero'", 1))
    report, tests = await graded(nb, "def double(x):\n    return 2 * x")
    assert not tests["t0"]["passed"]
    assert "zero" in tests["t0"]["message"]


async def test_the_learner_driver_never_sees_the_hidden_tests():
    # the learner's code looks everywhere it can: its own process, the others', /tmp
    snoop = (
        "import os\n"
        "found = []\n"
        "for pid in os.listdir('/proc'):\n"
        "    for part in ('cmdline', 'environ'):\n"
        "        try:\n"
        "            if b'" + MARK + "' in open(f'/proc/{pid}/{part}', 'rb').read():\n"
        "                found.append(pid)\n"
        "        except OSError:\n"
        "            pass\n"
        "for root, dirs, files in os.walk('/tmp'):\n"
        "    for name in files:\n"
        "        try:\n"
        "            if b'"
        + MARK[:-1]
        + "' + b'"
        + MARK[-1]
        + "' in open(os.path.join(root, name), 'rb').read():\n"
        "                found.append(name)\n"
        "        except OSError:\n"
        "            pass\n"
        "def double(x):\n"
        "    assert not found, found\n"
        "    return 2 * x\n"
    )
    report, tests = await graded(question((VISIBLE, 1), (HIDDEN, 1)), snoop)
    assert report.score == 2, report.to_dict()


async def test_an_endless_learner_cell_is_a_time_limit_and_the_next_cells_still_run():
    report, tests = await graded(question((VISIBLE, 1)), "while True:\n    pass", cell=1)
    assert not tests["t0"]["passed"]
    # the driver was started again: the learner's names are gone, like a restarted kernel
    assert report.notebook is not None
    assert report.score == 0


async def test_an_endless_call_from_a_test_is_a_time_limit():
    answer = "def double(x):\n    while True:\n        pass"
    report, tests = await graded(question((VISIBLE, 1), (HIDDEN, 1)), answer, cell=1)
    assert report.score == 0
    assert "CellTimeoutError" in tests["t0"]["message"] or "time" in tests["t0"]["message"]
    assert MARK not in str(report.to_dict())


async def test_a_learner_driver_that_exits_is_a_lost_process():
    answer = "import os\ndef double(x):\n    os._exit(0)"
    report, tests = await graded(question((VISIBLE, 1)), answer)
    assert report.score == 0
    assert not tests["t0"]["passed"]


async def test_an_output_flood_is_an_output_limit():
    answer = "print('x' * 10_000_000)\ndef double(x):\n    return 2 * x"
    report, tests = await graded(question((VISIBLE, 1)), answer)
    assert report.score == 1  # the learner cell failed; its names... the test still ran


async def test_fake_protocol_lines_from_learner_code_are_only_its_own_answers():
    # writing a "done" line on the learner driver's channel forges nothing: the trusted
    # driver alone decides a test, and the learner's process cannot reach it
    answer = (
        "import os\n"
        'os.write(4, b\'{"status": "ok"}\\n\')\n'
        'os.write(1, b\'{"done": {"status": "ok"}}\\n\')\n'
        "def double(x):\n    return x\n"
    )
    report, tests = await graded(question((VISIBLE, 1), (HIDDEN, 1)), answer)
    assert report.score == 0
