"""REST API v1: reviews (being built; see grader.learners.reviews)."""

from __future__ import annotations

default_handlers: list = []
