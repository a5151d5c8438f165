"""What the audit event streams (`GET audit/events`) wait on: one look at the log's head
every `interval` for every open stream together, waking those that are behind it."""

from __future__ import annotations

import asyncio

from traitlets import Float, Integer
from traitlets.config import LoggingConfigurable

from .reading import newest_id


class TooManyStreams(Exception):
    """A caller has `max_streams_per_caller` open already."""


class AuditWatch(LoggingConfigurable):
    interval = Float(
        1.0,
        help="""Seconds between looks at the audit log's head for the open event streams:
        the most an entry waits before it is pushed. One query a look, whatever the
        number of streams.""",
    ).tag(config=True)
    max_streams_per_caller = Integer(
        4, help="Audit event streams one user or service may hold open at once; more is a 429."
    ).tag(config=True)

    def __init__(self, session_factory, **kwargs):
        super().__init__(**kwargs)
        self.session_factory = session_factory
        self._waiting: dict[asyncio.Future, int] = {}  # future -> the id it has seen
        self._streams: dict[str, int] = {}
        self._task: asyncio.Task | None = None

    def open_stream(self, caller: str) -> None:
        if self._streams.get(caller, 0) >= self.max_streams_per_caller:
            raise TooManyStreams()
        self._streams[caller] = self._streams.get(caller, 0) + 1

    def close_stream(self, caller: str) -> None:
        left = self._streams.get(caller, 0) - 1
        if left > 0:
            self._streams[caller] = left
        else:
            self._streams.pop(caller, None)

    async def wait(self, last_id: int, timeout: float) -> int | None:
        """The newest id once it is past ``last_id``; None after ``timeout`` seconds."""
        future = asyncio.get_running_loop().create_future()
        self._waiting[future] = last_id
        if self._task is None:
            self._task = asyncio.create_task(self._look())
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return None
        finally:
            self._waiting.pop(future, None)

    def stop(self):
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _look(self):
        try:
            while self._waiting:
                try:
                    newest = await asyncio.to_thread(self._newest)
                except Exception as e:
                    self.log.warning("looking at the audit log: %s", e)
                    newest = 0
                for future, last_id in list(self._waiting.items()):
                    if newest > last_id and not future.done():
                        future.set_result(newest)
                await asyncio.sleep(self.interval)
        finally:
            self._task = None

    def _newest(self) -> int:
        with self.session_factory() as db:
            return newest_id(db)
