"""A real coursehub Hub in a subprocess, for tests (ours and other packages').

``RunningHub`` starts ``jupyterhub -f jupyterhub_config.py`` with a private state
directory and free ports, waits until the proxy answers, and stops it with SIGTERM,
the way an operator's Ctrl-C would. configurable-http-proxy comes from npm
(:func:`ensure_chp`), installed once under ``.venv/chp``.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from .accounts import codes
from .instances import DEFAULT_ROOT, claim
from .settings import REPO_DIR
from .spawner import delete_system_user

CHP_VERSION = "5.3.0"
CHP_PREFIX = REPO_DIR / ".venv" / "chp"


#: a sign-up code as the accounts' mail carries it
CODE_RE = re.compile(rf"\b[{re.escape(codes.ALPHABET)}]{{{codes.LENGTH}}}\b")


def ensure_chp(prefix: Path = CHP_PREFIX) -> Path:
    """The bin directory holding ``configurable-http-proxy``, installing it if needed."""
    on_path = shutil.which("configurable-http-proxy")
    if on_path:  # hub_config/bootstrap.sh puts it there
        return Path(on_path).parent
    bin_dir = prefix / "node_modules" / ".bin"
    if not (bin_dir / "configurable-http-proxy").exists():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is needed to install configurable-http-proxy")
        subprocess.run(
            [npm, "install", "--prefix", str(prefix), f"configurable-http-proxy@{CHP_VERSION}"],
            check=True,
            capture_output=True,
        )
    return bin_dir


def process_uid(pid: int) -> int:
    """The real uid a process runs as."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    raise AssertionError(f"no Uid in /proc/{pid}/status")


def process_running(pid: int) -> bool:
    """Whether `pid` runs (a zombie, ended and not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunningHub:
    """A coursehub Hub process; use as a context manager."""

    def __init__(
        self,
        env: dict[str, str] | None = None,
        state_dir: Path | None = None,
        instance: str | None = None,
        instances_dir: Path | None = None,
    ):
        """A Hub on free ports with private directories; or, given `instance` (and
        the registry's `instances_dir`), the named instance on what its name derives."""
        self.admin_token = secrets.token_hex(16)
        self.system_user_prefix = "ch-"
        if instance:
            claimed = claim(instance, instances_dir or DEFAULT_ROOT)
            self.state_dir, self.homes_dir = claimed.state_dir, claimed.homes_dir
            self.port = claimed.ports["port"]
            self.system_user_prefix = claimed.system_user_prefix
            placement = {
                "COURSEHUB_INSTANCE": instance,
                "COURSEHUB_INSTANCES_DIR": str(instances_dir or DEFAULT_ROOT),
            }
        else:
            self.state_dir = Path(state_dir or tempfile.mkdtemp(prefix="coursehub-state-"))
            # learners' system accounts must traverse to their homes: not under a 0700 dir
            self.homes_dir = Path(tempfile.mkdtemp(prefix="coursehub-homes-", dir="/tmp"))
            os.chmod(self.homes_dir, 0o711)
            self.port = free_port()
            placement = {
                "COURSEHUB_STATE_DIR": str(self.state_dir),
                "COURSEHUB_PORT": str(self.port),
                "COURSEHUB_HUB_PORT": str(free_port()),
                "COURSEHUB_PROXY_API_PORT": str(free_port()),
                "COURSEHUB_HOMES_DIR": str(self.homes_dir),
                "COURSEHUB_GRADER_PORT": str(free_port()),
            }
        self.env = {
            **os.environ,
            "PATH": f"{ensure_chp()}{os.pathsep}{os.environ.get('PATH', '')}",
            **placement,
            "COURSEHUB_ADMIN_TOKEN": self.admin_token,
            # development mode unless a test asks for Docker: a test machine may run an
            # engine without any test wanting it
            "COURSEHUB_SPAWNER": "local",
            "COURSEHUB_EXECUTOR": "bubblewrap",
            **(env or {}),
        }
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.state_dir / "hub.log"
        self.proc: subprocess.Popen | None = None
        #: Hub names whose development-mode system accounts cleanup() deletes
        self.learners: list[str] = []

    def start(self, timeout: float = 60) -> RunningHub:
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(REPO_DIR / "jupyterhub_config.py")],
            cwd=self.state_dir,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the Hub exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if requests.get(f"{self.url}/hub/api/", timeout=2).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"the Hub did not answer within {timeout}s:\n{self.log()}")

    def stop(self, timeout: float = 60) -> int | None:
        """SIGTERM, as an operator's Ctrl-C; the Hub stops servers and proxy itself."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def api(self, method: str, path: str, token: str | None = None, **kwargs):
        """A Hub REST API call (admin token by default)."""
        headers = {"Authorization": f"token {token or self.admin_token}"}
        return requests.request(
            method, f"{self.url}/hub/api{path}", headers=headers, timeout=30, **kwargs
        )

    def start_server(self, name: str, timeout: float = 120) -> dict:
        """Start `name`'s server through the REST API (as an admin); its server model
        once ready (``state`` holds the pid in development mode)."""
        r = self.api("POST", f"/users/{name}/server")
        if r.status_code not in (201, 202):
            raise AssertionError(f"starting {name}'s server: {r.status_code} {r.text}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            server = self.api("GET", f"/users/{name}").json()["servers"].get("", {})
            if server.get("ready"):
                return server
            time.sleep(0.5)
        raise TimeoutError(f"{name}'s server never became ready:\n{self.log()[-5000:]}")

    def mailed_code(self, address: str, timeout: float = 30) -> str:
        """The newest sign-up code mailed to `address`, from the maildir the Hub
        writes when no SMTP server is configured."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            mails = sorted((self.state_dir / "mail" / "new").glob("*"), key=os.path.getmtime)
            for path in reversed(mails):
                message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                if address in message["To"]:
                    text = message.get_body(preferencelist=("plain",)).get_content()
                    return CODE_RE.search(text).group(0)
            time.sleep(0.2)
        raise TimeoutError(f"no code was mailed to {address}")

    def sign_up_and_in(
        self, name: str, password: str, domain: str = "uni.example"
    ) -> requests.Session:
        """A person signing up at the Hub's pages, verifying the mailed code and
        signing in: their browser session. `domain` must need no approval
        (``COURSEHUB_ALLOWED_EMAIL_DOMAINS``)."""
        session = requests.Session()
        address = f"{name}@{domain}"
        fields = {"email": address, "password": password, "password_confirmation": password}
        r = self.form(session, "signup", username=name, **fields)
        if r.status_code != 201:
            raise AssertionError(f"sign-up of {name!r} answered {r.status_code}: {r.text}")
        r = self.form(session, "verify", username=name, code=self.mailed_code(address))
        if r.status_code != 200:
            raise AssertionError(f"verifying {name!r} answered {r.status_code}: {r.text}")
        r = self.form(session, "login", username=name, password=password)
        if r.status_code != 302:
            raise AssertionError(f"signing {name!r} in answered {r.status_code}: {r.text}")
        return session

    def form(self, session: requests.Session, page: str, **fields) -> requests.Response:
        """Post one of the Hub's forms (``/hub/<page>``) as a browser would, with the
        XSRF token from its cookie; redirects are not followed."""
        if "_xsrf" not in session.cookies:
            session.get(f"{self.url}/hub/login", timeout=30)
        fields["_xsrf"] = session.cookies["_xsrf"]
        return session.post(
            f"{self.url}/hub/{page}", data=fields, allow_redirects=False, timeout=30
        )

    def cleanup(self):
        """Stop the Hub (which stops learners' servers first), delete what it made."""
        self.stop()
        for name in self.learners:
            delete_system_user(name, self.system_user_prefix)
        shutil.rmtree(self.state_dir, ignore_errors=True)
        shutil.rmtree(self.homes_dir, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            print(self.log()[-20000:])
            self.cleanup()
            raise

    def __exit__(self, *exc):
        self.cleanup()
