"""AI hints and the tutor in JupyterLab, in headless chromium against the real stack.

A real Hub, its grader allowed by configuration (`c.AIAssistant.allowed_base_urls`)
to reach the fake OpenAI-compatible model on loopback (tests/ai_support.py), and a
course with AI hints and the tutor turned on through the grader's API. The learner
submits a wrong answer, clicks "Ask the AI for a hint" and sees the hint arrive in
pieces (the model holds back the rest until the first piece is on screen), then sends
the tutor a message and reads its answer. Each step saves ``ai-NN-*.png`` in
tests/browser/screenshots/.
"""

from __future__ import annotations

import secrets

import pytest
import requests

from tests.ai_support import FakeModel, hub_reaching
from tests.browser.test_learner_in_jupyterlab import (
    GRADE_TIMEOUT,
    SPAWN_TIMEOUT,
    assert_no_coursehub_errors,
    assert_nothing_secret,
    dismiss_news_prompt,
    expect,
    notebook,
    results,
    type_answer,
)
from tests.browser.test_practice import open_question
from tests.test_end_to_end import SECRET, Learner, author_square_question

pytestmark = [pytest.mark.browser, pytest.mark.hub, pytest.mark.sandbox]

RUN = secrets.token_hex(2)
LEARNER = f"br-ai-{RUN}"
REPLY = "Look at your loop's last step."


@pytest.fixture(scope="module")
def model():
    fake = FakeModel().in_thread()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def hub(model, tmp_path_factory):
    """The Hub of these tests alone: its grader may reach the fake model."""
    with hub_reaching(model, tmp_path_factory.mktemp("no-courses"), 60.0) as running:
        yield running


@pytest.fixture(scope="module")
def course(hub, model):
    """The square question in a course with AI hints and the tutor on."""
    question = author_square_question(hub.url, hub.admin_token, "ai", hub.log)
    grader = f"{hub.url}/services/grader/api/v1/"
    admin = {"Authorization": f"token {hub.admin_token}"}
    (found,) = requests.get(grader + "courses", headers=admin, timeout=30).json()["courses"]
    r = requests.put(
        grader + f"courses/{found['slug']}/ai",
        headers=admin,
        json={"enabled": True, "tutor": True, "base_url": model.base_url, "model": "fake-1"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return {"slug": found["slug"], "question": question}


def test_a_hint_streams_in_and_the_tutor_answers(hub, model, course, page, shot):
    question = course["question"]
    hub.learners.append(LEARNER)
    learner = Learner(hub, LEARNER, course=course["slug"])
    learner.start_server()

    page.context.set_extra_http_headers({"Authorization": f"token {learner.token}"})
    page.goto(f"{hub.url}/user/{LEARNER}/lab")
    expect(page.locator("#jp-main-dock-panel")).to_be_visible(timeout=SPAWN_TIMEOUT)
    expect(page.locator("#jupyterlab-splash")).to_have_count(0, timeout=SPAWN_TIMEOUT)
    dismiss_news_prompt(page)

    # 1. a wrong answer, submitted and graded: the hint button and the Tutor appear
    open_question(page, question)
    type_answer(page, "return x + 2")
    notebook(page).locator('[data-testid="ch-submit"]').click()
    view = results(page)
    expect(view.locator('[data-testid="ch-status"]')).to_contain_text(
        "graded", timeout=GRADE_TIMEOUT
    )
    ask = view.locator('[data-testid="ch-ai-hint-ask"]')
    expect(ask).to_have_text("Ask the AI for a hint")
    expect(view.locator('[data-testid="ch-ai-hint-area"]')).to_contain_text(
        "AI requests left today"
    )
    expect(view.locator('[data-testid="ch-tutor-toggle"]')).to_be_visible()
    shot("ai-00-graded-with-the-hint-button")

    # 2. the hint: its first piece on screen while the model still holds back the rest
    model.mode = "gate"
    model.gate.clear()
    ask.click()
    hint = view.locator('[data-testid="ch-ai-hint"]')
    expect(hint).to_have_text("Look at ")
    expect(ask).to_be_disabled()
    assert not model.gate.is_set()
    shot("ai-01-hint-streaming")
    model.gate.set()
    expect(hint).to_have_text(REPLY)
    expect(ask).to_be_enabled()
    shot("ai-02-hint-done")
    (sent,) = model.requests
    assert sent["body"]["model"] == "fake-1" and sent["body"]["stream"] is True
    assert SECRET not in model.everything_sent()

    # 3. the tutor: one message, its answer streamed in, then kept in the conversation
    model.mode = "ok"
    view.locator('[data-testid="ch-tutor-toggle"]').click()
    tutor = view.locator('[data-testid="ch-tutor"]')
    expect(tutor).to_be_visible()
    tutor.locator('[data-testid="ch-tutor-input"]').fill("Why does square(3) fail?")
    shot("ai-03-tutor-message-typed")
    tutor.locator('[data-testid="ch-tutor-send"]').click()
    expect(tutor).to_contain_text("Why does square(3) fail?")
    expect(tutor).to_contain_text(REPLY)
    expect(tutor.locator('[data-testid="ch-tutor-input"]')).to_have_value("")
    assert len(model.requests) == 2
    assert "Why does square(3) fail?" in model.everything_sent()
    shot("ai-04-tutor-answered")

    assert_nothing_secret(page)
    assert_no_coursehub_errors(page)
