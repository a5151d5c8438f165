"""AI hints and the tutor, relayed to the grader (:mod:`grader.handlers.ai`).

Whether the course has them on (``GET questions/{id}/ai``), a hint on one of the
learner's submissions (``POST submissions/{id}/hint``, streamed; ``GET`` the earlier
ones), the tutor's conversation about a question (``GET tutor/{id}``) and a message to
it (``POST tutor/{id}/messages`` ``{"text", "code"?}``, streamed). The streams are the
grader's server-sent events, written through to the browser piece by piece as they
come (as a submission's events are); a refusal before the stream starts is the usual
JSON error with the grader's status and message. Only ``text`` and ``code`` (the
learner's answer cells, which the front end reads from the open notebook) are passed
on, checked for shape; the grader bounds them.
"""

from jupyter_server.auth.decorator import authorized
from tornado import web

from .grader_client import GraderError
from .handlers import CoursehubAPIHandler, SubmissionEventsHandler, api_error, path_segment

MAX_TEXT = 2000  # the grader's limit, refused here before it travels
MAX_CODE = 200_000


class AIStatusHandler(CoursehubAPIHandler):
    """What the learner may ask the course's AI about a question."""

    @authorized
    async def get(self, question_id):
        await self.relay("GET", f"questions/{path_segment(question_id)}/ai")


class TutorConversationHandler(CoursehubAPIHandler):
    """The learner's conversation with the tutor about a question."""

    @authorized
    async def get(self, question_id):
        await self.relay("GET", f"tutor/{path_segment(question_id)}")


class AIStreamRelayHandler(SubmissionEventsHandler):
    """POST that starts a stream: relayed, written through as it comes."""

    async def relay_stream(self, path: str, body: dict) -> None:
        try:
            await self.grader.stream(
                path, self.relay, stop=self.browser_gone, method="POST", body=body
            )
        except GraderError as e:
            if not self.streaming:
                raise api_error(e.status, e.message, e.retry_after) from None
            self.log.warning("coursehub: AI stream %s: %s", path, e)
        if not self.browser_gone.is_set():
            self.start_stream()
            self.finish(set_content_type="text/event-stream")


class SubmissionHintHandler(AIStreamRelayHandler):
    """The AI hints asked for on a submission (GET); ask for one more (POST, streamed)."""

    @authorized
    async def get(self, submission_id):
        reply = await self.ask_grader("GET", f"submissions/{path_segment(submission_id)}/hint")
        self.write_json(reply.data, status=reply.status)

    @authorized
    async def post(self, submission_id):
        await self.relay_stream(f"submissions/{path_segment(submission_id)}/hint", {})


class TutorMessageHandler(AIStreamRelayHandler):
    """A message to the tutor ``{"text", "code"?}``, its answer streamed."""

    # POST only: the GET inherited from SubmissionEventsHandler would relay the event
    # stream of the submission whose id is the question's (a 405 instead)
    get = web.RequestHandler.get

    @authorized
    async def post(self, question_id):
        body = self.json_object()
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise api_error(400, "Write a message to the tutor first.")
        if len(text) > MAX_TEXT:
            raise api_error(400, f"A message to the tutor is at most {MAX_TEXT} characters.")
        sent = {"text": text}
        code = body.get("code")
        if code is not None:
            cells = [code] if isinstance(code, str) else code
            if not isinstance(cells, list) or not all(isinstance(c, str) for c in cells):
                raise api_error(400, "code must be the answer cells' code: a list of strings.")
            if sum(len(c) for c in cells) > MAX_CODE:
                raise api_error(400, f"The code sent is longer than {MAX_CODE} characters.")
            sent["code"] = cells
        await self.relay_stream(f"tutor/{path_segment(question_id)}/messages", sent)


default_handlers = [
    (r"coursehub/api/questions/([^/]+)/ai", AIStatusHandler),
    (r"coursehub/api/submissions/([^/]+)/hint", SubmissionHintHandler),
    (r"coursehub/api/tutor/([^/]+)", TutorConversationHandler),
    (r"coursehub/api/tutor/([^/]+)/messages", TutorMessageHandler),
]
