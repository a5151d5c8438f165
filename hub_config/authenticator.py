"""CoursehubAuthenticator: sign-up, bcrypt passwords and approval by the Hub's admins.

How an account comes to life:

1. Someone signs up at ``/hub/signup``: a row in ``coursehub_accounts`` (see
   :mod:`hub_config.accounts`) with a bcrypt hash of their password.
2. They may log in once the Hub *allows* them. coursehub adds no approval UI of its own:
   with ``allow_existing_users`` (on by default here) every user in the Hub's database
   is allowed, so an admin approves someone by adding that name in the Hub's admin
   panel (or ``POST /hub/api/users/<name>``). Names in ``allowed_users``,
   ``preapproved_users`` and ``admin_users`` are approved from the start. Until then
   the login page says the account is waiting for approval.
3. The first admin (``bootstrap_admin``) gets an account at the Hub's first start, with
   ``bootstrap_admin_password`` or a generated password written to
   ``admin_password_file`` and printed once on the Hub's console.

Email verification, password reset and lockout are left to later work; they fit as
columns of :class:`~hub_config.accounts.Account` and steps of :meth:`sign_up` and
:meth:`authenticate`.
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

from jupyterhub.auth import Authenticator
from jupyterhub.handlers import BaseHandler
from tornado import web
from traitlets import Bool, Integer, Set, Unicode, default

from .accounts import AccountStore, UsernameTaken
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
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class SignupError(ValueError):
    """A sign-up refused; ``str(e)`` is shown to the person signing up."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class CoursehubAuthenticator(Authenticator):
    """Username and password accounts with self sign-up and admin approval."""

    db_url = Unicode(
        help="""SQLAlchemy URL of the database holding the `coursehub_accounts` table.

        Defaults to the Hub's own `JupyterHub.db_url`; the table is created if missing.
        """,
    ).tag(config=True)

    @default("db_url")
    def _db_url_default(self):
        parent_url = getattr(self.parent, "db_url", None)
        if parent_url:
            return parent_url
        return os.environ.get("COURSEHUB_HUB_DB_URL", "sqlite:///jupyterhub.sqlite")

    bcrypt_rounds = Integer(
        12, help="bcrypt cost factor (log2 of the rounds) for new password hashes."
    ).tag(config=True)

    minimum_password_length = Integer(8, help="Shortest password accepted at sign-up.").tag(
        config=True
    )

    enable_signup = Bool(True, help="Whether people can create accounts at /hub/signup.").tag(
        config=True
    )

    preapproved_users = Set(
        Unicode(),
        help="""Usernames approved as soon as they sign up, with no admin action.

        Unlike `allowed_users`, these names are not created in the Hub until
        they sign up and log in.
        """,
    ).tag(config=True)

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
    _store_lock = threading.Lock()

    @property
    def store(self) -> AccountStore:
        """The account table, connected (and created if missing) on first use."""
        with self._store_lock:
            if self._store is None:
                self._store = AccountStore(self.db_url, bcrypt_rounds=self.bcrypt_rounds)
        return self._store

    async def _in_thread(self, fn, *args, **kwargs):
        """Run a blocking call (SQL, bcrypt) off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, partial(fn, *args, **kwargs))

    async def _store_call(self, method: str, *args, **kwargs):
        """Call an :class:`AccountStore` method in a thread (creating the store there too)."""
        return await self._in_thread(lambda: getattr(self.store, method)(*args, **kwargs))

    # -- names ---------------------------------------------------------------------

    def normalize_username(self, username):
        return super().normalize_username(username.strip())

    def validate_username(self, username):
        return bool(USERNAME_RE.fullmatch(username)) and super().validate_username(username)

    def is_approved(self, username: str) -> bool:
        """Whether the Hub lets this name in (allow-list, admin panel, admins)."""
        return (
            self.allow_all
            or username in self.allowed_users
            or username in self.admin_users
            or username in self.preapproved_users
        )

    # -- log in --------------------------------------------------------------------

    async def authenticate(self, handler, data):
        """The username if the password is right, else None (checked in a thread)."""
        username = self.normalize_username(data.get("username", ""))
        password = data.get("password", "")
        if not password or not self.validate_username(username):
            return None
        account = await self._store_call("verify", username, password)
        if account is None:
            self.log.warning("Failed login for %r: wrong username or password", username)
            return None
        return username

    def check_allowed(self, username, authentication=None):
        """Approved names pass; a right password on a pending account gets told so."""
        if self.is_approved(username):
            return True
        if authentication is not None:
            # only reached after authenticate() accepted the password, so this
            # tells nothing to someone who does not know it
            raise web.HTTPError(403, PENDING_MESSAGE)
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
                self.store.create(name, password, approved=True)
            elif self.store.verify(name, password) is None:
                self.store.set_password(name, password)
            return
        if account is not None:
            return
        password = secrets.token_urlsafe(15)
        self.store.create(name, password, approved=True)
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

    # -- sign up -------------------------------------------------------------------

    async def sign_up(
        self,
        username: str,
        password: str,
        password_confirmation: str | None = None,
        email: str | None = None,
    ):
        """Create an account, or raise :class:`SignupError` saying what is wrong."""
        if not self.enable_signup:
            raise SignupError("Sign-up is disabled on this Hub.", status=403)
        name = self.normalize_username(username)
        if not self.validate_username(name):
            raise SignupError(f"{username.strip()!r} is not a valid username. {USERNAME_RULE}")
        if name in self.blocked_users:
            raise SignupError(f"The username {name!r} is not available.", status=409)
        if len(password) < self.minimum_password_length:
            raise SignupError(
                f"The password is too short: use at least "
                f"{self.minimum_password_length} characters."
            )
        if password_confirmation is not None and password_confirmation != password:
            raise SignupError("The two passwords do not match.")
        if email and not EMAIL_RE.fullmatch(email):
            raise SignupError(f"{email!r} is not an email address.")
        approved = self.is_approved(name)
        try:
            account = await self._store_call(
                "create", name, password, email=email or None, approved=approved
            )
        except UsernameTaken:
            raise SignupError(f"The username {name!r} is already taken.", status=409) from None
        if approved:
            self.log.info("New account %r (approved)", name)
        else:
            self.log.info(
                "New account %r is waiting for approval: add the user in the admin panel",
                name,
            )
        return account

    def get_handlers(self, app):
        return super().get_handlers(app) + [("/signup", SignupHandler)]


class SignupHandler(BaseHandler):
    """``/hub/signup``: the sign-up form (GET) and account creation (POST)."""

    async def _render(self, **ns):
        authenticator = self.authenticator
        return await self.render_template(
            "signup.html",
            username_rule=USERNAME_RULE,
            minimum_password_length=authenticator.minimum_password_length,
            **ns,
        )

    async def get(self):
        if not self.authenticator.enable_signup:
            raise web.HTTPError(404, "Sign-up is disabled on this Hub.")
        self.finish(await self._render())

    async def post(self):
        username = self.get_body_argument("username", "", strip=True)
        email = self.get_body_argument("email", "", strip=True) or None
        try:
            account = await self.authenticator.sign_up(
                username,
                self.get_body_argument("password", "", strip=False),
                self.get_body_argument("password_confirmation", None, strip=False),
                email=email,
            )
        except SignupError as e:
            self.set_status(e.status)
            self.finish(await self._render(signup_error=str(e), username=username, email=email))
            return
        if account.approved:
            message = f"Your account {account.username!r} has been created. You can sign in now."
        else:
            message = (
                f"Your account {account.username!r} has been created. It is waiting for "
                "approval by an administrator; you can sign in once it is approved."
            )
        self.set_status(201)
        self.finish(await self._render(signup_message=message, created=True))


def apply_auth(c, settings: Settings) -> None:
    """CoursehubAuthenticator, its templates, and the first admin."""
    c.JupyterHub.authenticator_class = CoursehubAuthenticator
    c.JupyterHub.template_paths = [str(TEMPLATES_DIR)]
    c.Authenticator.admin_users = {settings.admin_user}
    c.CoursehubAuthenticator.bootstrap_admin = settings.admin_user
    c.CoursehubAuthenticator.db_url = settings.hub_db_url
    c.CoursehubAuthenticator.admin_password_file = str(settings.state_dir / "admin-password")
    if settings.admin_password:
        c.CoursehubAuthenticator.bootstrap_admin_password = settings.admin_password
