# ruff: noqa: F811 (pytest fixtures imported from docker_support, then used as arguments)
"""The images a deployment runs: the learner image (also the grading sandbox) and the Hub.

Each test runs a command in a fresh container of the real image, as DockerSpawner,
DockerExecutor or docker-compose would, and checks what a user or operator would see.
Images are built by images/build.sh when missing or stale (see docker_support.py).
"""

from __future__ import annotations

import uuid

import pytest

from tests.docker_support import TEST_PREFIX, container_logs

pytestmark = pytest.mark.docker

# Walks the image's own filesystem (not /proc, /sys, /dev) for anything a course could
# leak: a course_content directory, or a notebook holding hidden tests.
LEAK_SCAN = r"""
import os
found = []
for root, dirs, files in os.walk("/"):
    if root == "/":
        dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev")]
    found += [os.path.join(root, d) for d in dirs if d == "course_content"]
    for name in files:
        if name.endswith(".ipynb"):
            path = os.path.join(root, name)
            with open(path, errors="replace") as f:
                if "BEGIN HIDDEN TESTS" in f.read():
                    found.append(path)
print("\n".join(found) or "clean")
"""


def run(client, image: str, command, **options) -> tuple[int, str]:
    """Run ``command`` in a new container of ``image``; its exit code and output.

    The container is named with the test prefix and removed afterwards, also on failure.
    """
    container = client.containers.create(
        image, command, name=f"{TEST_PREFIX}images-{uuid.uuid4().hex[:8]}", **options
    )
    try:
        container.start()
        status = container.wait(timeout=120)
        return status["StatusCode"], container_logs(container)
    finally:
        container.remove(force=True)


def check(client, image: str, command, **options) -> str:
    """The output of ``command``, which must succeed (its output shown if not)."""
    code, output = run(client, image, command, **options)
    assert code == 0, f"{command!r} exited {code}:\n{output}"
    return output


def test_learner_image_starts_a_singleuser_server(docker_engine, learner_image):
    image = docker_engine.images.get(learner_image)
    assert image.attrs["Config"]["Cmd"] == ["jupyterhub-singleuser"]
    version = check(docker_engine, learner_image, ["jupyterhub-singleuser", "--version"])
    assert version.strip().startswith("6."), version


def test_learner_image_enables_the_coursehub_extension(docker_engine, learner_image):
    output = check(docker_engine, learner_image, ["jupyter", "server", "extension", "list"])
    lines = [line for line in output.splitlines() if "coursehub_extension" in line]
    assert lines, output
    assert any("enabled" in line and "disabled" not in line for line in lines), output
    assert any("OK" in line for line in lines), output  # it imports and loads


def test_learner_image_leaves_out_the_slow_iri_checker(docker_engine, learner_image):
    # jsonschema's optional `iri` format checker compiles grammars on import (a second
    # in every server): removed, and nbformat still validates notebooks without it
    script = (
        "import importlib.util, nbformat\n"
        "assert importlib.util.find_spec('rfc3987_syntax') is None\n"
        "nbformat.validate(nbformat.v4.new_notebook())\n"
        "print('ok')\n"
    )
    assert check(docker_engine, learner_image, ["python3", "-c", script]).strip() == "ok"


def test_learner_runs_as_jovyan_who_owns_the_work_directory(docker_engine, learner_image):
    output = check(
        docker_engine,
        learner_image,
        ["bash", "-c", "id -un; id -u; id -g; stat -c '%U %g' /home/jovyan/work"],
    )
    assert output.split() == ["jovyan", "1000", "100", "jovyan", "100"], output


def test_grading_sandbox_runs_python_unprivileged_on_a_read_only_image(
    docker_engine, learner_image
):
    script = (
        "import os, sys\n"
        "print(sum(range(10)), os.getuid())\n"
        "try:\n"
        "    open('/tmp/x', 'w')\n"  # world-writable /tmp, yet not writable here
        "except OSError:\n"
        "    print('read-only')\n"
    )
    for python in ("/usr/bin/python3", "python3"):
        output = check(
            docker_engine,
            learner_image,
            [python, "-c", script],
            read_only=True,
            network_mode="none",
            user="65534",
            cap_drop=["ALL"],
        )
        assert output.split() == ["45", "65534", "read-only"], (python, output)


def test_learner_image_holds_no_course_content_or_hidden_tests(docker_engine, learner_image):
    output = check(docker_engine, learner_image, ["python3", "-c", LEAK_SCAN])
    assert output.strip() == "clean", output


def test_hub_image_runs_jupyterhub_and_the_proxy(docker_engine, hub_image):
    image = docker_engine.images.get(hub_image)
    assert image.attrs["Config"]["Cmd"] == [
        "jupyterhub",
        "-f",
        "/srv/coursehub/jupyterhub_config.py",
    ]
    assert check(docker_engine, hub_image, ["jupyterhub", "--version"]).strip().startswith("6.")
    chp = check(docker_engine, hub_image, ["configurable-http-proxy", "--version"])
    assert chp.strip() == "5.3.0", chp
    # the grading service runs from the same image in docker-compose
    check(docker_engine, hub_image, ["python", "-c", "import grader, hub_config"])
