"""One-time codes mailed to verify an address.

Six characters of upper-case letters and digits without look-alikes (no 0/O, 1/I/L):
31^6, about 887 million codes. A code is never one of the last `remember` issued: keyed
digests (HMAC) of recent codes are kept, never the codes, so a database dump tells
little of them (the key is derived from the Hub's cookie secret, not in the database). The code itself is stored only as a bcrypt hash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from .models import IssuedCode

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LENGTH = 6
TRIM_EVERY = 1000


def normalize(code: str) -> str:
    """What a person typed, as a code: case and spaces do not matter."""
    return "".join(code.split()).upper()


def digest(key: bytes, code: str) -> str:
    return hmac.new(key, code.encode("ascii"), hashlib.sha256).hexdigest()


def new_code(db, key: bytes, remember: int) -> str:
    """A fresh code, recorded among the recent ones (in the caller's transaction).

    Recording it is one insert that does nothing on a digest already there (a repeat,
    or the same code drawn by another Hub at that moment): then draw again.
    """
    table = IssuedCode.__table__
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        recorded = db.execute(
            insert(table)
            .values(digest=digest(key, code))
            .on_conflict_do_nothing(index_elements=[table.c.digest])
            .returning(table.c.id)
        ).scalar()
        if recorded is not None:
            break
    # trimmed now and then, so up to TRIM_EVERY more than `remember` may be kept
    if recorded % TRIM_EVERY == 0:
        # by count, not by id: ids have gaps where a draw was a repeat
        oldest_kept = select(IssuedCode.id).order_by(IssuedCode.id.desc()).offset(remember - 1)
        cutoff = db.scalar(oldest_kept.limit(1))
        if cutoff is not None:
            db.execute(delete(IssuedCode).where(IssuedCode.id < cutoff))
    return code
