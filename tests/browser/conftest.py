"""Browser fixtures: the real coursehub stack and Debian's headless chromium.

Playwright drives ``/usr/bin/chromium`` through ``executable_path``: no browser is ever
downloaded (``playwright install`` is never needed). Each test gets a fresh profile
directory, a page that records coursehub's console errors and every response the
browser read from the learner's server, and a ``shot`` helper that saves full-page
screenshots into ``tests/browser/screenshots/`` for people to look at.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from hub_config.settings import REPO_DIR
from hub_config.testing import RunningHub

CHROMIUM = Path(os.environ.get("COURSEHUB_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).parent / "screenshots"
# quiet, offline, container-friendly: no sandbox (we are root), no GPU, no phoning home
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1440, "height": 900}


def _playwright():
    """Playwright's sync API, or a skip with the reason when the machine cannot run it."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright Python package is not installed")
    if not CHROMIUM.exists():
        pytest.skip(f"no chromium at {CHROMIUM} (set COURSEHUB_CHROMIUM)")
    return sync_playwright


@pytest.fixture(scope="session", autouse=True)
def _fresh_screenshots():
    """Screenshots of this run only: stale ones would mislead whoever reviews them."""
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    SCREENSHOTS.mkdir(exist_ok=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, for fixtures that act on failures."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(autouse=True)
def _hub_log_on_failure(request):
    """A failed browser test prints the Hub's log (Hub, grader, learners' servers)."""
    yield
    failed = any(
        getattr(getattr(request.node, f"report_{when}", None), "failed", False)
        for when in ("setup", "call")
    )
    if failed and "hub" in request.fixturenames:
        try:
            hub = request.getfixturevalue("hub")
        except Exception:  # the Hub did not start: its fixture printed the log
            return
        print(hub.log()[-20000:])


@pytest.fixture(scope="module")
def hub():
    """A real Hub, proxy, grader and learners' servers, with the sample course."""
    with RunningHub(env={"COURSEHUB_COURSE_DIR": str(REPO_DIR / "course_content")}) as running:
        yield running


@pytest.fixture
def browser_context():
    sync_playwright = _playwright()
    profile = tempfile.mkdtemp(prefix="coursehub-chromium-")
    with sync_playwright() as pw:
        # headless=False: our own --headless=new is the one mode chromium gets
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=False,
            args=CHROMIUM_ARGS,
            viewport=VIEWPORT,
            # the command palette's Ctrl+Shift+C, copy and paste as a person has them
            permissions=["clipboard-read", "clipboard-write"],
        )
        context.set_default_timeout(30_000)
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


class Recorder:
    """What the browser saw: coursehub's console errors and the learner server's replies."""

    def __init__(self):
        self.errors: list[str] = []
        self.responses = []  # playwright Response objects from /user/<name>/...

    def on_console(self, msg):
        where = (msg.location or {}).get("url", "")
        if msg.type == "error" and ("coursehub" in msg.text.lower() or "coursehub" in where):
            self.errors.append(f"console: {msg.text} ({where})")

    def on_pageerror(self, error):
        text = f"{error}\n{getattr(error, 'stack', '') or ''}"
        if "coursehub" in text.lower():
            self.errors.append(f"pageerror: {text}")

    def on_response(self, response):
        if "/user/" in response.url:
            self.responses.append(response)
            if "/coursehub/api/" in response.url and response.status >= 400:
                self.errors.append(
                    f"HTTP {response.status} {response.request.method} {response.url}"
                )

    def bodies(self):
        """(url, text) of every recorded response whose body the browser still holds."""
        for response in self.responses:
            if response.headers.get("content-type", "").startswith("text/event-stream"):
                continue  # a stream still open (the push channel) has no whole body yet
            try:
                yield response.url, response.text()
            except Exception:  # redirects and evicted bodies have none: nothing was shown
                continue


@pytest.fixture
def page(browser_context):
    page = browser_context.pages[0] if browser_context.pages else browser_context.new_page()
    page.recorder = Recorder()
    page.on("console", page.recorder.on_console)
    page.on("pageerror", page.recorder.on_pageerror)
    page.on("response", page.recorder.on_response)
    yield page


@pytest.fixture
def shot(page):
    """``shot("01-sign-up")``: a full-page screenshot in tests/browser/screenshots/."""

    def take(name: str, target=None) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        if target is None:
            page.screenshot(path=str(path), full_page=True)
        else:
            target.screenshot(path=str(path))
        return path

    return take
