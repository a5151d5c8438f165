"""What a graded submission means for practice, in the one "graded" step: its review
schedule (`reviews`), a duel it may win (`duels`), the daily question's streak (`daily`).
Quizzes need nothing here: a quiz's score is read from its attempt's submissions."""

from __future__ import annotations

from . import daily, duels, reviews


def practice_graded(db, submission, queue=None) -> None:
    """Called by `GradingQueue.submission_graded` for a learner's own submission (never a
    regrade), in the transaction that records its result; ``queue``: the GradingQueue,
    parent of the configured rules (`c.ReviewRules`, `c.DuelRules`)."""
    reviews.review_graded(db, submission, reviews.rules_of(queue))
    duels.duel_graded(db, submission, duels.rules_of(queue))
    daily.daily_graded(db, submission)
