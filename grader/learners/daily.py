"""The daily question: being built."""

from __future__ import annotations


def daily_graded(db, submission) -> None:
    """In the graded step: solving the day's question continues its streak."""
