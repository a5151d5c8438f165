"""LocalDevSpawner: development mode, one unprivileged system account per learner.

On a machine without a Docker engine, learners' servers are local processes. Running
them all as one user (or as root) would let any learner read the grader's state
(hidden tests) and every other learner's work. So each learner gets a system account
``ch-<name>`` with a private home (mode 0700) under ``homes_dir``, created on first
spawn, and their server runs as that account. The Hub's state directory is 0700 root,
so it stays closed to them.

This is *development mode*: no memory or CPU limits, and the learner shares the
machine's filesystem view. Production uses containers (DockerSpawner).
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import pwd
import socket
import subprocess
import sys
import time
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner, set_user_setuid
from traitlets import Integer, Unicode, default

from grader.scopes import COURSE_GROUP_PREFIX, INSTRUCTORS_SUFFIX

from .roles import INSTRUCTORS_GROUP
from .settings import Settings
from .shutdown import CleanStopMixin, kill_processes_of

DEVELOPMENT_MODE_MESSAGE = (
    "coursehub runs in development mode: learners' servers are local processes, not containers"
)

#: a Hub may refuse "ch-" plus any longer name: system account names have <= 32 chars
MAX_SYSTEM_USERNAME = 32

#: The instructors' extra Jupyter config directory, relative to the Python environment
#: the coursehub wheel is installed in (pyproject's shared-data). Its labconfig turns
#: nbgrader's Create Assignment sidebar back on, which the environment's own config
#: (``etc/jupyter/labconfig/page_config.d/coursehub_nbgrader.json``) turns off.
INSTRUCTOR_JUPYTER_CONFIG = "etc/jupyter/coursehub-instructor"


def is_instructor(user) -> bool:
    """Whether a Hub user (``spawner.user``, or its ORM object) teaches: in the
    instructors group, or a course's (``course-<slug>-instructors``, hub_config.courses)."""
    return any(
        group.name == INSTRUCTORS_GROUP
        or (group.name.startswith(COURSE_GROUP_PREFIX) and group.name.endswith(INSTRUCTORS_SUFFIX))
        for group in user.groups
    )


def front_end_environment(python_prefix: str) -> dict:
    """``Spawner.environment`` entries choosing the front end a user's server shows.

    A learner's server shows the environment's default, with none of nbgrader's menus;
    an instructor's gets ``JUPYTER_CONFIG_PATH`` (the highest-priority Jupyter config
    directory) set to the instructors' config under `python_prefix`, the server's
    ``sys.prefix``. A learner's value is empty, which Jupyter treats as unset
    (jupyter_core's ``jupyter_config_path``): a server started without the instructors'
    directory is a learner's. Groups are read when the server starts, so a new
    instructor sees the sidebar from their next server start.
    """
    config_dir = posixpath.join(python_prefix, INSTRUCTOR_JUPYTER_CONFIG)

    def jupyter_config_path(spawner) -> str:
        return config_dir if is_instructor(spawner.user) else ""

    return {"JUPYTER_CONFIG_PATH": jupyter_config_path}


class LocalDevSpawner(CleanStopMixin, LocalProcessSpawner):
    """Runs each learner's ``jupyterhub-singleuser`` as the system account ``ch-<name>``;
    stopped with SIGTERM, then whatever the account still runs is killed (shutdown)."""

    system_user_prefix = Unicode(
        "ch-",
        help="Prefix of learners' system account names (`<prefix><hub username>`).",
    ).tag(config=True)

    homes_dir = Unicode(
        help="""Directory holding learners' homes (`<homes_dir>/<hub username>`).

        Created with mode 0711: learners reach their own home but cannot list others'.
        Must not be inside the Hub's state directory.
        """,
    ).tag(config=True)

    @default("homes_dir")
    def _homes_dir_default(self):
        return os.environ.get("COURSEHUB_HOMES_DIR", "/var/lib/coursehub/homes")

    home_mode = Integer(
        0o700, help="Mode of each learner's home directory (private by default)."
    ).tag(config=True)

    login_shell = Unicode(
        "/usr/sbin/nologin",
        help="Login shell of the system accounts: nobody logs in to them directly.",
    ).tag(config=True)

    terminal_shell = Unicode(
        "/bin/bash",
        help="$SHELL of the learner's server, used by JupyterLab terminals.",
    ).tag(config=True)

    grader_url = Unicode(
        help="""The grading service as the learner's server reaches it, through the
        Hub's proxy; given to the server as $COURSEHUB_GRADER_URL.""",
    ).tag(config=True)

    @default("grader_url")
    def _grader_url_default(self):
        return os.environ.get("COURSEHUB_GRADER_URL", "http://127.0.0.1:8000/services/grader/")

    @default("cmd")
    def _cmd_default(self):
        # the Hub's own venv (world-readable by design), not whatever is on PATH
        return [os.path.join(os.path.dirname(sys.executable), "jupyterhub-singleuser")]

    @property
    def system_username(self) -> str:
        return f"{self.system_user_prefix}{self.user.name}"

    @property
    def home_dir(self) -> str:
        return os.path.join(self.homes_dir, self.user.name)

    # -- the system account ----------------------------------------------------------

    async def ensure_system_user(self) -> pwd.struct_passwd:
        """Create ``ch-<name>`` and its private home if missing; return its passwd entry."""
        name = self.system_username
        if len(name) > MAX_SYSTEM_USERNAME:
            raise ValueError(
                f"Hub user {self.user.name!r} is too long for a system account "
                f"({name!r} has more than {MAX_SYSTEM_USERNAME} characters)"
            )
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._make_homes_dir)
        try:
            entry = await loop.run_in_executor(None, pwd.getpwnam, name)
        except KeyError:
            entry = None
        if entry is None:
            self.log.info("Creating system account %s for %s", name, self.user.name)
            proc = await asyncio.create_subprocess_exec(
                *["useradd", "--system", "--create-home", "--home-dir", self.home_dir],
                *["--shell", self.login_shell, "--user-group", name],
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            out, _ = await proc.communicate()
            if proc.returncode != 0:
                raise RuntimeError(
                    f"Could not create the system account {name!r} for {self.user.name!r}: "
                    f"useradd exited with {proc.returncode}: {out.decode(errors='replace')}"
                )
            entry = await loop.run_in_executor(None, pwd.getpwnam, name)
        await loop.run_in_executor(None, self._secure_home, entry)
        return entry

    def _make_homes_dir(self):
        os.makedirs(self.homes_dir, mode=0o711, exist_ok=True)

    def _secure_home(self, entry: pwd.struct_passwd):
        # an account created earlier by hand, or a home deleted since, still gets
        # a private home owned by its learner
        home = entry.pw_dir
        os.makedirs(home, exist_ok=True)
        os.chown(home, entry.pw_uid, entry.pw_gid)
        os.chmod(home, self.home_mode)

    # -- what LocalProcessSpawner does with the Hub username, done with the account --

    def make_preexec_fn(self, name):
        return set_user_setuid(self.system_username)

    def user_env(self, env):
        entry = pwd.getpwnam(self.system_username)
        env["USER"] = entry.pw_name
        env["LOGNAME"] = entry.pw_name
        env["HOME"] = entry.pw_dir
        env["SHELL"] = self.terminal_shell
        return env

    def get_env(self):
        env = super().get_env()
        env["COURSEHUB_GRADER_URL"] = self.grader_url
        return env

    async def move_certs(self, paths):
        raise NotImplementedError("LocalDevSpawner does not support JupyterHub.internal_ssl")

    @default("notebook_dir")
    def _notebook_dir_default(self):
        # the server's root directory is the learner's home
        return self.home_dir

    async def start(self):
        await self.ensure_system_user()
        return await super().start()


def delete_system_user(username: str, prefix: str = "ch-") -> bool:
    """Delete a learner's system account and home (``userdel -r``); False if none.

    For tests and operators; stop the learner's server first. Processes of the account
    still left (kernels a stopped server left behind, ending in their own time) are
    killed: userdel refuses to delete an account that has any.
    """
    name = f"{prefix}{username}"
    try:
        uid = pwd.getpwnam(name).pw_uid
    except KeyError:
        return False
    deadline = time.monotonic() + 10
    while kill_processes_of(uid) and time.monotonic() < deadline:
        time.sleep(0.2)  # until none is left to signal
    subprocess.run(["userdel", "-r", name], check=True, capture_output=True)
    return True


def docker_engine_answers(socket_path: str = "/var/run/docker.sock", timeout: float = 1) -> bool:
    """Whether a Docker engine answers ``GET /_ping`` on its unix socket."""
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        socket_path = host[len("unix://") :]
    elif host:
        return False  # a remote engine: DockerSpawner will decide later
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(socket_path)
            s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return s.recv(64).split(b" ")[1:2] == [b"200"]
    except (OSError, IndexError):
        return False


def use_docker(choice: str, docker_probe=docker_engine_answers) -> bool:
    """Whether a ``COURSEHUB_SPAWNER``/``COURSEHUB_EXECUTOR`` choice means Docker.

    "auto" asks the engine; "docker" insists on it (an error, not a silent fallback to
    development mode, where none answers); anything else means no Docker.
    """
    if choice == "docker":
        if not docker_probe():
            raise RuntimeError(
                "Docker was asked for (COURSEHUB_SPAWNER/COURSEHUB_EXECUTOR=docker), "
                "but no Docker engine answers on its socket"
            )
        return True
    return choice == "auto" and docker_probe()


def apply_spawner(
    c, settings: Settings, docker_probe=docker_engine_answers, network_gateway=None
) -> None:
    """DockerSpawner wherever a Docker engine answers, else LocalDevSpawner.

    `network_gateway(name)` returns the learners' network gateway, creating the
    network if needed (default: :func:`hub_config.docker.ensure_learner_network`);
    it is not called when the Hub is reached by name (docker-compose).
    """
    from .docker import apply_docker_spawner, ensure_learner_network

    if use_docker(settings.spawner, docker_probe):

        def learners_gateway(name: str) -> str:
            # a probe container, the last way to find the gateway, runs the learners' image
            return ensure_learner_network(name, probe_image=settings.learner_image)

        connect_host = settings.hub_connect_host or (network_gateway or learners_gateway)(
            settings.docker_network
        )
        apply_docker_spawner(c, settings, connect_host)
        return
    if settings.spawner == "local":
        reason = "COURSEHUB_SPAWNER=local"
    else:
        reason = "no Docker engine answers"
    print(f"{DEVELOPMENT_MODE_MESSAGE} ({reason})", file=sys.stderr, flush=True)
    c.JupyterHub.spawner_class = LocalDevSpawner
    c.LocalDevSpawner.homes_dir = str(settings.homes_dir)
    c.LocalDevSpawner.system_user_prefix = settings.system_user_prefix
    c.LocalDevSpawner.grader_url = settings.grader_public_url
    c.LocalDevSpawner.cmd = [str(Path(sys.executable).parent / "jupyterhub-singleuser")]
    # learners' servers run in the Hub's own environment
    c.LocalDevSpawner.environment = front_end_environment(sys.prefix)
