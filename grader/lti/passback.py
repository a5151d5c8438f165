"""Grade passback (LTI Advantage AGS): scores queued when a best score changes.

(The seam the graded step calls; passback is being built for issue 14.)
"""

from __future__ import annotations


def grade_changed(db, change) -> None:
    """Queue the LMS's copy of a changed grade, if the learner's course is linked."""
