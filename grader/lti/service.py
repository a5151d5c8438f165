"""`LTIService`: the grader's LTI 1.3 side, configured in grader_config.py as
``c.LTIService.<option>``: the platforms file, the tool's key, the passback sender's
pace, the roster syncs. Made by the API service (`GraderApp.init_webapp`); handlers
reach it as ``self.grader.lti``."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from traitlets import Float, Integer, Unicode, default
from traitlets.config import LoggingConfigurable

from .client import PlatformClient
from .keys import ToolKey
from .platforms import Platform, PlatformsError, PlatformsFile, UnknownPlatform


class LTIService(LoggingConfigurable):
    """Platforms, the tool's key, tokens; the passback sender and roster syncs."""

    platforms_file = Unicode(
        help="""The LTI platforms file (JSON, shared with the Hub): each platform's issuer,
        client_id, token_url, jwks_url, authorize_url, deployment_ids, and optionally
        `courses` (context id -> course slug, linked at the context's first launch).
        Default: $COURSEHUB_LTI_PLATFORMS; empty: no LTI platform."""
    ).tag(config=True)

    @default("platforms_file")
    def _default_platforms_file(self):
        return os.environ.get("COURSEHUB_LTI_PLATFORMS", "")

    key_file = Unicode(
        help="""The tool's RSA private key (PEM), made at first use with mode 0600. Every
        API replica must read the same key (a platform registers one key set): with
        several, point this at a shared secret. Default: $COURSEHUB_LTI_KEY_FILE, else
        `<state dir>/lti-tool-key.pem`."""
    ).tag(config=True)

    @default("key_file")
    def _default_key_file(self):
        path = os.environ.get("COURSEHUB_LTI_KEY_FILE")
        if path:
            return path
        state_dir = getattr(self.parent, "state_dir", None) or os.path.abspath(".state")
        return str(Path(state_dir, "lti-tool-key.pem"))

    send_interval = Float(
        5.0,
        help="""Seconds between two looks at the passback outbox, on every API replica
        (two never send one score: claims are conditional updates).""",
    ).tag(config=True)

    send_batch = Integer(50, help="Scores claimed by one look at the outbox.").tag(config=True)

    send_concurrency = Integer(8, help="Scores a replica sends to platforms at the same time.").tag(
        config=True
    )

    claim_seconds = Float(
        120.0,
        help="""How long a claimed score is the claiming sender's: past that (it crashed,
        or the platform hung), another sender takes it again.""",
    ).tag(config=True)

    retry_base = Float(
        30.0, help="Seconds before the first retry of a score the platform could not take."
    ).tag(config=True)

    retry_max = Float(
        3600.0,
        help="""Most seconds between two retries (the delay doubles from `retry_base`, with
        jitter). Scores are retried until the platform takes them or refuses them.""",
    ).tag(config=True)

    request_timeout = Float(
        20.0, help="Seconds a call to a platform (token, line item, score, roster) may take."
    ).tag(config=True)

    roster_sync_interval = Float(
        0.0,
        help="""Seconds between automatic roster syncs (NRPS) of every linked context that
        offers them; 0: only when an instructor starts one on the course's LTI page.""",
    ).tag(config=True)

    roster_stale_seconds = Float(
        900.0,
        help="""A roster sync still `running` after this long is taken as dead (its
        replica stopped) and may be started again.""",
    ).tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # read again when it changes, as the Hub does: adding a platform needs no restart
        self._platforms = PlatformsFile(self.platforms_file) if self.platforms_file else None
        self.platforms_error = None
        _ = self.platforms  # a broken file is logged at start, not at the first launch
        self.key = ToolKey(self.key_file)
        self.client = PlatformClient(self.key, timeout=self.request_timeout, log=self.log)
        self._tasks: set[asyncio.Task] = set()

    @property
    def platforms(self) -> list[Platform]:
        """The platforms file's registrations (none without a file, or while it is
        broken: `platforms_error` says why, on the LTI page and in the log)."""
        if self._platforms is None:
            return []
        try:
            platforms = self._platforms.platforms()
        except PlatformsError as e:
            if str(e) != self.platforms_error:
                self.log.error("LTI: %s", e)
            self.platforms_error = str(e)
            return []
        self.platforms_error = None
        return platforms

    def platform_for(self, issuer: str, client_id: str | None = None) -> Platform | None:
        try:
            return self._platforms.find(issuer, client_id) if self.platforms else None
        except UnknownPlatform:
            return None

    def in_background(self, coroutine) -> asyncio.Task:
        """Run work that outlives a request (a roster sync), keeping a reference."""
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self):
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
