"""Settings: everything an operator can change about the Hub, read from the environment.

The Hub is configured in two steps, like The Littlest JupyterHub: first
:meth:`Settings.from_environ` reads ``COURSEHUB_*`` environment variables into one
immutable object, then small pure ``apply_<concern>(c, settings)`` functions turn it into
traitlets configuration on ``c``. Keeping the environment out of the ``apply_*``
functions lets tests check each of them on a bare ``Config()`` with no Hub running.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .instances import DEFAULT_PORTS, DEFAULT_ROOT, claim

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


def _env_number(env: Mapping[str, str], name: str, default, kind=int):
    """A non-negative number from the environment, with an error naming the variable."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None
    if value < 0:
        raise ValueError(f"{name}={raw!r} must not be negative")
    return value


SPAWNER_CHOICES = ("auto", "docker", "local")
EXECUTOR_CHOICES = ("auto", "docker", "bubblewrap")
SMTP_SECURITY_CHOICES = ("starttls", "tls", "none")
AUTHENTICATOR_CHOICES = ("coursehub", "lti", "oauth")
OAUTH_PROVIDER_CHOICES = ("generic", "github")


def _env_list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list from the environment, blanks dropped."""
    return tuple(item.strip() for item in env.get(name, "").split(",") if item.strip())


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
    #: This Hub's instance name ("" = the machine's default Hub): the defaults of the
    #: ports, directories, system accounts and Docker names below come from it
    #: (hub_config.instances).
    instance: str = ""
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
    #: Development mode's system accounts: ``<prefix><hub username>``.
    system_user_prefix: str = "ch-"
    #: Let the grader run learners' code without a sandbox (never in production).
    allow_unsandboxed: bool = False
    #: The Hub's own database (accounts of CoursehubAuthenticator live there too).
    hub_db_url: str = ""
    #: Where learners' servers run: "docker" (one container each), "local"
    #: (development mode) or "auto" (Docker wherever an engine answers).
    spawner: str = "auto"
    #: Where the grader runs submissions: "docker", "bubblewrap" or "auto" (Docker
    #: wherever an engine answers, else the grader's own default).
    executor: str = "auto"
    #: The learners' image, also the grading sandbox's: both run the same environment.
    learner_image: str = "coursehub/learner:latest"
    #: The Python environment (``sys.prefix``) in the learner image, under which the
    #: coursehub wheel installed its Jupyter config: ``/opt/conda`` in an image built
    #: from Jupyter's docker-stacks (images/learner/Dockerfile).
    learner_python_prefix: str = "/opt/coursehub/venv"
    #: Prefix of the Docker objects the Hub creates: containers ``<prefix>-learner-<user>``,
    #: volumes ``<prefix>-user-<user>``, the network ``<prefix>-learners``.
    docker_prefix: str = "coursehub"
    #: The Docker network of learners' containers ("" = ``<docker_prefix>-learners``,
    #: created by the Hub with container-to-container traffic off).
    docker_network: str = ""
    #: The name or address learners' containers reach the Hub and proxy at ("" = the
    #: learners' network gateway, i.e. this machine; "hub" in docker-compose).
    hub_connect_host: str = ""
    #: Limits of each learner's container.
    learner_mem_limit: str = "1G"
    learner_cpu_limit: float = 1.0
    learner_pids_limit: int = 512
    #: Stop learners' servers idle for this many seconds (0: never).
    cull_timeout: int = 3600
    #: The grader when it runs elsewhere (docker-compose: ``http://grader:10101``); the
    #: Hub then routes to it and gives it ``grader_api_token`` instead of starting it.
    grader_url_internal: str = ""
    grader_api_token: str | None = None
    #: The Hub's address as people reach it, for links in mails ("" = http://ip:port).
    public_address: str = ""
    #: The accounts' mail: SMTP server ("" = a maildir in state_dir), port (0: the
    #: security mode's), "starttls" / "tls" / "none", login (its password is read by
    #: the authenticator from COURSEHUB_SMTP_PASSWORD), and the From address.
    smtp_host: str = ""
    smtp_port: int = 0
    smtp_security: str = "starttls"
    smtp_user: str = ""
    mail_from: str = ""
    #: Email domains whose verified addresses need no admin's approval.
    allowed_email_domains: tuple[str, ...] = ()
    #: How people sign in (one authenticator a Hub): "coursehub" (the password accounts
    #: above), "lti" (launched from an LMS, LTI 1.3: hub_config.lti) or "oauth" (an
    #: institution's OAuth 2 / OpenID Connect provider, or GitHub: hub_config.oauth).
    authenticator: str = "coursehub"
    #: LTI 1.3: the platforms file (JSON, read by the Hub and the grader), and the
    #: grader's RSA key for the platforms' services (None: <state_dir>/lti-tool-key.pem).
    lti_platforms_file: Path | None = None
    lti_key_file: Path | None = None
    #: OAuth: "generic" (the URLs below) or "github"; the client's id (its secret is
    #: read by the authenticator from COURSEHUB_OAUTH_CLIENT_SECRET, never kept here)
    oauth_provider: str = "generic"
    oauth_client_id: str = ""
    oauth_authorize_url: str = ""
    oauth_token_url: str = ""
    oauth_userdata_url: str = ""
    #: the user-info field that names the Hub user, and the scopes asked for
    oauth_username_claim: str = "preferred_username"
    oauth_scope: tuple[str, ...] = ("openid", "profile", "email")
    #: who may sign in: names, or groups (the user-info field `oauth_groups_claim`;
    #: GitHub: organizations); and who is an admin, by name or group. None of them and
    #: `oauth_allow_all` false: nobody but the admins gets in.
    oauth_allowed_users: tuple[str, ...] = ()
    oauth_allowed_groups: tuple[str, ...] = ()
    oauth_admin_users: tuple[str, ...] = ()
    oauth_admin_groups: tuple[str, ...] = ()
    oauth_groups_claim: str = "groups"
    oauth_allow_all: bool = False
    #: The token of the Hub's own calls to the grader (service `coursehub-hub`): random
    #: at each start unless COURSEHUB_HUB_CALLS_TOKEN is set.
    hub_calls_token: str = field(default="", repr=False)
    #: A traitlets config file loaded after everything else (any Hub option, e.g.
    #: c.CoursehubAuthenticator.allowed_email_domains).
    hub_config_file: Path | None = None

    def __post_init__(self):
        # Database URLs default to files in state_dir; fill them in here so that a
        # Settings built in a test with only state_dir is complete.
        if not self.grader_db_url:
            object.__setattr__(self, "grader_db_url", f"sqlite:///{self.state_dir}/grader.sqlite")
        if not self.hub_db_url:
            object.__setattr__(self, "hub_db_url", f"sqlite:///{self.state_dir}/jupyterhub.sqlite")
        if not self.docker_network:
            object.__setattr__(self, "docker_network", f"{self.docker_prefix}-learners")
        for name, choices in (("spawner", SPAWNER_CHOICES), ("executor", EXECUTOR_CHOICES)):
            if getattr(self, name) not in choices:
                raise ValueError(
                    f"COURSEHUB_{name.upper()}={getattr(self, name)!r}: use one of "
                    + ", ".join(choices)
                )
        if self.smtp_security not in SMTP_SECURITY_CHOICES:
            raise ValueError(
                f"COURSEHUB_SMTP_SECURITY={self.smtp_security!r}: use one of "
                + ", ".join(SMTP_SECURITY_CHOICES)
            )
        if not self.hub_calls_token:
            object.__setattr__(self, "hub_calls_token", secrets.token_hex(32))
        for name, choices in (
            ("authenticator", AUTHENTICATOR_CHOICES),
            ("oauth_provider", OAUTH_PROVIDER_CHOICES),
        ):
            if getattr(self, name) not in choices:
                raise ValueError(
                    f"COURSEHUB_{name.upper()}={getattr(self, name)!r}: use one of "
                    + ", ".join(choices)
                )
        if self.authenticator == "lti" and self.lti_platforms_file is None:
            raise ValueError(
                "COURSEHUB_AUTHENTICATOR=lti needs COURSEHUB_LTI_PLATFORMS: the JSON file "
                "of the LMS platforms launching into this Hub"
            )
        if self.grader_url_internal and not self.grader_api_token:
            raise ValueError(
                "COURSEHUB_GRADER_URL_INTERNAL needs COURSEHUB_GRADER_API_TOKEN: the Hub "
                "does not start a grader that runs elsewhere, so it cannot give it a token"
            )

    @property
    def public_url(self) -> str:
        """The Hub's public URL: as configured, else as seen from this machine."""
        return self.public_address or f"http://{self.connect_ip}:{self.port}"

    @property
    def connect_ip(self) -> str:
        """An address local processes use to reach the Hub (a wildcard is not one)."""
        return "127.0.0.1" if self.ip in ("", "0.0.0.0", "::") else self.ip

    @property
    def grader_url(self) -> str:
        """Where the grading service itself listens (the proxy routes to it)."""
        return self.grader_url_internal or f"http://127.0.0.1:{self.grader_port}"

    @property
    def grader_runs_elsewhere(self) -> bool:
        """Whether the grader is an external service (docker-compose), not the Hub's child."""
        return bool(self.grader_url_internal)

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

        defaults = _instance_defaults(env, repo_dir)
        return cls(
            state_dir=path("COURSEHUB_STATE_DIR", defaults["state_dir"]),
            instance=defaults["instance"],
            port=_env_port(env, "COURSEHUB_PORT", defaults["port"]),
            ip=env.get("COURSEHUB_IP", "127.0.0.1"),
            hub_port=_env_port(env, "COURSEHUB_HUB_PORT", defaults["hub_port"]),
            proxy_api_port=_env_port(env, "COURSEHUB_PROXY_API_PORT", defaults["proxy_api_port"]),
            admin_token=env.get("COURSEHUB_ADMIN_TOKEN") or None,
            admin_user=(env.get("COURSEHUB_ADMIN_USER") or "admin").strip().lower(),
            admin_password=env.get("COURSEHUB_ADMIN_PASSWORD") or None,
            grader_enabled=_env_bool(env, "COURSEHUB_GRADER_ENABLED", True),
            grader_port=_env_port(env, "COURSEHUB_GRADER_PORT", defaults["grader_port"]),
            grader_db_url=env.get("COURSEHUB_GRADER_DB_URL", ""),
            course_dir=path("COURSEHUB_COURSE_DIR", repo_dir / "course_content"),
            homes_dir=path("COURSEHUB_HOMES_DIR", defaults["homes_dir"]),
            system_user_prefix=defaults["system_user_prefix"],
            allow_unsandboxed=_env_bool(env, "COURSEHUB_ALLOW_UNSANDBOXED", False),
            hub_db_url=env.get("COURSEHUB_HUB_DB_URL", ""),
            spawner=(env.get("COURSEHUB_SPAWNER") or "auto").strip().lower(),
            executor=(env.get("COURSEHUB_EXECUTOR") or "auto").strip().lower(),
            learner_image=env.get("COURSEHUB_LEARNER_IMAGE") or "coursehub/learner:latest",
            learner_python_prefix=(
                env.get("COURSEHUB_LEARNER_PYTHON_PREFIX") or "/opt/coursehub/venv"
            ),
            docker_prefix=env.get("COURSEHUB_DOCKER_PREFIX") or defaults["docker_prefix"],
            docker_network=env.get("COURSEHUB_DOCKER_NETWORK", ""),
            hub_connect_host=env.get("COURSEHUB_HUB_CONNECT_HOST", ""),
            learner_mem_limit=env.get("COURSEHUB_LEARNER_MEM_LIMIT") or "1G",
            learner_cpu_limit=_env_number(env, "COURSEHUB_LEARNER_CPU_LIMIT", 1.0, float),
            learner_pids_limit=_env_number(env, "COURSEHUB_LEARNER_PIDS_LIMIT", 512, int),
            cull_timeout=_env_number(env, "COURSEHUB_CULL_TIMEOUT", 3600, int),
            grader_url_internal=(env.get("COURSEHUB_GRADER_URL_INTERNAL") or "").rstrip("/"),
            grader_api_token=env.get("COURSEHUB_GRADER_API_TOKEN") or None,
            public_address=(env.get("COURSEHUB_PUBLIC_URL") or "").rstrip("/"),
            smtp_host=env.get("COURSEHUB_SMTP_HOST", "").strip(),
            smtp_port=_env_port(env, "COURSEHUB_SMTP_PORT", 0),
            smtp_security=(env.get("COURSEHUB_SMTP_SECURITY") or "starttls").strip().lower(),
            smtp_user=env.get("COURSEHUB_SMTP_USER", ""),
            mail_from=env.get("COURSEHUB_MAIL_FROM", ""),
            allowed_email_domains=tuple(
                d.strip().lower()
                for d in env.get("COURSEHUB_ALLOWED_EMAIL_DOMAINS", "").split(",")
                if d.strip()
            ),
            authenticator=(env.get("COURSEHUB_AUTHENTICATOR") or "coursehub").strip().lower(),
            lti_platforms_file=path("COURSEHUB_LTI_PLATFORMS", None),
            lti_key_file=path("COURSEHUB_LTI_KEY_FILE", None),
            oauth_provider=(env.get("COURSEHUB_OAUTH_PROVIDER") or "generic").strip().lower(),
            oauth_client_id=env.get("COURSEHUB_OAUTH_CLIENT_ID", "").strip(),
            oauth_authorize_url=env.get("COURSEHUB_OAUTH_AUTHORIZE_URL", "").strip(),
            oauth_token_url=env.get("COURSEHUB_OAUTH_TOKEN_URL", "").strip(),
            oauth_userdata_url=env.get("COURSEHUB_OAUTH_USERDATA_URL", "").strip(),
            oauth_username_claim=(
                env.get("COURSEHUB_OAUTH_USERNAME_CLAIM") or "preferred_username"
            ).strip(),
            oauth_scope=_env_list(env, "COURSEHUB_OAUTH_SCOPE") or ("openid", "profile", "email"),
            oauth_allowed_users=_env_list(env, "COURSEHUB_OAUTH_ALLOWED_USERS"),
            oauth_allowed_groups=_env_list(env, "COURSEHUB_OAUTH_ALLOWED_GROUPS"),
            oauth_admin_users=_env_list(env, "COURSEHUB_OAUTH_ADMIN_USERS"),
            oauth_admin_groups=_env_list(env, "COURSEHUB_OAUTH_ADMIN_GROUPS"),
            oauth_groups_claim=(env.get("COURSEHUB_OAUTH_GROUPS_CLAIM") or "groups").strip(),
            oauth_allow_all=_env_bool(env, "COURSEHUB_OAUTH_ALLOW_ALL", False),
            hub_calls_token=env.get("COURSEHUB_HUB_CALLS_TOKEN", ""),
            hub_config_file=path("COURSEHUB_HUB_CONFIG", None),
        )


def _instance_defaults(env: Mapping[str, str], repo_dir: Path) -> dict:
    """The defaults a ``COURSEHUB_INSTANCE`` derives, or the default Hub's without one.

    Naming an instance claims its slot in the machine's registry (a file under
    ``COURSEHUB_INSTANCES_DIR``): reading the settings of a new instance records it.
    """
    name = (env.get("COURSEHUB_INSTANCE") or "").strip().lower()
    if not name:
        return {
            "instance": "",
            **DEFAULT_PORTS,
            "state_dir": repo_dir / ".state",
            "homes_dir": Path("/var/lib/coursehub/homes"),
            "system_user_prefix": "ch-",
            "docker_prefix": "coursehub",
        }
    root = env.get("COURSEHUB_INSTANCES_DIR")
    instance = claim(name, Path(root).expanduser().resolve() if root else DEFAULT_ROOT)
    return {
        "instance": name,
        **instance.ports,
        "state_dir": instance.state_dir,
        "homes_dir": instance.homes_dir,
        "system_user_prefix": instance.system_user_prefix,
        "docker_prefix": instance.docker_prefix,
    }


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
    from .grader_calls import apply_grader_calls
    from .hub import apply_hub
    from .landing import apply_landing
    from .roles import apply_roles
    from .services import apply_culler, apply_services
    from .shutdown import apply_shutdown
    from .spawner import apply_spawner

    apply_hub(c, settings)
    apply_auth(c, settings)
    apply_landing(c, settings)
    apply_grader_calls(c, settings)
    apply_spawner(c, settings)
    apply_services(c, settings)
    apply_roles(c, settings)
    apply_culler(c, settings)
    apply_shutdown(c, settings)
