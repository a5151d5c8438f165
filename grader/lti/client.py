"""Calls to a platform's LTI Advantage services: OAuth2 access tokens, AGS line items
and scores, NRPS memberships.

Every call is asynchronous (tornado's HTTP client: nothing blocks the event loop) and
is made outside any database transaction by its callers. A failure is a
:class:`PlatformError` saying whether trying again later may cure it (the platform is
down, slow, overloaded: 5xx, 408, 429, timeouts, refused connections) or not (any other
4xx: a refused scope, a line item the platform deleted, a user not in the context).

Access tokens: OAuth2 client credentials with a JWT client assertion (RFC 7523, as LTI
Advantage's security framework has it): signed with the tool's key (RS256, iss = sub =
client_id, aud = the token URL, a fresh jti, five minutes), the scopes space-separated;
cached per platform and scopes until shortly before they expire. Tokens live in this
process's memory only, never in a log or a response.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from .keys import ToolKey
from .platforms import Platform

AGS_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
AGS_LINEITEM_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
AGS_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
NRPS_MEMBERSHIPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"

LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
MEMBERSHIPS_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: statuses worth trying again later
RETRYABLE = frozenset({408, 425, 429})
#: a platform's error body, as much as is kept in a message
ERROR_TEXT = 200
#: NRPS pages followed at most (a loop of `next` links ends here)
MAX_PAGES = 1000


class PlatformError(Exception):
    """A call to a platform failed; ``retry``: whether trying later may succeed."""

    def __init__(self, message: str, *, retry: bool, status: int | None = None):
        super().__init__(message)
        self.retry = retry
        self.status = status


@dataclass
class _Token:
    value: str
    expires: float  # time.monotonic()


def scores_url(lineitem_url: str) -> str:
    """A line item's scores endpoint: its URL with `/scores` added to the path (before
    any query, as AGS says)."""
    parts = urlsplit(lineitem_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


def with_query(url: str, **params) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?', re.IGNORECASE)


def next_link(headers) -> str | None:
    """The `Link: <url>; rel="next"` of an NRPS page, if any."""
    for value in headers.get_list("Link"):
        match = _NEXT_LINK.search(value)
        if match:
            return match.group(1)
    return None


class PlatformClient:
    """Tokens and service calls for every configured platform."""

    def __init__(self, key: ToolKey, timeout: float = 20.0, log=None):
        self.key = key
        self.timeout = timeout
        self.log = log
        self._tokens: dict[tuple, _Token] = {}
        self._locks: dict[tuple, asyncio.Lock] = {}

    async def _fetch(self, request: HTTPRequest, what: str):
        try:
            response = await AsyncHTTPClient().fetch(request, raise_error=False)
        except HTTPClientError as e:  # 599: timeout, or the connection dropped
            raise PlatformError(f"{what}: no answer ({e})", retry=True) from None
        except OSError as e:  # refused, unreachable, TLS
            raise PlatformError(f"{what}: cannot connect ({e})", retry=True) from None
        if response.code == 599:
            raise PlatformError(f"{what}: no answer ({response.error})", retry=True)
        if not 200 <= response.code < 300:
            text = (response.body or b"")[:ERROR_TEXT].decode("utf-8", "replace")
            retry = response.code >= 500 or response.code in RETRYABLE
            raise PlatformError(
                f"{what}: the platform answered {response.code} {text}".rstrip(),
                retry=retry,
                status=response.code,
            )
        return response

    @staticmethod
    def _json(response, what: str):
        try:
            return json.loads(response.body) if response.body else None
        except ValueError:
            raise PlatformError(f"{what}: the platform's answer is not JSON", retry=True) from None

    # access tokens

    async def token(self, platform: Platform, scopes) -> str:
        """An access token for ``scopes`` (cached until shortly before it expires)."""
        if not platform.token_url:
            raise PlatformError(
                f"the platform {platform.issuer} has no token_url in the platforms file",
                retry=False,
            )
        cache_key = (platform.issuer, platform.client_id, platform.token_url, tuple(sorted(scopes)))
        lock = self._locks.setdefault(cache_key, asyncio.Lock())
        async with lock:  # one request for a token at a time, the others wait for it
            cached = self._tokens.get(cache_key)
            if cached is not None and cached.expires > time.monotonic():
                return cached.value
            now = int(time.time())
            claims = {
                "iss": platform.client_id,
                "sub": platform.client_id,
                "aud": platform.token_url,
                "iat": now,
                "exp": now + 300,
                "jti": uuid.uuid4().hex,
            }
            # the first signature may make the key (RSA generation): not on the loop
            assertion = await asyncio.to_thread(self.key.sign, claims)
            body = urlencode(
                {
                    "grant_type": "client_credentials",
                    "client_assertion_type": ASSERTION_TYPE,
                    "client_assertion": assertion,
                    "scope": " ".join(sorted(scopes)),
                }
            )
            request = HTTPRequest(
                platform.token_url,
                method="POST",
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "application/json",
                },
                body=body,
                request_timeout=self.timeout,
                connect_timeout=self.timeout,
            )
            what = f"access token from {platform.issuer}"
            model = self._json(await self._fetch(request, what), what)
            if not isinstance(model, dict) or not isinstance(model.get("access_token"), str):
                raise PlatformError(f"{what}: no access_token in the answer", retry=True)
            expires_in = model.get("expires_in", 3600)
            if not isinstance(expires_in, int | float) or expires_in <= 0:
                expires_in = 3600
            # a minute's margin (never less than a tenth of the token's life)
            margin = min(60.0, expires_in / 10)
            self._tokens[cache_key] = _Token(
                model["access_token"], time.monotonic() + expires_in - margin
            )
            return model["access_token"]

    def forget_token(self, platform: Platform, scopes) -> None:
        """A token the platform refused (401): the next call asks for a new one."""
        key = (platform.issuer, platform.client_id, platform.token_url, tuple(sorted(scopes)))
        self._tokens.pop(key, None)

    async def _call(self, platform, scopes, method, url, what, *, accept, body=None, ctype=None):
        token = await self.token(platform, scopes)
        headers = {"Authorization": f"Bearer {token}", "Accept": accept}
        if ctype:
            headers["Content-Type"] = ctype
        request = HTTPRequest(
            url,
            method=method,
            headers=headers,
            body=None if body is None else json.dumps(body),
            request_timeout=self.timeout,
            connect_timeout=self.timeout,
        )
        try:
            return await self._fetch(request, what)
        except PlatformError as e:
            if e.status == 401:  # the token expired early, or was revoked: ask again later
                self.forget_token(platform, scopes)
                e.retry = True
            raise

    # AGS

    async def find_lineitem(self, platform, scopes, container_url: str, resource_id: str):
        """The line item (a dict) of ``resource_id`` in the container, if the platform
        has one (made by an earlier attempt whose answer was lost), else None.
        ``scopes``: the AGS scopes to ask a token for (those the context granted)."""
        what = f"line items of {container_url}"
        response = await self._call(
            platform,
            scopes,
            "GET",
            with_query(container_url, resource_id=resource_id),
            what,
            accept=LINEITEMS_TYPE,
        )
        items = self._json(response, what)
        if not isinstance(items, list):
            return None
        for item in items:
            if isinstance(item, dict) and item.get("resourceId") == resource_id:
                if isinstance(item.get("id"), str):
                    return item
        return None

    async def create_lineitem(self, platform, scopes, container_url: str, item: dict) -> dict:
        what = f"new line item in {container_url}"
        response = await self._call(
            platform,
            scopes,
            "POST",
            container_url,
            what,
            accept=LINEITEM_TYPE,
            body=item,
            ctype=LINEITEM_TYPE,
        )
        model = self._json(response, what)
        if not isinstance(model, dict) or not isinstance(model.get("id"), str):
            raise PlatformError(f"{what}: the answer has no line item id", retry=True)
        return model

    async def post_score(self, platform, scopes, lineitem_url: str, score: dict) -> None:
        await self._call(
            platform,
            scopes,
            "POST",
            scores_url(lineitem_url),
            f"score for {lineitem_url}",
            accept="application/json",
            body=score,
            ctype=SCORE_TYPE,
        )

    # NRPS

    async def memberships(self, platform, url: str) -> list[dict]:
        """Every member of the context, following the `next` pages."""
        members: list[dict] = []
        pages = 0
        while url and pages < MAX_PAGES:
            what = f"memberships {url}"
            response = await self._call(
                platform, [NRPS_MEMBERSHIPS], "GET", url, what, accept=MEMBERSHIPS_TYPE
            )
            model = self._json(response, what)
            page = model.get("members") if isinstance(model, dict) else None
            if not isinstance(page, list):
                raise PlatformError(f"{what}: no members list in the answer", retry=False)
            members += [m for m in page if isinstance(m, dict)]
            url = next_link(response.headers)
            pages += 1
        return members
