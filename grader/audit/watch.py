"""What the audit event streams (`GET audit/events`) wait on: one look at the log's head
every `interval` for every open stream together, waking those that are behind it."""

from __future__ import annotations

from traitlets import Float, Integer

from ..stream_watch import StreamWatch
from .reading import newest_id

#: every audit stream follows the one log
LOG = "audit"


class AuditWatch(StreamWatch):
    watching = "the audit log"

    interval = Float(
        1.0,
        help="""Seconds between looks at the audit log's head for the open event streams:
        the most an entry waits before it is pushed. One query a look, whatever the
        number of streams.""",
    ).tag(config=True)
    max_streams_per_caller = Integer(
        4, help="Audit event streams one user or service may hold open at once; more is a 429."
    ).tag(config=True)

    @property
    def stream_limit(self) -> int:
        return self.max_streams_per_caller

    async def wait(self, last_id: int, timeout: float) -> int | None:
        """The newest id once it is past ``last_id``; None after ``timeout`` seconds."""
        return await self.wait_for(LOG, last_id, timeout)

    def newest(self, keys) -> dict[str, int]:
        with self.session_factory() as db:
            return {LOG: newest_id(db)}
