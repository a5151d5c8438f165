"""Practice beyond single questions, in headless chromium against the real stack.

A learner of the sample course answers a multiple-choice question (radio buttons) and a
fill-in question (inputs) from the quick-checks module, flips a flashcard and rates it,
finishes a review (the card made by the first solve, brought due), follows a learning
path, starts a quiz, and plays a duel against the bot in a course of one question, its
win pushed to the Practice sidebar live. Each step saves ``practice-NN-*.png`` in
tests/browser/screenshots/.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
import requests

from hub_config.settings import REPO_DIR
from tests.browser.test_learner_in_jupyterlab import (
    GRADE_TIMEOUT,
    SPAWN_TIMEOUT,
    assert_no_coursehub_errors,
    dismiss_news_prompt,
    expect,
    notebook,
    open_panel,
    results,
    show_tab,
)
from tests.test_end_to_end import Learner

pytestmark = [pytest.mark.browser, pytest.mark.hub, pytest.mark.sandbox]

RUN = secrets.token_hex(2)
LEARNER = f"br-practice-{RUN}"
COURSE = "python-foundations"
ARENA = f"arena-{RUN}"
QUICK_CHECKS = REPO_DIR / "course_content" / COURSE / "quick-checks"


def grader_api(hub, method: str, path: str, token: str, **kwargs):
    return requests.request(
        method,
        f"{hub.url}/services/grader/api/v1/{path}",
        headers={"Authorization": f"token {token}"},
        timeout=30,
        **kwargs,
    )


@pytest.fixture(scope="module")
def arena(hub):
    """A second course, open to join, holding one multiple-choice question: a duel in it
    can only draw that one."""
    admin = hub.admin_token
    r = grader_api(
        hub, "POST", "courses", admin, json={"slug": ARENA, "title": "Duel arena", "join": "open"}
    )
    assert r.status_code == 201, r.text
    r = grader_api(
        hub, "POST", "modules", admin, json={"course": ARENA, "slug": "arena", "title": "Arena"}
    )
    assert r.status_code == 201, r.text
    source = json.loads((QUICK_CHECKS / "missing-key.ipynb").read_text())
    r = grader_api(
        hub,
        "POST",
        "questions",
        admin,
        json={
            "course": ARENA,
            "module": "arena",
            "slug": "missing-key",
            "title": "Reading a missing key",
            "difficulty": "easy",
            "notebook": source,
            "release": "now",
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["type"] == "choice"
    return r.json()


def question_by_slug(hub, token: str, slug: str) -> dict:
    r = grader_api(hub, "GET", f"questions?course={COURSE}&module=quick-checks", token)
    assert r.status_code == 200, r.text
    (found,) = [q for q in r.json()["questions"] if q["slug"] == slug]
    return found


def open_question(page, question: dict):
    """Open a question from the Course sidebar, searching for its title."""
    panel = open_panel(page)
    show_tab(panel, "Questions")
    search = panel.get_by_label("Search questions")
    search.fill(question["title"])
    row = panel.locator(f'[data-testid="ch-question"][data-question-id="{question["id"]}"]').filter(
        visible=True
    )
    row.get_by_role("button", name=f"Open {question['title']}", exact=True).click()
    expect(
        page.locator(
            ".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current", has_text=question["slug"]
        )
    ).to_be_visible()


def submit_and_wait(page, score: str):
    notebook(page).locator('[data-testid="ch-submit"]').click()
    view = results(page)
    expect(view.locator('[data-testid="ch-score"]')).to_have_text(score, timeout=GRADE_TIMEOUT)
    expect(view.locator('[data-testid="ch-status"]')).to_contain_text("graded")
    return view


def open_practice(page):
    panel = page.locator("#coursehub-practice")
    if not panel.is_visible():
        page.locator('.lm-TabBar-tab[data-id="coursehub-practice"]').first.click()
    expect(panel).to_be_visible()
    return panel


def practice_id(name: str) -> str:
    return f'[data-testid="coursehub-practice-{name}"]'


def make_due(hub, user: str, question_id: int):
    """Time passes: the learner's card of the question comes due (a minute ago)."""
    past = (datetime.now(UTC) - timedelta(minutes=1)).replace(tzinfo=None)
    with sqlite3.connect(hub.state_dir / "grader.sqlite", timeout=30) as db:
        changed = db.execute(
            "UPDATE review_cards SET due = ? WHERE question_id = ? AND user_id = "
            "(SELECT id FROM users WHERE name = ?)",
            (past.isoformat(sep=" "), question_id, user),
        ).rowcount
    assert changed == 1


def test_practice_beyond_single_questions(hub, arena, page, shot):
    hub.learners.append(LEARNER)
    learner = Learner(hub, LEARNER, course=COURSE)
    learner.join(ARENA)
    learner.start_server()
    choice = question_by_slug(hub, learner.token, "range-last-value")
    blanks = question_by_slug(hub, learner.token, "slicing")
    card = question_by_slug(hub, learner.token, "card-dict-get")
    assert (choice["type"], blanks["type"], card["type"]) == ("choice", "fill_in", "flashcard")

    page.set_viewport_size({"width": 1440, "height": 900})
    page.context.set_extra_http_headers({"Authorization": f"token {learner.token}"})
    page.goto(f"{hub.url}/user/{LEARNER}/lab")
    expect(page.locator("#jp-main-dock-panel")).to_be_visible(timeout=SPAWN_TIMEOUT)
    expect(page.locator("#jupyterlab-splash")).to_have_count(0, timeout=SPAWN_TIMEOUT)
    dismiss_news_prompt(page)

    # 1. questions filtered by type; multiple choice: radio buttons instead of code, a
    # wrong choice, then the right one
    panel = open_panel(page)
    show_tab(panel, "Questions")
    panel.get_by_label("Type", exact=True).select_option("choice")
    rows = panel.locator('[data-testid="ch-question"]').filter(visible=True)
    expect(rows.first).to_be_visible()
    expect(rows.locator('[data-testid="ch-question-type"]')).to_have_count(rows.count())
    expect(rows.locator('[data-testid="ch-question-type"]').first).to_have_text("multiple choice")
    shot("practice-00-questions-by-type")
    panel.get_by_label("Type", exact=True).select_option("")
    open_question(page, choice)
    choices = notebook(page).locator('[data-testid="ch-qt-choices"]')
    expect(choices).to_be_visible()
    expect(choices.locator('[data-testid="ch-qt-choice"]')).to_have_count(4)
    expect(choices).to_contain_text("Choose one answer")
    # the answer cell's code is hidden behind the widget
    expect(notebook(page).locator('[data-testid="ch-qt-code-toggle"]')).to_be_visible()
    choices.locator('[data-choice-id="c"]').click()
    submit_and_wait(page, "0 / 1")
    choices.locator('[data-choice-id="a"]').click()
    expect(choices.locator('[data-choice-id="a"] input')).to_be_checked()
    submit_and_wait(page, "1 / 1")
    shot("practice-01-multiple-choice")

    # 2. fill in the blanks: one input per blank, labelled
    open_question(page, blanks)
    inputs = notebook(page).locator('[data-testid="ch-qt-blank"]')
    expect(inputs).to_have_count(3)
    for blank_id, value in (("middle", "gram"), ("reversed", "gnim"), ("every-other", "pgmn")):
        notebook(page).locator(f'[data-testid="ch-qt-blank"][data-blank-id="{blank_id}"]').fill(
            value
        )
    submit_and_wait(page, "3 / 3")
    shot("practice-02-fill-in")

    # 3. a flashcard: the back hidden until flipped, then rated; no Submit for a card
    open_question(page, card)
    front = notebook(page).locator('[data-testid="ch-qt-card-front"]')
    expect(front).to_be_visible()
    back = notebook(page).locator(".ch-qt-cardBack")
    expect(back).to_be_hidden()
    shot("practice-03-flashcard-front")
    notebook(page).locator('[data-testid="ch-qt-flip"]').click()
    expect(back).to_be_visible()
    expect(back).to_contain_text("counts.get(word, 0)")
    notebook(page).locator('[data-testid="ch-qt-rating"][data-rating="3"]').click()
    expect(notebook(page).locator('[data-testid="ch-qt-next-review"]')).to_contain_text("Next")
    shot("practice-04-flashcard-rated")
    r = grader_api(hub, "GET", f"reviews/{card['id']}", learner.token)
    assert r.status_code == 200 and r.json()["reviews"] == 1, r.text

    # 4. a review: the multiple-choice question's card comes due; reviewing opens a
    # fresh copy (the earlier notebook kept), and solving it again moves the card on
    make_due(hub, LEARNER, choice["id"])
    r = grader_api(hub, "GET", f"reviews?course={COURSE}", learner.token)
    assert r.json()["counts"]["due_now"] == 1, r.text
    practice = open_practice(page)
    practice.locator(practice_id("reload")).click()
    review = practice.locator(practice_id("review")).filter(
        has=page.locator(f'[data-question-id="{choice["id"]}"]')
    )
    due_now = practice.locator(practice_id("due-now"))
    expect(due_now).to_have_attribute("data-count", "1", timeout=30_000)
    shot("practice-05-review-due")
    practice.locator(practice_id("review-open")).first.click()
    expect(
        page.locator(
            ".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current",
            has_text=re.compile(r"range-last-value-\d{4}-\d\d-\d\d"),
        )
    ).to_be_visible(timeout=30_000)
    fresh = notebook(page).locator('[data-testid="ch-qt-choices"]')
    # a fresh copy: nothing chosen yet
    expect(fresh.locator("input:checked")).to_have_count(0)
    fresh.locator('[data-choice-id="a"]').click()
    submit_and_wait(page, "1 / 1")
    practice = open_practice(page)
    expect(practice.locator(practice_id("due-now"))).to_have_attribute(
        "data-count", "0", timeout=30_000
    )
    expect(review).to_have_count(0)
    r = grader_api(hub, "GET", f"reviews/{choice['id']}", learner.token)
    assert r.json()["reviews"] == 2, r.text
    shot("practice-06-review-done")

    # 5. the daily question and a learning path (two of its questions solved already)
    expect(practice.locator(practice_id("daily-title"))).not_to_be_empty()
    path = practice.locator(practice_id("path")).filter(has_text="Start here")
    path.locator(practice_id("path-enrol")).click()
    expect(path).to_have_attribute("data-enrolled", "true")
    expect(path.locator(practice_id("path-progress"))).to_be_visible()
    expect(path).not_to_have_attribute("data-percent", "0")
    shot("practice-07-daily-and-path")

    # 6. a quiz: started, its questions drawn for this learner, time counting down
    quiz = practice.locator(practice_id("quiz")).filter(has_text="Quick check")
    quiz.locator(practice_id("quiz-start")).click()
    expect(quiz).to_have_attribute("data-phase", "running")
    expect(quiz.locator(practice_id("quiz-question"))).to_have_count(4)
    expect(quiz.locator(practice_id("quiz-remaining"))).to_be_visible()
    shot("practice-08-quiz-running")

    # 7. a duel against the bot, in the arena (one question): opened, solved, won; the
    # win reaches the sidebar over the push channel
    practice.locator('[data-testid="ch-course-select"]').select_option(ARENA)
    expect(practice.locator('[data-testid="coursehub-practice"]')).to_have_attribute(
        "data-course", ARENA
    )
    practice.locator(practice_id("challenge-bot")).click()
    duel = practice.locator(practice_id("duel")).filter(
        has=page.locator(practice_id("duel-remaining"))
    )
    expect(duel).to_have_attribute("data-status", "active", timeout=30_000)
    expect(duel.locator(practice_id("duel-question"))).to_contain_text("Reading a missing key")
    shot("practice-09-duel-started")
    duel.locator(practice_id("duel-open")).click()
    arena_choices = notebook(page).locator('[data-testid="ch-qt-choices"]')
    expect(arena_choices).to_be_visible(timeout=30_000)
    # a wrong answer first: the duel goes on, and says how it goes
    arena_choices.locator('[data-choice-id="none"]').click()
    submit_and_wait(page, "0 / 1")
    progress = open_practice(page).locator(practice_id("duel-progress"))
    expect(progress).to_have_text("You: best 0 / 1 (1 submission)", timeout=30_000)
    arena_choices.locator('[data-choice-id="keyerror"]').click()
    submit_and_wait(page, "1 / 1")
    practice = open_practice(page)
    won = practice.locator(practice_id("duel-history")).filter(has_text="bot").first
    expect(won).to_have_attribute("data-outcome", "won", timeout=60_000)
    expect(practice.locator(practice_id("rating-row")).filter(has_text=LEARNER)).to_be_visible()
    shot("practice-10-duel-won")

    # nothing of the answer keys reached the browser
    for url, body in page.recorder.bodies():
        if "/coursehub/api/questions/" in url:
            assert "### BEGIN SOLUTION" not in body, url
            assert '"answers"' not in body and "HIDDEN TESTS" not in body, url
    assert_no_coursehub_errors(page)
