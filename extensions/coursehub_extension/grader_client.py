"""A small asynchronous client for the grading service's REST API (v1).

The learner's server talks to the grader on the learner's behalf: through the Hub's
proxy (``<grader_url>api/v1/...``), authenticated with the server's own Hub token, which
the Hub grants the learner's scopes. Every failure is turned into a :class:`GraderError`
carrying the status code and message the extension should answer with, so handlers
never leak a traceback to the browser. Server-sent event streams (a submission's
progress) are passed on piece by piece as they arrive, never read to the end first.
"""

import asyncio
import json
import os
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.httputil import HTTPHeaders, HTTPInputError, parse_response_start_line
from traitlets import Float, Unicode, default
from traitlets.config import LoggingConfigurable

# An error reply's body is read this far only: it is a short JSON message.
MAX_ERROR_BODY = 64 * 1024


class GraderError(Exception):
    """The grading service refused a request, or could not be asked.

    ``status`` and ``message`` are what the extension answers its own client with: the
    grader's own status and message when it gave one, 502/503/504 when it could not be
    reached or answered nonsense. ``retry_after`` is the grader's Retry-After (a 429: a
    cool-off, or too many submissions waiting), for the browser to count down.
    """

    def __init__(self, status: int, message: str, retry_after: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


class GraderReply(NamedTuple):
    """A successful answer: the grader's status (200, 201, 202, 204) and its JSON."""

    status: int
    data: Any


class _StopStream(HTTPInputError):
    """Raised in the streaming callback: tornado's client then closes the connection.

    tornado has no other way to end a request under way (tornado issue 157). It logs
    any other exception from the callback as an uncaught error with its traceback;
    since tornado 6.5 an HTTPInputError gets one line at INFO level, with this message.
    """

    def __init__(self):
        super().__init__("the coursehub extension stopped relaying this event stream")


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

    validate_timeout = Float(
        300.0,
        help="""Seconds to wait for the grading service to validate a question's notebook:
        it grades the reference solution and the student version in sandboxes before
        it answers, so this is longer than request_timeout.""",
    ).tag(config=True)

    stream_timeout = Float(
        3600.0,
        help="""Longest time one event stream from the grading service is relayed; the
        browser then opens a new one. Long: a stream lasts while a submission waits.""",
    ).tag(config=True)

    stream_idle_timeout = Float(
        60.0,
        help="""Seconds without a byte from the grading service (it sends a keep-alive
        comment every 15 s or so) after which an event stream is given up as dead.""",
    ).tag(config=True)

    @property
    def api_url(self) -> str:
        """The v1 API root, always ending with a slash."""
        return self.grader_url.rstrip("/") + "/api/v1/"

    async def request(self, method: str, path: str, params=None, body=None):
        """Send one request; return the JSON reply or raise :class:`GraderError`.

        ``params`` is a dict or a list of (name, value) pairs (repeated names allowed).
        """
        return (await self.send(method, path, params=params, body=body)).data

    async def send(
        self,
        method: str,
        path: str,
        params=None,
        body=None,
        timeout: float | None = None,
        raw_body: bytes | None = None,
        content_type: str | None = None,
    ) -> GraderReply:
        """:meth:`request`, returning the grader's status with its JSON (None for a 204).

        ``timeout`` replaces ``request_timeout`` for a call known to take longer.
        ``raw_body`` with its ``content_type`` is sent as is instead of a JSON ``body``
        (an avatar's image bytes).
        """
        url, headers = self._prepare(path, params)
        if raw_body is not None:
            headers["Content-Type"] = content_type or "application/octet-stream"
            payload = raw_body
        elif body is not None:
            headers["Content-Type"] = "application/json"
            payload = json.dumps(body)
        else:
            payload = None
        where = f"{method} {url}"
        response = await self._fetch(method, url, headers, where, payload, timeout)
        retry_after = response.headers.get("Retry-After") if response.code == 429 else None
        data = self._decode(response.code, response.body, where, retry_after)
        return GraderReply(response.code, data)

    async def fetch_binary(self, path: str, params=None) -> tuple[str, bytes]:
        """GET a resource that is not JSON (an avatar): its Content-Type and bytes.

        Refusals raise :class:`GraderError` like :meth:`send`'s, the grader's message kept.
        """
        url, headers = self._prepare(path, params, accept="*/*")
        where = f"GET {url}"
        response = await self._fetch("GET", url, headers, where)
        if response.code != 200:
            self._decode(response.code, response.body, where)
            raise GraderError(502, f"The grading service answered HTTP {response.code} ({where}).")
        content_type = response.headers.get("Content-Type", "application/octet-stream")
        return content_type, response.body or b""

    async def _fetch(self, method, url, headers, where, body=None, timeout=None):
        """One request to the grader, its response whatever the status; GraderError
        when it cannot be reached."""
        request = HTTPRequest(
            url,
            method=method,
            headers=headers,
            body=body,
            connect_timeout=self.connect_timeout,
            request_timeout=timeout or self.request_timeout,
            # A redirect means the Hub's proxy wants a browser login: the token failed.
            follow_redirects=False,
        )
        try:
            return await AsyncHTTPClient().fetch(request, raise_error=False)
        except HTTPClientError as e:
            raise self._fetch_error(e, where) from e
        except OSError as e:
            raise self._unreachable(e, where) from e

    async def stream(
        self,
        path: str,
        on_chunk: Callable[[bytes], None],
        stop: asyncio.Event | None = None,
        headers: dict[str, str] | None = None,
        method: str = "GET",
        body: dict | None = None,
    ) -> None:
        """GET ``api/v1/<path>``, a server-sent event stream, passing its body on as it comes.
        (``method`` POST with a JSON ``body`` for a stream a request starts: an AI hint.)

        Once the grader has answered 200 with ``text/event-stream``, ``on_chunk`` is
        called with each piece of the body, in order, as it arrives (a plain function:
        tornado awaits a coroutine callback only from 6.6 on). Returns when the grader
        ends the stream, or as soon as ``stop`` is set. Raises :class:`GraderError` when the grader refuses (its status and
        message, as :meth:`request` does), cannot be reached, breaks the stream off, or
        sends nothing for ``stream_idle_timeout``; an exception from ``on_chunk`` ends
        the stream and is raised as is. ``headers`` are sent as well (a Last-Event-ID),
        never instead of the token.

        tornado's client closes a connection only from its own callbacks: once stopped
        (``stop``, idle, or a failed ``on_chunk``), the upstream connection is closed
        when its next piece arrives (the grader's keep-alive comments bound that wait)
        or at ``stream_timeout``.
        """
        url, prepared = self._prepare(path, accept="text/event-stream")
        headers = {**(headers or {}), **prepared}
        payload = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            payload = json.dumps(body)
        where = f"{method} {url}"
        loop = asyncio.get_running_loop()
        last_activity = loop.time()
        status: int | None = None
        reply_headers = HTTPHeaders()
        streaming = False
        stopped = False
        relay_error: Exception | None = None
        error_body = bytearray()

        def on_header(line: str) -> None:
            nonlocal status, streaming, last_activity
            last_activity = loop.time()
            line = line.rstrip("\r\n")
            if status is None:
                status = parse_response_start_line(line).code
            elif line:
                reply_headers.parse_line(line)
            else:
                # The end of the headers: only a 200 event stream is relayed; anything
                # else is the grader's (or a proxy's) error, read to the end.
                media_type = reply_headers.get("Content-Type", "").split(";")[0].strip()
                streaming = status == 200 and media_type == "text/event-stream"

        def on_body(chunk: bytes) -> None:
            nonlocal last_activity, relay_error
            last_activity = loop.time()
            if stopped:
                raise _StopStream()
            if not streaming:
                error_body.extend(chunk[: MAX_ERROR_BODY - len(error_body)])
                return
            try:
                on_chunk(chunk)
            except Exception as e:
                relay_error = e
                raise _StopStream() from e

        request = HTTPRequest(
            url,
            method=method,
            headers=headers,
            body=payload,
            connect_timeout=self.connect_timeout,
            request_timeout=self.stream_timeout,
            follow_redirects=False,
            header_callback=on_header,
            streaming_callback=on_body,
        )
        # A client of its own: the shared one runs at most 10 requests at a time
        # (max_clients) and would queue the learner's other calls behind long streams.
        client = AsyncHTTPClient(force_instance=True)
        fetch = asyncio.ensure_future(client.fetch(request, raise_error=False))

        def fetch_done(f: asyncio.Future) -> None:
            client.close()
            if not f.cancelled():
                # Retrieved here: a stopped stream's error is expected, not news.
                f.exception()

        fetch.add_done_callback(fetch_done)
        stopping = asyncio.ensure_future(stop.wait()) if stop is not None else None
        try:
            while not fetch.done():
                quiet = loop.time() - last_activity
                if quiet >= self.stream_idle_timeout:
                    raise GraderError(
                        504, f"The grading service's event stream went quiet ({where})."
                    )
                await asyncio.wait(
                    [f for f in (fetch, stopping) if f is not None],
                    timeout=self.stream_idle_timeout - quiet,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if stop is not None and stop.is_set():
                    return
        finally:
            # Whatever ends the wait early (stop, idle, cancellation) stops the upstream.
            stopped = not fetch.done()
            if stopping is not None:
                stopping.cancel()

        if relay_error is not None:
            raise relay_error
        try:
            response = fetch.result()
        except HTTPClientError as e:
            if streaming:
                raise GraderError(
                    502, f"The grading service's event stream broke off ({where}): {e}"
                ) from e
            raise self._fetch_error(e, where) from e
        except OSError as e:
            raise self._unreachable(e, where) from e
        if not streaming:
            # An error answer raises here; a 200 that is not an event stream below.
            self._decode(response.code, bytes(error_body), where)
            raise GraderError(
                502, f"The grading service did not answer with an event stream ({where})."
            )

    def _prepare(self, path: str, params=None, accept="application/json"):
        """The URL of ``api/v1/<path>`` and the headers carrying the token."""
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
        return url, {"Authorization": f"token {self.api_token}", "Accept": accept}

    @staticmethod
    def _fetch_error(e: HTTPClientError, where: str) -> GraderError:
        if e.code == 599:
            return GraderError(504, f"The grading service did not answer in time ({where}).")
        return GraderError(502, f"The grading service failed ({where}): {e}")

    @staticmethod
    def _unreachable(e: OSError, where: str) -> GraderError:
        # connection refused, DNS failure, connection reset ...
        return GraderError(503, f"The grading service cannot be reached ({where}): {e}")

    def _decode(self, code: int, body: bytes | None, where: str, retry_after: str | None = None):
        """The reply's JSON, or a GraderError naming what was wrong with it."""
        try:
            data = json.loads(body or b"null")
        except ValueError:
            data = None
            json_ok = False
        else:
            json_ok = True
        if code < 300:
            if not json_ok:
                raise GraderError(
                    502, f"The grading service sent a reply that is not JSON ({where})."
                )
            return data
        if 300 <= code < 400:
            raise GraderError(
                502,
                f"The grading service redirected the request ({where}, HTTP {code}):"
                " this server's token was not accepted.",
            )
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            # The grader's own error: pass it through unchanged.
            raise GraderError(code, data["message"], retry_after)
        # An error page from something in between (the Hub's proxy, a load balancer).
        status = code if code in (502, 503, 504) else 502
        raise GraderError(
            status, f"The grading service is unavailable ({where} answered HTTP {code})."
        )
