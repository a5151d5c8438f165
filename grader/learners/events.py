"""What the push channel (`GET events`) sends a learner: `LearnerEvent` rows.

A change a learner's open pages should hear of at once (a duel accepted, won, lost) is
written as a row by :func:`record`, **in the transaction of the change itself**: the
event exists exactly when the change does. The stream sends a learner's rows in `id`
order, each with its id; a client that reconnects with `Last-Event-ID` (what the
browser's EventSource does by itself) gets every row after it (:func:`after`), so a
dropped connection loses nothing.

That only holds if a learner's ids are committed in their order: on PostgreSQL two
transactions may take ids 10 and 11 and commit 11 first, and a stream that sent 11 would
never send 10. So :func:`record` first takes a per-learner advisory lock (held until the
transaction ends): a learner's next id is taken only after their previous event's
transaction ended. SQLite's writers take turns anyway. Callers writing events for
several learners in one transaction do so in user-id order (no deadlock).

:class:`EventWatch` is what the streams wait on: one task reads the newest event id of
every connected learner together (one grouped query on `(user_id, id)`, whatever the
number of streams), every `interval`, and wakes the streams that have something new;
each of those then reads its rows. Rows older than `keep_seconds` are pruned.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import delete, func, select, text
from traitlets import Float, Integer
from traitlets.config import LoggingConfigurable

from .. import orm

#: the first key of the per-learner advisory lock (PostgreSQL's two-key space: no
#: clash with the migrations' one-key lock)
EVENT_LOCK_KEY = 0x6576  # "ev"

#: most rows one read sends (a stream reads again at once when it got this many)
BATCH = 100


def record(db, user_id: int, kind: str, data: dict) -> orm.LearnerEvent:
    """Add an event for a learner to this transaction (see the module's docstring)."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(
            text("SELECT pg_advisory_xact_lock(:key, :user_id)"),
            {"key": EVENT_LOCK_KEY, "user_id": user_id},
        )
    event = orm.LearnerEvent(user_id=user_id, kind=kind, data=data, created=orm.utcnow())
    db.add(event)
    db.flush()
    return event


def after(db, user_id: int, last_id: int, limit: int = BATCH) -> list[orm.LearnerEvent]:
    """A learner's events after ``last_id``, oldest first (a range of the index)."""
    return list(
        db.scalars(
            select(orm.LearnerEvent)
            .where(orm.LearnerEvent.user_id == user_id, orm.LearnerEvent.id > last_id)
            .order_by(orm.LearnerEvent.id)
            .limit(limit)
        )
    )


def latest_id(db, user_id: int) -> int:
    """The id of a learner's newest event, 0 if none: a new stream starts after it."""
    newest = db.scalar(
        select(func.max(orm.LearnerEvent.id)).where(orm.LearnerEvent.user_id == user_id)
    )
    return newest or 0


def newest_ids(db, user_ids) -> dict[int, int]:
    """``{user id: newest event id}`` of these learners (those with any), in one query."""
    return dict(
        db.execute(
            select(orm.LearnerEvent.user_id, func.max(orm.LearnerEvent.id))
            .where(orm.LearnerEvent.user_id.in_(list(user_ids)))
            .group_by(orm.LearnerEvent.user_id)
        ).all()
    )


def prune(db, before) -> int:
    """Delete events created before ``before``; how many went."""
    return db.execute(delete(orm.LearnerEvent).where(orm.LearnerEvent.created < before)).rowcount


def event_text(event: orm.LearnerEvent, dumps) -> str:
    """One server-sent event: its id (for Last-Event-ID), kind and data (one line)."""
    return f"id: {event.id}\nevent: {event.kind}\ndata: {dumps(event.data)}\n\n"


class TooManyStreams(Exception):
    """A learner has `max_streams_per_learner` open already."""


class EventWatch(LoggingConfigurable):
    """The learners' open event streams, and one look at the database for all of them."""

    interval = Float(
        0.5,
        help="""Seconds between looks for learners' new events (duels): the most an event
        waits before it is pushed. One grouped query a look, whatever the number of
        open streams.""",
    ).tag(config=True)
    keep_seconds = Integer(
        7 * 86400,
        help="""Seconds a learner's event is kept for a client that reconnects
        (Last-Event-ID); older ones are pruned.""",
    ).tag(config=True)
    prune_interval = Float(3600.0, help="Seconds between two prunings of old events.").tag(
        config=True
    )
    max_streams_per_learner = Integer(
        8,
        help="""Event streams one learner may hold open at once (a tab each); more is a
        429.""",
    ).tag(config=True)

    def __init__(self, session_factory, **kwargs):
        super().__init__(**kwargs)
        self.session_factory = session_factory
        # user id -> {future: the id the stream has sent up to}
        self._waiting: dict[int, dict[asyncio.Future, int]] = {}
        self._streams: dict[int, int] = {}  # user id -> open streams
        self._task: asyncio.Task | None = None
        self._pruned = None  # monotonic time of the last pruning

    # streams

    def open_stream(self, user_id: int) -> None:
        """Count a new stream of a learner, or raise TooManyStreams."""
        if self._streams.get(user_id, 0) >= self.max_streams_per_learner:
            raise TooManyStreams()
        self._streams[user_id] = self._streams.get(user_id, 0) + 1

    def close_stream(self, user_id: int) -> None:
        left = self._streams.get(user_id, 0) - 1
        if left > 0:
            self._streams[user_id] = left
        else:
            self._streams.pop(user_id, None)

    @property
    def followed(self) -> int:
        """Learners with a stream waiting now (for tests and health)."""
        return len(self._waiting)

    async def wait(self, user_id: int, last_id: int, timeout: float) -> int | None:
        """Wait until the learner has an event after ``last_id``: the newest id, or None
        after ``timeout`` seconds without one. Cancelling it (the client went away)
        forgets the stream at once."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(user_id, {})[future] = last_id
        if self._task is None:
            self._task = asyncio.create_task(self._look())
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return None
        finally:
            waiting = self._waiting.get(user_id)
            if waiting is not None:
                waiting.pop(future, None)
                if not waiting:
                    del self._waiting[user_id]

    def stop(self):
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _look(self):
        try:
            while self._waiting:
                try:
                    newest = await asyncio.to_thread(self._newest, list(self._waiting))
                except Exception as e:
                    self.log.warning("looking for learners' events: %s", e)
                    newest = {}
                for user_id, top in newest.items():
                    for future, last_id in list(self._waiting.get(user_id, {}).items()):
                        if top > last_id and not future.done():
                            future.set_result(top)
                await asyncio.sleep(self.interval)
        finally:
            self._task = None

    def _newest(self, user_ids) -> dict[int, int]:
        with self.session_factory() as db:
            return newest_ids(db, user_ids)

    # pruning (the service's periodic task calls this)

    def prune_if_due(self, writer_factory, monotonic_now: float) -> int:
        """Prune old events if `prune_interval` has passed since the last time."""
        if self._pruned is not None and monotonic_now - self._pruned < self.prune_interval:
            return 0
        self._pruned = monotonic_now
        with writer_factory() as db:
            gone = prune(db, orm.utcnow() - timedelta(seconds=self.keep_seconds))
            db.commit()
        return gone
