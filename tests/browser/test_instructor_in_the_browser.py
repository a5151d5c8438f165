"""An instructor's whole round in the browser (headless chromium, the real stack).

A course instructor (a member of `course-python-foundations-instructors` only) writes a
question as an nbgrader notebook in JupyterLab, turns it into a question from the
coursehub panel's Instructor area: validates it (the reference solution scores full, the
released stub does not), saves it as a draft, releases it. A learner of the course
submits an answer; the instructor sees it arrive on the grader's pages, grades its
manually graded answer with a comment, opens the analytics and downloads the gradebook
as CSV. Screenshots: ``instructor-NN-step.png``.

The browser presents the instructor's API token on every request (the Hub's login is
covered by test_learner_in_jupyterlab.py), so the grader's pages and their script's
fetch() calls are signed in the same way.
"""

from __future__ import annotations

import csv
import io
import secrets
import time

import pytest
import requests

from hub_config.settings import REPO_DIR
from hub_config.testing import RunningHub
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_learner_in_jupyterlab import dismiss_news_prompt, expect, open_panel
from tests.test_end_to_end import Learner
from tests.test_nbgrader_front_end import Server

pytestmark = [pytest.mark.browser, pytest.mark.hub, pytest.mark.sandbox]

RUN = secrets.token_hex(2)
COURSE = "python-foundations"
NOTEBOOK = "double-it.ipynb"
SLUG = f"double-it-{RUN}"
SPAWN_TIMEOUT = 120_000  # ms
GRADE_TIMEOUT = 120_000  # ms
OWN_SCREENSHOTS = "instructor-*.png"


@pytest.fixture(scope="session", autouse=True)
def _fresh_screenshots():
    """Only this module's stale screenshots go (run alone, the others stay)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    for old in SCREENSHOTS.glob(OWN_SCREENSHOTS):
        old.unlink()


@pytest.fixture(scope="module")
def hub():
    with RunningHub(env={"COURSEHUB_COURSE_DIR": str(REPO_DIR / "course_content")}) as running:
        deadline = time.monotonic() + 120
        while running.api("GET", f"/groups/course-{COURSE}-instructors").status_code != 200:
            assert time.monotonic() < deadline, running.log()[-5000:]
            time.sleep(0.5)
        yield running


def cell(cell_type: str, source: str, grade_id: str | None = None, **nbgrader) -> dict:
    metadata = {}
    if grade_id:
        metadata["nbgrader"] = {
            "grade_id": grade_id, "schema_version": 3, "locked": False, "solution": False,
            "grade": False, "task": False, **nbgrader,
        }  # fmt: skip
    model = {"cell_type": cell_type, "id": grade_id or secrets.token_hex(4),
             "metadata": metadata, "source": source}  # fmt: skip
    if cell_type == "code":
        model.update(outputs=[], execution_count=None)
    return model


def source_notebook() -> dict:
    """What an instructor writes with nbgrader's Create Assignment sidebar: an answer
    with a solution region, a visible test, a hidden test, and a written answer graded
    by hand."""
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "cells": [
            cell("markdown", "# Double it\n\nWrite `double(x)`, which returns twice `x`."),
            cell(
                "code",
                "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
                "answer",
                solution=True,
            ),  # fmt: skip
            cell(
                "code", "assert double(2) == 4", "test-visible", grade=True, locked=True, points=1
            ),  # fmt: skip
            cell(
                "code",
                "### BEGIN HIDDEN TESTS\nassert double(-3) == -6\n### END HIDDEN TESTS",
                "test-hidden",
                grade=True,
                locked=True,
                points=2,
            ),  # fmt: skip
            cell(
                "markdown",
                "Explain why your function works for negative numbers.",
                "explain-prompt",
                locked=True,
            ),  # fmt: skip
            cell(
                "markdown", "YOUR ANSWER HERE", "explain", solution=True, grade=True, points=2
            ),  # fmt: skip
        ],
    }


def grader_api(hub, method: str, path: str, **kwargs):
    return requests.request(
        method,
        f"{hub.url}/services/grader/api/v1/{path}",
        headers={"Authorization": f"token {hub.admin_token}"},
        timeout=30,
        **kwargs,
    )


def test_instructor_authors_releases_watches_grades_and_exports(hub, page, shot):
    teacher = Server(hub, f"br-ivy-{RUN}", groups=[f"course-{COURSE}-instructors"])
    r = teacher.call(
        "PUT", f"api/contents/{NOTEBOOK}", json={"type": "notebook", "content": source_notebook()}
    )
    assert r.status_code in (200, 201), r.text
    page.context.set_extra_http_headers({"Authorization": f"token {teacher.token}"})

    # 1. the notebook in JupyterLab, the coursehub panel's Instructor area beside it
    page.goto(f"{hub.url}/user/{teacher.name}/lab/tree/{NOTEBOOK}")
    expect(page.locator("#jp-main-dock-panel")).to_be_visible(timeout=SPAWN_TIMEOUT)
    expect(page.locator("#jupyterlab-splash")).to_have_count(0, timeout=SPAWN_TIMEOUT)
    dismiss_news_prompt(page)
    notebook = page.locator(".jp-NotebookPanel").filter(visible=True).last
    expect(notebook.locator(".jp-CodeCell").first).to_contain_text("def double(x):")
    panel = open_panel(page)
    expect(panel.locator('[data-testid="ch-course-role"]')).to_contain_text("instructor")
    tab = panel.get_by_role("tab", name="Instructor", exact=True)
    tab.click()
    area = panel.locator('[data-testid="ch-instructor"]')
    expect(area.locator('[data-testid="ch-instructor-notebook"]')).to_have_attribute(
        "data-path", NOTEBOOK
    )
    shot("instructor-01-notebook-and-instructor-area")

    # 2. the question's card, stored in the notebook; validated in the sandbox
    area.locator('[data-testid="ch-instructor-title"]').fill("Double it")
    area.locator('[data-testid="ch-instructor-module"]').select_option("basics")
    area.locator('[data-testid="ch-instructor-slug"]').fill(SLUG)
    area.locator('[data-testid="ch-instructor-difficulty"]').select_option("easy")
    area.locator('[data-testid="ch-instructor-tags"]').fill("functions, arithmetic")
    area.locator('[data-testid="ch-instructor-apply"]').click()
    area.locator('[data-testid="ch-instructor-validate"]').click()
    verdict = area.locator('[data-testid="ch-instructor-validation"]')
    try:
        expect(verdict).to_have_attribute("data-ok", "true", timeout=GRADE_TIMEOUT)
    except AssertionError:
        shot("instructor-02-validation-failed")
        raise AssertionError(f"validation: {area.inner_text()}") from None
    expect(area.locator('[data-testid="ch-instructor-problem"]')).to_have_count(0)
    shot("instructor-02-validated")

    # 3. saved as a draft (learners do not see it), then released
    area.locator('[data-testid="ch-instructor-save"]').click()
    status = area.locator('[data-testid="ch-instructor-status"]')
    expect(status).to_contain_text("draft", timeout=30_000)
    questions = grader_api(hub, "GET", f"questions?course={COURSE}").json()["questions"]
    (question,) = [q for q in questions if q["slug"] == SLUG]
    assert question["status"] == "draft" and question["points"] == 5
    learner = Learner(hub, f"br-lee-{RUN}")
    hub.learners.append(learner.name)
    seen = requests.get(
        f"{hub.url}/services/grader/api/v1/questions/{question['id']}",
        headers={"Authorization": f"token {learner.token}"},
        timeout=30,
    )
    assert seen.status_code == 404, seen.text
    shot("instructor-03-saved-as-draft")
    area.locator('[data-testid="ch-instructor-release-now"]').click()
    expect(status).to_contain_text("released", timeout=30_000)
    shot("instructor-04-released")

    # 4. a learner of the course answers it, written answer included
    learner.start_server()
    r = learner.coursehub("POST", f"questions/{question['id']}/open")
    assert r.status_code == 201, r.text
    learner.write_answer(r.json()["path"], "def double(x):\n    return x + x")
    result = learner.submit_and_wait(question["id"], r.json()["path"])
    assert (result["score"], result["max_score"], result["manual_pending"]) == (3, 5, True)

    # 5. it arrives on the question's submissions page; the instructor grades the
    # written answer with a comment on the submission's page
    course_url = f"{hub.url}/services/grader/courses/{COURSE}/"
    page.goto(f"{course_url}questions/{question['id']}/submissions")
    row = page.locator("tr", has_text=learner.name).first
    expect(row).to_be_visible()
    shot("instructor-05-submission-arrived")
    row.locator('a[href*="/submissions/"]').first.click()
    expect(page.locator("#submission-status")).to_contain_text("graded")
    expect(page.locator("#submission-pending")).to_be_visible()
    form = page.locator('form.manual-grade[data-cell="explain"]')
    form.locator('input[name="points"]').fill("2")
    form.locator('textarea[name="comment"]').fill("Right: doubling keeps the sign.")
    shot("instructor-06-grading-the-written-answer")
    form.get_by_role("button", name="Save").click()
    expect(form.locator(".save-status")).to_have_text("Saved")
    page.reload()
    expect(page.locator("#submission-score")).to_contain_text("5 / 5")
    shot("instructor-07-graded")
    # the learner reads the points and the comment
    model = learner.coursehub("GET", f"submissions/{result['id']}").json()
    (manual,) = model["manual"]
    assert (manual["points"], manual["comment"]) == (2, "Right: doubling keeps the sign.")
    assert model["score"] == 5 and not model["manual_pending"]

    # 6. the course's analytics: plots drawn on the server, no network needed
    page.goto(f"{course_url}analytics")
    expect(page.locator("figure svg").first).to_be_visible()
    expect(page.locator(f'#questions tr[data-question="{question["id"]}"]')).to_be_visible()
    shot("instructor-08-analytics")

    # 7. the gradebook, and its CSV
    page.goto(f"{course_url}gradebook")
    expect(page.locator(f'#gradebook tr[data-learner="{learner.name}"]')).to_be_visible()
    shot("instructor-09-gradebook")
    with page.expect_download() as download:
        page.locator("#gradebook-csv").click()
    rows = list(csv.DictReader(io.StringIO(open(download.value.path()).read())))
    (mine,) = [r for r in rows if r["user"] == learner.name]
    assert float(mine[f"basics/{SLUG}"]) == 5
