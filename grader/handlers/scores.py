"""Progress, profiles (and avatars), leaderboards and the gradebook.

`gradebook.csv` is streamed: a page of learners is read (in a thread), written and
flushed before the next is read, so an export of any size takes constant memory and
never holds the event loop. The JSON gradebook is paged the same way (`after`, `limit`).
"""

from __future__ import annotations

import asyncio
from math import ceil

from sqlalchemy import select
from tornado import web
from tornado.iostream import StreamClosedError

from .. import orm
from ..images import MAX_IMAGE_BYTES, ImageError, base64_body_limit, clean_image, from_base64
from ..instructors import gradebook
from ..learners import awards, profiles, scores
from .base import APIHandler, LimitError, blocking


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
    def _profile(self, user: orm.User, course=None, reader: orm.User | None = None) -> dict:
        """A profile in `?course=` (or the reader's only course); without one, the
        activity in the reader's own courses. ``reader``: someone else reading it."""
        course = course or self.course_argument(required=False)
        reader_id = reader.id if reader is not None else None
        rules = awards.rules_of(self.queue)
        if course is not None:
            reveal = self.access.may_author(course)
            return profiles.profile(
                self.db, user, course, reader_id=reader_id, reveal=reveal, award_rules=rules
            )
        mine = [c.id for c in self.access.learning(self.db)]
        return profiles.profile(self.db, user, None, mine, reader_id=reader_id, award_rules=rules)

    def _own_profile(self, user: orm.User) -> dict:
        """The public part and, for its owner only, the private one."""
        model = self._profile(user)
        model["private"] = profiles.private_part(user)
        return model


class ProfileAPIHandler(ProfileReader, APIHandler):
    """The requesting learner's own profile: read and edit (public and private parts)."""

    @web.authenticated
    @blocking
    def get(self):
        user = self.learner()
        self.write_json(self._own_profile(user))

    @web.authenticated
    @blocking
    def patch(self):
        user = self.learner()
        body = self.get_json_body()
        try:
            profiles.apply_changes(user, body)
        except profiles.ProfileError as e:
            raise web.HTTPError(400, str(e)) from None
        self.db.commit()
        self.write_json(self._own_profile(user))


class ProfileAvatarAPIHandler(ProfileReader, APIHandler):
    """The requesting learner's picture: `PUT` its bytes (the body itself, whatever
    the Content-Type says; or a JSON object `{"data": "<base64>"}`), checked and
    re-encoded (grader.images); `DELETE` removes it. Both answer the own profile."""

    @web.authenticated
    async def put(self):
        await self.in_db(self._may_change)
        try:
            data = self._image_bytes()
            png = await asyncio.to_thread(clean_image, data, what="avatar")
        except ImageError as e:
            raise web.HTTPError(e.status, str(e)) from None
        self.write_json(await self.in_db(self._store, png))

    @web.authenticated
    @blocking
    def delete(self):
        user = self.learner()
        user.avatar, user.avatar_updated = None, None
        self.db.commit()
        self.write_json(self._own_profile(user))

    def _may_change(self):
        user = self.learner()
        if user.avatar_updated is not None:
            elapsed = (orm.utcnow() - user.avatar_updated).total_seconds()
            wait = profiles.AVATAR_CHANGE_INTERVAL - elapsed
            if wait > 0:
                raise LimitError(
                    429, "the avatar was changed a moment ago: try again shortly", ceil(wait)
                )

    def _image_bytes(self) -> bytes:
        # the bytes decide what was sent, not the Content-Type: no image starts with "{"
        if not self.request.body.lstrip()[:1] == b"{":
            return self.request.body
        body = self.get_json_body(base64_body_limit(MAX_IMAGE_BYTES), "avatar")
        return from_base64(body.get("data"), "data")

    def _store(self, png: bytes) -> dict:
        user = self.learner()
        user.avatar, user.avatar_updated = png, orm.utcnow()
        self.db.commit()
        return self._own_profile(user)


class PublicProfileAPIHandler(ProfileReader, APIHandler):
    """Anyone signed in reads the public part of anyone's profile (scores in a course
    the reader is in); never the private part."""

    @web.authenticated
    @blocking
    def get(self, name):
        reader = self.learner()
        course = self.course_argument(required=False)
        user = orm.User.find(self.db, name)
        if user is None:
            raise web.HTTPError(404, f"no such user: {name}")
        self.write_json(self._profile(user, course, reader))


class AvatarAPIHandler(APIHandler):
    """A learner's picture, as a PNG the grader made (for signed-in users only)."""

    @web.authenticated
    async def get(self, name):
        png = await self.in_db(self._avatar, name)
        self.set_header("Content-Type", "image/png")
        # its URL changes with the picture (?v=): kept a day, in the browser only
        self.set_header("Cache-Control", "private, max-age=86400")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Security-Policy", "default-src 'none'; sandbox")
        self.finish(png)

    def _avatar(self, name) -> bytes:
        self.learner()
        png = self.db.scalar(select(orm.User.avatar).where(orm.User.name == name))
        if png is None:
            raise web.HTTPError(404, f"no avatar for {name}")
        return png


class LeaderboardAPIHandler(APIHandler):
    """A page of a course's (or a module's) leaderboard. Learners who chose anonymity
    are "anonymous learner" to other learners; the course's instructors see names."""

    @web.authenticated
    @blocking
    def get(self):
        viewer = self.learner()
        module_ref = self.get_query_argument("module", None)
        if module_ref:
            module = self.find_module(module_ref, self.course_argument(required=False))
            course, board = module.course, module.id
        else:
            module, course = None, self.course_argument()
            board = course.board
        offset = self.int_argument("offset", default=0)
        limit = self.int_argument("limit", default=50, minimum=1, maximum=500)
        entries, total = scores.leaderboard(
            self.db, board, offset, limit, viewer.id, reveal=self.access.may_author(course)
        )
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
            await self.in_db(self._record_export, course)
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

    def _record_export(self, course):
        """The export on the audit log before a byte of it is sent."""
        self.audit(
            self.db, "export.gradebook", course_id=course.id, target=f"gradebook.csv {course.slug}"
        )
        self.db.commit()

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
    (r"profile/avatar", ProfileAvatarAPIHandler),
    (r"profiles/([^/]+)/avatar", AvatarAPIHandler),
    (r"profiles/([^/]+)", PublicProfileAPIHandler),
    (r"leaderboard", LeaderboardAPIHandler),
    (r"gradebook(\.csv)?", GradebookAPIHandler),
]
