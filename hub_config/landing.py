"""Where people land after signing in, or at the Hub's root.

JupyterHub sends everyone to their own notebook server, starting it if needed. A learner
and an instructor want exactly that: JupyterLab with the coursehub panel. An admin
signs in to run the Hub: they want the admin panel, and starting a server for them
would make a container, or in development mode a system account ``ch-<admin>``, that
nobody asked for. So admins land on ``/hub/admin``; their server starts only when they
start it (*Start My Server* on the Hub's home page). A ``?next=`` the login carries (a
link to a page of the Hub or a server) is still followed, for admins too.
"""

from __future__ import annotations

from jupyterhub.utils import url_path_join

from .settings import Settings


def admin_landing(handler) -> str:
    """``JupyterHub.default_url``: the admin panel for admins, JupyterHub's own default
    (the user's server) for everyone else (an empty answer means "the default")."""
    try:
        user = handler.current_user
    except RuntimeError:  # asked before the request's user was looked up
        return ""
    if user is not None and user.admin:
        return url_path_join(handler.hub.base_url, "admin")
    return ""


def apply_landing(c, settings: Settings) -> None:
    c.JupyterHub.default_url = admin_landing
