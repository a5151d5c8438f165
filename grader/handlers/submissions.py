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
group `restricted`, in the groups of the identity the Hub gives) gets a 403.
"""

from __future__ import annotations

from sqlalchemy import select
from tornado import web

from .. import orm
from ..grading.questiontypes import question_type
from ..grading.queue import QueueLimit
from ..scopes import RESTRICTED_GROUP
from .base import MAX_NOTEBOOK_BYTES, APIHandler, LimitError, blocking, isoformat

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
        "created": isoformat(submission.created),
        "finished": isoformat(submission.finished),
        # while queued: 1 = next to be graded, and roughly how many seconds until graded
        "queue_position": position,
        "estimated_wait": wait,
    }


class SubmissionReader:
    """One submission as its owner (or an instructor) may read it, with its place in
    the queue: shared by GET and the event stream."""

    def read_submission(self, submission_id) -> dict:
        user = self.learner()
        submission = self.db.get(orm.Submission, int(submission_id))
        # someone else's submission is "not found", not "forbidden": ids reveal nothing
        if submission is None or (submission.user_id != user.id and not self.is_author):
            raise web.HTTPError(404, f"no such submission: {submission_id}")
        position = wait = None
        if submission.status == "queued":
            position = self.queue.positions(self.db, [submission.id]).get(submission.id)
            if position is not None:
                wait = self.queue.estimated_wait(self.db, position)
        return submission_model(submission, position, wait)


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
        with self.grader.writer_factory() as db:
            try:
                # the body's size stands for the notebook's: it is nearly all of it
                submission = self.queue.enqueue(
                    db, user, question, notebook, size=len(self.request.body)
                )
            except QueueLimit as e:
                raise LimitError(e.status, str(e), retry_after=e.retry_after) from None
        self._deferred.append(self.grader.wake_workers)
        self.set_header("Location", f"{self.request.path}/{submission.id}")
        self.write_json({"id": submission.id, "status": submission.status}, status=202)

    @web.authenticated
    @blocking
    def get(self):
        user = self.learner()
        query = select(orm.Submission).order_by(orm.Submission.id.desc())
        # everyone's own history by default; instructors may name a learner, or "*"
        name = self.get_query_argument("user", None) or user.name
        if name != user.name and not self.is_author:
            raise web.HTTPError(403, "only instructors read other learners' submissions")
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


default_handlers = [
    (r"submissions", SubmissionListAPIHandler),
    (r"submissions/(\d+)", SubmissionAPIHandler),
]
