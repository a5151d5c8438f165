"""A learner's best score on a question changed: what follows from it.

`scores.record_graded` (a learner's own graded submission) and `scores.recompute_best`
(a hand grade, a regrade) are the only writers of best scores; each reports every change
here, inside its transaction. What follows is written in that same transaction, so a
grade change and its consequences commit (or roll back) together:

- an audit entry (`grader.audit`): every grade change is on the record;
- the LMS's copy (`grader.lti.passback`): a score to post for a linked course, queued.
"""

from __future__ import annotations

from dataclasses import dataclass

#: why a best score changed
SUBMISSION = "submission"  # the learner's own submission, graded
HAND_GRADE = "hand_grade"  # an instructor graded an answer by hand
REGRADE = "regrade"  # graded again after the question changed


@dataclass(frozen=True)
class GradeChange:
    user_id: int
    question_id: int
    old: float | None  # None: no best score before
    new: float | None  # None: no graded submission left
    max_score: float | None
    submission_id: int | None  # the submission holding the new best
    cause: str  # SUBMISSION, HAND_GRADE or REGRADE
    actor: str | None = None  # who made it (an instructor's name), None for the grader


def grade_changed(db, change: GradeChange) -> None:
    """Everything a changed best score sets off, in the caller's transaction."""
    from .. import audit
    from ..lti import passback

    audit.grade_changed(db, change)
    passback.grade_changed(db, change)
