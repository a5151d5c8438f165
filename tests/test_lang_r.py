"""R questions graded like Python ones: in bubblewrap and in Docker, by the R driver pair
(grader/sandbox/drivers/r/), with the Python grader's limits, feedback and guarantees.

Each test builds an R question in memory (IRkernel's kernelspec "ir"), grades a
learner's answer through ``grader.grading.run.grade`` in a real sandbox and checks what
a learner would see: the score, each test's message, and that no hidden test's text
ever reaches them. The hostile answers try what a learner would try: forge the verdict
(redefine the test functions and operators, return objects whose methods say "equal",
print pass markers, write fake protocol lines, exit early), read the hidden tests
(their own process, /proc, /tmp, the environment), abuse resources, and escape.
"""

from __future__ import annotations

import copy
import json
import secrets
import shutil
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from grader.executors.bubblewrap import BubblewrapExecutor
from grader.grading.run import grade

MARK = "RHIDDENMARK" + "7f3a"  # never appears in learner code as one string
HIDDEN_VALUE = 4913  # 17 cubed: a hidden test's expected value, in no visible test

REPO = Path(__file__).resolve().parents[1]
KERNELSPEC = {"name": "ir", "display_name": "R", "language": "R"}


def meta(gid, **kw):
    base = {"grade": False, "solution": False, "locked": False, "grade_id": gid}
    base.update(kw, schema_version=3)
    return {"nbgrader": base}


def question(
    *tests, answer="cube <- function(x) {\n  ### BEGIN SOLUTION\n  x^3\n  ### END SOLUTION\n}"
):
    """A question: a locked setup cell (testthat), the answer, then the test cells."""
    cells = [
        new_code_cell("library(testthat)", metadata=meta("setup", locked=True)),
        new_code_cell(answer, metadata=meta("answer", solution=True)),
    ]
    for i, (source, points) in enumerate(tests):
        cells.append(new_code_cell(source, metadata=meta(f"t{i}", grade=True, points=points)))
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "R"}
    return nb


VISIBLE = "stopifnot(cube(2) == 8)\nexpect_equal(cube(3), 27)"
HIDDEN = (
    "# hidden\n### BEGIN HIDDEN TESTS\n"
    f'stopifnot("{MARK}" = isTRUE(all.equal(cube(17), {HIDDEN_VALUE})))\n'
    f"expect_identical(cube(-17), -{HIDDEN_VALUE})\n"
    "### END HIDDEN TESTS"
)
CUBE = question((VISIBLE, 1), (HIDDEN, 2))
RIGHT = "cube <- function(x) x * x * x"


def with_answer(nb, answer: str):
    learner = copy.deepcopy(nb)
    learner.cells[1].source = answer
    return learner


# -- executors: bubblewrap, and Docker where an engine answers ---------------------------


def needs_bwrap():
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed (apt-get install bubblewrap)")
    if shutil.which("Rscript") is None:
        pytest.skip("R is not installed (hub_config/bootstrap.sh install_language_packages)")


@pytest.fixture(params=["bubblewrap", pytest.param("docker", marks=pytest.mark.docker)])
def make_executor(request):
    """A function making an executor of the parametrized kind (limits as keywords)."""
    if request.param == "bubblewrap":
        needs_bwrap()

        def make(**limits):
            return BubblewrapExecutor(**{"time_limit": 60, "cell_time_limit": 10, **limits})

        return make
    image = request.getfixturevalue("learner_image")
    from grader.executors.docker import DockerExecutor

    prefix = f"coursehub-test-r{secrets.token_hex(3)}-"

    def make(**limits):
        return DockerExecutor(
            **{"image": image, "name_prefix": prefix, "time_limit": 60, "cell_time_limit": 10}
            | limits
        )

    return make


async def graded(make_executor, nb, answer, **limits):
    executor = make_executor(**limits)
    try:
        report = await grade(executor, nb, with_answer(nb, answer))
    finally:
        await executor.close()
    assert MARK not in json.dumps(report.to_dict()), "a hidden test's text reached the report"
    assert str(HIDDEN_VALUE) not in json.dumps(report.tests), "a hidden expected value leaked"
    return report, {t["name"]: t for t in report.tests}


# -- honest answers ----------------------------------------------------------------------


@pytest.mark.sandbox
async def test_the_reference_solution_scores_full_marks(make_executor):
    report, tests = await graded(make_executor, CUBE, RIGHT)
    assert report.score == report.max_score == 3, tests
    assert tests["t1"]["message"] == "hidden test passed"


@pytest.mark.sandbox
async def test_a_wrong_answer_fails_with_testthat_s_message_and_a_bare_hidden_name(
    make_executor,
):
    report, tests = await graded(make_executor, CUBE, "cube <- function(x) x^2 * 2")
    # cube(2) == 8 holds (2^2 * 2), cube(3) is 18: testthat says so, with the test's line
    assert report.score == 0
    message = tests["t0"]["message"]
    assert message.startswith("expectation_failure: cube(3) not equal to 27"), message
    assert "test cell, line 2: expect_equal(cube(3), 27)" in message
    assert tests["t1"]["message"] == "hidden test failed: simpleError"


@pytest.mark.sandbox
async def test_an_error_in_the_learner_s_function_is_named_in_visible_feedback(make_executor):
    report, tests = await graded(make_executor, CUBE, 'cube <- function(x) stop("not yet")')
    assert report.score == 0
    assert "simpleError: in the learner's code: not yet" in tests["t0"]["message"]
    assert tests["t1"]["message"] == "hidden test failed: simpleError"


@pytest.mark.sandbox
async def test_values_come_back_as_the_same_data(make_executor):
    # vectors with NA/NaN/Inf and names, matrices, lists, factors, data frames, Dates,
    # complex numbers and exact doubles all reach the test as what the learner made
    answer = (
        "v <- c(a = 1.5, b = NA, c = NaN, d = Inf, e = -0)\n"
        "m <- matrix(1:6, 2, dimnames = list(c('r1', 'r2'), NULL))\n"
        "l <- list(p = 1L, q = list(r = 's', t = NULL))\n"
        "f <- factor(c('lo', 'hi', NA), levels = c('lo', 'hi'))\n"
        "d <- data.frame(x = 1:2, y = c('u', 'v'))\n"
        "day <- as.Date('2024-02-29')\n"
        "z <- complex(real = 1, imaginary = -2)\n"
        "third <- 1 / 3\n"
        "cube <- function(x) x^3"
    )
    test = (
        "stopifnot(identical(v, c(a = 1.5, b = NA, c = NaN, d = Inf, e = -0)))\n"
        "stopifnot(identical(1 / v[['e']], -Inf))\n"
        "stopifnot(identical(m, matrix(1:6, 2, dimnames = list(c('r1', 'r2'), NULL))))\n"
        "stopifnot(identical(l, list(p = 1L, q = list(r = 's', t = NULL))))\n"
        "stopifnot(identical(f, factor(c('lo', 'hi', NA), levels = c('lo', 'hi'))))\n"
        "expect_equal(d, data.frame(x = 1:2, y = c('u', 'v')))\n"
        "stopifnot(identical(day, as.Date('2024-02-29')))\n"
        "stopifnot(identical(z, complex(real = 1, imaginary = -2)))\n"
        "stopifnot(identical(third, 1 / 3))"
    )
    report, tests = await graded(make_executor, question((test, 1)), answer)
    assert report.score == 1, tests


@pytest.mark.sandbox
async def test_learner_names_are_looked_up_on_each_use(make_executor):
    # a later learner cell redefines `cube`: the later test sees the new one; a learner's
    # `df` (a name R's stats package also has) is the learner's
    nb = question(
        ("stopifnot(cube(2) == 8)", 1),
        ("stopifnot(cube(2) == 0)\nstopifnot(nrow(df) == 2)", 1),
    )
    nb.cells.insert(
        3,
        new_code_cell(
            "cube <- function(x) 0\ndf <- data.frame(a = 1:2)",
            metadata=meta("later", solution=True),
        ),
    )
    report, tests = await graded(make_executor, nb, RIGHT)
    assert report.score == 2, tests


# -- forging the verdict -------------------------------------------------------------------

FORGERIES = {
    # the test helpers and operators, redefined in the learner's global environment
    "helpers": (
        "stopifnot <- function(...) invisible(TRUE)\n"
        "expect_equal <- function(...) invisible(TRUE)\n"
        "expect_identical <- function(...) invisible(TRUE)\n"
        "`==` <- function(e1, e2) TRUE\n"
        "identical <- function(...) TRUE\n"
        "all.equal <- function(...) TRUE\n"
        "isTRUE <- function(x) TRUE\n"
        "print <- function(...) cat('ok\\n')\n"
        "cube <- function(x) x"
    ),
    # S3 methods for the values the tests hold, and a class whose methods say "equal"
    "s3 methods": (
        "all.equal.numeric <- function(target, current, ...) TRUE\n"
        "all.equal.double <- function(target, current, ...) TRUE\n"
        "`==.numeric` <- function(e1, e2) TRUE\n"
        "Ops.liar <- function(e1, e2) TRUE\n"
        "all.equal.liar <- function(...) TRUE\n"
        "cube <- function(x) structure(0, class = 'liar')"
    ),
    # an S4 object with methods, and a reference object
    "s4": (
        "setClass('Liar', representation(x = 'numeric'))\n"
        "setMethod('==', signature('Liar', 'ANY'), function(e1, e2) TRUE)\n"
        "cube <- function(x) new('Liar', x = 0)"
    ),
    "environment": "cube <- function(x) { e <- new.env(); e$value <- x^3; e }",
    # pass markers on stdout, fake protocol lines on every descriptor
    "protocol": (
        'cat(\'{"done": {"status": "ok"}}\\n\')\n'
        'cat(\'{"status": "ok"}\\n\', file = stderr())\n'
        'for (fd in c(3, 4)) try(writeLines(\'{"reply": {"value": {"t": "lgl", '
        "\"v\": [true]}}}', file(sprintf('/dev/fd/%d', fd), 'w')), silent = TRUE)\n"
        'cube <- function(x) { cat(\'{"done": {"status": "ok"}}\\n\'); x }'
    ),
    # ending the process from inside a test's call: expect_error() must not pass
    "exit": "cube <- function(x) quit(save = 'no', status = 0)",
    # a value the decoder must refuse: malformed data, deep nesting, a fake function ref
    "deep": "cube <- function(x) { v <- 0; for (i in 1:200) v <- list(v); v }",
}


@pytest.mark.sandbox
@pytest.mark.parametrize("kind", sorted(FORGERIES))
async def test_forging_the_verdict_earns_nothing(make_executor, kind):
    nb = question(
        (VISIBLE, 1),
        (HIDDEN, 2),
        ('expect_error(cube("not a number"))\nstopifnot(is.numeric(cube(1)))', 1),
    )
    report, tests = await graded(make_executor, nb, FORGERIES[kind])
    assert report.score == 0, tests
    for test in tests.values():
        assert not test["passed"], test


@pytest.mark.sandbox
async def test_a_learner_s_methods_for_base_generics_never_run_in_a_test(make_executor):
    # were `all.equal.double` (or `print.numeric`, `==.factor`) visible to the tests, a
    # test's all.equal(cube(17), ...) would dispatch to it: they are never the learner's
    answer = (
        "all.equal.double <- function(target, current, ...) TRUE\n"
        "all.equal.numeric <- function(target, current, ...) TRUE\n"
        "isTRUE.default <- function(x) TRUE\n"
        "cube <- function(x) 0"
    )
    nb = question(("stopifnot(isTRUE(all.equal(cube(2), 8)))", 1))
    report, tests = await graded(make_executor, nb, answer)
    assert report.score == 0, tests
    assert "is not TRUE" in tests["t0"]["message"]


@pytest.mark.sandbox
async def test_a_learner_s_s3_class_is_dropped_and_its_data_compared(make_executor):
    # the right number, wrapped in a class with lying methods: the data is what counts
    answer = (
        "Ops.liar <- function(e1, e2) FALSE\n"
        "print.liar <- function(x, ...) cat('wrong\\n')\n"
        "cube <- function(x) structure(x^3, class = 'liar')"
    )
    report, tests = await graded(make_executor, CUBE, answer)
    assert report.score == 3, tests


# -- reading the hidden tests ---------------------------------------------------------------

SNOOP = (
    "found <- character()\n"
    "needle <- paste0('RHIDDEN', 'MARK')\n"
    "for (pid in list.files('/proc', pattern = '^[0-9]+$')) {\n"
    "  for (part in c('cmdline', 'environ')) {\n"
    "    text <- tryCatch(readBin(file.path('/proc', pid, part), 'raw', 1e6),\n"
    "                     error = function(e) raw(0), warning = function(w) raw(0))\n"
    "    if (grepl(needle, rawToChar(text[text != as.raw(0)]), fixed = TRUE))\n"
    "      found <- c(found, file.path(pid, part))\n"
    "  }\n"
    "}\n"
    "for (path in list.files(c('/tmp', '/proc/self/cwd', Sys.getenv('HOME')),\n"
    "                        recursive = TRUE, full.names = TRUE, all.files = TRUE)) {\n"
    "  text <- tryCatch(readChar(path, 1e6, useBytes = TRUE),\n"
    "                   error = function(e) '', warning = function(w) '')\n"
    "  if (length(text) && grepl(needle, text, fixed = TRUE)) found <- c(found, path)\n"
    "}\n"
    "if (any(grepl(needle, c(commandArgs(), names(Sys.getenv()), Sys.getenv()), fixed = TRUE)))\n"
    "  found <- c(found, 'args or environment')\n"
    "cube <- function(x) {\n"
    "  calls <- paste(deparse(sys.calls()), collapse = ' ')\n"
    "  if (grepl(needle, calls, fixed = TRUE)) found <<- c(found, 'calls')\n"
    "  if (length(found)) stop(paste(found, collapse = ', '))\n"
    "  x^3\n"
    "}"
)


@pytest.mark.sandbox
async def test_the_learner_s_code_cannot_find_the_hidden_tests(make_executor):
    report, tests = await graded(make_executor, CUBE, SNOOP)
    # had the learner found the mark, cube() would fail and say where
    assert report.score == 3, tests


# -- resources -------------------------------------------------------------------------------

ABUSE = {
    "time_limit": "cube <- function(x) { while (TRUE) {} }",
    "memory_limit": "cube <- function(x) { keep <- list(); repeat keep[[length(keep) + 1]] <- "
    "numeric(5e7) }",
    "process_limit": "cube <- function(x) { repeat parallel::mcparallel(Sys.sleep(10)) }",
    "output_limit": "cube <- function(x) { repeat cat(strrep('spam', 1000), '\\n') }",
}


@pytest.mark.sandbox
@pytest.mark.parametrize("reason", sorted(ABUSE))
async def test_resource_abuse_ends_in_the_python_grader_s_feedback(make_executor, reason):
    # the abuse happens in the first test's call; the second test (its own cell, after
    # a learner cell that redefines cube) still runs and passes
    nb = question(("stopifnot(cube(2) == 8)", 1), ("stopifnot(cube(2) == 8)", 1))
    nb.cells.insert(3, new_code_cell(RIGHT, metadata=meta("again", solution=True)))
    # time enough to reach the memory limit (a container's is its cgroup's)
    cell_time_limit = 15 if reason == "memory_limit" else 3
    report, tests = await graded(make_executor, nb, ABUSE[reason], cell_time_limit=cell_time_limit)
    assert not tests["t0"]["passed"]
    message = tests["t0"]["message"]
    expected = {
        "time_limit": "time_limit",
        "memory_limit": ("memory_limit", "learner_exit", "cannot allocate", "simpleError"),
        "process_limit": ("process_limit", "learner_exit", "time_limit", "simpleError"),
        "output_limit": "output_limit",
    }[reason]
    expected = (expected,) if isinstance(expected, str) else expected
    assert any(word in message for word in expected), message
    assert tests["t1"]["passed"], tests["t1"]


@pytest.mark.sandbox
async def test_an_endless_learner_cell_is_a_time_limit_like_python_s(make_executor):
    report, tests = await graded(
        make_executor, CUBE, "repeat {}\ncube <- function(x) x^3", cell_time_limit=2
    )
    assert report.score == 0
    answer_outputs = report.notebook.cells[1].outputs
    assert answer_outputs[-1]["ename"] == "CellTimeoutError", answer_outputs


# -- escape ----------------------------------------------------------------------------------

ESCAPES = (
    "tried <- character()\n"
    "con <- tryCatch(socketConnection('1.1.1.1', 80, timeout = 2), error = function(e) NULL,\n"
    "                warning = function(w) NULL)\n"
    "if (!is.null(con)) tried <- c(tried, 'network')\n"
    "for (path in c('/usr/escape', '/etc/escape', '/escape', '/home/escape')) {\n"
    "  ok <- tryCatch({ writeLines('x', path); TRUE }, error = function(e) FALSE,\n"
    "                 warning = function(w) FALSE)\n"
    "  if (ok) tried <- c(tried, path)\n"
    "}\n"
    # the host's: its password hashes, root's home, this checkout (course sources with
    # hidden tests); a container's own /etc/passwd is the image's, not the host's
    f"for (path in c('/etc/shadow', '/root/.bashrc', '{REPO}/pyproject.toml',\n"
    f"               '{REPO}/course_content/python-foundations/course.json')) {{\n"
    "  if (file.exists(path) && length(tryCatch(readLines(path, 1), error = function(e) NULL,\n"
    "                                           warning = function(w) NULL)))\n"
    "    tried <- c(tried, path)\n"
    "}\n"
    "cube <- function(x) if (length(tried)) stop(paste(tried, collapse = ', ')) else x^3"
)


@pytest.mark.sandbox
async def test_no_network_no_writes_outside_tmp_no_host_files(make_executor):
    report, tests = await graded(make_executor, CUBE, ESCAPES)
    assert report.score == 3, tests["t0"]["message"]


# -- equivalence with nbgrader autograde (IRkernel) ---------------------------------------

EQUIVALENCE_TESTS = (
    ("stopifnot(cube(2) == 8)", 1),
    ("expect_equal(cube(3), 27)\nexpect_equal(cube(-1), -1)", 2),
    (HIDDEN, 2),
    ("stopifnot(is.numeric(cube(1:3)), length(cube(1:3)) == 3)", 1),
)
SUBMISSIONS = {
    "honest": RIGHT,
    "vectorised": "cube <- function(x) x^3",
    "partial": "cube <- function(x) if (length(x) > 1) x[1]^3 else x^3",
    "wrong": "cube <- function(x) x^2",
    "failing": 'cube <- function(x) stop("no")',
    # hostile in coursehub's eyes but honest in nbgrader's: shadows names the tests use
    # from base R and a default package, prints a pass marker, and is right
    "shadowing": (
        "print <- function(...) cat('ok\\n')\n"
        "df <- data.frame(a = 1)\n"
        "cat('All tests passed\\n')\n"
        "cube <- function(x) x * x * x"
    ),
}


@pytest.mark.sandbox
@pytest.mark.skipif(shutil.which("R") is None, reason="R is not installed")
async def test_scores_equal_nbgrader_autograde_with_irkernel(tmp_path):
    needs_bwrap()
    from tests.test_nbgrader_equivalence import nbgrader_grades

    source = question(*EQUIVALENCE_TESTS)

    def submission(answer):
        def make(released):
            nb = copy.deepcopy(released)
            for cell in nb.cells:
                if cell.metadata.get("nbgrader", {}).get("grade_id") == "answer":
                    cell.source = answer
            return nb

        return make

    released_stub = {"stub": lambda released: copy.deepcopy(released)}
    theirs, released = nbgrader_grades(
        tmp_path, source, {**{k: submission(v) for k, v in SUBMISSIONS.items()}, **released_stub}
    )
    # nbgrader released the R stub coursehub makes, and kept the R kernel
    assert 'stop("No Answer Given!")' in released.cells[1].source
    assert released.metadata["kernelspec"]["name"] == "ir"
    executor = BubblewrapExecutor(time_limit=60, cell_time_limit=10)
    try:
        for student in [*SUBMISSIONS, "stub"]:
            answer = SUBMISSIONS.get(student)
            learner = released if answer is None else with_answer(released, answer)
            report = await grade(executor, source, learner)
            ours = {t["name"]: t["points"] for t in report.tests}
            assert ours == theirs[student], (student, ours, theirs[student], report.tests)
    finally:
        await executor.close()
    assert theirs["honest"] == {"t0": 1, "t1": 2, "t2": 2, "t3": 1}
    assert sum(theirs["partial"].values()) < 6 and sum(theirs["stub"].values()) == 0
