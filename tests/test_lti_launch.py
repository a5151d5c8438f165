"""LTI 1.3 launches into a real Hub (``COURSEHUB_AUTHENTICATOR=lti``) with its real grader,
from a fake platform on loopback (tests/lti_platform.py), through the browser's real
redirects, form posts and cookies.

A learner's launch signs in and enrols them in the course the platforms file links to
the LMS course; an instructor's lands in the course's instructors group; an LMS course
not linked yet shows a page (with, for an instructor, the grader's page to link it).
An attacker's launches -- another key, another audience, an unknown deployment or
issuer, an expired token, a replayed callback with the same token and cookies -- are
refused with a 4xx that says why, and sign nobody in.
"""

from __future__ import annotations

import importlib.util
import json
import secrets
import time

import pytest
import requests

from hub_config.settings import REPO_DIR
from hub_config.testing import RunningHub
from tests.lti_platform import INSTRUCTOR, FakePlatform, Launch, LaunchBrowser, new_key

pytestmark = pytest.mark.hub

COURSE = "python-foundations"  # course_content's sample course
LINKED = "ctx-linked"
HUB_CALLS_TOKEN = secrets.token_hex(16)


def wait_for(condition, what: str, hub, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not so after {timeout}s: {what}\n{hub.log()[-4000:]}"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def platform():
    with FakePlatform() as running:
        yield running


@pytest.fixture(scope="module")
def hub(platform, tmp_path_factory):
    if importlib.util.find_spec("grader.handlers.lti") is None:
        pytest.skip("the installed grader has no LTI launches (grader/handlers/lti.py) yet")
    folder = tmp_path_factory.mktemp("lti")
    platforms = folder / "platforms.json"
    platforms.write_text(json.dumps([platform.registration(courses={LINKED: COURSE})]))
    # an operator's file: a key set fetched again at once for a key id it lacks (the
    # interval that limits such fetches is checked in test_lti_launch_units.py)
    config = folder / "operator_config.py"
    config.write_text(
        "c = get_config()  # noqa\nc.CoursehubLTIAuthenticator.jwks_refetch_interval = 0\n"
    )
    env = {
        "COURSEHUB_AUTHENTICATOR": "lti",
        "COURSEHUB_HUB_CONFIG": str(config),
        "COURSEHUB_LTI_PLATFORMS": str(platforms),
        "COURSEHUB_COURSE_DIR": str(REPO_DIR / "course_content"),
        "COURSEHUB_HUB_CALLS_TOKEN": HUB_CALLS_TOKEN,
    }
    with RunningHub(env=env) as running:
        wait_for(lambda: running.api("GET", f"/groups/course-{COURSE}").status_code == 200,
                 "the grader made the sample course's groups", running)  # fmt: skip
        yield running


def members(hub, group: str) -> list[str]:
    answer = hub.api("GET", f"/groups/{group}")
    assert answer.status_code == 200, answer.text
    return answer.json()["users"]


def person(**fields) -> Launch:
    name = f"p{secrets.token_hex(4)}"
    fields.setdefault("email", f"{name}@Uni.Example")
    fields.setdefault("context_id", LINKED)
    return Launch(**fields)


def refused(browser: LaunchBrowser, answer: requests.Response, status: int, why: str) -> None:
    """A 4xx page saying why, and nobody signed in."""
    assert answer.status_code == status, (answer.status_code, answer.text[-2000:])
    assert why in answer.text, answer.text[-2000:]
    assert browser.hub_user() is None
    assert not any(c.name.startswith("jupyterhub-hub-login") for c in browser.session.cookies)


# -- the Hub's own service ----------------------------------------------------------------


def test_the_hubs_calls_token_holds_the_hub_scope_and_no_user_does(hub):
    scopes = hub.api("GET", "/user", token=HUB_CALLS_TOKEN).json()["scopes"]
    assert "custom:coursehub:hub" in scopes
    assert hub.api("POST", "/users/lti-nobody").status_code == 201
    token = hub.api("POST", "/users/lti-nobody/tokens", json={"note": "t"}).json()["token"]
    assert "custom:coursehub:hub" not in hub.api("GET", "/user", token=token).json()["scopes"]
    # the grader takes a forwarded launch from the Hub's token only
    url = f"{hub.url}/services/grader/api/v1/lti/launches"
    answer = requests.post(url, headers={"Authorization": f"token {token}"}, json={}, timeout=30)
    assert answer.status_code == 403, answer.text


# -- launches that work ---------------------------------------------------------------------


def test_a_learners_launch_signs_in_and_enrols_in_the_linked_course(hub, platform):
    login_hint, launch = platform.prepare(person())
    browser = LaunchBrowser(hub.url, platform)
    answer = browser.launch(login_hint)
    assert answer.status_code == 302, answer.text[-2000:]
    # the target_link_uri, made a local path: on to the user's server
    assert answer.headers["Location"] == "/", answer.headers["Location"]
    name = launch.email.lower()
    assert browser.hub_user()["name"] == name
    assert name in members(hub, f"course-{COURSE}")
    assert name not in members(hub, f"course-{COURSE}-instructors")
    # the authorization request the platform saw: the registration's client id, the
    # tool's callback, form_post
    request = platform.authorizations[-1]
    assert request["client_id"] == platform.client_id
    assert request["redirect_uri"] == f"{hub.url}/hub/lti13/oauth_callback"
    # and their token reaches the grader's course as a learner
    token = hub.api("POST", f"/users/{name}/tokens", json={"note": "t"}).json()["token"]
    courses = requests.get(
        f"{hub.url}/services/grader/api/v1/courses",
        headers={"Authorization": f"token {token}"},
        timeout=30,
    ).json()["courses"]
    assert [c["enrolled"] for c in courses if c["slug"] == COURSE] == [True]


def test_an_instructors_launch_lands_in_the_instructors_group(hub, platform):
    login_hint, launch = platform.prepare(person(roles=[INSTRUCTOR]))
    browser = LaunchBrowser(hub.url, platform)
    assert browser.launch(login_hint).status_code == 302
    assert launch.email.lower() in members(hub, f"course-{COURSE}-instructors")


def test_a_launch_again_signs_in_the_same_user(hub, platform):
    launch = person()
    first = LaunchBrowser(hub.url, platform)
    assert first.launch(platform.prepare(launch)[0]).status_code == 302
    again = LaunchBrowser(hub.url, platform)
    assert again.launch(platform.prepare(launch)[0]).status_code == 302
    assert again.hub_user()["name"] == first.hub_user()["name"] == launch.email.lower()


def test_a_next_url_off_the_hub_is_not_followed(hub, platform):
    login_hint, _ = platform.prepare(person())
    browser = LaunchBrowser(hub.url, platform)
    browser.initiate(login_hint, target_link_uri="https://evil.example/steal")
    browser.authorize()
    location = browser.post_form().headers["Location"]
    assert location.startswith("/") and not location.startswith("//"), location
    assert "evil.example" not in location.split("/")[1]


def test_an_unlinked_lms_course_shows_a_page_and_an_instructor_the_link(hub, platform):
    login_hint, launch = platform.prepare(person(context_id="ctx-unlinked"))
    learner = LaunchBrowser(hub.url, platform)
    answer = learner.launch(login_hint)
    assert answer.status_code == 200, answer.text[-2000:]
    assert 'data-outcome="not_linked"' in answer.text and "not linked" in answer.text
    assert "lti-link-course" not in answer.text
    # no password pages with LTI sign-in: the navigation bar does not link them
    assert "change-password" not in answer.text
    assert learner.hub_user()["name"] == launch.email.lower()  # signed in all the same

    login_hint, _ = platform.prepare(person(context_id="ctx-unlinked-2", roles=[INSTRUCTOR]))
    teacher = LaunchBrowser(hub.url, platform)
    answer = teacher.launch(login_hint)
    assert answer.status_code == 200 and 'id="lti-link-course"' in answer.text, answer.text
    assert 'href="/services/grader/lti/link?context=' in answer.text


def test_the_tool_configuration_advertises_the_graders_key_set_and_scopes(hub):
    config = requests.get(f"{hub.url}/hub/lti13/config", timeout=30).json()
    assert config["public_jwk_url"] == f"{hub.url}/services/grader/api/v1/lti/jwks"
    assert config["oidc_initiation_url"] == f"{hub.url}/hub/lti13/oauth_login"
    assert set(config["scopes"]) == {
        "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
        "https://purl.imsglobal.org/spec/lti-ags/scope/score",
        "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
        "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
    }
    # and the key set is there
    jwks = requests.get(config["public_jwk_url"], timeout=30)
    assert jwks.status_code == 200 and jwks.json()["keys"], jwks.text


# -- an attacker's launches --------------------------------------------------------------------


@pytest.mark.parametrize(
    "wrong, status, why",
    [
        (dict(sign_with=new_key()), 401, "signature is not the platform"),
        (dict(aud="another-tool"), 401, "not meant for this tool"),
        (dict(deployment_id="dep-unknown"), 403, "deployment"),
        (dict(lifetime=-120), 401, "expired"),
        (dict(issuer="https://evil.example"), 401, "issuer"),
        (dict(nonce="not-the-tools-nonce"), 400, "nonce"),
        (dict(email="has space@uni.example"), 400, "not an email address"),
    ],
)
def test_bad_launches_are_refused_and_sign_nobody_in(hub, platform, wrong, status, why):
    login_hint, _ = platform.prepare(person(**wrong))
    browser = LaunchBrowser(hub.url, platform)
    refused(browser, browser.launch(login_hint), status, why)


def test_an_unknown_issuer_or_client_is_refused_at_the_login_initiation(hub, platform):
    browser = LaunchBrowser(hub.url, platform)
    answer = browser.initiate("hint", iss="https://evil.example")
    refused(browser, answer, 400, "accepts no LTI launches from the issuer")
    answer = browser.initiate("hint", client_id="another-client")
    refused(browser, answer, 400, "is not registered for the issuer")


def test_a_replayed_callback_with_the_same_token_and_cookies_is_refused(hub, platform):
    login_hint, _ = platform.prepare(person())
    victim = LaunchBrowser(hub.url, platform)
    victim.initiate(login_hint)
    form = victim.authorize()
    # what an attacker captured: the form post and the cookies it went with
    cookies = victim.session.cookies.copy()
    assert victim.post_form(form).status_code == 302

    attacker = LaunchBrowser(hub.url, platform)
    attacker.session.cookies = cookies
    answer = attacker.post_form(form)
    refused(attacker, answer, 403, "already used")


def test_a_key_rotation_is_followed(hub, platform):
    platform.rotate_key()
    login_hint, launch = platform.prepare(person())
    browser = LaunchBrowser(hub.url, platform)
    assert browser.launch(login_hint).status_code == 302
    assert browser.hub_user()["name"] == launch.email.lower()


# -- the grader down ----------------------------------------------------------------------------


def test_with_the_grader_down_the_launch_signs_in_and_says_enrolment_comes_later(
    platform, tmp_path
):
    platforms = tmp_path / "platforms.json"
    platforms.write_text(json.dumps([platform.registration(courses={LINKED: COURSE})]))
    env = {
        "COURSEHUB_AUTHENTICATOR": "lti",
        "COURSEHUB_LTI_PLATFORMS": str(platforms),
        "COURSEHUB_GRADER_ENABLED": "0",
    }
    with RunningHub(env=env) as hub:
        login_hint, launch = platform.prepare(person())
        browser = LaunchBrowser(hub.url, platform)
        answer = browser.launch(login_hint)
        assert answer.status_code == 200, answer.text[-2000:]
        assert 'data-outcome="enrolment_later"' in answer.text
        assert "next launch" in answer.text
        assert browser.hub_user()["name"] == launch.email.lower()
