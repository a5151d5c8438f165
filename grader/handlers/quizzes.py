"""REST API v1: quizzes (:mod:`grader.learners.quizzes`).

Learners: `GET quizzes?course=` (the released quizzes of their courses), `GET
quizzes/{id}` (with their attempt), `POST quizzes/{id}/start` (draws their questions and
starts the clock; a second start returns the same attempt), `POST quizzes/{id}/finish`.
Instructors of the quiz's course: `POST quizzes`, `PUT`/`DELETE quizzes/{id}`, `GET
quizzes/{id}/results`; they see every quiz of their courses, released or not, with its
draws.

A quiz a learner cannot see (another course's, or not released yet) is a 404, as an
unknown id is; an instructor's endpoint on a quiz the learner can see is a 403.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from tornado import web

from .. import orm
from ..learners import quizzes
from .base import APIHandler, as_id, blocking


class QuizHandler(APIHandler):
    def find_quiz(self, quiz_id) -> tuple[orm.Quiz, orm.Course]:
        """A quiz the caller may see: a released one of a course they learn in, or any
        of a course they teach; else 404."""
        quiz = self.db.get(orm.Quiz, as_id(quiz_id, "quiz"))
        if quiz is not None:
            course = self.db.get(orm.Course, quiz.course_id)
            if self.access.may_author(course):
                return quiz, course
            if self.access.may_learn(course) and is_released(quiz):
                return quiz, course
        raise web.HTTPError(404, f"no such quiz: {quiz_id}")

    def find_taught_quiz(self, quiz_id) -> tuple[orm.Quiz, orm.Course]:
        quiz, course = self.find_quiz(quiz_id)
        self.require_author_of(course)
        return quiz, course

    def write_quiz(self, quiz, course, user, status: int = 200):
        teaching = self.access.may_author(course)
        self.write_json(quizzes.quiz_model(self.db, quiz, course, user, teaching), status)


def is_released(quiz: orm.Quiz) -> bool:
    return quiz.released is not None and quiz.released <= orm.utcnow()


class QuizListAPIHandler(QuizHandler):
    @web.authenticated
    @blocking
    def get(self):
        user = self.learner()
        course = self.course_argument(required=False)
        courses = [course] if course else self.access.learning(self.db)
        by_id = {c.id: c for c in courses}
        query = (
            select(orm.Quiz)
            .where(orm.Quiz.course_id.in_(list(by_id)))
            .order_by(orm.Quiz.course_id, orm.Quiz.position, orm.Quiz.id)
        )
        models = []
        for quiz in self.db.scalars(query):
            course = by_id[quiz.course_id]
            teaching = self.access.may_author(course)
            if teaching or is_released(quiz):
                models.append(quizzes.quiz_model(self.db, quiz, course, user, teaching))
        self.write_json({"quizzes": models})

    @web.authenticated
    @blocking
    def post(self):
        user = self.learner()
        body = self.get_json_body()
        course_ref = body.get("course")
        if not isinstance(course_ref, str | int) or isinstance(course_ref, bool):
            raise web.HTTPError(400, "course is required: the slug of a course you teach")
        course = self.find_course(str(course_ref))
        self.require_author_of(course)
        slug = body.get("slug")
        if isinstance(slug, str) and self.db.scalar(
            select(orm.Quiz.id).where(orm.Quiz.course_id == course.id, orm.Quiz.slug == slug)
        ):
            raise web.HTTPError(409, f"{course.slug} has a quiz {slug!r}")
        spec = {k: v for k, v in body.items() if k != "course"}
        quiz = orm.Quiz(course_id=course.id, created=orm.utcnow())
        try:
            quizzes.apply_spec(self.db, course, quiz, spec, partial=False)
            self.db.add(quiz)
            self.db.commit()
        except quizzes.QuizError as e:
            raise web.HTTPError(400, str(e)) from None
        except IntegrityError:
            raise web.HTTPError(409, f"{course.slug} has a quiz {slug!r}") from None
        self.write_quiz(quiz, course, user, status=201)


class QuizAPIHandler(QuizHandler):
    @web.authenticated
    @blocking
    def get(self, quiz_id):
        user = self.learner()
        quiz, course = self.find_quiz(quiz_id)
        self.write_quiz(quiz, course, user)

    @web.authenticated
    @blocking
    def put(self, quiz_id):
        """Edit; attempts already started keep the questions they drew."""
        user = self.learner()
        quiz, course = self.find_taught_quiz(quiz_id)
        body = self.get_json_body()
        if "course" in body and body["course"] not in (course.slug, course.id):
            raise web.HTTPError(400, "course cannot change: make the quiz in the other course")
        spec = {k: v for k, v in body.items() if k != "course"}
        try:
            quizzes.apply_spec(self.db, course, quiz, spec, partial=True)
            self.db.commit()
        except quizzes.QuizError as e:
            raise web.HTTPError(400, str(e)) from None
        except IntegrityError:
            raise web.HTTPError(409, f"{course.slug} has a quiz {body.get('slug')!r}") from None
        self.write_quiz(quiz, course, user)

    @web.authenticated
    @blocking
    def delete(self, quiz_id):
        """Delete the quiz and its attempts (the submissions stay)."""
        self.learner()
        quiz, _ = self.find_taught_quiz(quiz_id)
        self.db.execute(
            orm.QuizAttempt.__table__.delete().where(orm.QuizAttempt.quiz_id == quiz.id)
        )
        self.db.delete(quiz)
        self.db.commit()
        self.no_content()


class QuizStartAPIHandler(QuizHandler):
    @web.authenticated
    @blocking
    def post(self, quiz_id):
        user = self.learner()
        quiz, course = self.find_quiz(quiz_id)
        with self.grader.writer_factory() as db:
            try:
                quizzes.start(db, db.get(orm.Quiz, quiz.id), course, user)
            except quizzes.QuizError as e:
                raise web.HTTPError(409, str(e)) from None
        self.db.rollback()  # this session's snapshot predates the attempt
        self.write_quiz(quiz, course, user)


class QuizFinishAPIHandler(QuizHandler):
    @web.authenticated
    @blocking
    def post(self, quiz_id):
        user = self.learner()
        quiz, course = self.find_quiz(quiz_id)
        attempt = quizzes.attempt_of(self.db, quiz, user)
        if attempt is None:
            raise web.HTTPError(409, f"quiz {quiz.id} is not started: POST quizzes/{quiz.id}/start")
        quizzes.finish(self.db, attempt)
        self.write_quiz(quiz, course, user)


class QuizResultsAPIHandler(QuizHandler):
    @web.authenticated
    @blocking
    def get(self, quiz_id):
        self.learner()
        quiz, course = self.find_taught_quiz(quiz_id)
        model = quizzes.quiz_model(self.db, quiz, course, None, teaching=True)
        model["results"] = quizzes.results(self.db, quiz)
        self.write_json(model)


default_handlers = [
    (r"quizzes", QuizListAPIHandler),
    (r"quizzes/(\d+)", QuizAPIHandler),
    (r"quizzes/(\d+)/start", QuizStartAPIHandler),
    (r"quizzes/(\d+)/finish", QuizFinishAPIHandler),
    (r"quizzes/(\d+)/results", QuizResultsAPIHandler),
]
