"""Progress, profiles, leaderboards and the gradebook: read-only views of best scores."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select
from tornado import web

from .. import orm, scores
from ..scopes import AUTHOR_SCOPE
from .base import APIHandler
from .validation import optional_text


class ProgressAPIHandler(APIHandler):
    @web.authenticated
    def get(self, name=None):
        user = self.learner()
        if name and name != user.name:
            if not self.is_author:
                raise web.HTTPError(403, "only instructors read other learners' progress")
            user = orm.User.find(self.db, name)
            if user is None:
                raise web.HTTPError(404, f"no such user: {name}")
        self.write_json({"user": user.name, "modules": scores.progress(self.db, user)})


class ProfileAPIHandler(APIHandler):
    """The requesting learner's own profile: read and edit."""

    @web.authenticated
    def get(self):
        user = self.learner()
        self.write_json(scores.profile(self.db, user))

    @web.authenticated
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
        self.write_json(scores.profile(self.db, user))


class PublicProfileAPIHandler(APIHandler):
    """Anyone signed in reads the public part of anyone's profile."""

    @web.authenticated
    def get(self, name):
        self.learner()
        user = orm.User.find(self.db, name)
        if user is None:
            raise web.HTTPError(404, f"no such user: {name}")
        self.write_json(scores.profile(self.db, user))


class LeaderboardAPIHandler(APIHandler):
    @web.authenticated
    def get(self):
        self.learner()
        module_ref = self.get_query_argument("module", None)
        module = self.find_module(module_ref) if module_ref else None
        offset = self.int_argument("offset", default=0)
        limit = self.int_argument("limit", default=50, minimum=1, maximum=500)
        entries, total = scores.leaderboard(self.db, module and module.id, offset, limit)
        self.write_json(
            {
                "module": module and module.id,
                "entries": entries,
                "total": total,
                "offset": offset,
                "limit": limit,
            }
        )


class GradebookAPIHandler(APIHandler):
    """Best scores by learner and question, as JSON or CSV (`gradebook.csv`)."""

    @web.authenticated
    def get(self, as_csv=None):
        self.require_scope(AUTHOR_SCOPE)
        questions = self.db.scalars(
            select(orm.Question)
            .join(orm.Module)
            .where(orm.Question.retired.is_(False))
            .order_by(orm.Module.position, orm.Question.position, orm.Question.id)
        ).all()
        best = self.db.scalars(select(orm.BestScore)).all()
        by_user: dict[int, dict[int, float]] = {}
        for row in best:
            by_user.setdefault(row.user_id, {})[row.question_id] = row.score
        users = self.db.scalars(select(orm.User).order_by(orm.User.name)).all()
        rows = [
            {
                "user": u.name,
                "scores": {str(q.id): by_user.get(u.id, {}).get(q.id) for q in questions},
                "total": sum(by_user.get(u.id, {}).values()),
            }
            for u in users
            if u.id in by_user
        ]
        columns = [
            {"id": q.id, "slug": f"{q.module.slug}/{q.slug}", "points": q.max_score}
            for q in questions
        ]
        if as_csv:
            self.set_header("Content-Type", "text/csv; charset=UTF-8")
            self.set_header("Content-Disposition", 'attachment; filename="gradebook.csv"')
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(["user", *[c["slug"] for c in columns], "total"])
            for row in rows:
                writer.writerow(
                    [
                        row["user"],
                        *[_blank(row["scores"][str(c["id"])]) for c in columns],
                        row["total"],
                    ]
                )
            self.finish(out.getvalue())
            return
        self.write_json({"questions": columns, "learners": rows})


def _blank(value):
    return "" if value is None else value


default_handlers = [
    (r"progress", ProgressAPIHandler),
    (r"progress/([^/]+)", ProgressAPIHandler),
    (r"profile", ProfileAPIHandler),
    (r"profiles/([^/]+)", PublicProfileAPIHandler),
    (r"leaderboard", LeaderboardAPIHandler),
    (r"gradebook(\.csv)?", GradebookAPIHandler),
]
