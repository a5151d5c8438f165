"""R, JavaScript and C questions in JupyterLab, in headless chromium against the real stack.

For one sample question of each language: the learner opens it from the Course
sidebar, JupyterLab starts the question's own kernel (IRkernel, deno, coursehub's C
kernel) and runs the answer cell in it, Submit grades the released stub at 0,
and the reference answer (written into the notebook, as a learner would type it)
scores full marks through the Hub, the grader and the sandbox. Each step saves
``languages-NN-*.png`` in tests/browser/screenshots/.
"""

from __future__ import annotations

import json
import re
import secrets

import pytest
import requests

from hub_config.settings import REPO_DIR
from tests.browser.test_learner_in_jupyterlab import (
    SPAWN_TIMEOUT,
    assert_no_coursehub_errors,
    assert_nothing_secret,
    dismiss_news_prompt,
    expect,
    notebook,
)
from tests.browser.test_practice import grader_api, open_question, submit_and_wait
from tests.test_end_to_end import Learner

pytestmark = [pytest.mark.browser, pytest.mark.hub, pytest.mark.sandbox]

COURSE = "python-foundations"
RUN = secrets.token_hex(2)
LEARNER = f"br-lang-{RUN}"
SOURCES = REPO_DIR / "course_content" / COURSE
KERNEL_TIMEOUT = 60_000
# (module, question, the kernel's display name)
QUESTIONS = [
    ("r-basics", "clamp", "R"),
    ("js-basics", "sum-of-evens", "JavaScript (Deno)"),
    ("c-basics", "sum-of-array", "C"),
]
MARKER = re.compile(r"^.*(BEGIN|END) SOLUTION.*\n?", re.M)


def reference_answers(module: str, slug: str) -> dict[str, str]:
    """grade_id -> the source's solution cell with its solution markers taken out."""
    source = json.loads((SOURCES / module / f"{slug}.ipynb").read_text())
    return {
        cell["metadata"]["nbgrader"]["grade_id"]: MARKER.sub("", "".join(cell["source"]))
        for cell in source["cells"]
        if cell["metadata"].get("nbgrader", {}).get("solution") and cell["cell_type"] == "code"
    }


def write_answers(hub, learner, path: str, answers: dict[str, str]):
    """The learner's notebook on disk with the answers typed in (the Jupyter server's
    contents API, as the editor saves it)."""
    url = f"{hub.url}/user/{learner.name}/api/contents/{path}"
    headers = {"Authorization": f"token {learner.token}"}
    model = requests.get(url, headers=headers, timeout=30).json()
    for cell in model["content"]["cells"]:
        gid = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell["source"] = answers[gid]
    r = requests.put(
        url,
        headers=headers,
        json={"type": "notebook", "format": "json", "content": model["content"]},
        timeout=30,
    )
    assert r.status_code == 200, r.text


def close_without_saving(page):
    """Close the open notebook, discarding what the editor holds (the file on disk is
    what counts), as a learner closes a tab and answers "Discard"."""
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current")
    tab.locator(".lm-TabBar-tabCloseIcon").click()
    discard = page.locator(".jp-Dialog").get_by_role("button", name=re.compile("Discard", re.I))
    if discard.count():
        discard.click()
    expect(page.locator(".jp-Dialog")).to_have_count(0)


def test_r_javascript_and_c_questions_open_run_and_grade_in_jupyterlab(hub, page, shot):
    hub.learners.append(LEARNER)
    learner = Learner(hub, LEARNER, course=COURSE)
    learner.start_server()
    page.set_viewport_size({"width": 1440, "height": 900})
    page.context.set_extra_http_headers({"Authorization": f"token {learner.token}"})
    page.goto(f"{hub.url}/user/{LEARNER}/lab")
    expect(page.locator("#jp-main-dock-panel")).to_be_visible(timeout=SPAWN_TIMEOUT)
    expect(page.locator("#jupyterlab-splash")).to_have_count(0, timeout=SPAWN_TIMEOUT)
    dismiss_news_prompt(page)

    for number, (module, slug, kernel) in enumerate(QUESTIONS):
        r = grader_api(hub, "GET", f"questions?course={COURSE}&module={module}", learner.token)
        (question,) = [q for q in r.json()["questions"] if q["slug"] == slug]
        assert question["language"] in ("r", "javascript", "c")
        open_question(page, question)
        # the question's own kernel starts, in the learner's server
        expect(notebook(page).locator(".jp-KernelName")).to_have_text(
            kernel, timeout=KERNEL_TIMEOUT
        )
        expect(
            notebook(page).locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]')
        ).to_have_count(1, timeout=KERNEL_TIMEOUT)
        # the answer cell, as released (its stub), runs in that kernel
        answer = notebook(page).locator(".jp-CodeCell").filter(has_text="YOUR CODE HERE").first
        answer.locator(".cm-content").click()
        page.keyboard.press("Shift+Enter")
        expect(answer.locator(".jp-InputPrompt")).to_have_text(
            re.compile(r"\[\d+\]"), timeout=KERNEL_TIMEOUT
        )
        shot(f"languages-{2 * number:02d}-{slug}-stub-in-its-kernel")
        view = submit_and_wait(page, f"0 / {question['points']:g}")

        # the reference answer, typed in, scores full marks
        close_without_saving(page)
        write_answers(hub, learner, f"{module}/{slug}.ipynb", reference_answers(module, slug))
        open_question(page, question)  # the learner's own file, as it is on disk
        points = f"{question['points']:g}"
        view = submit_and_wait(page, f"{points} / {points}")
        expect(view).not_to_contain_text("hidden test failed")
        shot(f"languages-{2 * number + 1:02d}-{slug}-full-marks")

    assert_nothing_secret(page, solution_allowed=True)
    assert_no_coursehub_errors(page)
