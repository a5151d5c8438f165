"""Reading the audit log: filters, pages (keyset on the id), entries as the API and the
exports write them."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from .. import orm

#: an export is read and sent this many entries at a time
EXPORT_PAGE = 1000

CSV_COLUMNS = (
    "id",
    "time",
    "actor",
    "actor_kind",
    "action",
    "course",
    "target",
    "detail",
    "address",
    "hash",
)


@dataclass(frozen=True)
class AuditFilter:
    """What a reader asked for, and what they may see: `course_ids` None is every
    entry (an admin), else only entries of those courses (an instructor)."""

    course_ids: tuple[int, ...] | None = None
    actor: str | None = None
    action: str | None = None  # exact, or a prefix ending in "." or ".*" ("grade.*")
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def where(self) -> list:
        e = orm.AuditEntry
        conditions = []
        if self.course_ids is not None:
            conditions.append(e.course_id.in_(self.course_ids))
        if self.actor:
            conditions.append(e.actor == self.actor)
        if self.action:
            prefix = self.action.removesuffix("*")
            if prefix.endswith("."):
                conditions.append(e.action.startswith(prefix, autoescape=True))
            else:
                conditions.append(e.action == self.action)
        if self.target:
            conditions.append(e.target == self.target)
        if self.since is not None:
            conditions.append(e.time >= self.since)
        if self.until is not None:
            conditions.append(e.time < self.until)
        return conditions

    def describe(self) -> dict:
        """The filter as recorded with an export."""
        return {
            "courses": None if self.course_ids is None else list(self.course_ids),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "since": orm.isoformat(self.since),
            "until": orm.isoformat(self.until),
        }


def page(
    db,
    where: AuditFilter,
    *,
    after_id: int | None = None,
    before_id: int | None = None,
    up_to: int | None = None,
    limit: int = 100,
) -> list[orm.AuditEntry]:
    """Entries matching ``where``: after ``after_id`` oldest first, or (``before_id``,
    newest first: the admin page) before it; a range of the primary key either way."""
    e = orm.AuditEntry
    query = select(e).where(*where.where()).limit(limit)
    if up_to is not None:
        query = query.where(e.id <= up_to)
    if before_id is not None:
        query = query.where(e.id < before_id).order_by(e.id.desc())
    else:
        query = query.where(e.id > (after_id or 0)).order_by(e.id)
    return list(db.scalars(query))


def newest_id(db) -> int:
    """The last entry's id (0: none), from the head row."""
    head = db.get(orm.AuditHead, 1)
    return head.last_id if head is not None else 0


def course_slugs(db, entries) -> dict[int, str]:
    ids = {e.course_id for e in entries if e.course_id is not None}
    if not ids:
        return {}
    return dict(
        db.execute(select(orm.Course.id, orm.Course.slug).where(orm.Course.id.in_(ids))).all()
    )


def entry_model(entry: orm.AuditEntry, slugs: dict[int, str]) -> dict:
    return {
        "id": entry.id,
        "time": orm.isoformat(entry.time),
        "actor": entry.actor,
        "actor_kind": entry.actor_kind,
        "action": entry.action,
        "course_id": entry.course_id,
        "course": slugs.get(entry.course_id),
        "target": entry.target,
        "detail": entry.detail,
        "address": entry.address,
        "hash": entry.hash,
    }


def models(db, entries) -> list[dict]:
    slugs = course_slugs(db, entries)
    return [entry_model(e, slugs) for e in entries]


def csv_header() -> str:
    out = io.StringIO()
    csv.writer(out).writerow(CSV_COLUMNS)
    return out.getvalue()


def csv_rows(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow(
            [
                _csv_safe(json.dumps(row[c], sort_keys=True) if c == "detail" else row[c])
                for c in CSV_COLUMNS
            ]
        )
    return out.getvalue()


def _csv_safe(value):
    """A cell a spreadsheet will not run as a formula (a user-chosen target or name
    starting with =, +, - or @)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def jsonl_rows(rows: list[dict]) -> str:
    return "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows)


def event_text(row: dict) -> str:
    """One server-sent event: its id (for Last-Event-ID), `audit`, the entry."""
    return f"id: {row['id']}\nevent: audit\ndata: {json.dumps(row, sort_keys=True)}\n\n"
