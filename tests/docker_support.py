"""Shared helpers for tests that need a real Docker engine.

Import what you need in a test module::

    # ruff: noqa: F811 (at the top: fixtures are imported, then used as arguments)
    from docker_support import docker_engine, learner_image, remove_test_objects  # noqa: F401

``docker_engine`` and ``learner_image`` are session-scoped pytest fixtures; importing them
into a test module (or conftest.py) makes them available there. Name every container,
volume and network a test creates with the ``coursehub-test-`` prefix
(``TEST_PREFIX``) so ``remove_test_objects`` can clean up after it, also on failure.

Images are built the registry-free way by images/build.sh and labelled with a hash of
their sources (images/source_hash.py): a fixture rebuilds an image only when it is
missing or its label no longer matches the checkout, so most runs reuse it.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = REPO / "images" / "build.sh"
TEST_PREFIX = "coursehub-test-"
LEARNER_IMAGE = "coursehub/learner:latest"
HUB_IMAGE = "coursehub/hub:latest"
IMAGES = {"learner": LEARNER_IMAGE, "hub": HUB_IMAGE}
# Several pytest processes (other engineers, CI) may want the same image at once:
# one builds, the others wait and then find it current.
BUILD_LOCK = Path("/tmp/coursehub-image-build.lock")


def _load_source_hash():
    spec = importlib.util.spec_from_file_location("source_hash", REPO / "images/source_hash.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_source_hash = _load_source_hash()
SOURCE_LABEL = _source_hash.LABEL


def docker_client():
    """A connected ``docker.DockerClient``, or skip the test with the reason there is none."""
    try:
        import docker
    except ImportError as e:  # pragma: no cover - docker is a dependency
        pytest.skip(f"no Docker engine: the docker SDK is not installed ({e})")
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as e:
        pytest.skip(f"no Docker engine: {e}")
    return client


def unique_prefix(tag: str) -> str:
    """A name prefix for one test's Docker objects, e.g. ``coursehub-test-spawner-1a2b3c-``.

    Several test runs may share one engine (other checkouts, CI): clean up with
    ``remove_test_objects(client, prefix)`` using your own prefix, so a sweep never
    removes another run's containers.
    """
    return f"{TEST_PREFIX}{tag}-{uuid.uuid4().hex[:6]}-"


def remove_test_objects(client, prefix: str = TEST_PREFIX) -> list[str]:
    """Remove containers, then volumes and networks, whose names start with ``prefix``.

    The default prefix matches every test object on the engine, other runs' too: prefer
    the prefix from ``unique_prefix`` in a test's cleanup.

    Returns what was removed. Errors on single objects are ignored (another test may be
    removing the same object); it is a best-effort sweep for ``finally`` blocks.
    """
    import docker.errors

    removed = []
    for container in client.containers.list(all=True, filters={"name": prefix}):
        if container.name.startswith(prefix):
            try:
                container.remove(force=True, v=True)
                removed.append(f"container {container.name}")
            except docker.errors.APIError:
                pass
    for volume in client.volumes.list(filters={"name": prefix}):
        if volume.name.startswith(prefix):
            try:
                volume.remove(force=True)
                removed.append(f"volume {volume.name}")
            except docker.errors.APIError:
                pass
    for network in client.networks.list(names=[prefix]):
        if network.name.startswith(prefix):
            try:
                network.remove()
                removed.append(f"network {network.name}")
            except docker.errors.APIError:
                pass
    return removed


def image_is_current(client, kind: str) -> bool:
    """Whether the ``kind`` image exists and was built from the current sources."""
    import docker.errors

    try:
        image = client.images.get(IMAGES[kind])
    except docker.errors.ImageNotFound:
        return False
    labels = image.labels or {}
    return labels.get(SOURCE_LABEL) == _source_hash.source_hash(kind)


def ensure_image(client, kind: str) -> str:
    """The tag of the ``kind`` image ("learner" or "hub"), built first if missing or stale.

    A failed build fails the test with the build's output.
    """
    tag = IMAGES[kind]
    if image_is_current(client, kind):
        return tag
    with open(BUILD_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if image_is_current(client, kind):  # built by another process while we waited
            return tag
        started = time.monotonic()
        print(f"\nbuilding {tag} with {BUILD_SCRIPT} {kind} ...", file=sys.stderr)
        result = subprocess.run(
            ["bash", str(BUILD_SCRIPT), kind],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "DOCKER_BUILDKIT": "1"},
        )
        if result.returncode != 0:
            pytest.fail(
                f"images/build.sh {kind} failed (exit {result.returncode}):\n{result.stdout}",
                pytrace=False,
            )
        print(f"built {tag} in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return tag


@pytest.fixture(scope="session")
def docker_engine():
    """A ``docker.DockerClient`` connected to a live engine (skips where there is none)."""
    client = docker_client()
    yield client
    client.close()


@pytest.fixture(scope="session")
def learner_image(docker_engine) -> str:
    """The learner (and grading sandbox) image tag, built when missing or stale."""
    return ensure_image(docker_engine, "learner")


@pytest.fixture(scope="session")
def hub_image(docker_engine) -> str:
    """The Hub (and grader service) image tag, built when missing or stale."""
    return ensure_image(docker_engine, "hub")


def container_logs(container) -> str:
    """A container's output as text, for failure messages (never raises)."""
    try:
        return container.logs().decode(errors="replace")
    except Exception as e:  # the container may already be gone
        return f"<no logs: {e}>"
