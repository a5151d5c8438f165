"""The grader's pages: what a browser finds at `/services/grader/` (the Hub's
*Services → grader* link).

An instructor (scope `custom:coursehub:author`) gets a dashboard: modules and their
questions with submissions and how many learners solved each, links to the gradebook
and the JSON API. A learner gets their progress per module and the way to their
JupyterLab, where the coursehub panel is. Someone not signed in is sent through the
Hub's OAuth (`HubOAuthenticated`'s login redirect) and comes back here.

Plain server-rendered HTML (Jinja2, every value escaped), in the Hub's look (its own
stylesheet, through the proxy); no script and nothing from the network, which the
Content-Security-Policy holds to. Database work and rendering run in the database
threads, like the API's.
"""

from __future__ import annotations

from http.client import responses
from pathlib import Path
from urllib.parse import quote

import jinja2
from tornado import web

from ..instructors.overview import course_overview
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
    """`/services/grader/`: the instructor's dashboard or the learner's page."""

    @web.addslash
    @web.authenticated
    async def get(self):
        # reading the XSRF token sets the `_xsrf` cookie again if the browser lost it
        # (it is a session cookie; the login cookie lasts longer): the API needs it for
        # cookie-authenticated requests that change anything
        self.xsrf_token  # noqa: B018
        self.finish(await self.in_db(self._render))

    def _render(self) -> str:
        if self.is_author:
            return self.render_page("dashboard.html", **course_overview(self.db))
        user = self.learner()  # 403 without the learner's scope
        lab_url = f"{self.grader.hub_base_url}user/{quote(user.name, safe='')}/lab"
        return self.render_page(
            "learner.html", progress=scores.progress(self.db, user), lab_url=lab_url
        )


# patterns after the service's prefix without its slash: `/services/grader` is sent on
# to `/services/grader/`
default_handlers = [
    (r"/?", HomePageHandler),
]
