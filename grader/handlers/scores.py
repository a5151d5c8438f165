"""Progress, profiles, leaderboards and the gradebook: read-only views of best scores.

`gradebook.csv` is streamed: a page of learners is read (in a thread), written and
flushed before the next is read, so an export of any size takes constant memory and
never holds the event loop. The JSON gradebook is paged the same way (`after`, `limit`).
"""

from __future__ import annotations

from tornado import web
from tornado.iostream import StreamClosedError

from .. import orm
from ..instructors import gradebook
from ..learners import scores
from .base import APIHandler, blocking
from .validation import optional_text


class ProgressAPIHandler(APIHandler):
    @web.authenticated
    @blocking
    def get(self, name=None):
        user = self.learner()
        course = self.course_argument(required=False)
        courses = [course] if course else self.access.learning(self.db)
        if name and name != user.name:
            courses = [c for c in courses if self.access.may_author(c)]
            if not courses:
                raise web.HTTPError(403, "only instructors read other learners' progress")
            user = orm.User.find(self.db, name)
            if user is None:
                raise web.HTTPError(404, f"no such user: {name}")
        modules = scores.progress(self.db, user, [c.id for c in courses])
        self.write_json({"user": user.name, "modules": modules})


class ProfileReader:
    def _profile(self, user: orm.User, course=None) -> dict:
        """A profile in `?course=` (or the reader's only course); without one, the
        activity in the reader's own courses."""
        course = course or self.course_argument(required=False)
        if course is not None:
            return scores.profile(self.db, user, course)
        mine = [c.id for c in self.access.learning(self.db)]
        return scores.profile(self.db, user, None, mine)


class ProfileAPIHandler(ProfileReader, APIHandler):
    """The requesting learner's own profile: read and edit."""

    @web.authenticated
    @blocking
    def get(self):
        user = self.learner()
        self.write_json(self._profile(user))

    @web.authenticated
    @blocking
    def patch(self):
        user = self.learner()
        body = self.get_json_body()
        unknown = set(body) - {"display_name", "bio"}
        if unknown:
            raise web.HTTPError(400, f"cannot change {', '.join(sorted(unknown))}")
        if "display_name" in body:
            user.display_name = optional_text(body, "display_name", max_length=100).strip()
        if "bio" in body:
            user.bio = optional_text(body, "bio", max_length=2000)
        self.db.commit()
        self.write_json(self._profile(user))


class PublicProfileAPIHandler(ProfileReader, APIHandler):
    """Anyone signed in reads the public part of anyone's profile (scores in a course
    the reader is in)."""

    @web.authenticated
    @blocking
    def get(self, name):
        self.learner()
        course = self.course_argument(required=False)
        user = orm.User.find(self.db, name)
        if user is None:
            raise web.HTTPError(404, f"no such user: {name}")
        self.write_json(self._profile(user, course))


class LeaderboardAPIHandler(APIHandler):
    @web.authenticated
    @blocking
    def get(self):
        self.learner()
        module_ref = self.get_query_argument("module", None)
        if module_ref:
            module = self.find_module(module_ref, self.course_argument(required=False))
            course, board = module.course, module.id
        else:
            module, course = None, self.course_argument()
            board = course.board
        offset = self.int_argument("offset", default=0)
        limit = self.int_argument("limit", default=50, minimum=1, maximum=500)
        entries, total = scores.leaderboard(self.db, board, offset, limit)
        self.write_json(
            {
                "course": course.slug,
                "module": module and module.id,
                "entries": entries,
                "total": total,
                "offset": offset,
                "limit": limit,
            }
        )


class GradebookAPIHandler(APIHandler):
    """Best scores by learner and question: `gradebook.csv` (every learner, streamed) or
    JSON, a page of learners at a time (`?after=<last user of the previous page>`)."""

    @web.authenticated
    async def get(self, as_csv=None):
        course = await self.in_db(self._course)
        if as_csv:
            await self._stream_csv(course)
            return
        limit = self.int_argument("limit", default=gradebook.PAGE_SIZE, minimum=1, maximum=5000)
        after = self.get_query_argument("after", None)
        cols, learners = await self.in_db(self._page, course, after, limit)
        model = {
            "course": course.slug,
            "questions": cols,
            "learners": gradebook.as_json([c["id"] for c in cols], learners),
        }
        if len(learners) == limit:
            model["next"] = learners[-1][0]  # pass as ?after= for the next page
        self.write_json(model)

    def _course(self) -> orm.Course:
        """The course asked for (or the caller's only one), which the caller teaches."""
        self.learner()
        course = self.taught_course_argument("the gradebook is a course's")
        self.db.expunge(course)  # read again in other sessions (pages)
        return course

    def _page(self, course, after, limit, cols=None):
        with self.grader.session_factory() as db:
            if cols is None:
                cols = gradebook.columns(db, course)
            ids = [c["id"] for c in cols]
            return cols, gradebook.learners_page(db, course, ids, after, limit)

    def _csv_page(self, course, after, cols):
        """(CSV text of the page of learners after ``after``, its last name or None)."""
        _, learners = self._page(course, after, gradebook.PAGE_SIZE, cols)
        last = learners[-1][0] if len(learners) == gradebook.PAGE_SIZE else None
        return gradebook.csv_rows(cols, learners), last

    async def _stream_csv(self, course):
        self.set_header("Content-Type", "text/csv; charset=UTF-8")
        filename = f"gradebook-{course.slug}.csv"
        self.set_header("Content-Disposition", f'attachment; filename="{filename}"')
        cols, _ = await self.in_db(self._page, course, None, 0)
        self.write(gradebook.csv_header(cols))
        after = None
        try:
            while True:
                # read and formatted in a database thread; the loop only sends it
                text, after = await self.in_db(self._csv_page, course, after, cols)
                self.write(text)
                await self.flush()  # sent before the next page is read
                if after is None:
                    break
        except StreamClosedError:
            return
        self.finish()


default_handlers = [
    (r"progress", ProgressAPIHandler),
    (r"progress/([^/]+)", ProgressAPIHandler),
    (r"profile", ProfileAPIHandler),
    (r"profiles/([^/]+)", PublicProfileAPIHandler),
    (r"leaderboard", LeaderboardAPIHandler),
    (r"gradebook(\.csv)?", GradebookAPIHandler),
]
