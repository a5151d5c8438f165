"""Base handler of the grader's REST API (v1).

Modelled on JupyterHub's `apihandlers/base.py`: JSON errors `{"status", "message"}`,
`get_json_body`, lookups that raise 404, and a database session per request that is
rolled back in `finish()` if a handler left it dirty. Identity and scopes come from the
Hub through `HubOAuthenticated` (token header or the Hub's OAuth cookie); handlers check
scopes, never role or group names. `GraderHandler` is what the API's handlers and the
pages (`pages.py`) share; `APIHandler` adds JSON and answers 403 where a page would send
the browser to the Hub's login.

A request identified by the OAuth cookie alone, not a token, must carry the XSRF token
when it changes anything (POST, PUT, PATCH, DELETE; and any fetch() a page's script
makes): jupyterhub's `HubOAuth` checks it before it accepts the cookie (the value of
the `_xsrf` cookie its callback set, in an `X-XSRFToken` header); without it the
request is not signed in, and the answer is a 403 that says so.

Nothing that touches the database runs on the event loop: a handler method marked
:func:`blocking` runs whole in the service's database threads (`GraderApp.db_threads`),
and its response is sent from the loop once it returns. The loop only parses requests,
sends responses and streams events, so a slow query or a gradebook export delays nobody
else's request.
"""

from __future__ import annotations

import asyncio
import functools
import json
from http.client import responses

from jupyterhub.services.auth import HubOAuthenticated, UserNotAllowed
from sqlalchemy.orm import joinedload
from tornado import web

from .. import audit, orm
from ..courses import CourseAccess
from ..grading.notebooks import MAX_JSON_CONTAINERS, MAX_JSON_DEPTH, JSONLimitError, decode_json
from ..scopes import AUTHOR_SCOPE

# Largest request body holding a notebook (a submission, a question's source): larger is
# a 413 before anything is decoded (the HTTP server itself cuts off a little above this,
# app.MAX_BODY_BYTES). Limits on a notebook's shape are in grader.grading.notebooks (a 400).
MAX_NOTEBOOK_BYTES = 16 * 1024 * 1024
# Any other body (a module, a profile) is small: decoded on the event loop, up to this.
MAX_SMALL_BODY_BYTES = 1024 * 1024
# A body's shape: a notebook's limits, one level down, beside a few small fields.
MAX_BODY_DEPTH = MAX_JSON_DEPTH + 1
MAX_BODY_CONTAINERS = MAX_JSON_CONTAINERS + 1000


class LimitError(web.HTTPError):
    """A limit refused the request (429, 413); ``retry_after`` seconds, if it says when."""

    def __init__(self, status: int, message: str, retry_after: int | None = None):
        super().__init__(status, "%s", message)
        self.retry_after = retry_after


def blocking(method):
    """Run a handler method in the database threads; what it answers (:meth:`write_json`,
    :meth:`no_content`) is sent from the event loop after it returns. HTTP errors it
    raises become the usual JSON errors."""

    @functools.wraps(method)
    async def in_db_thread(self, *args, **kwargs):
        self._deferred = []

        try:
            await self.in_db(method, self, *args, **kwargs)
        finally:
            deferred, self._deferred = self._deferred, None
        for send in deferred:
            send()

    return in_db_thread


class GraderHandler(HubOAuthenticated, web.RequestHandler):
    """Every handler of the service: Hub identity and scopes, one DB session, database
    work in the database threads."""

    @property
    def hub_auth(self):
        return self.settings["hub_auth"]

    @property
    def grader(self):
        """The GraderApp: db, executor and queue live there."""
        return self.settings["grader_app"]

    @property
    def queue(self):
        return self.grader.queue

    @property
    def executor(self):
        return self.grader.executor

    _db = None
    _deferred = None  # responses of a @blocking method, sent when it returns
    _not_allowed = None  # a Hub user or service identified, without the access scope
    _xsrf_refusal = None  # why a cookie-authenticated request's XSRF check failed

    async def in_db(self, fn, *args, **kwargs):
        """``fn(*args, **kwargs)`` in the database threads, with this request's session
        (used by one thread at a time), which is ended there too, after ``fn``: ending a
        transaction is a round trip, not for the event loop."""

        def call():
            # an audit entry recorded anywhere in this work has the client's address
            address = audit.client_address.set(self.request.remote_ip)
            try:
                return fn(*args, **kwargs)
            finally:
                audit.client_address.reset(address)
                self.close_db()

        return await asyncio.get_running_loop().run_in_executor(self.grader.db_pool, call)

    async def prepare(self):
        # identify the caller up front, asynchronously: HubAuthenticated's synchronous
        # get_current_user would block the event loop on a request to the Hub
        model = await self.hub_auth.get_user(self, sync=False)
        if model:
            try:
                model = self.check_hub_user(model)
            except UserNotAllowed:
                self._not_allowed, model = model, None
        self._hub_auth_user_cache = model

    @property
    def db(self):
        if self._db is None:
            self._db = self.grader.session_factory()
        return self._db

    def check_xsrf_cookie(self):
        # HubOAuth calls this before it accepts the OAuth cookie (and skips it for a
        # token-authenticated request); a failure leaves the request anonymous, so keep
        # the reason for the 403
        try:
            return super().check_xsrf_cookie()
        except web.HTTPError as e:
            self._xsrf_refusal = e.log_message
            raise

    def close_db(self):
        if self._db is not None:
            if self._db.in_transaction():
                self._db.rollback()
            self._db.close()
            self._db = None

    def finish(self, *args, **kwargs):
        self.close_db()  # a no-op after in_db, which closed it in its thread
        return super().finish(*args, **kwargs)

    # identity and permissions

    @property
    def scopes(self) -> set[str]:
        return set(self.current_user.get("scopes", [])) if self.current_user else set()

    _access = None

    @property
    def access(self) -> CourseAccess:
        """The courses this request may learn in and teach (from its scopes)."""
        if self._access is None:
            self._access = CourseAccess.from_scopes(self.scopes)
        return self._access

    def learner(self) -> orm.User:
        """The requesting Hub user as a grader user (created on first sight), their
        enrolments brought in line with their scopes. Anyone the Hub lets reach the
        service is one: which courses they see is what the scopes say."""
        if self.current_user is None:
            raise web.HTTPError(403, "authentication required")
        user = orm.User.find(self.db, self.current_user["name"])
        if user is None:
            user = orm.User.find_or_create(self.db, self.current_user["name"])
            self.db.commit()
        if self.current_user.get("kind", "user") == "user":
            self.grader.enrolments.sync(self.db, user, self.access)
        return user

    @property
    def caller_is_admin(self) -> bool:
        """A Hub admin (the identity's `admin` flag, which the Hub sends with the
        `read:users:name` scope every identity has)."""
        return bool(self.current_user and self.current_user.get("admin"))

    def audit(
        self, db, action: str, *, course_id=None, target: str = "", detail=None
    ) -> orm.AuditEntry:
        """An audit entry for what the caller does, in ``db``'s transaction (grader.audit)."""
        return audit.record(
            db,
            actor=self.current_user["name"],
            actor_kind=self.current_user.get("kind", "user"),
            action=action,
            course_id=course_id,
            target=target,
            detail=detail,
            address=self.request.remote_ip,
        )

    def require_any_author(self) -> None:
        if not self.access.any_author:
            raise web.HTTPError(
                403, f"missing permission: only instructors may do this (the scope {AUTHOR_SCOPE})"
            )

    def require_author_of(self, course: orm.Course) -> None:
        if not self.access.may_author(course):
            raise web.HTTPError(
                403,
                f"missing permission: only instructors of {course.slug} may do this "
                f"(the scope {AUTHOR_SCOPE}!group=course-{course.slug})",
            )


class APIHandler(GraderHandler):
    """Every v1 endpoint: JSON in, JSON out."""

    def get_login_url(self):
        # an API answers 403 instead of redirecting to the Hub's login page
        raise web.HTTPError(403, "%s", self.why_anonymous())

    def why_anonymous(self) -> str:
        """What a request nobody signed in to is told (tornado's @authenticated refuses
        a POST with a bare 403, without asking get_login_url)."""
        if self._xsrf_refusal:
            return (
                f"XSRF check failed ({self._xsrf_refusal}): a request signed in with the "
                "Hub's cookie needs the value of the _xsrf cookie in an X-XSRFToken header "
                "to change anything (and for any fetch() from a script); or use a Hub token"
            )
        if self._not_allowed:
            return f"{self._not_allowed['name']} may not use this service"
        return "authentication required: use a Hub token or sign in to the Hub"

    def set_default_headers(self):
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")

    def write_error(self, status_code, **kwargs):
        message = responses.get(status_code, "Unknown HTTP error")
        exc_info = kwargs.get("exc_info")
        if exc_info:
            exception = exc_info[1]
            reason = getattr(exception, "log_message", None) or getattr(exception, "reason", None)
            if reason and isinstance(exception, web.HTTPError):
                message = reason % exception.args if exception.args else reason
            elif status_code == 403 and getattr(self, "_hub_auth_user_cache", None) is None:
                message = self.why_anonymous()
        if exc_info and getattr(exc_info[1], "retry_after", None):
            self.set_header("Retry-After", str(exc_info[1].retry_after))
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps({"status": status_code, "message": message}))

    def write_json(self, model, status: int = 200):
        if self._deferred is not None:  # in a @blocking method: sent on the loop
            body = json.dumps(model, default=_json_default)
            self._deferred.append(lambda: self._send(body, status))
            return
        self._send(json.dumps(model, default=_json_default), status)

    def no_content(self):
        """204, from anywhere a write_json may be."""
        if self._deferred is not None:
            self._deferred.append(self.no_content_now)
            return
        self.no_content_now()

    def no_content_now(self):
        self.set_status(204)
        self.finish()

    def _send(self, body: str, status: int):
        self.set_status(status)
        self.finish(body)

    def get_json_body(
        self, max_bytes: int = MAX_SMALL_BODY_BYTES, what: str = "request body"
    ) -> dict:
        """The request body as a JSON object, or a 400 naming what is wrong (a 413 if it
        is larger than ``max_bytes``).

        Decodes on the calling thread: a handler method marked :func:`blocking` (a
        database thread) for a body that may hold a notebook.
        """
        if len(self.request.body) > max_bytes:
            raise web.HTTPError(413, f"{what} is larger than {_size(max_bytes)}")
        if not self.request.body:
            raise web.HTTPError(400, "request body is empty: expected a JSON object")
        try:
            model = decode_json(self.request.body, MAX_BODY_DEPTH, MAX_BODY_CONTAINERS)
        except JSONLimitError as e:
            raise web.HTTPError(400, f"request body {e}") from None
        except ValueError as e:  # UnicodeDecodeError included
            raise web.HTTPError(400, f"request body is not valid JSON: {e}") from None
        if not isinstance(model, dict):
            raise web.HTTPError(400, "request body must be a JSON object")
        return model

    # lookups that raise 404

    def int_argument(self, name: str, default=None, minimum: int = 0, maximum=None):
        value = self.get_query_argument(name, None)
        if value in (None, ""):
            return default
        try:
            number = int(value)
        except ValueError:
            raise web.HTTPError(400, f"{name} must be an integer, not {value!r}") from None
        # past the database's integers (an offset, an id) is a 400, not its overflow
        limit = MAX_ID if maximum is None else maximum
        if number < minimum or number > limit:
            if maximum is None and number < minimum:
                bounds = f">= {minimum}"
            else:
                bounds = f"between {minimum} and {limit}"
            raise web.HTTPError(400, f"{name} must be {bounds}")
        return number

    def find_course(self, course_ref) -> orm.Course:
        """A course by id or slug that the caller belongs to, or may join (open or with
        a code); 404 for any other, so course names do not leak."""
        course = None
        if str(course_ref).isdigit() and int(course_ref) <= MAX_ID:
            course = orm.Course.find(self.db, int(course_ref))
        if course is None:
            course = orm.Course.find_by_slug(self.db, str(course_ref))
        if course is None or not (self.access.may_learn(course) or course.join != "invite"):
            raise web.HTTPError(404, f"no such course: {course_ref}")
        return course

    def course_argument(self, required: bool = True) -> orm.Course | None:
        """The course of `?course=` (id or slug), which the caller must belong to; without
        it, the caller's only course (a 400 if they have several, or none)."""
        course_ref = self.get_query_argument("course", None)
        if course_ref:
            course = self.find_course(course_ref)
            if not self.access.may_learn(course):
                raise web.HTTPError(403, f"you are not enrolled in {course.slug}: join it first")
            return course
        courses = self.access.learning(self.db)
        if len(courses) == 1:
            return courses[0]
        if not required:
            return None
        if not courses:
            raise web.HTTPError(400, "you are in no course yet: join one (GET courses)")
        slugs = ", ".join(c.slug for c in courses)
        raise web.HTTPError(400, f"course is required: one of {slugs}")

    def taught_course_argument(self, what: str) -> orm.Course:
        """The course of `?course=`, which the caller must teach; without it, the one
        course they teach (a 400 naming `what` if they teach several)."""
        course_ref = self.get_query_argument("course", None)
        if course_ref:
            course = self.find_course(course_ref)
            self.require_author_of(course)
            return course
        teaching = self.access.teaching(self.db)
        if len(teaching) != 1:
            self.require_any_author()
            raise web.HTTPError(400, f"course is required: {what}")
        return teaching[0]

    def find_question(self, question_id, *, include_retired: bool = False) -> orm.Question:
        """A question the caller may see: a released one in a course they learn in, or
        any of a course they teach (drafts and, if asked, retired ones); else 404."""
        # with its module and course: every caller checks the course (one query, not three)
        question = self.db.get(
            orm.Question,
            as_id(question_id, "question"),
            options=[joinedload(orm.Question.module).joinedload(orm.Module.course)],
        )
        if question is not None:
            course = question.module.course
            if self.access.may_author(course):
                visible = include_retired or not question.retired
            else:
                visible = (
                    self.access.may_learn(course)
                    and question.is_released()
                    and not question.retired
                )
            if visible:
                return question
        raise web.HTTPError(404, f"no such question: {question_id}")

    def find_taught_question(self, question_id, *, include_retired: bool = True) -> orm.Question:
        """A question of a course the caller teaches (any state): 404 if they cannot
        see it, 403 if they only learn there."""
        self.learner()
        question = self.find_question(question_id, include_retired=include_retired)
        self.require_author_of(question.module.course)
        return question

    def find_module(self, module_ref, course: orm.Course | None = None) -> orm.Module:
        """A module by id, or by slug (within `course`, or among the caller's courses),
        in a course the caller belongs to; else 404."""
        module = None
        if str(module_ref).isdigit() and int(module_ref) <= MAX_ID:
            module = orm.Module.find(self.db, int(module_ref))
        if module is None:
            if course is not None:
                module = orm.Module.find_by_slug(self.db, str(module_ref), course.id)
            else:
                for mine in self.access.learning(self.db):
                    module = orm.Module.find_by_slug(self.db, str(module_ref), mine.id)
                    if module is not None:
                        break
        if module is None or not self.access.may_learn(module.course):
            raise web.HTTPError(404, f"no such module: {module_ref}")
        return module


#: ids are the database's 64-bit integers at most: a larger number names nothing (and
#: SQLite cannot even be asked about it)
MAX_ID = 2**63 - 1


def as_id(value, what: str) -> int:
    """A row's id from a URL or a body, or a 404 naming ``what``."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise web.HTTPError(404, f"no such {what}: {value}") from None
    if not 0 <= number <= MAX_ID:
        raise web.HTTPError(404, f"no such {what}: {value}")
    return number


def _size(size: int) -> str:
    return f"{size // 2**20} MiB" if size >= 2**20 else f"{size // 1024} KiB"


def _json_default(value):
    if hasattr(value, "isoformat"):
        return value.isoformat() + "Z"
    raise TypeError(f"cannot serialize {type(value).__name__}")


isoformat = orm.isoformat  # the API's timestamps (kept here for the handlers' imports)
