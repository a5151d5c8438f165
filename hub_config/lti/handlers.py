"""The LTI 1.3 launch's pages in the Hub: login initiation, callback, tool configuration.

Built on jupyterhub-ltiauthenticator 1.6.3's handlers, with what that version lacks
(see :mod:`hub_config.lti`): the platform chosen by issuer and client id and carried in
the (cookie-checked) OAuth state, the token checked against that platform's key set
(fetched asynchronously, cached), its deployment, its nonce used once; the launch
forwarded to the grader, and a page when the LMS course is not linked yet or the grader
could not be reached.
"""

from __future__ import annotations

import json
import uuid

from jupyterhub.utils import url_path_join
from ltiauthenticator.lti13.error import ValidationError
from ltiauthenticator.lti13.handlers import (
    LTI13CallbackHandler,
    LTI13ConfigHandler,
    LTI13LoginInitHandler,
    _deserialize_state,
    _serialize_state,
)
from ltiauthenticator.utils import convert_request_to_dict
from tornado.httputil import url_concat
from tornado.web import HTTPError

from grader.lti.platforms import UnknownPlatform

from .launch import LaunchRefused, launch_payload

#: the grader's pages: where an LMS instructor links an LMS course (context) to a
#: coursehub course they teach. The grader's answer to the launch gives the page's
#: URL (`link_url`, /services/grader/lti/link?context=<its id of the context>) for an
#: LMS instructor's launch of a context not linked yet (grader/handlers/lti.py)
GRADER_PAGES = "services/grader/"
#: the grader's public key set (AGS/NRPS client credentials), advertised to platforms
GRADER_JWKS = "services/grader/api/v1/lti/jwks"
#: what coursehub asks the platform for: grade passback (AGS) and rosters (NRPS)
TOOL_SCOPES = [
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
]


class CoursehubLTILoginInitHandler(LTI13LoginInitHandler):
    """Step 1 of the launch (the platform's login initiation): the platform found by
    ``iss`` (and ``client_id``), the browser sent to its authorization URL."""

    def post(self):
        args = convert_request_to_dict(self.request.arguments)
        try:
            self.authenticator.validator().validate_login_request(args)
        except ValidationError as e:
            raise HTTPError(400, str(e)) from None
        try:
            platform = self.authenticator.platform(args["iss"], args.get("client_id"))
        except UnknownPlatform as e:
            raise HTTPError(400, str(e)) from None
        # the library's state (next_url from `next` or target_link_uri, made a local
        # path), with the registration it is for: the callback checks the token
        # against this platform only. The state is compared with its encrypted cookie,
        # so a browser cannot swap in another platform.
        next_url = _deserialize_state(self.get_state()).get("next_url")
        state = _serialize_state(
            {
                "state_id": uuid.uuid4().hex,
                "next_url": next_url,
                "issuer": platform.issuer,
                "client_id": platform.client_id,
            }
        )
        self.set_state_cookie(state)
        nonce = self.generate_nonce()
        arguments = {
            "response_type": "id_token",
            "scope": "openid",
            "response_mode": "form_post",
            "prompt": "none",
            "client_id": platform.client_id,
            "redirect_uri": self.get_redirect_uri(),
            "login_hint": args["login_hint"],
            "nonce": nonce,
            "state": state,
        }
        if args.get("lti_message_hint"):
            arguments["lti_message_hint"] = args["lti_message_hint"]
        self.redirect(url_concat(platform.authorize_url, arguments))

    get = post


class CoursehubLTICallbackHandler(LTI13CallbackHandler):
    """Step 3 (the platform's form post of the id_token): checked, signed in,
    forwarded to the grader, and the browser sent on."""

    async def post(self):
        authenticator = self.authenticator
        args = convert_request_to_dict(self.request.arguments)
        try:
            authenticator.validator().validate_auth_response(args)
        except ValidationError as e:
            raise HTTPError(400, str(e)) from None
        # the state in the URL must be the one in its cookie (CSRF), and names the
        # platform chosen at the login initiation
        self.check_state()
        state = _deserialize_state(self._get_state_from_url())
        try:
            platform = authenticator.platform(state.get("issuer", ""), state.get("client_id"))
        except UnknownPlatform as e:
            raise HTTPError(400, str(e)) from None
        try:
            claims = await authenticator.verify_launch(args["id_token"], platform)
            # the nonce of this browser's login initiation (its cookie) ...
            self.check_nonce(claims)
            # ... and never before used: a replayed POST with the same cookies stops here
            await authenticator.use_nonce(platform, claims)
        except LaunchRefused as e:
            self.log.warning("LTI launch from %s refused: %s", platform.issuer, e.message)
            raise HTTPError(e.status, e.message) from None
        user = await self.login_user({"claims": claims, "platform": platform})
        if user is None:
            raise HTTPError(403, "This launch may not sign in to this Hub.")
        self.log.info("LTI launch from %s signed in %s", platform.issuer, user.name)
        await self.after_login(user, platform, claims, state.get("next_url"))

    async def after_login(self, user, platform, claims, next_url):
        """The launch forwarded to the grader (enrolment); then the user's server, or a
        page saying why not yet."""
        answer = await self.authenticator.forward_launch(
            launch_payload(user.name, platform, claims)
        )
        if answer is None:
            await self.show_page(
                user,
                "enrolment_later",
                "Signed in. coursehub could not reach its grading service just now, so "
                "your enrolment in this course will be made at your next launch from the LMS.",
            )
            return
        if not answer.get("linked"):
            context = claims.get("https://purl.imsglobal.org/spec/lti/claim/context") or {}
            # only a link into the grader's own pages (the answer is the grader's, but
            # a link on a Hub page is checked all the same)
            link_url = answer.get("link_url") or ""
            if not (
                isinstance(link_url, str)
                and link_url.startswith(url_path_join(self.base_url, GRADER_PAGES))
            ):
                link_url = ""
            await self.show_page(
                user,
                "not_linked",
                answer.get("message") or "This LMS course is not linked to a coursehub course yet.",
                context=context,
                link_url=link_url,
            )
            return
        local = self._validate_next_url(next_url or "")
        self.redirect(local or super(LTI13CallbackHandler, self).get_next_url(user))

    async def show_page(self, user, outcome: str, message: str, **ns):
        html = await self.render_template(
            "lti_launch.html",
            user=user,
            outcome=outcome,
            message=message,
            server_url=url_path_join(self.hub.base_url, "spawn"),
            **ns,
        )
        self.finish(html)


class CoursehubLTIConfigHandler(LTI13ConfigHandler):
    """``/hub/lti13/config``: the tool's configuration for a platform's administrators:
    where to initiate a login, the grader's key set, and the scopes coursehub uses."""

    async def get(self):
        protocol = self.authenticator.get_uri_scheme(self.request)
        origin = f"{protocol}://{self.request.host}"
        hub = url_path_join(origin, self.hub.base_url)
        public = url_path_join(origin, self.base_url)
        config = {
            "title": self.authenticator.tool_name,
            "description": self.authenticator.tool_description,
            "oidc_initiation_url": self.authenticator.login_url(hub),
            "target_link_uri": public,
            "redirect_uris": [self.authenticator.callback_url(hub)],
            "public_jwk_url": url_path_join(public, GRADER_JWKS),
            "scopes": list(TOOL_SCOPES),
            "custom_fields": {"email": "$Person.email.primary"},
            "extensions": [
                {
                    "platform": "canvas.instructure.com",
                    "privacy_level": "public",
                    "settings": {
                        "platform": "canvas.instructure.com",
                        "placements": [
                            {
                                "placement": "course_navigation",
                                "message_type": "LtiResourceLinkRequest",
                                "target_link_uri": public,
                            },
                            {
                                "placement": "assignment_selection",
                                "message_type": "LtiResourceLinkRequest",
                                "target_link_uri": public,
                            },
                        ],
                    },
                }
            ],
        }
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(config))
