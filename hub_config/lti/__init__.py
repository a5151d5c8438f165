"""LTI 1.3: people launch coursehub from their LMS (Canvas, Moodle, Blackboard, ...).

``COURSEHUB_AUTHENTICATOR=lti`` makes :class:`CoursehubLTIAuthenticator` the Hub's
authenticator (JupyterHub has one: the password accounts are then off). It is
jupyterhub-ltiauthenticator 1.6.3's ``LTI13Authenticator`` with what that version lacks:

- several platforms (:mod:`.platforms`, ``COURSEHUB_LTI_PLATFORMS``): the login
  initiation picks the registration by ``iss`` and ``client_id``, and the callback
  checks the token against that registration's issuer, client id and key set only;
- the deployment id checked against the registration's;
- the platform's key set fetched asynchronously and cached (:mod:`.keys`);
- each launch's nonce used once, in the Hub's database (:mod:`.store`);
- the Hub name by grader.lti.names (never a password account's);
- the verified launch forwarded to the grader (``POST api/v1/lti/launches``), which
  enrols the user; a page when the LMS course is not linked yet (with, for an LMS
  instructor, the grader's page to link it) or when the grader cannot be reached;
- ``/hub/lti13/config`` advertising the grader's key set and the AGS/NRPS scopes.

The launch's pages are in :mod:`.handlers`; what is forwarded in :mod:`.launch`.
"""

from __future__ import annotations

from ..settings import Settings
from .authenticator import CoursehubLTIAuthenticator

__all__ = ["CoursehubLTIAuthenticator", "apply_lti"]


def apply_lti(c, settings: Settings) -> None:
    """CoursehubLTIAuthenticator on the platforms file. Admins are named in the
    operator's config file (``c.Authenticator.admin_users``, Hub names of LTI users)."""
    c.JupyterHub.authenticator_class = CoursehubLTIAuthenticator
    c.CoursehubLTIAuthenticator.platforms_file = str(settings.lti_platforms_file)
    c.CoursehubLTIAuthenticator.db_url = settings.hub_db_url
    c.CoursehubLTIAuthenticator.tool_name = "coursehub"
    c.CoursehubLTIAuthenticator.tool_description = (
        "Jupyter courses with automatic grading: questions, practice, grades sent back"
    )
