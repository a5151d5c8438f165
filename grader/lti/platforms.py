"""The LMS platforms coursehub trusts: configuration, never rows.

One JSON file (`COURSEHUB_LTI_PLATFORMS`), read by the Hub (launches) and the grader
(services: tokens, line items, scores, rosters)::

    [{"issuer": "https://lms.example.edu", "client_id": "...",
      "authorize_url": "...", "jwks_url": "...", "token_url": "...",
      "deployment_ids": ["1"], "courses": {"<context id>": "<course slug>"}}]

`courses` (optional) links contexts to coursehub courses by the admin's word: such a
context is linked at its first launch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


class PlatformsError(ValueError):
    """The platforms file is unreadable or malformed; the message says where."""


@dataclass(frozen=True)
class Platform:
    issuer: str
    client_id: str
    token_url: str = ""
    jwks_url: str = ""
    authorize_url: str = ""
    deployment_ids: tuple[str, ...] = ()
    courses: dict[str, str] = field(default_factory=dict)
    # the launch claim the Hub names users by (grader.lti.names): rosters are matched
    # to Hub names with the same rule
    username_key: str = "email"


def parse_platforms(data) -> list[Platform]:
    """The platforms of the file's JSON, checked field by field."""
    if not isinstance(data, list):
        raise PlatformsError("the LTI platforms file must hold a JSON list of platforms")
    platforms = []
    for i, entry in enumerate(data):
        where = f"platform {i}"
        if not isinstance(entry, dict):
            raise PlatformsError(f"{where} must be a JSON object")
        for name in ("issuer", "client_id"):
            if not isinstance(entry.get(name), str) or not entry[name]:
                raise PlatformsError(f"{where}: {name} must be a non-empty string")
        for name in ("token_url", "jwks_url", "authorize_url", "username_key"):
            if not isinstance(entry.get(name, ""), str):
                raise PlatformsError(f"{where}: {name} must be a string")
        deployments = entry.get("deployment_ids", [])
        if not isinstance(deployments, list) or not all(isinstance(d, str) for d in deployments):
            raise PlatformsError(f"{where}: deployment_ids must be a list of strings")
        courses = entry.get("courses", {}) or {}
        if not isinstance(courses, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in courses.items()
        ):
            raise PlatformsError(f"{where}: courses must map context ids to course slugs")
        platforms.append(
            Platform(
                issuer=entry["issuer"],
                client_id=entry["client_id"],
                token_url=entry.get("token_url", ""),
                jwks_url=entry.get("jwks_url", ""),
                authorize_url=entry.get("authorize_url", ""),
                deployment_ids=tuple(deployments),
                courses=dict(courses),
                username_key=entry.get("username_key") or "email",
            )
        )
    return platforms


def load_platforms(path: str | Path) -> list[Platform]:
    """The platforms of the file at ``path`` (none if ``path`` is empty)."""
    if not path:
        return []
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise PlatformsError(f"cannot read the LTI platforms file {path}: {e}") from None
    except ValueError as e:
        raise PlatformsError(f"the LTI platforms file {path} is not JSON: {e}") from None
    return parse_platforms(data)
