"""REST API v1: the caller's spaced-repetition reviews (:mod:`grader.learners.reviews`).

`GET reviews?course=&limit=` lists the caller's due cards and counts them (due now,
by the end of their day in their time zone, in the next 7 days, all); `GET
reviews/{question}` is one card. `POST reviews/{question}/start` marks it opened (a
graded review's time counts from there; a flashcard's card is made here). `POST
reviews/{question}` rates a flashcard; every other type is reviewed by grading only, so
a learner cannot choose a rating for it.

Every question is found with `find_question` (404 for one outside the caller's
courses), and only the caller's own cards are ever read or written: there is no `user`
argument.
"""

from __future__ import annotations

from tornado import web

from .. import orm
from ..learners import reviews
from .base import APIHandler, blocking

#: cards listed by `GET reviews` at most
MAX_LIMIT = 200
#: a flashcard review's duration, at most (longer is a card left open, not thinking time)
MAX_DURATION_MS = 24 * 3600 * 1000


class ReviewListAPIHandler(APIHandler):
    @web.authenticated
    @blocking
    def get(self):
        refuse_user_argument(self)
        user = self.learner()
        course = self.course_argument(required=False)
        courses = [course] if course else self.access.learning(self.db)
        limit = self.int_argument("limit", 50, minimum=1, maximum=MAX_LIMIT)
        self.write_json(reviews.reviews_model(self.db, user, [c.id for c in courses], limit))


def refuse_user_argument(handler: APIHandler) -> None:
    if handler.get_query_argument("user", None) is not None:
        raise web.HTTPError(400, "reviews are the caller's own: there is no user argument")


class ReviewCardHandler(APIHandler):
    def reviewed_question(self, question_id) -> tuple[orm.User, orm.Question]:
        """The caller and a released question of their courses (404 otherwise)."""
        refuse_user_argument(self)
        user = self.learner()
        question = self.find_question(question_id)
        if not question.is_released():  # a draft its instructor sees: nothing to review
            raise web.HTTPError(404, f"question {question.id} is not released: no review")
        return user, question


class ReviewAPIHandler(ReviewCardHandler):
    @web.authenticated
    @blocking
    def get(self, question_id):
        user, question = self.reviewed_question(question_id)
        row = self.db.get(orm.ReviewCard, (user.id, question.id))
        # no card yet (not solved, a flashcard never rated): a new one, due when first
        # learned; a 404 would read as a question the caller may not see
        self.write_json(reviews.card_model(row, question))

    @web.authenticated
    @blocking
    def post(self, question_id):
        user, question = self.reviewed_question(question_id)
        if question.type != reviews.FLASHCARD:
            raise web.HTTPError(
                400,
                f"question {question.id} is a {question.type} question: rated by grading, "
                "submit it (POST submissions); only flashcards are rated here",
            )
        body = self.get_json_body()
        try:
            rating = reviews.parse_rating(body.get("rating"))
        except ValueError as e:
            raise web.HTTPError(400, str(e)) from None
        duration = body.get("duration_ms")
        if duration is not None and (
            not isinstance(duration, int)
            or isinstance(duration, bool)
            or not 0 <= duration <= MAX_DURATION_MS
        ):
            raise web.HTTPError(
                400, f"duration_ms must be milliseconds between 0 and {MAX_DURATION_MS}"
            )
        rules = reviews.rules_of(self.queue)
        with self.grader.writer_factory() as db:
            row, rated = reviews.rate_flashcard(db, rules, user, question, rating, duration)
            model = reviews.card_model(row, question)
        # false: the card was not due, and stays as it was
        model["rated"] = rated
        self.write_json(model)


class ReviewStartAPIHandler(ReviewCardHandler):
    @web.authenticated
    @blocking
    def post(self, question_id):
        user, question = self.reviewed_question(question_id)
        with self.grader.writer_factory() as db:
            row = reviews.start_review(db, user, question)
            if row is None:
                raise web.HTTPError(
                    404, f"no review card for question {question.id} yet: solve it first"
                )
            model = reviews.card_model(row, question)
        self.write_json(model)


default_handlers = [
    (r"reviews", ReviewListAPIHandler),
    (r"reviews/(\d+)", ReviewAPIHandler),
    (r"reviews/(\d+)/start", ReviewStartAPIHandler),
]
