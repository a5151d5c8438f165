"""Server-sent event streams that replay and then follow: the learner's push channel
(`GET events`) and the audit log's (`GET audit/events`).

Such a stream starts after the id its client names (the `Last-Event-ID` header, which
EventSource sends when it reconnects, or the `last_event_id` query argument), so a
client that lost its connection gets everything it missed. It writes what is there a
page at a time, then waits on its watch (one query a tick for every open stream) until
something newer is written, with a comment line every `KEEPALIVE_SECONDS` so proxies do
not close a quiet stream. It ends as soon as the client goes, without waiting for the
next keep-alive.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

from tornado import web
from tornado.iostream import StreamClosedError

KEEPALIVE_SECONDS = 15.0
# how long a browser's EventSource waits before it reconnects (ms)
RETRY_MILLISECONDS = 2000

#: read(last_id) -> (event texts, the id read up to, whether a full page came back)
Reader = Callable[[int], Awaitable[tuple[list[str], int, bool]]]
#: wait(last_id) -> the newest id once past last_id, None at the keep-alive's time
Waiter = Callable[[int], Awaitable[int | None]]


class ReplayingStream:
    """For a tornado handler: `last_event_id()` and `follow()`."""

    _closed = False
    _waiting: asyncio.Future | None = None
    #: what an id names, for the 400 of a malformed Last-Event-ID
    event_id_name = "an event's id"

    def last_event_id(self) -> int | None:
        """The id to start after: the Last-Event-ID header, else `?last_event_id=`;
        None for neither; a 400 for something that is not an id."""
        value = self.request.headers.get("Last-Event-ID")
        if value is None:
            value = self.get_query_argument("last_event_id", None)
        if value is None or value.strip() == "":
            return None
        if not re.fullmatch(r"\d{1,18}", value.strip()):
            raise web.HTTPError(400, f"Last-Event-ID must be {self.event_id_name} (a whole number)")
        return int(value.strip())

    async def follow(self, greeting: str, last_id: int, read: Reader, wait: Waiter) -> None:
        """Send the stream's headers and `greeting`, then what `read` finds after
        `last_id`, again and again, waiting on `wait` whenever a page was not full;
        until the client goes."""
        self.set_header("Content-Type", "text/event-stream; charset=UTF-8")
        self.set_header("X-Accel-Buffering", "no")
        try:
            self.write(f"retry: {RETRY_MILLISECONDS}\n{greeting}\n\n")
            await self.flush()
            while not self._closed:
                texts, last_id, full = await read(last_id)
                if texts:
                    self.write("".join(texts))
                    await self.flush()
                if full:
                    continue  # more waiting: no need to ask the watch
                self._waiting = asyncio.ensure_future(wait(last_id))
                try:
                    newest = await self._waiting
                except asyncio.CancelledError:
                    if self._closed:
                        return  # the client went away while we waited
                    raise
                finally:
                    self._waiting = None
                if newest is None:
                    self.write(": keep-alive\n\n")
                    await self.flush()
        except StreamClosedError:
            return  # the client went away while we wrote

    def on_connection_close(self):
        # end the wait now, not at the next keep-alive: the watch forgets the stream
        self._closed = True
        if self._waiting is not None:
            self._waiting.cancel()
