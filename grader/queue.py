"""The durable grading queue.

The `submissions` table is the queue: a submission is committed as `queued` before the
learner gets their 202, so nothing acknowledged lives only in memory. Workers claim a
row with a conditional UPDATE, holding a lease: atomic on SQLite and PostgreSQL alike
(under PostgreSQL's READ COMMITTED a second UPDATE of the row waits, re-checks the
condition and matches nothing), so replicas can share one database. A row whose lease
ran out, because its worker or the whole grader died, is claimed again. Results are written only under the claim that graded them, in one transaction
with the learner's best score, so each submission is graded exactly once.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy import or_, select, update
from traitlets import Float, Integer
from traitlets.config import LoggingConfigurable

from . import orm, scores
from .executors.base import SandboxUnavailable
from .grading import grade
from .notebooks import read_notebook


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
        help="""Gradings of one submission that may fail unexpectedly before it is marked
        `error`. A missing sandbox is not a failure: the submission waits for it.""",
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
        submission = orm.Submission(
            user_id=user.id,
            question_id=question.id,
            question_version=question.version,
            notebook=notebook,
            status="queued",
        )
        db.add(submission)
        db.commit()
        self._wake.set()
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
            try:
                claimed = self.claim_next()
            except Exception:
                self.log.exception("worker %d could not claim work", number)
                claimed = None
            if claimed is None:
                self._wake.clear()
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
            orm.Submission.status == "queued",
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

    async def grade_claimed(self, submission_id: int, claim: str):
        # read what grading needs, then let go of the session: no DB session is held
        # across the sandbox run
        with self.session_factory() as db:
            submission = orm.Submission.find(db, submission_id)
            source = read_notebook(submission.question.source_notebook)
            learner = read_notebook(submission.notebook)
            version = submission.question.version
            attempts = submission.attempts
        try:
            report = await grade(self.executor, source, learner)
        except SandboxUnavailable as e:
            self.log.warning("sandbox unavailable, submission %s waits: %s", submission_id, e)
            self._release(submission_id, claim)
            await asyncio.sleep(self.unavailable_backoff)
            return
        except asyncio.CancelledError:
            self._release(submission_id, claim)
            raise
        except Exception as e:
            self.log.exception("grading submission %s failed", submission_id)
            if attempts >= self.max_attempts:
                self._finish(submission_id, claim, status="error", error=f"grading failed: {e}")
            else:
                self._release(submission_id, claim, count_attempt=True)
            return
        self._finish(
            submission_id,
            claim,
            status="graded",
            score=report.score,
            max_score=report.max_score,
            tests=report.to_dict()["tests"],
            question_version=version,
        )

    def _release(self, submission_id: int, claim: str, count_attempt: bool = False):
        """Give a claimed submission back to the queue."""
        values = {"status": "queued", "claim": None, "lease_expires": None}
        if not count_attempt:
            values["attempts"] = orm.Submission.attempts - 1
        with self.session_factory() as db:
            db.execute(
                update(orm.Submission)
                .where(orm.Submission.id == submission_id, orm.Submission.claim == claim)
                .values(**values)
            )
            db.commit()
        self._wake.set()

    def _finish(self, submission_id: int, claim: str, status: str, **values):
        """Write the outcome and the learner's best score in one transaction, under the claim."""
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
                submission = orm.Submission.find(db, submission_id)
                db.refresh(submission)
                scores.record_best_score(db, submission)
            db.commit()
        self.log.info("submission %s %s", submission_id, status)
