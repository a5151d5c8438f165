"""What admins see of accounts: ``/hub/accounts`` (linked from the Hub's navigation bar
for those who may use the admin panel), and the mail's health.

The page lists the accounts waiting (address not verified yet, or approval) and the
restricted users, with approve, reject, restrict, lift and "send a reset link".
Approving adds the name to the Hub, exactly as the admin panel's "Add users" does, so
the Hub stays the one place that decides who may sign in. Restricting puts the user
in the Hub group ``restricted`` (:data:`grader.scopes.RESTRICTED_GROUP`): they sign in
and read, the grader refuses their submissions. Scripts do the same through the Hub's
REST API: ``POST /hub/api/groups/restricted/users {"users": [...]}`` (and DELETE).
"""

from __future__ import annotations

import json

from jupyterhub import orm
from jupyterhub.handlers import BaseHandler
from jupyterhub.scopes import needs_scope
from tornado import web

from grader.scopes import RESTRICTED_GROUP

from ..grader_calls import GraderCallError, GraderCalls
from .mail import MailError

#: the page's actions as the audit log names them (grader.audit)
AUDIT_ACTIONS = {
    "approve": "account.approve",
    "reject": "account.reject",
    "restrict": "account.restrict",
    "lift": "account.unrestrict",
    "send-reset": "account.reset",
}


def restricted_group(db) -> orm.Group:
    group = orm.Group.find(db, RESTRICTED_GROUP)
    if group is None:
        group = orm.Group(name=RESTRICTED_GROUP)
        db.add(group)
        db.commit()
    return group


class AccountsAdminHandler(BaseHandler):
    """``/hub/accounts``: who is waiting, who is restricted, and the actions on them."""

    async def page(self, status: int = 200, message: str = "", error: str = ""):
        authenticator = self.authenticator
        waiting = await authenticator._store_call("waiting")
        restricted = sorted(u.name for u in restricted_group(self.db).users)
        self.set_status(status)
        self.finish(
            await self.render_template(
                "accounts.html",
                waiting=waiting,
                restricted=restricted,
                message=message,
                error=error,
                mail=authenticator.mailer.describe(),
            )
        )

    @web.authenticated
    @needs_scope("admin:users")
    async def get(self):
        await self.page()

    @web.authenticated
    @needs_scope("admin:users")
    async def post(self):
        action = self.get_body_argument("action", "")
        name = self.authenticator.normalize_username(self.get_body_argument("username", ""))
        act = getattr(self, f"do_{action.replace('-', '_')}", None)
        if act is None or not name:
            await self.page(400, error=f"Unknown action {action!r} or no user name.")
            return
        try:
            message = await act(name)
        except LookupError as e:
            await self.page(404, error=str(e))
            return
        self.log.info("Admin %s: %s %s", self.current_user.name, action, name)
        message += await self.audit(action, name)
        await self.page(message=message)

    async def audit(self, action: str, name: str) -> str:
        """The action on coursehub's audit log (the grader's, through the Hub's own
        token): "" once it is there, else a note for the admin. The action stands
        either way: an admin stopping abuse must not wait for the grader."""
        entry = {
            "actor": self.current_user.name,
            "action": AUDIT_ACTIONS.get(action.replace("_", "-"), "account.other"),
            "target": f"user {name}",
            "address": self.request.remote_ip,
        }
        try:
            await GraderCalls(parent=self.authenticator).call("POST", "audit/entries", entry)
        except GraderCallError as e:
            self.log.warning("Admin %s: %s %s not in the audit log: %s",
                             self.current_user.name, action, name, e)  # fmt: skip
            return f" (Not in the audit log: {e.message})"
        return ""

    async def account(self, name):
        account = await self.authenticator._store_call("find", name)
        if account is None:
            raise LookupError(f"No account is named {name!r}.")
        return account

    async def do_approve(self, name) -> str:
        await self.account(name)
        user = self.user_from_username(name)
        # what the admin panel's "Add users" runs: the account is approved there
        await self.authenticator.add_user(user)
        return f"{name} is approved."

    async def do_reject(self, name) -> str:
        await self.account(name)
        await self.authenticator._store_call("reject", name)
        return f"{name} is rejected: they cannot sign in."

    async def do_restrict(self, name) -> str:
        user = self.find_user(name)
        if user is None:
            raise LookupError(f"The Hub has no user {name!r}.")
        group = restricted_group(self.db)
        if user.orm_user not in group.users:
            group.users.append(user.orm_user)
            self.db.commit()
        return f"{name} is restricted: they can sign in and read, but not submit."

    async def do_lift(self, name) -> str:
        user = self.find_user(name)
        group = restricted_group(self.db)
        if user is not None and user.orm_user in group.users:
            group.users.remove(user.orm_user)
            self.db.commit()
        return f"{name} is no longer restricted."

    async def do_send_reset(self, name) -> str:
        account = await self.account(name)
        if not account.email:
            raise LookupError(f"{name} has no email address to send a link to.")
        sent = await self.authenticator.send_reset(account)
        if not sent:
            return f"No link sent: {name} had the most reset mails an hour allows."
        return f"A reset link is on its way to {name}'s address."


class AccountsHealthHandler(BaseHandler):
    """``/hub/accounts/health``: whether the accounts' mail gets out. Anyone sees the
    verdict; admins also see where mail goes and the failure."""

    async def get(self):
        mailer = self.authenticator.mailer
        user = self.current_user
        admin = user is not None and "admin:users" in self.expanded_scopes
        try:
            await mailer.check()
            mail = {"status": "ok"}
        except MailError as e:
            self.set_status(503)
            mail = {"status": "failing"} | ({"error": str(e)} if admin else {})
        if admin:
            mail["mode"] = mailer.describe()
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps({"mail": mail}))


def handlers() -> list[tuple[str, type]]:
    return [(r"/accounts", AccountsAdminHandler), (r"/accounts/health", AccountsHealthHandler)]
