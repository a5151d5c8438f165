"""Learning paths (:mod:`grader.learners.paths`): listing, following, making them.

- `GET paths?course=`: the public paths of the caller's courses (of one, with `course`)
  and the caller's own private ones; `GET paths/{id}` adds the items they can see.
- `POST paths`: with `course`, a public path of a course the caller teaches, every
  question in a course they teach; without, the caller's own private path, every
  question one they can see. `PUT paths/{id}` (its owner, or an instructor of its
  course): title, description, questions (the new order). `DELETE paths/{id}`.
- `POST paths/{id}/enrol` follows a path (again: nothing changes); `DELETE` stops.

A path the caller cannot see is a 404, whoever owns it; a question they cannot see is
a 400 naming it (as if it did not exist); a question of a course they only learn in,
on a course's path, a 403 naming it.
"""

from __future__ import annotations

from sqlalchemy import select
from tornado import web

from .. import orm
from ..learners import paths
from .base import MAX_ID, APIHandler, as_id, blocking
from .validation import optional_text, required_slug, required_text

EDITABLE = {"title", "description", "questions"}


class PathsBase(APIHandler):
    def visible_row(self, user, path_id):
        row = paths.visible_path(self.db, user, self.access, as_id(path_id, "path"))
        if row is None:
            raise web.HTTPError(404, f"no such path: {path_id}")
        return row

    def editable_row(self, user, path_id):
        row = self.visible_row(user, path_id)
        path, course_slug, _ = row
        if not paths.may_edit(user, self.access, path, course_slug):
            where = f"an instructor of {course_slug}" if course_slug else "its owner"
            raise web.HTTPError(403, f"only its owner or {where} may change path {path.id}")
        return row

    def model(self, user, path_id) -> dict:
        row = self.visible_row(user, path_id)
        return paths.path_models(self.db, user, self.access, [row], with_items=True)[0]

    def checked_questions(self, body: dict, for_course: bool) -> list[int]:
        """The body's `questions`: ids the caller may put in this kind of path, in order."""
        refs = body.get("questions")
        if not isinstance(refs, list) or not refs:
            raise web.HTTPError(400, "questions must be a non-empty list of question ids")
        if len(refs) > paths.MAX_PATH_QUESTIONS:
            raise web.HTTPError(400, f"questions: at most {paths.MAX_PATH_QUESTIONS}")
        if not all(
            isinstance(r, int) and not isinstance(r, bool) and 0 < r <= MAX_ID for r in refs
        ):
            raise web.HTTPError(400, "questions must be a list of question ids (integers)")
        rows = {
            row.id: row
            for row in self.db.execute(
                select(
                    orm.Question.id, orm.Question.released, orm.Question.retired, orm.Course.slug
                )
                .join(orm.Module, orm.Module.id == orm.Question.module_id)
                .join(orm.Course, orm.Course.id == orm.Module.course_id)
                .where(orm.Question.id.in_(refs))
            )
        }
        now, seen = orm.utcnow(), set()
        for qid in refs:
            row = rows.get(qid)
            if row is None or not paths.item_visible(
                self.access, row.slug, row.released, row.retired, now
            ):
                raise web.HTTPError(400, f"questions: no such question: {qid}")
            if for_course and not paths.teaches(self.access, row.slug):
                raise web.HTTPError(
                    403,
                    f"questions: question {qid} is in {row.slug}, which you do not teach: "
                    "a course's path holds questions of courses its instructors teach",
                )
            if qid in seen:
                raise web.HTTPError(400, f"questions: question {qid} is listed twice")
            seen.add(qid)
        return list(refs)


class PathListAPIHandler(PathsBase):
    @web.authenticated
    @blocking
    def get(self):
        user = self.learner()
        course = self.course_argument(required=False)
        rows = paths.visible_paths(self.db, user, self.access, course)
        self.write_json({"paths": paths.path_models(self.db, user, self.access, rows)})

    @web.authenticated
    @blocking
    def post(self):
        user = self.learner()
        body = self.get_json_body()
        unknown = set(body) - EDITABLE - {"slug", "course", "public"}
        if unknown:
            raise web.HTTPError(400, f"unknown fields: {', '.join(sorted(unknown))}")
        course_ref = body.get("course")
        public = body.get("public", course_ref is not None)
        if not isinstance(public, bool):
            raise web.HTTPError(400, "public must be true or false")
        course = None
        if course_ref is not None:
            if not isinstance(course_ref, str | int) or isinstance(course_ref, bool):
                raise web.HTTPError(400, "course must be a course's slug or id")
            course = self.find_course(course_ref)
            if not self.access.may_author(course):
                raise web.HTTPError(
                    403,
                    f"only instructors of {course.slug} may publish a path in it: "
                    "leave out course to make a path of your own",
                )
            if not public:
                raise web.HTTPError(400, "public: a course's path is public (leave out course)")
        elif public:
            raise web.HTTPError(
                400, "public: only a course's path is public: give the course you teach"
            )
        title = required_text(body, "title")
        description = optional_text(body, "description")
        ids = self.checked_questions(body, for_course=course is not None)
        owner = user
        if course is None and paths.own_path_count(self.db, user) >= paths.MAX_OWN_PATHS:
            raise web.HTTPError(
                409, f"you have {paths.MAX_OWN_PATHS} paths of your own: delete one first"
            )
        if body.get("slug") is not None:
            slug = required_slug(body, "slug")
            if paths.find_by_slug(self.db, course, owner, slug) is not None:
                where = course.slug if course else "your own paths"
                raise web.HTTPError(409, f"{where} has a path {slug!r} already")
        else:
            slug = paths.free_slug(self.db, course, owner, paths.slug_from(title))
        path = paths.create_path(self.db, course, owner, slug, title, description, ids)
        self.db.commit()
        self.write_json(self.model(user, path.id), status=201)


class PathAPIHandler(PathsBase):
    @web.authenticated
    @blocking
    def get(self, path_id):
        user = self.learner()
        self.write_json(self.model(user, path_id))

    @web.authenticated
    @blocking
    def put(self, path_id):
        user = self.learner()
        path, course_slug, _ = self.editable_row(user, path_id)
        body = self.get_json_body()
        unknown = set(body) - EDITABLE
        if unknown:
            raise web.HTTPError(
                400,
                f"unknown fields: {', '.join(sorted(unknown))} (a path's title, description "
                "and questions change; its course and who sees it are set when it is made)",
            )
        if "title" in body:
            path.title = required_text(body, "title")
        if "description" in body:
            path.description = optional_text(body, "description")
        if "questions" in body:
            ids = self.checked_questions(body, for_course=course_slug is not None)
            # items the caller cannot see (another course's part of a shared path, a
            # retired question) keep their place at the end: an editor changes what they
            # see, not what they cannot
            hidden = [qid for qid in self._unseen_items(path) if qid not in ids]
            paths.set_items(self.db, path, ids + hidden)
        path.updated = orm.utcnow()
        self.db.commit()
        self.write_json(self.model(user, path.id))

    def _unseen_items(self, path) -> list[int]:
        """The path's items the caller does not see, in order."""
        now = orm.utcnow()
        rows = self.db.execute(
            select(
                orm.PathItem.question_id,
                orm.Question.released,
                orm.Question.retired,
                orm.Course.slug,
            )
            .join(orm.Question, orm.Question.id == orm.PathItem.question_id)
            .join(orm.Module, orm.Module.id == orm.Question.module_id)
            .join(orm.Course, orm.Course.id == orm.Module.course_id)
            .where(orm.PathItem.path_id == path.id)
            .order_by(orm.PathItem.position)
        )
        return [
            row.question_id
            for row in rows
            if not paths.item_visible(self.access, row.slug, row.released, row.retired, now)
        ]

    @web.authenticated
    @blocking
    def delete(self, path_id):
        user = self.learner()
        path, _, _ = self.editable_row(user, path_id)
        paths.delete_path(self.db, path)
        self.db.commit()
        self.no_content()


class PathEnrolAPIHandler(PathsBase):
    @web.authenticated
    @blocking
    def post(self, path_id):
        user = self.learner()
        path, _, _ = self.visible_row(user, path_id)
        paths.enrol(self.db, user, path)
        self.db.commit()
        self.write_json(self.model(user, path.id))

    @web.authenticated
    @blocking
    def delete(self, path_id):
        user = self.learner()
        path, _, _ = self.visible_row(user, path_id)
        paths.leave(self.db, user, path)
        self.db.commit()
        self.no_content()


default_handlers = [
    (r"paths", PathListAPIHandler),
    (r"paths/(\d+)", PathAPIHandler),
    (r"paths/(\d+)/enrol", PathEnrolAPIHandler),
]
