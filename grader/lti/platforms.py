"""The LMS platforms coursehub trusts: configuration, never rows.

``COURSEHUB_LTI_PLATFORMS`` names a JSON file, read by the Hub (launches:
hub_config.lti) and by the grader (tokens, line items, scores, rosters) with this one
module, so both accept the same files and read them the same way: a list of
registrations of this tool with a platform::

    [{"issuer": "https://lms.example.edu", "client_id": "...",
      "authorize_url": "...", "jwks_url": "...", "token_url": "...",
      "deployment_ids": ["1"], "courses": {"<context id>": "<course slug>"},
      "username_key": "email"}]

``token_url`` (grade passback and rosters need it), ``courses`` (contexts an admin links
ahead of time: linked at their first launch) and ``username_key`` (the claim naming the
Hub user, grader.lti.names; default ``email``; the grader matches rosters' members to
Hub names with it) are optional. The file is read again when it changes: adding a
platform needs no restart.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from .names import DEFAULT_USERNAME_KEY

REQUIRED = ("issuer", "client_id", "authorize_url", "jwks_url", "deployment_ids")


class PlatformsError(ValueError):
    """The platforms file cannot be used; ``str(e)`` names the file and the problem."""


class UnknownPlatform(LookupError):
    """A launch from an issuer (or client id) no registration in the file has."""


@dataclass(frozen=True)
class Platform:
    """One registration of the tool with an LMS."""

    issuer: str
    client_id: str
    authorize_url: str
    jwks_url: str
    deployment_ids: tuple[str, ...]
    token_url: str = ""
    username_key: str = DEFAULT_USERNAME_KEY
    courses: dict = field(default_factory=dict, compare=False, hash=False)


def _url(path: Path, index: int, key: str, value) -> str:
    if not isinstance(value, str) or urlparse(value).scheme not in ("http", "https"):
        raise PlatformsError(f"{path}: platform {index}: {key} must be an http(s) URL")
    return value


def _username_key(path: Path, index: int, value) -> str:
    if value in (None, ""):
        return DEFAULT_USERNAME_KEY
    if not isinstance(value, str):
        raise PlatformsError(f"{path}: platform {index}: username_key must be a string")
    return value


def parse_platforms(data, path: Path | str = "<platforms>") -> list[Platform]:
    """The registrations in the file's JSON, checked; :class:`PlatformsError`."""
    path = Path(path)
    if not isinstance(data, list):
        raise PlatformsError(f"{path}: must hold a JSON list of platforms")
    platforms, seen = [], set()
    for index, entry in enumerate(data):
        if not isinstance(entry, dict):
            raise PlatformsError(f"{path}: platform {index} is not a JSON object")
        missing = [key for key in REQUIRED if not entry.get(key)]
        if missing:
            raise PlatformsError(f"{path}: platform {index} lacks {', '.join(missing)}")
        deployments = entry["deployment_ids"]
        if not isinstance(deployments, list) or not all(isinstance(d, str) for d in deployments):
            raise PlatformsError(f"{path}: platform {index}: deployment_ids must be strings")
        if not isinstance(entry["client_id"], str):
            raise PlatformsError(f"{path}: platform {index}: client_id must be a string")
        courses = entry.get("courses") or {}
        if not isinstance(courses, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in courses.items()
        ):
            raise PlatformsError(
                f"{path}: platform {index}: courses must map context ids to course slugs"
            )
        platform = Platform(
            issuer=_url(path, index, "issuer", entry["issuer"]),
            client_id=entry["client_id"],
            authorize_url=_url(path, index, "authorize_url", entry["authorize_url"]),
            jwks_url=_url(path, index, "jwks_url", entry["jwks_url"]),
            token_url=_url(path, index, "token_url", entry["token_url"])
            if entry.get("token_url")
            else "",
            deployment_ids=tuple(deployments),
            username_key=_username_key(path, index, entry.get("username_key")),
            courses=dict(courses),
        )
        if (platform.issuer, platform.client_id) in seen:
            raise PlatformsError(
                f"{path}: platform {index}: {platform.issuer} with client id "
                f"{platform.client_id} is registered twice"
            )
        seen.add((platform.issuer, platform.client_id))
        platforms.append(platform)
    return platforms


def find_platform(platforms: list[Platform], issuer: str, client_id: str | None) -> Platform:
    """The registration a launch is for: by issuer, and client id when given (a platform
    may register the tool several times); :class:`UnknownPlatform` with a message."""
    of_issuer = [p for p in platforms if p.issuer == issuer]
    if not of_issuer:
        raise UnknownPlatform(
            f"this Hub accepts no LTI launches from the issuer {issuer!r}: ask its "
            "administrators to register the platform"
        )
    if client_id:
        chosen = [p for p in of_issuer if p.client_id == client_id]
        if not chosen:
            raise UnknownPlatform(
                f"the client id {client_id!r} is not registered for the issuer {issuer!r}"
            )
        return chosen[0]
    if len(of_issuer) > 1:
        raise UnknownPlatform(
            f"the issuer {issuer!r} has several registrations here: the platform must "
            "send client_id with the login initiation"
        )
    return of_issuer[0]


class PlatformsFile:
    """The platforms file, read again when its modification time or size changes."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp = None
        self._platforms: list[Platform] = []

    def platforms(self) -> list[Platform]:
        try:
            stat = os.stat(self.path)
        except OSError as e:
            raise PlatformsError(f"{self.path}: cannot be read: {e.strerror}") from None
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if stamp != self._stamp:
                try:
                    data = json.loads(self.path.read_text())
                except (OSError, ValueError) as e:
                    raise PlatformsError(f"{self.path}: not readable JSON: {e}") from None
                self._platforms = parse_platforms(data, self.path)
                self._stamp = stamp
            return self._platforms

    def find(self, issuer: str, client_id: str | None) -> Platform:
        return find_platform(self.platforms(), issuer, client_id)
