"""The durable grading queue.

The `submissions` table is the queue: a submission is committed as `queued` before the
learner gets their 202, so nothing acknowledged lives only in memory. Workers claim a
row with a conditional UPDATE, holding a lease: atomic on SQLite and PostgreSQL alike
(under PostgreSQL's READ COMMITTED a second UPDATE of the row waits, re-checks the
condition and matches nothing), so replicas can share one database. A row whose lease
ran out, because its worker or the whole grader died, is claimed again. Results are
written only under the claim that graded them, in one transaction with the learner's
best score, so each submission is graded exactly once.

Infrastructure failure is never a grade. When the sandbox itself fails
(:class:`~grader.executors.base.SandboxFailure`: it did not start, its trusted process
died, the result channel was lost), or grading raises anything unexpected, the attempt
is counted and the submission goes back to the queue, not to be claimed again before a
backoff (on a queued row, `lease_expires` is "not before"); after `max_attempts` it is
finished as `error` with a message saying why, and no score. A missing sandbox
(:class:`~grader.executors.base.SandboxUnavailable`) costs no attempt: the submission
waits for it.

The database work (and the decoding of stored notebooks, which may be MiB) runs in
worker threads: the event loop only waits on them and on the sandbox.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import defer
from traitlets import Float, Integer
from traitlets.config import LoggingConfigurable

from . import orm, scores
from .executors.base import SandboxFailure, SandboxUnavailable
from .grading import grade
from .notebooks import NotebookFormatError, read_notebook

# longest failure reason kept in a submission's `error`
MAX_ERROR_CHARS = 1000


class GradingQueue(LoggingConfigurable):
    """Claims queued submissions and grades them with the app's executor."""

    workers = Integer(2, help="How many submissions this grader grades at the same time.").tag(
        config=True
    )
    poll_interval = Float(
        2.0,
        help="Seconds between looks at the database for work queued by other replicas.",
    ).tag(config=True)
    lease_seconds = Float(
        300.0,
        help="""How long a claim holds. A submission still running after this (its worker
        died) is claimed again. Must exceed the executor's time limit.""",
    ).tag(config=True)
    max_attempts = Integer(
        3,
        help="""Gradings of one submission that may fail (the sandbox failed, not the
        learner's code; or an unexpected error) before it is marked `error`, with no score.
        A missing sandbox is not a failure: the submission waits for it.""",
    ).tag(config=True)
    retry_backoff = Float(
        10.0,
        help="""Seconds before a submission whose grading failed is tried again, doubling
        with each further attempt. Other submissions are graded meanwhile.""",
    ).tag(config=True)
    unavailable_backoff = Float(
        5.0, help="Seconds to wait before trying again when the sandbox is unavailable."
    ).tag(config=True)

    def __init__(self, session_factory, executor, **kwargs):
        super().__init__(**kwargs)
        self.session_factory = session_factory
        self.executor = executor
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._closing = False

    # producers

    def enqueue(self, db, user: orm.User, question: orm.Question, notebook: dict):
        """Store a submission durably; the caller answers 202 only after this returns."""
        submission = self._store(db, user, question, notebook)
        self._wake.set()
        return submission

    async def submit(self, db, user: orm.User, question: orm.Question, notebook: dict):
        """:meth:`enqueue` for a request handler: the notebook (up to many MiB of JSON) is
        serialized and stored in a worker thread, with the handler's session ``db``."""
        submission = await asyncio.to_thread(self._store, db, user, question, notebook)
        self._wake.set()
        return submission

    def _store(self, db, user: orm.User, question: orm.Question, notebook: dict):
        submission = orm.Submission(
            user_id=user.id,
            question_id=question.id,
            question_version=question.version,
            notebook=notebook,
            status="queued",
        )
        db.add(submission)
        db.commit()
        return submission

    # workers

    def start(self):
        self._closing = False
        self._tasks = [asyncio.create_task(self._work(i)) for i in range(self.workers)]

    async def stop(self):
        self._closing = True
        self._wake.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _work(self, number: int):
        while not self._closing:
            # cleared before looking, so that work queued while we look wakes us
            self._wake.clear()
            try:
                # a claim made as the queue stops is given back at once
                claimed = await _in_thread(self.claim_next, undo=self._unclaim)
            except Exception:
                self.log.exception("worker %d could not claim work", number)
                claimed = None
            if claimed is None:
                try:
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)
                except TimeoutError:
                    pass
                continue
            try:
                await self.grade_claimed(*claimed)
            except Exception:
                # e.g. the database went away while writing the result: the worker lives
                # on, and the submission is claimed again when its lease runs out
                self.log.exception("worker %d: submission %s not finished", number, claimed[0])

    def claim_next(self) -> tuple[int, str] | None:
        """Claim the oldest queued (or abandoned) submission: (id, claim) or None."""
        now = orm.utcnow()
        claimable = or_(
            # a queued row's lease_expires is when it may be retried (None: at once)
            (orm.Submission.status == "queued")
            & (orm.Submission.lease_expires.is_(None) | (orm.Submission.lease_expires <= now)),
            (orm.Submission.status == "running") & (orm.Submission.lease_expires < now),
        )
        with self.session_factory() as db:
            # On PostgreSQL, rows another worker is claiming right now are skipped rather
            # than waited for (SQLite ignores FOR UPDATE: its writers take turns anyway).
            # The conditional UPDATE below is what guarantees one claim per row either way.
            candidates = db.scalars(
                select(orm.Submission.id)
                .where(claimable)
                .order_by(orm.Submission.id)
                .limit(5)
                .with_for_update(skip_locked=True)
            ).all()
            for submission_id in candidates:
                claim = uuid.uuid4().hex
                result = db.execute(
                    update(orm.Submission)
                    .where(orm.Submission.id == submission_id, claimable)
                    .values(
                        status="running",
                        claim=claim,
                        lease_expires=now + timedelta(seconds=self.lease_seconds),
                        started=now,
                        attempts=orm.Submission.attempts + 1,
                    )
                )
                db.commit()
                if result.rowcount == 1:
                    return submission_id, claim
        return None

    def _unclaim(self, claimed: tuple[int, str] | None):
        if claimed is not None:
            self._release(*claimed)

    async def grade_claimed(self, submission_id: int, claim: str):
        """Grade a claimed submission and write the outcome under ``claim``."""
        try:
            loaded = await _in_thread(self._load, submission_id)
        except asyncio.CancelledError:
            self._release(submission_id, claim)
            raise
        except NotebookFormatError as e:
            # it passed these checks when it was submitted (a limit lowered since?): a
            # retry would fail the same way
            await _in_thread(
                self._finish, submission_id, claim, status="error", error=f"cannot grade: {e}"
            )
            return
        if loaded is None:
            return  # deleted meanwhile (with its question)
        source, learner, version, attempts = loaded
        if attempts > self.max_attempts:
            # every earlier claim ended with its grader process (killed, out of memory,
            # restarted): do not let one submission take graders down forever
            await self._retry_or_fail(
                submission_id, claim, attempts - 1, "the grader stopped while grading it"
            )
            return
        try:
            report = await grade(self.executor, source, learner)
        except SandboxUnavailable as e:
            self.log.warning("sandbox unavailable, submission %s waits: %s", submission_id, e)
            await _in_thread(self._release, submission_id, claim)
            self._wake.set()
            await asyncio.sleep(self.unavailable_backoff)
            return
        except asyncio.CancelledError:
            self._release(submission_id, claim)
            raise
        except SandboxFailure as e:
            self.log.warning(
                "sandbox failed grading submission %s (attempt %d of %d): %s",
                submission_id,
                attempts,
                self.max_attempts,
                e,
            )
            await self._retry_or_fail(submission_id, claim, attempts, str(e) or "sandbox failed")
            return
        except Exception as e:
            # a bug, not the learner's doing: the details go to the log, not to the learner
            # (they could hold anything, hidden tests included)
            self.log.exception("grading submission %s failed", submission_id)
            reason = f"an internal error in the grader ({type(e).__name__})"
            await self._retry_or_fail(submission_id, claim, attempts, reason)
            return
        await _in_thread(
            self._finish,
            submission_id,
            claim,
            status="graded",
            score=report.score,
            max_score=report.max_score,
            tests=report.to_dict()["tests"],
            question_version=version,
        )

    def _load(self, submission_id: int):
        """(source, learner notebook, question version, attempts), or None if gone.

        Everything grading needs, read and parsed at once so that no DB session is held
        across the sandbox run.
        """
        with self.session_factory() as db:
            submission = orm.Submission.find(db, submission_id)
            if submission is None:
                return None
            source = read_notebook(submission.question.source_notebook)
            learner = read_notebook(submission.notebook)
            return source, learner, submission.question.version, submission.attempts

    async def _retry_or_fail(self, submission_id: int, claim: str, attempts: int, reason: str):
        """After a failed attempt: queue again after a backoff, or, with no attempts
        left, finish as `error` (never with a score)."""
        if len(reason) > MAX_ERROR_CHARS:
            reason = reason[:MAX_ERROR_CHARS] + "..."
        if attempts >= self.max_attempts:
            error = f"grading failed after {attempts} attempts: {reason}"
            await _in_thread(self._finish, submission_id, claim, status="error", error=error)
            return
        delay = self.retry_backoff * 2 ** max(attempts - 1, 0)
        await _in_thread(self._release, submission_id, claim, count_attempt=True, delay=delay)
        asyncio.get_running_loop().call_later(delay, self._wake.set)

    def _release(
        self, submission_id: int, claim: str, count_attempt: bool = False, delay: float = 0
    ):
        """Give a claimed submission back to the queue, to be claimed after ``delay`` s."""
        not_before = orm.utcnow() + timedelta(seconds=delay) if delay > 0 else None
        values = {"status": "queued", "claim": None, "lease_expires": not_before}
        if not count_attempt:
            values["attempts"] = orm.Submission.attempts - 1
        with self.session_factory() as db:
            db.execute(
                update(orm.Submission)
                .where(orm.Submission.id == submission_id, orm.Submission.claim == claim)
                .values(**values)
            )
            db.commit()

    def _finish(self, submission_id: int, claim: str, status: str, **values):
        """Write the outcome and the learner's best score in one transaction, under the claim."""
        if status != "graded":
            # only a graded submission has a score, and only it reaches the best scores
            values.update(score=None, max_score=None, tests=None)
        with self.session_factory() as db:
            result = db.execute(
                update(orm.Submission)
                .where(
                    orm.Submission.id == submission_id,
                    orm.Submission.claim == claim,
                    orm.Submission.status == "running",
                )
                .values(status=status, finished=orm.utcnow(), lease_expires=None, **values)
            )
            if result.rowcount != 1:
                # our lease ran out and another worker took over: its result stands
                db.rollback()
                self.log.warning("submission %s: claim lost, result discarded", submission_id)
                return
            if status == "graded":
                submission = db.get(
                    orm.Submission,
                    submission_id,
                    options=[defer(orm.Submission.notebook)],  # MiB nobody needs here
                    populate_existing=True,
                )
                scores.record_best_score(db, submission)
            db.commit()
        self.log.info("submission %s %s", submission_id, status)


async def _in_thread(fn, *args, undo=None, **kwargs):
    """``fn(*args, **kwargs)`` in a worker thread. If the caller is cancelled meanwhile
    (the queue stopping), the call still runs to its end before the cancellation goes
    on, and ``undo(result)`` runs if it succeeded: no database work of the queue
    outlives :meth:`GradingQueue.stop`, and none of it is lost."""
    future = asyncio.ensure_future(asyncio.to_thread(fn, *args, **kwargs))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait([future])
        if undo is not None and not future.cancelled() and future.exception() is None:
            undo(future.result())
        raise
