"""The audit log: every instructor and admin action and every grade change, append-only.

(The seam other modules call; the log itself is being built for issue 14.)
"""

from __future__ import annotations


def record(
    db,
    *,
    actor: str,
    action: str,
    course_id: int | None = None,
    target: str = "",
    detail: dict | None = None,
) -> None:
    """Append one entry in the caller's transaction: `actor` (a Hub user or service
    name, "grader" for the service itself) did `action` ("question.release", ...) to
    `target` ("question 12"), with `detail` (plain JSON data, never a secret)."""


def grade_changed(db, change) -> None:
    """An entry for a changed best score (`grader.learners.grade_changes`)."""
