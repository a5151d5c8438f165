"""Accounts of CoursehubAuthenticator: a table of usernames and bcrypt password hashes.

The table ``coursehub_accounts`` lives in the Hub's own database (same ``db_url``), so
a Hub backed by PostgreSQL keeps its accounts there too and one backup holds both.
JupyterHub's migrations ignore tables they do not know.

Everything here is blocking (SQL, bcrypt): the authenticator calls it in a thread.
"""

from __future__ import annotations

import datetime
import secrets

import bcrypt
from sqlalchemy import Boolean, DateTime, Integer, LargeBinary, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    """Our own metadata, so that ``create_all`` never touches JupyterHub's tables."""


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class Account(Base):
    """One person who signed up (or was bootstrapped, like the first admin).

    ``approved`` mirrors whether the Hub lets the account in (allow-list, admin panel);
    it is kept for display and for later features, the Hub's allow-list decides.
    """

    __tablename__ = "coursehub_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    password_hash: Mapped[bytes] = mapped_column(LargeBinary(128))
    email: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created: Mapped[datetime.datetime] = mapped_column(DateTime, default=_utcnow)
    approved: Mapped[bool] = mapped_column(Boolean, default=False)

    def __repr__(self):
        return f"<Account {self.username} approved={self.approved}>"


class UsernameTaken(ValueError):
    """Sign-up with a name that already has an account."""


def hash_password(password: str, rounds: int = 12) -> bytes:
    """bcrypt hash of a password (slow on purpose: call it in a thread)."""
    return bcrypt.hashpw(password.encode("utf8"), bcrypt.gensalt(rounds))


# compared against when the username is unknown, so that a wrong name takes as long
# to refuse as a wrong password and does not reveal which names exist
_DUMMY_HASH = hash_password(secrets.token_hex(8), rounds=4)


class AccountStore:
    """Blocking access to ``coursehub_accounts``; one short session per call."""

    def __init__(self, db_url: str, bcrypt_rounds: int = 12):
        connect_args = {"timeout": 30} if db_url.startswith("sqlite") else {}
        self.engine = create_engine(db_url, connect_args=connect_args)
        self.bcrypt_rounds = bcrypt_rounds
        Base.metadata.create_all(self.engine)

    def find(self, username: str) -> Account | None:
        with Session(self.engine, expire_on_commit=False) as db:
            return db.scalar(select(Account).where(Account.username == username))

    def create(
        self, username: str, password: str, email: str | None = None, approved: bool = False
    ) -> Account:
        """A new account; :class:`UsernameTaken` if the name has one already."""
        password_hash = hash_password(password, self.bcrypt_rounds)
        with Session(self.engine, expire_on_commit=False) as db:
            if db.scalar(select(Account.id).where(Account.username == username)) is not None:
                raise UsernameTaken(username)
            account = Account(
                username=username, password_hash=password_hash, email=email, approved=approved
            )
            db.add(account)
            db.commit()
            return account

    def verify(self, username: str, password: str) -> Account | None:
        """The account if ``password`` is its password, else None."""
        account = self.find(username)
        stored = account.password_hash if account is not None else _DUMMY_HASH
        ok = bcrypt.checkpw(password.encode("utf8"), stored)
        return account if ok and account is not None else None

    def set_password(self, username: str, password: str) -> None:
        password_hash = hash_password(password, self.bcrypt_rounds)
        with Session(self.engine) as db:
            account = db.scalar(select(Account).where(Account.username == username))
            if account is not None:
                account.password_hash = password_hash
                db.commit()

    def set_approved(self, username: str, approved: bool) -> None:
        """Record the Hub's decision on an account (no-op for a name without one)."""
        with Session(self.engine) as db:
            account = db.scalar(select(Account).where(Account.username == username))
            if account is not None and account.approved != approved:
                account.approved = approved
                db.commit()
