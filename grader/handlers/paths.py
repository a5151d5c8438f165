"""REST API v1: paths (being built; see grader.learners.paths)."""

from __future__ import annotations

default_handlers: list = []
