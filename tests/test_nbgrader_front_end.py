"""nbgrader's front end in learners' and instructors' servers.

The ``coursehub`` package depends on nbgrader (its notebook format is coursehub's), and
installing nbgrader enables its Jupyter server extensions and JupyterLab plugins for
everyone. They work with nbgrader's exchange and gradebook, which coursehub does not
use, so coursehub's config (``extensions/jupyter-config/``, installed by the wheel under
``<prefix>/etc/jupyter``) turns them off: no nbgrader endpoint and no nbgrader menu in
a learner's server. An instructor's server (``JUPYTER_CONFIG_PATH``, set by the spawner
for the ``instructors`` group) gets nbgrader's *Create Assignment* sidebar back, which
only writes the nbgrader cell metadata coursehub's authoring reads.

The first tests read the installed config the way Jupyter does, with no server; the
others start real servers through a real Hub, in development mode and (where a Docker
engine answers) in Docker mode.
"""

from __future__ import annotations

import html
import json
import os
import re
import secrets
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from jupyterhub import orm
from traitlets.config import Config

from hub_config.roles import INSTRUCTORS_GROUP
from hub_config.settings import Settings
from hub_config.spawner import INSTRUCTOR_JUPYTER_CONFIG, apply_spawner, is_instructor
from hub_config.testing import RunningHub
from tests.docker_support import remove_test_objects, unique_prefix

NBGRADER_PACKAGE = "@jupyter/nbgrader"
#: every plugin @jupyter/nbgrader 0.9 exports (its static/*.js: `id:"@jupyter/nbgrader:…"`)
NBGRADER_PLUGINS = {
    f"{NBGRADER_PACKAGE}:{name}"
    for name in (
        "menu",
        "formgrader",
        "assignment-list",
        "course-list",
        "create-assignment",
        "validate-assignment",
    )
}
CREATE_ASSIGNMENT = f"{NBGRADER_PACKAGE}:create-assignment"
NBGRADER_SERVER_EXTENSIONS = {
    f"nbgrader.server_extensions.{name}"
    for name in ("formgrader", "assignment_list", "course_list", "validate_assignment")
}
#: what nbgrader's front end asks its server extensions for (their default_handlers)
NBGRADER_ENDPOINTS = [
    ("GET", "formgrader"),
    ("GET", "formgrader/api/status"),
    ("GET", "formgrader/api/assignments"),
    ("GET", "assignments"),
    ("GET", "assignments?course_id=x"),
    ("GET", "courses"),
    ("GET", "formgraders"),
    ("GET", "nbgrader_version?version=0.9.6"),
    ("POST", "assignments/validate?path=question.ipynb"),
]
ENV_CONFIG_DIR = Path(sys.prefix) / "etc" / "jupyter"


def nbgrader_installed() -> bool:
    return (Path(sys.prefix) / "share/jupyter/labextensions" / NBGRADER_PACKAGE).is_dir()


# -- the installed config, read as Jupyter reads it -----------------------------------


def test_nbgrader_server_extensions_off_in_the_environment():
    """The environment's config (read the way ServerApp.find_server_extensions reads
    it) disables all four of nbgrader's server extensions and keeps coursehub's."""
    from jupyter_server.extension.config import ExtensionConfigManager

    found = ExtensionConfigManager(read_config_path=[str(ENV_CONFIG_DIR)])
    extensions = found.get_jpserver_extensions()
    assert {name: extensions.get(name) for name in NBGRADER_SERVER_EXTENSIONS} == dict.fromkeys(
        NBGRADER_SERVER_EXTENSIONS, False
    )
    assert extensions["coursehub_extension"] is True
    # files of a .d directory merge in name order: coursehub's must come after nbgrader's
    names = sorted(p.name for p in (ENV_CONFIG_DIR / "jupyter_server_config.d").glob("*.json"))
    assert names[-1].startswith("zz_coursehub"), names


def page_config(monkeypatch, config_path: str | None) -> dict:
    """The page config JupyterLab's page handler builds, in an environment where
    JUPYTER_CONFIG_PATH is `config_path`; user-level config left out."""
    from jupyter_core.paths import jupyter_path
    from jupyterlab_server.config import get_page_config

    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(ENV_CONFIG_DIR / "no-such-user-config"))
    if config_path is None:
        monkeypatch.delenv("JUPYTER_CONFIG_PATH", raising=False)
    else:
        monkeypatch.setenv("JUPYTER_CONFIG_PATH", config_path)
    return get_page_config(jupyter_path("labextensions"))


@pytest.mark.skipif(not nbgrader_installed(), reason="nbgrader's labextension not installed")
def test_learner_page_config_disables_every_nbgrader_plugin(monkeypatch):
    disabled = set(page_config(monkeypatch, None)["disabledExtensions"])
    assert NBGRADER_PLUGINS | {NBGRADER_PACKAGE} <= disabled
    # an empty JUPYTER_CONFIG_PATH (a learner's, in Docker mode) is no config path
    assert NBGRADER_PLUGINS <= set(page_config(monkeypatch, "")["disabledExtensions"])


@pytest.mark.skipif(not nbgrader_installed(), reason="nbgrader's labextension not installed")
def test_instructor_config_dir_enables_create_assignment_only(monkeypatch):
    instructor_dir = Path(sys.prefix) / INSTRUCTOR_JUPYTER_CONFIG
    assert (instructor_dir / "labconfig").is_dir()
    disabled = set(page_config(monkeypatch, str(instructor_dir))["disabledExtensions"])
    assert CREATE_ASSIGNMENT not in disabled and NBGRADER_PACKAGE not in disabled
    assert NBGRADER_PLUGINS - {CREATE_ASSIGNMENT} <= disabled


# -- who is an instructor, in both spawners' configuration ----------------------------


def user_in(*groups: str) -> orm.User:
    """A Hub user (the ORM object the spawner's user wraps) in these groups."""
    user = orm.User(name=f"u{secrets.token_hex(3)}")
    user.groups = [orm.Group(name=name) for name in groups]
    return user


def test_is_instructor():
    assert is_instructor(user_in(INSTRUCTORS_GROUP))
    assert is_instructor(user_in("course-a", INSTRUCTORS_GROUP))
    assert not is_instructor(user_in())
    assert not is_instructor(user_in("course-a", "restricted"))


def test_docker_spawner_gives_instructors_the_image_config_dir(tmp_path):
    c = Config()
    settings = Settings.from_environ(
        {
            "COURSEHUB_STATE_DIR": str(tmp_path),
            "COURSEHUB_SPAWNER": "docker",
            "COURSEHUB_LEARNER_PYTHON_PREFIX": "/opt/conda",
        }
    )
    assert Settings(state_dir=tmp_path).learner_python_prefix == "/opt/coursehub/venv"
    apply_spawner(c, settings, docker_probe=lambda: True, network_gateway=lambda name: "10.0.0.1")
    value = c.DockerSpawner.environment["JUPYTER_CONFIG_PATH"]
    instructor = SimpleNamespace(user=user_in(INSTRUCTORS_GROUP))
    learner = SimpleNamespace(user=user_in("course-a"))
    assert value(instructor) == f"/opt/conda/{INSTRUCTOR_JUPYTER_CONFIG}"
    assert value(learner) == ""


def test_local_spawner_gives_instructors_this_environment_config_dir(tmp_path):
    c = Config()
    apply_spawner(c, Settings(state_dir=tmp_path, spawner="local"))
    value = c.LocalDevSpawner.environment["JUPYTER_CONFIG_PATH"]
    instructor = SimpleNamespace(user=user_in(INSTRUCTORS_GROUP))
    assert value(instructor) == os.path.join(sys.prefix, INSTRUCTOR_JUPYTER_CONFIG)
    assert value(SimpleNamespace(user=user_in())) == ""


# -- real servers through a real Hub ------------------------------------------------

RUN = secrets.token_hex(2)  # system accounts are machine-wide: keep concurrent runs apart


@pytest.fixture(
    scope="module",
    params=["local", pytest.param("docker", marks=pytest.mark.docker)],
)
def hub(request):
    """A real Hub with no grader: development mode, and Docker mode (the learner image,
    with the wheel installed at COURSEHUB_LEARNER_PYTHON_PREFIX's default)."""
    if request.param == "local":
        with RunningHub(env={"COURSEHUB_GRADER_ENABLED": "0"}) as running:
            yield running
        return
    engine = request.getfixturevalue("docker_engine")
    image = request.getfixturevalue("learner_image")
    prefix = unique_prefix("nbg").rstrip("-")
    env = {
        "COURSEHUB_GRADER_ENABLED": "0",
        "COURSEHUB_SPAWNER": "docker",
        "COURSEHUB_LEARNER_IMAGE": image,
        "COURSEHUB_DOCKER_PREFIX": prefix,
    }
    try:
        with RunningHub(env=env) as running:
            yield running
    finally:
        remove_test_objects(engine, prefix)


class Server:
    """A Hub user's running server, called through the proxy with the user's token."""

    def __init__(self, hub: RunningHub, name: str, groups=(), timeout: float = 120):
        self.hub, self.name = hub, name
        hub.learners.append(name)
        r = hub.api("POST", f"/users/{name}")
        assert r.status_code == 201, r.text
        for group in groups:
            # before the server starts: the spawner reads the groups at spawn time
            r = hub.api("POST", f"/groups/{group}/users", json={"users": [name]})
            assert r.status_code == 200, r.text
        r = hub.api("POST", f"/users/{name}/tokens", json={"note": "nbgrader front end"})
        assert r.status_code == 201, r.text
        self.token = r.json()["token"]
        r = hub.api("POST", f"/users/{name}/server")
        assert r.status_code in (201, 202), r.text
        deadline = time.monotonic() + timeout
        while not hub.api("GET", f"/users/{name}").json()["servers"].get("", {}).get("ready"):
            assert time.monotonic() < deadline, f"{name}'s server not ready:\n{hub.log()[-5000:]}"
            time.sleep(0.5)

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(
            method,
            f"{self.hub.url}/user/{self.name}/{path}",
            headers={"Authorization": f"token {self.token}"},
            timeout=60,
            allow_redirects=False,
            **kwargs,
        )

    def page_config(self, page: str) -> dict:
        """The ``jupyter-config-data`` a JupyterLab (or Notebook) page starts from."""
        r = self.call("GET", page)
        assert r.status_code == 200, r.text[:2000]
        found = re.search(
            r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
            r.text,
            re.DOTALL,
        )
        assert found, r.text[:2000]
        return json.loads(html.unescape(found.group(1)))


@pytest.fixture(scope="module")
def learner(hub):
    return Server(hub, f"nbg-learner-{RUN}")


@pytest.fixture(scope="module")
def instructor(hub):
    return Server(hub, f"nbg-teacher-{RUN}", groups=[INSTRUCTORS_GROUP])


def assert_no_nbgrader_endpoint(server: Server):
    answers = {f"{m} {p}": server.call(m, p).status_code for m, p in NBGRADER_ENDPOINTS}
    assert answers == dict.fromkeys(answers, 404), answers
    # the server itself answers: its contents API and coursehub's page are there
    assert server.call("GET", "api/contents").status_code == 200


@pytest.mark.hub
def test_learner_server_has_no_nbgrader_front_end(learner):
    assert_no_nbgrader_endpoint(learner)
    for page in ("lab", "tree"):  # JupyterLab, and Notebook 7's file browser
        config = learner.page_config(page)
        disabled = set(config["disabledExtensions"])
        assert NBGRADER_PLUGINS | {NBGRADER_PACKAGE} <= disabled, (page, disabled)
        loaded = {ext["name"] for ext in config["federated_extensions"]}
        assert "@coursehub/labextension" in loaded
        assert "@coursehub/labextension" not in disabled


@pytest.mark.hub
def test_instructor_server_keeps_create_assignment_only(instructor, learner):
    assert_no_nbgrader_endpoint(instructor)
    disabled = set(instructor.page_config("lab")["disabledExtensions"])
    assert CREATE_ASSIGNMENT not in disabled and NBGRADER_PACKAGE not in disabled
    assert NBGRADER_PLUGINS - {CREATE_ASSIGNMENT} <= disabled
    # the learner's server, on the same Hub, still shows none of it
    assert CREATE_ASSIGNMENT in set(learner.page_config("lab")["disabledExtensions"])
