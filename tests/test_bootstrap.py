"""The first start's installation (hub_config/bootstrap.sh) into a prefix of its own.

A new prefix gets a virtualenv with coursehub and its dependencies, the proxy and the
JavaScript kernel, each long step announced and timed, downloads taken from the shared
cache; a second run finds everything in place and says nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
#: the cache the test run's own installation filled (tests/run.sh sources the same
#: script): a new prefix reuses its downloads, as a second checkout on a machine does
SHARED_CACHE = Path(os.environ.get("COURSEHUB_PREFIX", "/opt/coursehub")) / "cache"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="bootstrap.sh installs as root")


def bootstrap(prefix: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "COURSEHUB_PREFIX": str(prefix),
        "COURSEHUB_CACHE_DIR": str(SHARED_CACHE),
    }
    env.pop("COURSEHUB_VENV", None)
    return subprocess.run(
        ["bash", "-c", f"source {REPO}/hub_config/bootstrap.sh"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture
def prefix():
    directory = Path(tempfile.mkdtemp(prefix="coursehub-prefix-"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_a_new_prefix_is_installed_step_by_step_then_found_in_place(prefix):
    first = bootstrap(prefix)
    assert first.returncode == 0, first.stderr
    said = [line for line in first.stderr.splitlines() if line.startswith("coursehub:")]
    announced = "\n".join(said)
    for step in (
        f"creating a virtualenv in {prefix}/venv",
        "installing Python dependencies and coursehub",
        "installing configurable-http-proxy",
        "installing deno",
    ):
        assert step in announced, announced
    # every step says when it is done, and the installer's own progress shows
    assert sum("  done in " in line for line in said) >= 4, announced
    assert any("Installed" in line and "packages" in line for line in said), announced

    venv = prefix / "venv"
    version = subprocess.run(
        [venv / "bin" / "jupyterhub", "--version"], capture_output=True, text=True
    )
    assert version.returncode == 0 and version.stdout.startswith("6.")
    imported = subprocess.run(
        [venv / "bin" / "python", "-c", "import grader, hub_config, coursehub_extension"],
        capture_output=True,
        text=True,
    )
    assert imported.returncode == 0, imported.stderr
    # jsonschema's slow, unused `iri` checker is left out; notebooks still validate
    script = (
        "import importlib.util, nbformat\n"
        "assert importlib.util.find_spec('rfc3987_syntax') is None\n"
        "nbformat.validate(nbformat.v4.new_notebook())\n"
    )
    checked = subprocess.run(
        [venv / "bin" / "python", "-c", script], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
    assert (prefix / "chp" / "node_modules" / ".bin" / "configurable-http-proxy").exists()
    assert (venv / "share" / "jupyter" / "kernels" / "deno" / "kernel.json").exists()

    again = bootstrap(prefix)
    assert again.returncode == 0, again.stderr
    assert [line for line in again.stderr.splitlines() if line.startswith("coursehub:")] == []


def test_pip_installs_what_uv_cannot(prefix):
    # an index uv cannot reach (a mirror only pip's configuration knows of, say)
    venv = prefix / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", venv], check=True)
    script = (
        f"source {REPO}/hub_config/bootstrap.sh\n"
        f'{venv}/bin/pip install -q "uv==$UV_VERSION"\n'
        "python_install six==1.16.0\n"
    )
    env = {
        **os.environ,
        "COURSEHUB_BOOTSTRAP_FUNCTIONS_ONLY": "1",
        "COURSEHUB_VENV": str(venv),
        "COURSEHUB_CACHE_DIR": str(SHARED_CACHE),
        "UV_INDEX_URL": "http://127.0.0.1:9/simple",
    }
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "trying pip" in done.stderr and "Successfully installed six" in done.stderr
    six = subprocess.run([venv / "bin" / "python", "-c", "import six; print(six.__version__)"],
                         capture_output=True, text=True)  # fmt: skip
    assert six.stdout.strip() == "1.16.0"
