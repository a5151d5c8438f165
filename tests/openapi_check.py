"""Every response a test receives from the grader (or the learner extension) is checked
against the OpenAPI contract (grader/openapi/, extensions/coursehub_extension/openapi.yaml)
with openapi-core.

`check_response(method, url, status, content_type, body)` is called by the shared test
clients (tests/conftest.py `Client.request`, the extension tests' request helpers): a
path or method the contract does not have, a status it does not list for the
operation, another content type, or a body outside the schema fails the test with an
AssertionError naming the method, path, status and what differs.

Only the APIs are checked: any other URL (pages, the Hub) passes as it is. A test that
deliberately sends garbage (a path no API has, a method none allows) turns the check off
around those requests with :func:`unchecked` (or ``Client.request(..., contract=False)``).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import re
from urllib.parse import parse_qsl, urlsplit

GRADER_API = "/services/grader/api/v1/"
#: the extension's API in any server's URL (`/user/<name>/`, jp_fetch's `/a%40b/`)
EXTENSION_API = re.compile(r"^(?:.*/)?coursehub/api/")
EXTENSION_SERVER = "/user/learner/coursehub/api/"

_off = 0


@contextlib.contextmanager
def unchecked():
    """Responses received inside are not checked against the contract."""
    global _off
    _off += 1
    try:
        yield
    finally:
        _off -= 1


@functools.cache
def grader_contract():
    from openapi_core import OpenAPI

    from grader.openapi import load_contract

    return OpenAPI.from_dict(load_contract())


@functools.cache
def extension_contract(relayed_bodies: bool = True):
    """The extension's contract; without ``relayed_bodies``, the bodies of the relayed
    operations' successful answers are not checked (tests whose grader is a stand-in
    answering made-up models): statuses, content types and errors still are."""
    from openapi_core import OpenAPI

    from extensions.coursehub_extension.openapi_handlers import extension_contract as load

    document = load()
    if not relayed_bodies:
        document = copy.deepcopy(document)
        for item in document["paths"].values():
            for operation in item.values():
                if not isinstance(operation, dict):
                    continue
                if "x-relays" not in operation and "x-relays-any" not in operation:
                    continue
                responses = operation.get("responses", {})
                for status, response in responses.items():
                    if status.startswith("2"):
                        for media in response.get("content", {}).values():
                            media["schema"] = {}
                # a stand-in answers any success it likes (200 for the real one's 201)
                responses["2XX"] = {
                    "description": "a stand-in grader's success, relayed",
                    "content": {"application/json": {"schema": {}}},
                }
    return OpenAPI.from_dict(document)


def check_response(
    method: str,
    url: str,
    status: int,
    content_type: str | None,
    body: bytes | None,
    *,
    relayed_bodies: bool = True,
) -> None:
    """Fail (AssertionError) if this response of an API is outside its contract."""
    if _off:
        return
    parts = urlsplit(url)
    path = parts.path
    if path.startswith(GRADER_API):
        contract = grader_contract()
    elif EXTENSION_API.match(path):
        contract = extension_contract(relayed_bodies)
        path = EXTENSION_SERVER + EXTENSION_API.sub("", path, count=1)
    else:
        return
    if status == 599:  # no answer at all (a time-out, a closed connection): nothing to check
        return
    from openapi_core.testing import MockRequest, MockResponse

    request = MockRequest(
        "http://127.0.0.1", method.lower(), path, args=dict(parse_qsl(parts.query))
    )
    data: bytes | str = body or b""
    mime = (content_type or "").split(";")[0].strip().lower()
    if (
        mime
        and not (mime == "application/json" or mime.endswith("+json"))
        and not (mime.startswith("image/") or mime == "application/octet-stream")
    ):
        data = data.decode("utf-8", "replace")  # text: a CSV, an event stream
    if status == 204:
        mime, data = None, b""
    response = MockResponse(data, status_code=status, content_type=mime or None)
    try:
        contract.validate_response(request, response)
    except Exception as e:  # openapi-core's errors: say which and what differs
        raise AssertionError(
            f"response outside the OpenAPI contract: {method.upper()} {parts.path} -> "
            f"{status} ({content_type}): {_what_differs(e)}; body: {_excerpt(body)}"
        ) from None


def _what_differs(error: Exception) -> str:
    text = f"{type(error).__name__}: {error}"
    cause = error.__cause__ or error.__context__
    schema_errors = getattr(cause, "schema_errors", None) or getattr(error, "schema_errors", None)
    if schema_errors:
        details = []
        for e in schema_errors:
            where = "/".join(str(p) for p in e.absolute_path) or "(the body)"
            details.append(f"at {where}: {e.message}")
            for sub in (e.context or [])[:3]:
                sub_where = "/".join(str(p) for p in sub.absolute_path) or "(the body)"
                details.append(f"  (one option) at {sub_where}: {sub.message}")
        text = f"{type(error).__name__}: " + "; ".join(details)
    return text


def _excerpt(body: bytes | None, limit: int = 600) -> str:
    if not body:
        return "(empty)"
    text = body[:limit].decode("utf-8", "replace")
    try:
        text = json.dumps(json.loads(body), default=str)[:limit]
    except ValueError:
        pass
    return text + ("..." if len(body) > limit else "")


def check_fetched(method: str, response, *, relayed_bodies: bool = True) -> None:
    """:func:`check_response` for a tornado HTTPResponse (the extension tests' jp_fetch)."""
    check_response(
        method,
        response.effective_url,
        response.code,
        response.headers.get("Content-Type"),
        response.body,
        relayed_bodies=relayed_bodies,
    )
