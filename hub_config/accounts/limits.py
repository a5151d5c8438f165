"""Lockout after failed sign-ins, and rate limits per client address.

Both count rows of :class:`~.models.Attempt` in a sliding window, in the Hub's
database: limits hold across restarts and across Hub replicas. The lockout is keyed on
the name typed, whether or not an account has it, so that it never tells which names
exist.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass

from sqlalchemy import delete, func, select

from .models import Attempt, utcnow

#: the kind of a failed sign-in's attempt (its key: the name typed)
LOGIN_FAILURE = "login-failure"
#: attempts older than this are deleted (longer than any window)
KEEP = datetime.timedelta(days=1)


class Limited(Exception):
    """Refused for now; ``retry_after`` seconds until it may be tried again."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = max(1, retry_after)


@dataclass(frozen=True)
class Limit:
    """At most `count` events of a kind per key in `seconds`."""

    count: int
    seconds: int


def seconds_until(moment: datetime.datetime, now: datetime.datetime) -> int:
    return math.ceil((moment - now).total_seconds())


def in_words(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"


def count(db, kind: str, key: str, since: datetime.datetime) -> tuple[int, datetime.datetime]:
    """How many `kind` events for `key` since `since`, and the oldest one's time."""
    number, oldest = db.execute(
        select(func.count(), func.min(Attempt.at)).where(
            Attempt.kind == kind, Attempt.key == key, Attempt.at > since
        )
    ).one()
    return number, oldest


def record(db, kind: str, key: str, now: datetime.datetime | None = None) -> None:
    db.add(Attempt(kind=kind, key=key, at=now or utcnow()))


def take(db, kind: str, key: str, limit: Limit, what: str) -> None:
    """Count one `kind` event for `key`, or raise :class:`Limited` if the window is
    full (then nothing is counted: waiting is enough to be let through again)."""
    now = utcnow()
    number, oldest = count(db, kind, key, now - datetime.timedelta(seconds=limit.seconds))
    if number >= limit.count:
        wait = seconds_until(oldest + datetime.timedelta(seconds=limit.seconds), now)
        raise Limited(f"Too many {what} from your address. Try again in {in_words(wait)}.", wait)
    record(db, kind, key, now)
    forget_old(db)


def forget_failures(db, name: str) -> None:
    """A sign-in under `name` succeeded, or its password was set: the count starts over."""
    db.execute(delete(Attempt).where(Attempt.kind == LOGIN_FAILURE, Attempt.key == name))


def lockout_delay(failures: int, free_failures: int, first_delay: int, longest: int) -> int:
    """Seconds a name stays locked after `failures` failed sign-ins in a row: none for
    the first `free_failures`, then `first_delay` doubling with each failure."""
    if failures < free_failures:
        return 0
    return min(longest, first_delay * 2 ** (failures - free_failures))


def forget_old(db) -> None:
    db.execute(delete(Attempt).where(Attempt.at < utcnow() - KEEP))
