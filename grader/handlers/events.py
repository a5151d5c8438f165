"""Server-sent events: a submission's status pushed to whoever follows it.

`GET submissions/{id}/events` (text/event-stream) sends the submission at once, then
again whenever its status or queue position changes, and ends after a final status
(graded or error). A comment line every `KEEPALIVE_SECONDS` keeps proxies from closing
a quiet stream. The stream waits on the service's
:class:`~grader.grading.watch.StatusWatch`, which looks at all followed submissions
together; a stream reads its submission again only when its status changed.
"""

from __future__ import annotations

import json

from tornado import web
from tornado.iostream import StreamClosedError

from .. import orm
from ..grading.watch import Followed
from .base import APIHandler, _json_default
from .submissions import FINAL, SubmissionReader, submission_detail

KEEPALIVE_SECONDS = 15.0


class SubmissionEventsAPIHandler(SubmissionReader, APIHandler):
    @web.authenticated
    async def get(self, submission_id):
        # who may follow it is decided here, once; a 404 before the stream starts
        model = await self.in_db(self.read_submission, submission_id)
        self.set_header("Content-Type", "text/event-stream; charset=UTF-8")
        self.set_header("X-Accel-Buffering", "no")  # nginx and friends: do not buffer
        try:
            while True:
                self.write(
                    f"event: submission\ndata: {json.dumps(model, default=_json_default)}\n\n"
                )
                await self.flush()
                if model["status"] in FINAL:
                    break
                known = Followed(model["status"], model["queue_position"], model["estimated_wait"])
                while (
                    state := await self.grader.watch.changed(model["id"], known, KEEPALIVE_SECONDS)
                ) is None:
                    self.write(": keep-alive\n\n")
                    await self.flush()
                if state.status == known.status:
                    model = {**model, **state._asdict()}  # a new place: nothing to read
                else:
                    model = await self.in_db(self._read_again, model["id"], state)
        except StreamClosedError:
            return  # the learner went away
        self.finish()

    def _read_again(self, submission_id: int, state: Followed) -> dict:
        """The submission with its new status (a result, maybe): one query, no checks
        (the stream is the caller's), and the place the watch found."""
        submission = self.db.get(orm.Submission, submission_id)
        if submission is None:  # deleted with its question meanwhile
            return {"id": submission_id, "status": "error", "error": "deleted"}
        model = submission_detail(self.db, submission)
        if submission.status == state.status:
            model.update(queue_position=state.queue_position, estimated_wait=state.estimated_wait)
        return model


default_handlers = [(r"submissions/(\d+)/events", SubmissionEventsAPIHandler)]
