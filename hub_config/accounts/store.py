"""Every operation on accounts, blocking (SQL, bcrypt): the authenticator calls them in
a thread. Each is one short transaction, so a refused step never leaves half a record.

Secrets handed back to the caller (a new code, a reset token) are for the mail only:
nothing here logs them, and only their hashes are stored.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from . import codes, limits
from .models import Account, EmailCode, ResetToken, utcnow
from .passwords import check_password, dummy_hash, hash_password


@dataclass(frozen=True)
class Rules:
    """The authenticator's settings that the store applies."""

    bcrypt_rounds: int = 12
    code_key: bytes = b""
    code_lifetime: int = 300
    code_tries: int = 5
    codes_per_hour: int = 3
    remembered_codes: int = 20_000
    reset_lifetime: int = 1800
    resets_per_hour: int = 3
    lockout_after: int = 5
    lockout_first_delay: int = 30
    lockout_longest: int = 3600


class UsernameTaken(ValueError):
    """Sign-up with a name that already has an account."""


class EmailTaken(ValueError):
    """Sign-up with an address that already has an account (``.username`` is its name)."""

    def __init__(self, username: str):
        super().__init__(username)
        self.username = username


class CodeRefused(ValueError):
    """A code that does not verify; ``str(e)`` says why and what to do."""


class ResetRefused(ValueError):
    """A reset link that cannot be used (any more); ``str(e)`` says why."""


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf8")).hexdigest()


class AccountStore:
    """Blocking access to the accounts' tables."""

    def __init__(self, engine, rules: Rules | None = None):
        self.engine = engine
        self.rules = rules or Rules()

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # -- reading -------------------------------------------------------------------

    def find(self, username: str) -> Account | None:
        with self.session() as db:
            return db.scalar(select(Account).where(Account.username == username))

    def find_by_email(self, email: str) -> Account | None:
        with self.session() as db:
            return db.scalar(select(Account).where(Account.email == email.lower()))

    def waiting(self) -> list[Account]:
        """Accounts not active yet and not rejected, oldest first: the admins' list."""
        with self.session() as db:
            query = select(Account).where(
                Account.rejected.is_(False),
                (Account.email_verified.is_(None)) | (Account.approved.is_(False)),
            )
            return list(db.scalars(query.order_by(Account.created)))

    # -- creating ------------------------------------------------------------------

    def create(
        self,
        username: str,
        password: str,
        email: str | None = None,
        approved: bool = False,
        verified: bool = False,
    ) -> Account:
        """A new account; :class:`UsernameTaken` / :class:`EmailTaken` if the name or
        the address has one already. `password` must have passed the policy."""
        password_hash = hash_password(password, self.rules.bcrypt_rounds)
        email = email.lower() if email else None
        with self.session() as db:
            if db.scalar(select(Account.id).where(Account.username == username)) is not None:
                raise UsernameTaken(username)
            if email:
                owner = db.scalar(select(Account.username).where(Account.email == email))
                if owner is not None:
                    raise EmailTaken(owner)
            account = Account(
                username=username,
                password_hash=password_hash,
                email=email,
                approved=approved,
                email_verified=utcnow() if verified else None,
            )
            db.add(account)
            db.commit()
            return account

    # -- signing in ----------------------------------------------------------------

    def check_lockout(self, name: str) -> None:
        """Raise :class:`~.limits.Limited` while `name` is locked after failed sign-ins
        (whether or not it has an account)."""
        rules = self.rules
        with self.session() as db:
            failures, last = db.execute(
                select(func.count(), func.max(limits.Attempt.at)).where(
                    limits.Attempt.kind == limits.LOGIN_FAILURE,
                    limits.Attempt.key == name,
                    limits.Attempt.at > utcnow() - limits.KEEP,
                )
            ).one()
        if failures < rules.lockout_after:
            return
        delay = limits.lockout_delay(
            failures, rules.lockout_after, rules.lockout_first_delay, rules.lockout_longest
        )
        wait = limits.seconds_until(last + datetime.timedelta(seconds=delay), utcnow())
        if wait > 0:
            raise limits.Limited(
                f"Too many failed sign-ins for this name. Try again in {limits.in_words(wait)}.",
                wait,
            )

    def verify(self, username: str, password: str) -> Account | None:
        """The account if `password` is its password, else None. A name without an
        account costs the same bcrypt check. Failures count towards the lockout."""
        account = self.find(username)
        stored = account.password_hash if account else dummy_hash(self.rules.bcrypt_rounds)
        ok = check_password(password, stored) and account is not None
        with self.session() as db:
            if ok:
                limits.forget_failures(db, username)
            else:
                limits.record(db, limits.LOGIN_FAILURE, username)
                limits.forget_old(db)
            db.commit()
        return account if ok else None

    # -- passwords -----------------------------------------------------------------

    def set_password(self, username: str, password: str) -> None:
        """Set a password that passed the policy; failed sign-ins are forgotten."""
        password_hash = hash_password(password, self.rules.bcrypt_rounds)
        with self.session() as db:
            db.execute(
                update(Account)
                .where(Account.username == username)
                .values(password_hash=password_hash, password_changed=utcnow())
            )
            limits.forget_failures(db, username)
            db.commit()

    # -- approval ------------------------------------------------------------------

    def set_approved(self, username: str, approved: bool) -> None:
        """Record the Hub's decision on an account (no-op for a name without one)."""
        with self.session() as db:
            values = {"approved": approved}
            if approved:
                values["rejected"] = False
            db.execute(update(Account).where(Account.username == username).values(**values))
            db.commit()

    def reject(self, username: str) -> None:
        with self.session() as db:
            db.execute(
                update(Account)
                .where(Account.username == username)
                .values(rejected=True, approved=False)
            )
            db.commit()

    # -- email codes ---------------------------------------------------------------

    def issue_code(self, username: str) -> tuple[Account, str]:
        """A new code for the account's address (older ones stop working): the account
        and the code, to be mailed. :class:`~.limits.Limited` past the hourly limit."""
        rules = self.rules
        with self.session() as db:
            account = db.scalar(
                select(Account).where(Account.username == username).with_for_update()
            )
            if account is None or not account.email:
                raise CodeRefused("This account has no email address to verify.")
            now = utcnow()
            hour_ago = now - datetime.timedelta(hours=1)
            sent, oldest = db.execute(
                select(func.count(), func.min(EmailCode.created)).where(
                    EmailCode.email == account.email, EmailCode.created > hour_ago
                )
            ).one()
            if sent >= rules.codes_per_hour:
                wait = limits.seconds_until(oldest + datetime.timedelta(hours=1), now)
                raise limits.Limited(
                    f"{rules.codes_per_hour} codes were sent to this address in the last "
                    f"hour. The next one can be sent in {limits.in_words(wait)}.",
                    wait,
                )
            db.execute(
                update(EmailCode)
                .where(EmailCode.account_id == account.id, EmailCode.spent.is_(False))
                .values(spent=True)
            )
            code = codes.new_code(db, rules.code_key, rules.remembered_codes)
            db.add(
                EmailCode(
                    account_id=account.id,
                    email=account.email,
                    code_hash=hash_password(code, rules.bcrypt_rounds),
                    created=now,
                    expires=now + datetime.timedelta(seconds=rules.code_lifetime),
                )
            )
            db.commit()
            return account, code

    def verify_code(self, username: str, typed: str) -> Account:
        """Mark the account's address verified if `typed` is its current code; else
        :class:`CodeRefused` saying why (wrong: tries left; expired; too many tries)."""
        rules = self.rules
        with self.session() as db:
            account = db.scalar(
                select(Account).where(Account.username == username).with_for_update()
            )
            current = None
            if account is not None:
                current = db.scalar(
                    select(EmailCode)
                    .where(EmailCode.account_id == account.id, EmailCode.spent.is_(False))
                    .order_by(EmailCode.id.desc())
                    .limit(1)
                )
            if current is None:
                # the same bcrypt work as a real check
                check_password(codes.normalize(typed), dummy_hash(rules.bcrypt_rounds))
                raise CodeRefused("There is no code waiting for this account: ask for a new one.")
            if current.expires <= utcnow():
                raise CodeRefused("This code has expired: ask for a new one.")
            if current.wrong_tries >= rules.code_tries:
                raise CodeRefused("Too many wrong tries for this code: ask for a new one.")
            if not check_password(codes.normalize(typed), current.code_hash):
                current.wrong_tries += 1
                left = rules.code_tries - current.wrong_tries
                db.commit()
                if left <= 0:
                    raise CodeRefused("Wrong code, and that was the last try: ask for a new one.")
                raise CodeRefused(
                    f"Wrong code: {left} {'try' if left == 1 else 'tries'} left for this code."
                )
            current.spent = True
            account.email_verified = utcnow()
            db.commit()
            return account

    # -- password reset ------------------------------------------------------------

    def issue_reset(self, account_id: int) -> str | None:
        """A reset token for the account (older ones stop working), or None past the
        hourly limit of reset mails (the person asking is told the same either way)."""
        rules = self.rules
        now = utcnow()
        with self.session() as db:
            db.scalar(select(Account.id).where(Account.id == account_id).with_for_update())
            sent = db.scalar(
                select(func.count()).where(
                    ResetToken.account_id == account_id,
                    ResetToken.created > now - datetime.timedelta(hours=1),
                )
            )
            if sent >= rules.resets_per_hour:
                return None
            db.execute(
                update(ResetToken)
                .where(ResetToken.account_id == account_id, ResetToken.spent.is_(False))
                .values(spent=True)
            )
            token = secrets.token_urlsafe(32)
            db.add(
                ResetToken(
                    account_id=account_id,
                    token_digest=token_digest(token),
                    created=now,
                    expires=now + datetime.timedelta(seconds=rules.reset_lifetime),
                )
            )
            db.commit()
            return token

    def reset_account(self, token: str) -> Account:
        """The account a usable reset token is for; :class:`ResetRefused` otherwise."""
        with self.session() as db:
            row = db.scalar(
                select(ResetToken).where(ResetToken.token_digest == token_digest(token))
            )
            if row is None or row.spent:
                raise ResetRefused(
                    "This reset link is not valid any more (it was used, or a newer one "
                    "was sent). Ask for a new one."
                )
            if row.expires <= utcnow():
                raise ResetRefused("This reset link has expired. Ask for a new one.")
            return db.get(Account, row.account_id)

    def reset_password(self, token: str, password: str) -> Account:
        """Set the password of the token's account and spend every reset token of it;
        :class:`ResetRefused` if the token cannot be used. `password` passed the policy."""
        password_hash = hash_password(password, self.rules.bcrypt_rounds)
        with self.session() as db:
            row = db.scalar(
                select(ResetToken)
                .where(ResetToken.token_digest == token_digest(token))
                .with_for_update()
            )
            if row is None or row.spent or row.expires <= utcnow():
                raise ResetRefused("This reset link is not valid any more. Ask for a new one.")
            account = db.get(Account, row.account_id)
            account.password_hash = password_hash
            account.password_changed = utcnow()
            if account.email_verified is None:
                # the link reached the address: that verifies it
                account.email_verified = utcnow()
            db.execute(
                update(ResetToken).where(ResetToken.account_id == account.id).values(spent=True)
            )
            limits.forget_failures(db, account.username)
            db.commit()
            return account

    # -- rate limits ---------------------------------------------------------------

    def take(self, kind: str, key: str, limit: limits.Limit, what: str) -> None:
        """Count one request of `kind` from `key`, or raise :class:`~.limits.Limited`."""
        with self.session() as db:
            limits.take(db, kind, key, limit, what)
            db.commit()
