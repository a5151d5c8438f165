"""Docker mode on one machine: a real Hub spawning one container per learner.

The Hub runs with DockerSpawner (learners' servers in containers of the learner image)
and the grader with the DockerExecutor, on a real PostgreSQL database. Every Docker
object the Hub creates here carries a ``coursehub-test-`` prefix (containers, the
learners' volumes and network, grading containers) and is removed at the end, also
when a test fails.
"""

from __future__ import annotations

import secrets
import statistics
import time

import pytest
import requests

from hub_config.settings import REPO_DIR
from hub_config.testing import RunningHub
from tests.docker_support import container_logs, remove_test_objects
from tests.test_end_to_end import CORRECT, PARTIAL, Learner, author_square_question

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.postgres]

PREFIX = f"coursehub-test-ds{secrets.token_hex(3)}"
#: how long each learner's server took from the start request to ready, in seconds
SPAWN_TIMES: list[float] = []
#: the answer to a question that takes a moment to grade, so its container can be seen
SLOW_PARTIAL = "import time\ntime.sleep(3)\n" + PARTIAL


def start_timed(learner: Learner):
    started = time.monotonic()
    learner.start_server()
    SPAWN_TIMES.append(time.monotonic() - started)


def stop_server(learner: Learner, timeout=60):
    r = learner.hub.api("DELETE", f"/users/{learner.name}/server")
    assert r.status_code in (202, 204), r.text
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not learner.hub.api("GET", f"/users/{learner.name}").json()["servers"]:
            return
        time.sleep(0.3)
    raise AssertionError(f"{learner.name}'s server did not stop")


def learner_container(client, name: str):
    # names here need no escaping (DockerSpawner escapes "-" as "-2d")
    return client.containers.get(f"{PREFIX}-learner-{name}")


@pytest.fixture(scope="module")
def hub(docker_engine, learner_image, postgres_server):  # noqa: F811
    running = RunningHub(
        env={
            "COURSEHUB_SPAWNER": "docker",
            "COURSEHUB_EXECUTOR": "docker",
            "COURSEHUB_LEARNER_IMAGE": learner_image,
            "COURSEHUB_DOCKER_PREFIX": PREFIX,
            "COURSEHUB_LEARNER_MEM_LIMIT": "512M",
            "COURSEHUB_LEARNER_PIDS_LIMIT": "256",
            "COURSEHUB_GRADER_DB_URL": postgres_server.create_database(),
            "COURSEHUB_COURSE_DIR": str(REPO_DIR / "course_content"),
        }
    )
    running.postgres = postgres_server
    try:
        with running:
            try:
                yield running
            finally:
                # what the containers said, before stopping the Hub removes them
                for container in docker_engine.containers.list(all=True, filters={"name": PREFIX}):
                    print(f"--- {container.name}\n{container_logs(container)[-3000:]}")
    finally:
        remove_test_objects(docker_engine, PREFIX)
        if SPAWN_TIMES:
            print(
                f"\nspawn->ready over {len(SPAWN_TIMES)} spawns: p50 "
                f"{statistics.median(SPAWN_TIMES):.1f} s, all {[round(t, 1) for t in SPAWN_TIMES]}"
            )


@pytest.fixture
def engine(docker_engine):  # noqa: F811
    """The Docker client (a name of its own: `docker_engine` is an imported fixture)."""
    return docker_engine


@pytest.fixture(scope="module")
def learners(hub):
    alice, bob = Learner(hub, "dsalice"), Learner(hub, "dsbob")
    start_timed(alice)
    start_timed(bob)
    return alice, bob


@pytest.fixture(scope="module")
def question(hub):
    """The square question, authored through the grader's API with the admin token."""
    return author_square_question(hub.url, hub.admin_token, "ds", hub.log)


def exec_connect(container, host: str, port: int) -> str:
    """Try a TCP connection from inside `container`: "open", "refused" or "unreachable"."""
    probe = (
        "import socket,sys\n"
        "s=socket.socket(); s.settimeout(3)\n"
        "try:\n"
        f"    s.connect(({host!r}, {port})); print('open')\n"
        "except ConnectionRefusedError: print('refused')\n"
        "except OSError: print('unreachable')\n"
    )
    result = container.exec_run(["python3", "-c", probe])
    assert result.exit_code == 0, result.output
    return result.output.decode().strip()


def test_each_learner_gets_a_limited_container_with_their_own_volume(hub, learners, engine):
    alice, bob = learners
    for learner in learners:
        container = learner_container(engine, learner.name)
        host = container.attrs["HostConfig"]
        assert host["Memory"] == 512 * 2**20 and host["PidsLimit"] == 256
        assert host["CpuQuota"] == host["CpuPeriod"]  # one CPU
        mounts = {m["Destination"]: m for m in container.attrs["Mounts"]}
        work = mounts["/home/jovyan/work"]
        assert work["Type"] == "volume" and work["Name"] == f"{PREFIX}-user-{learner.name}"
    assert alice.call("GET", "api/contents/").status_code == 200
    # each learner's token opens only their own server
    r = requests.get(
        f"{hub.url}/user/{bob.name}/api/contents/",
        headers={"Authorization": f"token {alice.token}"},
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code in (302, 403), r.status_code


def test_saved_work_survives_a_server_restart_and_the_container_goes(hub, learners, engine):
    import docker.errors

    alice, _ = learners
    r = alice.call(
        "PUT",
        "api/contents/notes.txt",
        json={"type": "file", "format": "text", "content": "kept across restarts"},
    )
    assert r.status_code in (200, 201), r.text
    first = learner_container(engine, alice.name).id

    stop_server(alice)
    with pytest.raises(docker.errors.NotFound):
        engine.containers.get(first)
    engine.volumes.get(f"{PREFIX}-user-{alice.name}")  # the work stays

    start_timed(alice)
    assert learner_container(engine, alice.name).id != first
    r = alice.call("GET", "api/contents/notes.txt?content=1")
    assert r.status_code == 200 and r.json()["content"] == "kept across restarts", r.text


def test_learners_containers_reach_the_hub_but_not_internals(hub, learners, engine):
    alice, bob = learners
    container = learner_container(engine, alice.name)
    network = f"{PREFIX}-learners"
    gateway = container.attrs["NetworkSettings"]["Networks"][network]["Gateway"]
    # what a learner's server needs: the Hub's API and the proxy (the grader through it)
    assert exec_connect(container, gateway, int(hub.env["COURSEHUB_HUB_PORT"])) == "open"
    assert exec_connect(container, gateway, hub.port) == "open"
    # what it must not reach: the grader's own port, PostgreSQL, another learner
    assert exec_connect(container, gateway, int(hub.env["COURSEHUB_GRADER_PORT"])) != "open"
    assert exec_connect(container, gateway, hub.postgres.port) != "open"
    other = learner_container(engine, bob.name)
    other_ip = other.attrs["NetworkSettings"]["Networks"][network]["IPAddress"]
    assert exec_connect(container, other_ip, 8888) != "open"


def test_submit_flow_with_docker_spawner_and_docker_executor(hub, learners, question, engine):
    alice, _ = learners
    r = alice.coursehub("POST", f"questions/{question['id']}/open")
    assert r.status_code == 201, r.text
    path = r.json()["path"]
    # the question landed on the learner's volume
    listing = learner_container(engine, alice.name).exec_run(["ls", f"/home/jovyan/work/{path}"])
    assert listing.exit_code == 0, listing.output

    alice.write_answer(path, SLOW_PARTIAL)
    r = alice.coursehub("POST", f"questions/{question['id']}/submit", json={"path": path})
    assert r.status_code == 202, r.text
    submission_id = r.json()["id"]
    # while it is graded, its container has no network a learner could reach it on
    seen = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for c in engine.containers.list(filters={"name": f"{PREFIX}-grading-"}):
            seen.add(c.name)
            assert set(c.attrs["NetworkSettings"]["Networks"]) <= {"none"}
            assert c.attrs["HostConfig"]["NetworkMode"] == "none"
        if alice.coursehub("GET", f"submissions/{submission_id}").json()["status"] in (
            "graded",
            "error",
        ):
            break
        time.sleep(0.2)
    assert seen, "no grading container was seen while the submission was graded"
    result = alice.coursehub("GET", f"submissions/{submission_id}").json()
    assert (result["status"], result["score"], result["max_score"]) == ("graded", 1, 3)

    alice.write_answer(path, CORRECT)
    result = alice.submit_and_wait(question["id"], path)
    assert result["score"] == 3 and all(t["passed"] for t in result["tests"])
    # grading containers are removed once graded
    assert not engine.containers.list(all=True, filters={"name": f"{PREFIX}-grading-"})


def test_spawn_times(hub, learners):
    """More spawns, one at a time, for the spawn->ready figure (printed, never asserted)."""
    for n in range(3):
        learner = Learner(hub, f"dstiming{n}")
        start_timed(learner)
        stop_server(learner)


def test_stopping_the_hub_removes_every_learner_container(docker_engine, learner_image):  # noqa: F811
    """SIGTERM on a Docker-mode Hub of its own: each learner's server is stopped (its
    kernel shut down within the container's stop timeout) and its container removed;
    the learners' work stays in their volumes."""
    from hub_config.shutdown import SERVER_TERM_TIMEOUT
    from tests.test_shutdown import start_kernel

    prefix = f"coursehub-test-dstop{secrets.token_hex(3)}"
    hub = RunningHub(
        env={
            "COURSEHUB_SPAWNER": "docker",
            "COURSEHUB_EXECUTOR": "docker",
            "COURSEHUB_LEARNER_IMAGE": learner_image,
            "COURSEHUB_DOCKER_PREFIX": prefix,
            "COURSEHUB_LEARNER_MEM_LIMIT": "512M",
        }
    )
    try:
        with hub:
            learners = [Learner(hub, f"dsstop{n}", course=None) for n in range(2)]
            for learner in learners:
                learner.start_server()
                start_kernel(learner)
            containers = docker_engine.containers.list(filters={"name": f"{prefix}-learner-"})
            assert len(containers) == len(learners)
            # `docker stop` waits this long for the server before SIGKILL
            assert {c.attrs["Config"]["StopTimeout"] for c in containers} == {SERVER_TERM_TIMEOUT}

            assert hub.stop() == 0, hub.log()[-5000:]

            left = docker_engine.containers.list(all=True, filters={"name": f"{prefix}-learner-"})
            assert not left, [(c.name, c.status) for c in left]
            for learner in learners:
                docker_engine.volumes.get(f"{prefix}-user-{learner.name}")  # the work stays
    finally:
        remove_test_objects(docker_engine, prefix)
