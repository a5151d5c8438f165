"""The accounts' pages in the Hub: sign up, verify, sign in, forgot, reset, change
password, and the mail's health. They extend the Hub's own templates (``page.html``).

Every form carries the Hub's XSRF token. Refusals answer with their status code (400,
403, 409, 429 with Retry-After) and the page again, the message shown in it. The client
address of the rate limits is tornado's ``remote_ip``: the Hub trusts the last
X-Forwarded-For entry, the one its proxy adds, so a client cannot choose it.
"""

from __future__ import annotations

from jupyterhub.handlers import BaseHandler
from jupyterhub.handlers.login import LoginHandler
from jupyterhub.utils import new_token
from tornado import web

from ..authenticator import USERNAME_RULE, SignupError


class CoursehubLoginHandler(LoginHandler):
    """The Hub's login page; a refusal that waiting cures also says when (Retry-After)."""

    def write_error(self, status_code, **kwargs):
        exception = (kwargs.get("exc_info") or (None, None, None))[1]
        retry_after = getattr(exception, "retry_after", None)
        if retry_after:
            self.set_header("Retry-After", str(retry_after))
        return super().write_error(status_code, **kwargs)


class AccountPage(BaseHandler):
    """A form page: renders its template with the Hub's context and an outcome."""

    template = ""

    @property
    def address(self) -> str:
        return self.request.remote_ip

    async def show(self, status: int = 200, **ns):
        self.set_status(status)
        self.finish(
            await self.render_template(
                self.template,
                authenticator=self.authenticator,
                username_rule=USERNAME_RULE,
                minimum_password_length=self.authenticator.minimum_password_length,
                **ns,
            )
        )

    async def refused(self, e: SignupError, **ns):
        if e.retry_after:
            self.set_header("Retry-After", str(e.retry_after))
        await self.show(e.status, error=str(e), **ns)

    def argument(self, name: str, strip: bool = True) -> str:
        return self.get_body_argument(name, "", strip=strip)


class SignupHandler(AccountPage):
    """``/hub/signup``: the sign-up form; a new account gets its code by mail."""

    template = "signup.html"

    async def get(self):
        if not self.authenticator.enable_signup:
            raise web.HTTPError(404, "Sign-up is disabled on this Hub.")
        await self.show()

    async def post(self):
        username, email = self.argument("username"), self.argument("email")
        try:
            name = await self.authenticator.sign_up(
                username,
                self.argument("password", strip=False),
                self.get_body_argument("password_confirmation", None, strip=False),
                email=email,
                address=self.address,
            )
        except SignupError as e:
            await self.refused(e, username=username, email=email)
            return
        self.template = "verify.html"
        await self.show(
            201,
            username=name,
            message=(
                f"We mailed a code to {email}: enter it here within "
                f"{self.authenticator.code_lifetime // 60} minutes to verify your address "
                f"and activate the account {name!r}."
                + (
                    ""
                    if self.authenticator.approved_on_verification(name, email)
                    else " After that, an administrator approves the account."
                )
            ),
        )


class VerifyHandler(AccountPage):
    """``/hub/verify``: type the mailed code, or ask for a new one."""

    template = "verify.html"

    async def get(self):
        await self.show(username=self.get_query_argument("username", ""))

    async def post(self):
        username = self.argument("username")
        authenticator = self.authenticator
        if self.get_body_argument("action", "verify") == "resend":
            try:
                await authenticator.resend_code(username, address=self.address)
            except SignupError as e:
                await self.refused(e, username=username)
                return
            await self.show(
                username=username,
                message="If this account waits for verification, a new code is on its way.",
            )
            return
        try:
            account = await authenticator.verify_email(
                username, self.argument("code"), address=self.address
            )
        except SignupError as e:
            await self.refused(e, username=username)
            return
        if account.status == "active":
            message = "Your email address is verified. You can sign in now."
        else:
            message = (
                "Your email address is verified. Your account now waits for approval by "
                "an administrator; you can sign in once it is approved."
            )
        await self.show(username=username, message=message, done=True)


class ForgotHandler(AccountPage):
    """``/hub/forgot``: ask for a reset link, by name or address. The answer is the
    same whether or not there is such an account."""

    template = "forgot.html"

    async def get(self):
        await self.show()

    async def post(self):
        typed = self.argument("name")
        try:
            await self.authenticator.request_reset(typed, address=self.address)
        except SignupError as e:
            await self.refused(e)
            return
        minutes = self.authenticator.reset_lifetime // 60
        await self.show(
            done=True,
            message=(
                "If an account has this name or address, a link to choose a new password "
                f"is on its way to its address. The link works once, for {minutes} minutes."
            ),
        )


class ResetHandler(AccountPage):
    """``/hub/reset?token=...``: choose a new password. It ends every session and
    revokes every token of the account: whoever knew the old password is out."""

    template = "reset.html"

    async def get(self):
        token = self.get_query_argument("token", "")
        # the Hub's log scrubs `token=` from URLs; the link is never logged
        try:
            await self.authenticator.reset_link_account(token)
        except SignupError as e:
            await self.show(error=str(e), done=True)
            return
        await self.show(token=token)

    async def post(self):
        token = self.argument("token")
        try:
            account = await self.authenticator.reset_password(
                token,
                self.argument("password", strip=False),
                self.get_body_argument("password_confirmation", None, strip=False),
                address=self.address,
            )
        except SignupError as e:
            await self.refused(e, token=token)
            return
        await self.sign_out_everywhere(account.username)
        self.log.info(
            "Account %r reset its password: sessions and tokens revoked", account.username
        )
        await self.show(done=True, message="Your password is changed. Sign in with the new one.")

    async def sign_out_everywhere(self, name: str) -> None:
        """Revoke every API and OAuth token of the user, end their login cookies and
        stop their servers."""
        user = self.find_user(name)
        if user is None:
            return
        for token in list(user.orm_user.api_tokens):
            self.db.delete(token)
        # the Hub's login cookie names this id: a new one ends every session
        user.orm_user.cookie_id = new_token()
        self.db.commit()
        for server_name, spawner in list(user.spawners.items()):
            if spawner.active:
                await self.stop_single_user(user, server_name)


class ChangePasswordHandler(AccountPage):
    """``/hub/change-password``: a signed-in user sets a new password, after typing the
    current one (which counts towards the lockout like a sign-in)."""

    template = "change-password.html"

    @web.authenticated
    async def get(self):
        await self.show()

    @web.authenticated
    async def post(self):
        try:
            await self.authenticator.change_password(
                self.current_user.name,
                self.argument("current", strip=False),
                self.argument("password", strip=False),
                self.get_body_argument("password_confirmation", None, strip=False),
            )
        except SignupError as e:
            await self.refused(e)
            return
        # other browsers signed in with the old password are signed out; this one stays
        user = self.current_user
        user.orm_user.cookie_id = new_token()
        self.db.commit()
        self.set_login_cookie(user)
        await self.show(
            done=True, message="Your password is changed. Other browsers are signed out."
        )


def handlers() -> list[tuple[str, type]]:
    return [
        (r"/login", CoursehubLoginHandler),
        (r"/signup", SignupHandler),
        (r"/verify", VerifyHandler),
        (r"/forgot", ForgotHandler),
        (r"/reset", ResetHandler),
        (r"/change-password", ChangePasswordHandler),
    ]
