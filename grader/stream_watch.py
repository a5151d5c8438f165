"""What replaying event streams wait on (handlers.streams): one look at the database
every `interval` for every open stream together, waking the streams that are behind.

A stream follows a *key* (a learner's id for the push channel; one key for the whole
audit log) and waits for an id past the one it has sent. `StreamWatch.newest(keys)`,
run in a thread, says the newest id of each key with a stream waiting: one query a look,
whatever the number of streams. Streams are counted per caller, up to a limit.
"""

from __future__ import annotations

import asyncio

from traitlets.config import LoggingConfigurable


class TooManyStreams(Exception):
    """A caller holds the most streams allowed already."""


class StreamWatch(LoggingConfigurable):
    """Open streams, counted per caller, and the periodic look that wakes them.

    Subclasses give `interval` (a trait), `stream_limit` and `newest(keys)`."""

    #: what the look is about, for the log when it fails
    watching = "events"

    def __init__(self, session_factory, **kwargs):
        super().__init__(**kwargs)
        self.session_factory = session_factory
        # key -> {future: the id the stream has sent up to}
        self._waiting: dict[object, dict[asyncio.Future, int]] = {}
        self._streams: dict[object, int] = {}  # caller -> open streams
        self._task: asyncio.Task | None = None

    @property
    def stream_limit(self) -> int:
        raise NotImplementedError

    def newest(self, keys: list) -> dict[object, int]:
        """The newest id of each key (blocking: a thread runs it)."""
        raise NotImplementedError

    # streams

    def open_stream(self, caller) -> None:
        """Count a new stream of a caller, or raise TooManyStreams."""
        if self._streams.get(caller, 0) >= self.stream_limit:
            raise TooManyStreams()
        self._streams[caller] = self._streams.get(caller, 0) + 1

    def close_stream(self, caller) -> None:
        left = self._streams.get(caller, 0) - 1
        if left > 0:
            self._streams[caller] = left
        else:
            self._streams.pop(caller, None)

    @property
    def followed(self) -> int:
        """Keys with a stream waiting now (for tests and health)."""
        return len(self._waiting)

    async def wait_for(self, key, last_id: int, timeout: float) -> int | None:
        """Wait until the key has an id after ``last_id``: the newest id, or None after
        ``timeout`` seconds without one. Cancelling it (the client went away) forgets
        the stream at once."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, {})[future] = last_id
        if self._task is None:
            self._task = asyncio.create_task(self._look())
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return None
        finally:
            waiting = self._waiting.get(key)
            if waiting is not None:
                waiting.pop(future, None)
                if not waiting:
                    del self._waiting[key]

    def stop(self):
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _look(self):
        try:
            while self._waiting:
                try:
                    newest = await asyncio.to_thread(self.newest, list(self._waiting))
                except Exception as e:
                    self.log.warning("looking for %s: %s", self.watching, e)
                    newest = {}
                for key, top in newest.items():
                    for future, last_id in list(self._waiting.get(key, {}).items()):
                        if top > last_id and not future.done():
                            future.set_result(top)
                await asyncio.sleep(self.interval)
        finally:
            self._task = None
