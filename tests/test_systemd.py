"""coursehub@.service: the systemd unit an admin installs to run instances at boot.

No systemd runs here, so the unit is checked twice: by ``systemd-analyze verify`` where
it is installed, and by doing what systemd would do with it: run its ExecStart with its
environment (instance ``%i``), then stop it the way its KillMode and KillSignal say.
"""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

from hub_config.instances import claim
from hub_config.testing import process_running

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def unit(tmp_path) -> configparser.ConfigParser:
    done = subprocess.run(
        ["bash", REPO / "hub_config/systemd/install.sh"],
        env={**os.environ, "SYSTEMD_UNIT_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    path = tmp_path / "coursehub@.service"
    assert "@COURSEHUB_REPO@" not in path.read_text()
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(path)
    parser.path = path
    return parser


def test_the_unit_runs_the_readme_command_as_the_named_instance(unit):
    service = unit["Service"]
    assert service["ExecStart"] == f"/bin/bash {REPO}/hub_config/run.sh"
    assert service["Environment"] == "COURSEHUB_INSTANCE=%i"
    assert service["EnvironmentFile"] == "-/etc/coursehub/%i.env"
    # the Hub alone gets SIGTERM and stops everything it started itself
    assert (service["KillMode"], service["KillSignal"]) == ("mixed", "SIGTERM")
    assert service["Restart"] == "on-failure"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_accepts_the_unit(unit, tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here (Debian's systemd)")
    instance = tmp_path / "coursehub@physics.service"
    shutil.copy(unit.path, instance)
    done = subprocess.run([analyze, "verify", instance], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.hub
def test_what_systemd_runs_starts_the_instance_and_its_stop_signal_stops_all(unit):
    root = Path(tempfile.mkdtemp(prefix="coursehub-unit-", dir="/tmp"))
    root.chmod(0o755)
    name = "unit"
    environment = dict(item.split("=", 1) for item in [unit["Service"]["Environment"]])
    environment = {k: v.replace("%i", name) for k, v in environment.items()}
    port = claim(name, root).ports["port"]
    hub = subprocess.Popen(
        shlex.split(unit["Service"]["ExecStart"]),
        env={
            **os.environ,
            **environment,
            "COURSEHUB_INSTANCES_DIR": str(root),
            "COURSEHUB_SPAWNER": "local",
            "COURSEHUB_GRADER_ENABLED": "0",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert hub.poll() is None, hub.stderr.read()
            try:
                if requests.get(f"http://127.0.0.1:{port}/hub/api/", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the instance never answered"
            time.sleep(0.3)
        proxy_pid = int((root / name / "state" / "jupyterhub-proxy.pid").read_text())
        # KillMode=mixed: the stop signal to the main process (run.sh exec'd the Hub)
        hub.send_signal(getattr(signal, unit["Service"]["KillSignal"]))
        assert hub.wait(timeout=60) == 0
        deadline = time.monotonic() + 10
        while process_running(proxy_pid):
            assert time.monotonic() < deadline, "the proxy outlived the Hub"
            time.sleep(0.1)
    finally:
        if hub.poll() is None:
            hub.kill()
        shutil.rmtree(root, ignore_errors=True)
