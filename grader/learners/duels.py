"""Duels: being built."""

from __future__ import annotations


def duel_graded(db, submission) -> None:
    """In the graded step: a full score may win the learner's active duel on it."""
