"""A course's integrity signals setting (:mod:`grader.learners.integrity`).

- `GET`/`PUT courses/{id}/integrity` `{"enabled": bool}`: whether the course collects
  integrity signals, with what is recorded and what is not; for its instructors. Off
  by default; each change is an audit entry (`integrity.settings`).
- the page `courses/<slug>/integrity`: the same, with a form (no script) to turn them
  on or off.

Learners see whether a course collects them in `GET courses` (`integrity`), and their
JupyterLab says what is recorded. The signals themselves are sent with a submission
(`POST submissions`) and read beside it (`GET submissions/{id}`, the submission page).
"""

from __future__ import annotations

from tornado import web

from .. import audit, orm
from ..learners import integrity
from .base import APIHandler, blocking
from .course_pages import CoursePageHandler


def save_setting(handler, course: orm.Course, on: bool) -> None:
    """Turn the course's signals on or off, with its audit entry, in one transaction."""
    actor = handler.current_user["name"]
    with handler.grader.writer_factory() as db:
        if integrity.set_enabled(db, course.id, on, actor):
            audit.record(
                db,
                actor=actor,
                action="integrity.settings",
                course_id=course.id,
                target=f"course {course.slug}",
                detail={"enabled": on},
            )
        db.commit()
    handler.db.rollback()  # this session's snapshot predates the change


class IntegritySettingsAPIHandler(APIHandler):
    def taught_course(self, course_ref) -> orm.Course:
        self.learner()
        course = self.find_course(course_ref)
        self.require_author_of(course)
        return course

    @web.authenticated
    @blocking
    def get(self, course_ref):
        course = self.taught_course(course_ref)
        self.write_json(integrity.settings_model(self.db, course))

    @web.authenticated
    @blocking
    def put(self, course_ref):
        course = self.taught_course(course_ref)
        body = self.get_json_body()
        unknown = sorted(set(body) - {"enabled"})
        if unknown:
            raise web.HTTPError(
                400, f"unknown field {unknown[0][:50]!r}: the only field is enabled"
            )
        if not isinstance(body.get("enabled"), bool):
            raise web.HTTPError(400, "enabled is required: true or false")
        save_setting(self, course, body["enabled"])
        self.write_json(integrity.settings_model(self.db, course))


class IntegrityPageHandler(CoursePageHandler):
    """The course's setting, what it records, and a form to turn it on or off."""

    @web.authenticated
    async def get(self, slug):
        await self.page(self._render, slug)

    @web.authenticated
    async def post(self, slug):
        # a form (the page has no script): its _xsrf field was checked with the login
        # cookie, or the request is not signed in at all
        wanted = self.get_body_argument("enabled", "")
        if wanted not in ("on", "off"):
            raise web.HTTPError(400, "enabled must be on or off")
        await self.in_db(self._save, slug, wanted == "on")
        self.redirect(self.request.path)

    def _save(self, slug, on: bool) -> None:
        save_setting(self, self.taught_course(slug), on)

    def _render(self, slug) -> str:
        course = self.taught_course(slug)
        return self.render_course_page(
            "integrity.html",
            course,
            "integrity",
            settings=integrity.settings_model(self.db, course),
            xsrf=self.xsrf_token.decode(),
        )


default_handlers = [
    (r"courses/([^/]+)/integrity", IntegritySettingsAPIHandler),
]

# patterns after the service's prefix without its slash (as course_pages.default_handlers)
page_handlers = [
    (r"/courses/([^/]+)/integrity", IntegrityPageHandler),
]
