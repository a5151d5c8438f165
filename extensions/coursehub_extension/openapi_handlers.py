"""The extension's OpenAPI 3.1 contract, served at ``coursehub/api/openapi.json``.

Written in ``openapi.yaml`` beside this module; the operations that relay the grader's
are completed from the grader's contract (:func:`grader.openapi.extension_contract`),
once per process.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import yaml
from jupyter_server.auth.decorator import authorized

from .handlers import CoursehubAPIHandler

CONTRACT_FILE = Path(__file__).with_name("openapi.yaml")


@functools.cache
def extension_contract() -> dict:
    from grader.openapi import extension_contract as complete

    with open(CONTRACT_FILE, encoding="utf-8") as f:
        return complete(yaml.safe_load(f))


@functools.cache
def contract_json() -> bytes:
    return json.dumps(extension_contract(), indent=1).encode()


class OpenAPIHandler(CoursehubAPIHandler):
    """For whoever may use the server's API (the contract names nothing of a course)."""

    @authorized
    def get(self):
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(contract_json())


default_handlers = [(r"coursehub/api/openapi\.json", OpenAPIHandler)]
