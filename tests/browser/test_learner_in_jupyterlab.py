"""A learner's whole journey in JupyterLab, in headless chromium against the real stack.

Sign up through the Hub's form, get approved by an admin, sign in, land in JupyterLab;
browse the course in the coursehub panel, open a question, type a partial answer into
the notebook as a person would, Submit, see the partial score with the hidden test
marked; fix it, resubmit through the command palette, see full marks; see yourself
first on the module leaderboard, the module solved in Progress, the score in Profile;
then the same views in the dark theme. Each step saves a screenshot into
``tests/browser/screenshots/`` (named ``NN-step.png``) for people to look at.

Selectors follow the UI contract of the coursehub JupyterLab extension
(extensions/labextension): roles, labels and ``data-testid`` attributes, never layout.
"""

from __future__ import annotations

import mailbox
import re
import secrets

import pytest

from tests.test_end_to_end import PARTIAL, SECRET, SOLUTION, Learner, author_square_question

pytestmark = [pytest.mark.browser, pytest.mark.hub, pytest.mark.sandbox]

# system accounts (ch-<name>) are machine-wide: a suffix keeps concurrent runs apart
RUN = secrets.token_hex(2)
LEARNER = f"br-ada-{RUN}"
RIVAL = f"br-bob-{RUN}"
MODULE = "e2e"
PASSWORD = secrets.token_urlsafe(12)
SPAWN_TIMEOUT = 120_000  # ms: the learner's server starts on first sign-in
GRADE_TIMEOUT = 120_000  # ms: bubblewrap grading, first run included


def expect(*args, **kwargs):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(*args, **kwargs)


@pytest.fixture(scope="module")
def question(hub):
    """The square question in its own module, authored through the grader's API."""
    return author_square_question(hub.url, hub.admin_token, MODULE, hub.log)


@pytest.fixture(scope="module")
def rival(hub, question):
    """Another learner with a partial answer, so the leaderboard has someone below."""
    hub.learners.append(RIVAL)
    bob = Learner(hub, RIVAL)
    bob.start_server()
    r = bob.coursehub("POST", f"questions/{question['id']}/open")
    assert r.status_code == 201, r.text
    bob.write_answer(r.json()["path"], PARTIAL)
    assert bob.submit_and_wait(question["id"], r.json()["path"])["score"] == 1
    return bob


# helpers ---------------------------------------------------------------------------


def assert_nothing_secret(page, solution_allowed: bool = False):
    """Neither the page nor any reply the browser read holds hidden tests or solutions."""
    forbidden = [SECRET, "BEGIN HIDDEN TESTS", "BEGIN SOLUTION"]
    if not solution_allowed:
        forbidden.append(SOLUTION)
    seen = [("page", page.content()), *page.recorder.bodies()]
    for where, text in seen:
        for secret in forbidden:
            assert secret not in text, f"{secret!r} shown to the learner in {where}"


def assert_no_coursehub_errors(page):
    assert page.recorder.errors == [], "\n".join(page.recorder.errors)


def dismiss_news_prompt(page):
    """JupyterLab asks about news on first start; answer "No" as a learner would.

    Asked a moment after the shell appears, or never where announcements are off.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    toast = page.locator(".Toastify__toast", has_text="Jupyter news")
    try:
        toast.get_by_role("button", name="No", exact=True).click(timeout=5000)
    except PlaywrightTimeout:
        return
    expect(toast).to_have_count(0)


def open_panel(page):
    """The coursehub sidebar panel, opened by its tab unless it is open already."""
    panel = page.locator("#coursehub-panel")
    if not panel.is_visible():
        page.locator('.lm-TabBar-tab[data-id="coursehub-panel"]').first.click()
    expect(panel).to_be_visible()
    return panel


def show_tab(panel, name: str):
    tab = panel.get_by_role("tab", name=name, exact=True)
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")


def notebook(page):
    return page.locator(".jp-NotebookPanel").filter(visible=True).last


def focus_notebook(page, filename: str):
    """Bring the notebook's tab to the front (the results view may cover it)."""
    if not notebook(page).count():
        page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=filename).first.click()
    expect(notebook(page)).to_be_visible()


def type_answer(page, body: str):
    """Replace the solution cell's text, typing as a person does in CodeMirror.

    After the ``def`` line, Enter auto-indents; Shift+Home selects that indentation so
    the typed line has exactly our four spaces whatever the editor's indent settings.
    """
    cell = notebook(page).locator(".jp-CodeCell").first
    editor = cell.locator(".cm-content")
    editor.click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("def square(x):")
    page.keyboard.press("Enter")
    page.keyboard.press("Shift+Home")
    page.keyboard.type(f"    {body}")
    text = "\n".join(cell.locator(".cm-line").all_inner_texts()).replace("\xa0", " ")
    assert text == f"def square(x):\n    {body}", text


def results(page):
    return page.locator('[data-testid="ch-results"]').filter(visible=True).last


def select_module(select, slug: str):
    """Pick the module in a <select> by its label, else its value (title or slug)."""
    labels = [o.strip() for o in select.locator("option").all_inner_texts()]
    if slug in labels:
        select.select_option(label=slug)
    else:
        select.select_option(value=slug)


def text_has_number_near(text: str, label: str, number: int) -> bool:
    """Whether `number` is shown next to `label` (either order, as stat cards lay out)."""
    n, lab = rf"(?<![\d.]){number}(?![\d.])", re.escape(label)
    return bool(re.search(rf"{lab}\D{{0,20}}{n}|{n}\D{{0,20}}{lab}", text, re.I | re.S))


CONTRAST_JS = """el => {
  // WCAG contrast of el's text against the background it is drawn on (ancestors'
  // backgrounds composited, semi-transparent ones blended over what lies beneath)
  // computed colours are rgb()/rgba() in 0-255, or color(srgb ...) in 0-1 (color-mix)
  const parse = c => {
    const v = (c.match(/[\\d.]+/g) || []).map(Number);
    return c.startsWith("color(") ? [...v.slice(0, 3).map(x => x * 255), ...v.slice(3)] : v;
  };
  const layers = [];
  for (let n = el; n; n = n.parentElement) {
    const [r, g, b, a = 1] = parse(getComputedStyle(n).backgroundColor);
    if (a > 0) { layers.push([r, g, b, a]); if (a >= 1) break; }
  }
  let bg = [255, 255, 255];
  for (const [r, g, b, a] of layers.reverse()) {
    bg = [r * a + bg[0] * (1 - a), g * a + bg[1] * (1 - a), b * a + bg[2] * (1 - a)];
  }
  const [fr, fg, fb, fa = 1] = parse(getComputedStyle(el).color);
  const fgc = [fr * fa + bg[0] * (1 - fa), fg * fa + bg[1] * (1 - fa), fb * fa + bg[2] * (1 - fa)];
  const lum = ([r, g, b]) => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const [hi, lo] = [lum(fgc), lum(bg)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}"""


def assert_readable(locator, what: str, minimum: float = 4.5):
    """Text a learner must read has WCAG AA contrast (4.5:1) in the current theme."""
    ratio = locator.evaluate(CONTRAST_JS)
    assert ratio >= minimum, f"{what}: contrast {ratio:.2f}:1 is below {minimum}:1"


def code_in_maildir(hub, address: str) -> str:
    """The code of the mail to `address` in the Hub's maildir (development mode's mail)."""
    box = mailbox.Maildir(hub.state_dir / "mail", create=False)
    (mail,) = [m for m in box if m["To"] == address]
    text = mail.get_payload()[0].get_payload(decode=True).decode()
    return re.search(r"\b[A-HJKMNP-Z2-9]{6}\b", text).group(0)


# the journey -----------------------------------------------------------------------


def test_learner_signs_up_solves_and_ranks_in_jupyterlab(hub, question, rival, page, shot):
    hub.learners.append(LEARNER)

    # 1. sign up through the form, verify the address with the mailed code (no SMTP
    # server here: the Hub writes mail to its maildir), wait for approval, sign in,
    # land in JupyterLab
    page.goto(f"{hub.url}/hub/signup")
    page.fill("#username_input", LEARNER)
    page.fill("#email_input", f"{LEARNER}@example.org")
    page.fill("#password_input", PASSWORD)
    page.fill("#password_confirmation_input", PASSWORD)
    shot("01-signup-form")
    page.click("#signup_submit")
    expect(page.locator(".account-message")).to_contain_text("We mailed a code")
    page.fill("#code_input", code_in_maildir(hub, f"{LEARNER}@example.org"))
    page.click("#verify_submit")
    expect(page.locator(".account-message")).to_contain_text("waits for approval")
    shot("02-signup-waiting-for-approval")

    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", LEARNER)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    expect(page.locator("body")).to_contain_text("waiting for approval")
    shot("03-login-before-approval")

    r = hub.api("POST", f"/users/{LEARNER}")  # the admin approves
    assert r.status_code == 201, r.text

    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", LEARNER)
    page.fill("#password_input", PASSWORD)
    shot("04-login-form")
    page.click("#login_submit")
    expect(page.locator("#jp-main-dock-panel")).to_be_visible(timeout=SPAWN_TIMEOUT)
    expect(page.locator("#jupyterlab-splash")).to_have_count(0, timeout=SPAWN_TIMEOUT)
    assert f"/user/{LEARNER}/lab" in page.url
    shot("05-jupyterlab-landed")
    dismiss_news_prompt(page)

    # 2. in no course yet: the panel offers the open sample course; join it
    panel = open_panel(page)
    expect(panel.locator('[data-testid="ch-no-course"]')).to_be_visible()
    course = panel.locator('[data-testid="ch-joinable-course"][data-course="python-foundations"]')
    expect(course).to_contain_text("Python foundations")
    shot("05b-no-course-yet")
    course.locator('[data-testid="ch-join"]').click()
    expect(panel.locator('[data-testid="ch-course-bar"]')).to_have_attribute(
        "data-course", "python-foundations"
    )
    show_tab(panel, "Questions")

    # the course's modules and the authored question
    expect(panel.get_by_role("tablist")).to_be_visible()
    for name in ("Questions", "Progress", "Leaderboard", "Profile"):
        expect(panel.get_by_role("tab", name=name, exact=True)).to_be_visible()
    for label in ("Module", "Category", "Difficulty", "Tag"):
        select = panel.get_by_label(label, exact=True)
        expect(select.locator("option").first).to_have_text("All")
    expect(panel.get_by_label("Search questions")).to_be_visible()
    modules = panel.locator('[data-testid="ch-module"]')
    expect(modules.first).to_be_visible()
    assert modules.count() >= 4, modules.all_inner_texts()
    assert panel.locator('[data-testid="ch-question"]').count() >= 14
    row = panel.locator(f'[data-testid="ch-question"][data-question-id="{question["id"]}"]')
    expect(row).to_contain_text("Square")
    expect(row).to_contain_text("easy")
    expect(row).to_contain_text("not attempted")
    expect(row).to_have_attribute("data-solved", "false")
    row.scroll_into_view_if_needed()
    shot("06-panel-questions")

    search = panel.get_by_label("Search questions")
    search.fill("Squ")
    expect(row).to_be_visible()
    assert panel.locator('[data-testid="ch-question"]').filter(visible=True).count() < 14
    shot("07-panel-search")
    search.fill("")

    # 3. open the question: its student version, then type a partial answer
    row.get_by_role("button", name="Open Square", exact=True).click()
    expect(notebook(page)).to_be_visible()
    expect(
        page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="square.ipynb")
    ).to_be_visible()
    expect(notebook(page).locator(".jp-CodeCell").first).to_contain_text("def square(x):")
    assert_nothing_secret(page)
    shot("08-question-opened")

    type_answer(page, "return x + 2")
    assert_nothing_secret(page)
    shot("09-partial-answer-typed")
    submit = page.locator('[data-testid="ch-submit"]').filter(visible=True)
    expect(submit).to_have_attribute("title", "Submit to coursehub")
    submit.click()

    # 4. results: 1 / 3, the hidden test marked as hidden and failed
    view = results(page)
    expect(view).to_be_visible(timeout=GRADE_TIMEOUT)
    expect(view.locator('[data-testid="ch-status"]')).to_contain_text(
        "graded", timeout=GRADE_TIMEOUT
    )
    expect(view.locator('[data-testid="ch-score"]')).to_have_text("1 / 3")
    hidden = view.locator('[data-testid="ch-test"][data-hidden="true"]')
    expect(hidden).to_have_count(1)
    expect(hidden).to_have_attribute("data-passed", "false")
    expect(hidden).to_contain_text("hidden test")
    visible = view.locator('[data-testid="ch-test"][data-hidden="false"]')
    expect(visible).to_have_count(1)
    expect(visible).to_have_attribute("data-passed", "true")
    assert_nothing_secret(page)
    shot("10-results-partial")

    # 5. fix the answer, resubmit through the command palette: full marks
    focus_notebook(page, "square.ipynb")
    type_answer(page, "return x * x")
    page.keyboard.press("ControlOrMeta+Shift+c")
    palette = page.locator(".lm-CommandPalette-input").filter(visible=True)
    expect(palette).to_be_focused()
    palette.type("Submit notebook to coursehub")
    expect(
        page.locator(".lm-CommandPalette-item", has_text="Submit notebook to coursehub").first
    ).to_be_visible()
    shot("11-command-palette")
    page.keyboard.press("Enter")

    view = results(page)
    expect(view.locator('[data-testid="ch-score"]')).to_have_text("3 / 3", timeout=GRADE_TIMEOUT)
    expect(view.locator('[data-testid="ch-status"]')).to_contain_text("graded")
    expect(view.locator('[data-testid="ch-test"][data-passed="false"]')).to_have_count(0)
    expect(view.locator('[data-testid="ch-test"]')).to_have_count(2)
    assert_nothing_secret(page, solution_allowed=True)
    shot("12-results-full-marks")

    # 6. the panel refreshed: solved mark; leaderboard, progress, profile
    panel = open_panel(page)
    show_tab(panel, "Questions")
    expect(row).to_have_attribute("data-solved", "true")
    expect(row).to_contain_text("best 3 / 3")
    expect(row.get_by_label("solved", exact=True)).to_be_visible()
    row.scroll_into_view_if_needed()
    shot("13-panel-question-solved")

    show_tab(panel, "Leaderboard")
    board = panel.locator('[data-testid="ch-leaderboard"]')
    choose = board.get_by_label("Leaderboard module")
    expect(choose.locator("option").first).to_have_text("All modules")
    select_module(choose, MODULE)
    rows = board.locator('[data-testid="ch-leaderboard-row"]')
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text(LEARNER)
    expect(rows.first).to_have_attribute("data-self", "true")
    expect(rows.nth(1)).to_contain_text(RIVAL)
    expect(rows.nth(1)).to_have_attribute("data-self", "false")
    expect(board.get_by_role("button", name="Previous")).to_be_visible()
    expect(board.get_by_role("button", name="Next")).to_be_visible()
    shot("14-leaderboard-module")
    assert_readable(rows.first.locator("td").nth(1), "own leaderboard row, light theme")

    show_tab(panel, "Progress")
    progress = panel.locator('[data-testid="ch-progress"]')
    expect(progress).to_contain_text("1 / 1 solved")
    expect(progress.locator('[role="progressbar"][aria-valuenow="100"]')).to_have_count(1)
    shot("15-progress")

    show_tab(panel, "Profile")
    profile = panel.locator('[data-testid="ch-profile"]')
    expect(profile).to_contain_text(LEARNER)
    text = profile.inner_text()
    assert text_has_number_near(text, "score", 3), text
    assert text_has_number_near(text, "solved", 1), text
    assert text_has_number_near(text, "rank", 1), text
    shot("16-profile")

    # 7. the dark theme, through the Settings menu
    page.locator(".lm-MenuBar-item", has_text="Settings").click()
    page.locator(".lm-Menu-item", has_text="Theme").first.hover()
    page.locator(".lm-Menu-item", has_text="JupyterLab Dark").first.click()
    expect(page.locator("body")).to_have_attribute("data-jp-theme-name", "JupyterLab Dark")
    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false")
    page.wait_for_timeout(500)  # the theme's stylesheet swaps in after the attribute
    show_tab(panel, "Questions")
    row.scroll_into_view_if_needed()
    shot("17-dark-panel-questions")
    assert_readable(row.locator(".ch-question-title, strong, b").first, "question title, dark")
    show_tab(panel, "Leaderboard")
    select_module(choose, MODULE)
    expect(rows.first).to_have_attribute("data-self", "true")
    shot("18-dark-leaderboard")
    assert_readable(rows.first.locator("td").nth(1), "own leaderboard row, dark theme")
    assert_readable(rows.nth(1).locator("td").nth(1), "other leaderboard row, dark theme")
    # the results area lives under the notebook: bring the notebook to the front
    focus_notebook(page, "square.ipynb")
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="square.ipynb").first.click()
    view = results(page)
    expect(view.locator('[data-testid="ch-score"]')).to_have_text("3 / 3")
    shot("19-dark-results", target=view)
    assert_readable(view.locator('[data-testid="ch-score"]'), "score, dark theme")
    assert_readable(view.locator('[data-testid="ch-test"]').first, "test row, dark theme")
    show_tab(panel, "Progress")
    shot("20-dark-progress")

    assert_nothing_secret(page, solution_allowed=True)
    assert_no_coursehub_errors(page)
