"""REST API of the coursehub extension, at ``<base_url>coursehub/api/``.

Most endpoints pass the learner's request through to the grading service, each path
and method listed here (nothing else of the grader is reachable through it: not a
question's source notebook, which the grader gives only to its course's instructors
anyway). Authoring calls are relayed like the rest; the grader decides by the token's
scopes who may make them. The endpoints that touch the user's files (open a question,
preview it, submit a notebook) go through the server's contents manager, so they honour
the server's root directory and its rules. Errors are JSON ``{"status", "message"}``,
like JupyterHub's and the grader's APIs.
"""

import asyncio
import datetime
import json
from http.client import responses
from urllib.parse import quote

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from nbformat.v4.rwbase import strip_transient
from tornado import web

from .grader_client import GraderClient, GraderError, GraderReply
from .workspace import (
    PREVIEW_FOLDER,
    LearnerPathError,
    check_learner_path,
    preview_notebook,
    question_notebook_path,
    recorded_question_id,
    review_notebook_path,
    submitted_notebook,
    submitted_notebook_path,
    tag_notebook,
)

AUTH_RESOURCE = "coursehub"


class APIError(web.HTTPError):
    """An HTTPError whose message is shown to the client as is, with the grader's
    Retry-After when it sent one.

    The message goes in ``args`` so a ``%`` in it never breaks tornado's log formatting.
    """

    def __init__(self, status: int, message: str, retry_after: str | None = None):
        super().__init__(status, "%s", message)
        self.retry_after = retry_after


def api_error(status: int, message: str, retry_after: str | None = None) -> web.HTTPError:
    return APIError(status, message, retry_after)


def path_segment(value: str) -> str:
    """``value`` escaped as ONE segment of a grader path: a ``/`` in it (sent as ``%2F``
    and decoded by tornado) becomes ``%2F`` again, so an id never reaches another of the
    grader's paths (``questions/1%2Fsource``, ``../``) than the one relayed."""
    return quote(value, safe="")


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
                if isinstance(e, APIError) and e.retry_after:
                    # set here: tornado clears the headers before calling write_error
                    self.set_header("Retry-After", e.retry_after)
            else:
                message = "Internal error in the coursehub extension; see the server's log."
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": status_code, "message": message}))

    async def call_grader(self, method: str, path: str, params=None, body=None):
        """Ask the grader; its refusals become this request's error, status included."""
        return (await self.ask_grader(method, path, params=params, body=body)).data

    async def ask_grader(
        self, method: str, path: str, params=None, body=None, timeout=None, **raw
    ) -> GraderReply:
        """:meth:`call_grader`, keeping the grader's status (``raw``: ``raw_body`` and
        ``content_type``, see :meth:`GraderClient.send`)."""
        try:
            return await self.grader.send(
                method, path, params=params, body=body, timeout=timeout, **raw
            )
        except GraderError as e:
            # tornado logs the HTTPError with its message; no second log line here.
            raise api_error(e.status, e.message, e.retry_after) from None

    async def relay(self, method: str, path: str, params=None, body=None, timeout=None):
        """Ask the grader and answer with its status and JSON as they are."""
        reply = await self.ask_grader(method, path, params=params, body=body, timeout=timeout)
        if reply.status == 204:
            self.set_status(204)
            self.finish()
        else:
            self.write_json(reply.data, status=reply.status)

    def json_object(self, required: bool = True) -> dict:
        """The request's JSON body, which must be an object (``{}`` when empty and not
        ``required``)."""
        body = self.get_json_body()
        if body is None and not required:
            return {}
        if not isinstance(body, dict):
            raise api_error(400, "The request body must be a JSON object.")
        return body

    async def get_question(self, question_id: str) -> dict:
        """The grader's ``GET questions/{id}``: the question with its student version."""
        question = await self.call_grader("GET", f"questions/{path_segment(question_id)}")
        if not isinstance(question, dict):
            raise api_error(502, "The grading service sent a question that is not an object.")
        return question

    async def save_notebook(self, nb, path: str, what: str) -> None:
        """Write ``nb`` at API path ``path``, creating its folder; 409 if a folder is there."""
        cm = self.contents_manager
        if await ensure_async(cm.dir_exists(path)):
            raise api_error(409, f"Cannot {what}: {path} is a folder.")
        await self.ensure_folder(path, what)
        await ensure_async(cm.save({"type": "notebook", "format": "json", "content": nb}, path))

    async def write_once(self, path: str, make_notebook, what: str) -> None:
        """Write the notebook ``await make_notebook()`` at ``path`` unless a file is there
        (the learner's work, or a copy written before), and answer ``{path, created}``:
        201 when written, 200 when left alone."""
        cm = self.contents_manager
        # Two clicks on "open" must not both find the file missing and both write it.
        async with self.extensionapp.open_lock:
            if await ensure_async(cm.file_exists(path)):
                self.write_json({"path": path, "created": False})
                return
            await self.save_notebook(await make_notebook(), path, what)
        self.log.info("coursehub: %s as %s", what, path)
        self.write_json({"path": path, "created": True}, status=201)

    async def ensure_folder(self, path: str, what: str) -> None:
        """Create the folder of API path ``path`` if missing; 409 naming a file in the way."""
        cm = self.contents_manager
        folder = path.rpartition("/")[0]
        if not folder or await ensure_async(cm.dir_exists(folder)):
            return
        if await ensure_async(cm.file_exists(folder)):
            raise api_error(409, f"Cannot {what}: {folder} is a file, not a folder.")
        # one level at a time: the contents manager makes no parents
        await self.ensure_folder(folder, what)
        await ensure_async(cm.save({"type": "directory"}, folder))

    def forwarded_params(self, names: tuple[str, ...]) -> list[tuple[str, str]]:
        """The query arguments in ``names``, repeated ones kept, as (name, value) pairs."""
        return [
            (name, value.decode("utf8", "replace"))
            for name in names
            for value in self.request.query_arguments.get(name, [])
        ]


class GraderProxyHandler(CoursehubAPIHandler):
    """GET a grader resource as is, forwarding the whitelisted query arguments.

    Subclasses that allow writing add the methods, relayed with the request's JSON object
    as the body; the grader's status and answer come back unchanged.
    """

    grader_path = ""
    query_names: tuple[str, ...] = ()

    def grader_resource(self, ids) -> str:
        return self.grader_path.format(*(path_segment(i) for i in ids))

    @authorized
    async def get(self, *ids):
        params = self.forwarded_params(self.query_names)
        await self.relay("GET", self.grader_resource(ids), params=params)


class CourseListHandler(GraderProxyHandler):
    """The courses the user is in, and those they may join (open, or with a code)."""

    grader_path = "courses"


class CourseEnrolHandler(CoursehubAPIHandler):
    """Join a course: an open one with ``{}``, one that needs a code with ``{"code"}``.

    Only the code is passed on: enrolling someone else is an instructor's business, at
    the grader's members endpoint, not through a learner's server.
    """

    @authorized
    async def post(self, course_ref):
        body = self.json_object(required=False)
        code = body.get("code")
        if code is not None and not isinstance(code, str):
            raise api_error(400, "The join code must be a string.")
        path = f"courses/{path_segment(course_ref)}/enrol"
        await self.relay("POST", path, body={} if code is None else {"code": code})


class ModuleListHandler(GraderProxyHandler):
    grader_path = "modules"
    query_names = ("course",)


class QuestionListHandler(GraderProxyHandler):
    """The course's questions; POST saves a new one (its course's instructors)."""

    grader_path = "questions"
    query_names = ("course", "module", "category", "difficulty", "tag", "q")

    @authorized
    async def post(self):
        await self.relay("POST", "questions", body=self.json_object())


class QuestionValidateHandler(CoursehubAPIHandler):
    """Check a question's notebook before saving it: the grader grades its reference
    solution and its student version, which takes longer than other calls."""

    @authorized
    async def post(self):
        body = self.json_object()
        await self.relay(
            "POST", "questions/validate", body=body, timeout=self.grader.validate_timeout
        )


class QuestionFiltersHandler(GraderProxyHandler):
    grader_path = "questions/filters"
    query_names = ("course",)


class QuestionHandler(GraderProxyHandler):
    """A question with its student version; PUT (new fields, a new notebook, a release
    date, a regrade) and DELETE (retire) for its course's instructors."""

    grader_path = "questions/{}"

    @authorized
    async def put(self, question_id):
        await self.relay("PUT", self.grader_resource([question_id]), body=self.json_object())

    @authorized
    async def delete(self, question_id):
        await self.relay("DELETE", self.grader_resource([question_id]))


class QuestionRegradeHandler(GraderProxyHandler):
    """How far the regrading of a question's submissions has come (instructors)."""

    grader_path = "questions/{}/regrade"


class QuestionHintsHandler(GraderProxyHandler):
    """The hints of a question revealed so far; POST reveals the next one (each lowers
    the XP a later solve earns, which the grader says in ``xp_penalty``)."""

    grader_path = "questions/{}/hints"

    @authorized
    async def post(self, question_id):
        await self.relay("POST", self.grader_resource([question_id]), body={})


class SubmissionListHandler(GraderProxyHandler):
    """The learner's own submissions, newest first (``?question=`` for one question)."""

    grader_path = "submissions"
    query_names = ("question", "limit", "offset")


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
        path = f"submissions/{path_segment(submission_id)}/events"
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


class SubmissionNotebookOpenHandler(CoursehubAPIHandler):
    """Write the notebook of a past submission into the learner's home, to look at.

    It goes to ``<module>/submissions/<question>-<id>.ipynb`` beside the question's own
    notebook, read-only and without a question id (so no Submit button: the learner's
    work stays the question's notebook). An existing copy is left alone (200,
    ``created: false``): a submission never changes, and nothing of the learner's is
    overwritten.
    """

    @authorized
    async def post(self, submission_id):
        submission = await self.call_grader("GET", f"submissions/{submission_id}")
        if not isinstance(submission, dict) or submission.get("question") is None:
            raise api_error(502, "The grading service sent a submission without its question.")
        question_id = str(submission["question"])
        question = await self.get_question(question_id)
        try:
            path = submitted_notebook_path(question, question_id, submission_id)
        except ValueError as e:
            raise api_error(502, f"Cannot open submission {submission_id}: {e}.") from None

        async def submitted():
            # read from the grader only when there is no copy yet
            notebook = await self.call_grader("GET", f"submissions/{submission_id}/notebook")
            try:
                return submitted_notebook(notebook, question_ref(question_id), int(submission_id))
            except ValueError as e:
                raise api_error(502, f"Cannot open submission {submission_id}: {e}.") from None

        await self.write_once(path, submitted, f"open submission {submission_id}")


class AchievementsHandler(GraderProxyHandler):
    """The learner's XP, streak and every achievement of the course, earned or not."""

    grader_path = "achievements"
    query_names = ("course",)


class PublicProfileHandler(GraderProxyHandler):
    """Another learner's public profile (what the leaderboard links to)."""

    grader_path = "profiles/{}"
    query_names = ("course",)


#: What the grader accepts as an avatar; it re-encodes every image itself.
AVATAR_TYPES = ("image/png", "image/jpeg", "image/webp")
MAX_AVATAR_BYTES = 2 * 1024 * 1024


class AvatarHandler(CoursehubAPIHandler):
    """The learner's avatar: PUT the image's bytes (its Content-Type saying which kind),
    DELETE it. The bytes are forwarded to the grader, which checks and re-encodes them;
    its refusal (not an image, too large) comes back as its own message."""

    @authorized
    async def put(self):
        content_type = self.request.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type not in AVATAR_TYPES:
            raise api_error(415, "An avatar must be a PNG, JPEG or WebP image.")
        body = self.request.body or b""
        if not body:
            raise api_error(400, "The avatar is empty: send the image's bytes.")
        if len(body) > MAX_AVATAR_BYTES:
            raise api_error(413, "The avatar is larger than 2 MiB: choose a smaller image.")
        await self.relay_raw("PUT", "profile/avatar", body, content_type)

    @authorized
    async def delete(self):
        await self.relay("DELETE", "profile/avatar")

    async def relay_raw(self, method: str, path: str, body: bytes, content_type: str):
        reply = await self.ask_grader(method, path, raw_body=body, content_type=content_type)
        self.write_json(reply.data, status=reply.status)


class AvatarImageHandler(CoursehubAPIHandler):
    """A learner's avatar image, streamed from the grader (an ``<img>`` cannot send the
    token the grader wants; this server's own cookie is enough here)."""

    @authorized
    async def get(self, name):
        path = f"profiles/{path_segment(name)}/avatar"
        params = self.forwarded_params(("v",))
        try:
            content_type, data = await self.grader.fetch_binary(path, params=params)
        except GraderError as e:
            raise api_error(e.status, e.message) from None
        if content_type.split(";")[0].strip() not in AVATAR_TYPES:
            raise api_error(502, "The grading service sent an avatar that is not an image.")
        self.set_header("Content-Type", content_type)
        # the URL carries the version (?v=): a new avatar is a new URL
        self.set_header("Cache-Control", "private, max-age=86400")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.finish(data, set_content_type=content_type)


class ProgressHandler(GraderProxyHandler):
    grader_path = "progress"
    query_names = ("course",)


class LeaderboardHandler(GraderProxyHandler):
    grader_path = "leaderboard"
    query_names = ("course", "module", "offset", "limit")


class ProfileHandler(GraderProxyHandler):
    """The learner's own profile: read it, or change the fields the grader allows."""

    grader_path = "profile"
    query_names = ("course",)

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

    ``{"fresh": true}`` opens it again from the start, to review it: a new notebook
    ``<module>/reviews/<question-slug>-<YYYY-MM-DD>[-n].ipynb`` (the server's date; ``-2``,
    ``-3`` ... for further copies the same day), never written over anything, so the
    learner's earlier work stays where it was (201, ``created: true``).
    """

    #: How many fresh copies of one question a day may be numbered, at most.
    MAX_FRESH_COPIES = 1000

    @authorized
    async def post(self, question_id):
        fresh = self.json_object(required=False).get("fresh", False)
        if not isinstance(fresh, bool):
            raise api_error(400, '"fresh" must be true or false.')
        question = await self.get_question(question_id)
        try:
            path = question_notebook_path(question, question_id)
            nb = tag_notebook(
                question.get("notebook"), question.get("id", question_ref(question_id))
            )
        except ValueError as e:
            raise api_error(502, f"Cannot open question {question_id}: {e}.") from None

        if fresh:
            await self.write_fresh(question, question_id, nb)
            return

        async def student():
            return nb

        await self.write_once(path, student, f"open question {question_id}")

    async def write_fresh(self, question: dict, question_id: str, nb) -> None:
        """Write ``nb`` at the first free review path of today; answer ``{path, created}``."""
        cm = self.contents_manager
        day = datetime.date.today()
        what = f"open question {question_id} again"
        # under the lock: two clicks never pick the same free name
        async with self.extensionapp.open_lock:
            for n in range(1, self.MAX_FRESH_COPIES + 1):
                path = review_notebook_path(question, question_id, day, n)
                if not await ensure_async(cm.exists(path)):
                    break
            else:
                raise api_error(
                    409,
                    f"Cannot {what}: {self.MAX_FRESH_COPIES} copies of it were opened today.",
                )
            await self.save_notebook(nb, path, what)
        self.log.info("coursehub: %s as %s", what, path)
        self.write_json({"path": path, "created": True}, status=201)


class QuestionPreviewHandler(CoursehubAPIHandler):
    """The question as its learners get it, for its author to look at.

    The student version (the grader's ``GET questions/{id}``, a draft too for its
    course's instructors) goes to ``coursehub-preview/<module>/<question>.ipynb``,
    replaced at every preview: a copy to look at, with read-only cells and no question
    id (so no Submit button), never the author's own notebook nor a learner's work.
    """

    @authorized
    async def post(self, question_id):
        question = await self.get_question(question_id)
        try:
            path = f"{PREVIEW_FOLDER}/{question_notebook_path(question, question_id)}"
            nb = preview_notebook(
                question.get("notebook"), question.get("id", question_ref(question_id))
            )
        except ValueError as e:
            raise api_error(502, f"Cannot preview question {question_id}: {e}.") from None
        async with self.extensionapp.open_lock:
            await self.save_notebook(nb, path, f"preview question {question_id}")
        self.write_json({"path": path})


class QuestionSubmitHandler(CoursehubAPIHandler):
    """Submit the notebook saved at ``{"path"}`` as an answer to a question.

    The notebook is read from disk (what the learner last saved), never taken from
    the request, and POSTed to the grader, whose 202 ``{"id", "status"}`` is returned.
    An ``integrity`` object (JupyterLab's integrity signals) goes along as sent.
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
        submission = {"question": question_ref(question_id), "notebook": nb}
        if body.get("integrity") is not None:
            # what JupyterLab recorded, in a course that collects integrity signals:
            # passed on as sent, for the grader checks it (and drops it if the course
            # does not collect it)
            submission["integrity"] = body["integrity"]
        data = await self.call_grader("POST", "submissions", body=submission)
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
    (r"coursehub/api/courses", CourseListHandler),
    (r"coursehub/api/courses/([^/]+)/enrol", CourseEnrolHandler),
    (r"coursehub/api/modules", ModuleListHandler),
    (r"coursehub/api/questions", QuestionListHandler),
    (r"coursehub/api/questions/filters", QuestionFiltersHandler),
    (r"coursehub/api/questions/validate", QuestionValidateHandler),
    (r"coursehub/api/questions/([^/]+)/open", QuestionOpenHandler),
    (r"coursehub/api/questions/([^/]+)/preview", QuestionPreviewHandler),
    (r"coursehub/api/questions/([^/]+)/regrade", QuestionRegradeHandler),
    (r"coursehub/api/questions/([^/]+)/submit", QuestionSubmitHandler),
    (r"coursehub/api/questions/([^/]+)/hints", QuestionHintsHandler),
    (r"coursehub/api/questions/([^/]+)", QuestionHandler),
    (r"coursehub/api/submissions", SubmissionListHandler),
    (r"coursehub/api/submissions/([^/]+)/events", SubmissionEventsHandler),
    (r"coursehub/api/submissions/(\d+)/open", SubmissionNotebookOpenHandler),
    (r"coursehub/api/submissions/([^/]+)", SubmissionHandler),
    (r"coursehub/api/progress", ProgressHandler),
    (r"coursehub/api/profile", ProfileHandler),
    (r"coursehub/api/leaderboard", LeaderboardHandler),
    (r"coursehub/api/achievements", AchievementsHandler),
    (r"coursehub/api/profile/avatar", AvatarHandler),
    (r"coursehub/api/profiles/([^/]+)/avatar", AvatarImageHandler),
    (r"coursehub/api/profiles/([^/]+)", PublicProfileHandler),
]
