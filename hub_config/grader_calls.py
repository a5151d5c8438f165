"""The Hub's own calls to the grader: an LTI launch forwarded, an admin action audited.

The Hub process calls the grader's REST API with the token of the token-only service
``coursehub-hub`` (:data:`hub_config.roles.HUB_CALLS_SERVICE`), whose role grants
``custom:coursehub:hub`` (:data:`grader.scopes.HUB_SCOPE`); the grader checks that scope,
never the name. The token is random at each Hub start unless
``COURSEHUB_HUB_CALLS_TOKEN`` sets it (several Hub replicas, or a grader elsewhere that
must know it beforehand: it does not, it asks the Hub about the token).

``apply_grader_calls`` sets ``c.GraderCalls.url`` and ``c.GraderCalls.token``; any code in
the Hub process makes one with ``GraderCalls(parent=<the authenticator or the app>)``.
"""

from __future__ import annotations

import json

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from traitlets import Float, Unicode
from traitlets.config import LoggingConfigurable

from .settings import Settings

#: where the grader's API is, under the grader's own address (the proxy does not strip
#: the service prefix: the grader serves its routes under it)
API_PATH = "/services/grader/api/v1/"


class GraderCallError(Exception):
    """A call the grader refused or did not answer: ``status`` (599: no answer, as
    tornado says) and the grader's message."""

    def __init__(self, status: int, message: str):
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class GraderCalls(LoggingConfigurable):
    """A client of the grader's API with the Hub's own token (scope ``HUB_SCOPE``)."""

    url = Unicode(
        help="""The grader's API, ending in /: e.g.
        http://127.0.0.1:10101/services/grader/api/v1/ (the grader itself, not through
        the proxy: the Hub reaches it directly).""",
    ).tag(config=True)

    token = Unicode(
        help="The token of the `coursehub-hub` service (set by hub_config at each start).",
    ).tag(config=True)

    timeout = Float(
        10.0,
        help="""Seconds a call may take, connection included. A launch waits for it: a
        grader that does not answer in time is treated as down.""",
    ).tag(config=True)

    async def call(self, method: str, path: str, body: dict | None = None) -> dict:
        """``method`` on ``<url><path>`` with a JSON body; the JSON answer, or
        :class:`GraderCallError` (the grader's status and message, or 599 when it could
        not be reached)."""
        if not self.url or not self.token:
            raise GraderCallError(599, "the grader's address or the Hub's token is not set")
        request = HTTPRequest(
            self.url + path.lstrip("/"),
            method=method,
            headers={
                "Authorization": f"token {self.token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
            body=None if body is None and method in ("GET", "DELETE") else json.dumps(body or {}),
            request_timeout=self.timeout,
            connect_timeout=self.timeout,
            follow_redirects=False,
        )
        try:
            response = await AsyncHTTPClient().fetch(request)
        except HTTPClientError as e:
            raise GraderCallError(e.code, _message_of(e.response) or str(e)) from None
        except OSError as e:  # refused, reset, no route: the grader is down
            raise GraderCallError(599, f"the grader could not be reached: {e}") from None
        if not response.body:
            return {}
        try:
            answer = json.loads(response.body)
        except ValueError:
            raise GraderCallError(502, "the grader's answer is not JSON") from None
        if not isinstance(answer, dict):
            raise GraderCallError(502, "the grader's answer is not a JSON object")
        return answer


def _message_of(response) -> str:
    """The grader's error message (its JSON errors: {"status", "message"})."""
    if response is None or not response.body:
        return ""
    try:
        return str(json.loads(response.body).get("message", ""))
    except (ValueError, AttributeError):
        return response.body[:200].decode("utf-8", "replace")


def apply_grader_calls(c, settings: Settings) -> None:
    """Where the Hub's own calls go, and with which token."""
    c.GraderCalls.url = settings.grader_url.rstrip("/") + API_PATH
    c.GraderCalls.token = settings.hub_calls_token
