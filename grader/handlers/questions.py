"""Questions: summaries and student versions for learners, authoring for instructors.

A learner's response never holds the source notebook: only `student_notebook`, which
has neither solutions nor hidden tests.

Authoring bodies hold a notebook of up to :data:`MAX_NOTEBOOK_BYTES`: decoding it,
validating it, making the student version and storing it run in worker threads.

A question is a draft, scheduled, released or retired (`question_status`): learners
see released ones only, anywhere (a draft's id is a 404 to them, as an unknown id is);
instructors of its course see every state. Before saving, an instructor may try a
notebook (`POST questions/validate`: its reference solution and its stub graded in the
sandbox, :mod:`grader.instructors.validation`); after changing one, regrade every
submission to it (`PUT` with `"regrade": true`, through the queue:
:mod:`grader.grading.regrade`) and follow that (`GET questions/{id}/regrade`), or add a
picture to it (`POST questions/{id}/images`: a new version, no regrade).

Summaries carry the question's `description` (its task as plain text) and how many
`hints` it has, never their text. `GET questions?q=` searches title, description,
category and tags: every word must be found (case-insensitive substrings).

Every question has a `type` (:mod:`grader.grading.questiontypes`: "notebook", "choice",
"fill_in", "flashcard"): given when it is created, else the one its notebook declares
(`metadata.coursehub.type`). `GET questions?type=` filters by it. The notebook a learner
reads is their own copy (`QuestionType.for_learner`): the choices in their own order, a
variant question's `SEED` set to their seed (:func:`grader.grading.variants.variant_seed`).
"""

from __future__ import annotations

import asyncio
import copy
import json

from sqlalchemy import Text, func, or_, select
from sqlalchemy.exc import IntegrityError
from tornado import web

from .. import orm
from ..executors.base import SandboxFailure, SandboxUnavailable
from ..grading.languages import LANGUAGES
from ..grading.questiontypes import UnknownQuestionType, question_type, type_names
from ..grading.regrade import regrade_progress, requeue_question
from ..grading.variants import variant_seed
from ..images import ImageError, base64_body_limit, clean_image, from_base64
from ..instructors.authoring import (
    QUESTION_IMAGE_BYTES,
    QUESTION_IMAGE_SIDE,
    QuestionError,
    QuestionFields,
    attach_image,
    check_type,
    create_question,
    declared_type,
    image_name,
    replace_notebook,
)
from ..instructors.validation import ValidationBusy
from ..learners import rules, scores
from .base import MAX_NOTEBOOK_BYTES, APIHandler, LimitError, blocking, isoformat
from .validation import (
    optional_text,
    required_slug,
    required_text,
    submission_rules,
    tag_list,
    utc_datetime,
)


def question_status(question: orm.Question) -> str:
    if question.retired:
        return "retired"
    if question.released is None:
        return "draft"
    return "released" if question.is_released() else "scheduled"


def question_summary(
    question: orm.Question, best: orm.BestScore | None, used: rules.Usage | None = None
) -> dict:
    """A question as listed; its rules in force, and ``used``: the caller's submissions."""
    return {
        "id": question.id,
        "slug": question.slug,
        "title": question.title,
        "type": question.type,
        # what its code is written in (grader.grading.languages): python, r, javascript, c
        "language": question.language or "python",
        "course": question.module.course.slug,
        "module": question.module_id,
        "module_slug": question.module.slug,
        "category": question.category,
        "difficulty": question.difficulty,
        "tags": question.tags,
        "description": question.description or "",
        # how many: their text is revealed one at a time (GET questions/{id}/hints)
        "hints": len(question.hints or ()),
        "points": question.max_score,
        "version": question.version,
        "position": question.position,
        "status": question_status(question),
        "released": isoformat(question.released),
        "best_score": None if best is None else best.score,
        "solved": bool(best and best.solved),
        **rules.summary(question, used),
    }


#: what a PUT changes of a question's content (an audit's `question.update`)
CONTENT_FIELDS = {"title", "category", "difficulty", "tags", "notebook", "type"}


def rule_detail(rule_values: dict) -> dict:
    """Deadline and limit fields as an audit entry's detail (dates as the API writes them)."""
    return {k: isoformat(v) if k == "due" and v is not None else v for k, v in rule_values.items()}


def question_type_field(body: dict) -> str:
    """`type` of an authoring body, checked ("" when absent: the notebook says)."""
    if body.get("type") is None:
        return ""
    try:
        return check_type(body["type"])
    except QuestionError as e:
        raise web.HTTPError(400, str(e)) from None


def boolean(body: dict, field: str, default: bool = False) -> bool:
    value = body.get(field, default)
    if not isinstance(value, bool):
        raise web.HTTPError(400, f"{field} must be true or false")
    return value


def release_time(body: dict, default):
    """`release` of an authoring body: "now", null (a draft) or an ISO 8601 date."""
    value = body.get("release", default)
    if value is None:
        return None
    if value == "now":
        return orm.utcnow()
    when = utc_datetime(value)
    if when is None:
        raise web.HTTPError(
            400, f'release must be "now", null (a draft) or an ISO 8601 date, not {value!r}'
        )
    return when


#: a search (`GET questions?q=`): at most so many characters and words
MAX_SEARCH_LENGTH = 200
MAX_SEARCH_WORDS = 10


def search_terms(text: str) -> list:
    """`?q=`: every word must be found (case-insensitive, as a substring) in the title,
    the description, the category or the tags. Tags are stored as JSON text: a word is
    looked for there as JSON writes it (non-ASCII letters escaped)."""
    if len(text) > MAX_SEARCH_LENGTH:
        raise web.HTTPError(400, f"q is longer than {MAX_SEARCH_LENGTH} characters")
    words = text.lower().split()
    if len(words) > MAX_SEARCH_WORDS:
        raise web.HTTPError(400, f"q has more than {MAX_SEARCH_WORDS} words")
    q = orm.Question
    terms = []
    for word in words:
        as_json = json.dumps(word)[1:-1]
        terms.append(
            or_(
                *(
                    func.lower(column, type_=Text).contains(word, autoescape=True)
                    for column in (q.title, q.description, q.category)
                ),
                func.lower(q.tags, type_=Text).contains(as_json, autoescape=True),
            )
        )
    return terms


class QuestionListAPIHandler(APIHandler):
    @web.authenticated
    @blocking
    def get(self):
        user = self.learner()
        course = self.course_argument(required=False)
        courses = [course] if course else self.access.learning(self.db)
        query = (
            select(orm.Question)
            .join(orm.Module)
            .join(orm.Course)
            .where(
                orm.Question.retired.is_(False), orm.Module.course_id.in_([c.id for c in courses])
            )
            .order_by(
                orm.Course.position,
                orm.Course.id,
                orm.Module.position,
                orm.Module.id,
                orm.Question.position,
                orm.Question.id,
            )
        )
        teaching = [c.id for c in courses if self.access.may_author(c)]
        # learners see released questions; instructors every state of their courses'
        query = query.where(
            (orm.Question.released <= orm.utcnow()) | orm.Module.course_id.in_(teaching)
        )
        module_ref = self.get_query_argument("module", None)
        if module_ref:
            query = query.where(orm.Question.module_id == self.find_module(module_ref, course).id)
        for field in ("category", "difficulty"):
            value = self.get_query_argument(field, None)
            if value:
                query = query.where(getattr(orm.Question, field) == value)
        type_name = self.get_query_argument("type", None)
        if type_name:
            try:
                question_type(type_name)
            except UnknownQuestionType:
                raise web.HTTPError(
                    400, f"type must be one of {', '.join(type_names())}, not {type_name!r}"
                ) from None
            query = query.where(orm.Question.type == type_name)
        language = self.get_query_argument("language", None)
        if language:
            if language not in LANGUAGES:
                raise web.HTTPError(
                    400, f"language must be one of {', '.join(LANGUAGES)}, not {language!r}"
                )
            query = query.where(orm.Question.language == language)
        search = self.get_query_argument("q", None)
        if search:
            query = query.where(*search_terms(search))
        questions = self.db.scalars(query).all()
        tag = self.get_query_argument("tag", None)
        if tag:
            # tags are a JSON list: filter in Python, portable across databases
            questions = [q for q in questions if tag in q.tags]
        best = scores.best_scores_for(self.db, user)
        used = rules.usage(self.db, user.id, [q.id for q in questions])
        self.write_json(
            {"questions": [question_summary(q, best.get(q.id), used.get(q.id)) for q in questions]}
        )

    @web.authenticated
    @blocking
    def post(self):
        self.learner()
        self.require_any_author()
        body = self.get_json_body(MAX_NOTEBOOK_BYTES)
        module_ref = body.get("module")
        if module_ref is None or isinstance(module_ref, bool | list | dict):
            raise web.HTTPError(400, "module is required: a module id or slug")
        course = None
        if body.get("course") is not None:
            course = self.find_course(str(body["course"]))
        module = self.find_module(module_ref, course)
        self.require_author_of(module.course)
        released = release_time(body, "now")
        if "notebook" not in body:
            raise web.HTTPError(400, "notebook is required: an nbgrader source notebook")
        fields = QuestionFields(
            slug=required_slug(body, "slug"),
            title=required_text(body, "title"),
            category=optional_text(body, "category", max_length=100),
            difficulty=optional_text(body, "difficulty", max_length=20),
            tags=tag_list(body),
            # absent: the notebook's metadata.coursehub.type, else "notebook"
            type=question_type_field(body),
        )
        rule_values = submission_rules(body)
        exists = self.db.scalar(
            select(orm.Question).where(
                orm.Question.module_id == module.id, orm.Question.slug == fields.slug
            )
        )
        if exists is not None:
            raise web.HTTPError(409, f"module {module.slug} has a question {fields.slug!r}")
        try:
            question = self._create(module, fields, body["notebook"], released, rule_values)
        except QuestionError as e:
            raise web.HTTPError(400, str(e)) from None
        except IntegrityError:
            raise web.HTTPError(
                409, f"module {module.slug} has a question {fields.slug!r}"
            ) from None
        self.write_json(question_summary(question, None), status=201)

    def _create(self, module, fields, notebook, released, rule_values=None) -> orm.Question:
        question = create_question(self.db, module, fields, notebook, released)
        for field, value in (rule_values or {}).items():
            setattr(question, field, value)
        self.db.flush()
        self.audit(
            self.db,
            "question.create",
            course_id=module.course_id,
            target=f"question {question.id}",
            detail={
                "slug": question.slug,
                "module": module.slug,
                "title": question.title,
                "type": question.type,
                "version": question.version,
                "released": isoformat(question.released),
                **rule_detail(rule_values or {}),
            },
        )
        self.db.commit()
        return question


class QuestionAPIHandler(APIHandler):
    @web.authenticated
    @blocking
    def get(self, question_id):
        user = self.learner()
        # retired ones: instructors of its course only (to restore one)
        question = self.find_question(question_id, include_retired=True)
        best = orm.BestScore.find(self.db, user.id, question.id)
        used = rules.usage(self.db, user.id, [question.id]).get(question.id)
        model = question_summary(question, best, used)
        # the caller's own copy: their order of the choices, their variant's seed
        kind = question_type(question.type)
        seed = variant_seed(question.id, user.id)
        model["notebook"] = kind.for_learner(question.student_notebook, seed)
        self.write_json(model)

    @web.authenticated
    @blocking
    def put(self, question_id):
        """Edit; `"retired": false` restores a retired question; `"regrade": true`
        queues every submission to it to be graded again against its (new) version."""
        question = self.find_taught_question(question_id)
        body = self.get_json_body(MAX_NOTEBOOK_BYTES)
        regrade = boolean(body, "regrade")
        retired = boolean(body, "retired", question.retired)
        released_before, version_before = question.released, question.version
        if "release" in body:
            question.released = release_time(body, None)
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
                replace_notebook(question, body["notebook"], question_type_field(body))
            elif "type" in body and question_type_field(body) != question.type:
                replace_notebook(question, question.source_notebook, question_type_field(body))
            rule_values = submission_rules(body)
            for field, value in rule_values.items():
                setattr(question, field, value)
            # each action its entry, before totals are rewritten (grader.audit: the
            # log's lock comes before the totals' in every transaction)
            self._audit_edit(question, body, released_before, version_before, rule_values)
            if retired != question.retired:
                question.retired = retired
                self.audit(
                    self.db,
                    "question.retire" if retired else "question.restore",
                    course_id=question.module.course_id,
                    target=f"question {question.id}",
                    detail={"slug": question.slug},
                )
                self.db.flush()
                scores.rebuild_totals(self.db)  # its scores leave, or join, every total
            self.db.commit()
        except QuestionError as e:
            raise web.HTTPError(400, str(e)) from None
        model = question_summary(question, None)
        if regrade:
            # after the new version is committed: every grading from now on uses it
            with self.grader.writer_factory() as db:
                queued = requeue_question(db, question.id)
                # after the requeue: submissions are locked before the log (grader.audit)
                self.audit(
                    db,
                    "submission.regrade",
                    course_id=question.module.course_id,
                    target=f"question {question.id}",
                    detail={"version": question.version, "queued": queued},
                )
                model["regrade"] = {"queued": queued}
                db.commit()
            self._deferred.append(self.grader.wake_workers)
        self.write_json(model)

    def _audit_edit(self, question, body, released_before, version_before, rule_values):
        """An entry for each kind of change a PUT made: its content, its release, its
        rules (deadline, late policy, limits); none for what it left as it was."""
        course_id, target = question.module.course_id, f"question {question.id}"
        changed = sorted(CONTENT_FIELDS & set(body))
        if changed:
            detail = {"fields": changed, "version": question.version}
            if question.version != version_before:
                detail["previous_version"] = version_before
            self.audit(
                self.db, "question.update", course_id=course_id, target=target, detail=detail
            )
        if "release" in body and question.released != released_before:
            self.audit(
                self.db,
                "question.release",
                course_id=course_id,
                target=target,
                detail={
                    "released": isoformat(question.released),
                    "previous": isoformat(released_before),
                },
            )
        if rule_values:
            self.audit(
                self.db, "rules.update", course_id=course_id, target=target,
                detail=rule_detail(rule_values),
            )  # fmt: skip

    @web.authenticated
    @blocking
    def delete(self, question_id):
        """Retire: learners no longer see it; submissions and scores stay."""
        question = self.find_taught_question(question_id, include_retired=False)
        question.retired = True
        self.audit(
            self.db,
            "question.retire",
            course_id=question.module.course_id,
            target=f"question {question.id}",
            detail={"slug": question.slug},
        )
        self.db.flush()
        scores.rebuild_totals(self.db)  # its scores leave every total
        self.db.commit()
        self.no_content()


class QuestionImageAPIHandler(APIHandler):
    """An instructor adds a picture to a question: `{"name": "plot.png", "data":
    "<base64>", "cell": <index of a markdown cell, default the first>}`. The image is
    checked and re-encoded (:mod:`grader.images`: PNG, at most
    :data:`QUESTION_IMAGE_SIDE` pixels a side, no metadata), attached to that cell of
    the source and shown there (`![name](attachment:name)`, unless the cell already
    refers to it): a new version of the question, submissions not regraded."""

    @web.authenticated
    async def post(self, question_id):
        await self.in_db(self.find_taught_question, question_id)
        name, png, cell = await asyncio.to_thread(self._read_upload)
        self.write_json(await self.in_db(self._attach, question_id, name, png, cell))

    def _read_upload(self) -> tuple[str, bytes, int | None]:
        """(name, the re-encoded PNG, cell) from the body, or a 4xx naming the problem."""
        try:
            body = self.get_json_body(base64_body_limit(QUESTION_IMAGE_BYTES), "image upload")
            name = image_name(body.get("name"))
            data = from_base64(body.get("data"), "data")
            png = clean_image(
                data, max_side=QUESTION_IMAGE_SIDE, max_bytes=QUESTION_IMAGE_BYTES, what="image"
            )
        except ImageError as e:
            raise web.HTTPError(e.status, str(e)) from None
        except QuestionError as e:
            raise web.HTTPError(400, str(e)) from None
        return name, png, body.get("cell")

    def _attach(self, question_id, name: str, png: bytes, cell) -> dict:
        question = self.find_taught_question(question_id)
        # the row locked (PostgreSQL) and its source read again: two uploads at once
        # both land, one version each
        self.db.refresh(question, ["source_notebook", "version"], with_for_update=True)
        source = copy.deepcopy(question.source_notebook)
        try:
            attach_image(source, name, png, cell)
            if len(json.dumps(source)) > MAX_NOTEBOOK_BYTES:
                limit = MAX_NOTEBOOK_BYTES // 2**20
                raise LimitError(413, f"the notebook with this image would pass {limit} MiB")
            replace_notebook(question, source)
        except QuestionError as e:
            raise web.HTTPError(400, str(e)) from None
        self.audit(
            self.db,
            "question.update",
            course_id=question.module.course_id,
            target=f"question {question.id}",
            detail={"image": name, "version": question.version},
        )
        self.db.commit()
        return question_summary(question, None)


class QuestionSourceAPIHandler(APIHandler):
    """The source notebook (solutions, hidden tests): instructors only."""

    @web.authenticated
    @blocking
    def get(self, question_id):
        question = self.find_taught_question(question_id)
        model = question_summary(question, None)
        model["notebook"] = question.source_notebook
        self.write_json(model)


class QuestionFiltersAPIHandler(APIHandler):
    @web.authenticated
    @blocking
    def get(self):
        self.learner()
        course = self.course_argument(required=False)
        courses = [course] if course else self.access.learning(self.db)
        teaching = [c.id for c in courses if self.access.may_author(c)]
        questions = self.db.scalars(
            select(orm.Question)
            .join(orm.Module)
            .where(
                orm.Question.retired.is_(False),
                # as the list: released ones, and every state of the courses one teaches
                (orm.Question.released <= orm.utcnow()) | orm.Module.course_id.in_(teaching),
                orm.Module.course_id.in_([c.id for c in courses]),
            )
        )
        categories, difficulties, tags, types, languages = set(), set(), set(), set(), set()
        for q in questions:
            categories.add(q.category) if q.category else None
            difficulties.add(q.difficulty) if q.difficulty else None
            tags.update(q.tags)
            types.add(q.type)
            languages.add(q.language or "python")
        order = {"easy": 0, "medium": 1, "hard": 2}
        self.write_json(
            {
                "categories": sorted(categories),
                "difficulties": sorted(difficulties, key=lambda d: (order.get(d, 9), d)),
                "tags": sorted(tags),
                # in the registry's order: notebook, choice, fill_in, flashcard, others
                "types": [name for name in type_names() if name in types],
                # in the registry's order: python, r, javascript, c
                "languages": [name for name in LANGUAGES if name in languages],
            }
        )


class QuestionValidateAPIHandler(APIHandler):
    """Try a source notebook before saving it: its reference solution must score full
    marks and its stub must not. For instructors of any course: it reads and stores
    nothing of a course, and answers only about the notebook sent."""

    @web.authenticated
    async def post(self):
        await self.in_db(self._instructor)
        body = await asyncio.to_thread(self.get_json_body, MAX_NOTEBOOK_BYTES)
        if "notebook" not in body:
            raise web.HTTPError(400, "notebook is required: an nbgrader source notebook")
        try:
            type_name = question_type_field(body) or declared_type(body["notebook"]) or "notebook"
            validation = await self.grader.validator.validate(
                self.current_user["name"], body["notebook"], type_name
            )
        except QuestionError as e:
            raise web.HTTPError(400, str(e)) from None
        except ValidationBusy as e:
            raise LimitError(429, str(e), retry_after=e.retry_after) from None
        except SandboxUnavailable as e:
            raise web.HTTPError(503, f"no sandbox to run the question in: {e}") from None
        except SandboxFailure as e:
            raise web.HTTPError(
                503, f"the sandbox failed while running the question ({e}): try again"
            ) from None
        self.write_json(validation.to_dict())

    def _instructor(self):
        self.learner()
        self.require_any_author()


class QuestionRegradeAPIHandler(APIHandler):
    """How far the regrade of a question has come (asked for with PUT questions/{id}
    `"regrade": true`): its submissions queued, running, graded under its current
    version, failed, and graded under an earlier one."""

    @web.authenticated
    @blocking
    def get(self, question_id):
        question = self.find_taught_question(question_id)
        self.write_json(regrade_progress(self.db, question))


default_handlers = [
    (r"questions", QuestionListAPIHandler),
    (r"questions/filters", QuestionFiltersAPIHandler),
    (r"questions/validate", QuestionValidateAPIHandler),
    (r"questions/(\d+)/source", QuestionSourceAPIHandler),
    (r"questions/(\d+)/regrade", QuestionRegradeAPIHandler),
    (r"questions/(\d+)/images", QuestionImageAPIHandler),
    (r"questions/([^/]+)", QuestionAPIHandler),
]
