"""Courses: what a user belongs to or may join; joining; instructors' members and settings.

Membership is the Hub's (see :mod:`grader.courses`): joining and enrolling change the
course's Hub groups through the Hub's API, and the grader's own `Enrolment` rows follow.
The Hub grants the course's scopes to every token of the user at once; this replica's
cache of identities is emptied so the next request sees them (another replica's cache
holds an identity for at most `GraderOAuth.cache_max_age`, 60 s).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from tornado import web

from .. import orm
from ..courses import (
    INSTRUCTORS_SUFFIX,
    HubError,
    instructor_group,
    learner_group,
    new_join_code,
    record_enrolment,
)
from ..dbutil import count_by
from ..learners import achievements, integrity
from .base import APIHandler, blocking
from .validation import optional_text, required_slug, required_text

ROLES = (orm.LEARNER, orm.INSTRUCTOR)
# what an instructor's PUT courses/{id} may change
COURSE_FIELDS = {"title", "description", "join", "new_code", "position", "achievements"}


def course_model(db, course: orm.Course, access) -> dict:
    return course_models(db, [course], access)[0]


def course_models(db, courses: list[orm.Course], access) -> list[dict]:
    """Courses as the caller sees them: two grouped counts for all of them (modules;
    learners, shown to the course's instructors), not a query or two per course."""
    ids = [c.id for c in courses]
    modules = count_by(db, orm.Module.course_id, orm.Module.course_id.in_(ids))
    learners = count_by(
        db,
        orm.Enrolment.course_id,
        orm.Enrolment.course_id.in_(ids),
        orm.Enrolment.role == orm.LEARNER,
    )
    # which collect integrity signals: every learner is told (learners.integrity)
    watched = integrity.enabled_courses(db, ids)
    return [
        _as_seen(c, access, modules.get(c.id, 0), learners.get(c.id, 0), c.id in watched)
        for c in courses
    ]


def _as_seen(
    course: orm.Course, access, modules: int, learners: int, integrity_on: bool = False
) -> dict:
    role = access.role_in(course)
    model = {
        "id": course.id,
        "slug": course.slug,
        "title": course.title,
        "description": course.description,
        "join": course.join,
        "enrolled": role is not None,
        "role": role,
        "modules": modules,
        "integrity": integrity_on,
    }
    if role == orm.INSTRUCTOR:
        model["join_code"] = course.join_code
        model["learners"] = learners
        # the course's own definitions, with their rules (learners see them, earned or
        # not and without rules, in GET achievements)
        model["achievements"] = course.achievements or []
    return model


def _join_mode(body: dict, default: str) -> str:
    join = body.get("join", default)
    if join not in orm.JOIN_MODES:
        raise web.HTTPError(400, f"join must be one of {', '.join(orm.JOIN_MODES)}")
    return join


class CourseHandlerMixin:
    async def hub_change(self, change, *args):
        """A change to the Hub's groups; a 502 naming the problem if the Hub refuses."""
        try:
            await change(*args)
        except HubError as e:
            raise web.HTTPError(502, f"{e}") from None
        self.hub_auth.cache.clear()  # identities (and scopes) read before the change

    def record(self, course_id: int, name: str, role: str | None, action: str) -> None:
        """Mirror a membership change made in the Hub (role None: out of the course),
        on the audit log as ``action`` (enrolment.join, .leave, .add, .remove)."""
        user = orm.User.find_or_create(self.db, name)
        self.audit(
            self.db, action, course_id=course_id, target=f"user {name}", detail={"role": role}
        )
        record_enrolment(self.db, course_id, user.id, role)  # commits both


@dataclass(frozen=True)
class CourseRef:
    """A course as a handler needs it after the database session ended."""

    id: int
    slug: str
    role: str | None  # the caller's


class CourseListAPIHandler(CourseHandlerMixin, APIHandler):
    @web.authenticated
    @blocking
    def get(self):
        """The caller's courses, then those they may join (open, or with a code)."""
        self.learner()
        courses = self.db.scalars(
            select(orm.Course).order_by(orm.Course.position, orm.Course.id)
        ).all()
        visible = [c for c in courses if self.access.may_learn(c) or c.join != "invite"]
        self.write_json({"courses": course_models(self.db, visible, self.access)})

    @web.authenticated
    async def post(self):
        """A new course (instructors of every course): the Hub's groups and roles first,
        then the row, so a course never exists without its roles."""
        if not self.access.author_all:
            raise web.HTTPError(403, "only instructors of every course may create courses")
        body = self.get_json_body()
        slug = required_slug(body, "slug")
        if slug.endswith(INSTRUCTORS_SUFFIX):
            raise web.HTTPError(400, f"a course slug may not end in {INSTRUCTORS_SUFFIX}")
        title = required_text(body, "title")
        description = optional_text(body, "description")
        join = _join_mode(body, "invite")
        if await self.in_db(lambda: orm.Course.find_by_slug(self.db, slug)) is not None:
            raise web.HTTPError(409, f"a course {slug!r} exists already")
        await self.hub_change(self.grader.hub_groups.ensure_course, slug)
        model = await self.in_db(self._create, slug, title, description, join)
        self.write_json(model, status=201)

    def _create(self, slug, title, description, join) -> dict:
        position = self.db.scalar(select(func.count()).select_from(orm.Course))
        course = orm.Course(
            slug=slug,
            title=title,
            description=description,
            join=join,
            join_code=new_join_code() if join == "code" else None,
            position=position,
        )
        self.db.add(course)
        try:
            self.db.flush()
            self.audit(
                self.db,
                "course.create",
                course_id=course.id,
                target=f"course {slug}",
                detail={"title": title, "join": join},
            )
            self.db.commit()
        except IntegrityError:
            raise web.HTTPError(409, f"a course {slug!r} exists already") from None
        return course_model(self.db, course, self.access)


class CourseAPIHandler(CourseHandlerMixin, APIHandler):
    @web.authenticated
    @blocking
    def get(self, course_ref):
        self.learner()
        course = self.find_course(course_ref)
        self.write_json(course_model(self.db, course, self.access))

    @web.authenticated
    @blocking
    def put(self, course_ref):
        """Title, description, how to join, place in the list of courses, the course's
        own achievements (a list of definitions, :mod:`grader.learners.achievements`);
        ``"new_code": true`` replaces the join code (the old one stops working)."""
        self.learner()
        course = self.find_course(course_ref)
        self.require_author_of(course)
        body = self.get_json_body()
        unknown = set(body) - COURSE_FIELDS
        if unknown:
            raise web.HTTPError(400, f"cannot change {', '.join(sorted(unknown))}")
        if "title" in body:
            course.title = required_text(body, "title")
        if "description" in body:
            course.description = optional_text(body, "description")
        if "join" in body:
            course.join = _join_mode(body, course.join)
        if "position" in body:
            position = body["position"]
            if not isinstance(position, int) or isinstance(position, bool) or position < 0:
                raise web.HTTPError(400, "position must be a non-negative integer")
            course.position = position
        if "achievements" in body:
            try:
                course.achievements = achievements.validate_course(body["achievements"])
            except achievements.AchievementError as e:
                raise web.HTTPError(400, str(e)) from None
        if body.get("new_code") or (course.join == "code" and not course.join_code):
            course.join_code = new_join_code()
        # what changed, never the join code itself (it admits people)
        detail = {k: body[k] for k in ("title", "description", "join", "position") if k in body}
        if "achievements" in body:
            detail["achievements"] = len(course.achievements or [])
        if body.get("new_code"):
            detail["new_code"] = True
        self.audit(
            self.db, "course.update", course_id=course.id, target=f"course {course.slug}",
            detail=detail,
        )  # fmt: skip
        self.db.commit()
        self.write_json(course_model(self.db, course, self.access))


class EnrolAPIHandler(CourseHandlerMixin, APIHandler):
    """``POST``: join a course (open, or with its code in ``{"code"}``); ``DELETE``:
    leave it (submissions and scores stay)."""

    @web.authenticated
    async def post(self, course_ref):
        body = self.get_json_body() if self.request.body else {}
        user, course = await self.in_db(self._joinable, course_ref, body.get("code"))
        if course.role is None:
            await self.hub_change(self.grader.hub_groups.add, learner_group(course.slug), user)
            await self.in_db(self.record, course.id, user, orm.LEARNER, "enrolment.join")
            self.renew_login()
        self.write_json(await self.in_db(self._model, course.id))

    def renew_login(self):
        """A browser signed in to the grader holds a Hub OAuth token whose scopes the
        Hub fixed when it was issued: without the course just joined or left. Its
        cookie goes, so the next page signs in again (at once, through the Hub's own
        session) with the scopes as they are now. Tokens (a server's, a script's)
        follow their owner's scopes by themselves."""
        if not getattr(self, "_token_authenticated", False):
            self.hub_auth.clear_cookie(self)

    def _joinable(self, course_ref, code):
        user = self.learner()
        course = self.find_course(course_ref)
        role = self.access.role_in(course)
        if role is None:
            if course.join == "code":
                if not isinstance(code, str) or not code.strip():
                    raise web.HTTPError(400, f'{course.slug} needs a join code: send {{"code"}}')
                expected = (course.join_code or "").encode()
                if not course.join_code or not hmac.compare_digest(
                    code.strip().upper().encode(), expected
                ):
                    raise web.HTTPError(403, f"wrong join code for {course.slug}")
            elif course.join != "open":
                raise web.HTTPError(403, f"{course.slug} is by invitation: ask its instructors")
        return user.name, CourseRef(course.id, course.slug, role)

    def _model(self, course_id):
        course = orm.Course.find(self.db, course_id)
        # the enrolment just made is in the Hub; this request's scopes predate it
        model = course_model(self.db, course, self.access)
        model.update(enrolled=True, role=model["role"] or orm.LEARNER)
        model.pop("learners", None)
        return model

    @web.authenticated
    async def delete(self, course_ref):
        user, course = await self.in_db(self._leaving, course_ref)
        await self.hub_change(self.grader.hub_groups.remove, learner_group(course.slug), user)
        await self.in_db(self.record, course.id, user, None, "enrolment.leave")
        self.renew_login()
        self.no_content()

    def _leaving(self, course_ref):
        user = self.learner()
        course = self.find_course(course_ref)
        return user.name, CourseRef(course.id, course.slug, self.access.role_in(course))


class MembersAPIHandler(CourseHandlerMixin, APIHandler):
    """A course's members, from the Hub's groups: read and change (its instructors)."""

    @web.authenticated
    async def get(self, course_ref):
        course = await self.in_db(self._taught, course_ref)
        groups = self.grader.hub_groups
        try:
            learners = await groups.members(learner_group(course.slug))
            instructors = await groups.members(instructor_group(course.slug))
        except HubError as e:
            raise web.HTTPError(502, f"{e}") from None
        self.write_json(
            {
                "course": course.slug,
                "learners": sorted(learners),
                "instructors": sorted(instructors),
            }
        )

    @web.authenticated
    async def post(self, course_ref):
        """``{"user", "role"}``: enrol someone (a learner by default)."""
        course = await self.in_db(self._taught, course_ref)
        body = self.get_json_body()
        name = required_text(body, "user")
        role = body.get("role", orm.LEARNER)
        if role not in ROLES:
            raise web.HTTPError(400, f"role must be one of {', '.join(ROLES)}")
        group = learner_group if role == orm.LEARNER else instructor_group
        await self.hub_change(self.grader.hub_groups.add, group(course.slug), name)
        await self.in_db(self.record, course.id, name, role, "enrolment.add")
        self.write_json({"course": course.slug, "user": name, "role": role}, status=201)

    def _taught(self, course_ref):
        self.learner()
        course = self.find_course(course_ref)
        self.require_author_of(course)
        return CourseRef(course.id, course.slug, orm.INSTRUCTOR)


class MemberAPIHandler(CourseHandlerMixin, APIHandler):
    """One member: ``DELETE`` only (not a subclass of MembersAPIHandler: its GET and
    POST take no member and would be a 500 here)."""

    _taught = MembersAPIHandler._taught

    @web.authenticated
    async def delete(self, course_ref, name):
        """Take someone out of the course (both groups); their work stays."""
        course = await self.in_db(self._taught, course_ref)
        for group in (learner_group, instructor_group):
            await self.hub_change(self.grader.hub_groups.remove, group(course.slug), name)
        await self.in_db(self.record, course.id, name, None, "enrolment.remove")
        self.no_content()


default_handlers = [
    (r"courses", CourseListAPIHandler),
    (r"courses/([^/]+)", CourseAPIHandler),
    (r"courses/([^/]+)/enrol", EnrolAPIHandler),
    (r"courses/([^/]+)/members", MembersAPIHandler),
    (r"courses/([^/]+)/members/([^/]+)", MemberAPIHandler),
]
