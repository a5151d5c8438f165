"""A fake OpenAI-compatible server on loopback, for the AI tests.

`POST /v1/chat/completions`, streamed (server-sent events, as OpenAI's API sends them)
or not, records every request it gets (body and headers) and answers as it is told:
`mode` "ok" (the `reply` in `pieces`), "error" (HTTP 500), "hang" (headers, then
nothing), "garbage" (a stream of lines that are not JSON), "gate" (the first piece,
then waits for `gate` to be set before the rest: a test sees the stream arrive in
pieces). It runs on the test's event loop, or in a thread of its own (`in_thread`)
for a test whose grader is another process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import threading
from pathlib import Path

from tornado import web
from tornado.httpserver import HTTPServer

from tests.conftest import free_port


class _Completions(web.RequestHandler):
    async def post(self):
        fake: FakeModel = self.settings["fake"]
        body = json.loads(self.request.body)
        fake.requests.append({"body": body, "headers": dict(self.request.headers)})
        mode = fake.mode
        if mode == "error":
            self.set_status(500)
            self.finish({"error": {"message": "the fake model broke", "type": "server_error"}})
            return
        if mode == "unauthorized":
            self.set_status(401)
            key = self.request.headers.get("Authorization", "")
            self.finish({"error": {"message": f"Incorrect API key provided: {key}"}})
            return
        if not body.get("stream"):
            if mode == "hang":
                await fake.stopped()
                return
            self.finish(
                {
                    "id": "cmpl-1",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body.get("model"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "".join(fake.pieces)},
                            "finish_reason": "stop",
                        }
                    ],
                }
            )
            return
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        if mode == "garbage":
            self.write("data: this is not json\n\n")
            await self.flush()
            self.finish()
            return
        for i, piece in enumerate(fake.pieces):
            chunk = {
                "id": "cmpl-1",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": body.get("model"),
                "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
            }
            self.write(f"data: {json.dumps(chunk)}\n\n")
            await self.flush()
            if mode == "hang":
                await fake.stopped()
                return
            if mode == "gate" and i == 0:
                while not fake.gate.is_set():
                    await asyncio.sleep(0.02)
        self.write("data: [DONE]\n\n")
        self.finish()


class FakeModel:
    def __init__(self, pieces=("Look at ", "your loop's ", "last step.")):
        self.pieces = list(pieces)
        self.requests: list[dict] = []
        self.mode = "ok"
        self.gate = threading.Event()
        self.port = free_port()
        self.server: HTTPServer | None = None
        self._loop = None
        self._thread = None
        self._stopped = threading.Event()

    async def stopped(self):
        """Until the server stops (what a hanging answer waits for)."""
        while not self._stopped.is_set():
            await asyncio.sleep(0.05)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _app(self):
        return web.Application([(r"/v1/chat/completions", _Completions)], fake=self)

    def start(self) -> FakeModel:
        """Listen on the running event loop."""
        self.server = HTTPServer(self._app())
        self.server.listen(self.port, "127.0.0.1")
        return self

    def in_thread(self) -> FakeModel:
        """Listen on an event loop of its own, in a thread."""
        ready = threading.Event()

        def run():
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            self.start()
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self):
        self.gate.set()
        self._stopped.set()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.server.stop)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        elif self.server is not None:
            self.server.stop()

    def everything_sent(self) -> str:
        """Every request it got, as one text to search."""
        return json.dumps([r["body"] for r in self.requests])


@contextlib.contextmanager
def hub_reaching(model: FakeModel, courses: Path, request_timeout: float):
    """A real Hub whose grader may reach the fake model (and nothing else), with no
    sample course (``courses`` is empty: each test makes its own)."""
    from hub_config.testing import RunningHub

    state_dir = Path(tempfile.mkdtemp(prefix="coursehub-state-"))
    os.chmod(state_dir, 0o700)
    # the grader (cwd: the state directory) reads its grader_config.py there
    (state_dir / "grader_config.py").write_text(
        f"c.AIAssistant.allowed_base_urls = [{model.base_url!r}]\n"
        f"c.AIAssistant.request_timeout = {request_timeout!r}\n"
    )
    with RunningHub(env={"COURSEHUB_COURSE_DIR": str(courses)}, state_dir=state_dir) as running:
        yield running
