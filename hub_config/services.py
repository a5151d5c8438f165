"""Hub services: the grader, which the Hub starts and stops, and the admin-token service.

The grader runs as ``python -m grader`` under the Hub (a *managed* service): the Hub
gives it ``JUPYTERHUB_API_TOKEN``, ``JUPYTERHUB_SERVICE_URL`` and friends, routes
``/services/grader/`` to it through the proxy and restarts it if it dies. Its own
settings travel in ``environment``, because a managed service does not inherit the
Hub's environment beyond a few variables (``Spawner.env_keep``).
"""

from __future__ import annotations

import sys

from .roles import ADMIN_SERVICE, AUTHOR_SCOPE, GRADER_SERVICE, LEARN_SCOPE
from .settings import Settings


def grader_service(settings: Settings) -> dict:
    """The service spec of the grading service."""
    return {
        "name": GRADER_SERVICE,
        "display": True,
        "info": {"description": "coursehub grading service"},
        "url": settings.grader_url,
        "command": [sys.executable, "-m", "grader"],
        "cwd": str(settings.state_dir),
        "environment": {
            "COURSEHUB_GRADER_DB_URL": settings.grader_db_url,
            "COURSEHUB_COURSE_DIR": str(settings.course_dir),
            "COURSEHUB_ALLOW_UNSANDBOXED": "1" if settings.allow_unsandboxed else "0",
            "COURSEHUB_STATE_DIR": str(settings.state_dir),
            "COURSEHUB_GRADER_PORT": str(settings.grader_port),
        },
        # learners open the grader in the browser: no "authorize this service?" page
        "oauth_no_confirm": True,
        # scopes an OAuth cookie for the grader may carry (intersected with the
        # user's own): without them the grader would see only the user's name
        "oauth_client_allowed_scopes": [LEARN_SCOPE, AUTHOR_SCOPE],
    }


def admin_service(settings: Settings) -> dict:
    """A token-only service for scripts: Hub admin plus instructor scopes (see roles)."""
    return {"name": ADMIN_SERVICE, "api_token": settings.admin_token}


def apply_services(c, settings: Settings) -> None:
    """The grader (unless disabled) and, with ``COURSEHUB_ADMIN_TOKEN``, the admin service."""
    services = []
    if settings.grader_enabled:
        services.append(grader_service(settings))
    if settings.admin_token:
        services.append(admin_service(settings))
    c.JupyterHub.services = services
