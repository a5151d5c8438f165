"""A learner's achievements and a question's hints (:mod:`grader.learners.awards`).

`GET achievements?course=` is the caller's own: XP, streak, best streak and every
achievement of the course, earned (when) or not. Other learners' earned achievements are
in their public profiles only (`profiles/{name}`), so this takes no `user`.

`GET questions/{id}/hints` says how many hints a question has and gives the text of
those the caller revealed, never the others; `POST` reveals the next one (409 once all
are). Both are for released questions of the caller's courses: `find_question`
answers 404 for any question the caller cannot see, and a draft's instructors get a 403. Revealing a hint costs
`AwardRules.hint_penalty` of the question's XP if the learner solves it later.
"""

from __future__ import annotations

from tornado import web

from .. import orm
from ..learners import awards
from .base import APIHandler, blocking


class AchievementsAPIHandler(APIHandler):
    @web.authenticated
    @blocking
    def get(self):
        user = self.learner()
        if self.get_query_argument("user", None) is not None:
            raise web.HTTPError(
                400,
                "achievements are the caller's own: another learner's earned ones are in "
                "their profile (profiles/{name})",
            )
        course = self.course_argument()
        rules = awards.rules_of(self.queue)
        self.write_json(awards.achievements_model(self.db, user, course, rules))


class HintsAPIHandler(APIHandler):
    def hinted_question(self, question_id) -> tuple[orm.User, orm.Question]:
        """The caller and the question, if they may see it (a learner of its course, or
        an instructor, who learns there too) and it is released."""
        user = self.learner()
        question = self.find_question(question_id)
        if not question.is_released():  # only its instructors see it
            raise web.HTTPError(
                403, f"question {question.id} is not released: its hints are not revealed yet"
            )
        return user, question

    @web.authenticated
    @blocking
    def get(self, question_id):
        user, question = self.hinted_question(question_id)
        rules = awards.rules_of(self.queue)
        self.write_json(awards.hints_model(self.db, user, question, rules))

    @web.authenticated
    @blocking
    def post(self, question_id):
        user, question = self.hinted_question(question_id)
        if not question.hints:
            raise web.HTTPError(409, f"question {question.id} has no hints")
        with self.grader.writer_factory() as db:
            index = awards.reveal_next_hint(db, user.id, question)
        if index is None:
            raise web.HTTPError(409, f"every hint of question {question.id} is revealed already")
        self.db.rollback()  # this session's snapshot predates the reveal
        rules = awards.rules_of(self.queue)
        self.write_json(awards.hints_model(self.db, user, question, rules))


default_handlers = [
    (r"achievements", AchievementsAPIHandler),
    (r"questions/(\d+)/hints", HintsAPIHandler),
]
