"""The OpenAPI 3.1 contracts: valid documents, served, and in step with the routes.

Every route of the grader's web app under api/v1/ (and every method its handler
implements) is an operation of the contract, and every operation of the contract
reaches a route whose handler implements it; the same for the learner extension.
Responses are checked against the contract in every test (tests/openapi_check.py);
schemathesis fuzzes it (tests/test_openapi_fuzz.py).
"""

from __future__ import annotations

import re

import pytest
import yaml
from openapi_spec_validator import validate
from tornado import web

from grader.openapi import ContractClash, extension_contract, load_contract, merge_fragments
from tests.conftest import Client

METHODS = ("get", "put", "post", "delete", "patch")
API = "/services/grader/api/v1"


def implemented(handler: type) -> set[str]:
    """The HTTP methods a handler class answers (not tornado's 405 defaults)."""
    return {m for m in METHODS if getattr(handler, m) is not getattr(web.RequestHandler, m)}


def example_path(template: str, item: dict, operation: dict) -> str:
    """A concrete URL path for a contract path: each parameter given a value of its
    schema (an enum's first, an integer 1, a string "x1")."""
    params = {}
    for param in [*item.get("parameters", []), *operation.get("parameters", [])]:
        if "$ref" in param or param.get("in") != "path":
            continue
        params[param["name"]] = param.get("schema", {})

    def value(match):
        schema = params.get(match.group(1), {})
        if "$ref" in schema:
            schema = {"type": "integer"} if schema["$ref"].endswith("/Id") else {}
        if "enum" in schema:
            return str(schema["enum"][0])
        return "1" if schema.get("type") == "integer" else "x1"

    return re.sub(r"\{([^}]+)\}", value, template)


def first_route(rules, path: str):
    """The handler tornado picks for ``path`` (the first rule that matches)."""
    for matcher, handler in rules:
        if matcher.regex.match(path):
            return matcher, handler
    return None, None


def resolve_param_refs(document: dict, item: dict, operation: dict):
    """Path parameters referred to as components, inlined (for example_path)."""
    out = []
    for param in [*item.get("parameters", []), *operation.get("parameters", [])]:
        if "$ref" in param:
            param = document["components"]["parameters"][param["$ref"].rsplit("/", 1)[1]]
        out.append(param)
    return out


def operations(document: dict):
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                operation = dict(item[method])
                operation["parameters"] = resolve_param_refs(document, item, item[method])
                yield path, method, {"parameters": []}, operation


def check_both_directions(document: dict, rules, prefix: str, skip=()):
    """(operations that reach no implementing route, routes+methods no operation reaches)"""
    reached = set()
    unrouted = []
    for path, method, item, operation in operations(document):
        concrete = prefix + example_path(path, item, operation)
        matcher, handler = first_route(rules, concrete)
        if handler is None or handler in skip or method not in implemented(handler):
            unrouted.append(f"{method.upper()} {path} ({concrete} -> {handler})")
            continue
        reached.add((matcher.regex.pattern, method))
    missing = [
        f"{method.upper()} {matcher.regex.pattern} ({handler.__name__})"
        for matcher, handler in rules
        if handler not in skip
        for method in sorted(implemented(handler))
        if (matcher.regex.pattern, method) not in reached
    ]
    return unrouted, missing


# the grader ---------------------------------------------------------------------------


async def test_the_served_contract_is_valid_openapi_31_for_anyone(grader):
    code, served = await Client(grader.base_url, None).get("openapi.json")
    assert code == 200
    assert served["openapi"].startswith("3.1")
    validate(served)  # openapi-spec-validator: raises on anything invalid
    assert served == load_contract()
    assert served["components"]["schemas"]["Error"]["required"] == ["status", "message"]


async def test_an_unknown_api_path_is_a_json_404(grader):
    client = grader.client_for("ann")
    code, data = await client.request("GET", "no/such/thing", contract=False)
    assert code == 404 and data["status"] == 404 and "no such endpoint" in data["message"]


async def test_every_grader_route_is_in_the_contract_and_back(grader):
    from grader.handlers.openapi import NoSuchEndpointHandler

    rules = [
        (rule.matcher, rule.target)
        for rule in grader.webapp.wildcard_router.rules
        if rule.matcher.regex.pattern.startswith(API + "/")
    ]
    unrouted, missing = check_both_directions(
        load_contract(), rules, API, skip=(NoSuchEndpointHandler,)
    )
    assert not unrouted, "contract operations no route implements: " + "; ".join(unrouted)
    assert not missing, "routes missing from the contract: " + "; ".join(missing)


def test_fragments_are_merged_and_a_clash_names_both_files(tmp_path):
    root = {"openapi": "3.1.0", "paths": {"/a": {}}, "components": {"schemas": {"Error": {}}}}
    merged = merge_fragments(
        root,
        {"paths-x.yaml": {"paths": {"/b": {}}, "components": {"schemas": {"B": {}}}}},
    )
    assert set(merged["paths"]) == {"/a", "/b"} and set(merged["components"]["schemas"]) == {
        "Error",
        "B",
    }
    with pytest.raises(ContractClash, match=r"'/a' is defined in grader.yaml and in paths-y"):
        merge_fragments(root, {"paths-y.yaml": {"paths": {"/a": {}}}})
    with pytest.raises(ContractClash, match=r"'B' is defined in paths-x.yaml and in paths-z"):
        merge_fragments(
            root,
            {
                "paths-x.yaml": {"components": {"schemas": {"B": {}}}},
                "paths-z.yaml": {"components": {"schemas": {"B": {}}}},
            },
        )
    with pytest.raises(ValueError, match="paths and components only"):
        merge_fragments(root, {"paths-w.yaml": {"info": {}}})
    # the loader reads every paths-*.yaml of a directory
    (tmp_path / "grader.yaml").write_text(yaml.safe_dump(root))
    (tmp_path / "paths-q.yaml").write_text(yaml.safe_dump({"paths": {"/q": {}}}))
    assert set(load_contract(tmp_path)["paths"]) == {"/a", "/q"}


def test_the_contract_files_ship_in_the_package():
    from grader.openapi import contract_dir

    assert (contract_dir() / "grader.yaml").is_file()
    with open("pyproject.toml") as f:
        pyproject = f.read()
    # hatch ships every file of the listed packages; nothing excludes the YAML
    assert '"grader"' in pyproject and "exclude" not in pyproject.split("[tool.hatch.build")[1]


# the learner extension ------------------------------------------------------------------


def extension_routes():
    from extensions.coursehub_extension import (
        ai_handlers,
        handlers,
        openapi_handlers,
        practice_handlers,
    )

    # in the order CoursehubExtensionApp.initialize_handlers adds them
    listed = [
        *handlers.default_handlers,
        *practice_handlers.default_handlers,
        *ai_handlers.default_handlers,
        *openapi_handlers.default_handlers,
    ]
    app = web.Application([("/" + pattern + "/?$", handler) for pattern, handler in listed])
    return [(rule.matcher, rule.target) for rule in app.wildcard_router.rules]


def test_the_extension_contract_is_valid_and_complete():
    from extensions.coursehub_extension.openapi_handlers import extension_contract as served

    document = served()
    validate(document)
    with open("extensions/coursehub_extension/openapi.yaml") as f:
        assert document == extension_contract(yaml.safe_load(f))
    # a relayed operation answers as the grader's does, and the gateway's errors
    operation = document["paths"]["/questions/{question}"]["get"]
    assert operation["x-relays"] == "getQuestion"
    assert {"200", "404", "502", "503", "504"} <= set(operation["responses"])


def test_every_extension_route_is_in_its_contract_and_back():
    from extensions.coursehub_extension.openapi_handlers import extension_contract as served

    unrouted, missing = check_both_directions(served(), extension_routes(), "/coursehub/api")
    assert not unrouted, "contract operations no route implements: " + "; ".join(unrouted)
    assert not missing, "routes missing from the contract: " + "; ".join(missing)
