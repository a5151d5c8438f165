"""Questions in other languages, question side: the student version nbgrader's way (the
language's code stub, solution and hidden-test markers in any comment syntax, the kernel
kept), nbgrader's own configuration, and the API: a question's `language` from its
kernel, a 400 for a kernel coursehub cannot grade, `GET questions?language=` and the
languages in `GET questions/filters`."""

from __future__ import annotations

import copy
import json
import tomllib
from pathlib import Path

import pytest
from nbgrader.preprocessors import ClearSolutions

from grader.grading.languages import LANGUAGES
from grader.grading.notebooks import (
    NotebookFormatError,
    nbgrader_code_stubs,
    student_version,
    test_specs,
    test_title,
    validate_source,
)
from tests.conftest import AUTHOR, LEARN, nbgrader_cell, python_notebook, square_question
from tests.test_question_types import choice_source

REPO = Path(__file__).resolve().parents[1]
SECRET = "SECRETLINE" + "91c"

KERNELS = {
    "r": {"name": "ir", "display_name": "R", "language": "R"},
    "javascript": {"name": "deno", "display_name": "Deno", "language": "typescript"},
    "c": {"name": "coursehub-c", "display_name": "C", "language": "c"},
}


def notebook_in(language: str, solution: str, test: str):
    nb = python_notebook(
        [
            nbgrader_cell("locked", "Write it.", "task", cell_type="markdown"),
            nbgrader_cell("solution", solution, "answer"),
            nbgrader_cell("test", test, "check", 2),
        ]
    )
    nb.metadata["kernelspec"] = dict(KERNELS[language])
    return nb


R_QUESTION = notebook_in(
    "r",
    f"cube <- function(x) {{\n  ### BEGIN SOLUTION\n  x^3 # {SECRET}\n  ### END SOLUTION\n}}",
    "# cubes\nstopifnot(cube(2) == 8)\n### BEGIN HIDDEN TESTS\n"
    f"stopifnot(cube(3) == 27) # {SECRET}\n### END HIDDEN TESTS",
)
JS_QUESTION = notebook_in(
    "javascript",
    f"function cube(x) {{\n  // BEGIN SOLUTION\n  return x ** 3; // {SECRET}\n  // END SOLUTION\n}}",
    "// cubes\nconsole.assert(cube(2) === 8);\n/* BEGIN HIDDEN TESTS */\n"
    f"console.assert(cube(3) === 27); // {SECRET}\n/* END HIDDEN TESTS */",
)
C_QUESTION = notebook_in(
    "c",
    f"int cube(int x) {{\n    /* BEGIN SOLUTION */\n    return x * x * x; /* {SECRET} */\n"
    "    /* END SOLUTION */\n}",
    "#include <assert.h>\n/* cubes */\nassert(cube(2) == 8);\n// BEGIN HIDDEN TESTS\n"
    f"assert(cube(3) == 27); // {SECRET}\n// END HIDDEN TESTS",
)
# each language's stub (its helper's choice), R's spelled out in the test below
STUBS = {name: LANGUAGES[name].code_stub for name in ("r", "javascript", "c")}


@pytest.mark.parametrize(
    ("language", "nb"), [("r", R_QUESTION), ("javascript", JS_QUESTION), ("c", C_QUESTION)]
)
def test_the_student_version_has_the_language_s_stub_and_no_secret(language, nb):
    validate_source(nb)
    released = student_version(nb)
    answer = released.cells[1].source
    # the stub replaces the region at its indentation, as nbgrader does
    assert [line.strip() for line in STUBS[language].split("\n")] == [
        line.strip() for line in answer.split("\n")[1:-1]
    ], answer
    as_text = json.dumps(released)
    assert SECRET not in as_text
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in as_text
    # the notebook opens on the language's kernel in JupyterLab
    assert released.metadata["kernelspec"] == KERNELS[language]
    assert [spec.hidden for spec in test_specs(nb)] == [True]


def test_a_whole_solution_cell_becomes_the_r_stub():
    nb = copy.deepcopy(R_QUESTION)
    nb.cells[1].source = "cube <- function(x) x^3"  # no solution region: all of it goes
    assert student_version(nb).cells[1].source == '# YOUR CODE HERE\nstop("No Answer Given!")'


def test_a_notebook_on_an_unknown_kernel_has_no_student_version():
    nb = copy.deepcopy(R_QUESTION)
    nb.metadata["kernelspec"] = {"name": "cobol", "display_name": "COBOL", "language": "cobol"}
    with pytest.raises(NotebookFormatError, match="'cobol' is not supported"):
        student_version(nb)


def test_test_titles_come_from_comments_in_any_syntax_never_a_preprocessor_line():
    assert test_title(R_QUESTION.cells[2]) == "cubes"
    assert test_title(JS_QUESTION.cells[2]) == "cubes"
    # a C test cell starting with #include is named by its grade_id, not "include ..."
    assert test_title(C_QUESTION.cells[2]) == "check"


def test_nbgrader_is_configured_with_every_language_s_code_stub():
    stubs = nbgrader_code_stubs()
    # keyed by what each kernel's kernelspec says its language is ("R" for IRkernel)
    assert stubs["R"] == stubs["r"] == '# YOUR CODE HERE\nstop("No Answer Given!")'
    assert stubs["python"] == ClearSolutions().code_stub["python"]
    config = REPO / "extensions/jupyter-config/coursehub-instructor/nbgrader_config.json"
    shipped = json.loads(config.read_text())["ClearSolutions"]["code_stub"]
    assert shipped == {**ClearSolutions().code_stub, **stubs}
    # installed where instructors' Jupyter looks (hub_config.spawner's config path)
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    shared = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["shared-data"]
    assert shared[str(config.relative_to(REPO))] == (
        "etc/jupyter/coursehub-instructor/nbgrader_config.json"
    )


def test_bootstrap_and_the_learner_image_install_r_and_its_kernel():
    bootstrap = (REPO / "hub_config/bootstrap.sh").read_text()
    packages = ("r-base-core", "r-cran-irkernel", "r-cran-jsonlite", "r-cran-testthat")
    assert "install_language_packages\n" in bootstrap
    assert all(p in bootstrap for p in packages)
    assert "share/jupyter/kernels/ir" in bootstrap
    for dockerfile in ("Dockerfile.local", "Dockerfile"):
        text = (REPO / "images/learner" / dockerfile).read_text()
        assert all(p in text for p in packages), dockerfile


# -- the API ------------------------------------------------------------------------------


@pytest.fixture
async def catalogue(grader):
    author = grader.client_for("teacher", (LEARN, AUTHOR))
    code, _ = await author.post("modules", {"slug": "m", "title": "M"})
    assert code == 201
    ids = {}
    for slug, nb in (("square", square_question()), ("cube-r", R_QUESTION)):
        code, question = await author.post(
            "questions", {"module": "m", "slug": slug, "title": slug, "notebook": nb}
        )
        assert code == 201, question
        ids[slug] = question["id"]
    return author, ids


async def test_a_question_s_language_comes_from_its_kernel(grader, catalogue):
    author, ids = catalogue
    learner = grader.client_for("ann", (LEARN,))
    code, data = await learner.get("questions")
    assert code == 200
    assert {q["slug"]: q["language"] for q in data["questions"]} == {
        "square": "python",
        "cube-r": "r",
    }
    code, data = await learner.get("questions?language=r")
    assert code == 200 and [q["slug"] for q in data["questions"]] == ["cube-r"]
    code, data = await learner.get("questions?language=python")
    assert [q["slug"] for q in data["questions"]] == ["square"]
    code, data = await learner.get("questions/filters")
    assert code == 200 and data["languages"] == ["python", "r"]
    # the learner's copy opens on IRkernel, with R's stub
    code, served = await learner.get(f"questions/{ids['cube-r']}")
    assert code == 200
    assert served["notebook"]["metadata"]["kernelspec"]["name"] == "ir"
    assert SECRET not in json.dumps(served)


async def test_an_unknown_language_filter_is_a_400(grader, catalogue):
    learner = grader.client_for("ann", (LEARN,))
    code, data = await learner.get("questions?language=cobol")
    assert code == 400 and "cobol" in data["message"]


async def test_a_notebook_on_an_unknown_kernel_is_refused_naming_it(grader, catalogue):
    author, ids = catalogue
    nb = copy.deepcopy(R_QUESTION)
    nb.metadata["kernelspec"] = {"name": "cobol", "display_name": "COBOL", "language": "cobol"}
    code, data = await author.post(
        "questions", {"module": "m", "slug": "cobol", "title": "C", "notebook": nb}
    )
    assert code == 400 and "'cobol'" in data["message"], data
    # a new version on that kernel is refused too, and the question stays R
    code, data = await author.request("PUT", f"questions/{ids['cube-r']}", body={"notebook": nb})
    assert code == 400 and "'cobol'" in data["message"], data
    code, data = await author.get("questions?language=r")
    assert [q["slug"] for q in data["questions"]] == ["cube-r"]


async def test_a_new_version_in_another_language_changes_the_question_s_language(grader, catalogue):
    author, ids = catalogue
    code, data = await author.request(
        "PUT", f"questions/{ids['square']}", body={"notebook": R_QUESTION}
    )
    assert code == 200, data
    code, data = await author.get("questions?language=r")
    assert sorted(q["slug"] for q in data["questions"]) == ["cube-r", "square"]


async def test_a_choice_question_is_python(grader, catalogue):
    author, _ = catalogue
    nb = choice_source()
    nb.metadata["kernelspec"] = dict(KERNELS["r"])
    code, data = await author.post(
        "questions",
        {"module": "m", "slug": "pick", "title": "P", "type": "choice", "notebook": nb},
    )
    assert code == 400 and "Python" in data["message"], data
    code, data = await author.post(
        "questions",
        {
            "module": "m",
            "slug": "pick",
            "title": "P",
            "type": "choice",
            "notebook": choice_source(),
        },
    )
    assert code == 201 and data["language"] == "python", data


def test_an_r_question_opened_in_jupyterlab_keeps_its_kernel():
    # what POST questions/{id}/open writes into the learner's home (tag_notebook) keeps
    # metadata.kernelspec, so JupyterLab starts IRkernel for it
    from coursehub_extension.workspace import tag_notebook

    served = json.loads(json.dumps(student_version(R_QUESTION)))
    opened = tag_notebook(served, 7)
    assert opened.metadata["kernelspec"] == KERNELS["r"]
    assert opened.metadata["coursehub"]["question_id"] == 7
