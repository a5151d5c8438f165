"""REST API of the coursehub extension, at ``<base_url>coursehub/api/``.

Most endpoints pass the learner's request through to the grading service; the two
that touch the learner's files (open a question, submit a notebook) go through the
server's contents manager, so they honour the server's root directory and its rules.
Errors are JSON ``{"status", "message"}``, like JupyterHub's and the grader's APIs.
"""

import asyncio
import json
from http.client import responses

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from nbformat.v4.rwbase import strip_transient
from tornado import web
from tornado.escape import url_escape

from .grader_client import GraderClient, GraderError
from .workspace import (
    LearnerPathError,
    check_learner_path,
    question_notebook_path,
    recorded_question_id,
    tag_notebook,
)

AUTH_RESOURCE = "coursehub"


def api_error(status: int, message: str) -> web.HTTPError:
    """An HTTPError whose message is shown to the client as is.

    The message goes in ``args`` so a ``%`` in it never breaks tornado's log formatting.
    """
    return web.HTTPError(status, "%s", message)


def question_ref(question_id: str):
    """The question id as the grader expects it in a JSON body (numbers stay numbers)."""
    return int(question_id) if question_id.isdigit() else question_id


class CoursehubAPIHandler(ExtensionHandlerMixin, APIHandler):
    """Base of the extension's handlers: auth resource, grader access, JSON errors."""

    auth_resource = AUTH_RESOURCE

    @property
    def grader(self) -> GraderClient:
        return self.extensionapp.grader_client

    def write_json(self, data, status: int = 200):
        self.set_status(status)
        self.finish(json.dumps(data))

    def write_error(self, status_code: int, **kwargs):
        """Errors as ``{"status", "message"}``; never a traceback."""
        message = responses.get(status_code, "Unknown error")
        exc_info = kwargs.get("exc_info")
        if exc_info:
            e = exc_info[1]
            if isinstance(e, web.HTTPError):
                if e.log_message:
                    message = e.log_message % e.args if e.args else e.log_message
            else:
                message = "Internal error in the coursehub extension; see the server's log."
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": status_code, "message": message}))

    async def call_grader(self, method: str, path: str, params=None, body=None):
        """Ask the grader; its refusals become this request's error, status included."""
        try:
            return await self.grader.request(method, path, params=params, body=body)
        except GraderError as e:
            # tornado logs the HTTPError with its message; no second log line here.
            raise api_error(e.status, e.message) from None

    def forwarded_params(self, names: tuple[str, ...]) -> list[tuple[str, str]]:
        """The query arguments in ``names``, repeated ones kept, as (name, value) pairs."""
        return [
            (name, value.decode("utf8", "replace"))
            for name in names
            for value in self.request.query_arguments.get(name, [])
        ]


class GraderProxyHandler(CoursehubAPIHandler):
    """GET a grader resource as is, forwarding the whitelisted query arguments."""

    grader_path = ""
    query_names: tuple[str, ...] = ()

    @authorized
    async def get(self, *ids):
        path = self.grader_path.format(*(url_escape(i, plus=False) for i in ids))
        data = await self.call_grader("GET", path, params=self.forwarded_params(self.query_names))
        self.write_json(data)


class ModuleListHandler(GraderProxyHandler):
    grader_path = "modules"


class QuestionListHandler(GraderProxyHandler):
    grader_path = "questions"
    query_names = ("module", "category", "difficulty", "tag")


class QuestionFiltersHandler(GraderProxyHandler):
    grader_path = "questions/filters"


class QuestionHandler(GraderProxyHandler):
    grader_path = "questions/{}"


class SubmissionListHandler(GraderProxyHandler):
    grader_path = "submissions"
    query_names = ("question",)


class SubmissionHandler(GraderProxyHandler):
    grader_path = "submissions/{}"


class SubmissionEventsHandler(CoursehubAPIHandler):
    """A submission's progress as server-sent events, relayed from the grader as they come.

    The grader sends the submission (``event: submission``, its JSON as ``data``) at once,
    then on every change (status, or place in the queue), and ends the stream after
    ``graded`` or ``error``. Each piece is written and flushed to the browser as it
    arrives. A refusal before the stream starts (403, 404, the grader down) is the usual
    JSON error with the grader's status. When the browser goes away, the request to the
    grader is stopped (see :meth:`GraderClient.stream`).
    """

    def initialize(self, *args, **kwargs):
        super().initialize(*args, **kwargs)
        self.browser_gone = asyncio.Event()
        self.streaming = False

    def on_connection_close(self):
        super().on_connection_close()
        self.browser_gone.set()

    @authorized
    async def get(self, submission_id):
        path = f"submissions/{url_escape(submission_id, plus=False)}/events"
        try:
            await self.grader.stream(path, self.relay, stop=self.browser_gone)
        except GraderError as e:
            if not self.streaming:
                raise api_error(e.status, e.message) from None
            # The browser reconnects or falls back to polling; nothing to answer.
            self.log.warning("coursehub: event stream of submission %s: %s", submission_id, e)
        if not self.browser_gone.is_set():
            self.start_stream()
            self.finish(set_content_type="text/event-stream")

    def start_stream(self):
        """Send the event stream's headers, once."""
        if self.streaming:
            return
        self.streaming = True
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-store")
        # nginx and some proxies buffer responses unless told not to.
        self.set_header("X-Accel-Buffering", "no")

    def relay(self, chunk: bytes):
        """Write a piece through to the browser at once."""
        self.start_stream()
        self.write(chunk)
        self.flush().add_done_callback(self._flushed)

    def _flushed(self, flushing):
        if flushing.exception() is not None:
            # Writing failed: the browser is gone, perhaps before tornado noticed.
            self.browser_gone.set()


class ProgressHandler(GraderProxyHandler):
    grader_path = "progress"


class LeaderboardHandler(GraderProxyHandler):
    grader_path = "leaderboard"
    query_names = ("module", "offset", "limit")


class ProfileHandler(GraderProxyHandler):
    """The learner's own profile: read it, or change the fields the grader allows."""

    grader_path = "profile"

    @authorized
    async def patch(self):
        body = self.get_json_body()
        if not isinstance(body, dict):
            raise api_error(400, "The profile update must be a JSON object.")
        self.write_json(await self.call_grader("PATCH", "profile", body=body))


class QuestionOpenHandler(CoursehubAPIHandler):
    """Write a question's student notebook into the learner's home, once.

    The notebook goes to ``<module-slug>/<question-slug>.ipynb``. If that file already
    exists it is the learner's work and is left alone (200, ``created: false``).
    """

    @authorized
    async def post(self, question_id):
        question = await self.call_grader("GET", f"questions/{url_escape(question_id, plus=False)}")
        if not isinstance(question, dict):
            raise api_error(502, "The grading service sent a question that is not an object.")
        try:
            path = question_notebook_path(question, question_id)
            nb = tag_notebook(
                question.get("notebook"), question.get("id", question_ref(question_id))
            )
        except ValueError as e:
            raise api_error(502, f"Cannot open question {question_id}: {e}.") from None

        cm = self.contents_manager
        # Two clicks on "open" must not both find the file missing and both write it.
        async with self.extensionapp.open_lock:
            if await ensure_async(cm.file_exists(path)):
                self.write_json({"path": path, "created": False})
                return
            if await ensure_async(cm.dir_exists(path)):
                raise api_error(409, f"Cannot open question {question_id}: {path} is a folder.")
            folder = path.rpartition("/")[0]
            if folder and not await ensure_async(cm.dir_exists(folder)):
                if await ensure_async(cm.file_exists(folder)):
                    raise api_error(
                        409,
                        f"Cannot open question {question_id}: {folder} is a file, not a folder.",
                    )
                await ensure_async(cm.save({"type": "directory"}, folder))
            await ensure_async(cm.save({"type": "notebook", "format": "json", "content": nb}, path))
        self.log.info("coursehub: opened question %s as %s", question_id, path)
        self.write_json({"path": path, "created": True}, status=201)


class QuestionSubmitHandler(CoursehubAPIHandler):
    """Submit the notebook saved at ``{"path"}`` as an answer to a question.

    The notebook is read from disk (what the learner last saved), never taken from
    the request, and POSTed to the grader, whose 202 ``{"id", "status"}`` is returned.
    """

    @authorized
    async def post(self, question_id):
        body = self.get_json_body()
        if not isinstance(body, dict):
            raise api_error(400, 'The request body must be a JSON object like {"path": "..."}.')
        try:
            path = check_learner_path(body.get("path"))
        except LearnerPathError as e:
            raise api_error(400, str(e)) from None
        nb = await self.read_notebook(path)

        recorded = recorded_question_id(nb)
        if recorded is not None and str(recorded) != question_id:
            raise api_error(
                400, f"{path} was opened for question {recorded}, not question {question_id}."
            )
        data = await self.call_grader(
            "POST", "submissions", body={"question": question_ref(question_id), "notebook": nb}
        )
        self.log.info("coursehub: submitted %s for question %s", path, question_id)
        self.write_json(data, status=202)

    async def read_notebook(self, path: str) -> dict:
        """The saved notebook at ``path``, or a 400/404 saying why it cannot be sent."""
        cm = self.contents_manager
        if not path.endswith(".ipynb"):
            raise api_error(400, f"{path} is not a notebook (only .ipynb files can be submitted).")
        if not await ensure_async(cm.file_exists(path)):
            if await ensure_async(cm.dir_exists(path)):
                raise api_error(400, f"{path} is a folder, not a notebook.")
            raise api_error(404, f"No notebook at {path}: it does not exist in your home.")
        if await ensure_async(cm.is_hidden(path)):
            raise api_error(400, f"{path} is hidden and cannot be submitted.")
        try:
            model = await ensure_async(cm.get(path, content=True, type="notebook"))
        except web.HTTPError as e:
            reason = e.log_message % e.args if e.args else e.log_message
            raise api_error(400, f"{path} cannot be read as a notebook: {reason}") from None
        # Drop what the server adds on reading (trust marks), as saving would.
        return strip_transient(model["content"])


default_handlers = [
    (r"coursehub/api/modules", ModuleListHandler),
    (r"coursehub/api/questions", QuestionListHandler),
    (r"coursehub/api/questions/filters", QuestionFiltersHandler),
    (r"coursehub/api/questions/([^/]+)/open", QuestionOpenHandler),
    (r"coursehub/api/questions/([^/]+)/submit", QuestionSubmitHandler),
    (r"coursehub/api/questions/([^/]+)", QuestionHandler),
    (r"coursehub/api/submissions", SubmissionListHandler),
    (r"coursehub/api/submissions/([^/]+)/events", SubmissionEventsHandler),
    (r"coursehub/api/submissions/([^/]+)", SubmissionHandler),
    (r"coursehub/api/progress", ProgressHandler),
    (r"coursehub/api/profile", ProfileHandler),
    (r"coursehub/api/leaderboard", LeaderboardHandler),
]
