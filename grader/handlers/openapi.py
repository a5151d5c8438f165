"""The API's OpenAPI 3.1 contract, served (`GET openapi.json`, to anyone), and the JSON
404 of any path under the API that names no endpoint.

The contract is read from the package's YAML files and merged once per process
(:func:`grader.openapi.contract_json`): it describes the code that runs, so it cannot
change while the process lives.
"""

from __future__ import annotations

from tornado import web

from ..openapi import contract_json
from .base import APIHandler


class OpenAPIHandler(APIHandler):
    """Open to anyone, as `health` is: the contract says nothing about any course."""

    def get(self):
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        # the same for everyone and for the process's life: caches may keep it a while
        self.set_header("Cache-Control", "public, max-age=300")
        self.finish(contract_json())


class NoSuchEndpointHandler(APIHandler):
    """Any other path under the API: a JSON 404 (tornado's default is an HTML page)."""

    def prepare(self):
        # before identifying the caller: nothing here needs to know who asks
        raise web.HTTPError(404, f"no such endpoint: {self.request.path}")


default_handlers = [(r"openapi\.json", OpenAPIHandler)]
