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

from datetime import timedelta

from sqlalchemy import delete, func, select, text
from traitlets import Float, Integer

from .. import orm
from ..stream_watch import StreamWatch

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


class EventWatch(StreamWatch):
    """The learners' open event streams, and one look at the database for all of them."""

    watching = "learners' events"

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
        super().__init__(session_factory, **kwargs)
        self._pruned = None  # monotonic time of the last pruning

    @property
    def stream_limit(self) -> int:
        return self.max_streams_per_learner

    async def wait(self, user_id: int, last_id: int, timeout: float) -> int | None:
        """Wait until the learner has an event after ``last_id`` (`wait_for`)."""
        return await self.wait_for(user_id, last_id, timeout)

    def newest(self, user_ids) -> dict[int, int]:
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
