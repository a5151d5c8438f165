"""Signing in with the Hub from a browser, the same on every replica of the API.

The grader's pages and its API accept the Hub's OAuth cookie (``HubOAuth``): the browser
is sent through the Hub's OAuth once, and the grader's `oauth_callback` stores the OAuth
token in a cookie signed with the web app's ``cookie_secret``. Two things of that flow
are per process in jupyterhub's ``HubOAuth`` and must not be here, where several API
replicas answer one browser in turn (docs/scaling.md):

- the cookie secret: :func:`cookie_secret_from_token` derives it from the service's Hub
  API token, which every replica has (nothing else to distribute, and rotating the token
  rotates it);
- the OAuth *state* of a login under way (where to go afterwards, the PKCE verifier),
  which ``HubOAuth`` keeps in a dict in memory: :class:`GraderOAuth` seals it into the
  state string itself, so the replica the Hub sends the browser back to can read it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets

from cryptography.fernet import Fernet, InvalidToken
from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler
from traitlets import Bytes

#: fixed labels: what each key derived from the service's token is for
COOKIE_SECRET_LABEL = b"coursehub grader: cookie secret v1"
OAUTH_STATE_LABEL = b"coursehub grader: oauth state v1"


def cookie_secret_from_token(api_token: str) -> bytes:
    """The web app's cookie secret: an HMAC of a fixed label keyed with the service's Hub
    API token. The same on every replica; it reveals nothing of the token; a new token
    (the Hub generates one for a managed service at each start unless configured) makes
    a new secret, which costs a browser one silent trip through the Hub's OAuth."""
    return hmac.new(api_token.encode("utf-8"), COOKIE_SECRET_LABEL, hashlib.sha256).digest()


class GraderOAuth(HubOAuth):
    """``HubOAuth`` whose login state travels with the login, sealed, instead of living
    in one process's memory (``HubOAuth._oauth_states``).

    The state goes to the Hub and comes back in the callback's URL, and sits in the
    state cookie; it holds the PKCE ``code_verifier``, which must stay secret from
    whoever sees that URL, so it is encrypted and authenticated (Fernet, with a key
    derived from the cookie secret) and expires after ``oauth_state_max_age``.
    """

    state_secret = Bytes(
        help="""Key material for sealing OAuth states (the web app's cookie secret):
        every replica of the API needs the same."""
    )

    def _fernet(self) -> Fernet:
        if not self.state_secret:
            raise ValueError("GraderOAuth.state_secret is not set")
        key = hmac.new(self.state_secret, OAUTH_STATE_LABEL, hashlib.sha256).digest()
        return Fernet(base64.urlsafe_b64encode(key))

    def generate_state(self, next_url=None, **extra_state):
        # a nonce: two logins to the same page never share a state
        state = {"next_url": next_url, "nonce": secrets.token_urlsafe(8), **extra_state}
        return self._fernet().encrypt(json.dumps(state).encode("utf-8")).decode("ascii")

    def _decode_state(self, state_id, /):
        if not state_id:
            return {}
        try:
            data = self._fernet().decrypt(state_id.encode("ascii"), ttl=self.oauth_state_max_age)
            state = json.loads(data)
        except (InvalidToken, UnicodeError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    def clear_oauth_state(self, state_id):
        # nothing is kept: the Hub's code is single-use, and the state cookie (which
        # must match the state) is cleared by the callback
        return


class OAuthCallbackHandler(HubOAuthCallbackHandler):
    """The end of the OAuth login (`<prefix>oauth_callback`), with the app's
    :class:`GraderOAuth`: jupyterhub's handler would take ``HubOAuth.instance()``, a
    second object that knows nothing of the logins this app began."""

    @property
    def hub_auth(self):
        return self.settings["hub_auth"]
