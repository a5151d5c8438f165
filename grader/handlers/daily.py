"""REST API v1: daily (being built; see grader.learners.daily)."""

from __future__ import annotations

default_handlers: list = []
