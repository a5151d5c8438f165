"""What LTI launches keep in the Hub's database: the nonces used, and the check that a
name is no password account's. Blocking: the authenticator calls it in a thread.

jupyterhub-ltiauthenticator compares the token's nonce with one derived from a cookie
set at the login initiation, and clears that cookie in its answer; but whoever captured
the callback's POST (its id_token) and the cookies can post it again, and the library
signs them in again. Here each nonce is recorded when a launch signs in, in the
accounts' schema (hub_config.accounts.models.LTINonce), and a second use is refused.
"""

from __future__ import annotations

import datetime
import hashlib

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from ..accounts import schema
from ..accounts.models import LTINonce
from ..accounts.store import AccountStore


def nonce_digest(issuer: str, client_id: str, nonce: str) -> str:
    return hashlib.sha256(f"{issuer}\0{client_id}\0{nonce}".encode()).hexdigest()


def utc(timestamp: float) -> datetime.datetime:
    """A POSIX time as the naive UTC datetime the accounts' tables hold."""
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).replace(tzinfo=None)


class LaunchStore:
    """The accounts' database, for launches."""

    def __init__(self, db_url: str):
        self.engine = schema.connect(db_url)
        self.accounts = AccountStore(self.engine)

    def use_nonce(self, digest: str, keep_until: float, now: float) -> bool:
        """Record a nonce as used until `keep_until` (POSIX time); False if it already
        was. Nonces past their time are deleted on the way (the index on `expires`)."""
        with self.engine.begin() as connection:
            connection.execute(delete(LTINonce).where(LTINonce.expires < utc(now)))
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    LTINonce.__table__.insert().values(digest=digest, expires=utc(keep_until))
                )
        except IntegrityError:
            # the unique digest: another launch (perhaps on another replica, at the
            # same instant) used it first
            return False
        return True

    def is_password_account(self, name: str) -> bool:
        """Whether a password account (CoursehubAuthenticator) has this name."""
        return self.accounts.find(name) is not None
