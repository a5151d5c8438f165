"""Submissions: a learner's notebook goes in, a queued grading job comes out.

POST answers 202 only once the notebook is committed to the database (the queue is
durable); the result is read back with GET while the learner's front end polls.

A submission may be many MiB: decoding, checking and storing it run in worker threads,
so the event loop goes on answering everyone else meanwhile. Over
:data:`MAX_NOTEBOOK_BYTES` it is refused (413) before anything is decoded; a notebook
that fits but breaks a limit on its shape (cells, nesting, code cell length, see
:mod:`grader.notebooks`) is a 400 naming the limit.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.orm import defer
from tornado import web

from .. import orm
from ..notebooks import NotebookFormatError, read_notebook
from .base import MAX_NOTEBOOK_BYTES, APIHandler, isoformat

# what a response needs of a submission: never its notebook (up to 16 MiB of JSON to
# decode, on the event loop, for every poll of a learner's front end)
WITHOUT_NOTEBOOK = defer(orm.Submission.notebook)


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
    async def post(self):
        user = self.learner()
        body = await self.read_json_body(MAX_NOTEBOOK_BYTES, "submission")
        if "question" not in body:
            raise web.HTTPError(400, "question is required: the id of the question answered")
        question = self.find_question(body["question"])
        if "notebook" not in body:
            raise web.HTTPError(400, "notebook is required: the learner's notebook")
        try:
            notebook = await asyncio.to_thread(read_notebook, body["notebook"])
        except NotebookFormatError as e:
            raise web.HTTPError(400, f"notebook: {e}") from None
        submission = await self.queue.submit(self.db, user, question, notebook)
        self.set_header("Location", f"{self.request.path}/{submission.id}")
        self.write_json({"id": submission.id, "status": submission.status}, status=202)

    @web.authenticated
    def get(self):
        user = self.learner()
        query = select(orm.Submission).options(WITHOUT_NOTEBOOK).order_by(orm.Submission.id.desc())
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
        submission = self.db.get(orm.Submission, int(submission_id), options=[WITHOUT_NOTEBOOK])
        # someone else's submission is "not found", not "forbidden": ids reveal nothing
        if submission is None or (submission.user_id != user.id and not self.is_author):
            raise web.HTTPError(404, f"no such submission: {submission_id}")
        self.write_json(submission_model(submission))


default_handlers = [
    (r"submissions", SubmissionListAPIHandler),
    (r"submissions/(\d+)", SubmissionAPIHandler),
]
