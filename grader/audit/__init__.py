"""The audit log: every instructor and admin action and every grade change, append-only.

:func:`record` appends one entry **in the caller's transaction** (it never commits): an
action and its entry commit, or roll back, together. An entry says who (`actor`: a Hub
user or service, "grader" for the service itself; `actor_kind`), when (`time`, UTC),
what (`action`, dotted and lower case: "question.release"), to what (`target`:
"question 12"), in which course, with `detail` (plain JSON, never a secret) and the
client's address where a request made it.

Append-only, three ways: no endpoint changes an entry (grader.handlers.audit); the
database refuses UPDATE and DELETE on the table (triggers of migration 0009); and each
entry's sha256 covers the hash of the entry before it and its own content
(:mod:`grader.audit.chain`), so an edit made behind the triggers' back (dropping them, a
copy of the file edited) is found by `coursehub-grader audit verify`.

**Writers take turns.** The chain needs each entry to know the hash of the one before,
whichever replica or worker process writes it: :func:`record` first takes the one row of
`audit_head` (an UPDATE: a row lock on PostgreSQL, SQLite's write lock), which holds the
last id and hash, until the caller's transaction ends. So ids are dense and committed in
their order (the event stream's `Last-Event-ID` replay skips none). A transaction holds
that row from its first entry to its end: the graded step takes it after the learner's
row and best score, before totals; so a handler adds its entry *after* locking
submissions or a learner (a regrade's requeue, a hand grade) and *before* rewriting
totals (a retire), or the two could wait on each other.

Where the client's address comes from: the API handlers set :data:`client_address` for
the database thread that runs their work (`GraderHandler.in_db`), so a module deep in a
request (a hand grade in grading.manual) records it without being handed the request.
"""

from __future__ import annotations

import json
import re
from contextvars import ContextVar

from sqlalchemy import insert, select, update

from .. import orm
from ..dbutil import dialect_insert
from .chain import GENESIS, entry_hash

#: the service itself, as an actor (a learner's own graded submission moved a score)
SYSTEM_ACTOR = "grader"

#: the address of the client whose request is being served in this thread, if any
client_address: ContextVar[str | None] = ContextVar("audit_client_address", default=None)

ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
MAX_TARGET = 500
MAX_ACTOR = 255


def record(
    db,
    *,
    actor: str,
    action: str,
    course_id: int | None = None,
    target: str = "",
    detail: dict | None = None,
    actor_kind: str | None = None,
    address: str | None = None,
) -> orm.AuditEntry:
    """Append one entry in the caller's transaction: `actor` (a Hub user or service
    name, "grader" for the service itself) did `action` ("question.release", ...) to
    `target` ("question 12"), with `detail` (plain JSON data, never a secret).

    `actor_kind`: "user", "service" or "system" (default: "system" for the grader,
    else "user"); `address`: the client's (default: the request's, see
    :data:`client_address`)."""
    if not ACTION.match(action):
        raise ValueError(f"an audit action is dotted lower-case words, not {action!r}")
    if actor_kind is None:
        actor_kind = "system" if actor == SYSTEM_ACTOR else "user"
    # stored as JSON text and read back: what is hashed must be what reads back
    detail = json.loads(json.dumps(detail or {}, default=str))
    last_id, last_hash = _take_head(db)
    entry = orm.AuditEntry(
        id=last_id + 1,
        time=orm.utcnow(),
        actor=str(actor)[:MAX_ACTOR],
        actor_kind=actor_kind,
        action=action,
        course_id=course_id,
        target=str(target)[:MAX_TARGET],
        detail=detail,
        address=(address or client_address.get() or None),
    )
    entry.hash = entry_hash(last_hash, entry)
    columns = orm.AuditEntry.__table__.c
    db.execute(insert(orm.AuditEntry).values({c.name: getattr(entry, c.name) for c in columns}))
    db.execute(
        update(orm.AuditHead)
        .where(orm.AuditHead.id == 1)
        .values(last_id=entry.id, last_hash=entry.hash)
    )
    return entry


def _take_head(db) -> tuple[int, str]:
    """Lock the head row for this transaction; the last id and hash, read under it."""
    head = orm.AuditHead
    for _ in range(2):
        # a write, not SELECT ... FOR UPDATE: SQLite has no row locks, and a write is
        # what takes its one writer's lock (or waits for it); RETURNING reads the row
        # as locked, in the same statement
        taken = db.execute(
            update(head)
            .where(head.id == 1)
            .values(last_id=head.last_id)
            .returning(head.last_id, head.last_hash)
        ).first()
        if taken is not None:
            return taken.last_id, taken.last_hash
        _restore_head(db)
    raise RuntimeError("the audit log's head row cannot be written")


def _restore_head(db) -> None:
    """The head row is gone (deleted by hand): made again from the last entry."""
    last = db.execute(
        select(orm.AuditEntry.id, orm.AuditEntry.hash).order_by(orm.AuditEntry.id.desc()).limit(1)
    ).first()
    values = {"id": 1, "last_id": 0, "last_hash": GENESIS}
    if last is not None:
        values.update(last_id=last.id, last_hash=last.hash)
    table = orm.AuditHead.__table__
    db.execute(
        dialect_insert(db, table).values(values).on_conflict_do_nothing(index_elements=[table.c.id])
    )


def grade_changed(db, change) -> None:
    """An entry for a changed best score (`grader.learners.grade_changes`):
    `grade.changed`, by the instructor who made it (a hand grade) or "grader"."""
    # the learner's name, the question's slug and course: one statement (each None if
    # gone)
    user, question_slug, course_id = db.execute(
        select(
            select(orm.User.name).where(orm.User.id == change.user_id).scalar_subquery(),
            select(orm.Question.slug)
            .where(orm.Question.id == change.question_id)
            .scalar_subquery(),
            select(orm.Module.course_id)
            .join(orm.Question, orm.Question.module_id == orm.Module.id)
            .where(orm.Question.id == change.question_id)
            .scalar_subquery(),
        )
    ).one()
    record(
        db,
        actor=change.actor or SYSTEM_ACTOR,
        action="grade.changed",
        course_id=course_id,
        target=f"user {user or change.user_id}",
        detail={
            "user": user,
            "question": change.question_id,
            "question_slug": question_slug,
            "old": change.old,
            "new": change.new,
            "max_score": change.max_score,
            "cause": change.cause,
            "submission": change.submission_id,
        },
    )
