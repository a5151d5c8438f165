"""`AIAssistant`: the grader's limits on AI help, and the client that asks a model.

A course's instructors choose the endpoint (any OpenAI-compatible one), the model and
the environment variable that holds the key; the grader's admin decides where the
grader may connect at all (`allowed_base_urls`: an instructor must not point the
grader at hosts of its own network), which variables may hold a key
(`api_key_env_pattern`: else an instructor could name `JUPYTERHUB_API_TOKEN` and have
the grader send its own Hub token to an endpoint they control), how long a request may
take, how long an answer may be, and how many requests run at once.

The client is the `openai` package's `AsyncOpenAI` (streaming chat completions), with
its own HTTP client that follows no redirect (an allowed endpoint cannot send the
grader on to another host) and retries nothing (a failure is the learner's to see at
once, not three times later). Whatever goes wrong (HTTP errors, refused connections,
time-outs, streams that are not what the API says) is raised as :class:`AIError`, a
sentence the learner can read.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from traitlets import Bool, Float, Integer, List, Unicode, validate
from traitlets.config import LoggingConfigurable

DEFAULT_PORTS = {"http": 80, "https": 443}


class AIError(Exception):
    """A request to the model failed: the message says why, for the learner."""


class Busy(Exception):
    """Every slot for requests to models is taken (`max_concurrent`)."""


@dataclass(frozen=True)
class Endpoint:
    """Where a course's requests go (read from its settings, the key from the
    environment when the request is made)."""

    base_url: str
    model: str
    api_key_env: str


class AIAssistant(LoggingConfigurable):
    """Limits on the AI help courses may turn on, and the client that asks the model."""

    allowed_base_urls = List(
        Unicode(),
        ["https://api.openai.com/v1"],
        help="""Endpoints a course may use: a course's base_url must start with one of
        these (same scheme, host and port; its path at or under this one's). Anything
        else is refused with a 400, so instructors cannot make the grader connect to
        hosts of its own network. Add a local server (e.g. "http://127.0.0.1:8000/v1")
        only on purpose.""",
    ).tag(config=True)
    api_key_env_pattern = Unicode(
        r"^COURSEHUB_AI_[A-Z0-9_]{1,60}$",
        help="""Regular expression the NAME of a course's key variable (api_key_env)
        must match. The grader's own secrets (its Hub token, database URL) must not
        match it: a course could otherwise send them to its endpoint as a key.""",
    ).tag(config=True)
    request_timeout = Float(
        60.0,
        help="""Seconds a whole request to a model may take, streaming included; then
        the learner gets an error event saying it took too long.""",
    ).tag(config=True)
    connect_timeout = Float(10.0, help="Seconds to connect to a model's endpoint.").tag(config=True)
    max_tokens = Integer(
        800, help="Most tokens a model may answer with (max_tokens of each request)."
    ).tag(config=True)
    max_reply_chars = Integer(
        20_000,
        help="""Most characters of an answer relayed and stored: past it the answer is
        cut off (an endpoint ignoring max_tokens does not fill the database).""",
    ).tag(config=True)
    max_concurrent = Integer(
        8,
        help="""Requests to models this service makes at once; one more is refused
        with a 429 (a learner's own requests are one at a time anyway).""",
    ).tag(config=True)
    stream = Bool(
        True,
        help="""Ask for streamed answers (server-sent events) and relay them as they
        come. False: one answer, relayed whole (for endpoints that cannot stream).""",
    ).tag(config=True)

    @validate("allowed_base_urls")
    def _urls(self, proposal):
        for url in proposal["value"]:
            problem = url_problem(url)
            if problem:
                raise ValueError(f"allowed_base_urls: {url!r}: {problem}")
        return proposal["value"]

    _slots: asyncio.Semaphore | None = None

    # checks ---------------------------------------------------------------------

    def base_url_problem(self, base_url: str) -> str | None:
        """Why a course may not use ``base_url`` (a sentence), or None."""
        problem = url_problem(base_url)
        if problem:
            return f"base_url {problem}"
        if not any(within(base_url, allowed) for allowed in self.allowed_base_urls):
            allowed = ", ".join(self.allowed_base_urls) or "none"
            return (
                f"base_url {base_url} is not within the endpoints this grader allows "
                f"(AIAssistant.allowed_base_urls: {allowed}); ask the grader's admin"
            )
        return None

    def key_env_problem(self, name: str) -> str | None:
        if name and not re.fullmatch(self.api_key_env_pattern, name):
            return (
                f"api_key_env {name!r} is not a name this grader allows for keys "
                f"(AIAssistant.api_key_env_pattern: {self.api_key_env_pattern})"
            )
        return None

    def key_present(self, name: str) -> bool:
        return bool(name) and not self.key_env_problem(name) and bool(os.environ.get(name))

    # requests -------------------------------------------------------------------

    def slot(self) -> _Slot:
        """One of `max_concurrent` places for a request (``async with``); :class:`Busy`
        at once when none is free, rather than a queue of learners waiting."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_concurrent)
        if self._slots.locked():
            raise Busy()
        return _Slot(self._slots)

    async def chat(self, endpoint: Endpoint, messages: list[dict]) -> AsyncIterator[str]:
        """The model's answer to ``messages``, piece by piece; :class:`AIError` when the
        request fails or takes longer than `request_timeout`, as a whole."""
        # checked again when used: the admin may have narrowed the list since
        problem = self.base_url_problem(endpoint.base_url) or self.key_env_problem(
            endpoint.api_key_env
        )
        if problem:
            raise AIError(f"the course's AI settings are refused: {problem}")
        import openai

        key = os.environ.get(endpoint.api_key_env, "") if endpoint.api_key_env else ""
        http = openai.DefaultAsyncHttpxClient(follow_redirects=False)
        client = openai.AsyncOpenAI(
            # the client insists on a key; local servers need none
            api_key=key or "no-key",
            base_url=endpoint.base_url,
            timeout=openai.Timeout(self.request_timeout, connect=self.connect_timeout),
            max_retries=0,
            http_client=http,
        )
        where = f"the model {endpoint.model!r} at {endpoint.base_url}"
        deadline = asyncio.get_running_loop().time() + self.request_timeout
        pieces = self._answer(client, endpoint.model, messages)
        try:
            async for piece in self._limited(pieces, deadline, where):
                yield piece
        except AIError as e:
            # an endpoint may quote the key it was given: it never goes further
            message = str(e).replace(key, "[key]") if len(key) >= 4 else str(e)
            raise AIError(message) from None
        finally:
            try:
                await pieces.aclose()
            finally:
                await client.close()

    async def _limited(self, pieces, deadline: float, where: str) -> AsyncIterator[str]:
        """``pieces`` within the time and length limits; any failure an
        :class:`AIError` naming it."""
        import openai

        loop = asyncio.get_running_loop()
        sent = 0
        try:
            while sent < self.max_reply_chars:
                # the whole answer within the time limit, however slowly it trickles in;
                # each wait is on the model alone (never around a yield: the caller's
                # writes are not this timer's to cancel)
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError()
                try:
                    piece = await asyncio.wait_for(anext(pieces), remaining)
                except StopAsyncIteration:
                    break
                piece = piece[: self.max_reply_chars - sent]
                if piece:
                    sent += len(piece)
                    yield piece
        except TimeoutError:
            raise AIError(f"{where} did not answer within {self.request_timeout:g} s") from None
        except openai.APIStatusError as e:
            raise AIError(f"{where} answered HTTP {e.status_code}: {_short(e.message)}") from None
        except openai.APITimeoutError:
            raise AIError(f"{where} did not answer in time") from None
        except openai.APIConnectionError as e:
            cause = e.__cause__ or e
            raise AIError(f"{where} cannot be reached: {_short(str(cause))}") from None
        except AIError as e:
            raise AIError(f"{where}: {e}") from None
        except Exception as e:  # a stream or body that is not what the API says
            raise AIError(
                f"{where} sent an answer that could not be read ({type(e).__name__}: "
                f"{_short(str(e))})"
            ) from None

    async def _answer(self, client, model: str, messages: list[dict]) -> AsyncIterator[str]:
        if not self.stream:
            completion = await client.chat.completions.create(
                model=model, messages=messages, max_tokens=self.max_tokens
            )
            text = completion.choices[0].message.content if completion.choices else None
            if not isinstance(text, str):
                raise AIError("its answer has no text (no choices[0].message.content)")
            yield text
            return
        stream = await client.chat.completions.create(
            model=model, messages=messages, max_tokens=self.max_tokens, stream=True
        )
        async for chunk in stream:
            for choice in chunk.choices or ():
                delta = getattr(choice, "delta", None)
                content = getattr(delta, "content", None)
                if content:
                    yield content


class _Slot:
    def __init__(self, semaphore: asyncio.Semaphore):
        self.semaphore = semaphore

    async def __aenter__(self):
        await self.semaphore.acquire()
        return self

    async def __aexit__(self, *exc):
        self.semaphore.release()


def url_problem(url: str) -> str | None:
    """What is wrong with ``url`` as an endpoint's base URL, or None."""
    if not isinstance(url, str) or not url:
        return "is empty"
    if len(url) > 500:
        return "is longer than 500 characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as e:
        return f"is not a URL ({e})"
    if parts.scheme not in DEFAULT_PORTS:
        return "must start with http:// or https://"
    if not parts.hostname:
        return "has no host"
    if parts.username is not None or parts.password is not None:
        return "must not hold a user name or password (the key comes from api_key_env)"
    if parts.query or parts.fragment:
        return "must not have a query or a fragment"
    return None


def within(url: str, allowed: str) -> bool:
    """Whether ``url`` is at or under the endpoint ``allowed``: the same scheme, host
    and port (not a prefix of the text: "https://api.example.com.evil" is not under
    "https://api.example.com"), and a path at or under its path, segment by segment."""
    a, b = urlsplit(url), urlsplit(allowed)
    if (a.scheme, (a.hostname or "").lower()) != (b.scheme, (b.hostname or "").lower()):
        return False
    if (a.port or DEFAULT_PORTS[a.scheme]) != (b.port or DEFAULT_PORTS[b.scheme]):
        return False
    path = [s for s in a.path.split("/") if s]
    base = [s for s in b.path.split("/") if s]
    if ".." in path or "." in path:
        return False
    return path[: len(base)] == base


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
