"""Settings: everything an operator can change about the Hub, read from the environment.

The Hub is configured in two steps, like The Littlest JupyterHub: first
:meth:`Settings.from_environ` reads ``COURSEHUB_*`` environment variables into one
immutable object, then small pure ``apply_<concern>(c, settings)`` functions turn it into
traitlets configuration on ``c``. Keeping the environment out of the ``apply_*``
functions lets tests check each of them on a bare ``Config()`` with no Hub running.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: The repository checkout this package lives in (``hub_config/..``).
REPO_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    """A boolean environment variable; anything unexpected is an error naming it."""
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}={raw!r} is not a boolean: use 1/0, true/false, yes/no")


def _env_port(env: Mapping[str, str], name: str, default: int) -> int:
    """A TCP port number from the environment, with an error naming the variable."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        port = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise ValueError(f"{name}={raw!r} is not a port number between 1 and 65535")
    return port


@dataclass(frozen=True)
class Settings:
    """What an operator chooses about one coursehub Hub.

    Every field has a ``COURSEHUB_<FIELD>`` environment variable (see
    :meth:`from_environ`); the defaults give a development Hub at
    ``http://127.0.0.1:8000`` that keeps its state in ``<repo>/.state``.
    """

    #: Private state of the Hub and grader (hub DB, cookie secret, grader DB, hidden
    #: tests); created with mode 0700 so learners' processes cannot read it.
    state_dir: Path
    #: Public port of the Hub (the proxy), and the address it listens on.
    port: int = 8000
    ip: str = "127.0.0.1"
    #: Internal ports: the Hub's own API, and the proxy's REST API.
    hub_port: int = 8081
    proxy_api_port: int = 8001
    #: A token for scripts: Hub REST API as admin and the grader's authoring endpoints.
    admin_token: str | None = None
    #: The first administrator; its password, if unset, is generated at first start.
    admin_user: str = "admin"
    admin_password: str | None = None
    #: The grading service: whether the Hub runs it, its port, its database.
    grader_enabled: bool = True
    grader_port: int = 10101
    grader_db_url: str = ""
    #: The sample courses the grader loads.
    course_dir: Path = REPO_DIR / "course_content"
    #: Learners' home directories in development mode (outside state_dir: learners
    #: must reach their homes, and state_dir is closed to them).
    homes_dir: Path = Path("/var/lib/coursehub/homes")
    #: Let the grader run learners' code without a sandbox (never in production).
    allow_unsandboxed: bool = False
    #: The Hub's own database (accounts of CoursehubAuthenticator live there too).
    hub_db_url: str = ""

    def __post_init__(self):
        # Database URLs default to files in state_dir; fill them in here so that a
        # Settings built in a test with only state_dir is complete.
        if not self.grader_db_url:
            object.__setattr__(self, "grader_db_url", f"sqlite:///{self.state_dir}/grader.sqlite")
        if not self.hub_db_url:
            object.__setattr__(self, "hub_db_url", f"sqlite:///{self.state_dir}/jupyterhub.sqlite")

    @property
    def public_url(self) -> str:
        """The Hub's public URL as seen from this machine."""
        return f"http://{self.connect_ip}:{self.port}"

    @property
    def connect_ip(self) -> str:
        """An address local processes use to reach the Hub (a wildcard is not one)."""
        return "127.0.0.1" if self.ip in ("", "0.0.0.0", "::") else self.ip

    @property
    def grader_url(self) -> str:
        """Where the grading service itself listens (the proxy routes to it)."""
        return f"http://127.0.0.1:{self.grader_port}"

    @property
    def grader_public_url(self) -> str:
        """The grader through the Hub's proxy, as learners' servers call it."""
        return f"{self.public_url}/services/grader/"

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str] | None = None, repo_dir: Path = REPO_DIR
    ) -> Settings:
        """Read settings from ``COURSEHUB_*`` variables (``os.environ`` by default).

        `repo_dir` is the checkout the defaults point into (state, courses):
        jupyterhub_config.py passes its own folder, because the Hub imports this
        package from the virtualenv, not from the checkout.
        """
        env = os.environ if environ is None else environ

        def path(name: str, default: Path) -> Path:
            raw = env.get(name)
            return Path(raw).expanduser().resolve() if raw else default

        state_dir = path("COURSEHUB_STATE_DIR", repo_dir / ".state")
        return cls(
            state_dir=state_dir,
            port=_env_port(env, "COURSEHUB_PORT", 8000),
            ip=env.get("COURSEHUB_IP", "127.0.0.1"),
            hub_port=_env_port(env, "COURSEHUB_HUB_PORT", 8081),
            proxy_api_port=_env_port(env, "COURSEHUB_PROXY_API_PORT", 8001),
            admin_token=env.get("COURSEHUB_ADMIN_TOKEN") or None,
            admin_user=(env.get("COURSEHUB_ADMIN_USER") or "admin").strip().lower(),
            admin_password=env.get("COURSEHUB_ADMIN_PASSWORD") or None,
            grader_enabled=_env_bool(env, "COURSEHUB_GRADER_ENABLED", True),
            grader_port=_env_port(env, "COURSEHUB_GRADER_PORT", 10101),
            grader_db_url=env.get("COURSEHUB_GRADER_DB_URL", ""),
            course_dir=path("COURSEHUB_COURSE_DIR", repo_dir / "course_content"),
            homes_dir=path("COURSEHUB_HOMES_DIR", Path("/var/lib/coursehub/homes")),
            allow_unsandboxed=_env_bool(env, "COURSEHUB_ALLOW_UNSANDBOXED", False),
            hub_db_url=env.get("COURSEHUB_HUB_DB_URL", ""),
        )


def ensure_state_dir(settings: Settings) -> Path:
    """Create the state directory (mode 0700) if needed, and close it if it was open."""
    settings.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkdir's mode is masked by umask and ignored for an existing directory
    os.chmod(settings.state_dir, 0o700)
    return settings.state_dir


def apply_all(c, settings: Settings) -> None:
    """Apply every concern of the coursehub Hub to the config object ``c``."""
    # imported here: each module imports Settings from this one
    from .authenticator import apply_auth
    from .hub import apply_hub
    from .roles import apply_roles
    from .services import apply_services
    from .spawner import apply_spawner

    apply_hub(c, settings)
    apply_auth(c, settings)
    apply_spawner(c, settings)
    apply_services(c, settings)
    apply_roles(c, settings)
