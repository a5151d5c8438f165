"""Signing in with an OAuth 2 / OpenID Connect provider: an institution's identity
provider (Keycloak, Azure AD, Shibboleth's OIDC, ...) or GitHub.

``COURSEHUB_AUTHENTICATOR=oauth`` makes the Hub's authenticator oauthenticator's
``GenericOAuthenticator`` (or ``GitHubOAuthenticator`` with
``COURSEHUB_OAUTH_PROVIDER=github``) with coursehub's course roles mixed in, configured
from ``COURSEHUB_OAUTH_*``: the client id (its secret from
``COURSEHUB_OAUTH_CLIENT_SECRET``, read here, never written in configuration), the
provider's authorize, token and user-info URLs, the user-info field naming the Hub user,
the scopes asked for, and who may sign in (names, the provider's groups; GitHub:
organizations) and who is an admin.

Groups from the provider decide who gets in and who is an admin, but never become Hub
groups: oauthenticator's ``manage_groups`` would replace a user's Hub groups with the
provider's at every sign-in, and so take away their courses (a course is a Hub group);
and oauthenticator 17 allows ``allowed_groups`` and ``admin_groups`` only with it. So the
provider's groups have traits of their own here (``allowed_provider_groups``,
``admin_provider_groups``, ``provider_groups_key``), checked with ``manage_groups`` off.

A name that belongs to a password account (from a time the Hub used
CoursehubAuthenticator) is refused unless ``allow_password_account_names``: someone at
the provider who merely has the same name is not that person.
"""

from __future__ import annotations

import asyncio
import os
from functools import reduce

from oauthenticator.generic import GenericOAuthenticator
from oauthenticator.github import GitHubOAuthenticator
from oauthenticator.oauth2 import OAuthenticator
from tornado.web import HTTPError
from traitlets import Bool, Set, Unicode, default

from .accounts import schema
from .accounts.store import AccountStore
from .courses import CourseRolesMixin
from .settings import Settings

SECRET_VARIABLE = "COURSEHUB_OAUTH_CLIENT_SECRET"


class _ProviderGroupsMixin(OAuthenticator):
    """Allowed and admin groups from the user info, without managing Hub groups."""

    db_url = Unicode(
        help="""SQLAlchemy URL of the accounts' tables (default: the Hub's database),
        to refuse names of password accounts.""",
    ).tag(config=True)

    @default("db_url")
    def _db_url_default(self):
        return getattr(self.parent, "db_url", None) or "sqlite:///jupyterhub.sqlite"

    allow_password_account_names = Bool(
        False,
        help="""Let a provider's user sign in under the name of a password account (a
        Hub that moved from coursehub's accounts to this provider, with the same
        names). Off: such a sign-in is refused.""",
    ).tag(config=True)

    allowed_provider_groups = Set(
        Unicode(),
        help="""Groups at the provider (the user info's `provider_groups_key`) whose
        members may sign in, besides `allowed_users`; never made Hub groups.""",
    ).tag(config=True)

    admin_provider_groups = Set(
        Unicode(), help="Groups at the provider whose members are the Hub's admins."
    ).tag(config=True)

    provider_groups_key = Unicode(
        "oauth_user.groups",
        help="""Where the provider's groups are in the auth state (dotted): the user
        info is `oauth_user`.""",
    ).tag(config=True)

    @default("client_secret")
    def _client_secret_default(self):
        return os.environ.get(SECRET_VARIABLE, "")

    def provider_groups(self, auth_state: dict) -> set[str]:
        try:
            groups = reduce(dict.get, self.provider_groups_key.split("."), auth_state or {})
        except TypeError:
            return set()
        return {str(g) for g in groups} if isinstance(groups, list) else set()

    async def update_auth_model(self, auth_model):
        auth_model = await super().update_auth_model(auth_model)
        groups = self.provider_groups(auth_model.get("auth_state") or {})
        auth_model.setdefault("auth_state", {})["coursehub_provider_groups"] = sorted(groups)
        if not auth_model.get("admin") and groups & self.admin_provider_groups:
            auth_model["admin"] = True
        if not self.allow_password_account_names:
            await self._refuse_password_account(auth_model["name"])
        return auth_model

    @property
    def accounts(self) -> AccountStore:
        """The password accounts' tables (connected, their schema checked, on first use)."""
        if getattr(self, "_accounts", None) is None:
            self._accounts = AccountStore(schema.connect(self.db_url))
        return self._accounts

    async def _refuse_password_account(self, name: str) -> None:
        account = await asyncio.get_running_loop().run_in_executor(None, self.accounts.find, name)
        if account is not None:
            self.log.warning("OAuth sign-in as %r refused: a password account has that name", name)
            raise HTTPError(
                409,
                f"The name {name!r} belongs to an account that signs in with a password: "
                "ask the Hub's administrators.",
            )

    def get_handlers(self, app):
        # the accounts' schema checked (or made) at start, as CoursehubAuthenticator does
        _ = self.accounts
        return super().get_handlers(app) + self.course_handlers()

    async def check_allowed(self, username, auth_model):
        if await super().check_allowed(username, auth_model):
            return True
        if auth_model and self.allowed_provider_groups:
            groups = set((auth_model.get("auth_state") or {}).get("coursehub_provider_groups", ()))
            return bool(groups & self.allowed_provider_groups)
        return False


class CoursehubOAuthenticator(_ProviderGroupsMixin, CourseRolesMixin, GenericOAuthenticator):
    """An institution's OAuth 2 / OpenID Connect provider (generic)."""


class CoursehubGitHubOAuthenticator(_ProviderGroupsMixin, CourseRolesMixin, GitHubOAuthenticator):
    """GitHub; who may sign in by name or organization (``allowed_organizations``)."""


def apply_oauth(c, settings: Settings) -> None:
    """The OAuth authenticator ``COURSEHUB_OAUTH_PROVIDER`` names, from ``COURSEHUB_OAUTH_*``."""
    github = settings.oauth_provider == "github"
    cls = CoursehubGitHubOAuthenticator if github else CoursehubOAuthenticator
    c.JupyterHub.authenticator_class = cls
    section = c[cls.__name__]
    section.client_id = settings.oauth_client_id
    section.oauth_callback_url = f"{settings.public_url}/hub/oauth_callback"
    section.db_url = settings.hub_db_url
    section.allow_all = settings.oauth_allow_all
    section.allowed_users = set(settings.oauth_allowed_users)
    section.admin_users = set(settings.oauth_admin_users)
    # never replace Hub groups (courses) with the provider's: see the module's docstring
    section.manage_groups = False
    if github:
        section.allowed_organizations = set(settings.oauth_allowed_groups)
        if settings.oauth_scope != Settings.oauth_scope:
            section.scope = list(settings.oauth_scope)
        return
    section.login_service = "your institution"
    section.authorize_url = settings.oauth_authorize_url
    section.token_url = settings.oauth_token_url
    section.userdata_url = settings.oauth_userdata_url
    section.username_claim = settings.oauth_username_claim
    section.scope = list(settings.oauth_scope)
    section.allowed_provider_groups = set(settings.oauth_allowed_groups)
    section.admin_provider_groups = set(settings.oauth_admin_groups)
    section.provider_groups_key = f"oauth_user.{settings.oauth_groups_claim}"
