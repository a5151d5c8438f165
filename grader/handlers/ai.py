"""AI hints and the tutor (:mod:`grader.ai`): a course's settings, learners' requests
streamed as server-sent events, the log its instructors read.

- `GET`/`PUT courses/{slug}/ai`: the course's settings, for its instructors (the key's
  variable name and whether it is set; never the key);
- `GET courses/{slug}/ai/exchanges?question=&user=&kind=&before=&limit=`: every
  exchange with the model, newest first, for the course's instructors;
- `GET questions/{id}/ai`: what the caller may ask about a question (hints, tutor),
  their budget and what a hint costs;
- `POST submissions/{id}/hint`: an AI hint on the caller's own graded submission,
  streamed; `GET` the hints asked for on it so far;
- `GET tutor/{question}` the caller's conversation (`?user=` for instructors);
  `POST tutor/{question}/messages` `{"text", "code"?}`, streamed.

A streamed answer is `text/event-stream`: `data: {"text": "..."}` pieces as the model
sends them, then `event: done` with `{"exchange", "status"}`; or `event: error` with
`{"exchange", "message"}` naming what went wrong with the model (an HTTP error, a
time-out, a refused connection, a stream that could not be read): never a 500. What
can be refused before (off, not enrolled, budget spent, busy) is the usual JSON error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select
from tornado import web
from tornado.iostream import StreamClosedError

from .. import orm
from ..ai import exchanges, settings
from ..ai.assistant import AIAssistant, AIError, Busy, Endpoint
from ..ai.grounding import (
    MAX_MESSAGE_CHARS,
    answer_code,
    grounding,
    hint_messages,
    sent_code,
    tutor_messages,
)
from ..grading.languages import LANGUAGES
from .base import APIHandler, LimitError, as_id, blocking

KINDS = (exchanges.HINT, exchanges.TUTOR)


def assistant_of(grader) -> AIAssistant:
    """The service's AIAssistant (configured as `c.AIAssistant`), made once."""
    assistant = getattr(grader, "_ai_assistant", None)
    if assistant is None:
        assistant = grader._ai_assistant = AIAssistant(parent=grader)
    return assistant


def language_name(question: orm.Question) -> str:
    language = LANGUAGES.get(question.language or "python")
    return language.display if language is not None else str(question.language).title()


class AIHandler(APIHandler):
    @property
    def assistant(self) -> AIAssistant:
        return assistant_of(self.grader)

    def taught_course(self, slug) -> orm.Course:
        self.learner()
        course = self.find_course(slug)
        self.require_author_of(course)
        return course


class AISettingsAPIHandler(AIHandler):
    @web.authenticated
    @blocking
    def get(self, slug):
        course = self.taught_course(slug)
        row = settings.settings_of(self.db, course.id)
        self.write_json(settings.settings_model(course, row, self.assistant))

    @web.authenticated
    @blocking
    def put(self, slug):
        course = self.taught_course(slug)
        body = self.get_json_body()
        with self.grader.writer_factory() as db:
            current = settings.settings_of(db, course.id)
            try:
                update = settings.checked_update(body, current, self.assistant)
            except settings.SettingsError as e:
                raise web.HTTPError(400, "%s", str(e)) from None
            self.audit(
                db, "ai.settings", course_id=course.id, target=f"course {course.slug}",
                detail=update,
            )  # fmt: skip
            # commits the settings and their entry together
            settings.save(db, db.get(orm.Course, course.id), update, self.current_user["name"])
        self.db.rollback()  # this session's snapshot predates the change
        row = settings.settings_of(self.db, course.id)
        self.write_json(settings.settings_model(course, row, self.assistant))


class AIExchangesAPIHandler(AIHandler):
    @web.authenticated
    @blocking
    def get(self, slug):
        course = self.taught_course(slug)
        question_id = self.get_query_argument("question", None)
        if question_id not in (None, ""):
            question = self.find_question(question_id, include_retired=True)
            if question.module.course_id != course.id:
                raise web.HTTPError(404, f"no such question in {course.slug}: {question_id}")
            question_id = question.id
        else:
            question_id = None
        user_id = None
        name = self.get_query_argument("user", None)
        if name:
            user = orm.User.find(self.db, name)
            if user is None:
                raise web.HTTPError(404, f"no such user: {name}")
            user_id = user.id
        kind = self.get_query_argument("kind", None) or None
        if kind is not None and kind not in KINDS:
            raise web.HTTPError(400, f"kind must be one of {', '.join(KINDS)}")
        before = self.int_argument("before", None, minimum=1)
        limit = self.int_argument("limit", exchanges.PAGE, minimum=1, maximum=200)
        page, after = exchanges.exchanges_page(
            self.db,
            course.id,
            question_id=question_id,
            user_id=user_id,
            kind=kind,
            before=before,
            limit=limit,
        )
        model = {"course": course.slug, "exchanges": page, "next": after}
        self.write_json(model)


class QuestionAIAPIHandler(AIHandler):
    """What the caller may ask the course's model about a question."""

    @web.authenticated
    @blocking
    def get(self, question_id):
        user = self.learner()
        question = self.find_question(question_id)
        course = question.module.course
        row = settings.settings_of(self.db, course.id)
        self.write_json(
            {
                "question": question.id,
                "hints": row.enabled,
                "tutor": row.enabled and row.tutor,
                "daily_budget": row.daily_budget,
                "used_today": exchanges.used_today(self.db, user, course.id),
                "hint_cost": row.hint_cost,
            }
        )


@dataclass
class Prepared:
    """A request to the model, ready to go once the budget allows it."""

    user_id: int
    course_id: int
    question_id: int
    kind: str
    endpoint: Endpoint
    messages: list
    budget: int
    text: str = ""
    submission_id: int | None = None
    xp_cost: float = 0.0


class AIStreamHandler(AIHandler):
    """Sends a prepared request to the model and streams its answer to the caller."""

    def course_settings(self, course: orm.Course, what: str, tutor: bool = False):
        row = settings.settings_of(self.db, course.id)
        if not row.enabled or (tutor and not row.tutor):
            raise web.HTTPError(
                403,
                f"{what} not turned on in the course {course.slug}: its instructors "
                f"may turn it on (PUT courses/{course.slug}/ai)",
            )
        return row

    def _reserve(self, prepared: Prepared) -> int:
        with self.grader.writer_factory() as db:
            try:
                return exchanges.reserve(
                    db,
                    prepared.user_id,
                    prepared.course_id,
                    prepared.question_id,
                    prepared.kind,
                    budget=prepared.budget,
                    running_for=self.assistant.request_timeout + 30,
                    sent=prepared.messages,
                    model=prepared.endpoint.model,
                    text=prepared.text,
                    submission_id=prepared.submission_id,
                )
            except exchanges.StillRunning:
                raise LimitError(
                    429, "your previous question to the AI is still being answered", 5
                ) from None
            except exchanges.BudgetSpent:
                raise LimitError(
                    429,
                    f"you have used your {prepared.budget} AI requests of today in this "
                    "course: more tomorrow",
                ) from None

    def _finish(self, exchange_id, status, reply, error, xp_cost):
        with self.grader.writer_factory() as db:
            exchanges.finish(db, exchange_id, status, reply, error, xp_cost)

    async def stream_answer(self, prepared: Prepared) -> None:
        try:
            slot = self.assistant.slot()
        except Busy:
            raise LimitError(
                429, "the AI is answering as many learners as it may at once: try again soon", 5
            ) from None
        async with slot:
            exchange_id = await self.in_db(self._reserve, prepared)
            self.set_header("Content-Type", "text/event-stream; charset=UTF-8")
            self.set_header("X-Accel-Buffering", "no")
            pieces: list[str] = []
            status, error = "ok", None
            answer = self.assistant.chat(prepared.endpoint, prepared.messages)
            try:
                try:
                    # the headers at once: the caller sees the stream begin
                    self.write(f": exchange {exchange_id}\n\n")
                    await self.flush()
                    async for piece in answer:
                        pieces.append(piece)
                        self.write(f"data: {json.dumps({'text': piece})}\n\n")
                        await self.flush()
                finally:
                    await answer.aclose()
            except AIError as e:
                status, error = exchanges.FAILED, str(e)
            except StreamClosedError:
                status = "cancelled"  # the caller went away: the model's time was spent
            except Exception as e:  # never a 500 halfway through a stream
                self.log.exception("AI exchange %s failed", exchange_id)
                status, error = exchanges.FAILED, f"the AI request failed: {type(e).__name__}"
            await self.in_db(
                self._finish, exchange_id, status, "".join(pieces), error, prepared.xp_cost
            )
            if status == "cancelled":
                return
            if status == "ok":
                event = ("done", {"exchange": exchange_id, "status": "ok"})
            else:
                event = ("error", {"exchange": exchange_id, "message": error})
            try:
                self.write(f"event: {event[0]}\ndata: {json.dumps(event[1])}\n\n")
                self.finish()
            except StreamClosedError:
                pass


class SubmissionHintAPIHandler(AIStreamHandler):
    def own_submission(self, submission_id) -> tuple[orm.User, orm.Submission]:
        user = self.learner()
        submission = self.db.get(orm.Submission, as_id(submission_id, "submission"))
        if submission is None:
            raise web.HTTPError(404, f"no such submission: {submission_id}")
        if submission.user_id != user.id:
            if self.access.may_author(submission.question.module.course):
                raise web.HTTPError(
                    403, "AI hints are for a learner's own submissions: read theirs in the log"
                )
            raise web.HTTPError(404, f"no such submission: {submission_id}")
        self.find_question(submission.question_id)  # still one they may see
        return user, submission

    @web.authenticated
    @blocking
    def get(self, submission_id):
        user, submission = self.own_submission(submission_id)
        self.write_json(
            {
                "submission": submission.id,
                "hints": exchanges.hints_of_submission(self.db, user.id, submission.id),
            }
        )

    def _prepare(self, submission_id) -> Prepared:
        user, submission = self.own_submission(submission_id)
        question = submission.question
        course = question.module.course
        row = self.course_settings(course, "AI hints are")
        if submission.status != "graded":
            raise web.HTTPError(
                409,
                f"submission {submission.id} is {submission.status}, not graded: ask for a "
                "hint once it is",
            )
        ground = grounding(
            question.title,
            language_name(question),
            question.student_notebook,
            answer_code(question.student_notebook, submission.notebook),
            submission.tests,
            submission.score,
            submission.max_score,
            submission.error,
        )
        return Prepared(
            user_id=user.id,
            course_id=course.id,
            question_id=question.id,
            kind=exchanges.HINT,
            endpoint=settings.endpoint_of(row),
            messages=hint_messages(row.prompt_template, ground),
            budget=row.daily_budget,
            submission_id=submission.id,
            xp_cost=row.hint_cost,
        )

    @web.authenticated
    async def post(self, submission_id):
        prepared = await self.in_db(self._prepare, submission_id)
        await self.stream_answer(prepared)


class TutorAPIHandler(AIStreamHandler):
    @web.authenticated
    @blocking
    def get(self, question_id):
        user = self.learner()
        question = self.find_question(question_id)
        course = question.module.course
        name = self.get_query_argument("user", None)
        if name and name != user.name:
            self.require_author_of(course)
            user = orm.User.find(self.db, name)
            if user is None:
                raise web.HTTPError(404, f"no such user: {name}")
        row = settings.settings_of(self.db, course.id)
        rows = exchanges.conversation(self.db, user.id, question.id)
        self.write_json(
            {
                "question": question.id,
                "user": user.name,
                "tutor": row.enabled and row.tutor,
                "messages": exchanges.message_models(rows),
                "max_messages": exchanges.MAX_CONVERSATION,
                "max_chars": MAX_MESSAGE_CHARS,
            }
        )


class TutorMessagesAPIHandler(AIStreamHandler):
    def _prepare(self, question_id, text: str, code) -> Prepared:
        user = self.learner()
        question = self.find_question(question_id)
        course = question.module.course
        row = self.course_settings(course, "The AI tutor is", tutor=True)
        rows = exchanges.conversation(self.db, user.id, question.id)
        if len(rows) >= exchanges.MAX_CONVERSATION:
            raise web.HTTPError(
                409,
                f"this conversation has reached its {exchanges.MAX_CONVERSATION} messages",
            )
        latest = self.db.scalar(
            select(orm.Submission)
            .where(
                orm.Submission.user_id == user.id,
                orm.Submission.question_id == question.id,
                orm.Submission.status == "graded",
            )
            .order_by(orm.Submission.id.desc())
            .limit(1)
        )
        if code is not None:
            learner_code = sent_code(code)
        elif latest is not None:
            learner_code = answer_code(question.student_notebook, latest.notebook)
        else:
            learner_code = ""
        ground = grounding(
            question.title,
            language_name(question),
            question.student_notebook,
            learner_code,
            latest.tests if latest else None,
            latest.score if latest else None,
            latest.max_score if latest else None,
            latest.error if latest else None,
        )
        return Prepared(
            user_id=user.id,
            course_id=course.id,
            question_id=question.id,
            kind=exchanges.TUTOR,
            endpoint=settings.endpoint_of(row),
            messages=tutor_messages(row.prompt_template, ground, exchanges.history(rows), text),
            budget=row.daily_budget,
            text=text,
            submission_id=latest.id if latest else None,
        )

    @web.authenticated
    async def post(self, question_id):
        body = self.get_json_body()
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise web.HTTPError(400, "text must be your message: a non-empty string")
        if len(text) > MAX_MESSAGE_CHARS:
            raise web.HTTPError(400, f"text is longer than {MAX_MESSAGE_CHARS} characters")
        code = body.get("code")
        if code is not None and not (
            isinstance(code, str)
            or (isinstance(code, list) and all(isinstance(c, str) for c in code))
        ):
            raise web.HTTPError(400, "code must be a string, or a list of your cells' code")
        prepared = await self.in_db(self._prepare, question_id, text.strip(), code)
        await self.stream_answer(prepared)


default_handlers = [
    (r"courses/([^/]+)/ai", AISettingsAPIHandler),
    (r"courses/([^/]+)/ai/exchanges", AIExchangesAPIHandler),
    (r"questions/(\d+)/ai", QuestionAIAPIHandler),
    (r"submissions/(\d+)/hint", SubmissionHintAPIHandler),
    (r"tutor/(\d+)", TutorAPIHandler),
    (r"tutor/(\d+)/messages", TutorMessagesAPIHandler),
]
