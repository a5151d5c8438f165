"""LTI 1.3 from the launch to the LMS's gradebook, with every real part between: a real
Hub (``COURSEHUB_AUTHENTICATOR=lti``) and the grader it runs, a fake platform on
loopback for the launch (tests/lti_platform.py) and for its services (token endpoint,
AGS line items and scores: tests/lti_services.py).

A learner launched from the LMS course, which the platforms file links to the sample
course, submits a correct answer to a question: the grader gets a token from the
platform with a client assertion the platform checks against the tool's key set (which
the grader serves through the Hub's proxy), creates the module's line item and posts
the learner's module score under their LMS id; a better score later is posted too.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time

import nbformat
import pytest
import requests

from hub_config.settings import REPO_DIR
from hub_config.testing import RunningHub
from tests.conftest import answer
from tests.lti_platform import FakePlatform, Launch, LaunchBrowser
from tests.lti_services import FakePlatformServices
from tests.test_end_to_end import author_square_question

pytestmark = [pytest.mark.hub, pytest.mark.sandbox]

COURSE = "python-foundations"
CONTEXT = "ctx-e2e"


def wait_for(condition, what: str, hub, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"not so after {timeout}s: {what}\n{hub.log()[-4000:]}"
        time.sleep(0.3)
    return value


@pytest.fixture(scope="module")
def platform():
    with FakePlatform() as running:
        yield running


@pytest.fixture(scope="module")
def services(platform):
    """The platform's token endpoint and AGS, served from a thread of their own."""
    started, box = threading.Event(), {}

    def run():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        box["services"], box["loop"] = FakePlatformServices(client_id=platform.client_id), loop
        loop.call_soon(started.set)
        loop.run_forever()
        box["services"].stop()
        loop.close()

    thread = threading.Thread(target=run, name="fake-lti-services", daemon=True)
    thread.start()
    assert started.wait(10)
    yield box["services"]
    box["loop"].call_soon_threadsafe(box["loop"].stop)
    thread.join(10)


@pytest.fixture(scope="module")
def hub(platform, services, tmp_path_factory):
    folder = tmp_path_factory.mktemp("lti-e2e")
    platforms = folder / "platforms.json"
    registration = platform.registration(courses={CONTEXT: COURSE}, token_url=services.token_url)
    platforms.write_text(json.dumps([registration]))
    state_dir = tmp_path_factory.mktemp("state")
    state_dir.chmod(0o700)
    # the grader (cwd: the state directory) reads its grader_config.py there: look at
    # the passback outbox often, so the test waits less
    (state_dir / "grader_config.py").write_text("c.LTIService.send_interval = 0.5\n")
    env = {
        "COURSEHUB_AUTHENTICATOR": "lti",
        "COURSEHUB_LTI_PLATFORMS": str(platforms),
        "COURSEHUB_COURSE_DIR": str(REPO_DIR / "course_content"),
    }
    with RunningHub(env=env, state_dir=state_dir) as running:
        # the platform checks the grader's client assertions against the tool's key set
        services.jwks_url = f"{running.url}/services/grader/api/v1/lti/jwks"
        yield running


def submit(hub, token: str, question: dict, source: str) -> dict:
    grader = f"{hub.url}/services/grader/api/v1/"
    headers = {"Authorization": f"token {token}"}
    student = requests.get(grader + f"questions/{question['id']}", headers=headers, timeout=30)
    assert student.status_code == 200, student.text
    nb = answer(nbformat.from_dict(student.json()["notebook"]), source)
    r = requests.post(
        grader + "submissions",
        headers=headers,
        json={"question": question["id"], "notebook": nb},
        timeout=30,
    )
    assert r.status_code == 202, r.text

    def graded():
        s = requests.get(grader + f"submissions/{r.json()['id']}", headers=headers, timeout=30)
        return s.json() if s.json()["status"] in ("graded", "error") else None

    submission = wait_for(graded, "the submission graded", hub)
    assert submission["status"] == "graded", submission
    return submission


def test_a_launched_learners_score_reaches_the_lms(hub, platform, services):
    question = author_square_question(hub.url, hub.admin_token, "lti-e2e", hub.log)
    sub = f"lms-{secrets.token_hex(4)}"
    launch = Launch(
        sub=sub,
        email=f"{sub}@uni.example",
        context_id=CONTEXT,
        ags_lineitems=services.lineitems_url(CONTEXT),
    )
    login_hint, launch = platform.prepare(launch)
    browser = LaunchBrowser(hub.url, platform)
    assert browser.launch(login_hint).status_code == 302
    name = browser.hub_user()["name"]
    token = hub.api("POST", f"/users/{name}/tokens", json={"note": "e2e"}).json()["token"]

    partial = submit(hub, token, question, "def square(x):\n    return x * x if x > 0 else 0")
    assert 0 < partial["score"] < partial["max_score"], partial
    first = wait_for(lambda: services.latest(sub), "a score posted to the LMS", hub)
    assert first[-1]["scoreGiven"] == partial["score"]
    assert first[-1]["gradingProgress"] == "FullyGraded"
    # the module's line item, made once, labelled with the module
    items = services.lineitems[CONTEXT]
    assert len(items) == 1 and items[0]["label"] == "lti-e2e", items
    # the platform saw the grader's client assertion, checked against the tool's keys
    assert services.assertions and services.assertions[-1]["iss"] == platform.client_id

    full = submit(hub, token, question, "def square(x):\n    return x * x")
    assert full["score"] == full["max_score"]
    latest = wait_for(
        lambda: [s for s in services.latest(sub) if s["scoreGiven"] == full["score"]],
        "the better score posted",
        hub,
    )
    assert latest[-1]["scoreMaximum"] == full["max_score"]
    assert len(services.lineitems[CONTEXT]) == 1
