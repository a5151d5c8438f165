"""REST API v1: quizzes (being built; see grader.learners.quizzes)."""

from __future__ import annotations

default_handlers: list = []
