"""Similarity reports' pages, for a course's instructors (`course_pages` style):

- `courses/<slug>/questions/<id>/plagiarism`: the question's reports, and a form to run
  one (a threshold); the form's POST queues it and goes to its page;
- `courses/<slug>/plagiarism/<report>`: its progress (the page reloads itself, by a
  `Refresh` header, while it is computed: the pages run no script) and its pairs above
  the threshold, most similar first;
- `courses/<slug>/plagiarism/<report>/pairs/<pair>`: the two answers side by side,
  the regions found in both highlighted.

A learner's code is text: every piece is escaped by the template and only the
highlight's `<mark>` around matched pieces is markup of ours. Anyone but the course's
instructors gets what the course pages answer (404, or 403 for a learner of it); a
report or pair of another course is a 404.
"""

from __future__ import annotations

from urllib.parse import quote

from tornado import web

from .. import orm
from ..instructors import plagiarism
from ..instructors import plagiarism_reports as reports
from ..instructors.overview import question_status
from .base import as_id
from .course_pages import CoursePageHandler
from .plagiarism import MAX_OFFSET, runner_of, start_report

PAIRS_PAGE = 100
REFRESH_SECONDS = 2  # a report being computed: how often its page reloads


class QuestionPlagiarismPageHandler(CoursePageHandler):
    """A question's reports, and the form that runs one."""

    @web.authenticated
    async def get(self, slug, question_id):
        await self.page(self._render, slug, question_id)

    def _render(self, slug, question_id) -> str:
        course = self.taught_course(slug)
        question = self.course_question(course, question_id)
        runner = runner_of(self)
        return self.render_course_page(
            "plagiarism.html",
            course,
            "dashboard",
            question=question,
            status=question_status(question.retired, question.released),
            reports=reports.question_reports(self.db, question.id),
            default_threshold=runner.default_threshold,
            min_threshold=reports.MIN_THRESHOLD,
            max_threshold=reports.MAX_THRESHOLD,
            xsrf=self.xsrf_token.decode(),
        )

    @web.authenticated
    async def post(self, slug, question_id):
        report_id = await self.in_db(self._start, slug, question_id)
        runner_of(self).wake()
        self.redirect(
            f"{self.grader.service_prefix}courses/{quote(slug, safe='')}/plagiarism/{report_id}",
            status=303,
        )

    def _start(self, slug, question_id) -> int:
        course = self.taught_course(slug)
        question = self.course_question(course, question_id)
        text = self.get_body_argument("threshold", "").strip()
        body = {}
        if text:
            try:
                body["threshold"] = float(text)
            except ValueError:
                raise web.HTTPError(400, f"threshold must be a number, not {text!r}") from None
        return start_report(self, question, body)["id"]


class ReportPageHandler(CoursePageHandler):
    """A report: progress, then its pairs."""

    @web.authenticated
    async def get(self, slug, report_id):
        html, computing = await self.in_db(self._render, slug, report_id)
        if computing:
            self.set_header("Refresh", str(REFRESH_SECONDS))
        self.finish(html)

    def _render(self, slug, report_id) -> tuple[str, bool]:
        course = self.taught_course(slug)
        report = course_report(self.db, course, report_id)
        offset = self.int_argument("offset", 0, maximum=MAX_OFFSET)
        model = reports.report_model(self.db, report, offset, PAIRS_PAGE)
        question = self.course_question(course, report.question_id)
        html = self.render_course_page(
            "plagiarism_report.html",
            course,
            "dashboard",
            question=question,
            report=model,
            offset=offset,
            page=PAIRS_PAGE,
        )
        return html, report.status in (reports.QUEUED, reports.RUNNING)


class PairPageHandler(CoursePageHandler):
    """Two answers side by side, the matched regions highlighted."""

    @web.authenticated
    async def get(self, slug, report_id, pair_id):
        await self.page(self._render, slug, report_id, pair_id)

    def _render(self, slug, report_id, pair_id) -> str:
        course = self.taught_course(slug)
        report = course_report(self.db, course, report_id)
        pair = reports.find_pair(self.db, report.id, as_id(pair_id, "pair"))
        if pair is None:
            raise web.HTTPError(404, f"no such pair in report {report.id}: {pair_id}")
        model = reports.pair_model(self.db, pair)
        sides = [
            {
                **model[side],
                "segments": plagiarism.segments(model[side]["code"], model[side]["regions"]),
            }
            for side in ("a", "b")
        ]
        return self.render_course_page(
            "plagiarism_pair.html",
            course,
            "dashboard",
            question=self.course_question(course, report.question_id),
            report=report,
            pair=model,
            sides=sides,
        )


def course_report(db, course: orm.Course, report_id) -> orm.PlagiarismReport:
    report = reports.find_report(db, as_id(report_id, "report"))
    if report is None or report.course_id != course.id:
        raise web.HTTPError(404, f"no such report in {course.slug}: {report_id}")
    return report


# patterns after the service's prefix without its slash (as course_pages.default_handlers)
page_handlers = [
    (r"/courses/([^/]+)/questions/(\d+)/plagiarism", QuestionPlagiarismPageHandler),
    (r"/courses/([^/]+)/plagiarism/(\d+)", ReportPageHandler),
    (r"/courses/([^/]+)/plagiarism/(\d+)/pairs/(\d+)", PairPageHandler),
]
