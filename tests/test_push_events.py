"""The learner's push channel, `GET events` (grader/handlers/events.py,
grader/learners/events.py): duel events to both participants, replay after a
disconnect with Last-Event-ID, keep-alive comments, one look at the database a tick for
every open stream, and streams ended as soon as their client goes.

The client is a plain HTTP/1.1 connection (asyncio streams), so a test can drop it
like a browser tab closing and reconnect as EventSource does.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from urllib.parse import urlparse

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select

from grader import orm
from grader.handlers import events as event_handlers
from grader.learners import events
from tests.conftest import Client
from tests.test_duels import learner_of, stored

pytestmark = pytest.mark.sandbox


class EventStream:
    """A server-sent events connection to the grader, read message by message."""

    def __init__(self, client, last_event_id=None, query: str = ""):
        self.client, self.last_event_id, self.query = client, last_event_id, query
        self.status = None
        self.comments: list[str] = []
        self._buffer = ""
        self._messages: asyncio.Queue = asyncio.Queue()

    async def open(self) -> EventStream:
        url = urlparse(self.client.base_url + "events" + self.query)
        self.reader, self.writer = await asyncio.open_connection(url.hostname, url.port)
        headers = [
            f"GET {url.path}{'?' + url.query if url.query else ''} HTTP/1.1",
            f"Host: {url.hostname}:{url.port}",
            f"Authorization: token {self.client.token}",
            "Accept: text/event-stream",
        ]
        if self.last_event_id is not None:
            headers.append(f"Last-Event-ID: {self.last_event_id}")
        self.writer.write(("\r\n".join(headers) + "\r\n\r\n").encode())
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode()
        self.status = int(head.split(" ", 2)[1])
        self.headers = head.lower()
        if self.status == 200:
            self._task = asyncio.ensure_future(self._read_chunks())
        else:
            self.body = await self._read_one_body(head)
        return self

    async def _read_one_body(self, head: str) -> dict:
        length = int(head.lower().split("content-length: ", 1)[1].split("\r\n", 1)[0])
        return json.loads(await self.reader.readexactly(length))

    async def _read_chunks(self):
        try:
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                if size == 0:
                    break
                chunk = await self.reader.readexactly(size + 2)
                self._buffer += chunk[:-2].decode()
                while "\n\n" in self._buffer:
                    message, self._buffer = self._buffer.split("\n\n", 1)
                    self._parse(message)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        await self._messages.put(None)

    def _parse(self, message: str):
        fields = {}
        for line in message.splitlines():
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        if "data" in fields:
            self._messages.put_nowait(
                {
                    "id": int(fields["id"]),
                    "event": fields["event"],
                    "data": json.loads(fields["data"]),
                }
            )

    async def next(self, timeout: float = 30) -> dict:
        message = await asyncio.wait_for(self._messages.get(), timeout)
        assert message is not None, "the stream ended"
        return message

    def pending(self) -> list[dict]:
        taken = []
        while not self._messages.empty():
            taken.append(self._messages.get_nowait())
        return taken

    async def close(self):
        self.writer.close()
        self._task.cancel() if self.status == 200 else None


async def until(condition, what: str, tries: int = 400):
    for _ in range(tries):
        if condition():
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"never: {what}")


@pytest.fixture
async def players(grader, course):
    clients = {name: learner_of(grader, name) for name in ("ann", "bob", "cat")}
    for client in clients.values():
        code, data = await client.get("duels")
        assert code == 200, data
    return clients


async def test_duel_changes_reach_both_participants_at_once(grader, players):
    ann, bob = players["ann"], players["bob"]
    ann_stream = await EventStream(ann).open()
    bob_stream = await EventStream(bob).open()
    assert ann_stream.status == 200 and "text/event-stream" in ann_stream.headers
    code, duel = await ann.post("duels", {"course": "demo", "opponent": "bob"})
    assert code == 201
    for stream, you in ((ann_stream, "challenger"), (bob_stream, "opponent")):
        message = await stream.next()
        assert message["event"] == "duel"
        assert (message["data"]["id"], message["data"]["status"]) == (duel["id"], "open")
        assert message["data"]["you"] == you
    code, _ = await bob.post(f"duels/{duel['id']}/accept")
    active_ann, active_bob = await ann_stream.next(), await bob_stream.next()
    assert active_ann["data"]["status"] == active_bob["data"]["status"] == "active"
    assert active_ann["data"]["question"] == active_bob["data"]["question"] is not None
    # each row is its own: the ids say which
    assert active_ann["id"] != active_bob["id"]
    # cat hears nothing of a duel she is not in
    cat_stream = await EventStream(players["cat"], last_event_id=0).open()
    await ann.post(f"duels/{duel['id']}/resign")
    assert (await bob_stream.next())["data"]["winner"] == "bob"
    assert (await ann_stream.next())["data"]["result"] == "opponent"
    assert cat_stream.pending() == []
    for stream in (ann_stream, bob_stream, cat_stream):
        await stream.close()


async def test_a_disconnect_loses_no_event_and_does_not_end_the_duel(grader, players):
    ann, bob = players["ann"], players["bob"]
    stream = await EventStream(ann).open()
    code, duel = await bob.post("duels", {"course": "demo", "opponent": "ann"})
    code, _ = await ann.post(f"duels/{duel['id']}/accept")
    await stream.next()
    accepted = await stream.next()
    assert accepted["data"]["status"] == "active"

    await stream.close()  # the tab closes, the laptop sleeps...
    # the service lets the stream go at once: nothing waits for it any more
    await until(lambda: grader.event_watch.followed == 0, "the stream forgotten")
    await until(lambda: not grader.event_watch._streams, "the stream uncounted")
    # ...meanwhile the duel goes on, and more happens
    assert stored(grader, duel["id"]).status == "active"
    code, second = await bob.post("duels", {"course": "demo", "opponent": "ann"})
    code, third = await bob.post("duels", {"course": "demo"})  # not to ann: not hers
    code, _ = await bob.post(f"duels/{second['id']}/cancel")

    # EventSource reconnects with the last id it saw: everything after it, in order
    again = await EventStream(ann, last_event_id=accepted["id"]).open()
    missed = [await again.next(), await again.next()]
    assert [(m["data"]["id"], m["data"]["status"]) for m in missed] == [
        (second["id"], "open"),
        (second["id"], "cancelled"),
    ]
    assert missed[0]["id"] > accepted["id"] and missed[1]["id"] > missed[0]["id"]
    # then live again; the first duel was never ended by the disconnect
    code, seen = await ann.get(f"duels/{duel['id']}")
    assert seen["status"] == "active"
    await bob.post(f"duels/{duel['id']}/resign")
    resigned = await again.next()
    assert (resigned["data"]["id"], resigned["data"]["winner"]) == (duel["id"], "ann")
    assert again.pending() == []
    await again.close()

    # a client that cannot set the header names the id in the query (the extension
    # relays the query as it is)
    by_query = await EventStream(ann, query=f"?last_event_id={missed[1]['id']}").open()
    assert (await by_query.next())["id"] == resigned["id"]
    await by_query.close()


async def test_keep_alive_comments_and_bad_ids(grader, players, monkeypatch):
    monkeypatch.setattr(event_handlers, "KEEPALIVE_SECONDS", 0.05)
    ann = players["ann"]
    stream = await EventStream(ann).open()
    await until(lambda: "keep-alive" in stream.comments, "a keep-alive comment")
    await stream.close()
    for bad in ("abc", "-1", "1e9", "9" * 40):
        refused = await EventStream(ann, last_event_id=bad).open()
        assert refused.status == 400, bad
        assert "Last-Event-ID" in refused.body["message"]
    # nobody without a token
    code, data = await Client(ann.base_url, None).get("events")
    assert code == 403


async def test_a_learner_replays_only_their_own_events(grader, players):
    ann, bob, cat = players["ann"], players["bob"], players["cat"]
    await ann.post("duels", {"course": "demo", "opponent": "bob"})
    await bob.post("duels", {"course": "demo", "opponent": "ann"})
    await cat.post("duels", {"course": "demo"})
    stream = await EventStream(cat, last_event_id=0).open()
    own = await stream.next()
    assert own["data"]["challenger"]["name"] == "cat"
    await asyncio.sleep(0.2)
    assert stream.pending() == []
    await stream.close()


async def test_one_look_a_tick_for_every_open_stream(grader, players, monkeypatch):
    """The watch reads the newest ids of every connected learner in one query; a stream
    reads its rows only when it has something new."""
    grader.event_watch.interval = 0.02
    statements = []

    def record(conn, cursor, statement, *args):
        if "learner_events" in statement:
            statements.append(statement)

    streams = [await EventStream(c).open() for c in players.values()]
    await until(lambda: grader.event_watch.followed == 3, "three streams waiting")
    sa_event.listen(grader.engine, "before_cursor_execute", record)
    try:
        await asyncio.sleep(0.3)
    finally:
        sa_event.remove(grader.engine, "before_cursor_execute", record)
    looks = [s for s in statements if "GROUP BY" in s]
    assert looks and len(looks) == len(statements)  # no stream read anything by itself
    for stream in streams:
        await stream.close()


async def test_too_many_streams_and_pruning(grader, players):
    grader.event_watch.max_streams_per_learner = 2
    ann = players["ann"]
    first, second = await EventStream(ann).open(), await EventStream(ann).open()
    third = await EventStream(ann).open()
    assert third.status == 429 and "streams open" in third.body["message"]
    await first.close()
    await until(lambda: grader.event_watch._streams.get(_user_id(grader, "ann")) == 1, "one left")
    fourth = await EventStream(ann).open()
    assert fourth.status == 200
    for stream in (second, fourth):
        await stream.close()

    await ann.post("duels", {"course": "demo"})
    with grader.writer_factory() as db:
        old = orm.LearnerEvent(
            user_id=_user_id(grader, "ann"),
            kind="duel",
            data={},
            created=orm.utcnow() - timedelta(seconds=grader.event_watch.keep_seconds + 60),
        )
        db.add(old)
        db.commit()
        old_id = old.id
    assert grader.event_watch.prune_if_due(grader.writer_factory, 0.0) == 1
    assert grader.event_watch.prune_if_due(grader.writer_factory, 1.0) == 0  # not due yet
    with grader.session_factory() as db:
        kept = list(db.scalars(select(orm.LearnerEvent.id)))
    assert old_id not in kept and kept


def _user_id(grader, name: str) -> int:
    with grader.session_factory() as db:
        return orm.User.find(db, name).id


async def test_events_are_written_with_the_change_or_not_at_all(grader, players):
    """A refused change writes no event (the transaction that would have is rolled back)."""
    ann = players["ann"]
    with grader.session_factory() as db:
        before = events.latest_id(db, _user_id(grader, "ann"))
    code, data = await ann.post("duels", {"course": "demo", "opponent": "ann"})
    assert code == 400
    code, data = await ann.post("duels", {"course": "demo", "time_limit": 1})
    assert code == 400
    with grader.session_factory() as db:
        assert events.latest_id(db, _user_id(grader, "ann")) == before
