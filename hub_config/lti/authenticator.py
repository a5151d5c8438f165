"""CoursehubLTIAuthenticator: sign in by an LTI 1.3 launch from one of several LMSes."""

from __future__ import annotations

import asyncio
import time
from functools import partial

import jwt
from ltiauthenticator.lti13.auth import LTI13Authenticator
from ltiauthenticator.lti13.error import InvalidAudienceError, TokenError, ValidationError
from ltiauthenticator.lti13.validator import LTI13LaunchValidator
from tornado.web import HTTPError
from traitlets import Float, Integer, Unicode, default

from grader.lti.names import DEFAULT_USERNAME_KEY, NameRefused, hub_name
from grader.lti.platforms import Platform, PlatformsError, PlatformsFile

from ..courses import CourseRolesMixin
from ..grader_calls import GraderCallError, GraderCalls
from .handlers import (
    CoursehubLTICallbackHandler,
    CoursehubLTIConfigHandler,
    CoursehubLTILoginInitHandler,
)
from .keys import KeySets, KeyUnavailable
from .launch import LaunchRefused, check_deployment
from .store import LaunchStore, nonce_digest


class CoursehubLTIAuthenticator(CourseRolesMixin, LTI13Authenticator):
    """LTI 1.3 launches from the platforms in ``platforms_file``; the launch forwarded to
    the grader, which enrols the user in the linked course with the LMS role."""

    login_service = "your LMS"

    login_handler = CoursehubLTILoginInitHandler
    callback_handler = CoursehubLTICallbackHandler
    config_handler = CoursehubLTIConfigHandler

    platforms_file = Unicode(
        help="""The platforms file (JSON; COURSEHUB_LTI_PLATFORMS): issuer, client_id,
        authorize_url, jwks_url, deployment_ids (and token_url, courses, username_key)
        of each registration of this tool. Read again when it changes.""",
    ).tag(config=True)

    db_url = Unicode(
        help="""SQLAlchemy URL of the database of the accounts' tables, where launches'
        nonces are kept (default: the Hub's own `JupyterHub.db_url`).""",
    ).tag(config=True)

    @default("db_url")
    def _db_url_default(self):
        return getattr(self.parent, "db_url", None) or "sqlite:///jupyterhub.sqlite"

    @default("username_key")
    def _username_key_default(self):
        return DEFAULT_USERNAME_KEY

    @default("allow_all")
    def _allow_all_default(self):
        # a launch signed by a registered platform, for one of its deployments, is
        # the LMS vouching for its user: no allow-list on top
        return True

    max_token_age = Integer(
        600, help="Seconds after its `iat` that a launch's id_token is still accepted."
    ).tag(config=True)
    time_leeway = Integer(
        5, help="Seconds of clock difference with the platforms allowed (exp, iat)."
    ).tag(config=True)
    jwks_max_age = Float(
        300, help="Seconds a platform's key set is used before it is fetched again."
    ).tag(config=True)
    jwks_refetch_interval = Float(
        30,
        help="""Least seconds between two fetches of a platform's key set caused by a
        token naming a key the cached set lacks (keys rotated).""",
    ).tag(config=True)

    _platforms_file = None
    _key_sets = None
    _store = None

    # -- the platforms ------------------------------------------------------------

    def platform(self, issuer: str, client_id: str | None) -> Platform:
        """The registration for a launch; :class:`UnknownPlatform` (a 400), or a 503
        when the platforms file cannot be used."""
        if self._platforms_file is None or str(self._platforms_file.path) != self.platforms_file:
            self._platforms_file = PlatformsFile(self.platforms_file)
        try:
            return self._platforms_file.find(issuer, client_id)
        except PlatformsError as e:
            self.log.error("LTI launch impossible: %s", e)
            raise HTTPError(
                503, "LTI launches are not available: the platforms file is broken"
            ) from None

    def validator(self) -> LTI13LaunchValidator:
        """The library's checks of requests and claims, with this Hub's limits."""
        return LTI13LaunchValidator(
            parent=self, max_age=self.max_token_age, time_leeway=self.time_leeway
        )

    @property
    def key_sets(self) -> KeySets:
        if self._key_sets is None:
            self._key_sets = KeySets(self.jwks_max_age, self.jwks_refetch_interval)
        return self._key_sets

    @property
    def store(self) -> LaunchStore:
        if self._store is None:
            self._store = LaunchStore(self.db_url)
        return self._store

    async def _in_thread(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(None, partial(fn, *args))

    # -- checking a launch ---------------------------------------------------------

    async def verify_launch(self, id_token: str, platform: Platform) -> dict:
        """The id_token's claims once signature (the platform's key set), issuer,
        audience, times, LTI claims and deployment are checked; :class:`LaunchRefused`."""
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError as e:
            raise LaunchRefused(400, f"the launch's id_token is not a JWT: {e}") from None
        if header.get("alg") not in self.jwks_algorithms:
            raise LaunchRefused(401, f"the launch's token is signed with {header.get('alg')!r}")
        try:
            key = await self.key_sets.signing_key(platform.jwks_url, header.get("kid"))
        except KeyUnavailable as e:
            raise LaunchRefused(e.status, e.message) from None
        try:
            claims = jwt.decode(
                id_token,
                key.key,
                algorithms=list(self.jwks_algorithms),
                audience=platform.client_id,
                issuer=platform.issuer,
                leeway=self.time_leeway,
                options={"require": ["exp", "iat", "iss", "aud", "nonce"]},
            )
        except jwt.ExpiredSignatureError:
            raise LaunchRefused(401, "the launch has expired: launch again from the LMS") from None
        except jwt.InvalidAudienceError:
            raise LaunchRefused(
                401,
                f"the launch is not meant for this tool (audience is not {platform.client_id!r})",
            ) from None
        except jwt.InvalidIssuerError:
            raise LaunchRefused(401, f"the launch's issuer is not {platform.issuer!r}") from None
        except jwt.InvalidSignatureError:
            raise LaunchRefused(401, "the launch's signature is not the platform's") from None
        except jwt.PyJWTError as e:
            raise LaunchRefused(401, f"the launch's token is not valid: {e}") from None
        validator = self.validator()
        try:
            validator.validate_id_token(claims)
            validator.validate_azp_claim(claims, {platform.client_id})
        except (TokenError, InvalidAudienceError) as e:
            raise LaunchRefused(401, f"the launch's token is refused: {e}") from None
        except ValidationError as e:
            raise LaunchRefused(400, f"the launch is not a valid LTI 1.3 launch: {e}") from None
        check_deployment(platform, claims)
        return claims

    async def use_nonce(self, platform: Platform, claims: dict) -> None:
        """Record the launch's nonce; :class:`LaunchRefused` if a launch used it before."""
        # kept while the token could still be accepted: past min(exp, iat + max age)
        # (and the leeway) every check above refuses it anyway
        keep_until = min(claims["exp"], claims["iat"] + self.max_token_age) + self.time_leeway + 60
        digest = nonce_digest(platform.issuer, platform.client_id, str(claims["nonce"]))
        if not await self._in_thread(self.store.use_nonce, digest, keep_until, time.time()):
            raise LaunchRefused(
                403,
                "this launch was already used: start again from the LMS (a launch signs in once)",
            )

    # -- signing in ----------------------------------------------------------------

    async def authenticate(self, handler, data=None):
        """The Hub name of a verified launch (grader.lti.names); never a password
        account's (a 409 says so)."""
        if not data or "claims" not in data:
            return None  # only the callback handler signs in, with a verified launch
        platform, claims = data["platform"], data["claims"]
        try:
            name = hub_name(platform.issuer, claims, platform.username_key)
        except NameRefused as e:
            raise HTTPError(400, f"This launch cannot sign in: {e}.") from None
        # every LTI name holds an "@", which password accounts' names cannot: this is
        # the second lock, for accounts made some other way
        if await self._in_thread(self.store.is_password_account, name):
            self.log.warning("LTI launch for %r refused: a password account has that name", name)
            raise HTTPError(
                409,
                f"The name {name!r} belongs to an account that signs in with a password: "
                "an LMS launch never signs into it. Ask the Hub's administrators.",
            )
        return {"name": name}

    async def forward_launch(self, payload: dict) -> dict | None:
        """``POST api/v1/lti/launches``: the grader's answer, or None when it could not
        take the launch (down, or refused it: logged), which never stops the sign-in."""
        try:
            return await GraderCalls(parent=self).call("POST", "lti/launches", payload)
        except GraderCallError as e:
            self.log.error("LTI launch of %s not forwarded to the grader: %s", payload["user"], e)
            return None

    def get_handlers(self, app):
        # the nonces' table is in the accounts' schema: checked (or created) at start,
        # as CoursehubAuthenticator does
        _ = self.store
        return super().get_handlers(app) + self.course_handlers()
