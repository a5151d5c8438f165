"""A small asynchronous client for the grading service's REST API (v1).

The learner's server talks to the grader on the learner's behalf: through the Hub's
proxy (``<grader_url>api/v1/...``), authenticated with the server's own Hub token, which
the Hub grants the learner's scopes. Every failure is turned into a :class:`GraderError`
carrying the status code and message the extension should answer with, so handlers
never leak a traceback to the browser.
"""

import json
import os
from urllib.parse import urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from traitlets import Float, Unicode, default
from traitlets.config import LoggingConfigurable


class GraderError(Exception):
    """The grading service refused a request, or could not be asked.

    ``status`` and ``message`` are what the extension answers its own client with: the
    grader's own status and message when it gave one, 502/503/504 when it could not be
    reached or answered nonsense.
    """

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class GraderClient(LoggingConfigurable):
    """Calls the grader's v1 API with the server's Hub token (non-blocking)."""

    grader_url = Unicode(
        help="""Base URL of the grading service, e.g.
        http://127.0.0.1:8000/services/grader/ (its API lives under api/v1/).
        Defaults to the COURSEHUB_GRADER_URL environment variable.""",
    ).tag(config=True)

    @default("grader_url")
    def _default_grader_url(self):
        return os.environ.get("COURSEHUB_GRADER_URL", "")

    api_token = Unicode(
        help="""Token sent to the grading service as `Authorization: token <token>`.
        Defaults to JUPYTERHUB_API_TOKEN, the server's own Hub token.""",
    ).tag(config=True)

    @default("api_token")
    def _default_api_token(self):
        return os.environ.get("JUPYTERHUB_API_TOKEN", "")

    connect_timeout = Float(
        10.0, help="Seconds to wait for a connection to the grading service."
    ).tag(config=True)

    request_timeout = Float(
        60.0,
        help="""Seconds to wait for the grading service to answer one request
        (submissions are acknowledged before grading, so this stays short).""",
    ).tag(config=True)

    @property
    def api_url(self) -> str:
        """The v1 API root, always ending with a slash."""
        return self.grader_url.rstrip("/") + "/api/v1/"

    async def get(self, path: str, params: dict | list | None = None):
        """GET ``api/v1/<path>`` and return the decoded JSON reply."""
        return await self.request("GET", path, params=params)

    async def post(self, path: str, body):
        """POST ``body`` as JSON to ``api/v1/<path>`` and return the decoded reply."""
        return await self.request("POST", path, body=body)

    async def request(self, method: str, path: str, params=None, body=None):
        """Send one request; return the JSON reply or raise :class:`GraderError`.

        ``params`` is a dict or a list of (name, value) pairs (repeated names allowed).
        """
        if not self.grader_url:
            raise GraderError(
                503,
                "The grading service is not configured: set COURSEHUB_GRADER_URL "
                "or c.GraderClient.grader_url.",
            )
        if not self.api_token:
            raise GraderError(
                503,
                "No token for the grading service: set JUPYTERHUB_API_TOKEN "
                "or c.GraderClient.api_token.",
            )
        url = self.api_url + path.lstrip("/")
        if params:
            url += "?" + urlencode(params)
        headers = {"Authorization": f"token {self.api_token}", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        request = HTTPRequest(
            url,
            method=method,
            headers=headers,
            body=None if body is None else json.dumps(body),
            connect_timeout=self.connect_timeout,
            request_timeout=self.request_timeout,
            # A redirect means the Hub's proxy wants a browser login: the token failed.
            follow_redirects=False,
        )
        where = f"{method} {url}"
        try:
            response = await AsyncHTTPClient().fetch(request, raise_error=False)
        except HTTPClientError as e:
            if e.code == 599:
                raise GraderError(
                    504, f"The grading service did not answer in time ({where})."
                ) from e
            raise GraderError(502, f"The grading service failed ({where}): {e}") from e
        except OSError as e:
            # connection refused, DNS failure, connection reset ...
            raise GraderError(503, f"The grading service cannot be reached ({where}): {e}") from e
        return self._decode(response, where)

    def _decode(self, response, where: str):
        """The reply's JSON, or a GraderError naming what was wrong with it."""
        try:
            data = json.loads(response.body or b"null")
        except ValueError:
            data = None
            json_ok = False
        else:
            json_ok = True
        if response.code < 300:
            if not json_ok:
                raise GraderError(
                    502, f"The grading service sent a reply that is not JSON ({where})."
                )
            return data
        if 300 <= response.code < 400:
            raise GraderError(
                502,
                f"The grading service redirected the request ({where}, HTTP {response.code}):"
                " this server's token was not accepted.",
            )
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            # The grader's own error: pass it through unchanged.
            raise GraderError(response.code, data["message"])
        # An error page from something in between (the Hub's proxy, a load balancer).
        status = response.code if response.code in (502, 503, 504) else 502
        raise GraderError(
            status, f"The grading service is unavailable ({where} answered HTTP {response.code})."
        )
