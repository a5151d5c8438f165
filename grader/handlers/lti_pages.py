"""The LTI pages: a course's LTI tab (`courses/<slug>/lti`) and the page an LMS
instructor links a context from (`lti/link?context=<id>`, the Hub's "not linked yet"
page points there).

Plain forms (no script): each POSTs back with the page's XSRF token and is answered
with a redirect to the course's LTI page, so a reload never repeats it. The actions are
the API's (`handlers.lti.LTIMixin`): the same rules, the same audit entries.
"""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import select
from tornado import web

from .. import orm
from ..lti import links
from ..lti.roles import is_teaching
from .course_pages import CoursePageHandler
from .lti import LTIMixin


class CourseLTIPageHandler(LTIMixin, CoursePageHandler):
    """Linked contexts, their grain, passback (pending, sent, failed, the latest
    errors, a retry), roster syncs; contexts the caller may link here."""

    @web.authenticated
    async def get(self, slug):
        await self.page(self._render, slug)

    def _render(self, slug) -> str:
        course = self.taught_course(slug)
        user = self.learner()
        model = links.course_lti(self.db, course, user.id, self.taught_ids())
        return self.render_course_page(
            "lti.html",
            course,
            "lti",
            lti=model,
            xsrf=self.xsrf_token.decode(),
            platforms_error=self.grader.lti.platforms_error,
        )

    @web.authenticated
    async def post(self, slug):
        action = self.get_body_argument("action", "")
        context = self.get_body_argument("context", "")
        if action == "roster":
            context_id = await self.in_db(self.start_roster, slug, context)
            self.begin_roster_sync(context_id)
        elif action in ("link", "grain"):
            grain = self.get_body_argument("grain", "module")
            await self.in_db(self._link, slug, context, grain)
        elif action == "unlink":
            await self.in_db(lambda: self.do_unlink(self.taught(slug), context))
        elif action == "retry":
            post = self.get_body_argument("post", "")
            ids = [int(post)] if post.isdigit() else None
            await self.in_db(lambda: self.do_retry(self.taught(slug), ids))
        else:
            raise web.HTTPError(400, "action must be link, grain, unlink, retry or roster")
        self.redirect(f"{self.grader.service_prefix}courses/{quote(slug, safe='')}/lti", status=303)

    def _link(self, slug, context, grain):
        self.do_link(self.taught(slug), context, {"grain": grain})


class LinkPageHandler(LTIMixin, CoursePageHandler):
    """`lti/link?context=<id>` (or `?issuer=&context_id=`): link an LMS course to a
    coursehub course the caller teaches."""

    @web.authenticated
    async def get(self):
        await self.page(self._render)

    def _context(self) -> orm.LTIContext:
        ref = self.get_query_argument("context", None) or self.get_body_argument("context", "")
        if not ref:
            issuer = self.get_query_argument("issuer", "")
            context_id = self.get_query_argument("context_id", "")
            found = self.db.scalars(
                select(orm.LTIContext.id).where(
                    orm.LTIContext.issuer == issuer, orm.LTIContext.context_id == context_id
                )
            ).all()
            if len(found) != 1:
                raise web.HTTPError(404, "no such LTI context: launch coursehub from it first")
            ref = found[0]
        return self.find_context(ref)

    def _render(self) -> str:
        user = self.learner()
        context = self._context()
        member = self.db.scalar(
            select(orm.LTIMember).where(
                orm.LTIMember.context_id == context.id, orm.LTIMember.user_id == user.id
            )
        )
        may_link = bool(member and member.launched and is_teaching(member.roles or []))
        return self.render_page(
            "lti_link.html",
            context=links.context_model(self.db, context),
            courses=self.access.teaching(self.db),
            may_link=may_link,
            grains=orm.LTI_GRAINS,
            xsrf=self.xsrf_token.decode(),
        )

    @web.authenticated
    async def post(self):
        course_ref = self.get_body_argument("course", "")
        grain = self.get_body_argument("grain", "module")
        slug = await self.in_db(self._link, course_ref, grain)
        self.redirect(f"{self.grader.service_prefix}courses/{quote(slug, safe='')}/lti", status=303)

    def _link(self, course_ref, grain) -> str:
        course = self.taught(course_ref)
        self.do_link(course, self._context().id, {"grain": grain})
        return course.slug


# patterns after the service's prefix without its slash (as pages.default_handlers)
default_handlers = [
    (r"/courses/([^/]+)/lti", CourseLTIPageHandler),
    (r"/lti/link", LinkPageHandler),
]
