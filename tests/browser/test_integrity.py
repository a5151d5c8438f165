"""Integrity signals in JupyterLab, in headless chromium against the real stack.

The course's instructor turns integrity signals on (the grader's API). The learner sees
the notice saying what is recorded, types part of the answer and pastes the rest into
the answer cell, and submits; the submission carries the paste's size (never its text)
and the time spent, which the learner sees under their result and the instructor next
to the submission on the grader's page. Screenshots ``integrity-NN-*.png``.
"""

from __future__ import annotations

import secrets

import pytest
import requests

from tests.browser.test_learner_in_jupyterlab import (
    GRADE_TIMEOUT,
    SPAWN_TIMEOUT,
    assert_no_coursehub_errors,
    dismiss_news_prompt,
    expect,
    notebook,
    results,
    type_answer,
)
from tests.browser.test_practice import open_question
from tests.test_end_to_end import Learner, author_square_question

pytestmark = [pytest.mark.browser, pytest.mark.hub, pytest.mark.sandbox]

LEARNER = f"br-integrity-{secrets.token_hex(2)}"
PASTED = "  # the rest, pasted from elsewhere"


def test_a_paste_is_recorded_and_shown_to_both(hub, page, shot):
    question = author_square_question(hub.url, hub.admin_token, "integrity", hub.log)
    grader = f"{hub.url}/services/grader/api/v1/"
    admin = {"Authorization": f"token {hub.admin_token}"}
    course = requests.get(grader + "courses", headers=admin, timeout=30).json()["courses"][0]
    r = requests.put(
        grader + f"courses/{course['slug']}/integrity",
        headers=admin,
        json={"enabled": True},
        timeout=30,
    )
    assert r.status_code == 200, r.text

    hub.learners.append(LEARNER)
    learner = Learner(hub, LEARNER, course=course["slug"])
    learner.start_server()
    page.context.set_extra_http_headers({"Authorization": f"token {learner.token}"})
    page.goto(f"{hub.url}/user/{LEARNER}/lab")
    expect(page.locator("#jp-main-dock-panel")).to_be_visible(timeout=SPAWN_TIMEOUT)
    expect(page.locator("#jupyterlab-splash")).to_have_count(0, timeout=SPAWN_TIMEOUT)
    dismiss_news_prompt(page)

    # 1. the question's notebook says what is recorded, and what is not
    open_question(page, question)
    notice = page.locator('[data-testid="ch-integrity-notice"]').filter(visible=True).first
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("paste")
    shot("integrity-00-the-notice")

    # 2. half typed, half pasted (a real paste event, with the clipboard's text)
    type_answer(page, "return x * x")
    editor = notebook(page).locator(".jp-CodeCell").first.locator(".cm-content")
    editor.evaluate(
        """(node, text) => {
            const data = new DataTransfer();
            data.setData('text/plain', text);
            node.dispatchEvent(new ClipboardEvent('paste', {
                clipboardData: data, bubbles: true, cancelable: true
            }));
        }""",
        PASTED,
    )
    notebook(page).locator('[data-testid="ch-submit"]').click()
    view = results(page)
    expect(view.locator('[data-testid="ch-score"]')).to_have_text("3 / 3", timeout=GRADE_TIMEOUT)
    report = view.locator('[data-testid="ch-integrity-report"]')
    expect(report).to_contain_text("1 paste")
    shot("integrity-01-the-learners-own-record")

    # 3. stored with the submission: the size only, never the text
    headers = {"Authorization": f"token {learner.token}"}
    (mine,) = requests.get(
        grader + f"submissions?question={question['id']}", headers=headers, timeout=30
    ).json()["submissions"]
    seen = requests.get(grader + f"submissions/{mine['id']}", headers=admin, timeout=30).json()
    signals = seen["integrity"]
    assert signals["paste_count"] == 1 and signals["paste_chars"] == len(PASTED), signals
    assert signals["open_seconds"] >= signals["visible_seconds"] > 0, signals
    assert PASTED.strip() not in str(signals)

    # 4. the instructor's page shows them next to the submission
    page.context.set_extra_http_headers(admin)
    page.goto(f"{hub.url}/services/grader/courses/{course['slug']}/submissions/{mine['id']}")
    expect(page.locator("#integrity-signals")).to_contain_text("Pastes into answer cells")
    expect(page.locator("#integrity-pastes")).to_contain_text(f"{len(PASTED)} characters")
    shot("integrity-02-the-instructors-view")
    assert_no_coursehub_errors(page)
