"""Submissions: a learner's notebook goes in, a queued grading job comes out.

POST answers 202 only once the notebook is committed to the database (the queue is
durable); the result is pushed on `submissions/{id}/events` (see events.py), or read
back with GET. A status read loads no notebook and writes nothing.

A submission may be many MiB: the handlers run in the database threads, where it is
decoded, checked and stored, so the event loop goes on answering everyone else
meanwhile. Over :data:`MAX_NOTEBOOK_BYTES` it is refused (413) before anything is
decoded; a notebook that fits but breaks a limit on its shape (cells, nesting, code
cell length, see :mod:`grader.grading.notebooks`) is a 400 naming the limit. A learner with
too many submissions waiting gets a 429 (with Retry-After), one over their storage
quota a 413 (see :mod:`grader.grading.queue`). A learner an admin restricted (the Hub
group `restricted`, in the groups of the identity the Hub gives) gets a 403. The
question's deadline and limits (:mod:`grader.learners.rules`) are checked in the
transaction that stores the submission: past the due date of a question that refuses
late work, or with every attempt used, a 403; during a cool-off, a 429 with Retry-After.

Hand grading (:mod:`grader.grading.manual`): `PUT submissions/{id}/grades/{cell}` by an
instructor of the question's course; a submission's owner and its course's instructors
read the grades in `GET submissions/{id}` and the notebook as submitted in
`GET submissions/{id}/notebook`.
"""

from __future__ import annotations

from sqlalchemy import select
from tornado import web

from .. import orm
from ..grading import manual
from ..grading.questiontypes import question_type
from ..grading.queue import QueueLimit
from ..learners import integrity, rules
from ..scopes import RESTRICTED_GROUP
from .base import MAX_NOTEBOOK_BYTES, APIHandler, LimitError, as_id, blocking, isoformat
from .validation import optional_text

FINAL = ("graded", "error")


def submission_model(submission: orm.Submission, position=None, wait=None) -> dict:
    return {
        "id": submission.id,
        "question": submission.question_id,
        "user": submission.user.name,
        "status": submission.status,
        "score": submission.score,
        "max_score": submission.max_score,
        "tests": submission.tests or [],
        "error": submission.error,
        # after the due date, the points that cost, and answers still to grade by hand
        "late": submission.late,
        "penalty": submission.penalty,
        "manual_pending": submission.manual_pending,
        # what this grading earned (learners.awards): {"xp", "streak", "achievements"},
        # or None (nothing, or not graded yet)
        "awards": submission.awards if submission.status == "graded" else None,
        "created": isoformat(submission.created),
        "finished": isoformat(submission.finished),
        # while queued: 1 = next to be graded, and roughly how many seconds until graded
        "queue_position": position,
        "estimated_wait": wait,
    }


def submission_detail(db, submission: orm.Submission, position=None, wait=None) -> dict:
    """One submission as GET and the event stream send it: with its hand grades."""
    model = submission_model(submission, position, wait)
    # the owner's own (transparency) and the course's instructors' (no one else reads
    # a submission this way): never another learner's
    model["integrity"] = integrity.signals_of(db, submission.id)
    model["manual"] = []
    if manual.has_manual(submission):
        model["manual"] = manual.manual_model(
            manual.question_specs(submission.question), manual.grades_of(db, submission.id)
        )
    return model


class SubmissionReader:
    """One submission as its owner (or an instructor of its course) may read it, with
    its place in the queue: shared by GET and the event stream."""

    def find_submission(self, submission_id, user: orm.User) -> orm.Submission:
        submission = self.db.get(orm.Submission, as_id(submission_id, "submission"))
        # someone else's submission is "not found", not "forbidden": ids reveal nothing
        if submission is None or (
            submission.user_id != user.id
            and not self.access.may_author(submission.question.module.course)
        ):
            raise web.HTTPError(404, f"no such submission: {submission_id}")
        return submission

    def read_submission(self, submission_id) -> dict:
        user = self.learner()
        submission = self.find_submission(submission_id, user)
        position = wait = None
        if submission.status == "queued":
            position = self.queue.positions(self.db, [submission.id]).get(submission.id)
            if position is not None:
                wait = self.queue.estimated_wait(self.db, position)
        return submission_detail(self.db, submission, position, wait)


class SubmissionListAPIHandler(APIHandler):
    @web.authenticated
    @blocking
    def post(self):
        user = self.learner()
        if RESTRICTED_GROUP in (self.current_user.get("groups") or ()):
            raise web.HTTPError(
                403,
                "your account is restricted: you can sign in and read, but not submit; "
                "ask the course's administrators",
            )
        body = self.get_json_body(MAX_NOTEBOOK_BYTES, "submission")
        if "question" not in body:
            raise web.HTTPError(400, "question is required: the id of the question answered")
        question = self.find_question(body["question"])
        if "notebook" not in body:
            raise web.HTTPError(400, "notebook is required: the learner's notebook")
        try:
            notebook = question_type(question.type).read_answer(body["notebook"])
        except ValueError as e:
            raise web.HTTPError(400, f"notebook: {e}") from None
        # what the learner's JupyterLab recorded (learners.integrity): checked whole
        # before anything is stored, kept only if the course collects it
        try:
            signals = integrity.checked_signals(body.get("integrity"))
        except integrity.SignalsError as e:
            raise web.HTTPError(400, "%s", str(e)) from None
        course_id = question.module.course_id
        with self.grader.writer_factory() as db:
            try:
                # the rules and the queue's limits, then the insert: one transaction,
                # the learner's row locked
                late = rules.admit(db, user.id, question)
                # the body's size stands for the notebook's: it is nearly all of it
                submission = self.queue.enqueue(
                    db,
                    user,
                    question,
                    notebook,
                    size=len(self.request.body),
                    late=late,
                    attach=lambda db, s: integrity.attach(db, s, signals, course_id),
                )
            except (QueueLimit, rules.SubmissionRefused) as e:
                raise LimitError(e.status, str(e), retry_after=e.retry_after) from None
        self._deferred.append(self.grader.wake_workers)
        self.set_header("Location", f"{self.request.path}/{submission.id}")
        self.write_json({"id": submission.id, "status": submission.status}, status=202)

    @web.authenticated
    @blocking
    def get(self):
        user = self.learner()
        query = select(orm.Submission).order_by(orm.Submission.id.desc())
        # everyone's own history by default; instructors may name a learner, or "*",
        # and then read the submissions to their courses' questions only
        name = self.get_query_argument("user", None) or user.name
        if name != user.name:
            teaching = self.access.teaching(self.db)
            if not teaching:
                raise web.HTTPError(403, "only instructors read other learners' submissions")
            if not self.access.author_all:
                query = query.join(orm.Question).join(orm.Module)
                query = query.where(orm.Module.course_id.in_([c.id for c in teaching]))
        if name != "*":
            owner = orm.User.find(self.db, name)
            if owner is None:
                raise web.HTTPError(404, f"no such user: {name}")
            query = query.where(orm.Submission.user_id == owner.id)
        question = self.get_query_argument("question", None)
        if question:
            query = query.where(orm.Submission.question_id == self.find_question(question).id)
        limit = self.int_argument("limit", default=100, minimum=1, maximum=1000)
        offset = self.int_argument("offset", default=0)
        rows = self.db.scalars(query.offset(offset).limit(limit))
        self.write_json({"submissions": [submission_model(s) for s in rows]})


class SubmissionAPIHandler(SubmissionReader, APIHandler):
    @web.authenticated
    @blocking
    def get(self, submission_id):
        self.write_json(self.read_submission(submission_id))


class SubmissionGradeAPIHandler(SubmissionReader, APIHandler):
    """An instructor's grade of one manually graded answer: points and a comment."""

    @web.authenticated
    @blocking
    def put(self, submission_id, cell):
        user = self.learner()
        submission = self.find_submission(submission_id, user)
        self.require_author_of(submission.question.module.course)
        specs = manual.question_specs(submission.question)
        spec = next((s for s in specs if s.name == cell), None)
        if spec is None:
            raise web.HTTPError(
                404, f"question {submission.question_id} has no answer graded by hand: {cell}"
            )
        body = self.get_json_body()
        points = body.get("points")
        if (
            not isinstance(points, int | float)
            or isinstance(points, bool)
            or not 0 <= points <= spec.max_points
        ):
            raise web.HTTPError(
                400, f"points must be a number from 0 to {spec.max_points:g} (the answer's points)"
            )
        comment = optional_text(body, "comment")
        submission_id, grader = submission.id, user.name
        with self.grader.writer_factory() as db:
            try:
                manual.grade_answer(db, submission_id, specs, cell, points, comment, grader=grader)
            except manual.GradeRefused as e:
                raise web.HTTPError(409, str(e)) from None
        # this session's snapshot predates the grade: read it in a new transaction
        self.db.rollback()
        graded = self.db.get(orm.Submission, submission_id, populate_existing=True)
        self.write_json(submission_detail(self.db, graded))


class SubmissionNotebookAPIHandler(SubmissionReader, APIHandler):
    """The notebook as the learner submitted it (never the question's source)."""

    @web.authenticated
    @blocking
    def get(self, submission_id):
        submission = self.find_submission(submission_id, self.learner())
        self.set_header(
            "Content-Disposition", f'inline; filename="submission-{submission.id}.ipynb"'
        )
        self.write_json(submission.notebook)


default_handlers = [
    (r"submissions", SubmissionListAPIHandler),
    (r"submissions/(\d+)", SubmissionAPIHandler),
    (r"submissions/(\d+)/grades/([^/]+)", SubmissionGradeAPIHandler),
    (r"submissions/(\d+)/notebook", SubmissionNotebookAPIHandler),
]
