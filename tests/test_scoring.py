"""Scoring: cell outcomes -> nbgrader outputs -> points and feedback by nbgrader's rules."""

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from grader.executors.base import CellOutcome
from grader.grading.run import prepare, report


def meta(gid, **kw):
    base = {"grade": False, "solution": False, "locked": False, "grade_id": gid}
    base.update(kw, schema_version=3)
    return {"nbgrader": base}


SECRET = "assert answer == 42, f'expected 42 for SECRET_CASE, got {answer}'"


def source():
    return new_notebook(
        cells=[
            new_code_cell("answer = 42", metadata=meta("answer", solution=True)),
            new_code_cell(
                "assert answer > 0", metadata=meta("visible", grade=True, locked=True, points=2)
            ),
            new_code_cell(
                f"### BEGIN HIDDEN TESTS\n{SECRET}\n### END HIDDEN TESTS",
                metadata=meta("hidden", grade=True, locked=True, points=3),
            ),
        ]
    )


def graded(*outcomes):
    merged, cells = prepare(source(), source())
    assert len(cells) == 3
    return report(source(), merged, list(outcomes))


OK = CellOutcome(status="ok")


def error(ename="AssertionError", evalue="", reason=None, tb=None):
    return CellOutcome(
        status="error",
        ename=ename,
        evalue=evalue,
        reason=reason,
        traceback=tb
        or [
            "Traceback (most recent call last):",
            '  File "<cell 3>", line 2, in <module>',
            f"    {SECRET}",
            f"{ename}: {evalue}",
        ],
    )


def by_name(report_):
    return {t["name"]: t for t in report_.tests}


def test_all_pass_gives_full_marks():
    r = graded(OK, OK, OK)
    assert (r.score, r.max_score) == (5.0, 5.0)
    tests = by_name(r)
    assert tests["visible"] == {
        "name": "visible",
        "title": "visible",  # no comment line, no coursehub.test_name: the grade_id
        "points": 2.0,
        "max_points": 2.0,
        "passed": True,
        "hidden": False,
        "message": "passed",
    }
    assert tests["hidden"]["message"] == "hidden test passed"
    assert r.to_dict()["tests"] == r.tests


def test_error_gives_zero_and_visible_message_has_the_traceback():
    tb = [
        "Traceback (most recent call last):",
        '  File "<cell 2>", line 1, in <module>',
        "    assert answer > 0",
        "AssertionError: answer must be positive",
    ]
    r = graded(OK, error(evalue="answer must be positive", tb=tb), OK)
    visible = by_name(r)["visible"]
    assert visible["points"] == 0 and not visible["passed"]
    assert visible["message"].startswith("AssertionError: answer must be positive")
    assert "    assert answer > 0" in visible["message"]
    assert r.score == 3.0


def test_hidden_failure_reveals_only_the_error_type():
    r = graded(OK, OK, error(evalue="expected 42 for SECRET_CASE, got 41"))
    hidden = by_name(r)["hidden"]
    assert hidden["points"] == 0
    assert hidden["hidden"] is True
    assert hidden["message"] == "hidden test failed: AssertionError"
    text = str(r.to_dict())
    assert "SECRET" not in text and "HIDDEN" not in text


def test_limits_appear_as_the_reason():
    r = graded(
        error("MemoryError", reason="memory_limit"),
        error("CellTimeoutError", "cell ran longer than 10 s", reason="time_limit"),
        error("CellTimeoutError", reason="time_limit"),
    )
    tests = by_name(r)
    assert tests["visible"]["message"].startswith("time_limit: CellTimeoutError")
    assert tests["hidden"]["message"] == "hidden test failed: time_limit"
    assert r.score == 0


def test_not_run_tests_score_zero():
    r = graded(OK, CellOutcome("not_run", reason="time_limit"), CellOutcome("not_run"))
    tests = by_name(r)
    assert tests["visible"]["points"] == 0
    assert tests["visible"]["message"] == "not run: time_limit"
    assert tests["hidden"]["message"] == "hidden test not run: error"


def test_stderr_gives_zero_like_nbgrader():
    r = graded(OK, CellOutcome("ok", stderr="DeprecationWarning: old\n"), OK)
    visible = by_name(r)["visible"]
    assert visible["points"] == 0
    assert "DeprecationWarning" in visible["message"]
    hidden = graded(OK, OK, CellOutcome("ok", stderr="SECRET_CASE leaked\n"))
    assert by_name(hidden)["hidden"]["message"] == "hidden test failed: output on stderr"


def test_stdout_does_not_matter():
    assert graded(OK, CellOutcome("ok", stdout="chatty\n"), OK).score == 5.0


@pytest.mark.parametrize(
    "result, points",
    [("1.5", 1.5), ("0", 0.0), ("'not a number'", 2.0), ("None", 2.0), ("-1", 2.0)],
)
def test_numeric_result_is_partial_credit(result, points):
    r = graded(OK, CellOutcome("ok", result=result), OK)
    visible = by_name(r)["visible"]
    assert visible["points"] == points
    assert visible["passed"] is (points == 2.0)


def test_partial_credit_above_maximum_gives_zero():
    r = graded(OK, CellOutcome("ok", result="7"), CellOutcome("ok", result="2"))
    tests = by_name(r)
    assert tests["visible"]["points"] == 0
    assert tests["hidden"]["message"] == "hidden test partially passed: 2 of 3 points"


def test_executed_notebook_has_nbgrader_outputs():
    r = graded(OK, CellOutcome("ok", stdout="hi\n", result="1.0"), error())
    cells = r.notebook.cells
    assert [o.output_type for o in cells[1].outputs] == ["stream", "execute_result"]
    assert cells[1].outputs[1].data["text/plain"] == "1.0"
    assert cells[2].outputs[0].output_type == "error"
    assert "notebook" not in r.to_dict()
