"""The daily question (:mod:`grader.learners.daily`).

`GET daily?course=`: the caller's local day (their `timezone`), that day's question of
the course with their best score, whether they solved it today, and their daily streak.
The question is only ever one released to every learner: the same one for the whole
course that day, whoever asks.
"""

from __future__ import annotations

from tornado import web

from ..learners import daily
from .base import APIHandler, blocking


class DailyAPIHandler(APIHandler):
    @web.authenticated
    @blocking
    def get(self):
        user = self.learner()
        course = self.course_argument()
        self.write_json(daily.daily_model(self.db, user, course))


default_handlers = [(r"daily", DailyAPIHandler)]
