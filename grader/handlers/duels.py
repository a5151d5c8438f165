"""REST API v1: duels between learners of a course, and the bot (:mod:`grader.learners.duels`).

- `POST duels` `{"course", "opponent"?, "bot"?, "time_limit"?}`: a challenge to a
  learner of the course, an open challenge (neither), or a bot duel (active at once).
- `GET duels?course=&status=&limit=`: the caller's duels and the open challenges they
  may accept; `GET duels/{id}`.
- `POST duels/{id}/accept|decline|cancel|resign`.
- `GET duels/ratings?course=&offset=&limit=`: the course's Elo board.

A duel is seen by its participants, and an open challenge by its course's learners;
anything else is a 404, so ids say nothing. Changes run in a writer transaction that
also writes the participants' events (`GET events`). Reads first settle the caller's
duels whose time is up (the service's periodic task does it too, for everyone).
"""

from __future__ import annotations

from sqlalchemy import select
from tornado import web

from .. import orm
from ..learners import duels
from .base import APIHandler, as_id, blocking


class DuelBaseHandler(APIHandler):
    @property
    def rules(self) -> duels.DuelRules:
        return duels.rules_of(self.queue)

    def visible_duel(self, db, duel_id, user_id: int) -> orm.Duel:
        """A duel the caller may see (see the module's docstring), or a 404."""
        duel = db.get(orm.Duel, as_id(duel_id, "duel"))
        if duel is not None:
            course = db.get(orm.Course, duel.course_id)
            if duels.may_see(duel, user_id, self.access.may_learn(course)):
                return duel
        raise web.HTTPError(404, f"no such duel: {duel_id}")

    def settle_mine(self, user: orm.User, duel_id: int | None = None) -> None:
        """The caller's duels that time (or a raced grading) decided, decided now."""
        ids = duels.due_duel_ids(self.db, user_id=user.id)
        if duel_id is not None:
            ids = [i for i in ids if i == duel_id]
        if ids:
            duels.settle(self.grader.writer_factory, self.rules, ids)
            self.db.rollback()  # this session's snapshot predates the settling

    def body_course(self, body: dict) -> orm.Course:
        """The body's `course` (id or slug), which the caller must learn in; without it,
        their only course."""
        ref = body.get("course")
        if ref is None:
            courses = self.access.learning(self.db)
            if len(courses) == 1:
                return courses[0]
            if not courses:
                raise web.HTTPError(400, "you are in no course yet: join one (GET courses)")
            raise web.HTTPError(400, "course is required: " + ", ".join(c.slug for c in courses))
        if not isinstance(ref, str | int) or isinstance(ref, bool):
            raise web.HTTPError(400, "course must be a course's slug or id")
        course = self.find_course(ref)
        if not self.access.may_learn(course):
            raise web.HTTPError(403, f"you are not enrolled in {course.slug}: join it first")
        return course


class DuelListAPIHandler(DuelBaseHandler):
    @web.authenticated
    @blocking
    def get(self):
        user = self.learner()
        course = self.course_argument(required=False)
        status = self.get_query_argument("status", None) or None
        if status is not None and status not in orm.DUEL_STATES:
            raise web.HTTPError(400, f"status must be one of {', '.join(orm.DUEL_STATES)}")
        limit = self.int_argument("limit", default=50, minimum=1, maximum=200)
        self.settle_mine(user)
        courses = [course] if course else self.access.learning(self.db)
        course_ids = [c.id for c in courses]
        now = orm.utcnow()
        mine = duels.learners_duels(self.db, user.id, course_ids, status, limit)
        open_ = (
            []
            if status not in (None, "open")
            else duels.open_challenges(self.db, user.id, course_ids, limit)
        )
        self.write_json(
            {
                "duels": [duels.duel_model(self.db, d, user.id, now) for d in mine],
                "open": [duels.duel_model(self.db, d, user.id, now) for d in open_],
            }
        )

    @web.authenticated
    @blocking
    def post(self):
        user = self.learner()
        body = self.get_json_body()
        course = self.body_course(body)
        bot = body.get("bot", False)
        if not isinstance(bot, bool):
            raise web.HTTPError(400, "bot must be true or false")
        name = body.get("opponent")
        if name is not None and (not isinstance(name, str) or not name):
            raise web.HTTPError(400, "opponent must be a learner's name")
        if name is not None and bot:
            raise web.HTTPError(400, "a duel is against the bot or against an opponent, not both")
        if name == user.name:
            raise web.HTTPError(400, "you cannot challenge yourself")
        opponent = None
        if name is not None:
            opponent = orm.User.find(self.db, name)
            enrolled = opponent is not None and self.db.scalar(
                select(orm.Enrolment.id).where(
                    orm.Enrolment.course_id == course.id, orm.Enrolment.user_id == opponent.id
                )
            )
            if not enrolled:
                raise web.HTTPError(404, f"no such learner in {course.slug}: {name}")
        with self.grader.writer_factory() as db:
            try:
                duel = duels.challenge(
                    db,
                    self.rules,
                    db.get(orm.Course, course.id),
                    db.get(orm.User, user.id),
                    db.get(orm.User, opponent.id) if opponent else None,
                    bot=bot,
                    time_limit=body.get("time_limit"),
                )
            except duels.DuelRefused as e:
                db.rollback()
                raise web.HTTPError(e.status, "%s", e.message) from None
            model = duels.duel_model(db, duel, user.id)
            db.commit()
        self.write_json(model, 201)


class DuelAPIHandler(DuelBaseHandler):
    @web.authenticated
    @blocking
    def get(self, duel_id):
        user = self.learner()
        duel = self.visible_duel(self.db, duel_id, user.id)
        if duel.status == "active":
            self.settle_mine(user, duel.id)
            duel = self.visible_duel(self.db, duel_id, user.id)
        self.write_json(duels.duel_model(self.db, duel, user.id))


class DuelActionAPIHandler(DuelBaseHandler):
    @web.authenticated
    @blocking
    def post(self, duel_id, action):
        user = self.learner()
        self.visible_duel(self.db, duel_id, user.id)  # a 404 before anything is written
        with self.grader.writer_factory() as db:
            duel = self.visible_duel(db, duel_id, user.id)
            course = db.get(orm.Course, duel.course_id)
            me = db.get(orm.User, user.id)
            try:
                if action == "accept":
                    if not self.access.may_learn(course):
                        raise duels.DuelRefused(
                            403, f"you are not enrolled in {course.slug}: join it first"
                        )
                    duels.accept(db, self.rules, duel, me)
                elif action == "decline":
                    duels.decline(db, duel, me)
                elif action == "cancel":
                    duels.cancel(db, duel, me)
                else:
                    duels.resign(db, self.rules, duel, me)
            except duels.DuelRefused as e:
                db.rollback()
                raise web.HTTPError(e.status, "%s", e.message) from None
            model = duels.duel_model(db, duel, user.id)
            db.commit()
        self.write_json(model)


class DuelRatingsAPIHandler(DuelBaseHandler):
    @web.authenticated
    @blocking
    def get(self):
        user = self.learner()
        course = self.course_argument()
        offset = self.int_argument("offset", default=0)
        limit = self.int_argument("limit", default=50, minimum=1, maximum=500)
        entries, total = duels.ratings_board(
            self.db, course, user.id, reveal=self.access.may_author(course), offset=offset,
            limit=limit,
        )  # fmt: skip
        self.write_json(
            {"course": course.slug, "entries": entries, "total": total, "offset": offset}
        )


default_handlers = [
    (r"duels", DuelListAPIHandler),
    (r"duels/ratings", DuelRatingsAPIHandler),
    (r"duels/(\d+)", DuelAPIHandler),
    (r"duels/(\d+)/(accept|decline|cancel|resign)", DuelActionAPIHandler),
]
