"""The grader's REST API v1 as the command line calls it: JSON in and out, a Hub token.

Every error the service answers is JSON `{"status", "message"}` (handlers/base.py):
:class:`APIError` carries that message so the command can print it as is. Anything
that is not such an answer (nothing listening, TLS, a Hub page where the API was
expected) is :class:`Unreachable`: the URL or the network is wrong, not an item.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import requests

API_PATH = "services/grader/api/v1/"
# connecting is quick or broken; validating a notebook grades it twice in a sandbox
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 600
CHUNK = 64 * 1024
RETRIES_429 = 5
MAX_WAIT = 60


class APIError(Exception):
    """The grader refused a request; ``message`` is the service's own words."""

    def __init__(self, method: str, path: str, status: int, message: str):
        super().__init__(f"{method} {path}: {status} {message}")
        self.method, self.path, self.status, self.message = method, path, status, message

    @property
    def not_signed_in(self) -> bool:
        """The token was not accepted (unknown, expired, or without the service's access)."""
        return self.status == 403 and (
            self.message.startswith("authentication required") or "may not use" in self.message
        )


class Unreachable(Exception):
    """No answer from the grader's API at that URL (the message says what happened)."""


def api_url_from(url: str | None, environ=os.environ) -> str | None:
    """The API's base URL, ending in "/": ``url``, else `$COURSEHUB_URL`, else (in a
    Hub server) `$COURSEHUB_GRADER_URL` or the proxy's address guessed from
    `$JUPYTERHUB_API_URL`. A Hub's address alone, or the service's, gets the API path
    added (`https://hub.example` -> `https://hub.example/services/grader/api/v1/`)."""
    url = url or environ.get("COURSEHUB_URL") or environ.get("COURSEHUB_GRADER_URL")
    if not url and environ.get("JUPYTERHUB_API_URL"):
        hub_api = environ["JUPYTERHUB_API_URL"].rstrip("/")
        url = hub_api.removesuffix("/hub/api") + "/"
    if not url:
        return None
    parts = urlsplit(url.strip())
    path = parts.path.strip("/")
    if not path:
        path = API_PATH
    elif path.endswith("services/grader"):
        path += "/api/v1/"
    else:
        path += "/"
    return urlunsplit((parts.scheme, parts.netloc, "/" + path.lstrip("/"), "", ""))


def token_from(token: str | None, environ=os.environ) -> str | None:
    """``token``, else `$COURSEHUB_TOKEN`, else `$JUPYTERHUB_API_TOKEN` (a Hub server's)."""
    return token or environ.get("COURSEHUB_TOKEN") or environ.get("JUPYTERHUB_API_TOKEN")


class GraderAPI:
    """Calls to one grader as one Hub user, over one kept-alive connection."""

    def __init__(self, base_url: str, token: str):
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"
        self.session.headers["Accept"] = "application/json"

    def close(self):
        self.session.close()

    def get(self, path: str, **params):
        return self.request("GET", path, params=params)

    def post(self, path: str, body: dict):
        return self.request("POST", path, body=body)

    def put(self, path: str, body: dict):
        return self.request("PUT", path, body=body)

    def request(self, method: str, path: str, body: dict | None = None, params=None):
        """The answer's JSON (None for 204), or APIError/Unreachable."""
        response = self._send(method, path, json=body, params=params)
        with response:
            if response.status_code == 204:
                return None
            return self._json(method, path, response)

    def download(self, path: str, target: Path, **params) -> int:
        """Stream a non-JSON answer (a CSV) into ``target``, written whole or not at all
        (a `.part` file renamed at the end); returns its size in bytes."""
        partial = target.with_name(target.name + ".part")
        size = 0
        with self._send("GET", path, params=params, stream=True) as response:
            if response.status_code >= 400:
                self._json("GET", path, response)  # raises the service's error
            try:
                with open(partial, "wb") as out:
                    for chunk in response.iter_content(CHUNK):
                        out.write(chunk)
                        size += len(chunk)
            except requests.RequestException as e:
                partial.unlink(missing_ok=True)
                raise Unreachable(f"GET {self._url(path)}: the download broke off: {e}") from None
            except BaseException:  # a full disk, Ctrl-C: no half file left behind
                partial.unlink(missing_ok=True)
                raise
        os.replace(partial, target)
        return size

    def _url(self, path: str) -> str:
        return self.base_url + quote(path, safe="/")

    def _send(self, method, path, **kwargs) -> requests.Response:
        """The response; a 429 that says when to come back (validations are limited per
        instructor) is waited out, a few times."""
        url = self._url(path)
        try:
            for attempt in range(RETRIES_429):
                response = self.session.request(
                    method, url, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT), **kwargs
                )
                wait = _retry_after(response)
                if wait is None or attempt == RETRIES_429 - 1:
                    return response
                response.close()
                time.sleep(wait)
        except requests.ConnectionError as e:
            raise Unreachable(f"cannot connect to {self.base_url}: {_reason(e)}") from None
        except requests.Timeout:
            raise Unreachable(f"{method} {url}: no answer in {READ_TIMEOUT} s") from None
        except requests.RequestException as e:
            raise Unreachable(f"{method} {url}: {e}") from None

    def _json(self, method, path, response: requests.Response):
        try:
            model = response.json()
        except ValueError:
            model = None
        if response.status_code >= 400:
            if isinstance(model, dict) and "message" in model:
                raise APIError(method, path, response.status_code, str(model["message"]))
            raise Unreachable(
                f"{method} {response.url}: {response.status_code} {response.reason}, and not "
                f"from the grader's API: is {self.base_url} its address (a Hub's "
                f".../{API_PATH})?"
            )
        if model is None:
            raise Unreachable(
                f"{method} {response.url}: the answer is not JSON: is {self.base_url} the "
                f"grader's API (a Hub's .../{API_PATH})?"
            )
        return model


def _retry_after(response: requests.Response) -> float | None:
    if response.status_code != 429:
        return None
    try:
        return min(max(float(response.headers["Retry-After"]), 0.5), MAX_WAIT)
    except (KeyError, ValueError):
        return None


def _reason(error: requests.ConnectionError) -> str:
    """The innermost cause, which names the problem (refused, DNS, TLS)."""
    cause = error
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__
    text = str(cause) or type(cause).__name__
    return text.split("] ", 1)[-1] if text.startswith("[") else text
