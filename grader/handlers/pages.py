"""The grader's pages: what a browser finds at `/services/grader/` (the Hub's
*Services → grader* link).

An instructor is sent to the dashboard of the course they teach, or gets the list of
the courses they teach (each course's pages are in `course_pages.py`). A learner gets
their progress per module and the way to their JupyterLab, where the coursehub panel
is. Someone not signed in is sent through the Hub's OAuth (`HubOAuthenticated`'s login
redirect) and comes back here.

Plain server-rendered HTML (Jinja2, every value escaped), in the Hub's look (its own
stylesheet, through the proxy); nothing from the network and no script (but the
hand-grading form's file of the grader's own, on that page only), which the
Content-Security-Policy holds to. Database work and rendering run in the database
threads, like the API's.
"""

from __future__ import annotations

from http.client import responses
from pathlib import Path
from urllib.parse import quote

import jinja2
from tornado import web

from ..learners import scores
from .base import GraderHandler

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

# the pages load the Hub's stylesheet (and its fonts, images) from the same origin, and
# nothing else: no script at all
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; font-src 'self'; img-src 'self'; "
    "frame-ancestors 'self'; form-action 'self'; base-uri 'none'"
)


def template_environment() -> jinja2.Environment:
    """The pages' templates (``grader/templates``), escaping every value."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


class PageHandler(GraderHandler):
    """An HTML page: the Hub's OAuth login redirect when nobody is signed in (the
    default `get_login_url` of `HubOAuthenticated`, not the API's 403), HTML errors."""

    def get_login_url(self):
        if self._not_allowed:
            # signed in, but without access to this service: the Hub's login would only
            # send them back here
            raise web.HTTPError(403, "%s", f"{self._not_allowed['name']} may not use this service")
        return super().get_login_url()

    def set_default_headers(self):
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        self.set_header("X-Content-Type-Options", "nosniff")

    def render_page(self, name: str, **context) -> str:
        """Render a template with what every page shows (callable in a thread)."""
        grader = self.grader
        base = {
            "prefix": grader.service_prefix,
            "hub_prefix": self.hub_auth.hub_prefix,
            # not self.current_user: after a failed prepare() that would ask the Hub again
            "user": (getattr(self, "_hub_auth_user_cache", None) or {}).get("name"),
        }
        return self.settings["grader_templates"].get_template(name).render(**base, **context)

    def write_error(self, status_code, **kwargs):
        reason = responses.get(status_code, "Unknown HTTP error")
        message = ""
        exception = kwargs.get("exc_info", (None, None))[1]
        if isinstance(exception, web.HTTPError) and exception.log_message:
            message = exception.log_message
            if exception.args:
                message = message % exception.args
        self.finish(
            self.render_page("error.html", status=status_code, reason=reason, message=message)
        )


class HomePageHandler(PageHandler):
    """`/services/grader/`: an instructor's course dashboard (`course_pages`), or the
    list of the courses they teach; the learner's page."""

    @web.addslash
    @web.authenticated
    async def get(self):
        # reading the XSRF token sets the `_xsrf` cookie again if the browser lost it
        # (it is a session cookie; the login cookie lasts longer): the API needs it for
        # cookie-authenticated requests that change anything
        self.xsrf_token  # noqa: B018
        page, dashboard = await self.in_db(self._render)
        if dashboard:
            self.redirect(dashboard)
        else:
            self.finish(page)

    def _render(self) -> tuple[str | None, str | None]:
        """(the page, or the course dashboard to send an instructor to)."""
        user = self.learner()
        teaching = self.access.teaching(self.db)
        lab_url = f"{self.grader.hub_base_url}user/{quote(user.name, safe='')}/lab"
        courses = self.access.learning(self.db)
        if teaching:
            # an instructor of one course (or asking for one, `?course=`): its
            # dashboard; of several, or learning in others too: the list
            wanted = self.get_query_argument("course", None)
            chosen = [c for c in teaching if c.slug == wanted]
            if not chosen and len(teaching) == 1 and len(courses) <= 1:
                chosen = teaching
            if chosen:
                return None, f"{self.grader.service_prefix}courses/{quote(chosen[0].slug)}/"
            taught = {c.id for c in teaching}
            learning = [c for c in courses if c.id not in taught]
            page = self.render_page(
                "courses.html", courses=teaching, learning=learning, lab_url=lab_url
            )
            return page, None
        progress = scores.progress(self.db, user, [c.id for c in courses])
        page = self.render_page("learner.html", courses=courses, progress=progress, lab_url=lab_url)
        return page, None


# patterns after the service's prefix without its slash: `/services/grader` is sent on
# to `/services/grader/`
default_handlers = [
    (r"/?", HomePageHandler),
]
