"""The audit log's hash chain: each entry's sha256 covers the previous entry's hash and
its own canonical content, so changing, removing or inserting an entry anywhere breaks
every hash after it.

The chain makes tampering *detectable*, not impossible: someone who can write the
database and recompute every hash after their edit goes unnoticed by :func:`verify`
alone. What defeats that is a copy of a recent head hash kept outside the database: the
event stream's followers and exports have every entry's hash, and `verify` prints the
head (compare it with one noted earlier).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from sqlalchemy import select

from .. import orm

#: the hash "before" the first entry
GENESIS = "0" * 64

#: entries read per query while verifying (constant memory, any size of log)
VERIFY_BATCH = 1000


def canonical(entry) -> bytes:
    """An entry's content as the bytes its hash covers: its fields in a fixed order,
    JSON with sorted keys and no spaces (the detail as it reads back from the database)."""
    return json.dumps(
        [
            entry.id,
            orm.isoformat(entry.time),
            entry.actor,
            entry.actor_kind,
            entry.action,
            entry.course_id,
            entry.target,
            entry.detail,
            entry.address,
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    ).encode()


def entry_hash(previous: str, entry) -> str:
    return hashlib.sha256(previous.encode() + b"\n" + canonical(entry)).hexdigest()


@dataclass
class Verification:
    """What :func:`verify` found: `ok`, how many entries, the head, and each problem
    (an entry's id and what is wrong with it, the first few)."""

    entries: int = 0
    head_id: int = 0
    head_hash: str = GENESIS
    problems: list[dict] = field(default_factory=list)

    MAX_PROBLEMS = 100

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, entry_id, message: str) -> None:
        if len(self.problems) < self.MAX_PROBLEMS:
            self.problems.append({"id": entry_id, "problem": message})

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head": {"id": self.head_id, "hash": self.head_hash},
            "problems": self.problems,
        }


def verify(session_factory) -> Verification:
    """Walk the whole log in id order, a batch per short transaction: every id follows
    the one before, every hash is recomputed, and the head row names the last entry
    (a log cut short at its end is found there)."""
    found = Verification()
    previous, last_id = GENESIS, 0
    while True:
        with session_factory() as db:
            batch = db.scalars(
                select(orm.AuditEntry)
                .where(orm.AuditEntry.id > last_id)
                .order_by(orm.AuditEntry.id)
                .limit(VERIFY_BATCH)
            ).all()
        for entry in batch:
            found.entries += 1
            if entry.id != last_id + 1:
                found.problem(entry.id, f"entries {last_id + 1} to {entry.id - 1} are missing")
            expected = entry_hash(previous, entry)
            if entry.hash != expected:
                found.problem(
                    entry.id,
                    "its hash does not match its content and the entry before: "
                    "changed, or an entry before it was",
                )
            # the chain goes on from the stored hash: one edit is one problem, not all
            previous, last_id = entry.hash, entry.id
        if len(batch) < VERIFY_BATCH:
            break
    with session_factory() as db:
        head = db.get(orm.AuditHead, 1)
    found.head_id, found.head_hash = last_id, previous
    if head is None:
        found.problem(None, "the head row (audit_head) is missing")
    elif (head.last_id, head.last_hash) != (last_id, previous):
        found.problem(
            head.last_id,
            f"the head names entry {head.last_id}, the log ends at {last_id}: "
            "entries at its end were removed (or the head was changed)",
        )
    return found
