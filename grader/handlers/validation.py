"""Checks of request fields, each failing with a 400 that names the field."""

from __future__ import annotations

from datetime import UTC, datetime

from tornado import web

from ..orm import LATE_POLICIES
from ..scopes import SLUG


def required_text(body: dict, field: str, max_length: int = 255) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value.strip():
        raise web.HTTPError(400, f"{field} is required and must be a non-empty string")
    if len(value) > max_length:
        raise web.HTTPError(400, f"{field} is longer than {max_length} characters")
    return value.strip()


def optional_text(body: dict, field: str, default: str = "", max_length: int = 10_000) -> str:
    value = body.get(field, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise web.HTTPError(400, f"{field} must be a string")
    if len(value) > max_length:
        raise web.HTTPError(400, f"{field} is longer than {max_length} characters")
    return value


def required_slug(body: dict, field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not SLUG.match(value):
        raise web.HTTPError(
            400,
            f"{field} must be a slug: lower-case letters, digits, '-' and '_', "
            "starting with a letter or digit",
        )
    if value.isdigit():
        # courses and modules are found by id or slug: digits alone would be an id
        raise web.HTTPError(400, f"{field} must hold a letter: {value!r} reads as an id")
    return value


def tag_list(body: dict, field: str = "tags") -> list[str]:
    value = body.get(field, [])
    if not isinstance(value, list) or not all(isinstance(t, str) and t.strip() for t in value):
        raise web.HTTPError(400, f"{field} must be a list of non-empty strings")
    return sorted({t.strip() for t in value})


def utc_datetime(value) -> datetime | None:
    """An ISO 8601 date and time as the database stores it (naive UTC; a time without
    an offset is taken as UTC), or None if it is not one."""
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


def submission_rules(body: dict) -> dict:
    """The deadline and limit fields present in ``body`` (see orm.SubmissionRules), each
    checked; null clears one (a question then follows its module)."""
    rules = {}
    if "due" in body:
        value = body["due"]
        if value is not None:
            due = utc_datetime(value)
            if due is None:
                raise web.HTTPError(400, f"due must be an ISO 8601 date and time, not {value!r}")
            value = due
        rules["due"] = value
    if "late_policy" in body:
        value = body["late_policy"]
        if value is not None and value not in LATE_POLICIES:
            raise web.HTTPError(400, f"late_policy must be one of {', '.join(LATE_POLICIES)}")
        rules["late_policy"] = value
    if "penalty_per_day" in body:
        value = body["penalty_per_day"]
        if value is not None and (
            not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1
        ):
            raise web.HTTPError(400, "penalty_per_day must be a fraction between 0 and 1")
        rules["penalty_per_day"] = value
    for field in ("submission_limit", "cooloff"):
        if field in body:
            value = body[field]
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or value < 0
            ):
                raise web.HTTPError(400, f"{field} must be a non-negative integer")
            rules[field] = value
    return rules
