"""Hand grading: a submission's manually graded answers, and its score.

A manually graded answer (nbgrader's "Manually graded answer": ``grade`` and
``solution``, a markdown free-text answer or code) counts its points in the question's
maximum, as in nbgrader, but autograding never scores it. As nbgrader does, an answer
left as the learner received it scores 0 at once (nbgrader: its checksum did not
change, so no grade is needed); any other waits for an instructor, and the submission
is `manual_pending` until every one has a grade. An instructor may still grade an
unanswered one.

Grades are `ManualGrade` rows, one per answer (its grade_id); the 0 of an unanswered
answer is a row without a grader (:data:`AUTOMATIC`), which an instructor's grade
replaces, like nbgrader's `manual_score` overriding its `auto_score`.

A submission's score is its autograded points (its tests) plus its hand grades minus
its late penalty, never below 0 (:func:`rescore`). It is set in the one "graded" step
(:func:`settle`, before the best score is recorded) and again whenever an instructor
grades (:func:`grade_answer`), which then finds the learner's best score again
(`scores.recompute_best`): a correction may lower it.
"""

from __future__ import annotations

from sqlalchemy import select

from .. import audit, orm
from ..learners import rules, scores
from ..learners.grade_changes import HAND_GRADE
from .notebooks import ManualSpec, manual_specs
from .questiontypes import question_type

#: `ManualGrade.grader` of the 0 an unanswered answer gets without an instructor
AUTOMATIC = ""


def question_specs(question: orm.Question) -> list[ManualSpec]:
    """The question's manually graded answers, from its source (every question type
    stores one as an nbgrader notebook). Decodes the source: for one submission's read
    or grade, never for lists."""
    source = question_type(question.type).read_source(question.source_notebook)
    return manual_specs(source)


def has_manual(submission: orm.Submission) -> bool:
    """Whether a graded submission has answers graded by hand, without reading the
    question: pending ones, or points in its maximum that no test gives."""
    if submission.status != "graded":
        return False
    tests = sum(float(t.get("max_points") or 0.0) for t in submission.tests or [])
    return submission.manual_pending or (submission.max_score or 0.0) > tests + 1e-9


def autograded_points(submission: orm.Submission) -> float:
    return sum(float(t.get("points") or 0.0) for t in submission.tests or [])


def grades_of(db, submission_id: int) -> dict[str, orm.ManualGrade]:
    rows = db.scalars(select(orm.ManualGrade).where(orm.ManualGrade.submission_id == submission_id))
    return {row.cell: row for row in rows}


def rescore(submission: orm.Submission, grades: dict[str, orm.ManualGrade]) -> None:
    """Autograded points + hand grades - late penalty, never below 0."""
    total = autograded_points(submission) + sum(g.points for g in grades.values())
    submission.score = max(0.0, total - (submission.penalty or 0.0))


def settle(db, submission: orm.Submission, manual: list[dict] | None) -> None:
    """In the graded step, before the best score: lateness, the hand-graded answers
    autograding reported (``manual``: ``{"cell", "max_points", "points"}``, points 0.0
    for an unanswered one, None for one to grade), and the score.

    Grades an instructor gave before (the submission is graded again) stay. ``manual``
    None (a question type that has none to report) leaves the pending flag as it is.
    """
    rules.apply_lateness(submission)
    grades = grades_of(db, submission.id)
    if manual is not None:
        for cell in manual:
            name, grade = cell["cell"], grades.get(cell["cell"])
            if cell["points"] is not None and grade is None:
                grade = orm.ManualGrade(
                    submission_id=submission.id, cell=name, points=0.0, grader=AUTOMATIC
                )
                db.add(grade)
                grades[name] = grade
            elif cell["points"] is None and grade is not None and grade.grader == AUTOMATIC:
                # answered after all (graded again against a changed question)
                db.delete(grade)
                del grades[name]
        submission.manual_pending = any(cell["cell"] not in grades for cell in manual)
    rescore(submission, grades)


class GradeRefused(Exception):
    """A hand grade that cannot be given now; str(e) says why (a 409)."""


def grade_answer(
    db,
    submission_id: int,
    specs: list[ManualSpec],
    cell: str,
    points: float,
    comment: str,
    grader: str,
) -> orm.Submission:
    """Store an instructor's grade of one answer, then the submission's score, pending
    flag, and the learner's best score and totals, in one transaction (``db`` a writer
    session; committed here).

    ``specs`` are the question's manually graded answers (read before, outside this
    transaction); the caller has checked that ``cell`` is one and ``points`` in range.
    """
    user_id = db.scalar(select(orm.Submission.user_id).where(orm.Submission.id == submission_id))
    # the learner's row first, as in record_graded: a grading finishing now waits
    db.execute(select(orm.User.id).where(orm.User.id == user_id).with_for_update())
    submission = db.get(orm.Submission, submission_id, populate_existing=True)
    if submission is None or submission.status != "graded":
        db.rollback()
        raise GradeRefused(
            f"submission {submission_id} is not graded yet: grade it once autograding ends"
        )
    grades = grades_of(db, submission.id)
    grade = grades.get(cell)
    if grade is None:
        grade = grades[cell] = orm.ManualGrade(submission_id=submission.id, cell=cell)
        db.add(grade)
    grade.points, grade.comment, grade.grader = float(points), comment, grader
    grade.updated = orm.utcnow()
    submission.manual_pending = any(spec.name not in grades for spec in specs)
    rescore(submission, grades)
    db.flush()
    # after the learner's row: the audit log's lock comes after it (grader.audit)
    audit.record(
        db,
        actor=grader,
        action="grade.hand",
        course_id=submission.question.module.course_id,
        target=f"submission {submission.id}",
        detail={
            "cell": cell,
            "points": float(points),
            "comment": comment,
            "question": submission.question_id,
            "user": submission.user.name,
            "score": submission.score,
        },
    )
    scores.recompute_best(
        db, submission.user_id, submission.question_id, cause=HAND_GRADE, actor=grader
    )
    db.commit()
    return submission


def manual_model(specs: list[ManualSpec], grades: dict[str, orm.ManualGrade]) -> list[dict]:
    """A submission's hand-graded answers as its owner and instructors read them: every
    answer of the question (points None: not graded yet), then grades of answers the
    question no longer has (edited since)."""
    model = []
    for spec in specs:
        grade = grades.get(spec.name)
        model.append(_entry(spec.name, spec.max_points, grade))
    known = {spec.name for spec in specs}
    model.extend(_entry(name, None, g) for name, g in grades.items() if name not in known)
    return model


def _entry(cell: str, max_points: float | None, grade: orm.ManualGrade | None) -> dict:
    return {
        "cell": cell,
        "max_points": max_points,
        "points": None if grade is None else grade.points,
        "comment": "" if grade is None else grade.comment,
        "grader": None if grade is None or grade.grader == AUTOMATIC else grade.grader,
    }
