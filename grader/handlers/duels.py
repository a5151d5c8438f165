"""REST API v1: duels (being built; see grader.learners.duels)."""

from __future__ import annotations

default_handlers: list = []
