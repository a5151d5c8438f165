"""Submissions: a learner's notebook goes in, a queued grading job comes out.

POST answers 202 only once the notebook is committed to the database (the queue is
durable); the result is read back with GET while the learner's front end polls.
"""

from __future__ import annotations

from sqlalchemy import select
from tornado import web

from .. import orm
from ..notebooks import NotebookFormatError, read_notebook
from .base import APIHandler, isoformat

MAX_NOTEBOOK_BYTES = 16 * 1024 * 1024


def submission_model(submission: orm.Submission) -> dict:
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
    }


class SubmissionListAPIHandler(APIHandler):
    @web.authenticated
    def post(self):
        user = self.learner()
        if len(self.request.body) > MAX_NOTEBOOK_BYTES:
            raise web.HTTPError(413, f"submission is larger than {MAX_NOTEBOOK_BYTES // 2**20} MiB")
        body = self.get_json_body()
        if "question" not in body:
            raise web.HTTPError(400, "question is required: the id of the question answered")
        question = self.find_question(body["question"])
        if "notebook" not in body:
            raise web.HTTPError(400, "notebook is required: the learner's notebook")
        try:
            notebook = read_notebook(body["notebook"])
        except NotebookFormatError as e:
            raise web.HTTPError(400, f"notebook: {e}") from None
        submission = self.queue.enqueue(self.db, user, question, notebook)
        self.set_header("Location", f"{self.request.path}/{submission.id}")
        self.write_json({"id": submission.id, "status": submission.status}, status=202)

    @web.authenticated
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


class SubmissionAPIHandler(APIHandler):
    @web.authenticated
    def get(self, submission_id):
        user = self.learner()
        submission = orm.Submission.find(self.db, int(submission_id))
        # someone else's submission is "not found", not "forbidden": ids reveal nothing
        if submission is None or (submission.user_id != user.id and not self.is_author):
            raise web.HTTPError(404, f"no such submission: {submission_id}")
        self.write_json(submission_model(submission))


default_handlers = [
    (r"submissions", SubmissionListAPIHandler),
    (r"submissions/(\d+)", SubmissionAPIHandler),
]
