"""CoursehubAuthenticator: accounts with verified email addresses, approval, password
reset, lockout and rate limits, all inside the Hub.

How an account comes to life:

1. Someone signs up at ``/hub/signup`` with a name, an email address and a password
   that meets the policy (:mod:`hub_config.accounts.passwords`). A one-time code is
   mailed to the address (:mod:`hub_config.accounts.codes`); they type it at
   ``/hub/verify``.
2. A verified address in ``allowed_email_domains`` makes the account active at once
   (unless ``require_approval``); otherwise an admin approves it, on the accounts page
   (``/hub/accounts``, linked from the Hub's navigation bar for admins) or by adding
   the name in the Hub's admin panel. Names in ``allowed_users``,
   ``preapproved_users`` and ``admin_users`` are approved from the start.
3. The first admin (``bootstrap_admin``) gets an account at the Hub's first start, with
   ``bootstrap_admin_password`` or a generated password written to
   ``admin_password_file`` and printed once on the Hub's console.

Signing in is refused, with a message, while the address is unverified or the account
waits for approval: only after the right password, so the message tells nothing to
anyone else. Failed sign-ins lock the name typed (account or not) for a growing delay;
each client address has limits on sign-ins, sign-ups, code checks and reset requests.
The pages are in :mod:`hub_config.accounts.pages` and :mod:`hub_config.accounts.admin`.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import sys
import threading
from functools import partial
from pathlib import Path

from email_validator import EmailNotValidError, validate_email
from jupyterhub.auth import Authenticator
from tornado import web
from traitlets import Bool, Dict, Integer, List, Set, Unicode, default

from .accounts import schema
from .accounts.limits import Limit, Limited
from .accounts.mail import Mailer, MailError
from .accounts.passwords import PasswordRefused, check_policy
from .accounts.store import (
    AccountStore,
    CodeRefused,
    EmailTaken,
    ResetRefused,
    Rules,
    UsernameTaken,
)
from .courses import CourseRolesMixin
from .settings import Settings

TEMPLATES_DIR = Path(__file__).parent / "templates"

# Learners' names become system account names ("ch-<name>") in development mode,
# and those have at most 32 characters: 3 for the prefix leaves 29.
USERNAME_RE = re.compile(r"[a-z][a-z0-9_-]{0,28}")
USERNAME_RULE = (
    "A username starts with a letter and has at most 29 characters: "
    "lower-case letters, digits, '-' and '_'."
)
PENDING_MESSAGE = (
    "Your account is waiting for approval by an administrator. "
    "You can sign in once it has been approved."
)
UNVERIFIED_MESSAGE = (
    "Your email address is not verified yet: enter the code we mailed you on the "
    "verification page (you can ask for a new code there)."
)
REJECTED_MESSAGE = "This account was not approved by the administrators."


class SignupError(ValueError):
    """A refused step of sign-up, verification or reset; ``str(e)`` is shown to the
    person, ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class LoginRefused(web.HTTPError):
    """A sign-in refused with a message for the login form (and Retry-After when
    waiting helps)."""

    def __init__(self, status: int, message: str, retry_after: int | None = None):
        super().__init__(status, message)
        self.message = message
        self.retry_after = retry_after


def limited(e: Limited) -> SignupError:
    return SignupError(str(e), status=429, retry_after=e.retry_after)


class CoursehubAuthenticator(CourseRolesMixin, Authenticator):
    """Username and password accounts with verified email, approval and resets."""

    db_url = Unicode(
        help="""SQLAlchemy URL of the database holding the accounts' tables.

        Defaults to the Hub's own `JupyterHub.db_url`. The tables are created at the
        first start; later schema changes need `coursehub-accounts upgrade-db`.
        """,
    ).tag(config=True)

    @default("db_url")
    def _db_url_default(self):
        parent_url = getattr(self.parent, "db_url", None)
        if parent_url:
            return parent_url
        return os.environ.get("COURSEHUB_HUB_DB_URL", "sqlite:///jupyterhub.sqlite")

    bcrypt_rounds = Integer(
        12, help="bcrypt cost factor (log2 of the rounds) for passwords and codes."
    ).tag(config=True)

    minimum_password_length = Integer(8, help="Shortest password accepted.").tag(config=True)

    minimum_password_strength = Integer(
        3,
        help="""Least zxcvbn score (0-4) a new password must reach: 3 is "safely
        unguessable" (about 10^10 guesses); 0 turns the check off.""",
    ).tag(config=True)

    enable_signup = Bool(True, help="Whether people can create accounts at /hub/signup.").tag(
        config=True
    )

    allowed_email_domains = Set(
        Unicode(),
        help="""Email domains whose verified addresses make an account active without
        an admin's approval (e.g. {"example.edu"}; subdomains count). Other addresses
        wait for approval. Empty: every new account waits.""",
    ).tag(config=True)

    require_approval = Bool(
        False,
        help="Whether every new account waits for an admin, even from an allowed domain.",
    ).tag(config=True)

    preapproved_users = Set(
        Unicode(),
        help="""Usernames approved as soon as their address is verified, with no admin
        action. Unlike `allowed_users`, these names are not created in the Hub until
        they sign up and sign in.""",
    ).tag(config=True)

    code_lifetime = Integer(300, help="Seconds an emailed code stays valid.").tag(config=True)
    code_tries = Integer(5, help="Wrong tries allowed per code.").tag(config=True)
    codes_per_hour = Integer(3, help="Codes mailed to one address per hour at most.").tag(
        config=True
    )
    remembered_codes = Integer(
        20_000, help="A new code is never one of this many issued last."
    ).tag(config=True)
    reset_lifetime = Integer(1800, help="Seconds a password-reset link stays valid.").tag(
        config=True
    )
    resets_per_hour = Integer(3, help="Reset mails per account per hour at most.").tag(config=True)
    lockout_after = Integer(
        5, help="Failed sign-ins in a row for one name before it is locked."
    ).tag(config=True)
    lockout_first_delay = Integer(
        30, help="Seconds of the first lock; each further failure doubles it."
    ).tag(config=True)
    lockout_longest = Integer(3600, help="Longest lock, in seconds.").tag(config=True)

    rate_limits = Dict(
        default_value={
            "login": [30, 300],
            "signup": [10, 3600],
            "verify": [30, 600],
            "reset": [10, 3600],
        },
        help="""Per client address: [requests, seconds] for each of "login", "signup",
        "verify" (code checks and resends) and "reset" (reset requests and reset
        forms). Past a limit the answer is 429 with Retry-After.""",
    ).tag(config=True)

    public_url = Unicode(
        help="""The Hub's address as people reach it, for links in mails. Links never
        take the address from a request's Host header, which a client chooses.""",
    ).tag(config=True)

    @default("public_url")
    def _public_url_default(self):
        return (getattr(self.parent, "public_url", "") or "http://127.0.0.1:8000").rstrip("/")

    smtp_host = Unicode(
        help="""SMTP server for the accounts' mail. Empty: mail is written to `maildir`
        (development), and the Hub's console says where.""",
    ).tag(config=True)
    smtp_port = Integer(0, help="SMTP port; 0: 25, 587 (starttls) or 465 (tls).").tag(config=True)
    smtp_security = Unicode("starttls", help='"starttls", "tls" or "none".').tag(config=True)
    smtp_user = Unicode(help="SMTP user name (empty: no login).").tag(config=True)
    smtp_password = Unicode(help="SMTP password; default $COURSEHUB_SMTP_PASSWORD.").tag(
        config=True
    )

    @default("smtp_password")
    def _smtp_password_default(self):
        return os.environ.get("COURSEHUB_SMTP_PASSWORD", "")

    smtp_validate_certs = Bool(True, help="Check the SMTP server's certificate.").tag(config=True)
    mail_from = Unicode(
        "coursehub <noreply@localhost>", help="The From address of the accounts' mail."
    ).tag(config=True)
    mail_template_paths = List(
        Unicode(),
        help="Folders searched before the built-in mail templates (to reword them).",
    ).tag(config=True)
    maildir = Unicode("mail", help="Where mail goes without `smtp_host` (a Maildir).").tag(
        config=True
    )

    bootstrap_admin = Unicode(
        help="""The first admin: an account is created for it at the Hub's first start.

        It should also be in `admin_users`. Empty: no account is bootstrapped.
        """,
    ).tag(config=True)

    @default("bootstrap_admin")
    def _bootstrap_admin_default(self):
        return os.environ.get("COURSEHUB_ADMIN_USER", "admin").strip().lower()

    bootstrap_admin_password = Unicode(
        None,
        allow_none=True,
        help="""Password of `bootstrap_admin` (set at every start when given).

        None: generate one at the first start, store its hash, write it to
        `admin_password_file` and print it once on the Hub's console.
        """,
    ).tag(config=True)

    @default("bootstrap_admin_password")
    def _bootstrap_admin_password_default(self):
        return os.environ.get("COURSEHUB_ADMIN_PASSWORD") or None

    admin_password_file = Unicode(
        "admin-password",
        help="Where a generated admin password is written (mode 0600), relative to the cwd.",
    ).tag(config=True)

    @default("allow_existing_users")
    def _allow_existing_users_default(self):
        # users that admins add in the admin panel are the approved ones
        return True

    _store = None
    _mailer = None
    _lock = threading.Lock()
    #: mails sent after the answer, kept referenced until sent
    _mail_tasks: set = set()

    @property
    def store(self) -> AccountStore:
        """The accounts' tables, connected (and their schema checked) on first use."""
        with self._lock:
            if self._store is None:
                self._store = AccountStore(schema.connect(self.db_url), self._rules())
        return self._store

    def check_schema(self) -> None:
        """Connect to the accounts' tables now: :class:`~.accounts.schema.SchemaMismatch`
        (the Hub stops) if they are at a revision this code does not handle."""
        _ = self.store

    def _rules(self) -> Rules:
        return Rules(
            bcrypt_rounds=self.bcrypt_rounds,
            code_key=self._code_key(),
            code_lifetime=self.code_lifetime,
            code_tries=self.code_tries,
            codes_per_hour=self.codes_per_hour,
            remembered_codes=self.remembered_codes,
            reset_lifetime=self.reset_lifetime,
            resets_per_hour=self.resets_per_hour,
            lockout_after=self.lockout_after,
            lockout_first_delay=self.lockout_first_delay,
            lockout_longest=self.lockout_longest,
        )

    def _code_key(self) -> bytes:
        """The key of the recent codes' digests: from the Hub's cookie secret, which
        every replica of a Hub shares (a random one outside a Hub)."""
        secret = getattr(self.parent, "cookie_secret", None) or secrets.token_bytes(32)
        return b"coursehub-codes:" + bytes(secret)

    @property
    def mailer(self) -> Mailer:
        with self._lock:
            if self._mailer is None:
                self._mailer = Mailer(
                    smtp_host=self.smtp_host,
                    smtp_port=self.smtp_port,
                    smtp_security=self.smtp_security,
                    smtp_user=self.smtp_user,
                    smtp_password=self.smtp_password,
                    smtp_validate_certs=self.smtp_validate_certs,
                    sender=self.mail_from,
                    maildir=Path(self.maildir).resolve(),
                    template_paths=list(self.mail_template_paths),
                    hub_name="coursehub",
                    log=self.log,
                )
        return self._mailer

    async def _in_thread(self, fn, *args, **kwargs):
        """Run a blocking call (SQL, bcrypt) off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, partial(fn, *args, **kwargs))

    async def _store_call(self, method: str, *args, **kwargs):
        """Call an :class:`AccountStore` method in a thread (creating the store there too)."""
        return await self._in_thread(lambda: getattr(self.store, method)(*args, **kwargs))

    def url(self, path: str) -> str:
        """An absolute link into the Hub for a mail."""
        return f"{self.public_url}/hub/{path}"

    # -- names ---------------------------------------------------------------------

    def normalize_username(self, username):
        return super().normalize_username(username.strip())

    def validate_username(self, username):
        return bool(USERNAME_RE.fullmatch(username)) and super().validate_username(username)

    def is_approved(self, username: str) -> bool:
        """Whether the configuration lets this name in (allow-list, admins)."""
        return (
            self.allow_all
            or username in self.allowed_users
            or username in self.admin_users
            or username in self.preapproved_users
        )

    def approved_on_verification(self, username: str, email: str) -> bool:
        """Whether verifying `email` is enough for this account to be active."""
        if self.is_approved(username):
            return True
        if self.require_approval:
            return False
        domain = email.rpartition("@")[2].lower()
        return any(
            domain == allowed or domain.endswith("." + allowed)
            for allowed in (d.lower().lstrip(".") for d in self.allowed_email_domains)
        )

    # -- rate limits ---------------------------------------------------------------

    async def take(self, kind: str, address: str, what: str) -> None:
        """Count one request of `kind` from a client address; :class:`Limited` past
        its limit."""
        count, seconds = self.rate_limits.get(kind, (0, 0))
        if count:
            await self._store_call("take", kind, address, Limit(count, seconds), what)

    async def take_from(self, address: str | None, kind: str, what: str) -> None:
        """:meth:`take` for a page's request from `address` (None: not a page's, no
        limit): :class:`SignupError` 429 past the limit."""
        if address is None:
            return
        try:
            await self.take(kind, address, what)
        except Limited as e:
            raise limited(e) from None

    # -- sign in -------------------------------------------------------------------

    async def authenticate(self, handler, data):
        """The user if the password is right, else None; refusals that waiting cures
        (lockout, limits) raise :class:`LoginRefused` with a message."""
        username = self.normalize_username(data.get("username", ""))
        password = data.get("password", "")
        try:
            if handler is not None:
                await self.take("login", handler.request.remote_ip, "sign-in attempts")
            await self._store_call("check_lockout", username)
        except Limited as e:
            raise LoginRefused(429, str(e), e.retry_after) from None
        if not password or not self.validate_username(username):
            return None
        account = await self._store_call("verify", username, password)
        if account is None:
            # the name only: never the password, and no word on whether it exists
            self.log.warning("Failed sign-in for %r", username)
            return None
        return {"name": username, "user_info": {"status": account.status}}

    def check_allowed(self, username, authentication=None):
        """Approved names pass; a right password on an account that is not active yet
        is told what it waits for."""
        status = ((authentication or {}).get("user_info") or {}).get("status")
        if status == "rejected":
            raise LoginRefused(403, REJECTED_MESSAGE)
        if status == "unverified":
            raise LoginRefused(403, UNVERIFIED_MESSAGE)
        if status == "active" or self.is_approved(username):
            return True
        if authentication is not None:
            # only reached after authenticate() accepted the password, so this
            # tells nothing to someone who does not know it
            raise LoginRefused(403, PENDING_MESSAGE)
        return False

    # -- Hub users come and go -----------------------------------------------------

    async def add_user(self, user):
        """A user entered the Hub's database (login, admin panel, API, Hub start)."""
        super().add_user(user)
        if user.name == self.bootstrap_admin:
            await self._in_thread(self._ensure_admin_account, user.name)
        await self._store_call("set_approved", user.name, True)

    async def delete_user(self, user):
        """Deleted in the admin panel: the account stays, waiting for approval again."""
        super().delete_user(user)
        await self._store_call("set_approved", user.name, False)

    def _ensure_admin_account(self, name: str) -> None:
        password = self.bootstrap_admin_password
        account = self.store.find(name)
        if password:
            if account is None:
                self.store.create(name, password, approved=True, verified=True)
            elif self.store.verify(name, password) is None:
                self.store.set_password(name, password)
            return
        if account is not None:
            return
        password = secrets.token_urlsafe(15)
        self.store.create(name, password, approved=True, verified=True)
        path = Path(self.admin_password_file).resolve()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password + "\n")
        os.chmod(path, 0o600)
        # on the console only, never through the logger: log files outlive consoles
        print(
            f"\ncoursehub: created the admin account {name!r} with the password\n\n"
            f"    {password}\n\n"
            f"It is also in {path} (readable by root only). This is shown once.\n",
            file=sys.stderr,
            flush=True,
        )
        self.log.info("Created admin account %r; its password is in %s", name, path)

    # -- sign up and verify --------------------------------------------------------

    def check_new_password(self, password: str, confirmation: str | None, *known: str) -> None:
        if confirmation is not None and confirmation != password:
            raise SignupError("The two passwords do not match.")
        try:
            check_policy(
                password, self.minimum_password_length, self.minimum_password_strength, known
            )
        except PasswordRefused as e:
            raise SignupError(str(e)) from None

    async def sign_up(
        self,
        username: str,
        password: str,
        password_confirmation: str | None = None,
        email: str | None = None,
        address: str | None = None,
    ) -> str:
        """Create an account and mail its code; the name. :class:`SignupError` says
        what is wrong. An address that has an account already gets a mail saying so,
        and the answer is the same as for a new one."""
        if not self.enable_signup:
            raise SignupError("Sign-up is disabled on this Hub.", status=403)
        await self.take_from(address, "signup", "sign-ups")
        name = self.normalize_username(username)
        if not self.validate_username(name):
            raise SignupError(f"{username.strip()!r} is not a valid username. {USERNAME_RULE}")
        if name in self.blocked_users:
            raise SignupError(f"The username {name!r} is not available.", status=409)
        email = self.valid_email(email)
        self.check_new_password(password, password_confirmation, name, email)
        try:
            await self._store_call("create", name, password, email=email)
        except UsernameTaken:
            raise SignupError(f"The username {name!r} is already taken.", status=409) from None
        except EmailTaken as e:
            self.log.info("Sign-up with an address that has an account: told its owner")
            self._mail_later(
                email,
                "already_registered",
                username=e.username,
                forgot_url=self.url("forgot"),
                login_url=self.url("login"),
            )
            return name
        self.log.info("New account %r: its email address is to be verified", name)
        await self.send_code(name)
        return name

    def valid_email(self, email: str | None) -> str:
        """The address, normalized, or :class:`SignupError`: checked for form only (no
        DNS: a course's Hub may not resolve the world, and a code proves the rest)."""
        if not email:
            raise SignupError("An email address is needed: the sign-up code is sent there.")
        try:
            return validate_email(email, check_deliverability=False).normalized.lower()
        except EmailNotValidError as e:
            raise SignupError(f"{email!r} is not an email address: {e}") from None

    async def send_code(self, name: str) -> None:
        """Mail a new code to the account's address; :class:`SignupError` when the
        hourly limit says to wait (with when)."""
        try:
            account, code = await self._store_call("issue_code", name)
        except Limited as e:
            raise limited(e) from None
        try:
            await self.mailer.send(
                account.email,
                "verify_code",
                username=name,
                code=code,
                minutes=self.code_lifetime // 60,
                verify_url=self.url(f"verify?username={name}"),
            )
        except MailError as e:
            self.log.error("Could not mail a code to %r's address: %s", name, e)
            raise SignupError(
                "The code could not be sent: the mail server does not answer. Try again "
                'in a few minutes ("Send a new code" on the verification page), or tell '
                "the course's administrators.",
                status=503,
            ) from None

    async def resend_code(self, username: str, address: str | None = None) -> None:
        await self.take_from(address, "verify", "code requests")
        name = self.normalize_username(username)
        account = await self._store_call("find", name)
        if account is None or account.email_verified is not None:
            # the same answer whether or not there is such an account to verify
            return
        await self.send_code(name)

    async def verify_email(self, username: str, code: str, address: str | None = None):
        """Check a code: the account, now verified (and approved where the rules say
        so); :class:`SignupError` otherwise."""
        await self.take_from(address, "verify", "code checks")
        name = self.normalize_username(username)
        try:
            account = await self._store_call("verify_code", name, code)
        except CodeRefused as e:
            raise SignupError(str(e)) from None
        if not account.approved and self.approved_on_verification(name, account.email):
            await self._store_call("set_approved", name, True)
            account.approved = True
        self.log.info("Account %r verified its email address (%s)", name, account.status)
        return account

    # -- password reset and change -------------------------------------------------

    async def request_reset(self, name_or_email: str, address: str | None = None) -> None:
        """Mail a reset link to the account named (by name or address), if there is
        one; the caller answers the same either way, at once (the mail is sent after)."""
        await self.take_from(address, "reset", "password reset requests")
        typed = name_or_email.strip()
        if "@" in typed:
            account = await self._store_call("find_by_email", typed)
        else:
            account = await self._store_call("find", self.normalize_username(typed))
        if account is None or not account.email or account.rejected:
            return
        await self.send_reset(account)

    async def send_reset(self, account) -> bool:
        """Issue a reset token and mail its link in the background; False past the
        account's hourly limit."""
        token = await self._store_call("issue_reset", account.id)
        if token is None:
            self.log.warning("Reset mail for %r not sent: hourly limit", account.username)
            return False
        self._mail_later(
            account.email,
            "reset_link",
            username=account.username,
            link=self.url(f"reset?token={token}"),
            minutes=self.reset_lifetime // 60,
        )
        return True

    def _mail_later(self, to: str, template: str, **context) -> None:
        """Send a mail without making the request wait: its answer (and time) must not
        depend on whether there was anything to mail."""

        async def send():
            try:
                await self.mailer.send(to, template, **context)
            except Exception as e:
                self.log.error("Could not send the %s mail: %s", template, e)

        task = asyncio.ensure_future(send())
        self._mail_tasks.add(task)
        task.add_done_callback(self._mail_tasks.discard)

    async def reset_link_account(self, token: str):
        """The account a reset link is for; :class:`SignupError` if it cannot be used."""
        try:
            return await self._store_call("reset_account", token)
        except ResetRefused as e:
            raise SignupError(str(e)) from None

    async def reset_password(
        self, token: str, password: str, confirmation: str | None, address: str | None = None
    ):
        """Set a new password through a reset link: the account."""
        await self.take_from(address, "reset", "password reset attempts")
        account = await self.reset_link_account(token)
        self.check_new_password(password, confirmation, account.username, account.email or "")
        try:
            return await self._store_call("reset_password", token, password)
        except ResetRefused as e:
            raise SignupError(str(e)) from None

    async def change_password(
        self, username: str, current: str, password: str, confirmation: str | None
    ) -> None:
        try:
            await self._store_call("check_lockout", username)
        except Limited as e:
            raise limited(e) from None
        if await self._store_call("verify", username, current) is None:
            raise SignupError("The current password is not right.", status=403)
        account = await self._store_call("find", username)
        self.check_new_password(password, confirmation, username, account.email or "")
        await self._store_call("set_password", username, password)
        self.log.info("Account %r changed its password", username)

    def get_handlers(self, app):
        from .accounts import admin, pages

        # called once as the Hub starts: the place to check the accounts' schema (a Hub
        # must not start on tables it does not know) and to say where mail goes
        self.check_schema()
        if not self.smtp_host:
            self.log.warning(
                "No SMTP server configured (COURSEHUB_SMTP_HOST): the accounts' mail "
                "(sign-up codes, reset links) is written to the maildir %s; read it with "
                "any mail reader (mutt -f %s) or cat",
                Path(self.maildir).resolve(),
                Path(self.maildir).resolve(),
            )

        return pages.handlers() + admin.handlers() + self.course_handlers()


def apply_auth(c, settings: Settings) -> None:
    """The authenticator ``COURSEHUB_AUTHENTICATOR`` chooses, and coursehub's templates:
    CoursehubAuthenticator (its mail, the first admin), LTI 1.3 launches
    (hub_config.lti) or an OAuth provider (hub_config.oauth). A Hub has one."""
    c.JupyterHub.template_paths = [str(TEMPLATES_DIR)]
    # the navigation bar links the accounts' pages only where they exist
    c.JupyterHub.template_vars = {"coursehub_accounts": settings.authenticator == "coursehub"}
    if settings.authenticator == "lti":
        from .lti import apply_lti

        apply_lti(c, settings)
        return
    if settings.authenticator == "oauth":
        from .oauth import apply_oauth

        apply_oauth(c, settings)
        return
    c.JupyterHub.authenticator_class = CoursehubAuthenticator
    c.Authenticator.admin_users = {settings.admin_user}
    c.CoursehubAuthenticator.bootstrap_admin = settings.admin_user
    c.CoursehubAuthenticator.db_url = settings.hub_db_url
    c.CoursehubAuthenticator.admin_password_file = str(settings.state_dir / "admin-password")
    c.CoursehubAuthenticator.maildir = str(settings.state_dir / "mail")
    c.CoursehubAuthenticator.public_url = settings.public_url
    if settings.admin_password:
        c.CoursehubAuthenticator.bootstrap_admin_password = settings.admin_password
    if settings.smtp_host:
        c.CoursehubAuthenticator.smtp_host = settings.smtp_host
        c.CoursehubAuthenticator.smtp_port = settings.smtp_port
        c.CoursehubAuthenticator.smtp_security = settings.smtp_security
        c.CoursehubAuthenticator.smtp_user = settings.smtp_user
    if settings.mail_from:
        c.CoursehubAuthenticator.mail_from = settings.mail_from
    if settings.allowed_email_domains:
        c.CoursehubAuthenticator.allowed_email_domains = set(settings.allowed_email_domains)
