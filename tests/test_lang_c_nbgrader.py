"""C questions score what ``nbgrader autograde`` gives them, run with coursehub's C
kernel: honest, wrong and hostile-but-honest-in-nbgrader submissions of the sample
questions and of the attack question of tests/test_lang_c.py.

(Some hostile answers fool nbgrader, which links the learner's code into the test
program: ``exit(0)`` inside the tested function, a ``#define assert``, a learner
``strcmp``. coursehub fails them; they are left out of the comparison on purpose and
tested in test_lang_c.py.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grader.executors.bubblewrap import BubblewrapExecutor
from grader.grading.languages import LANGUAGES
from grader.grading.run import grade
from tests.test_lang_c import ATTACK_SOURCE, ATTACKS, QUESTIONS, ROOT, WRONG, attack, load

NBGRADER = Path(sys.executable).with_name("nbgrader")
ASSIGNMENT = "cbasics"

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(
        shutil.which("bwrap") is None or shutil.which("gcc") is None,
        reason="bubblewrap and gcc are needed",
    ),
]

SOURCES = {question: load(question) for question in QUESTIONS}
SOURCES["attack"] = ATTACK_SOURCE


def answers_for(name: str, kind: str) -> dict:
    """{grade_id: the learner's answer cell} for one question and kind of submission."""
    if kind == "honest":
        return {}
    if name == "attack":
        return {
            "wrong": {"answer": attack("int answer(int x) { return x == 2 ? 4 : 0; }")},
            "markers": {"answer": ATTACKS["prints pass markers"]},
            "crash": {"answer": attack("int answer(int x) { int *p = 0; return *p + x; }")},
        }[kind]
    wrong = WRONG[f"c-basics/{name}"]
    grade_id = next(iter(wrong[0]))
    return {
        "wrong": wrong[0],
        "markers": {grade_id: wrong[1][grade_id] + '\n#include <stdio.h>\nprintf("ok\\n");'},
        "crash": {grade_id: LANGUAGES["c"].code_stub},
    }[kind]


KINDS = ["honest", "wrong", "markers", "crash"]


def submission(released, source, answers):
    nb = nbformat.reads(nbformat.writes(released), as_version=4)
    for cell, original in zip(nb.cells, source.cells, strict=True):
        grade_id = original.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
        elif original.metadata.get("nbgrader", {}).get("solution"):
            cell.source = original.source  # the reference answer
    return nb


@pytest.fixture(scope="module")
def nbgrader_scores(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    kernels = course / "jupyter" / "kernels" / "coursehub-c"
    kernels.mkdir(parents=True)
    spec = json.loads((ROOT / "extensions/coursehub_c_kernel/kernelspec/kernel.json").read_text())
    spec["argv"][0] = sys.executable
    spec["env"] = {"PYTHONPATH": str(ROOT / "extensions")}
    (kernels / "kernel.json").write_text(json.dumps(spec))
    stubs = {
        "python": "# YOUR CODE HERE\nraise NotImplementedError()",
        "c": LANGUAGES["c"].code_stub,
    }
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        "c.CourseDirectory.course_id = 'course'\n"
        f"c.ClearSolutions.code_stub = {stubs!r}\n"
        "c.ClearSolutions.begin_solution_delimeter = 'BEGIN SOLUTION'\n"
        "c.ClearSolutions.end_solution_delimeter = 'END SOLUTION'\n"
    )
    source_dir = course / "source" / ASSIGNMENT
    source_dir.mkdir(parents=True)
    for name, nb in SOURCES.items():
        nbformat.write(nb, source_dir / f"{name}.ipynb")
    env = dict(
        os.environ,
        HOME=str(course),
        JUPYTER_PATH=str(course / "jupyter"),
        PATH=f"{NBGRADER.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )

    def nbgrader(*args):
        done = subprocess.run(
            [str(NBGRADER), *args, "--force"],
            cwd=course,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    nbgrader("generate_assignment", ASSIGNMENT)
    submissions = {}
    for kind in KINDS:
        folder = course / "submitted" / kind / ASSIGNMENT
        folder.mkdir(parents=True)
        for name, source in SOURCES.items():
            released = nbformat.read(course / "release" / ASSIGNMENT / f"{name}.ipynb", 4)
            nb = submission(released, source, answers_for(name, kind))
            nbformat.write(nb, folder / f"{name}.ipynb")
            submissions[kind, name] = nb
    nbgrader("autograde", ASSIGNMENT)
    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id="course") as gb:
        for kind in KINDS:
            for name in SOURCES:
                nb = gb.find_submission_notebook(name, ASSIGNMENT, kind)
                scores[kind, name] = {
                    g.name: float(g.score) for g in nb.grades if g.auto_score is not None
                }
    return scores, submissions


@pytest.mark.parametrize("kind", KINDS)
async def test_same_points_as_nbgrader(nbgrader_scores, kind):
    scores, submissions = nbgrader_scores
    executor = BubblewrapExecutor(time_limit=60, cell_time_limit=10)
    try:
        for name, source in SOURCES.items():
            report = await grade(executor, source, submissions[kind, name])
            ours = {t["name"]: t["points"] for t in report.tests}
            assert ours == scores[kind, name], (kind, name, report.tests)
    finally:
        await executor.close()
