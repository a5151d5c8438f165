"""The accounts' tables, in the Hub's own database (same ``db_url``).

A Hub backed by PostgreSQL keeps its accounts there too, and one backup holds both.
JupyterHub's migrations ignore tables they do not know; ours are under Alembic of their
own (:mod:`hub_config.accounts.schema`), with a version table of their own.

Nothing secret is stored in clear: passwords and one-time codes as bcrypt hashes, reset
tokens as SHA-256 digests (they are 256 random bits: a slow hash adds nothing), and of
the codes issued lately only keyed digests, to never issue one twice.
"""

from __future__ import annotations

import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Our own metadata, so that nothing here ever touches JupyterHub's tables."""


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class Account(Base):
    """One person who signed up (or was bootstrapped, like the first admin).

    Signing in needs the password, a verified email address (``email_verified``; set
    from the start for accounts an admin made) and approval: ``approved`` is set by an
    admin (approving on the accounts page, or adding the name in the Hub's admin panel),
    by configuration (``preapproved_users``, ``admin_users``) or by a verified address in
    one of ``allowed_email_domains``. ``rejected`` accounts cannot sign in.
    """

    __tablename__ = "coursehub_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    password_hash: Mapped[bytes] = mapped_column(LargeBinary(128))
    #: lower-cased; one account per address
    email: Mapped[str | None] = mapped_column(String(255), nullable=True, unique=True)
    created: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
    approved: Mapped[bool] = mapped_column(Boolean, default=False)
    rejected: Mapped[bool] = mapped_column(Boolean, default=False)
    email_verified: Mapped[datetime.datetime | None] = mapped_column(DateTime, nullable=True)
    password_changed: Mapped[datetime.datetime | None] = mapped_column(DateTime, nullable=True)

    @property
    def status(self) -> str:
        """What stands between this account and signing in: one word."""
        if self.rejected:
            return "rejected"
        if self.email_verified is None:
            return "unverified"
        if not self.approved:
            return "pending"
        return "active"

    def __repr__(self):
        return f"<Account {self.username} {self.status}>"


class EmailCode(Base):
    """A one-time code mailed to verify an address: valid `code_lifetime`, a few tries."""

    __tablename__ = "coursehub_email_codes"
    __table_args__ = (Index("ix_coursehub_email_codes_email_created", "email", "created"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("coursehub_accounts.id", ondelete="CASCADE"), index=True
    )
    #: the address it was sent to (the hourly limit counts per address)
    email: Mapped[str] = mapped_column(String(255))
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(128))
    created: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
    expires: Mapped[datetime.datetime] = mapped_column(DateTime)
    wrong_tries: Mapped[int] = mapped_column(Integer, default=0)
    #: used, or replaced by a newer code
    spent: Mapped[bool] = mapped_column(Boolean, default=False)


class IssuedCode(Base):
    """Keyed digests (HMAC) of the codes issued lately: a new code is never one of them.
    Only the newest `remembered_codes` are kept."""

    __tablename__ = "coursehub_issued_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)


class ResetToken(Base):
    """A password-reset link's token: single use, `reset_lifetime`, and a newer one for
    the same account replaces it."""

    __tablename__ = "coursehub_reset_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("coursehub_accounts.id", ondelete="CASCADE"), index=True
    )
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
    expires: Mapped[datetime.datetime] = mapped_column(DateTime)
    spent: Mapped[bool] = mapped_column(Boolean, default=False)


class Attempt(Base):
    """One counted event for rate limits and lockout: a failed sign-in for a name, or a
    request of some kind from an address. In the database, so that limits hold across
    restarts and Hub replicas; rows older than the longest window are deleted."""

    __tablename__ = "coursehub_attempts"
    __table_args__ = (
        Index("ix_coursehub_attempts_kind_key_at", "kind", "key", "at"),
        # old rows are deleted by time alone
        Index("ix_coursehub_attempts_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)


class LTINonce(Base):
    """The nonce of an LTI 1.3 launch already signed in with (hub_config.lti): a second
    use is a replayed launch and refused. Kept until the launch's id_token expires (it
    is refused anyway after), then deleted. In the database, so that it holds across
    restarts and Hub replicas; a SHA-256 digest of the issuer and the nonce."""

    __tablename__ = "coursehub_lti_nonces"
    __table_args__ = (Index("ix_coursehub_lti_nonces_expires", "expires"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    expires: Mapped[datetime.datetime] = mapped_column(DateTime)
