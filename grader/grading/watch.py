"""Following submissions: what the grader pushes to learners while they wait.

Every open event stream (`GET submissions/{id}/events`) waits here. One task looks at
the status, queue position and estimated wait of all followed submissions at once,
every `interval`, in a thread: a few queries whatever the number of followers. A
stream is woken with that state: it reads its submission again only when the status
changed (a result to send); a new place in the queue costs it no query at all, and is
sent at most every `position_interval` (every claim moves everyone queued up by one).

Worker processes write results to the database; this is how the service, which does
not grade, learns of them (and so does any replica of it).
"""

from __future__ import annotations

import asyncio
import time
from typing import NamedTuple

from sqlalchemy import select
from traitlets import Float
from traitlets.config import LoggingConfigurable

from .. import orm


class Followed(NamedTuple):
    status: str
    queue_position: int | None
    estimated_wait: float | None


class StatusWatch(LoggingConfigurable):
    interval = Float(
        0.5,
        help="""Seconds between looks at the submissions learners follow: the most a
        result waits before it is pushed.""",
    ).tag(config=True)
    position_interval = Float(
        2.0, help="Seconds between two pushes of a queued submission's new place."
    ).tag(config=True)

    def __init__(self, session_factory, queue, **kwargs):
        super().__init__(**kwargs)
        self.session_factory = session_factory
        self.queue = queue
        self._followers: dict[int, set[asyncio.Future]] = {}
        self._told: dict[int, tuple[Followed, float]] = {}  # what woke them, and when
        self._task: asyncio.Task | None = None

    async def changed(self, submission_id: int, known: Followed, timeout: float):
        """Wait until the submission is no longer as ``known``: its new state, or None
        after ``timeout`` seconds without a change worth sending."""
        future = asyncio.get_running_loop().create_future()
        self._followers.setdefault(submission_id, set()).add(future)
        self._told.setdefault(submission_id, (known, time.monotonic()))
        if self._task is None:
            self._task = asyncio.create_task(self._look())
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return None
        finally:
            waiting = self._followers.get(submission_id)
            if waiting is not None:
                waiting.discard(future)
                if not waiting:
                    del self._followers[submission_id]
                    self._told.pop(submission_id, None)

    def stop(self):
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _look(self):
        try:
            while self._followers:
                ids = list(self._followers)
                try:
                    states = await asyncio.to_thread(self.states, ids)
                except Exception as e:
                    self.log.warning("following submissions: %s", e)
                    states = {}
                now = time.monotonic()
                for submission_id, state in states.items():
                    told, when = self._told.get(submission_id, (None, 0.0))
                    if told is None or state == told:
                        continue
                    moved_only = state.status == told.status
                    if moved_only and now - when < self.position_interval:
                        continue  # a new place is told a little later, with the latest one
                    self._told[submission_id] = (state, now)
                    for future in self._followers.get(submission_id, ()):
                        if not future.done():
                            future.set_result(state)
                await asyncio.sleep(self.interval)
        finally:
            self._task = None

    def states(self, submission_ids) -> dict[int, Followed]:
        """The status, queue position and estimated wait of each submission."""
        with self.session_factory() as db:
            statuses = dict(
                db.execute(
                    select(orm.Submission.id, orm.Submission.status).where(
                        orm.Submission.id.in_(submission_ids)
                    )
                ).all()
            )
            positions = self.queue.positions(db, submission_ids)
            wait = self.queue.wait_estimator(db) if positions else None
        return {
            i: Followed(status, positions.get(i), wait(positions[i]) if i in positions else None)
            for i, status in statuses.items()
        }
