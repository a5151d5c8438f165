"""LTI 1.3 (grader.lti): launches the Hub forwards, the tool's key set, linking LMS
contexts to courses, passback and roster sync for a course's instructors.

- `POST lti/launches` (the Hub's token only, `HUB_SCOPE`): a verified launch, recorded;
  the user enrolled in the linked course (learner or instructor group);
- `GET lti/jwks` (anyone): the tool's public key set, for platforms;
- `GET lti/contexts` (instructors): contexts they may link or that are linked to a
  course they teach;
- `GET courses/{id}/lti`: the course's links, outbox and rosters; `PUT`/`DELETE
  courses/{id}/lti/contexts/{context}`: link (with the line-item grain) and unlink;
  `POST courses/{id}/lti/retry`: failed scores sent again; `POST`/`GET
  courses/{id}/lti/contexts/{context}/roster`: a roster sync (202) and its progress.

Learners get a 403 or 404 from every one of them (the launch and key set aside).
"""

from __future__ import annotations

import asyncio

from tornado import web

from .. import audit, orm
from ..courses import HubError, record_enrolment
from ..lti import links, membership, outbox, roster
from ..lti.launches import LaunchError, parse_launch, record_launch
from ..scopes import HUB_SCOPE
from .base import MAX_ID, APIHandler, as_id, blocking

MAX_RETRY_IDS = 1000


def link_page_url(prefix: str, context_id: int) -> str:
    return f"{prefix}lti/link?context={context_id}"


class LaunchAPIHandler(APIHandler):
    @web.authenticated
    async def post(self):
        """A launch the Hub verified: record it, enrol the user in the linked course."""
        if HUB_SCOPE not in self.scopes:
            raise web.HTTPError(
                403, f"only the Hub forwards launches (the scope {HUB_SCOPE}), not a user"
            )
        try:
            launch = parse_launch(self.get_json_body())
        except LaunchError as e:
            raise web.HTTPError(400, str(e)) from None
        lti = self.grader.lti
        platform = lti.platform_for(launch.issuer, launch.client_id)
        if platform is None:
            raise web.HTTPError(
                400,
                f"issuer: no platform {launch.issuer!r} with client_id {launch.client_id!r} "
                "in the LTI platforms file",
            )
        if platform.deployment_ids and launch.deployment_id not in platform.deployment_ids:
            raise web.HTTPError(
                400, f"deployment_id {launch.deployment_id!r} is not one of {launch.issuer}'s"
            )
        recorded = await self.in_db(lambda: record_launch(self.db, launch, platform))
        model = {
            "course": recorded.course_slug,
            "role": recorded.role,
            "linked": recorded.course_id is not None,
            "context": recorded.context,
            "link_url": None,
        }
        if recorded.context is None:
            model["message"] = "a launch without an LMS course: nothing to enrol in"
        elif recorded.course_id is None:
            model["message"] = "this LMS course is not linked to a coursehub course yet"
            if recorded.role == orm.INSTRUCTOR:
                model["link_url"] = link_page_url(self.grader.service_prefix, recorded.context)
                model["message"] += ": link it to a course you teach"
        elif recorded.role is None:
            model["message"] = "no learner or instructor role in this LMS course: not enrolled"
        else:
            await self.enrol(launch, recorded)
            model["message"] = f"enrolled in {recorded.course_slug} as {recorded.role}"
        self.write_json(model)

    async def enrol(self, launch, recorded):
        groups_api = self.grader.hub_groups
        try:
            groups = await membership.CourseGroups.read(groups_api, recorded.course_slug)
            new, changes = await membership.apply(
                groups_api, groups, launch.user, recorded.role, recorded.enrolled_as
            )
        except HubError as e:
            raise web.HTTPError(502, f"{e}") from None
        if changes:
            self.hub_auth.cache.clear()  # identities read before the change
        if changes or new != recorded.enrolled_as:
            role = groups.role_of(launch.user)
            await self.in_db(self._record_enrolment, recorded, new, role, changes, launch.user)

    def _record_enrolment(self, recorded, enrolled_as, role, changes, name):
        member = self.db.get(orm.LTIMember, recorded.member)
        member.enrolled_as = enrolled_as
        if changes:
            audit.record(
                self.db,
                actor=name,
                action="lti.launch_enrol",
                course_id=recorded.course_id,
                target=f"user {name}",
                detail={"changes": changes, "context": recorded.context},
            )
        record_enrolment(self.db, recorded.course_id, recorded.user_id, role)  # commits


class JWKSAPIHandler(APIHandler):
    async def get(self):
        """The tool's public keys (made at first use: RSA generation, off the loop)."""
        self.write_json(await asyncio.to_thread(self.grader.lti.key.jwks))


class LTIMixin:
    """Lookups and actions the API and the pages share."""

    def taught(self, course_ref) -> orm.Course:
        self.learner()
        course = self.find_course(course_ref)
        self.require_author_of(course)
        return course

    def taught_ids(self) -> list[int]:
        return [c.id for c in self.access.teaching(self.db)]

    def find_context(self, context_ref) -> orm.LTIContext:
        """A context the caller may see: launched from as an LMS instructor, or linked
        to a course they teach; else 404."""
        context = self.db.get(orm.LTIContext, as_id(context_ref, "LTI context"))
        user = self.learner()
        if context is not None:
            visible = links.visible_contexts(self.db, user.id, self.taught_ids())
            if context.id in {c.id for c in visible}:
                return context
        raise web.HTTPError(404, f"no such LTI context: {context_ref}")

    def grain_of(self, body: dict, default: str) -> str:
        grain = body.get("grain", default)
        if grain not in orm.LTI_GRAINS:
            raise web.HTTPError(400, f"grain must be one of {', '.join(orm.LTI_GRAINS)}")
        return grain

    def do_link(self, course: orm.Course, context_ref, body: dict) -> dict:
        """Link a context to the course (or change the link's grain): the rule in
        `grader.lti.links`; 409 if it is linked to another course."""
        # any context by id: the caller teaches the course, and a refusal names why
        context = self.db.get(orm.LTIContext, as_id(context_ref, "LTI context"))
        if context is None:
            raise web.HTTPError(404, f"no such LTI context: {context_ref}")
        user = self.learner()
        name = self.current_user["name"]
        if context.course_id == course.id:
            grain = self.grain_of(body, context.grain)
            if grain != context.grain:
                links.link(self.db, context, course, actor=name, grain=grain)
        elif context.course_id is not None:
            raise web.HTTPError(
                409, "this LMS course is linked to another coursehub course: unlink it first"
            )
        else:
            try:
                links.check_launched_as_teacher(self.db, context, user.id)
            except links.LinkRefused as e:
                raise web.HTTPError(403, str(e)) from None
            links.link(self.db, context, course, actor=name, grain=self.grain_of(body, "module"))
        return links.context_model(self.db, context)

    def do_unlink(self, course: orm.Course, context_ref) -> None:
        context = self.db.get(orm.LTIContext, as_id(context_ref, "LTI context"))
        if context is None or context.course_id != course.id:
            raise web.HTTPError(404, f"LTI context {context_ref} is not linked to {course.slug}")
        if not getattr(self, "caller_is_admin", False):
            try:
                links.check_launched_as_teacher(self.db, context, self.learner().id)
            except links.LinkRefused as e:
                raise web.HTTPError(403, str(e).replace("link it", "unlink it")) from None
        links.unlink(self.db, context, actor=self.current_user["name"])

    def do_retry(self, course: orm.Course, ids) -> int:
        if ids is not None:
            if not isinstance(ids, list) or not all(
                isinstance(i, int) and not isinstance(i, bool) and 0 <= i <= MAX_ID for i in ids
            ):
                raise web.HTTPError(400, "ids must be a list of score post ids (integers)")
            if len(ids) > MAX_RETRY_IDS:
                raise web.HTTPError(400, f"ids: at most {MAX_RETRY_IDS} at once")
        contexts = [c.id for c in links.course_lti_contexts(self.db, course.id)]
        retried = outbox.retry_failed(self.db, contexts, ids)
        self.db.commit()
        return retried

    def roster_context(self, course_ref, context_ref) -> tuple[orm.Course, orm.LTIContext]:
        course = self.taught(course_ref)
        context = self.db.get(orm.LTIContext, as_id(context_ref, "LTI context"))
        if context is None or context.course_id != course.id:
            raise web.HTTPError(404, f"LTI context {context_ref} is not linked to {course.slug}")
        return course, context

    def start_roster(self, course_ref, context_ref) -> int:
        course, context = self.roster_context(course_ref, context_ref)
        if not context.memberships_url:
            raise web.HTTPError(409, "the platform offers no roster (NRPS) for this LMS course")
        if not roster.start(self.db, context.id, self.grader.lti.roster_stale_seconds):
            raise web.HTTPError(409, "a roster sync of this LMS course is under way")
        return context.id

    def begin_roster_sync(self, context_id: int) -> None:
        self.grader.lti.in_background(
            roster.sync(self.grader, context_id, self.current_user["name"])
        )


class ContextListAPIHandler(LTIMixin, APIHandler):
    @web.authenticated
    @blocking
    def get(self):
        user = self.learner()
        self.require_any_author()
        contexts = links.visible_contexts(self.db, user.id, self.taught_ids())
        self.write_json({"contexts": [links.context_model(self.db, c) for c in contexts]})


class CourseLTIAPIHandler(LTIMixin, APIHandler):
    @web.authenticated
    @blocking
    def get(self, course_ref):
        course = self.taught(course_ref)
        user = self.learner()
        self.write_json(links.course_lti(self.db, course, user.id, self.taught_ids()))


class CourseContextAPIHandler(LTIMixin, APIHandler):
    @web.authenticated
    @blocking
    def put(self, course_ref, context_ref):
        """Link the context to the course, ``{"grain"}``: course, module (default) or
        question; on a linked context, change its grain."""
        course = self.taught(course_ref)
        body = self.get_json_body() if self.request.body else {}
        unknown = set(body) - {"grain"}
        if unknown:
            raise web.HTTPError(400, f"cannot set {', '.join(sorted(unknown))}")
        self.write_json(self.do_link(course, context_ref, body))

    @web.authenticated
    @blocking
    def delete(self, course_ref, context_ref):
        course = self.taught(course_ref)
        self.do_unlink(course, context_ref)
        self.no_content()


class RetryAPIHandler(LTIMixin, APIHandler):
    @web.authenticated
    @blocking
    def post(self, course_ref):
        """Failed scores sent again (``{"ids"}``: only these), now."""
        course = self.taught(course_ref)
        body = self.get_json_body() if self.request.body else {}
        self.write_json({"retried": self.do_retry(course, body.get("ids"))})


class RosterAPIHandler(LTIMixin, APIHandler):
    @web.authenticated
    async def post(self, course_ref, context_ref):
        """Start a roster sync: 202, then follow it with GET."""
        context_id = await self.in_db(self.start_roster, course_ref, context_ref)
        self.begin_roster_sync(context_id)
        model = await self.in_db(self._progress, course_ref, context_ref)
        self.write_json(model, status=202)

    @web.authenticated
    @blocking
    def get(self, course_ref, context_ref):
        self.write_json(self._progress(course_ref, context_ref))

    def _progress(self, course_ref, context_ref) -> dict:
        _, context = self.roster_context(course_ref, context_ref)
        return {"context": context.id, **links.context_model(self.db, context)["roster"]}


default_handlers = [
    (r"lti/launches", LaunchAPIHandler),
    (r"lti/jwks", JWKSAPIHandler),
    (r"lti/contexts", ContextListAPIHandler),
    (r"courses/([^/]+)/lti", CourseLTIAPIHandler),
    (r"courses/([^/]+)/lti/retry", RetryAPIHandler),
    (r"courses/([^/]+)/lti/contexts/([^/]+)", CourseContextAPIHandler),
    (r"courses/([^/]+)/lti/contexts/([^/]+)/roster", RosterAPIHandler),
]
