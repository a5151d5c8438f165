"""A newcomer signs up with their email address, in headless chromium against the real stack.

From the Hub's login page, follow "Sign up", fill the form with an address at an allowed
domain, read the code from the mail the Hub sent (to aiosmtpd on loopback), mistype it
once (the page says how many tries are left, as an error), type it right, sign in, and
land in JupyterLab on the server the Hub spawned. Each step saves a screenshot into
``tests/browser/screenshots/`` (named ``signup-NN-step.png``) for people to look at.
"""

from __future__ import annotations

import secrets

import pytest

from hub_config.settings import REPO_DIR
from tests.browser.test_learner_in_jupyterlab import dismiss_news_prompt, expect
from tests.mail_support import SmtpTestServer
from tests.test_accounts_hub import CODE_RE, hub_with_mail, mail_text

pytestmark = [pytest.mark.browser, pytest.mark.hub, pytest.mark.sandbox]

# system accounts (ch-<name>) are machine-wide: a suffix keeps concurrent runs apart
NEWCOMER = f"br-cleo-{secrets.token_hex(2)}"
ADDRESS = f"{NEWCOMER}@uni.example"  # hub_with_mail allows uni.example
PASSWORD = "correct horse battery staple"
SPAWN_TIMEOUT = 120_000  # ms: the learner's server starts on first sign-in

# the red of an error message: a saturated colour with a red to orange hue
ERROR_COLOUR_JS = """el => {
  const [r, g, b] = getComputedStyle(el).color.match(/[\\d.]+/g).map(Number);
  const hi = Math.max(r, g, b), lo = Math.min(r, g, b);
  if (hi === 0 || hi === lo) return {hue: null, saturation: 0, color: [r, g, b]};
  let hue = hi === r ? 60 * (((g - b) / (hi - lo)) % 6)
          : hi === g ? 60 * ((b - r) / (hi - lo) + 2) : 60 * ((r - g) / (hi - lo) + 4);
  return {hue: (hue + 360) % 360, saturation: (hi - lo) / hi, color: [r, g, b]};
}"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """The real stack (grader and sample course included) mailing through aiosmtpd."""
    smtp = SmtpTestServer().start()
    try:
        running = hub_with_mail(
            smtp,
            tmp_path_factory,
            "",
            COURSEHUB_GRADER_ENABLED="1",
            COURSEHUB_COURSE_DIR=str(REPO_DIR / "course_content"),
        )
        with running:
            running.smtp = smtp
            yield running
    finally:
        smtp.stop()


def assert_shown_as_error(colour: dict):
    """``colour`` (from ERROR_COLOUR_JS) is an error's: red to orange, not body text."""
    hue = colour["hue"]
    assert hue is not None and (hue <= 30 or hue >= 340) and colour["saturation"] >= 0.5, (
        f"the error is drawn in rgb{tuple(colour['color'])}, not in an error's red"
    )


def test_newcomer_signs_up_verifies_by_mail_and_lands_in_jupyterlab(hub, page, shot):
    hub.learners.append(NEWCOMER)

    # 1. from the login page to the sign-up form, filled in
    page.goto(f"{hub.url}/hub/login")
    shot("signup-00-login-page")
    page.get_by_role("link", name="Sign up", exact=True).click()
    expect(page).to_have_url(f"{hub.url}/hub/signup")
    page.fill("#username_input", NEWCOMER)
    page.fill("#email_input", ADDRESS)
    page.fill("#password_input", PASSWORD)
    page.fill("#password_confirmation_input", PASSWORD)
    shot("signup-01-form-filled")
    before = len(hub.smtp.messages)
    page.click("#signup_submit")

    # 2. the verify page says where the code went; the mail holds it
    expect(page.locator(".account-message")).to_contain_text(f"We mailed a code to {ADDRESS}")
    expect(page.locator("#verify_username")).to_have_value(NEWCOMER)
    expect(page.locator(".account-error")).to_have_count(0)
    shot("signup-02-verify-page")
    code = CODE_RE.search(mail_text(hub.smtp.wait_for(ADDRESS, after=before))).group(0)

    # 3. a mistyped code: refused, as an error saying how many tries are left
    page.fill("#code_input", "AAAAAA" if code != "AAAAAA" else "BBBBBB")
    page.click("#verify_submit")
    error = page.locator(".account-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("4 tries left")
    error_colour = error.evaluate(ERROR_COLOUR_JS)  # judged last: see the end
    expect(page.locator("#verify_username")).to_have_value(NEWCOMER)
    shot("signup-03-wrong-code")

    # 4. the right code: verified, and (an allowed domain) no approval to wait for
    page.fill("#code_input", code)
    page.click("#verify_submit")
    expect(page.locator(".account-message")).to_contain_text("You can sign in now")
    expect(page.locator(".account-error")).to_have_count(0)
    shot("signup-04-verified")

    # 5. sign in: the Hub spawns the learner's server and JupyterLab loads
    page.locator("#verify-login").click()
    page.fill("#username_input", NEWCOMER)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    expect(page.locator("#jp-main-dock-panel")).to_be_visible(timeout=SPAWN_TIMEOUT)
    expect(page.locator("#jupyterlab-splash")).to_have_count(0, timeout=SPAWN_TIMEOUT)
    assert f"/user/{NEWCOMER}/lab" in page.url
    dismiss_news_prompt(page)
    shot("signup-05-jupyterlab")

    assert page.recorder.errors == [], "\n".join(page.recorder.errors)
    log = hub.log()
    for secret in (PASSWORD, code):
        assert secret not in log, "a password or code reached the Hub's log"
    # last, so that a mis-styled error still lets the journey and its screenshots run
    assert_shown_as_error(error_colour)
