"""Health: can this grader take and grade submissions? 200 if so, 503 if not."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import text
from tornado.httpclient import AsyncHTTPClient
from tornado.log import app_log

from ..executors.base import SandboxUnavailable
from .base import APIHandler

# the executor and the Hub are asked at most this often; requests between get the answer
CHECK_SECONDS = 5.0


class HealthAPIHandler(APIHandler):
    """Open to anyone: it says only whether the parts answer, nothing about content."""

    async def get(self):
        checks = {"database": await self.in_db(self._check_database)}
        if self.grader.api_only:
            # grading is the worker replicas': are any alive? (this API needs no sandbox)
            checks["workers"] = await self.in_db(self._check_workers)
        else:
            checks["executor"] = await self._check_executor()
        checks["hub"] = await self._check_hub()
        healthy = all(value == "ok" for value in checks.values())
        model = {"status": "ok" if healthy else "unavailable", **checks}
        if checks.get("executor") == "ok":
            # which isolation and limits every sandbox here gets (cgroups or not...)
            model["limits"] = self.executor.limits_in_force()
        self.write_json(model, status=200 if healthy else 503)

    def _check_database(self) -> str:
        try:
            self.db.execute(text("SELECT 1"))
            return "ok"
        except Exception as e:
            app_log.warning("health: database: %s", e)
            return "unavailable"

    def _check_workers(self) -> str:
        try:
            alive = self.queue.live_workers(self.db)
        except Exception as e:
            app_log.warning("health: workers: %s", e)
            return "unavailable"
        return "ok" if alive else "unavailable: no grading worker has a recent heartbeat"

    async def _check_executor(self) -> str:
        # checking starts a sandbox: anyone may ask for health, so answer from a recent
        # check rather than start one a request (and one check at a time)
        return await self._recent("executor", self._probe_executor)

    async def _check_hub(self) -> str:
        return await self._recent("hub", self._probe_hub)

    async def _recent(self, name: str, probe) -> str:
        """The last answer of ``probe``; once it is older than CHECK_SECONDS, the probe
        runs again in the background (one at a time) and this request does not wait
        for it. Only the very first request waits for an answer."""
        checks = self.settings.setdefault("health_checks", {})
        entry = checks.get(name)
        if entry is None:
            entry = checks[name] = {"checked": time.monotonic(), "task": None}
            entry["result"] = await probe()
        elif time.monotonic() - entry["checked"] >= CHECK_SECONDS and entry["task"] is None:
            entry["task"] = asyncio.ensure_future(self._refresh(entry, probe))
        return entry["result"]

    @staticmethod
    async def _refresh(entry: dict, probe):
        try:
            entry["result"] = await probe()
        finally:
            entry["checked"] = time.monotonic()
            entry["task"] = None

    async def _probe_executor(self) -> str:
        try:
            return await self.executor.check()
        except SandboxUnavailable as e:
            return f"unavailable: {e}"

    async def _probe_hub(self) -> str:
        try:
            response = await AsyncHTTPClient().fetch(
                self.hub_auth.api_url.rstrip("/") + "/", request_timeout=5, raise_error=False
            )
        except Exception:
            return "unavailable"
        return "ok" if response.code == 200 else "unavailable"


default_handlers = [(r"health", HealthAPIHandler)]
