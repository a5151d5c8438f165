"""A fake LTI 1.3 platform (an LMS) on loopback: the launch side.

`FakePlatform` is a tornado app with its own RSA key and key set (``/jwks``) and an
OIDC authorization endpoint (``/authorize``): it answers the tool's login initiation
redirect with the auto-submitting form that POSTs a signed ``id_token`` to the tool's
callback, as Canvas or Moodle do. What each launch says is set per test with
:meth:`FakePlatform.prepare` (a `Launch`): who, which roles, which context, and what to
get wrong (another key, another audience, expired, another deployment, ...). The
platform's AGS and NRPS services are another app (tests/lti_services.py): their URLs
go into the launch's claims (`ags_lineitems`, `nrps_url`).

`LaunchBrowser` is the person's browser: it posts the login initiation to the Hub,
follows the redirect to the platform, submits the platform's form to the Hub, and keeps
the cookies throughout, with every step's response at hand.

Run it in a thread (``with FakePlatform() as platform:``: tests against a real Hub) or
on the test's own event loop (``platform.listen()``).
"""

from __future__ import annotations

import asyncio
import base64
import html
import json
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlparse

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from tornado import web
from tornado.httpserver import HTTPServer

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
AGS_SCOPES = [
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key, kid: str) -> dict:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


@dataclass
class Launch:
    """One launch as the platform will sign it; the fields after `context_id` are the
    ways a test makes it wrong (or odd)."""

    sub: str = field(default_factory=lambda: uuid.uuid4().hex)
    email: str | None = "learner@uni.example"
    name: str = "Lee Learner"
    roles: list = field(default_factory=lambda: [LEARNER])
    context_id: str | None = "ctx-1"
    context_title: str = "Python 101"
    context_label: str = "PY101"
    resource_link_id: str = "rl-1"
    target_link_uri: str = ""
    custom: dict = field(default_factory=dict)
    #: AGS and NRPS claims (tests/lti_services.py's URLs); None: no such claim
    ags_lineitems: str | None = None
    ags_lineitem: str | None = None
    nrps_url: str | None = None
    # -- what to get wrong --
    sign_with: object = None  # another private key (kid of the platform's key kept)
    kid: str | None = None  # another key id
    aud: object = None  # another audience
    deployment_id: str | None = None  # another deployment
    lifetime: int = 300  # seconds until exp; negative: already expired
    issued_ago: int = 0  # seconds since iat
    issuer: str | None = None  # another issuer
    nonce: str | None = None  # another nonce than the tool's
    extra: dict = field(default_factory=dict)  # claims added or replaced last


class FakePlatform:
    """The platform: key, key set, authorization endpoint, and what it signed."""

    def __init__(
        self,
        client_id: str = "coursehub-tool",
        deployment_id: str = "dep-1",
        issuer: str | None = None,
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.issuer = issuer or self.url
        self.client_id = client_id
        self.deployment_id = deployment_id
        self.key = new_key()
        self.kid = "platform-key-1"
        #: launches waiting for their authorization request, by login_hint
        self.launches: dict[str, Launch] = {}
        #: every id_token signed, and every authorization request's arguments
        self.tokens: list[str] = []
        self.authorizations: list[dict] = []
        self.jwks_fetches = 0
        self._loop = None
        self._thread = None
        self._server = None

    # -- what a tool's administrator types into the platforms file ------------------

    def registration(self, **extra) -> dict:
        return {
            "issuer": self.issuer,
            "client_id": self.client_id,
            "authorize_url": f"{self.url}/authorize",
            "jwks_url": f"{self.url}/jwks",
            "token_url": f"{self.url}/token",
            "deployment_ids": [self.deployment_id],
            **extra,
        }

    def jwks(self) -> dict:
        return {"keys": [public_jwk(self.key, self.kid)]}

    def rotate_key(self) -> None:
        """A new key under a new key id (a platform's key rotation)."""
        self.key = new_key()
        self.kid = f"platform-key-{uuid.uuid4().hex[:6]}"

    # -- launches -------------------------------------------------------------------

    def prepare(self, launch: Launch | None = None, **fields) -> tuple[str, Launch]:
        """Register a launch; its login_hint (what the login initiation carries)."""
        launch = launch or Launch(**fields)
        login_hint = uuid.uuid4().hex
        self.launches[login_hint] = launch
        return login_hint, launch

    def claims(self, launch: Launch, nonce: str) -> dict:
        now = int(time.time()) - launch.issued_ago
        claims = {
            "iss": launch.issuer or self.issuer,
            "aud": launch.aud if launch.aud is not None else self.client_id,
            "azp": self.client_id,
            "sub": launch.sub,
            "iat": now,
            "exp": now + launch.issued_ago + launch.lifetime,
            "nonce": launch.nonce or nonce,
            "name": launch.name,
            LTI + "deployment_id": launch.deployment_id or self.deployment_id,
            LTI + "message_type": "LtiResourceLinkRequest",
            LTI + "version": "1.3.0",
            LTI + "roles": list(launch.roles),
            LTI + "resource_link": {"id": launch.resource_link_id, "title": "Week 1"},
            LTI + "target_link_uri": launch.target_link_uri,
            LTI + "custom": dict(launch.custom),
        }
        if launch.email is not None:
            claims["email"] = launch.email
        if launch.context_id is not None:
            claims[LTI + "context"] = {
                "id": launch.context_id,
                "label": launch.context_label,
                "title": launch.context_title,
                "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
            }
        if launch.ags_lineitems or launch.ags_lineitem:
            claims["https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"] = {
                "scope": list(AGS_SCOPES),
                "lineitems": launch.ags_lineitems,
                "lineitem": launch.ags_lineitem,
            }
        if launch.nrps_url:
            claims["https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"] = {
                "context_memberships_url": launch.nrps_url,
                "service_versions": ["2.0"],
            }
        claims.update(launch.extra)
        return claims

    def sign(self, claims: dict, launch: Launch | None = None) -> str:
        launch = launch or Launch()
        token = jwt.encode(
            claims,
            launch.sign_with or self.key,
            algorithm="RS256",
            headers={"kid": launch.kid or self.kid},
        )
        self.tokens.append(token)
        return token

    # -- the app ----------------------------------------------------------------------

    def app(self) -> web.Application:
        return web.Application(
            [
                (r"/jwks", _JWKSHandler, {"platform": self}),
                (r"/authorize", _AuthorizeHandler, {"platform": self}),
            ]
        )

    def listen(self) -> HTTPServer:
        """Serve on the running event loop (in-process tests)."""
        self._server = self.app().listen(self.port, "127.0.0.1")
        return self._server

    def start(self) -> FakePlatform:
        """Serve from a thread of its own (tests against a Hub in another process)."""
        started = threading.Event()

        def run():
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            self._server = self.app().listen(self.port, "127.0.0.1")
            self._loop.call_soon(started.set)
            self._loop.run_forever()
            self._server.stop()
            self._loop.close()

        self._thread = threading.Thread(target=run, name="fake-lti-platform", daemon=True)
        self._thread.start()
        started.wait(10)
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._thread = None
        elif self._server is not None:
            self._server.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class _PlatformHandler(web.RequestHandler):
    def initialize(self, platform: FakePlatform):
        self.platform = platform


class _JWKSHandler(_PlatformHandler):
    def get(self):
        self.platform.jwks_fetches += 1
        self.write(self.platform.jwks())


class _AuthorizeHandler(_PlatformHandler):
    """The OIDC authentication request (LTI 1.3 security, step 2): checked as a
    platform checks it, answered with the form that posts the id_token."""

    def get(self):
        args = {k: self.get_argument(k) for k in self.request.arguments}
        self.platform.authorizations.append(args)
        for name, expected in (
            ("response_type", "id_token"),
            ("response_mode", "form_post"),
            ("scope", "openid"),
            ("client_id", self.platform.client_id),
        ):
            if args.get(name) != expected:
                raise web.HTTPError(400, f"{name} must be {expected!r}, not {args.get(name)!r}")
        launch = self.platform.launches.pop(args.get("login_hint", ""), None)
        if launch is None:
            raise web.HTTPError(400, "unknown login_hint")
        for name in ("redirect_uri", "nonce", "state"):
            if not args.get(name):
                raise web.HTTPError(400, f"{name} is missing")
        claims = self.platform.claims(launch, args["nonce"])
        token = self.platform.sign(claims, launch)
        self.write(
            "<!doctype html><html><body onload='document.forms[0].submit()'>"
            f"<form method='post' action='{html.escape(args['redirect_uri'])}'>"
            f"<input type='hidden' name='id_token' value='{html.escape(token)}'/>"
            f"<input type='hidden' name='state' value='{html.escape(args['state'])}'/>"
            "</form></body></html>"
        )


FORM_ACTION = re.compile(r"<form[^>]*action='([^']+)'")
FORM_INPUT = re.compile(r"<input type='hidden' name='([^']+)' value='([^']*)'/>")


def parse_form(text: str) -> tuple[str, dict]:
    """The action and fields of the platform's auto-submitting form."""
    action = html.unescape(FORM_ACTION.search(text).group(1))
    fields = {name: html.unescape(value) for name, value in FORM_INPUT.findall(text)}
    return action, fields


def jwt_payload(token: str) -> dict:
    """A JWT's claims, unverified (what a test signed itself)."""
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


class LaunchBrowser:
    """A person's browser launching the tool from the platform: cookies kept, each
    redirect followed by hand so that every step can be looked at."""

    def __init__(self, hub_url: str, platform: FakePlatform):
        self.hub_url = hub_url.rstrip("/")
        self.platform = platform
        self.session = requests.Session()
        self.initiation: requests.Response | None = None
        self.form: tuple[str, dict] | None = None

    def initiate(self, login_hint: str, **params) -> requests.Response:
        """Step 1: the platform's login initiation, a form POST to the tool."""
        data = {
            "iss": self.platform.issuer,
            "login_hint": login_hint,
            "target_link_uri": f"{self.hub_url}/",
            "client_id": self.platform.client_id,
            "lti_deployment_id": self.platform.deployment_id,
            **params,
        }
        self.initiation = self.session.post(
            f"{self.hub_url}/hub/lti13/oauth_login", data=data, allow_redirects=False, timeout=30
        )
        return self.initiation

    def authorize(self) -> tuple[str, dict]:
        """Step 2: to the platform's authorization URL; its form (action, fields)."""
        assert self.initiation.status_code == 302, self.initiation.text
        location = self.initiation.headers["Location"]
        assert location.startswith(self.platform.url), location
        answer = self.session.get(location, allow_redirects=False, timeout=30)
        assert answer.status_code == 200, answer.text
        self.form = parse_form(answer.text)
        return self.form

    def post_form(self, form: tuple[str, dict] | None = None) -> requests.Response:
        """Step 3: the form's POST of the id_token to the tool's callback."""
        action, fields = form or self.form
        return self.session.post(action, data=fields, allow_redirects=False, timeout=60)

    def launch(self, login_hint: str, **params) -> requests.Response:
        """The three steps; the callback's response."""
        self.initiate(login_hint, **params)
        self.authorize()
        return self.post_form()

    def follow(self, response: requests.Response, hops: int = 5) -> requests.Response:
        """Follow redirects within the Hub (stopping at a server that would start)."""
        for _ in range(hops):
            if response.status_code not in (301, 302, 303, 307):
                return response
            location = response.headers["Location"]
            url = location if location.startswith("http") else self.hub_url + location
            response = self.session.get(url, allow_redirects=False, timeout=30)
        return response

    def hub_user(self) -> dict | None:
        """Whom the Hub's cookie signs in (``GET /hub/api/user`` with the cookie)."""
        answer = self.session.get(f"{self.hub_url}/hub/api/user", timeout=30)
        return answer.json() if answer.status_code == 200 else None


def query_of(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
