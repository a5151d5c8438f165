"""Analytics: a course's (or a question's) figures for its instructors, as JSON, or one
plot's data as CSV (`?plot=<name>&format=csv`), the data behind each chart of the
analytics pages. Computed by :mod:`grader.instructors.analytics`."""

from __future__ import annotations

from tornado import web

from ..instructors import analytics
from .base import APIHandler, blocking


class AnalyticsAPIHandler(APIHandler):
    @web.authenticated
    @blocking
    def get(self):
        self.learner()
        course, question = self._subject()
        self.require_author_of(course)
        if question is not None and question.module.course_id != course.id:
            raise web.HTTPError(404, f"no such question in {course.slug}: {question.id}")
        plot = self.get_query_argument("plot", None)
        if plot is not None and plot not in analytics.PLOTS:
            raise web.HTTPError(400, f"plot must be one of {', '.join(analytics.PLOTS)}")
        form = self.get_query_argument("format", "json")
        if form not in ("json", "csv"):
            raise web.HTTPError(400, "format must be json or csv")
        if form == "csv" and plot is None:
            raise web.HTTPError(400, f"a CSV is one plot's: plot= {', '.join(analytics.PLOTS)}")
        model = analytics.analytics(self.db, course, question, (plot,) if plot else analytics.PLOTS)
        if plot is None:
            self.write_json(model)
            return
        rows = analytics.plot_rows(model, plot)
        if form == "json":
            self.write_json({"course": course.slug, "question": model["question"], plot: rows})
            return
        name = f"{course.slug}-{question.id}" if question is not None else course.slug
        text = analytics.csv_text(plot, rows)
        self._deferred.append(lambda: self._send_csv(f"analytics-{name}-{plot}.csv", text))

    def _subject(self):
        """(the course, the question or None) asked for: ``course`` (default: the
        caller's only course taught), ``question`` (an id, in that course)."""
        question_ref = self.get_query_argument("question", None)
        course = None
        if self.get_query_argument("course", None) or not question_ref:
            # the course checked before anything about its questions
            course = self.taught_course_argument("analytics are a course's")
        question = None
        if question_ref:
            question = self.find_question(question_ref, include_retired=True)
            course = course or question.module.course
        return course, question

    def _send_csv(self, filename: str, text: str):
        self.set_header("Content-Type", "text/csv; charset=UTF-8")
        self.set_header("Content-Disposition", f'attachment; filename="{filename}"')
        self.finish(text)


default_handlers = [
    (r"analytics", AnalyticsAPIHandler),
]
