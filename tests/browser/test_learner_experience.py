"""A learner's experience across several questions, in headless chromium on a 1280 px
screen with the Course sidebar open.

The course page greets them (the course's title, its modules with their descriptions,
what to do next), also from a launcher card; the sidebar is labelled; the search finds a
word of the task; hints cost XP and say so. Over four submissions to three questions the
notebook keeps its width and Submit stays in view (one results area under each
notebook, never a pile of panes); the first solve is celebrated with XP and an
achievement; an older submission's result and notebook reopen from the history; after
a reload the results area shows the last result again; the profile shows XP and
achievements. Each step saves ``learner-xp-NN-*.png`` in tests/browser/screenshots/.
"""

from __future__ import annotations

import io
import re
import secrets
import time

import pytest
import requests

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
    type_answer,
)
from tests.conftest import answer, square_question
from tests.test_end_to_end import Learner

pytestmark = [pytest.mark.browser, pytest.mark.hub, pytest.mark.sandbox]

RUN = secrets.token_hex(2)
LEARNER = f"br-xp-{RUN}"
RIVAL = f"br-rival-{RUN}"
RIVAL_DISPLAY = "Grace H."
RIVAL_BIO = "Debugging since 1947."
RIVAL_GITHUB = "https://github.com/grace-h"
MODULE = f"powers-{RUN}"
MODULE_TITLE = "Powers"
MODULE_DESCRIPTION = "Squares of numbers, three ways."
COURSE = "python-foundations"
HINTS = ["Multiply x by itself.", "x * x"]
# the notebook keeps at least this width on a 1280 px screen with the sidebar open
MIN_NOTEBOOK_WIDTH = 700


def squares_notebook(n: int):
    """The square question, its task saying "multiplication" (for the search), its
    visible test named by a comment, two hints in its metadata."""
    nb = square_question()
    nb.cells[0].source = f"Squares {n}: write `square(x)` with a multiplication."
    nb.cells[2].source = "# two squared is four\nassert square(2) == 4"
    nb.metadata["coursehub"] = {"hints": HINTS}
    return nb


@pytest.fixture(scope="module")
def questions(hub):
    """Three questions in a module of their own, authored through the grader's API."""
    grader = f"{hub.url}/services/grader/api/v1/"
    headers = {"Authorization": f"token {hub.admin_token}"}
    # the module waits for the grader, as author_square_question does
    from tests.test_end_to_end import author_square_question

    author_square_question(hub.url, hub.admin_token, f"warmup-{RUN}", hub.log)
    r = requests.post(
        grader + "modules",
        headers=headers,
        json={
            "course": COURSE,
            "slug": MODULE,
            "title": MODULE_TITLE,
            "description": MODULE_DESCRIPTION,
        },
        timeout=30,
    )
    assert r.status_code == 201, r.text
    made = []
    for n, roman in enumerate(("I", "II", "III"), start=1):
        r = requests.post(
            grader + "questions",
            headers=headers,
            json={
                "module": MODULE,
                "slug": f"squares-{n}",
                "title": f"Squares {roman}",
                "difficulty": "easy",
                "category": "arithmetic",
                "tags": ["arithmetic", "powers"],
                "notebook": squares_notebook(n),
            },
            timeout=30,
        )
        assert r.status_code == 201, r.text
        made.append(r.json())
    return made


def png_bytes(color=(200, 60, 40), size=(64, 64)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def rival(hub, questions):
    """Another learner of the course, with a public profile (display name, bio, a link,
    a picture) and a solve of the first question, so the leaderboard has someone to look
    at. Everything through the grader's API with the learner's own token."""
    hub.learners.append(RIVAL)
    grace = Learner(hub, RIVAL, course=COURSE)
    grader = f"{hub.url}/services/grader/api/v1/"
    auth = {"Authorization": f"token {grace.token}"}
    r = requests.patch(
        grader + "profile",
        headers=auth,
        json={
            "display_name": RIVAL_DISPLAY,
            "bio": RIVAL_BIO,
            "links": {"github": RIVAL_GITHUB},
        },
        timeout=30,
    )
    assert r.status_code == 200, r.text
    r = requests.put(
        grader + "profile/avatar",
        headers={**auth, "Content-Type": "image/png"},
        data=png_bytes((40, 90, 200)),
        timeout=30,
    )
    assert r.status_code == 200, r.text
    first = questions[0]
    student = requests.get(grader + f"questions/{first['id']}", headers=auth, timeout=30)
    nb = answer(student.json()["notebook"], "def square(x):\n    return x * x")
    r = requests.post(
        grader + "submissions",
        headers=auth,
        json={"question": first["id"], "notebook": nb},
        timeout=30,
    )
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + GRADE_TIMEOUT / 1000
    while True:
        result = requests.get(grader + f"submissions/{r.json()['id']}", headers=auth, timeout=30)
        if result.json()["status"] in ("graded", "error"):
            break
        assert time.monotonic() < deadline, result.text
        time.sleep(0.5)
    assert result.json()["score"] == 3, result.text
    return grace


def row_of(panel, question):
    return panel.locator(f'[data-testid="ch-question"][data-question-id="{question["id"]}"]')


def assert_layout_usable(page, what: str):
    """The notebook keeps its width; Submit is in view, not in the toolbar's overflow."""
    content = notebook(page).locator(".jp-NotebookPanel-notebook")
    box = content.bounding_box()
    assert box and box["width"] >= MIN_NOTEBOOK_WIDTH, f"{what}: notebook {box}"
    submit = notebook(page).locator('[data-testid="ch-submit"]')
    expect(submit).to_be_visible()
    # (the toolbars of notebooks in background tabs may fold while hidden: only a shown
    # overflow menu counts)
    overflow = page.locator('.jp-Toolbar-responsive-popup [data-testid="ch-submit"]')
    expect(overflow.filter(visible=True)).to_have_count(0)
    panel_box = notebook(page).bounding_box()
    button = submit.bounding_box()
    assert panel_box["x"] <= button["x"] <= panel_box["x"] + panel_box["width"], what
    # one results area per notebook, under it: no results pane in the dock
    expect(page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="Results")).to_have_count(0)


def submit_and_wait(page, score: str):
    notebook(page).locator('[data-testid="ch-submit"]').click()
    view = results(page)
    expect(view.locator('[data-testid="ch-score"]')).to_have_text(score, timeout=GRADE_TIMEOUT)
    expect(view.locator('[data-testid="ch-status"]')).to_contain_text("graded")
    return view


def test_learner_keeps_coming_back(hub, questions, rival, page, shot):
    hub.learners.append(LEARNER)
    learner = Learner(hub, LEARNER, course=COURSE)
    learner.start_server()
    page.set_viewport_size({"width": 1280, "height": 800})
    page.context.set_extra_http_headers({"Authorization": f"token {learner.token}"})

    # 1. the course page opens by itself the first time: title, description, modules
    page.goto(f"{hub.url}/user/{LEARNER}/lab")
    expect(page.locator("#jp-main-dock-panel")).to_be_visible(timeout=SPAWN_TIMEOUT)
    expect(page.locator("#jupyterlab-splash")).to_have_count(0, timeout=SPAWN_TIMEOUT)
    dismiss_news_prompt(page)
    home = page.locator('[data-testid="ch-home"]')
    expect(home.locator('[data-testid="ch-home-title"]')).to_have_text(
        "Python foundations", timeout=30_000
    )
    expect(home.locator('[data-testid="ch-home-description"]')).not_to_be_empty()
    modules = home.locator('[data-testid="ch-home-module"]')
    expect(modules.filter(has_text=MODULE_TITLE)).to_contain_text(MODULE_DESCRIPTION)
    assert modules.count() >= 5, modules.all_inner_texts()
    expect(home.locator('[data-testid="ch-home-next"]')).to_contain_text("What to do next")
    expect(home.locator('[data-testid="ch-home-open-next"]')).to_be_visible()
    expect(home.locator('[data-testid="ch-home-xp"]')).to_contain_text("0 XP")
    shot("learner-xp-01-course-home")

    # 2. a launcher card for the course page; the sidebar's tab is labelled
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-addButton").first.click()
    card = page.locator(".jp-LauncherCard", has_text="Course home").filter(visible=True)
    expect(card).to_be_visible()
    shot("learner-xp-02-launcher-card")
    card.click()
    expect(home.locator('[data-testid="ch-home-title"]')).to_be_visible()
    tab = page.locator('.lm-TabBar-tab[data-id="coursehub-panel"]')
    expect(tab).to_contain_text("Course")

    # 3. the search finds a word of the task; the category's tag is not repeated
    panel = open_panel(page)
    show_tab(panel, "Questions")
    search = panel.get_by_label("Search questions")
    search.fill("multiplication")
    shown = panel.locator('[data-testid="ch-question"]').filter(visible=True)
    expect(shown).to_have_count(3)
    first = row_of(panel, questions[0])
    expect(first.locator(".ch-category")).to_have_text("arithmetic")
    expect(first.locator(".ch-tag")).to_have_text(["#powers"])
    shot("learner-xp-03-search-by-task")

    # 4. the first question: a hint (its cost said first), a partial answer, then a
    # solve, celebrated with XP and an achievement
    first.get_by_role("button", name="Open Squares I", exact=True).click()
    expect(notebook(page).locator(".jp-CodeCell").first).to_contain_text("def square(x):")
    view = results(page)
    expect(view.locator('[data-testid="ch-status"]')).to_have_text("no submission yet")
    view.locator('[data-testid="ch-hints-toggle"]').click()
    hints = view.locator('[data-testid="ch-hints"]')
    expect(hints).to_contain_text("lowers the XP of a later solve")
    hints.locator('[data-testid="ch-reveal-hint"]').click()
    expect(hints.locator('[data-testid="ch-hint"]')).to_have_text([HINTS[0]])
    assert_layout_usable(page, "first question opened")
    shot("learner-xp-04-hint")

    type_answer(page, "return x + 2")
    view = submit_and_wait(page, "1 / 3")
    visible_test = view.locator('[data-testid="ch-test"][data-hidden="false"]')
    expect(visible_test.locator(".ch-test-name")).to_have_text("two squared is four")
    expect(view.locator('[data-testid="ch-celebration"]')).to_have_count(0)
    assert_layout_usable(page, "after the first submission")

    type_answer(page, "return x * x")
    view = submit_and_wait(page, "3 / 3")
    celebration = view.locator('[data-testid="ch-celebration"]')
    expect(celebration).to_be_visible()
    expect(celebration.locator('[data-testid="ch-xp"]')).to_have_text(re.compile(r"^\+\d+ XP$"))
    expect(celebration.locator('[data-testid="ch-achievement"]').first).to_contain_text(
        "Achievement unlocked"
    )
    assert_layout_usable(page, "after the first solve")
    shot("learner-xp-05-first-solve-celebrated")

    # 5. two more questions, opened from the panel: the layout stays usable
    for question in questions[1:]:
        panel = open_panel(page)
        row = row_of(panel, question)
        row.get_by_role("button", name=f"Open {question['title']}", exact=True).click()
        expect(
            page.locator(
                ".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current", has_text=question["slug"]
            )
        ).to_be_visible()
        type_answer(page, "return x * x")
        submit_and_wait(page, "3 / 3")
        assert_layout_usable(page, f"after solving {question['title']}")
    shot("learner-xp-06-three-questions-later")

    # 6. the history of the first question: the older result, and its notebook
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="squares-1.ipynb").click()
    view = results(page)
    view.locator('[data-testid="ch-history-toggle"]').click()
    history = view.locator('[data-testid="ch-history-row"]')
    expect(history).to_have_count(2)
    older = history.nth(1)
    older_id = older.get_attribute("data-submission-id")
    older.get_by_role("button", name=f"Show submission {older_id}").click()
    expect(view.locator('[data-testid="ch-viewing-older"]')).to_be_visible()
    expect(view.locator('[data-testid="ch-score"]')).to_have_text("1 / 3")
    shot("learner-xp-07-history-older-result")
    older.get_by_role("button", name=f"Open the notebook of submission {older_id}").click()
    copy_tab = page.locator(
        ".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=f"squares-1-{older_id}.ipynb"
    )
    expect(copy_tab).to_be_visible()
    expect(notebook(page).locator(".jp-CodeCell").first).to_contain_text("return x + 2")
    # a copy to look at: no Submit button
    expect(notebook(page).locator('[data-testid="ch-submit"]')).to_have_count(0)
    shot("learner-xp-08-older-notebook")

    # 7. a reload: the results area shows the last result again; no course page again
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="squares-3.ipynb").click()
    expect(results(page).locator('[data-testid="ch-score"]')).to_have_text("3 / 3")
    page.reload()
    expect(page.locator("#jupyterlab-splash")).to_have_count(0, timeout=SPAWN_TIMEOUT)
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="squares-3.ipynb")
    expect(tab).to_be_visible(timeout=30_000)
    tab.click()
    view = results(page)
    expect(view.locator('[data-testid="ch-score"]')).to_have_text("3 / 3", timeout=30_000)
    expect(view.locator('[data-testid="ch-status"]')).to_have_text("graded")
    assert_layout_usable(page, "after a reload")
    shot("learner-xp-09-after-reload")

    # 8. the profile: XP, earned and locked achievements; the leaderboard marks "you"
    panel = open_panel(page)
    show_tab(panel, "Profile")
    profile = panel.locator('[data-testid="ch-profile"]')
    expect(profile.locator('[data-testid="ch-profile-xp"]')).not_to_have_text("0")
    earned = profile.locator('[data-testid="ch-achievement-item"][data-earned="true"]')
    expect(earned.first).to_be_visible()
    expect(
        profile.locator('[data-testid="ch-achievement-item"][data-earned="false"]').first
    ).to_be_visible()
    shot("learner-xp-10-profile")
    show_tab(panel, "Leaderboard")
    mine = panel.locator('[data-testid="ch-leaderboard-row"][data-self="true"]')
    expect(mine).to_contain_text("(you)")
    shot("learner-xp-11-leaderboard")

    # 9. another learner's public profile, from the leaderboard: name, bio, link, picture
    panel.locator('[data-testid="ch-leaderboard-profile"]', has_text=RIVAL_DISPLAY).click()
    other = panel.locator('[data-testid="ch-other-profile"]')
    expect(other).to_contain_text(RIVAL_DISPLAY)
    expect(other).to_contain_text(RIVAL_BIO)
    expect(other.get_by_role("link", name="GitHub")).to_have_attribute("href", RIVAL_GITHUB)
    expect(other.locator("img.ch-avatar")).to_be_visible()
    expect(other.locator('[data-testid="ch-achievement-item"]').first).to_be_visible()
    shot("learner-xp-12-another-learners-profile")
    other.locator('[data-testid="ch-other-profile-close"]').click()
    expect(other).to_have_count(0)
    expect(panel.locator('[data-testid="ch-leaderboard-row"][data-self="true"]')).to_be_visible()

    # 10. one's own profile edited: a file that is not an image is refused with the
    # grader's words; a picture, a name, a bio and a link are saved
    show_tab(panel, "Profile")
    profile.locator('[data-testid="ch-profile-edit"]').click()
    form = profile.locator('[data-testid="ch-profile-form"]')
    avatar_input = form.get_by_label("Avatar")
    avatar_input.set_input_files(
        files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"not a picture"}]
    )
    message = form.locator('[data-testid="ch-avatar-message"]')
    expect(message).to_contain_text("not an image")
    # that refusal (a 400, and the browser's console line about it) was the point
    page.recorder.errors[:] = [e for e in page.recorder.errors if "profile/avatar" not in e]
    avatar_input.set_input_files(
        files=[{"name": "me.png", "mimeType": "image/png", "buffer": png_bytes()}]
    )
    expect(message).to_have_text("Avatar saved.")
    form.get_by_label("Display name").fill("Ada L.")
    form.get_by_label("Bio").fill("Learning Python, one square at a time.")
    form.get_by_label("GitHub").fill("https://github.com/ada-l")
    shot("learner-xp-13-profile-form")
    form.get_by_role("button", name="Save").click()
    expect(profile.locator(".ch-profile-name")).to_contain_text("Ada L.")
    expect(profile.locator("img.ch-avatar-large")).to_be_visible()
    expect(profile.get_by_role("link", name="GitHub")).to_have_attribute(
        "href", "https://github.com/ada-l"
    )
    shot("learner-xp-14-profile-saved")

    assert_no_coursehub_errors(page)
