"""Checks of request fields, each failing with a 400 that names the field."""

from __future__ import annotations

import re

from tornado import web

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")


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
    return value


def tag_list(body: dict, field: str = "tags") -> list[str]:
    value = body.get(field, [])
    if not isinstance(value, list) or not all(isinstance(t, str) and t.strip() for t in value):
        raise web.HTTPError(400, f"{field} must be a list of non-empty strings")
    return sorted({t.strip() for t in value})
