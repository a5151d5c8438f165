"""The grading service's OpenAPI 3.1 contract: ``grader.yaml`` and its fragments.

``grader.yaml`` is the root (info, servers, security, shared components, the
endpoints that existed before issue 14). Each part added since writes its endpoints in
``paths-<area>.yaml`` beside it: a top-level ``paths:`` and, optionally,
``components: {schemas, parameters, responses}``; :func:`load_contract` merges them.
A path or component name defined twice is a :class:`ContractClash` naming both files:
two fragments never silently replace each other's definitions.

The merged document is served at ``GET api/v1/openapi.json``; the tests validate every
response against it (tests/openapi_check.py) and schemathesis fuzzes every operation
(tests/test_openapi_fuzz.py). The learner extension's contract
(``coursehub_extension/openapi.yaml``) borrows these components: see
:func:`extension_contract`.
"""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from pathlib import Path

import yaml

ROOT = "grader.yaml"
FRAGMENT_GLOB = "paths-*.yaml"
#: the sections of `components` a fragment may add to
COMPONENT_SECTIONS = ("schemas", "parameters", "responses", "headers", "requestBodies")


class ContractClash(ValueError):
    """Two contract files define the same path or component."""


def contract_dir() -> Path:
    return Path(str(resources.files(__name__)))


def _read(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        document = yaml.safe_load(f) or {}
    if not isinstance(document, dict):
        raise ValueError(f"{path.name}: not a YAML mapping")
    return document


def merge_fragments(root: dict, fragments: dict[str, dict], root_name: str = ROOT) -> dict:
    """``root`` with every fragment's paths and components added (a new dict).

    ``fragments`` maps a file name to its document. A path, or a component of the same
    section and name, that two files define raises :class:`ContractClash` naming the
    two files and what they both define."""
    merged = copy.deepcopy(root)
    paths = merged.setdefault("paths", {})
    components = merged.setdefault("components", {})
    owner = {("paths", key): root_name for key in paths}
    for section in COMPONENT_SECTIONS:
        for key in components.get(section, {}) or {}:
            owner[(section, key)] = root_name
    clashes = []
    for name, fragment in sorted(fragments.items()):
        unknown = set(fragment) - {"paths", "components"}
        if unknown:
            raise ValueError(
                f"{name}: a fragment holds paths and components only, not {', '.join(sorted(unknown))}"
            )
        sections = [("paths", fragment.get("paths") or {}, paths)]
        extra = set(fragment.get("components") or {}) - set(COMPONENT_SECTIONS)
        if extra:
            raise ValueError(f"{name}: unknown components section {', '.join(sorted(extra))}")
        for section in COMPONENT_SECTIONS:
            found = (fragment.get("components") or {}).get(section) or {}
            if found:
                sections.append((section, found, components.setdefault(section, {})))
        for section, found, target in sections:
            for key, value in found.items():
                first = owner.get((section, key))
                if first is not None:
                    clashes.append(f"{section} {key!r} is defined in {first} and in {name}")
                    continue
                owner[(section, key)] = name
                target[key] = copy.deepcopy(value)
    if clashes:
        raise ContractClash("OpenAPI contract files clash: " + "; ".join(clashes))
    return merged


def load_contract(directory: Path | None = None) -> dict:
    """The merged contract: ``grader.yaml`` and every ``paths-*.yaml`` (a fresh copy)."""
    if directory is None:
        return copy.deepcopy(_packaged_contract())
    return _load(Path(directory))


def _load(directory: Path) -> dict:
    root = _read(directory / ROOT)
    fragments = {p.name: _read(p) for p in sorted(directory.glob(FRAGMENT_GLOB))}
    return merge_fragments(root, fragments)


@functools.cache
def _packaged_contract() -> dict:
    return _load(contract_dir())


@functools.cache
def contract_json() -> bytes:
    """The packaged contract as JSON, made once per process (what GET openapi.json sends)."""
    return json.dumps(_packaged_contract(), indent=1, sort_keys=False).encode()


#: answers every relayed operation may give besides the grader's own: a body that is
#: not a JSON object (400), and the gateway's (502: not the grader's answer, 503: the
#: grader cannot be reached, 504: it did not answer in time)
RELAY_RESPONSES = {
    "400": "BadRequest",
    "403": "Forbidden",
    "502": "BadGateway",
    "503": "Unavailable",
    "504": "Timeout",
}
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def extension_contract(document: dict) -> dict:
    """The learner extension's contract (its YAML document, parsed), completed: an
    operation written ``{x-relays: <the grader's operationId>}`` takes that operation's
    parameters, body and answers (and the gateway's errors, :data:`RELAY_RESPONSES`),
    and the grader's components it refers to are copied in. The extension relays the
    grader's answers: their schemas are the grader's, written once."""
    merged = copy.deepcopy(document)
    grader = _packaged_contract()
    operations = {}
    for item in grader.get("paths", {}).values():
        for method in METHODS:
            operation = item.get(method)
            if operation and "operationId" in operation:
                operations[operation["operationId"]] = (item, operation)
    for path, item in merged.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if not operation or "x-relays" not in operation:
                continue
            relayed = operations.get(operation["x-relays"])
            if relayed is None:
                raise ValueError(
                    f"extension {method.upper()} {path}: x-relays {operation['x-relays']!r} "
                    "is no operation of the grader's contract"
                )
            grader_item, grader_operation = relayed
            completed = copy.deepcopy(grader_operation)
            completed["operationId"] = "relay_" + grader_operation["operationId"]
            parameters = list(grader_item.get("parameters", [])) + list(
                grader_operation.get("parameters", [])
            )
            if parameters:
                completed["parameters"] = copy.deepcopy(parameters)
            completed.pop("security", None)  # the server's own authentication, always
            responses = completed.setdefault("responses", {})
            for status, name in RELAY_RESPONSES.items():
                responses.setdefault(status, {"$ref": f"#/components/responses/{name}"})
            completed["x-relays"] = operation["x-relays"]
            item[method] = completed
    components = merged.setdefault("components", {})
    for section in COMPONENT_SECTIONS:
        theirs = grader.get("components", {}).get(section) or {}
        mine = components.setdefault(section, {})
        for key, value in theirs.items():
            mine.setdefault(key, copy.deepcopy(value))
    return merged
