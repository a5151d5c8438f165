"""Signing in with an OAuth provider (``COURSEHUB_AUTHENTICATOR=oauth``) through a real
Hub: a fake identity provider on loopback does the authorization code flow (authorize,
code, token with PKCE and the client's secret, user info), and a person signs in and
gets their server; who may sign in and who is an admin come from the provider's groups;
a provider's user never signs into a password account that has the same name.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import sqlite3
import threading
import time
from urllib.parse import urlencode

import pytest
import requests
from tornado import web

from hub_config.testing import RunningHub
from tests.lti_platform import free_port

pytestmark = pytest.mark.hub

CLIENT_ID, CLIENT_SECRET = "coursehub-hub", secrets.token_hex(16)


class FakeProvider:
    """An OAuth 2 provider: /authorize answers at once for the person `next_user` says
    (no login form), /token checks the code, PKCE and the client's secret, /userinfo
    answers for the access token."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.users: dict[str, dict] = {}  # name -> user info
        self.next_user = ""
        self.codes: dict[str, dict] = {}
        self.tokens: dict[str, dict] = {}
        self.token_requests: list[dict] = []

    def app(self):
        provider = self

        class Authorize(web.RequestHandler):
            def get(self):
                assert self.get_argument("client_id") == CLIENT_ID
                code = secrets.token_urlsafe(16)
                provider.codes[code] = {
                    "user": provider.users[provider.next_user],
                    "redirect_uri": self.get_argument("redirect_uri"),
                    "challenge": self.get_argument("code_challenge", ""),
                }
                query = urlencode({"code": code, "state": self.get_argument("state")})
                self.redirect(f"{self.get_argument('redirect_uri')}?{query}")

        class Token(web.RequestHandler):
            def post(self):
                args = {k: self.get_argument(k) for k in self.request.body_arguments}
                provider.token_requests.append(args)
                auth = self.request.headers.get("Authorization", "")
                basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
                if auth != f"Basic {basic}" and args.get("client_secret") != CLIENT_SECRET:
                    raise web.HTTPError(401, "wrong client secret")
                grant = provider.codes.pop(args.get("code", ""), None)
                if grant is None or grant["redirect_uri"] != args.get("redirect_uri"):
                    raise web.HTTPError(400, "unknown code")
                if grant["challenge"]:
                    digest = hashlib.sha256(args.get("code_verifier", "").encode()).digest()
                    if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant["challenge"]:
                        raise web.HTTPError(400, "PKCE verifier does not match")
                token = secrets.token_urlsafe(16)
                provider.tokens[token] = grant["user"]
                self.write({"access_token": token, "token_type": "Bearer", "expires_in": 3600})

        class UserInfo(web.RequestHandler):
            def get(self):
                token = self.request.headers.get("Authorization", "").removeprefix("Bearer ")
                if token not in provider.tokens:
                    raise web.HTTPError(401)
                self.write(provider.tokens[token])

        return web.Application(
            [(r"/authorize", Authorize), (r"/token", Token), (r"/userinfo", UserInfo)]
        )

    def __enter__(self):
        started = threading.Event()

        def run():
            self.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self.loop)
            self.server = self.app().listen(self.port, "127.0.0.1")
            self.loop.call_soon(started.set)
            self.loop.run_forever()
            self.server.stop()
            self.loop.close()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        started.wait(10)
        return self

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def provider():
    with FakeProvider() as running:
        yield running


@pytest.fixture(scope="module")
def hub(provider):
    env = {
        "COURSEHUB_AUTHENTICATOR": "oauth",
        "COURSEHUB_OAUTH_CLIENT_ID": CLIENT_ID,
        "COURSEHUB_OAUTH_CLIENT_SECRET": CLIENT_SECRET,
        "COURSEHUB_OAUTH_AUTHORIZE_URL": f"{provider.url}/authorize",
        "COURSEHUB_OAUTH_TOKEN_URL": f"{provider.url}/token",
        "COURSEHUB_OAUTH_USERDATA_URL": f"{provider.url}/userinfo",
        "COURSEHUB_OAUTH_USERNAME_CLAIM": "uid",
        "COURSEHUB_OAUTH_ALLOWED_GROUPS": "students",
        "COURSEHUB_OAUTH_ADMIN_GROUPS": "it-staff",
        "COURSEHUB_GRADER_ENABLED": "0",
    }
    hub = RunningHub(env=env)
    hub.env["COURSEHUB_PUBLIC_URL"] = f"http://127.0.0.1:{hub.port}"
    with hub:
        yield hub


def sign_in(
    hub, provider, uid: str, groups: list[str]
) -> tuple[requests.Session, requests.Response]:
    """The browser's way through: Hub -> provider -> Hub's callback; its answer."""
    provider.users[uid] = {"uid": uid, "groups": groups, "email": f"{uid}@uni.example"}
    provider.next_user = uid
    browser = requests.Session()
    to_provider = browser.get(f"{hub.url}/hub/oauth_login", allow_redirects=False, timeout=30)
    assert to_provider.status_code == 302 and to_provider.headers["Location"].startswith(
        provider.url
    ), to_provider.text
    back = browser.get(to_provider.headers["Location"], allow_redirects=False, timeout=30)
    assert back.status_code == 302, back.text
    callback = back.headers["Location"]
    assert callback.startswith(f"{hub.url}/hub/oauth_callback?"), callback
    return browser, browser.get(callback, allow_redirects=False, timeout=60)


def test_a_person_signs_in_with_the_provider_and_gets_their_server(hub, provider):
    uid = f"o{secrets.token_hex(3)}"
    hub.learners.append(uid)  # development mode: a system account, deleted after
    browser, answer = sign_in(hub, provider, uid, ["students"])
    assert answer.status_code == 302, answer.text[-2000:]
    assert provider.token_requests[-1]["grant_type"] == "authorization_code"
    assert "code_verifier" in provider.token_requests[-1]  # PKCE
    assert browser.get(f"{hub.url}/hub/api/user", timeout=30).json()["name"] == uid
    # on to the spawn page, which starts their server
    location = answer.headers["Location"]
    assert location.endswith("/hub/spawn") or location.startswith(f"/user/{uid}"), location
    browser.get(f"{hub.url}{location}", timeout=120)
    deadline = time.monotonic() + 120
    while not hub.api("GET", f"/users/{uid}").json()["servers"].get("", {}).get("ready"):
        assert time.monotonic() < deadline, hub.log()[-4000:]
        time.sleep(1)
    lab = browser.get(f"{hub.url}/user/{uid}/lab", timeout=60)
    assert lab.status_code == 200 and "JupyterLab" in lab.text, lab.text[-1000:]
    assert hub.api("GET", f"/users/{uid}").json()["admin"] is False
    assert hub.api("DELETE", f"/users/{uid}/server").status_code in (202, 204)


def test_the_providers_groups_decide_who_gets_in_and_who_is_admin(hub, provider):
    browser, answer = sign_in(hub, provider, "outsider", ["alumni"])
    assert answer.status_code == 403, answer.text[-2000:]
    assert browser.get(f"{hub.url}/hub/api/user", timeout=30).status_code in (401, 403)

    _, answer = sign_in(hub, provider, "root-ann", ["it-staff"])
    assert answer.status_code == 302, answer.text[-2000:]
    assert hub.api("GET", "/users/root-ann").json()["admin"] is True
    # the provider's groups are never made Hub groups (courses are Hub groups)
    assert hub.api("GET", "/users/root-ann").json()["groups"] == []


def test_the_course_api_of_the_hub_is_there(hub):
    # the grader makes a course's groups and roles through it, whatever the authenticator
    answer = hub.api("PUT", "/coursehub/courses/oauth-course", json={})
    assert answer.status_code == 200, answer.text
    assert hub.api("GET", "/groups/course-oauth-course-instructors").status_code == 200


def test_a_password_accounts_name_is_refused(hub, provider):
    with sqlite3.connect(hub.state_dir / "jupyterhub.sqlite") as db:
        db.execute(
            "INSERT INTO coursehub_accounts (username, password_hash, approved, rejected,"
            " created) VALUES ('teacher', x'00', 1, 0, '2026-01-01 00:00:00')"
        )
    browser, answer = sign_in(hub, provider, "teacher", ["students"])
    assert answer.status_code == 409 and "password" in answer.text, answer.text[-2000:]
    assert browser.get(f"{hub.url}/hub/api/user", timeout=30).status_code in (401, 403)
