"""PlagiarismRunner: similarity reports computed off the API's event loop.

Comparing every pair of a class's answers is CPU work (a few hundred thousand pairs for
a large class), which must stall neither the API's event loop nor its database threads
(they share the API process's GIL). Each API process therefore runs at most one report
at a time in a **process of its own**: ``python -m grader.instructors.plagiarism_runner``,
started by the runner with the job (database URL, report, claim, limits) on its stdin,
never in its arguments, where a database password would show in `ps`.

The runner claims reports (``plagiarism_reports.claim_next``): new ones when an
instructor asks (``wake``), and every ``poll_interval`` those whose process died (their
heartbeat older than ``stale_seconds``), on any replica: a report is computed once, and
a crash costs only the pairs compared since the last progress written. A computing
process that ends badly gives its report back at once (another try, up to
``max_attempts``); one that runs past ``time_limit`` is killed and its report ends in
error. Stopping the service kills the process the runner started and gives its report
back, to be resumed.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

from traitlets import Float, Integer
from traitlets.config import LoggingConfigurable

from . import plagiarism_reports as reports

MODULE = "grader.instructors.plagiarism_runner"


class PlagiarismRunner(LoggingConfigurable):
    """Computes similarity reports (grader.instructors.plagiarism), one at a time per
    API process, each in a process of its own."""

    max_submissions = Integer(
        1000,
        help="""The most learners' submissions a report compares (pairs grow with the
        square: 1000 submissions are ~500,000 pairs). A question with more is refused
        with a 400 naming this option.""",
    ).tag(config=True)

    max_code_chars = Integer(
        20_000,
        help="""Characters of a learner's answer code compared: a longer answer is
        compared on its beginning, and the report counts how many were cut.""",
    ).tag(config=True)

    max_listed_pairs = Integer(
        2000,
        help="""Pairs above the threshold a report lists (with their code and regions);
        more are counted only ("unlisted"): raise the threshold to see them.""",
    ).tag(config=True)

    default_threshold = Float(
        0.6,
        help="""The threshold of a report asked for without one: a pair is listed when
        either learner's answer is at least this share (0.1 to 1) of the other's.""",
    ).tag(config=True)

    noise_threshold = Integer(
        25,
        help="""copydetect's noise threshold: the length, in filtered characters (names
        as one letter, no whitespace), of the k-grams fingerprinted. Shorter common
        sequences never count as a match.""",
    ).tag(config=True)

    guarantee_threshold = Integer(
        25,
        help="""copydetect's guarantee threshold (>= noise_threshold): a match this long
        is always found. Equal to the noise threshold (the default) keeps every k-gram.""",
    ).tag(config=True)

    min_match = Integer(
        50,
        help="""Filtered characters two answers must share for their pair to be listed,
        whatever the share: a one-line answer everybody writes alike is not a copy.""",
    ).tag(config=True)

    progress_interval = Float(
        0.5,
        help="Seconds between two writes of a report's progress (and heartbeat).",
    ).tag(config=True)

    stale_seconds = Float(
        60.0,
        help="""A running report whose heartbeat is older than this was left by a process
        that died: any replica takes it over and resumes it.""",
    ).tag(config=True)

    poll_interval = Float(
        5.0,
        help="Seconds between two looks for reports to take over (new ones wake the runner).",
    ).tag(config=True)

    max_attempts = Integer(
        3,
        help="Times a report is started before it ends in error (its process kept dying).",
    ).tag(config=True)

    time_limit = Float(
        3600.0,
        help="Seconds a report may compute before its process is killed and it ends in error.",
    ).tag(config=True)

    def __init__(self, session_factory, db_url: str, db_pool, **kwargs):
        super().__init__(**kwargs)
        self.session_factory = session_factory
        self.db_url = db_url
        self.db_pool = db_pool
        self.process: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = False

    def limits(self) -> reports.Limits:
        return reports.Limits(
            max_submissions=self.max_submissions,
            max_code_chars=self.max_code_chars,
            max_listed_pairs=self.max_listed_pairs,
            noise_threshold=self.noise_threshold,
            guarantee_threshold=max(self.guarantee_threshold, self.noise_threshold),
            min_match=self.min_match,
            progress_interval=self.progress_interval,
        )

    # on the event loop

    def start(self):
        """Begin looking for reports (on the running event loop); idempotent."""
        if self._task is None and not self._stopping:
            self._wake = asyncio.Event()
            self._task = asyncio.create_task(self._run())

    def wake(self):
        """A report was asked for: look now (starting the runner if it was not)."""
        self.start()
        if self._wake is not None:
            self._wake.set()

    async def stop(self):
        """Stop looking; kill the computing process we started (its report goes back
        to the queue, to be resumed)."""
        self._stopping = True
        if self._task is None:
            return
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._task = None

    async def _run(self):
        loop = asyncio.get_running_loop()
        while not self._stopping:
            try:
                claimed = await loop.run_in_executor(self.db_pool, self._claim)
            except Exception as e:  # the database away for a while: the next look
                self.log.warning("plagiarism reports: cannot claim one: %s", e)
                claimed = None
            if claimed is not None:
                await self._compute(*claimed)
                continue  # another may be waiting
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            except TimeoutError:
                pass

    def _claim(self):
        with self.session_factory() as db:
            return reports.claim_next(db, self.stale_seconds, self.max_attempts)

    async def _compute(self, report_id: int, token: str):
        """One report in a process of its own; what to do with its report if it ends
        badly."""
        loop = asyncio.get_running_loop()
        job = {
            "db_url": self.db_url,
            "report": report_id,
            "claim": token,
            "limits": asdict(self.limits()),
        }
        outcome = None
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                MODULE,
                stdin=asyncio.subprocess.PIPE,
                env=_child_environment(),
            )
            self.log.info(
                "plagiarism report %d: computed by process %d", report_id, self.process.pid
            )
            self.process.stdin.write(json.dumps(job).encode())
            await self.process.stdin.drain()
            self.process.stdin.close()
            try:
                code = await asyncio.wait_for(self.process.wait(), self.time_limit)
            except TimeoutError:
                outcome = f"it took longer than {self.time_limit:g} s (PlagiarismRunner.time_limit)"
                code = None
            if code not in (0, None):
                self.log.warning("plagiarism report %d: process ended with %s", report_id, code)
        except asyncio.CancelledError:
            outcome = "stopped"
            raise
        finally:
            process, self.process = self.process, None
            if process is not None and process.returncode is None:
                process.kill()
                await process.wait()
            # a process that finished wrote its report's end itself (these find no
            # claim); one that died, was killed or stopped leaves it running
            if outcome is None or outcome == "stopped":
                action = (reports.release, report_id, token)
            else:
                action = (reports.fail, report_id, token, f"not computed: {outcome}")
            try:
                await loop.run_in_executor(self.db_pool, self._in_session, *action)
            except Exception as e:
                self.log.warning("plagiarism report %d: %s", report_id, e)

    def _in_session(self, fn, *args):
        with self.session_factory() as db:
            return fn(db, *args)


def _child_environment() -> dict[str, str]:
    """The computing process's environment: ours, with this very `grader` package first
    on its path (a working tree, or the installed one), and matplotlib (which copydetect
    imports) kept off any display."""
    root = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "PYTHONPATH": root + (os.pathsep + path if path else ""),
        "MPLBACKEND": "Agg",
    }


def main() -> int:
    """The computing process: read the job on stdin, compute the claimed report."""
    import logging

    from .. import dbutil

    logging.basicConfig(level=logging.WARNING)
    job = json.loads(sys.stdin.read())
    engine = dbutil.make_engine(job["db_url"])
    try:
        session_factory = dbutil.make_session_factory(engine)
        limits = reports.Limits(**job["limits"])
        try:
            reports.compute(session_factory, job["report"], job["claim"], limits)
        except Exception as e:
            # a report that cannot be computed (not a crash of this process) ends in error
            logging.exception("plagiarism report %s failed", job["report"])
            with session_factory() as db:
                reports.fail(db, job["report"], job["claim"], f"{type(e).__name__}: {e}")
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
