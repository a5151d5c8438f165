"""The learner's practice, relayed to the grader: learning paths, spaced-repetition
reviews, quizzes, duels, the daily question, and the push channel that tells the
browser about duel changes (and other learner events) as they happen.

Like the rest of the extension's API, each grader path and method is listed here and
nothing else is reachable; the query arguments forwarded are named per endpoint. The
grader decides who may do what (a learner's own paths, the participants of a duel, a
quiz's instructors): its status and message come back unchanged.
"""

import re

from jupyter_server.auth.decorator import authorized

from .grader_client import GraderError
from .handlers import (
    CoursehubAPIHandler,
    GraderProxyHandler,
    SubmissionEventsHandler,
    api_error,
)


class ActionHandler(CoursehubAPIHandler):
    """A grader resource that is only acted on (POST, sometimes DELETE): no GET, so a
    GET is the usual JSON 405."""

    grader_path = ""

    grader_resource = GraderProxyHandler.grader_resource

    async def relay_action(self, ids) -> None:
        """POST an action that takes nothing (enrol, start, accept ...): whatever the
        browser sent is dropped, so nothing but the action reaches the grader."""
        await self.relay("POST", self.grader_resource(ids), body={})


class GraderRelayHandler(GraderProxyHandler):
    """A grader resource read with GET (the base class) and changed with the methods a
    subclass defines, each relaying the request's JSON object."""

    async def relay_body(self, method: str, ids) -> None:
        await self.relay(method, self.grader_resource(ids), body=self.json_object())


# learning paths ---------------------------------------------------------------


class PathListHandler(GraderRelayHandler):
    """The public paths of the learner's courses and their own; POST makes a path (a
    private one, or a course's public one for its instructors)."""

    grader_path = "paths"
    query_names = ("course",)

    @authorized
    async def post(self):
        await self.relay_body("POST", ())


class PathHandler(GraderRelayHandler):
    """A path with its items; PUT and DELETE for its owner (or its course's
    instructors)."""

    grader_path = "paths/{}"

    @authorized
    async def put(self, path_id):
        await self.relay_body("PUT", (path_id,))

    @authorized
    async def delete(self, path_id):
        await self.relay("DELETE", self.grader_resource((path_id,)))


class PathEnrolHandler(ActionHandler):
    """Follow a path (POST, idempotent) or stop following it (DELETE)."""

    grader_path = "paths/{}/enrol"

    @authorized
    async def post(self, path_id):
        await self.relay_action((path_id,))

    @authorized
    async def delete(self, path_id):
        await self.relay("DELETE", self.grader_resource((path_id,)))


# reviews ----------------------------------------------------------------------


class ReviewListHandler(GraderRelayHandler):
    """The learner's review cards that are due, with counts and the next due time."""

    grader_path = "reviews"
    query_names = ("course", "limit")


class ReviewHandler(GraderRelayHandler):
    """One question's review card; POST rates a flashcard ``{"rating", "duration_ms"}``
    (the grader refuses a rating for any other type: those are rated by grading)."""

    grader_path = "reviews/{}"

    @authorized
    async def post(self, question_id):
        await self.relay_body("POST", (question_id,))


class ReviewStartHandler(ActionHandler):
    """Start reviewing a question now (the time taken to solve it sets its rating)."""

    grader_path = "reviews/{}/start"

    @authorized
    async def post(self, question_id):
        await self.relay_action((question_id,))


# quizzes ----------------------------------------------------------------------


class QuizListHandler(GraderRelayHandler):
    """The course's released quizzes; POST makes one (its course's instructors)."""

    grader_path = "quizzes"
    query_names = ("course",)

    @authorized
    async def post(self):
        await self.relay_body("POST", ())


class QuizHandler(GraderRelayHandler):
    """A quiz with the learner's attempt; PUT and DELETE for its course's instructors."""

    grader_path = "quizzes/{}"

    @authorized
    async def put(self, quiz_id):
        await self.relay_body("PUT", (quiz_id,))

    @authorized
    async def delete(self, quiz_id):
        await self.relay("DELETE", self.grader_resource((quiz_id,)))


class QuizResultsHandler(GraderRelayHandler):
    """Every learner's attempt at a quiz (its course's instructors)."""

    grader_path = "quizzes/{}/results"


class QuizActionHandler(ActionHandler):
    """``start`` (draws the learner's questions, once) and ``finish`` an attempt."""

    grader_path = "quizzes/{}/{}"

    @authorized
    async def post(self, quiz_id, action):
        await self.relay_action((quiz_id, action))


# duels ------------------------------------------------------------------------


class DuelListHandler(GraderRelayHandler):
    """The learner's duels and the open challenges they may accept; POST challenges a
    learner, anyone in the course (an open challenge) or the bot."""

    grader_path = "duels"
    query_names = ("course", "status", "limit")

    @authorized
    async def post(self):
        await self.relay_body("POST", ())


class DuelRatingsHandler(GraderRelayHandler):
    """The course's duel ranking (Elo ratings)."""

    grader_path = "duels/ratings"
    query_names = ("course", "offset", "limit")


class DuelHandler(GraderRelayHandler):
    grader_path = "duels/{}"


class DuelActionHandler(ActionHandler):
    """``accept``, ``decline``, ``cancel`` or ``resign`` a duel (the route names them)."""

    grader_path = "duels/{}/{}"

    @authorized
    async def post(self, duel_id, action):
        await self.relay_action((duel_id, action))


# the daily question -------------------------------------------------------------


class DailyHandler(GraderRelayHandler):
    """Today's question of the course (the learner's own day), and their daily streak."""

    grader_path = "daily"
    query_names = ("course",)


# the push channel ---------------------------------------------------------------

# What the grader sends as an event's id: a row id. Nothing else is passed upstream.
EVENT_ID = re.compile(r"^\d{1,20}$")


class LearnerEventsHandler(SubmissionEventsHandler):
    """The learner's events (``event: duel`` ...) as server-sent events, relayed from
    the grader's ``GET events`` as they come.

    The browser's ``Last-Event-ID`` (sent when it reconnects; or ``?last_event_id=``,
    for a first connection that cannot set headers) goes to the grader as the header,
    and the grader replays what was missed; its ids and keep-alive comments come back
    as they are. A refusal before the stream starts is the usual JSON error.
    """

    @authorized
    async def get(self):
        last_event_id = self.request.headers.get("Last-Event-ID", "").strip()
        if not last_event_id:
            last_event_id = self.get_query_argument("last_event_id", "").strip()
        headers = {}
        if last_event_id:
            if not EVENT_ID.match(last_event_id):
                raise api_error(400, "Last-Event-ID must be the id of an event (a number).")
            headers["Last-Event-ID"] = last_event_id
        try:
            await self.grader.stream("events", self.relay, stop=self.browser_gone, headers=headers)
        except GraderError as e:
            if not self.streaming:
                raise api_error(e.status, e.message) from None
            # The browser reconnects with the last id it saw; nothing is lost.
            self.log.warning("coursehub: the learner's event stream: %s", e)
        if not self.browser_gone.is_set():
            self.start_stream()
            self.finish(set_content_type="text/event-stream")


default_handlers = [
    (r"coursehub/api/paths", PathListHandler),
    (r"coursehub/api/paths/([^/]+)/enrol", PathEnrolHandler),
    (r"coursehub/api/paths/([^/]+)", PathHandler),
    (r"coursehub/api/reviews", ReviewListHandler),
    (r"coursehub/api/reviews/([^/]+)/start", ReviewStartHandler),
    (r"coursehub/api/reviews/([^/]+)", ReviewHandler),
    (r"coursehub/api/quizzes", QuizListHandler),
    (r"coursehub/api/quizzes/([^/]+)/results", QuizResultsHandler),
    (r"coursehub/api/quizzes/([^/]+)/(start|finish)", QuizActionHandler),
    (r"coursehub/api/quizzes/([^/]+)", QuizHandler),
    (r"coursehub/api/duels", DuelListHandler),
    (r"coursehub/api/duels/ratings", DuelRatingsHandler),
    (r"coursehub/api/duels/([^/]+)/(accept|decline|cancel|resign)", DuelActionHandler),
    (r"coursehub/api/duels/([^/]+)", DuelHandler),
    (r"coursehub/api/daily", DailyHandler),
    (r"coursehub/api/events", LearnerEventsHandler),
]
