"""Spaced-repetition reviews (FSRS): being built."""

from __future__ import annotations


def review_graded(db, submission) -> None:
    """In the graded step: a solved question's card made or reviewed."""
