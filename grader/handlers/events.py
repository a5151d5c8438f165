"""Server-sent events: a submission's status pushed to whoever follows it.

`GET submissions/{id}/events` (text/event-stream) sends the submission at once, then
again whenever its status or queue position changes, and ends after a final status
(graded or error). A comment line every `KEEPALIVE_SECONDS` keeps proxies from closing
a quiet stream. The stream waits on the service's :class:`~grader.grading.watch.StatusWatch`,
which looks at all followed submissions together; nothing here runs a query per
follower on a timer.
"""

from __future__ import annotations

import json

from tornado import web
from tornado.iostream import StreamClosedError

from .base import APIHandler, _json_default
from .submissions import FINAL, SubmissionReader

KEEPALIVE_SECONDS = 15.0


class SubmissionEventsAPIHandler(SubmissionReader, APIHandler):
    @web.authenticated
    async def get(self, submission_id):
        model = await self.in_db(self._read, submission_id)  # 404s before the stream starts
        self.set_header("Content-Type", "text/event-stream; charset=UTF-8")
        self.set_header("X-Accel-Buffering", "no")  # nginx and friends: do not buffer
        sent = None
        try:
            while True:
                if model != sent:
                    data = json.dumps(model, default=_json_default)
                    self.write(f"event: submission\ndata: {data}\n\n")
                    await self.flush()
                    sent = model
                if model["status"] in FINAL:
                    break
                if not await self.grader.watch.changed(model["id"], KEEPALIVE_SECONDS):
                    self.write(": keep-alive\n\n")
                    await self.flush()
                    continue
                model = await self.in_db(self._read, submission_id)
        except StreamClosedError:
            return  # the learner went away
        self.finish()

    def _read(self, submission_id):
        try:
            return self.read_submission(submission_id)
        finally:
            self.close_db()


default_handlers = [(r"submissions/(\d+)/events", SubmissionEventsAPIHandler)]
