"""The durable grading queue.

The `submissions` table is the queue: a submission is committed as `queued` before the
learner gets their 202, so nothing acknowledged lives only in memory. Workers claim a
row with a conditional UPDATE: atomic on SQLite and PostgreSQL alike (under PostgreSQL's
READ COMMITTED a second UPDATE of the row waits, re-checks the condition and matches
nothing), so worker processes and replicas can share one database. Results are written
only under the claim that graded them, in one transaction with the learner's best score
and totals (`scores.record_graded`) and the hooks of later features, so each submission
is graded exactly once.

**Fair order.** Rows are claimed by `priority`, a virtual time (start-time fair
queueing): a learner's next submission comes one step after their previous one, and
never before the queue's current time (the highest priority claimed so far). So a
learner who queues ten submissions takes one turn per round like everyone else: their
queue never delays another learner's first. Each learner may have `max_queued_per_learner`
submissions waiting (a 429 beyond) and store `storage_quota` bytes of notebooks (a 413).
A regrade (an instructor changed a question, :mod:`grader.grading.regrade`) queues the
question's submissions again in a band of priorities after every learner's own: it
counts against no learner's limits and delays no learner's submission.

**Liveness.** Each worker process registers in `workers`, holds a lock file under the
state directory, and beats every `heartbeat_interval`. A claim belongs to its worker:
when the worker is known dead, its claims are queued again at once. On the same host
that is as soon as its lock file is free (the kernel released it: a restarted grader
takes its killed predecessor's work back at start); elsewhere when its heartbeat is
older than `heartbeat_timeout`. `lease_seconds` stays as the backstop for a worker that
lives but hangs. A finished result's write is retried across a short database outage:
it applies only under the worker's own claim, so a retry cannot double anything.

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
import bisect
import fcntl
import os
import socket
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import DBAPIError
from traitlets import Float, Integer, List, Unicode
from traitlets.config import LoggingConfigurable

from .. import orm
from ..executors.base import SandboxFailure, SandboxUnavailable
from ..learners import awards, scores
from ..learners.grade_changes import REGRADE
from ..learners.practice import practice_graded
from .manual import settle
from .notebooks import NotebookFormatError
from .questiontypes import question_type
from .regrade import REGRADE_PRIORITY, is_regrade, moved_clock
from .variants import variant_seed

# longest failure reason kept in a submission's `error`
MAX_ERROR_CHARS = 1000
OUTSTANDING = ("queued", "running")
# queued rows read at once to place the submissions learners are following
QUEUE_HEAD = 5000


class QueueLimit(Exception):
    """A learner's submission refused by a per-learner limit; str(e) says which."""

    def __init__(self, status: int, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class GradingQueue(LoggingConfigurable):
    """Stores submissions fairly, claims queued ones and grades them with the executor."""

    workers = Integer(2, help="How many submissions one worker process grades at once.").tag(
        config=True
    )
    poll_interval = Float(
        1.0,
        help="""Seconds between looks at the database for work queued by other processes
        (the service wakes the worker processes it started at once).""",
    ).tag(config=True)
    lease_seconds = Float(
        300.0,
        help="""How long a claim holds at most. A submission still running after this (its
        worker hangs) is claimed again. Must exceed the executor's time limit. A worker
        that died gives its claims back sooner (see heartbeat_timeout).""",
    ).tag(config=True)
    heartbeat_interval = Float(
        2.0, help="Seconds between a worker process's heartbeats (and looks for dead workers)."
    ).tag(config=True)
    heartbeat_timeout = Float(
        15.0,
        help="""A worker whose last heartbeat is older than this is dead: its claims go
        back to the queue. (On its own host a dead worker is noticed at once, by its lock
        file.)""",
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
    write_retry_seconds = Float(
        60.0,
        help="""How long a finished result's write is retried while the database is
        unreachable (a restart, a fail-over) before the result is given up; the
        submission is then graded again.""",
    ).tag(config=True)
    max_queued_per_learner = Integer(
        5,
        help="Submissions one learner may have waiting or being graded; more is a 429.",
    ).tag(config=True)
    storage_quota = Integer(
        100 * 2**20,
        help="Bytes of submitted notebooks one learner may store in all; more is a 413.",
    ).tag(config=True)
    graded_hooks = List(
        Unicode(),
        help="""Functions `f(db, submission)` ("package.module:function") called in the
        transaction that records a graded submission, after its best score and totals:
        where later features (XP, streaks, reviews) hook in. An exception rolls the
        result back; the submission is then graded again.""",
    ).tag(config=True)

    def __init__(self, session_factory, executor, writer_factory=None, lock_dir=None, **kwargs):
        super().__init__(**kwargs)
        self.session_factory = session_factory
        # transactions that read then write (see dbutil.make_engine's writer)
        self.writer_factory = writer_factory or session_factory
        self.executor = executor
        self.lock_dir = Path(lock_dir) if lock_dir else None
        self.worker_id = uuid.uuid4().hex
        self.host = socket.gethostname()
        self._lock_file = None
        self._hooks = None
        # claims this worker holds now (a claim whose commit's answer an outage lost is
        # found by the heartbeat: ours in the table, not in here)
        self._active_claims: set[str] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._closing = False

    def wake(self):
        """Look for work now (the service calls this when it stored a submission)."""
        self._wake.set()

    # producers

    def enqueue(
        self,
        db,
        user: orm.User,
        question: orm.Question,
        notebook: dict,
        size: int = 0,
        late: bool = False,
        attach=None,
    ):
        """Store a submission durably; the caller answers 202 only after this returns.

        ``db`` must be a writer session. Raises :class:`QueueLimit` when the learner has
        too many submissions waiting or too much stored. ``late``: after the question's
        due date (the caller checked its rules in this transaction, `learners.rules`).
        ``attach(db, submission)``: rows stored with it, in its transaction (its
        integrity signals), called once it has an id.
        """
        submission = self._store(db, user.id, question, notebook, size, late, attach)
        self._wake.set()
        return submission

    def _store(
        self,
        db,
        user_id: int,
        question: orm.Question,
        notebook: dict,
        size: int,
        late=False,
        attach=None,
    ):
        table = orm.Submission
        # one learner's submissions are stored one at a time (PostgreSQL row lock; on
        # SQLite the writer's BEGIN IMMEDIATE), so two at once cannot both pass a limit
        db.execute(select(orm.User.id).where(orm.User.id == user_id).with_for_update())
        # regradings are the instructors' doing, not the learner's: they never count
        waiting = db.scalar(
            select(func.count()).where(
                table.user_id == user_id,
                table.status.in_(OUTSTANDING),
                table.priority < REGRADE_PRIORITY,
            )
        )
        if waiting >= self.max_queued_per_learner:
            db.rollback()
            raise QueueLimit(
                429,
                f"you already have {waiting} submissions waiting to be graded (at most "
                f"{self.max_queued_per_learner}): wait for a result, then submit again",
                retry_after=max(1, round(self.average_grading_seconds(db) or 5)),
            )
        stored = db.scalar(
            select(func.coalesce(func.sum(table.size), 0)).where(table.user_id == user_id)
        )
        if stored + size > self.storage_quota:
            db.rollback()
            raise QueueLimit(
                413,
                f"your submissions take {_mib(stored)} of your {_mib(self.storage_quota)} "
                f"storage quota, and this one is {_mib(size)}: ask an instructor to raise it",
            )
        submission = orm.Submission(
            user_id=user_id,
            question_id=question.id,
            question_version=question.version,
            notebook=notebook,
            size=size,
            status="queued",
            priority=self._next_priority(db, user_id),
            late=late,
        )
        db.add(submission)
        if attach is not None:
            db.flush()  # its id
            attach(db, submission)
        db.commit()
        return submission

    def _next_priority(self, db, user_id: int) -> float:
        """Start-time fair queueing: one step after the learner's last submission, and not
        before the queue's clock (the highest priority any worker claimed)."""
        table = orm.Submission
        # regradings are in a band of their own (grading.regrade), each at its old time
        # plus the band's start: counted at that time, so that the clock never goes back
        fresh = table.priority < REGRADE_PRIORITY
        mine = db.scalar(select(func.max(table.priority)).where(table.user_id == user_id, fresh))
        # each a seek on the queue index (status, priority)
        claimed = [
            db.scalar(select(func.max(table.priority)).where(table.status == status, fresh))
            for status in ("running", "graded", "error")
        ]
        claimed.append(moved_clock(db))
        clock = max((p for p in claimed if p is not None), default=0.0)
        return clock if mine is None else max(clock, mine + 1)

    # what a learner sees while waiting

    def positions(self, db, submission_ids) -> dict[int, int]:
        """Queue position (1 = next) of each of these submissions that is queued.

        One read of the queue's head (an index range) serves every follower; a submission
        further back than that is counted on its own.
        """
        table = orm.Submission
        mine = db.execute(
            select(table.priority, table.id).where(
                table.id.in_(list(submission_ids)), table.status == "queued"
            )
        ).all()
        if not mine:
            return {}
        if len(mine) <= 2:  # one learner's status read: counts, not the queue's head
            return {i: self._position(db, p, i) for p, i in mine}
        head = [
            tuple(row)
            for row in db.execute(
                select(table.priority, table.id)
                .where(table.status == "queued")
                .order_by(table.priority, table.id)
                .limit(QUEUE_HEAD)
            )
        ]
        positions = {}
        for priority, submission_id in mine:
            index = bisect.bisect_left(head, (priority, submission_id))
            if index < len(head) and head[index] == (priority, submission_id):
                positions[submission_id] = index + 1
                continue
            positions[submission_id] = self._position(db, priority, submission_id)
        return positions

    def _position(self, db, priority: float, submission_id: int) -> int:
        table = orm.Submission
        ahead = db.scalar(
            select(func.count()).where(
                table.status == "queued",
                or_(
                    table.priority < priority,
                    (table.priority == priority) & (table.id < submission_id),
                ),
            )
        )
        return ahead + 1

    _average = (0.0, None)  # (when computed, seconds)

    def average_grading_seconds(self, db) -> float | None:
        """Mean duration of the last 20 gradings (cached for 5 s), or None before any."""
        computed, value = self._average
        if time.monotonic() - computed < 5:
            return value
        table = orm.Submission
        rows = db.execute(
            select(table.started, table.finished)
            .where(
                table.status == "graded",
                table.started.is_not(None),
                table.priority < REGRADE_PRIORITY,  # regradings: their own band, and time
            )
            .order_by(table.priority.desc())
            .limit(20)
        ).all()
        spans = [(r.finished - r.started).total_seconds() for r in rows if r.finished]
        value = sum(spans) / len(spans) if spans else None
        self._average = (time.monotonic(), value)
        return value

    def estimated_wait(self, db, position: int) -> float | None:
        """Seconds until a submission at ``position`` is graded, roughly."""
        return self.wait_estimator(db)(position)

    def wait_estimator(self, db):
        """``position -> seconds or None``, from recent gradings and how many run now:
        read once, applied to every followed submission."""
        average = self.average_grading_seconds(db)
        if average is None:
            return lambda position: None
        running = db.scalar(select(func.count()).where(orm.Submission.status == "running"))
        lanes = max(running, 1)
        return lambda position: round(average * (1 + (position - 1) // lanes) + average, 1)

    # workers

    def start(self):
        self._closing = False
        self.register_worker()
        self._tasks = [asyncio.create_task(self._work(i)) for i in range(self.workers)]
        self._tasks.append(asyncio.create_task(self._beat()))

    async def stop(self):
        if not self._tasks:
            return  # never started here (the service with worker processes, an API)
        self._closing = True
        self._wake.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        try:
            await asyncio.to_thread(self.unregister_worker)
        except Exception:
            self.log.exception("could not unregister worker %s", self.worker_id)

    def register_worker(self):
        """Our row in `workers`, and our lock file (held until this process ends)."""
        if self.lock_dir is not None:
            self.lock_dir.mkdir(parents=True, exist_ok=True)
            self._lock_file = open(self.lock_dir / f"{self.worker_id}.lock", "w")  # noqa: SIM115
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with self.writer_factory() as db:
            db.add(orm.Worker(id=self.worker_id, host=self.host, pid=os.getpid()))
            db.commit()
        # a killed predecessor's claims come back before we look for work
        self.requeue_dead_workers()

    def unregister_worker(self):
        with self.writer_factory() as db:
            db.execute(delete(orm.Worker).where(orm.Worker.id == self.worker_id))
            db.commit()
        if self._lock_file is not None:
            os.unlink(self._lock_file.name)
            self._lock_file.close()
            self._lock_file = None

    async def _beat(self):
        while not self._closing:
            try:
                await asyncio.to_thread(self.heartbeat)
                requeued = await asyncio.to_thread(self.requeue_dead_workers)
                if requeued:
                    self._wake.set()
            except Exception as e:
                # the database is away (restarting?): the next beat tries again
                self.log.warning("worker %s: heartbeat failed: %s", self.worker_id, e)
            await asyncio.sleep(self.heartbeat_interval)

    def heartbeat(self):
        with self.session_factory() as db:
            beat = db.execute(
                update(orm.Worker)
                .where(orm.Worker.id == self.worker_id)
                .values(heartbeat=orm.utcnow())
            )
            if beat.rowcount == 0:
                # another process took us for dead (a long database outage): come back
                # under the same id; our claims may have been given away meanwhile
                db.add(orm.Worker(id=self.worker_id, host=self.host, pid=os.getpid()))
            # claims of ours that we do not know of: their commit succeeded while its
            # answer was lost (the database went away at that moment). Queued again.
            forgotten = db.execute(
                update(orm.Submission)
                .where(
                    orm.Submission.worker == self.worker_id,
                    orm.Submission.status == "running",
                    orm.Submission.claim.not_in(list(self._active_claims)),
                )
                .values(status="queued", claim=None, worker=None, lease_expires=None)
            )
            db.commit()
        if forgotten.rowcount:
            self.log.warning("%d claims lost in an outage are queued again", forgotten.rowcount)

    def requeue_dead_workers(self) -> int:
        """Queue again the claims of workers known dead; returns how many."""
        stale = orm.utcnow() - timedelta(seconds=self.heartbeat_timeout)
        with self.session_factory() as db:
            others = db.execute(
                select(orm.Worker.id, orm.Worker.host, orm.Worker.heartbeat).where(
                    orm.Worker.id != self.worker_id
                )
            ).all()
        dead = [w.id for w in others if w.heartbeat < stale or self._lock_is_free(w)]
        requeued = 0
        for worker_id in dead:
            with self.writer_factory() as db:
                result = db.execute(
                    update(orm.Submission)
                    .where(orm.Submission.worker == worker_id, orm.Submission.status == "running")
                    .values(status="queued", claim=None, worker=None, lease_expires=None)
                )
                db.execute(delete(orm.Worker).where(orm.Worker.id == worker_id))
                db.commit()
            if result.rowcount:
                self.log.warning(
                    "worker %s is gone: %d submissions it was grading are queued again",
                    worker_id,
                    result.rowcount,
                )
            requeued += result.rowcount
            if self.lock_dir is not None:
                (self.lock_dir / f"{worker_id}.lock").unlink(missing_ok=True)
        return requeued

    def live_workers(self, db) -> int:
        """Worker processes whose heartbeat is recent."""
        stale = orm.utcnow() - timedelta(seconds=self.heartbeat_timeout)
        return db.scalar(select(func.count()).where(orm.Worker.heartbeat >= stale))

    def _lock_is_free(self, worker) -> bool:
        """Whether a worker on this host died: nobody holds its lock file any more."""
        if self.lock_dir is None or worker.host != self.host:
            return False
        try:
            with open(self.lock_dir / f"{worker.id}.lock") as f:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
        except FileNotFoundError:
            return False  # registered, lock not yet made; its heartbeat decides
        except BlockingIOError:
            return False

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
                self._active_claims.discard(claimed[1])
            except Exception:
                # e.g. the database stayed away longer than write_retry_seconds: the worker
                # lives on, and gives the submission back (else its lease returns it)
                self.log.exception("worker %d: submission %s not finished", number, claimed[0])
                try:
                    await self._across_outage("giving it back", claimed[0], self._release, *claimed)
                except Exception:
                    self.log.exception(
                        "submission %s stays claimed until its lease ends", claimed[0]
                    )

    def claim_next(self) -> tuple[int, str] | None:
        """Claim the first queued (or abandoned) submission in fair order: (id, claim)."""
        now = orm.utcnow()
        table = orm.Submission
        claimable = or_(
            # a queued row's lease_expires is when it may be retried (None: at once)
            (table.status == "queued")
            & (table.lease_expires.is_(None) | (table.lease_expires <= now)),
            (table.status == "running") & (table.lease_expires < now),
        )
        with self.writer_factory() as db:
            # Abandoned rows first (a hung worker's), then the queue in fair order: each
            # a range of the queue index read up to a few rows, never a sort of the queue.
            # On PostgreSQL, rows another worker is claiming right now are skipped rather
            # than waited for (SQLite ignores FOR UPDATE: its writers take turns anyway).
            # The conditional UPDATE below is what guarantees one claim per row either way.
            candidates = (
                db.scalars(
                    select(table.id)
                    .where(table.status == "running", table.lease_expires < now)
                    .limit(5)
                    .with_for_update(skip_locked=True)
                ).all()
                + db.scalars(
                    select(table.id)
                    .where(
                        table.status == "queued",
                        table.lease_expires.is_(None) | (table.lease_expires <= now),
                    )
                    .order_by(table.priority, table.id)
                    .limit(5)
                    .with_for_update(skip_locked=True)
                ).all()
            )
            for submission_id in candidates:
                claim = uuid.uuid4().hex
                self._active_claims.add(claim)  # before it can be in the table
                try:
                    result = db.execute(
                        update(table)
                        .where(table.id == submission_id, claimable)
                        .values(
                            status="running",
                            claim=claim,
                            worker=self.worker_id,
                            lease_expires=now + timedelta(seconds=self.lease_seconds),
                            started=now,
                            attempts=table.attempts + 1,
                        )
                    )
                    db.commit()
                except Exception:
                    # committed or not, it is not ours to grade: the heartbeat gives it
                    # back if it was
                    self._active_claims.discard(claim)
                    raise
                if result.rowcount == 1:
                    return submission_id, claim
                self._active_claims.discard(claim)
        return None

    def _unclaim(self, claimed: tuple[int, str] | None):
        if claimed is not None:
            self._release(*claimed)

    async def grade_claimed(self, submission_id: int, claim: str):
        """Grade a claimed submission and write the outcome under ``claim``."""
        try:
            loaded = await self._across_outage(
                "reading it", submission_id, self._load, submission_id
            )
        except asyncio.CancelledError:
            self._release(submission_id, claim)
            raise
        except NotebookFormatError as e:
            # it passed these checks when it was submitted (a limit lowered since?): a
            # retry would fail the same way
            await self._write_result(
                submission_id, claim, status="error", error=f"cannot grade: {e}"
            )
            return
        if loaded is None:
            return  # deleted meanwhile (with its question)
        kind, source, answer, version, attempts = loaded
        if attempts > self.max_attempts:
            # every earlier claim ended with its grader process (killed, out of memory,
            # restarted): do not let one submission take graders down forever
            await self._retry_or_fail(
                submission_id, claim, attempts - 1, "the grader stopped while grading it"
            )
            return
        try:
            report = await kind.grade(self.executor, source, answer)
        except SandboxUnavailable as e:
            self.log.warning("sandbox unavailable, submission %s waits: %s", submission_id, e)
            await self._across_outage(
                "giving it back", submission_id, self._release, submission_id, claim
            )
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
        await self._write_result(
            submission_id,
            claim,
            status="graded",
            score=report.score,
            max_score=report.max_score,
            tests=report.to_dict()["tests"],
            question_version=version,
            manual=report.manual,
        )

    def _load(self, submission_id: int):
        """(type, source, answer, question version, attempts), or None if gone.

        Everything grading needs, read and parsed at once so that no DB session is held
        across the sandbox run.
        """
        with self.session_factory() as db:
            submission = orm.Submission.find(db, submission_id)
            if submission is None:
                return None
            kind = question_type(submission.question.type)
            source = kind.read_source(submission.question.source_notebook)
            # the learner's own variant (a seeded question's SEED): their tests' values
            seed = variant_seed(submission.question_id, submission.user_id)
            source = kind.source_for(source, seed)
            answer = kind.read_answer(submission.notebook)
            return kind, source, answer, submission.question.version, submission.attempts

    async def _retry_or_fail(self, submission_id: int, claim: str, attempts: int, reason: str):
        """After a failed attempt: queue again after a backoff, or, with no attempts
        left, finish as `error` (never with a score)."""
        if len(reason) > MAX_ERROR_CHARS:
            reason = reason[:MAX_ERROR_CHARS] + "..."
        if attempts >= self.max_attempts:
            error = f"grading failed after {attempts} attempts: {reason}"
            await self._write_result(submission_id, claim, status="error", error=error)
            return
        delay = self.retry_backoff * 2 ** max(attempts - 1, 0)
        await self._across_outage(
            "queueing it again",
            submission_id,
            self._release,
            submission_id,
            claim,
            count_attempt=True,
            delay=delay,
        )
        asyncio.get_running_loop().call_later(delay, self._wake.set)

    def _release(
        self, submission_id: int, claim: str, count_attempt: bool = False, delay: float = 0
    ):
        """Give a claimed submission back to the queue, to be claimed after ``delay`` s."""
        not_before = orm.utcnow() + timedelta(seconds=delay) if delay > 0 else None
        values = {"status": "queued", "claim": None, "worker": None, "lease_expires": not_before}
        if not count_attempt:
            values["attempts"] = orm.Submission.attempts - 1
        with self.session_factory() as db:
            db.execute(
                update(orm.Submission)
                .where(orm.Submission.id == submission_id, orm.Submission.claim == claim)
                .values(**values)
            )
            db.commit()

    async def _write_result(self, submission_id: int, claim: str, **outcome):
        """:meth:`_finish`, retried while the database is unreachable: the write applies
        only under our claim, so trying again can never record a result twice."""
        await self._across_outage(
            "writing the result", submission_id, self._finish, submission_id, claim, **outcome
        )

    async def _across_outage(self, what: str, submission_id: int, fn, *args, **kwargs):
        """``fn`` in a thread, tried again while the database is unreachable (a restart,
        a fail-over), for up to ``write_retry_seconds``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.write_retry_seconds
        delay = 0.25
        while True:
            try:
                return await _in_thread(fn, *args, **kwargs)
            except DBAPIError as e:
                if loop.time() + delay > deadline:
                    raise
                self.log.warning(
                    "submission %s: %s failed (%s), retrying in %.1f s",
                    submission_id,
                    what,
                    type(e.orig).__name__ if e.orig is not None else type(e).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _finish(self, submission_id: int, claim: str, status: str, **values):
        """Write the outcome under the claim; for a graded submission, in the same
        transaction, the one "graded" step: best score, totals, then the hooks."""
        manual = values.pop("manual", None)  # the answers left to grade by hand
        if status != "graded":
            # only a graded submission has a score, and only it reaches the best scores
            values.update(score=None, max_score=None, tests=None)
        with self.writer_factory() as db:
            result = db.execute(
                update(orm.Submission)
                .where(
                    orm.Submission.id == submission_id,
                    orm.Submission.claim == claim,
                    orm.Submission.status == "running",
                )
                .values(
                    status=status,
                    # a regraded submission keeps when it was first graded: a regrade
                    # changes a score, not when the learner reached it
                    finished=func.coalesce(orm.Submission.finished, orm.utcnow()),
                    lease_expires=None,
                    **values,
                )
            )
            if result.rowcount != 1:
                db.rollback()
                mine = db.scalar(
                    select(orm.Submission.status).where(
                        orm.Submission.id == submission_id, orm.Submission.claim == claim
                    )
                )
                if mine in ("graded", "error"):
                    # a retry after a commit whose answer the outage swallowed: written
                    self.log.info("submission %s: result was written before", submission_id)
                    return
                # our claim was given away (we were taken for dead, or our lease ran out)
                # and another worker grades it: its result stands
                self.log.warning("submission %s: claim lost, result discarded", submission_id)
                return
            submission = db.get(orm.Submission, submission_id, populate_existing=True)
            if status == "graded":
                self.submission_graded(db, submission, manual)
            elif is_regrade(submission):
                # a regrading that failed leaves the learner no score of the question's
                # current version from this submission: their best is found again
                scores.recompute_best(db, submission.user_id, submission.question_id, cause=REGRADE)
            db.commit()
        self.log.info("submission %s %s", submission_id, status)

    def submission_graded(self, db, submission: orm.Submission, manual=None) -> None:
        """The one step after a grading, inside its transaction: lateness, answers to
        grade by hand and the score (`grading.manual.settle`), then the best score, then
        XP, streak and achievements (`learners.awards`), then reviews, duels and the daily
        question (`learners.practice`): nothing of these for a regrade."""
        settle(db, submission, manual)
        if is_regrade(submission):
            # graded again against a changed question: the best may go down as well as
            # up, so it is found again from the learner's graded submissions
            scores.recompute_best(db, submission.user_id, submission.question_id, cause=REGRADE)
        else:
            scores.record_graded(db, submission)
        awards.award_graded(db, submission, awards.rules_of(self))
        if not is_regrade(submission):
            practice_graded(db, submission, self)
        for hook in self.hooks():
            hook(db, submission)

    def hooks(self) -> list:
        if self._hooks is None:
            self._hooks = [_import_function(spec) for spec in self.graded_hooks]
        return self._hooks


def _import_function(spec: str):
    module_name, _, name = spec.partition(":")
    module = __import__(module_name, fromlist=[name])
    return getattr(module, name)


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


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
