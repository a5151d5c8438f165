"""Hub services: the grader, which the Hub starts and stops, and the admin-token service.

The grader runs as ``python -m grader`` under the Hub (a *managed* service): the Hub
gives it ``JUPYTERHUB_API_TOKEN``, ``JUPYTERHUB_SERVICE_URL`` and friends, routes
``/services/grader/`` to it through the proxy and restarts it if it dies. Its own
settings travel in ``environment``, because a managed service does not inherit the
Hub's environment beyond a few variables (``Spawner.env_keep``).

With docker-compose the grader is a container of its own: an *external* service, which
the Hub routes to (``COURSEHUB_GRADER_URL_INTERNAL``) and knows by the token both share
(``COURSEHUB_GRADER_API_TOKEN``), but does not start.

Idle learners' servers are stopped by jupyterhub-idle-culler, also a managed service.
"""

from __future__ import annotations

import os
import sys

from .roles import ADMIN_SERVICE, AUTHOR_SCOPE, GRADER_SERVICE, HUB_CALLS_SERVICE, LEARN_SCOPE
from .settings import Settings
from .spawner import docker_engine_answers, use_docker

CULLER_SERVICE = "idle-culler"
#: exactly what jupyterhub-idle-culler's README lists for culling servers (not users)
CULLER_SCOPES = ["list:users", "read:users:activity", "read:servers", "delete:servers"]


def executor_args(settings: Settings, docker_probe=docker_engine_answers) -> list[str]:
    """Command-line options choosing the grader's executor (none: the grader's default).

    Grading containers run the learners' image: submissions are graded in the
    environment learners wrote them in.
    """
    if use_docker(settings.executor, docker_probe):
        return [
            "--GraderApp.executor_class=docker",
            f"--DockerExecutor.image={settings.learner_image}",
            # named like the Hub's other Docker objects, so one prefix finds them all
            f"--DockerExecutor.name_prefix={settings.docker_prefix}-grading-",
        ]
    if settings.executor == "bubblewrap":
        return ["--GraderApp.executor_class=bubblewrap"]
    return []


def grader_command(options: list[str]) -> list[str]:
    """``python -m grader`` with traitlets options (``--Class.trait=value``)."""
    return [sys.executable, "-m", "grader", *options]


AI_KEY_PREFIX = "COURSEHUB_AI_"


def grader_service(settings: Settings, docker_probe=docker_engine_answers) -> dict:
    """The service spec of the grading service: managed, or external (docker-compose)."""
    spec = {
        "name": GRADER_SERVICE,
        "display": True,
        "info": {"description": "coursehub grading service"},
        "url": settings.grader_url,
        # learners open the grader in the browser: no "authorize this service?" page
        "oauth_no_confirm": True,
        # scopes an OAuth cookie for the grader may carry (intersected with the
        # user's own): without them the grader would see only the user's name
        "oauth_client_allowed_scopes": [LEARN_SCOPE, AUTHOR_SCOPE],
    }
    if settings.grader_runs_elsewhere:
        # its container has its own settings; the shared token is how the Hub knows it
        spec["api_token"] = settings.grader_api_token
        spec["oauth_redirect_uri"] = f"{settings.grader_public_url}oauth_callback"
        return spec
    spec["command"] = grader_command(executor_args(settings, docker_probe))
    spec["cwd"] = str(settings.state_dir)
    spec["environment"] = {
        "COURSEHUB_GRADER_DB_URL": settings.grader_db_url,
        "COURSEHUB_COURSE_DIR": str(settings.course_dir),
        "COURSEHUB_ALLOW_UNSANDBOXED": "1" if settings.allow_unsandboxed else "0",
        "COURSEHUB_STATE_DIR": str(settings.state_dir),
        "COURSEHUB_GRADER_PORT": str(settings.grader_port),
        "COURSEHUB_EXECUTOR": settings.executor,
    }
    # the keys of courses' AI endpoints: a course names its variable (grader.ai), and
    # only COURSEHUB_AI_* names are accepted there (AIAssistant.api_key_env_pattern)
    spec["environment"].update(
        {name: value for name, value in os.environ.items() if name.startswith(AI_KEY_PREFIX)}
    )
    # LTI 1.3: the grader reads the same platforms file as the Hub (courses linked,
    # the platforms' token URLs for grade passback and rosters) and holds the tool's key
    if settings.lti_platforms_file is not None:
        spec["environment"]["COURSEHUB_LTI_PLATFORMS"] = str(settings.lti_platforms_file)
    if settings.lti_key_file is not None:
        spec["environment"]["COURSEHUB_LTI_KEY_FILE"] = str(settings.lti_key_file)
    return spec


def admin_service(settings: Settings) -> dict:
    """A token-only service for scripts: Hub admin plus instructor scopes (see roles)."""
    return {"name": ADMIN_SERVICE, "api_token": settings.admin_token}


def hub_calls_service(settings: Settings) -> dict:
    """The token-only service the Hub process calls the grader as (hub_config.grader_calls):
    its role (hub_config.roles) grants the Hub's scope, which no user ever holds."""
    return {"name": HUB_CALLS_SERVICE, "api_token": settings.hub_calls_token}


def culler_service(settings: Settings) -> dict:
    """jupyterhub-idle-culler, stopping servers idle for ``cull_timeout`` seconds."""
    return {
        "name": CULLER_SERVICE,
        "command": [
            sys.executable,
            "-m",
            "jupyterhub_idle_culler",
            f"--timeout={settings.cull_timeout}",
            # look often enough that a server is stopped within a tenth of the timeout
            f"--cull-every={max(10, min(300, settings.cull_timeout // 10))}",
        ],
    }


def culler_role() -> dict:
    return {
        "name": CULLER_SERVICE,
        "description": "Stop learners' idle servers",
        "scopes": list(CULLER_SCOPES),
        "services": [CULLER_SERVICE],
    }


def apply_culler(c, settings: Settings) -> None:
    """The idle culler and its role, unless ``COURSEHUB_CULL_TIMEOUT=0``.

    Applied after :func:`hub_config.roles.apply_roles`, which sets the role list.
    """
    if settings.cull_timeout <= 0:
        return
    c.JupyterHub.services = [*c.JupyterHub.services, culler_service(settings)]
    c.JupyterHub.load_roles = [*c.JupyterHub.load_roles, culler_role()]


def apply_services(c, settings: Settings, docker_probe=docker_engine_answers) -> None:
    """The grader and the Hub's own service calling it (unless the grader is disabled)
    and, with ``COURSEHUB_ADMIN_TOKEN``, the admin service."""
    services = []
    if settings.grader_enabled:
        services.append(grader_service(settings, docker_probe))
        services.append(hub_calls_service(settings))
    if settings.admin_token:
        services.append(admin_service(settings))
    c.JupyterHub.services = services
