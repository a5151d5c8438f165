"""Server-sent events: a submission's status pushed to whoever follows it, and the
learner's own push channel.

`GET submissions/{id}/events` (text/event-stream) sends the submission at once, then
again whenever its status or queue position changes, and ends after a final status
(graded or error). A comment line every `KEEPALIVE_SECONDS` keeps proxies from closing
a quiet stream. The stream waits on the service's
:class:`~grader.grading.watch.StatusWatch`, which looks at all followed submissions
together; a stream reads its submission again only when its status changed.

`GET events` (text/event-stream) is the caller's `LearnerEvent` rows
(:mod:`grader.learners.events`: duels, and whatever else is added), each as `id: <row
id>`, `event: <kind>`, `data: <json>`. It starts after the row named by the
`Last-Event-ID` header (what EventSource sends when it reconnects) or the
`last_event_id` query argument, so a client that lost its connection gets everything it
missed; without either, after the caller's newest row (what happens from now on). It
waits on the service's :class:`~grader.learners.events.EventWatch` (one query a tick for
every open stream) and ends as soon as the client goes.
"""

from __future__ import annotations

import functools
import json

from tornado import web
from tornado.iostream import StreamClosedError

from .. import orm
from ..grading.watch import Followed
from ..learners import events
from ..stream_watch import TooManyStreams
from .base import APIHandler, _json_default
from .streams import KEEPALIVE_SECONDS, ReplayingStream
from .submissions import FINAL, SubmissionReader, submission_detail


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


class LearnerEventsAPIHandler(ReplayingStream, APIHandler):
    """`GET events`: the caller's events, replayed from Last-Event-ID, then as they come."""

    @web.authenticated
    async def get(self):
        last_id = self.last_event_id()
        user_id, last_id = await self.in_db(self._start, last_id)
        watch = self.grader.event_watch
        try:
            watch.open_stream(user_id)
        except TooManyStreams:
            raise web.HTTPError(
                429,
                f"you have {watch.max_streams_per_learner} event streams open already: "
                "close one (a tab) first",
            ) from None

        async def read(last_id):
            sent = await self.in_db(self._read, user_id, last_id)
            last_id = sent[-1][1] if sent else last_id
            return [text for text, _ in sent], last_id, len(sent) == events.BATCH

        try:
            await self.follow(
                f": events after {last_id}",
                last_id,
                read,
                lambda last_id: watch.wait(user_id, last_id, KEEPALIVE_SECONDS),
            )
        finally:
            watch.close_stream(user_id)

    def _start(self, last_id: int | None) -> tuple[int, int]:
        user = self.learner()
        if last_id is None:
            last_id = events.latest_id(self.db, user.id)
        return user.id, last_id

    def _read(self, user_id: int, last_id: int) -> list[tuple[str, int]]:
        rows = events.after(self.db, user_id, last_id)
        dumps = functools.partial(json.dumps, default=_json_default)
        return [(events.event_text(row, dumps), row.id) for row in rows]


default_handlers = [
    (r"submissions/(\d+)/events", SubmissionEventsAPIHandler),
    (r"events", LearnerEventsAPIHandler),
]
