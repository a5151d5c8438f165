"""Watching a course: its instructors' pages at `/services/grader/courses/<slug>/...`.

- `courses/<slug>/`: the dashboard (modules, questions and their status, submissions,
  learners who solved each, links to everything below);
- `courses/<slug>/questions/<id>/submissions` and `courses/<slug>/learners/<name>`:
  submissions newest first, a page at a time;
- `courses/<slug>/submissions/<id>`: one submission, its notebook read-only and its
  feedback (and the hand-grading form where it has manually graded cells);
- `courses/<slug>/gradebook`: learners by questions, a page at a time, and the CSV;
- `courses/<slug>/analytics` and `courses/<slug>/questions/<id>/analytics`: figures
  and server-drawn SVG charts (`grader.instructors.analytics`, `charts`), each chart's
  data as CSV from `GET api/v1/analytics`;
- `courses/<slug>/practice`: quizzes, learning paths, reviews, duels and the daily
  question (`grader.instructors.practice_overview`), and `courses/<slug>/quizzes/<id>`:
  one quiz's results, a page of learners at a time;
- `courses/<slug>/ai`: the course's AI settings (never the key) and every exchange
  with its model, newest first, a page at a time, by question, learner or kind.

Only the course's instructors see them: anyone else gets what the API answers, 404 for
a course they may not see, 403 for one they learn in. A learner's notebook is the
learner's to write, outputs included: it is shown as text (`notebook_view`), never as
HTML. The pages have no script but the submission page's hand-grading form, a file of
the grader's own (`static/manual_grading.js`), allowed by that page's policy alone.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, urlencode

from sqlalchemy import select
from sqlalchemy.orm import joinedload
from tornado import web

from .. import orm
from ..ai import exchanges
from ..ai import settings as ai_settings
from ..instructors import analytics as figures
from ..instructors import gradebook
from ..instructors.charts import Point, bar_chart, histogram, line_chart
from ..instructors.notebook_view import notebook_cells, output_image
from ..instructors.overview import course_overview, question_status
from ..instructors.practice_overview import (
    RESULTS_PAGE,
    attempt_count,
    duration_text,
    practice_overview,
    quiz_results_page,
)
from ..instructors.submission_lists import (
    learner_standing,
    submission_count,
    submissions_page,
)
from ..learners import integrity
from .ai import KINDS as AI_KINDS
from .ai import assistant_of
from .base import APIHandler, as_id
from .pages import CONTENT_SECURITY_POLICY, PageHandler
from .submissions import submission_detail

STATIC = Path(__file__).resolve().parent.parent / "static"
GRADEBOOK_PAGE = 50  # learners a page of the gradebook shows
AI_PAGE = exchanges.PAGE  # exchanges a page of the AI log shows

# the submission page with a hand-grading form runs the grader's own script, which
# saves a grade with fetch(): nothing else, and no inline script
GRADING_POLICY = CONTENT_SECURITY_POLICY + "; script-src 'self'; connect-src 'self'"
# an image output, opened on its own, is a document of nobody's origin
IMAGE_POLICY = "default-src 'none'; sandbox"


class CoursePageHandler(PageHandler):
    """A page of one course, for its instructors."""

    # the API's lookups (404s that leak nothing, 400s on bad numbers): nothing JSON in them
    find_course = APIHandler.find_course
    find_question = APIHandler.find_question
    int_argument = APIHandler.int_argument

    async def page(self, render, *args):
        """Render in the database threads and send; every page reads the XSRF token,
        which sets its cookie again if the browser lost it."""
        self.xsrf_token  # noqa: B018
        self.finish(await self.in_db(render, *args))

    def taught_course(self, slug: str) -> orm.Course:
        """The course of the URL, which the caller teaches: a 404 for a course they may
        not see, a 403 for one they only learn in (as the API answers)."""
        self.learner()
        course = self.find_course(slug)
        self.require_author_of(course)
        return course

    def course_question(self, course: orm.Course, question_id) -> orm.Question:
        question = self.find_question(question_id, include_retired=True)
        if question.module.course_id != course.id:
            raise web.HTTPError(404, f"no such question in {course.slug}: {question_id}")
        return question

    def submission_list(self, course: orm.Course, **where) -> dict:
        """What `submission_table.html` shows: a page of the course's submissions (of
        one question or learner: ``where``), below ``?before=``, and their count."""
        before = self.int_argument("before", minimum=1)
        rows, older = submissions_page(self.db, course, before=before, **where)
        signals = integrity.markers(self.db, [row["id"] for row in rows])
        return {
            "total": submission_count(self.db, course, **where),
            "submissions": rows,
            # a small marker beside those sent with integrity signals worth a look
            "integrity_marks": {i: integrity.marker_text(m) for i, m in signals.items()},
            "before": before,
            "older": older,
        }

    def render_course_page(self, name: str, course: orm.Course, tab: str, **context) -> str:
        course_url = f"{self.grader.service_prefix}courses/{quote(course.slug, safe='')}/"
        return self.render_page(
            name,
            course=course,
            course_url=course_url,
            tab=tab,
            several_courses=len(self.access.teaching(self.db)) > 1,
            **context,
        )


class CourseDashboardHandler(CoursePageHandler):
    @web.addslash
    @web.authenticated
    async def get(self, slug):
        await self.page(self._render, slug)

    def _render(self, slug) -> str:
        course = self.taught_course(slug)
        overview = course_overview(self.db, course)
        return self.render_course_page("dashboard.html", course, "dashboard", **overview)


class QuestionSubmissionsHandler(CoursePageHandler):
    @web.authenticated
    async def get(self, slug, question_id):
        await self.page(self._render, slug, question_id)

    def _render(self, slug, question_id) -> str:
        course = self.taught_course(slug)
        question = self.course_question(course, question_id)
        return self.render_course_page(
            "question_submissions.html",
            course,
            "dashboard",
            **self.submission_list(course, question_id=question.id),
            question=question,
            status=question_status(question.retired, question.released),
        )


class LearnerPageHandler(CoursePageHandler):
    @web.authenticated
    async def get(self, slug, name):
        await self.page(self._render, slug, name)

    def _render(self, slug, name) -> str:
        course = self.taught_course(slug)
        learner = orm.User.find(self.db, name)
        if learner is None:
            raise web.HTTPError(404, f"no such learner: {name}")
        return self.render_course_page(
            "learner_submissions.html",
            course,
            "gradebook",
            **self.submission_list(course, user_id=learner.id),
            learner=learner,
            standing=learner_standing(self.db, course, learner),
        )


class SubmissionPageHandler(CoursePageHandler):
    """One submission: what was graded and how, the notebook as the learner sent it."""

    @web.authenticated
    async def get(self, slug, submission_id):
        self.xsrf_token  # noqa: B018
        html, grading = await self.in_db(self._render, slug, submission_id)
        if grading:
            self.set_header("Content-Security-Policy", GRADING_POLICY)
        self.finish(html)

    def _render(self, slug, submission_id) -> tuple[str, bool]:
        course = self.taught_course(slug)
        submission = find_submission(self.db, course, submission_id)
        model = submission_detail(self.db, submission)
        # the hand-grading form, where the submission has answers graded by hand
        manual = model.get("manual") or None
        cells = notebook_cells(submission.notebook)
        html = self.render_course_page(
            "submission.html",
            course,
            "dashboard",
            submission=submission,
            model=model,
            question=submission.question,
            cells=cells,
            cell_of={c["grade_id"]: c["index"] for c in cells if c["grade_id"]},
            manual=manual,
            xsrf=self.xsrf_token.decode(),
            api=f"{self.grader.service_prefix}api/v1/",
            integrity=integrity.signals_of(self.db, submission.id),
            integrity_caveat=integrity.CAVEAT,
        )
        return html, manual is not None


class SubmissionImageHandler(CoursePageHandler):
    """An image output of a submitted notebook (PNG, JPEG or GIF, checked), for the
    submission page's `<img>`: the pages' policy allows images from their own origin
    only, not `data:` URIs."""

    @web.authenticated
    async def get(self, slug, submission_id, cell, output):
        mime, data = await self.in_db(self._image, slug, submission_id, int(cell), int(output))
        self.set_header("Content-Type", mime)
        self.set_header("Content-Security-Policy", IMAGE_POLICY)
        self.set_header("Cache-Control", "private, max-age=3600")
        self.finish(data)

    def _image(self, slug, submission_id, cell, output):
        course = self.taught_course(slug)
        image = output_image(find_submission(self.db, course, submission_id).notebook, cell, output)
        if image is None:
            raise web.HTTPError(404, "no such image output")
        return image


class GradebookPageHandler(CoursePageHandler):
    @web.authenticated
    async def get(self, slug):
        await self.page(self._render, slug)

    def _render(self, slug) -> str:
        course = self.taught_course(slug)
        after = self.get_query_argument("after", None)
        cols = gradebook.columns(self.db, course)
        ids = [c["id"] for c in cols]
        learners = gradebook.learners_page(self.db, course, ids, after, GRADEBOOK_PAGE)
        return self.render_course_page(
            "gradebook.html",
            course,
            "gradebook",
            columns=cols,
            learners=learners,
            after=after,
            next=learners[-1][0] if len(learners) == GRADEBOOK_PAGE else None,
        )


class AnalyticsPageHandler(CoursePageHandler):
    """A course's figures, or (with a question id) one question's."""

    @web.authenticated
    async def get(self, slug, question_id=None):
        await self.page(self._render, slug, question_id)

    def _render(self, slug, question_id) -> str:
        course = self.taught_course(slug)
        question = self.course_question(course, question_id) if question_id else None
        model = figures.analytics(self.db, course, question)
        query = f"course={quote(course.slug, safe='')}"
        if question is not None:
            query += f"&question={question.id}"
        return self.render_course_page(
            "analytics.html",
            course,
            "analytics",
            question=question,
            model=model,
            charts=analytics_charts(model, question is not None),
            csv_url=f"{self.grader.service_prefix}api/v1/analytics?{query}&format=csv&plot=",
        )


class PracticePageHandler(CoursePageHandler):
    """The course's practice: quizzes, paths, reviews, duels, the daily question."""

    @web.authenticated
    async def get(self, slug):
        await self.page(self._render, slug)

    def _render(self, slug) -> str:
        course = self.taught_course(slug)
        return self.render_course_page(
            "practice.html", course, "practice", **practice_overview(self.db, course)
        )


class QuizResultsPageHandler(CoursePageHandler):
    """One quiz's attempts, by learner name, a page at a time (as the gradebook)."""

    @web.authenticated
    async def get(self, slug, quiz_id):
        await self.page(self._render, slug, quiz_id)

    def _render(self, slug, quiz_id) -> str:
        course = self.taught_course(slug)
        # an id past any column's range names no quiz (and must not reach the driver)
        quiz = self.db.get(orm.Quiz, as_id(quiz_id, "quiz"))
        if quiz is None or quiz.course_id != course.id:
            raise web.HTTPError(404, f"no such quiz in {course.slug}: {quiz_id}")
        after = self.get_query_argument("after", None)
        attempts = quiz_results_page(self.db, quiz, after, RESULTS_PAGE)
        return self.render_course_page(
            "quiz_results.html",
            course,
            "practice",
            quiz=quiz,
            count=sum(d["count"] for d in quiz.draws),
            time_limit=duration_text(quiz.time_limit),
            status=question_status(False, quiz.released),
            total=attempt_count(self.db, quiz),
            attempts=attempts,
            after=after,
            next=attempts[-1]["name"] if len(attempts) == RESULTS_PAGE else None,
        )


class AIPageHandler(CoursePageHandler):
    """The course's AI help: its settings, never the key (whether its variable is set),
    and its log, newest first, ``?before=`` a page at a time, filtered by ``question``
    (an id), ``learner`` (a name) and ``kind`` (hint or tutor)."""

    @web.authenticated
    async def get(self, slug):
        await self.page(self._render, slug)

    def _render(self, slug) -> str:
        course = self.taught_course(slug)
        questions = course_questions(self.db, course)
        question_id = self.get_query_argument("question", "") or None
        if question_id is not None:
            # a question of another course (or none) is not one to filter by: a 404
            # as the API answers, and nothing read of it
            question_id = self.course_question(course, question_id).id
        learner_name = self.get_query_argument("learner", "").strip()
        user_id = None
        if learner_name:
            learner = orm.User.find(self.db, learner_name)
            # no such learner: an empty log, as a search finding nothing
            user_id = learner.id if learner is not None else -1
        kind = self.get_query_argument("kind", "") or None
        if kind is not None and kind not in AI_KINDS:
            raise web.HTTPError(400, f"kind must be one of {', '.join(AI_KINDS)}")
        before = self.int_argument("before", minimum=1)
        rows, older = exchanges.exchanges_page(
            self.db,
            course.id,
            question_id=question_id,
            user_id=user_id,
            kind=kind,
            before=before,
            limit=AI_PAGE,
        )
        filters = {
            "question": question_id or "",
            "learner": learner_name,
            "kind": kind or "",
        }
        kept = {name: value for name, value in filters.items() if value}
        row = ai_settings.settings_of(self.db, course.id)
        return self.render_course_page(
            "ai.html",
            course,
            "ai",
            settings=ai_settings.settings_model(course, row, assistant_of(self.grader)),
            exchanges=rows,
            questions=questions,
            question_of={q.id: q for q in questions},
            filters=filters,
            kinds=AI_KINDS,
            before=before,
            first_url="?" + urlencode(kept) if kept else "?",
            older_url="?" + urlencode({**kept, "before": older}) if older else None,
        )


class StaticHandler(web.StaticFileHandler):
    """The grader's own script files (`grader/static`), for its pages' policy's
    `script-src 'self'`."""

    def initialize(self):
        super().initialize(path=str(STATIC))

    def set_extra_headers(self, path):
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-cache")  # revalidated: a new version is seen


def find_submission(db, course: orm.Course, submission_id) -> orm.Submission:
    # with its question and module: checked here, shown on the page (one query, not three)
    submission = db.get(
        orm.Submission,
        as_id(submission_id, "submission"),
        options=[joinedload(orm.Submission.question).joinedload(orm.Question.module)],
    )
    if submission is None or submission.question.module.course_id != course.id:
        raise web.HTTPError(404, f"no such submission in {course.slug}: {submission_id}")
    return submission


def course_questions(db, course: orm.Course) -> list:
    """The course's questions, retired ones too (their exchanges stay in the log), by
    module and slug, for the AI page's filter and the question each exchange was about."""
    return db.execute(
        select(
            orm.Question.id, orm.Question.slug, orm.Question.title, orm.Module.slug.label("module")
        )
        .join(orm.Module, orm.Module.id == orm.Question.module_id)
        .where(orm.Module.course_id == course.id)
        .order_by(orm.Module.slug, orm.Question.slug)
    ).all()


def analytics_charts(model: dict, one_question: bool) -> dict:
    """The analytics page's charts (SVG markup), by plot name."""
    charts = {}
    if not one_question:
        charts["pass_rate"] = bar_chart(
            [
                Point(
                    q["slug"],
                    100 * (q["pass_rate"] or 0),
                    f"{q['slug']} ({q['title']}): {q['solved']} of {q['learners']} "
                    f"learners who submitted passed",
                )
                for q in model["questions"]
            ],
            title="Pass rate per question",
            x_label="question",
            y_label="% of learners who submitted",
            y_max=100,
        )
    charts["attempts"] = histogram(
        [
            Point(
                a["attempts"], a["learners"], f"{a['learners']} passed at attempt {a['attempts']}"
            )
            for a in model["attempts"]
        ],
        title="Attempts to pass",
        x_label="graded submissions until the first pass",
        y_label="learners",
    )
    charts["scores"] = histogram(
        [
            Point(s["bin"], s["learners"], f"{s['learners']} learners: {s['bin']}")
            for s in model["scores"]
        ],
        title="Best scores" if one_question else "Course totals",
        x_label="% of the question's points"
        if one_question
        else "% of the released questions' points",
        y_label="learners",
    )
    charts["time_to_pass"] = histogram(
        [
            Point(t["bin"], t["learners"], f"{t['learners']} first passed {t['bin']} after release")
            for t in model["time_to_pass"]
        ],
        title="Time from release to first pass",
        x_label="time after the question's release",
        y_label="learners",
    )
    charts["activity"] = line_chart(
        [
            Point(
                d["day"],
                d["submissions"],
                f"{d['day']}: {d['submissions']} submissions by {d['learners']} learners",
            )
            for d in model["activity"]
        ],
        title="Submissions per day",
        x_label="day (UTC)",
        y_label="submissions",
        integer=True,
    )
    return charts


# patterns after the service's prefix without its slash (as pages.default_handlers)
default_handlers = [
    (r"/courses/([^/]+)/?", CourseDashboardHandler),
    (r"/courses/([^/]+)/questions/(\d+)/submissions", QuestionSubmissionsHandler),
    (r"/courses/([^/]+)/questions/(\d+)/analytics", AnalyticsPageHandler),
    (r"/courses/([^/]+)/learners/([^/]+)", LearnerPageHandler),
    (r"/courses/([^/]+)/submissions/(\d+)", SubmissionPageHandler),
    (r"/courses/([^/]+)/submissions/(\d+)/outputs/(\d+)/(\d+)", SubmissionImageHandler),
    (r"/courses/([^/]+)/gradebook", GradebookPageHandler),
    (r"/courses/([^/]+)/analytics", AnalyticsPageHandler),
    (r"/courses/([^/]+)/practice", PracticePageHandler),
    (r"/courses/([^/]+)/quizzes/(\d+)", QuizResultsPageHandler),
    (r"/courses/([^/]+)/ai", AIPageHandler),
    (r"/static/(manual_grading\.js)", StaticHandler),
]
