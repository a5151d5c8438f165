"""schemathesis fuzzes every operation of the grader's contract against a real grader.

The grading service runs in this process (SQLite, bubblewrap, the FakeHub), with a
course holding a module, a few questions (notebook, choice, flashcard) and a graded
submission; schemathesis's command line, in a subprocess, reads the served
`openapi.json` and sends generated requests to every operation (positive data: what
the contract allows), once with a learner's token and once with an instructor's.

Checks: no server error (5xx other than the documented 502/503), every status code
listed, the content type and the body as the contract says. The run is bounded (a few
examples per operation, no shrinking, a time budget) and its summary is printed, so
it shows in CI's log. `GET events` and `GET audit/events` are left out: streams that
never end by design (tested in tests/test_push_events.py and the audit's tests, their
responses checked against the contract there).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import LEARN

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)
#: per operation, per run; the whole run (both roles) stays within a few minutes
MAX_EXAMPLES = int(os.environ.get("COURSEHUB_FUZZ_EXAMPLES", "20"))
MAX_SECONDS_PER_RUN = 150
#: streams that do not end while the client listens (a learner's push channel, the
#: audit log's feed): read until the request times out, they would only test patience
LEFT_OUT = ["/events", "/audit/events"]


def schemathesis_command() -> list[str]:
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "schemathesis.cli"]


async def fuzz(base_url: str, token: str, report: Path) -> tuple[int, str]:
    args = [
        *schemathesis_command(),
        "run",
        base_url + "openapi.json",
        "--url",
        base_url.rstrip("/"),
        "--checks",
        CHECKS,
        "--mode",
        "positive",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--no-shrink",
        "--seed",
        "14",
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--max-failures",
        "50",
        "--header",
        f"Authorization: token {token}",
        "--suppress-health-check",
        "all",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
    ]
    for path in LEFT_OUT:
        args += ["--exclude-path", path]
    env = {**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""}
    process = await asyncio.create_subprocess_exec(
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
        cwd=str(report.parent),
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=MAX_SECONDS_PER_RUN * 2)
    except TimeoutError:
        process.kill()
        output, _ = await process.communicate()
        return -1, output.decode(errors="replace") + "\n(schemathesis did not finish in time)"
    return process.returncode, output.decode(errors="replace")


async def a_course_to_fuzz(grader, course) -> dict[str, str]:
    """The tokens of a learner and of the course's instructor, with something to read:
    three questions (notebook, choice, flashcard), a graded submission, a path, a
    quiz, a duel against the bot."""
    from tests.test_question_types import choice_source, flashcard_source

    author = course["author"]
    code, _ = await author.post("courses/demo/members", {"user": "teacher", "role": "instructor"})
    assert code == 201
    learner = grader.client_for("ann", (LEARN,))
    code, _ = await author.post("courses/demo/members", {"user": "ann"})
    assert code == 201
    for slug, notebook in (("pick", choice_source()), ("card", flashcard_source())):
        code, data = await author.post(
            "questions",
            {"module": "basics", "slug": slug, "title": slug.title(), "notebook": notebook},
        )
        assert code == 201, data
    question = course["question"]
    code, data = await learner.get(f"questions/{question['id']}")
    assert code == 200
    nb = data["notebook"]
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "square-solution":
            cell["source"] = "def square(x):\n    return x * x"
    code, submitted = await learner.post(
        "submissions", {"question": question["id"], "notebook": nb}
    )
    assert code == 202, submitted
    graded = await learner.wait_graded(submitted["id"])
    assert graded["status"] == "graded", graded
    code, _ = await learner.post("paths", {"title": "Mine", "questions": [question["id"]]})
    assert code == 201
    code, data = await author.post(
        "quizzes",
        {"course": "demo", "slug": "q1", "title": "Quiz", "draws": [{"count": 1}],
         "released": "2020-01-01T00:00:00Z"},
    )  # fmt: skip
    assert code == 201, data
    code, data = await learner.post("duels", {"course": "demo", "bot": True})
    assert code == 201, data
    return {"learner": learner.token, "instructor": author.token}


def summary_of(output: str) -> str:
    """schemathesis's closing summary (from its "SUMMARY" heading on)."""
    at = output.rfind("SUMMARY")
    return output[at:] if at >= 0 else output[-3000:]


@pytest.mark.parametrize("grader", ["sqlite"], indirect=True)
async def test_schemathesis_finds_no_server_error_and_nothing_outside_the_contract(
    grader, course, tmp_path, capsys
):
    tokens = await a_course_to_fuzz(grader, course)
    failures = []
    for role in ("learner", "instructor"):
        code, output = await fuzz(grader.base_url, tokens[role], tmp_path / f"{role}.xml")
        with capsys.disabled():  # in CI's log, passed or not
            print(f"\n===== schemathesis as the {role} =====\n{summary_of(output)}")
        if code != 0:
            failures.append(f"as the {role} (exit {code}):\n{output[-12000:]}")
        assert re.search(r"\d+ (passed|failed)|operations", output), output[-3000:]
    assert not failures, "\n\n".join(failures)
