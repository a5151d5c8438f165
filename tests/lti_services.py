"""A fake LTI platform's service side, on loopback: what coursehub's grader calls.

- `POST /token`: OAuth2 client credentials with a JWT client assertion; the assertion
  is VERIFIED against the tool's key set, fetched from the grader (`jwks_url`): RS256,
  iss = sub = the client id, aud = this token URL, not expired, a jti never seen before.
  The token carries the scopes asked for (among those the platform grants).
- AGS: `GET`/`POST /contexts/<ctx>/lineitems` (line items, `?resource_id=` filter), and
  `POST /contexts/<ctx>/lineitems/<n>/scores` recording each score posted; `down`
  makes them answer 503, `stop()` refuses connections (until `start()`), and
  `score_status` forces another status (400: a refusal retrying cannot cure). Like a real
  platform, a score older than the line item's latest for that user is ignored.
- NRPS: `GET /contexts/<ctx>/memberships`, `page_size` members a page, `Link: rel=next`.

Every service call checks the bearer token and its scope.
"""

from __future__ import annotations

import json
import secrets
from urllib.parse import parse_qs

import jwt
from tornado import web
from tornado.httpclient import AsyncHTTPClient
from tornado.httpserver import HTTPServer

from tests.conftest import free_port

AGS_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
AGS_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
ALL_SCOPES = (AGS_LINEITEM, AGS_SCORE, NRPS)
ISSUER = "https://lms.test.example"
CLIENT_ID = "coursehub-tool"


class FakePlatformServices:
    def __init__(self, client_id: str = CLIENT_ID):
        self.client_id = client_id
        self.port = free_port()
        self.jwks_url = None  # the tool's key set (the grader's GET lti/jwks)
        self.granted = set(ALL_SCOPES)
        self.tokens: dict[str, set[str]] = {}
        self.assertions: list[dict] = []  # verified client assertions' claims
        self.token_failures: list[str] = []
        self.jtis: set[str] = set()
        self.lineitems: dict[str, list[dict]] = {}  # context -> items
        self.lineitem_posts = 0
        self.scores: list[dict] = []  # every score accepted, in order
        self.results: dict[tuple[str, str], dict] = {}  # (line item id, user) -> latest
        self.members: dict[str, list[dict]] = {}  # context -> members
        self.page_size = 2
        self.down = False
        self.score_status = None
        self.server = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    def lineitems_url(self, context: str) -> str:
        return f"{self.url}/contexts/{context}/lineitems"

    def memberships_url(self, context: str) -> str:
        return f"{self.url}/contexts/{context}/memberships"

    def start(self):
        app = web.Application(
            [
                (r"/token", TokenHandler),
                (r"/contexts/([^/]+)/lineitems", LineItemsHandler),
                (r"/contexts/([^/]+)/lineitems/(\d+)/scores", ScoresHandler),
                (r"/contexts/([^/]+)/memberships", MembershipsHandler),
            ],
            platform=self,
        )
        self.server = HTTPServer(app)
        self.server.listen(self.port, "127.0.0.1")

    def stop(self):
        """Refuse connections (the platform is unreachable) until start()."""
        if self.server is not None:
            self.server.stop()
            self.server = None

    def platform_entry(self, **extra) -> dict:
        return {
            "issuer": ISSUER,
            "client_id": self.client_id,
            "token_url": self.token_url,
            "jwks_url": f"{self.url}/jwks",
            "authorize_url": f"{self.url}/authorize",
            "deployment_ids": ["1"],
            **extra,
        }

    def latest(self, user: str) -> list[dict]:
        """The scores of ``user`` the platform accepted, in order."""
        return [s for s in self.scores if s["userId"] == user]


class _Base(web.RequestHandler):
    @property
    def platform(self) -> FakePlatformServices:
        return self.settings["platform"]

    def require(self, scope: str):
        if self.platform.down:
            raise web.HTTPError(503)
        header = self.request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise web.HTTPError(401)
        scopes = self.platform.tokens.get(header[len("Bearer ") :])
        if scopes is None:
            raise web.HTTPError(401)
        if scope not in scopes:
            raise web.HTTPError(403)

    def send_json(self, model, content_type="application/json"):
        self.set_header("Content-Type", content_type)
        self.finish(json.dumps(model))


class TokenHandler(_Base):
    async def post(self):
        platform = self.platform
        if platform.down:
            raise web.HTTPError(503)
        form = {k: v[0] for k, v in parse_qs(self.request.body.decode()).items()}
        if form.get("grant_type") != "client_credentials" or form.get("client_assertion_type") != (
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        ):
            return self.refuse("unsupported grant")
        assertion = form.get("client_assertion", "")
        response = await AsyncHTTPClient().fetch(platform.jwks_url)
        jwks = jwt.PyJWKSet.from_dict(json.loads(response.body))
        try:
            kid = jwt.get_unverified_header(assertion).get("kid")
            (key,) = [k for k in jwks.keys if k.key_id == kid]
            claims = jwt.decode(
                assertion,
                key.key,
                algorithms=["RS256"],
                audience=platform.token_url,
                options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]},
            )
        except (ValueError, jwt.PyJWTError) as e:
            return self.refuse(f"bad assertion: {e}")
        if claims["iss"] != platform.client_id or claims["sub"] != platform.client_id:
            return self.refuse("iss/sub is not the client id")
        if claims["exp"] - claims["iat"] > 600:
            return self.refuse("the assertion lives too long")
        if claims["jti"] in platform.jtis:
            return self.refuse("jti replayed")
        platform.jtis.add(claims["jti"])
        platform.assertions.append(claims)
        scopes = set(form.get("scope", "").split()) & platform.granted
        token = secrets.token_urlsafe(16)
        platform.tokens[token] = scopes
        self.send_json(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": 3600,
                "scope": " ".join(sorted(scopes)),
            }
        )

    def refuse(self, why: str):
        self.platform.token_failures.append(why)
        self.set_status(400)
        self.send_json({"error": "invalid_client", "error_description": why})


class LineItemsHandler(_Base):
    def get(self, context):
        self.require(AGS_LINEITEM)
        items = self.platform.lineitems.get(context, [])
        resource_id = self.get_query_argument("resource_id", None)
        if resource_id is not None:
            items = [i for i in items if i.get("resourceId") == resource_id]
        self.send_json(items, "application/vnd.ims.lis.v2.lineitemcontainer+json")

    def post(self, context):
        self.require(AGS_LINEITEM)
        assert self.request.headers["Content-Type"] == "application/vnd.ims.lis.v2.lineitem+json"
        item = json.loads(self.request.body)
        if not isinstance(item.get("scoreMaximum"), int | float) or item["scoreMaximum"] <= 0:
            raise web.HTTPError(400)
        items = self.platform.lineitems.setdefault(context, [])
        item["id"] = f"{self.platform.lineitems_url(context)}/{len(items) + 1}"
        items.append(item)
        self.platform.lineitem_posts += 1
        self.set_status(201)
        self.send_json(item, "application/vnd.ims.lis.v2.lineitem+json")


class ScoresHandler(_Base):
    def post(self, context, number):
        self.require(AGS_SCORE)
        if self.platform.score_status:
            raise web.HTTPError(self.platform.score_status)
        assert self.request.headers["Content-Type"] == "application/vnd.ims.lis.v1.score+json"
        items = self.platform.lineitems.get(context, [])
        if not 0 < int(number) <= len(items):
            raise web.HTTPError(404)
        score = json.loads(self.request.body)
        for name in ("userId", "timestamp", "activityProgress", "gradingProgress"):
            if name not in score:
                raise web.HTTPError(400)
        item = items[int(number) - 1]
        score["lineitem"] = item["id"]
        score["lineitem_resource"] = item.get("resourceId")
        key = (item["id"], score["userId"])
        previous = self.platform.results.get(key)
        if previous is not None and previous["timestamp"] > score["timestamp"]:
            self.set_status(200)  # AGS: an older score than the latest is ignored
            return self.finish()
        self.platform.results[key] = score
        self.platform.scores.append(score)
        self.set_status(204)
        self.finish()


class MembershipsHandler(_Base):
    def get(self, context):
        self.require(NRPS)
        members = self.platform.members.get(context, [])
        page = int(self.get_query_argument("page", "1"))
        size = self.platform.page_size
        chunk = members[(page - 1) * size : page * size]
        if page * size < len(members):
            url = f"{self.platform.memberships_url(context)}?page={page + 1}"
            self.set_header("Link", f'<{url}>; rel="next"')
        self.send_json(
            {"id": self.request.full_url(), "context": {"id": context}, "members": chunk},
            "application/vnd.ims.lti-nrps.v2.membershipcontainer+json",
        )
