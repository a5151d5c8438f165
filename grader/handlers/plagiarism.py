"""Similarity reports of a question's answers, for its course's instructors only
(:mod:`grader.instructors.plagiarism`, `plagiarism_reports`, `plagiarism_runner`).

- `POST questions/{id}/plagiarism` `{"threshold": 0.6}` (optional): 202 and the queued
  report; computed in the background (a process of its own), one at a time per
  question (409 while one is under way);
- `GET questions/{id}/plagiarism`: the question's latest reports;
- `GET plagiarism/{report_id}?offset=&limit=`: its status and progress, and its pairs
  above the threshold, most similar first: the two learners, their submissions,
  the similarity each way;
- `GET plagiarism/{report_id}/pairs/{pair_id}`: one pair side by side: both answers'
  code as compared and the matched regions.

Never shown to learners: a question's reports need its course's author scope (a
learner of the course gets a 403, anyone else a 404, as for any instructor endpoint);
a report or a pair is a 404 for anyone who does not teach its course, so report ids
say nothing. Nothing of a report is in any learner's response.
"""

from __future__ import annotations

from sqlalchemy import select
from tornado import web

from .. import audit, orm
from ..instructors import plagiarism_reports as reports
from .base import APIHandler, as_id, blocking

PAIRS_PAGE = 100  # pairs a report's response holds unless ?limit= says
MAX_PAIRS_PAGE = 1000
MAX_OFFSET = 10**9  # past any report (and within what a database takes)


def runner_of(handler):
    return handler.grader.plagiarism


def start_report(handler, question: orm.Question, body: dict) -> dict:
    """Queue a report of ``question`` for the caller (an instructor of its course) and
    audit it: the report's summary. Runs in the database threads."""
    unknown = sorted(set(body) - {"threshold"})
    if unknown:
        raise web.HTTPError(400, f"unknown field(s): {', '.join(unknown)} (only threshold)")
    runner = runner_of(handler)
    try:
        threshold = reports.check_threshold(body.get("threshold", runner.default_threshold))
        actor = handler.current_user["name"]
        with handler.grader.writer_factory() as db:
            # one report under way a question, even with two clicks at once (a row lock
            # on PostgreSQL; SQLite's writer transaction already serializes)
            db.execute(
                select(orm.Question.id).where(orm.Question.id == question.id).with_for_update()
            )
            question = db.get(orm.Question, question.id)
            report = reports.create_report(db, question, actor, threshold, runner.limits())
            audit.record(
                db,
                actor=actor,
                action="plagiarism.run",
                course_id=report.course_id,
                target=f"question {question.id}",
                detail={
                    "report": report.id,
                    "threshold": threshold,
                    "submissions": len(report.submission_ids),
                },
            )
            db.commit()
            return reports.report_summary(report, 0)
    except reports.ReportRefused as e:
        raise web.HTTPError(e.status, "%s", e.message) from None


def find_taught_report(handler, report_id) -> orm.PlagiarismReport:
    """A report of a course the caller teaches; 404 for any other (learners included)."""
    handler.learner()
    report = reports.find_report(handler.db, as_id(report_id, "report"))
    if report is not None:
        course = handler.db.get(orm.Course, report.course_id)
        if course is not None and handler.access.may_author(course):
            return report
    raise web.HTTPError(404, f"no such report: {report_id}")


class QuestionPlagiarismAPIHandler(APIHandler):
    @web.authenticated
    @blocking
    def get(self, question_id):
        question = self.find_taught_question(question_id)
        self.write_json({"reports": reports.question_reports(self.db, question.id)})

    @web.authenticated
    async def post(self, question_id):
        model = await self.in_db(self._start, question_id)
        runner_of(self).wake()
        self.write_json(model, 202)

    def _start(self, question_id) -> dict:
        question = self.find_taught_question(question_id)
        body = self.get_json_body() if self.request.body else {}
        return start_report(self, question, body)


class PlagiarismReportAPIHandler(APIHandler):
    @web.authenticated
    @blocking
    def get(self, report_id):
        report = find_taught_report(self, report_id)
        offset = self.int_argument("offset", 0, maximum=MAX_OFFSET)
        limit = self.int_argument("limit", PAIRS_PAGE, minimum=1, maximum=MAX_PAIRS_PAGE)
        self.write_json(reports.report_model(self.db, report, offset, limit))


class PlagiarismPairAPIHandler(APIHandler):
    @web.authenticated
    @blocking
    def get(self, report_id, pair_id):
        report = find_taught_report(self, report_id)
        pair = reports.find_pair(self.db, report.id, as_id(pair_id, "pair"))
        if pair is None:
            raise web.HTTPError(404, f"no such pair in report {report.id}: {pair_id}")
        self.write_json(reports.pair_model(self.db, pair))


default_handlers = [
    (r"questions/(\d+)/plagiarism", QuestionPlagiarismAPIHandler),
    (r"plagiarism/(\d+)", PlagiarismReportAPIHandler),
    (r"plagiarism/(\d+)/pairs/(\d+)", PlagiarismPairAPIHandler),
]
