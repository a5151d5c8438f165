"""A real coursehub Hub in a subprocess, for tests (ours and other packages').

``RunningHub`` starts ``jupyterhub -f jupyterhub_config.py`` with a private state
directory and free ports, waits until the proxy answers, and stops it with SIGTERM,
the way an operator's Ctrl-C would. configurable-http-proxy comes from npm
(:func:`ensure_chp`), installed once under ``.venv/chp``.
"""

from __future__ import annotations

import os
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

from .settings import REPO_DIR
from .spawner import delete_system_user

CHP_VERSION = "5.3.0"
CHP_PREFIX = REPO_DIR / ".venv" / "chp"


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunningHub:
    """A coursehub Hub process; use as a context manager."""

    def __init__(self, env: dict[str, str] | None = None, state_dir: Path | None = None):
        self.state_dir = Path(state_dir or tempfile.mkdtemp(prefix="coursehub-state-"))
        # learners' system accounts must traverse to their homes: not under a 0700 dir
        self.homes_dir = Path(tempfile.mkdtemp(prefix="coursehub-homes-", dir="/tmp"))
        os.chmod(self.homes_dir, 0o711)
        self.port = free_port()
        self.admin_token = secrets.token_hex(16)
        self.env = {
            **os.environ,
            "PATH": f"{ensure_chp()}{os.pathsep}{os.environ.get('PATH', '')}",
            "COURSEHUB_STATE_DIR": str(self.state_dir),
            "COURSEHUB_PORT": str(self.port),
            "COURSEHUB_HUB_PORT": str(free_port()),
            "COURSEHUB_PROXY_API_PORT": str(free_port()),
            "COURSEHUB_ADMIN_TOKEN": self.admin_token,
            "COURSEHUB_HOMES_DIR": str(self.homes_dir),
            "COURSEHUB_GRADER_PORT": str(free_port()),
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

    def cleanup(self):
        """Stop the Hub (which stops learners' servers first), delete what it made."""
        self.stop()
        for name in self.learners:
            delete_system_user(name)
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
