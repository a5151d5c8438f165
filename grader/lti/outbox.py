"""The passback outbox's states (`lti_score_posts`): claimed by a sender, then sent,
retried later, or failed for good; failed ones sent again on an instructor's word.

Every change is one conditional UPDATE that re-checks the state it expects, so two API
replicas running senders never send one row at the same time (the second claim finds
the row no longer due), a sender whose claim expired (it crashed between its claim and
the platform's answer) loses it to the next, and a score replaced while it was being
sent is not marked sent (`version`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update

from .. import orm

P = orm.LTIScorePost
#: the last error's text, as much as is kept
ERROR_TEXT = 500


@dataclass(frozen=True)
class Claim:
    """A row claimed for sending, with what the sender needs (no session)."""

    id: int
    version: int
    context_id: int
    user_id: int
    lineitem_key: str
    label: str
    score_given: float | None
    score_maximum: float
    activity_progress: str
    timestamp: datetime
    attempts: int


def due_condition(now: datetime):
    """Rows a sender may claim: waiting and due, or claimed by a sender whose lease ran
    out (it crashed or hung between its claim and the platform's answer)."""
    return or_(
        and_(P.status == orm.LTI_PENDING, P.next_attempt <= now),
        and_(P.status == orm.LTI_SENDING, P.claimed_until < now),
    )


def claim_due(db, *, now: datetime, limit: int, lease: float) -> list[Claim]:
    """Claim up to ``limit`` due rows for ``lease`` seconds, oldest due first; commits."""
    ids = db.scalars(
        select(P.id).where(due_condition(now)).order_by(P.next_attempt, P.id).limit(limit)
    ).all()
    claims = []
    for row_id in ids:
        row = db.execute(
            update(P)
            .where(P.id == row_id, due_condition(now))
            .values(
                status=orm.LTI_SENDING,
                claimed_until=now + timedelta(seconds=lease),
                attempts=P.attempts + 1,
                updated=now,
            )
            .returning(
                P.id,
                P.version,
                P.context_id,
                P.user_id,
                P.lineitem_key,
                P.label,
                P.score_given,
                P.score_maximum,
                P.activity_progress,
                P.timestamp,
                P.attempts,
            )
        ).first()
        if row is not None:  # another sender took it between the two statements
            claims.append(Claim(**row._asdict()))
        db.commit()
    return claims


def _mine(claim: Claim):
    return and_(P.id == claim.id, P.version == claim.version, P.status == orm.LTI_SENDING)


def mark_sent(db, claim: Claim, now: datetime) -> bool:
    """The platform has the claimed score. False if a newer score replaced it meanwhile
    (that one is due at once: the send it waited for is over). Commits."""
    done = db.execute(
        update(P)
        .where(_mine(claim))
        .values(status=orm.LTI_SENT, sent=now, claimed_until=None, last_error=None, updated=now)
    ).rowcount
    if not done:
        db.execute(
            update(P)
            .where(P.id == claim.id, P.status == orm.LTI_PENDING, P.version > claim.version)
            .values(next_attempt=now)
        )
    db.commit()
    return bool(done)


def backoff(attempts: int, base: float, cap: float) -> float:
    """Seconds before the next try after ``attempts`` failed ones: doubling from
    ``base``, at most ``cap``, jittered (the upper half, at random) so the senders of
    many rows do not all come back at once."""
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    return delay / 2 + random.uniform(0, delay / 2)


def mark_retry(db, claim: Claim, error: str, now: datetime, delay: float) -> None:
    """The platform could not take it now: try again after ``delay`` seconds. Commits."""
    db.execute(
        update(P)
        .where(_mine(claim))
        .values(
            status=orm.LTI_PENDING,
            next_attempt=now + timedelta(seconds=delay),
            claimed_until=None,
            last_error=error[:ERROR_TEXT],
            updated=now,
        )
    )
    db.commit()


def mark_failed(db, claim: Claim, error: str, now: datetime) -> None:
    """The platform refused it, and trying again would not help: it waits for an
    instructor's retry (or a newer score). Commits."""
    db.execute(
        update(P)
        .where(_mine(claim))
        .values(
            status=orm.LTI_FAILED, claimed_until=None, last_error=error[:ERROR_TEXT], updated=now
        )
    )
    db.commit()


def retry_failed(db, context_ids, ids=None) -> int:
    """Failed rows of these contexts (or only ``ids`` among them) due again now; how
    many. In the caller's transaction."""
    now = orm.utcnow()
    where = [P.status == orm.LTI_FAILED, P.context_id.in_(list(context_ids))]
    if ids is not None:
        where.append(P.id.in_(list(ids)))
    return db.execute(
        update(P)
        .where(*where)
        .values(status=orm.LTI_PENDING, next_attempt=now, attempts=0, updated=now)
    ).rowcount


def counts(db, context_ids) -> dict[int, dict[str, int]]:
    """{context id: {status: rows}} (pending counts the ones being sent)."""
    result = {cid: {"pending": 0, "sent": 0, "failed": 0} for cid in context_ids}
    rows = db.execute(
        select(P.context_id, P.status, func.count())
        .where(P.context_id.in_(list(context_ids)))
        .group_by(P.context_id, P.status)
    ).all()
    for context_id, status, n in rows:
        name = orm.LTI_PENDING if status == orm.LTI_SENDING else status
        result[context_id][name] = result[context_id].get(name, 0) + n
    return result


def problems(db, context_ids, limit: int = 20) -> list[dict]:
    """The latest errors of these contexts: failed rows, and pending ones being retried."""
    rows = db.execute(
        select(P, orm.User.name)
        .join(orm.User, orm.User.id == P.user_id)
        .where(P.context_id.in_(list(context_ids)), P.last_error.is_not(None))
        .where(P.status.in_((orm.LTI_FAILED, orm.LTI_PENDING)))
        .order_by(P.updated.desc(), P.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "id": post.id,
            "context": post.context_id,
            "user": name,
            "lineitem": post.lineitem_key,
            "status": post.status,
            "attempts": post.attempts,
            "error": post.last_error,
            "next_attempt": orm.isoformat(post.next_attempt)
            if post.status == orm.LTI_PENDING
            else None,
            "updated": orm.isoformat(post.updated),
        }
        for post, name in rows
    ]
