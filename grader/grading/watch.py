"""Following submissions: what the grader pushes to learners while they wait.

Every open event stream (`GET submissions/{id}/events`) waits here. One task looks at
the status and queue position of all followed submissions at once, every `interval`,
in a thread: two queries whatever the number of followers, instead of a request per
learner every half second. Worker processes write results to the database; this is how
the service, which does not grade, learns of them (and so does any replica of it).
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from traitlets import Float
from traitlets.config import LoggingConfigurable

from .. import orm


class StatusWatch(LoggingConfigurable):
    interval = Float(
        0.5,
        help="""Seconds between looks at the submissions learners follow: the most a
        result waits before it is pushed.""",
    ).tag(config=True)

    def __init__(self, session_factory, queue, **kwargs):
        super().__init__(**kwargs)
        self.session_factory = session_factory
        self.queue = queue
        self._followers: dict[int, set[asyncio.Future]] = {}
        self._seen: dict[int, tuple] = {}
        self._task: asyncio.Task | None = None

    async def changed(self, submission_id: int, timeout: float) -> bool:
        """Wait until the submission's status or position changes: True, or False after
        ``timeout`` seconds without a change."""
        future = asyncio.get_running_loop().create_future()
        self._followers.setdefault(submission_id, set()).add(future)
        if self._task is None:
            self._task = asyncio.create_task(self._look())
        try:
            await asyncio.wait_for(future, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            waiting = self._followers.get(submission_id)
            if waiting is not None:
                waiting.discard(future)
                if not waiting:
                    del self._followers[submission_id]

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
                    states = None
                if states is not None:
                    for submission_id in ids:
                        state = states.get(submission_id)
                        if state != self._seen.get(submission_id):
                            self._seen[submission_id] = state
                            for future in self._followers.get(submission_id, ()):
                                if not future.done():
                                    future.set_result(True)
                for gone in set(self._seen) - set(self._followers):
                    del self._seen[gone]
                await asyncio.sleep(self.interval)
        finally:
            self._task = None

    def states(self, submission_ids) -> dict[int, tuple]:
        """(status, queue position) of each submission."""
        with self.session_factory() as db:
            statuses = dict(
                db.execute(
                    select(orm.Submission.id, orm.Submission.status).where(
                        orm.Submission.id.in_(submission_ids)
                    )
                ).all()
            )
            positions = self.queue.positions(db, submission_ids)
        return {i: (status, positions.get(i)) for i, status in statuses.items()}
