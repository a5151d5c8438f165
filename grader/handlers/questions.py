"""Questions: summaries and student versions for learners, authoring for instructors.

A learner's response never holds the source notebook: only `student_notebook`, which
has neither solutions nor hidden tests.

Authoring bodies hold a notebook of up to :data:`MAX_NOTEBOOK_BYTES`: decoding it,
validating it, making the student version and storing it run in worker threads.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from tornado import web

from .. import orm
from ..instructors.authoring import QuestionError, QuestionFields, create_question, replace_notebook
from ..learners import scores
from ..scopes import AUTHOR_SCOPE
from .base import MAX_NOTEBOOK_BYTES, APIHandler, blocking
from .validation import optional_text, required_slug, required_text, tag_list


def question_summary(question: orm.Question, best: orm.BestScore | None) -> dict:
    return {
        "id": question.id,
        "slug": question.slug,
        "title": question.title,
        "module": question.module_id,
        "module_slug": question.module.slug,
        "category": question.category,
        "difficulty": question.difficulty,
        "tags": question.tags,
        "points": question.max_score,
        "version": question.version,
        "position": question.position,
        "best_score": None if best is None else best.score,
        "solved": bool(best and best.solved),
    }


class QuestionListAPIHandler(APIHandler):
    @web.authenticated
    @blocking
    def get(self):
        user = self.learner()
        query = (
            select(orm.Question)
            .join(orm.Module)
            .where(orm.Question.retired.is_(False))
            .order_by(orm.Module.position, orm.Module.id, orm.Question.position, orm.Question.id)
        )
        module_ref = self.get_query_argument("module", None)
        if module_ref:
            query = query.where(orm.Question.module_id == self.find_module(module_ref).id)
        for field in ("category", "difficulty"):
            value = self.get_query_argument(field, None)
            if value:
                query = query.where(getattr(orm.Question, field) == value)
        questions = self.db.scalars(query).all()
        tag = self.get_query_argument("tag", None)
        if tag:
            # tags are a JSON list: filter in Python, portable across databases
            questions = [q for q in questions if tag in q.tags]
        best = scores.best_scores_for(self.db, user)
        self.write_json({"questions": [question_summary(q, best.get(q.id)) for q in questions]})

    @web.authenticated
    @blocking
    def post(self):
        self.require_scope(AUTHOR_SCOPE)
        body = self.get_json_body(MAX_NOTEBOOK_BYTES)
        module_ref = body.get("module")
        if module_ref is None or isinstance(module_ref, bool | list | dict):
            raise web.HTTPError(400, "module is required: a module id or slug")
        module = self.find_module(module_ref)
        if "notebook" not in body:
            raise web.HTTPError(400, "notebook is required: an nbgrader source notebook")
        fields = QuestionFields(
            slug=required_slug(body, "slug"),
            title=required_text(body, "title"),
            category=optional_text(body, "category", max_length=100),
            difficulty=optional_text(body, "difficulty", max_length=20),
            tags=tag_list(body),
        )
        exists = self.db.scalar(
            select(orm.Question).where(
                orm.Question.module_id == module.id, orm.Question.slug == fields.slug
            )
        )
        if exists is not None:
            raise web.HTTPError(409, f"module {module.slug} has a question {fields.slug!r}")
        try:
            question = self._create(module, fields, body["notebook"])
        except QuestionError as e:
            raise web.HTTPError(400, str(e)) from None
        except IntegrityError:
            raise web.HTTPError(
                409, f"module {module.slug} has a question {fields.slug!r}"
            ) from None
        self.write_json(question_summary(question, None), status=201)

    def _create(self, module, fields, notebook) -> orm.Question:
        question = create_question(self.db, module, fields, notebook)
        self.db.commit()
        return question


class QuestionAPIHandler(APIHandler):
    @web.authenticated
    @blocking
    def get(self, question_id):
        user = self.learner()
        question = self.find_question(question_id)
        best = orm.BestScore.find(self.db, user.id, question.id)
        model = question_summary(question, best)
        model["notebook"] = question.student_notebook
        self.write_json(model)

    @web.authenticated
    @blocking
    def put(self, question_id):
        self.require_scope(AUTHOR_SCOPE)
        question = self.find_question(question_id)
        body = self.get_json_body(MAX_NOTEBOOK_BYTES)
        try:
            if "title" in body:
                question.title = required_text(body, "title")
            if "category" in body:
                question.category = optional_text(body, "category", max_length=100)
            if "difficulty" in body:
                question.difficulty = optional_text(body, "difficulty", max_length=20)
            if "tags" in body:
                question.tags = tag_list(body)
            if "notebook" in body:
                replace_notebook(question, body["notebook"])
            self.db.commit()
        except QuestionError as e:
            raise web.HTTPError(400, str(e)) from None
        self.write_json(question_summary(question, None))

    @web.authenticated
    @blocking
    def delete(self, question_id):
        """Retire: learners no longer see it; submissions and scores stay."""
        self.require_scope(AUTHOR_SCOPE)
        question = self.find_question(question_id)
        question.retired = True
        self.db.flush()
        scores.rebuild_totals(self.db)  # its scores leave every total
        self.db.commit()
        self.no_content()


class QuestionSourceAPIHandler(APIHandler):
    """The source notebook (solutions, hidden tests): instructors only."""

    @web.authenticated
    @blocking
    def get(self, question_id):
        self.require_scope(AUTHOR_SCOPE)
        question = self.find_question(question_id, include_retired=True)
        model = question_summary(question, None)
        model["notebook"] = question.source_notebook
        self.write_json(model)


class QuestionFiltersAPIHandler(APIHandler):
    @web.authenticated
    @blocking
    def get(self):
        self.learner()
        questions = self.db.scalars(select(orm.Question).where(orm.Question.retired.is_(False)))
        categories, difficulties, tags = set(), set(), set()
        for q in questions:
            categories.add(q.category) if q.category else None
            difficulties.add(q.difficulty) if q.difficulty else None
            tags.update(q.tags)
        order = {"easy": 0, "medium": 1, "hard": 2}
        self.write_json(
            {
                "categories": sorted(categories),
                "difficulties": sorted(difficulties, key=lambda d: (order.get(d, 9), d)),
                "tags": sorted(tags),
            }
        )


default_handlers = [
    (r"questions", QuestionListAPIHandler),
    (r"questions/filters", QuestionFiltersAPIHandler),
    (r"questions/(\d+)/source", QuestionSourceAPIHandler),
    (r"questions/([^/]+)", QuestionAPIHandler),
]
