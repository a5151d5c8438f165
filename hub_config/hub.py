"""The Hub's own settings: where it listens and keeps state (its shutdown: hub_config.shutdown)."""

from __future__ import annotations

import sys

from .settings import Settings, ensure_state_dir


def apply_hub(c, settings: Settings) -> None:
    """Addresses, database, cookie secret, default URL and timeouts.

    Creates the state directory (mode 0700): the Hub refuses a cookie secret file
    that others can read, and the state directory also holds the grader's hidden tests.
    """
    state = ensure_state_dir(settings)
    if settings.instance:
        # the one line an admin running several Hubs needs: which one this is, and where
        print(
            f"coursehub instance {settings.instance!r}: {settings.public_url}, "
            f"state in {settings.state_dir}",
            file=sys.stderr,
            flush=True,
        )

    c.JupyterHub.bind_url = f"http://{settings.ip}:{settings.port}"
    # the Hub's API only ever talks to local processes in this layout
    c.JupyterHub.hub_ip = "127.0.0.1"
    c.JupyterHub.hub_port = settings.hub_port
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings.proxy_api_port}"
    # in the state dir, not the Hub's working directory, so that several hubs (tests)
    # never share or clobber a pid file
    c.ConfigurableHTTPProxy.pid_file = str(state / "jupyterhub-proxy.pid")
    c.JupyterHub.db_url = settings.hub_db_url
    c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
    c.JupyterHub.pid_file = str(state / "jupyterhub.pid")

    c.Spawner.default_url = "/lab"
    # a learner's first start also creates a system account or pulls an image
    c.Spawner.start_timeout = 120
    c.Spawner.http_timeout = 60
