"""DockerExecutor: the container spec (pure), and grading in real containers of the
learner image on a real Docker engine (skipped, with the reason, where none answers)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading

import pytest
from conftest import answer, square_question

from grader.executors.base import SandboxUnavailable
from grader.executors.bubblewrap import BubblewrapExecutor
from grader.executors.docker import ROLE, ROLE_LABEL, DockerExecutor, container_spec
from grader.grading.run import grade
from hub_config.docker import find_gateway
from tests.docker_support import TEST_PREFIX, container_logs

# our own corner of the test prefix, so other tests' containers never count as ours
PREFIX = TEST_PREFIX + "grading-"


def our_containers(client):
    return [
        c
        for c in client.containers.list(all=True, filters={"name": PREFIX})
        if c.name.startswith(PREFIX)
    ]


@pytest.fixture
def no_leftovers(docker_engine):  # noqa: F811
    """After the test: no grading container of ours is left (printing logs if one is)."""
    yield
    left = our_containers(docker_engine)
    for c in left:
        print(f"--- leftover {c.name} ({c.status}):\n{container_logs(c)}")
        c.remove(force=True, v=True)
    assert not [c.name for c in left], "grading containers were left behind"


@pytest.fixture
def make_executor(learner_image, no_leftovers):  # noqa: F811
    def make(**kw):
        kw.setdefault("time_limit", 30)
        kw.setdefault("cell_time_limit", 2)
        kw.setdefault("image", learner_image)
        return DockerExecutor(name_prefix=PREFIX, **kw)

    return make


@pytest.fixture
def executor(make_executor):
    return make_executor()


# -- the spec (pure) -----------------------------------------------------------------


def test_container_spec_locks_the_container_down():
    spec = container_spec(
        image="img:1",
        name="coursehub-test-x",
        memory_limit=256 * 2**20,
        tmp_size=32 * 2**20,
        process_limit=50,
        cpu_limit=0.5,
        file_size_limit=2**20,
        open_files_limit=64,
        environment={"HOME": "/tmp"},
    )
    assert spec["image"] == "img:1" and spec["name"] == "coursehub-test-x"
    assert spec["network_mode"] == "none"
    assert spec["read_only"] is True
    # root with only the right to become the two sandbox uids, which it does at once
    assert spec["user"] == "0:0"
    assert spec["cap_drop"] == ["ALL"] and spec["cap_add"] == ["SETUID", "SETGID"]
    assert spec["security_opt"] == ["no-new-privileges"]
    assert spec["mem_limit"] == spec["memswap_limit"] == (256 + 32) * 2**20
    assert spec["pids_limit"] == 50
    assert spec["nano_cpus"] == 500_000_000
    assert spec["tmpfs"] == {"/tmp": f"size={32 * 2**20},mode=1777,exec"}
    limits = {u["Name"]: (u["Soft"], u["Hard"]) for u in spec["ulimits"]}
    assert limits == {
        "data": (256 * 2**20, 256 * 2**20),
        "fsize": (2**20, 2**20),
        "nofile": (64, 64),
        "core": (0, 0),
    }
    assert spec["labels"] == {ROLE_LABEL: ROLE}
    assert spec["auto_remove"] is False
    assert spec["stdin_open"] is True and spec["detach"] is False and spec["tty"] is False
    assert spec["environment"] == {"HOME": "/tmp"}
    assert spec["command"][:3] == ["python3", "-I", "-c"]
    # nothing of the host goes in
    for key in ("volumes", "mounts", "devices", "privileged", "ports"):
        assert key not in spec


def test_executor_spec_follows_its_traits():
    executor = DockerExecutor(
        image="coursehub/learner:test",
        name_prefix="coursehub-test-",
        memory_limit=128 * 2**20,
        tmp_size=16 * 2**20,
        process_limit=20,
        cpu_limit=2,
        python="/opt/venv/bin/python",
    )
    spec = executor.spec("coursehub-test-abc")
    assert spec["mem_limit"] == 144 * 2**20 and spec["pids_limit"] == 20
    assert spec["nano_cpus"] == 2_000_000_000
    assert spec["command"][0] == "/opt/venv/bin/python"
    # no secrets of the service: only the sandbox's fixed variables, not even PATH
    assert set(spec["environment"]) == {"LANG", "HOME", "PYTHONDONTWRITEBYTECODE", "MPLBACKEND"}


def test_image_default_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("COURSEHUB_LEARNER_IMAGE", "example/learner:7")
    assert DockerExecutor().image == "example/learner:7"
    monkeypatch.delenv("COURSEHUB_LEARNER_IMAGE")
    assert DockerExecutor().image == "coursehub/learner:latest"


# -- the engine ----------------------------------------------------------------------


@pytest.mark.docker
async def test_check_ok_and_missing_image(executor, make_executor):
    assert await executor.check() == "ok"
    with pytest.raises(SandboxUnavailable, match="not on the Docker engine"):
        await make_executor(image="coursehub-test-no-such-image:0").check()


async def test_engine_not_answering_is_unavailable(tmp_path):
    executor = DockerExecutor(docker_host=f"unix://{tmp_path}/no-docker.sock")
    with pytest.raises(SandboxUnavailable, match="Docker engine"):
        await executor.check()
    with pytest.raises(SandboxUnavailable):
        await executor.run(["1"])


# -- grading -------------------------------------------------------------------------

ANSWERS = {
    "correct": "def square(x):\n    return x * x",
    "partial": "def square(x):\n    return abs(x) * 2",  # right for 2, wrong for -3
    "wrong": "def square(x):\n    return x",
    "stub": "def square(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()",
}


@pytest.mark.docker
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
async def test_scores_match_the_bubblewrap_executor(executor):
    bubblewrap = BubblewrapExecutor(time_limit=30, cell_time_limit=2)
    scores = {}
    for kind, source in ANSWERS.items():
        nb = answer(square_question(), source)
        in_docker = await grade(executor, square_question(), nb)
        in_bwrap = await grade(bubblewrap, square_question(), nb)
        assert in_docker.to_dict() == in_bwrap.to_dict(), kind
        scores[kind] = in_docker.score
    assert scores == {"correct": 3.0, "partial": 1.0, "wrong": 0.0, "stub": 0.0}


@pytest.mark.docker
async def test_endless_loop_hits_the_time_limit(executor):
    report = await grade(
        executor,
        square_question(),
        answer(square_question(), "def square(x):\n    while True:\n        pass"),
    )
    tests = {t["name"]: t for t in report.tests}
    assert tests["visible"]["message"].startswith("time_limit")
    assert report.score == 0


@pytest.mark.docker
async def test_memory_limit(make_executor):
    # a generous cell time limit: on a loaded machine the loop must end at the memory
    # limit, not at the clock
    executor = make_executor(memory_limit=256 * 2**20, cell_time_limit=20)
    outcomes = await executor.run(
        ["x = [0] * 10**10", "xs = []\nwhile True:\n    xs.append(' ' * 10**6)", "del xs\n'alive'"]
    )
    assert outcomes[0].ename == "MemoryError"
    # a MemoryError, or the kernel's OOM killer ending the container: both are reported
    # as the memory limit
    assert [o.reason for o in outcomes[:2]] == ["memory_limit", "memory_limit"]
    assert outcomes[2].result == "'alive'" or outcomes[2].reason == "memory_limit"


@pytest.mark.docker
async def test_fork_bomb_is_contained(make_executor):
    executor = make_executor(cell_time_limit=20)
    outcomes = await executor.run(["import os\nwhile True:\n    os.fork()", "'alive'"])
    assert outcomes[0].reason == "process_limit"
    assert outcomes[1].result == "'alive'"


@pytest.mark.docker
async def test_endless_print_hits_the_output_limit(executor):
    outcomes = await executor.run(
        [
            "while True:\n    print('spam')",
            "import os\nfor _ in range(10**5):\n    os.write(1, b'x' * 1000)",
            "print('ok')",
        ]
    )
    assert outcomes[0].reason == "output_limit"
    assert len(outcomes[0].stdout.encode()) <= executor.output_limit
    # straight to fd 1: thrown away, neither output nor results
    assert outcomes[1].status == "ok" and outcomes[1].stdout == ""
    assert outcomes[2].stdout == "ok\n"


@pytest.mark.docker
async def test_no_network(executor, docker_engine, learner_image):
    # a service on this machine, at the address containers on the default bridge use
    # (a fresh engine lists no gateway for that network: find_gateway looks further)
    bridge = docker_engine.networks.get("bridge").attrs
    gateway = await asyncio.to_thread(
        find_gateway, docker_engine, bridge, learner_image, PREFIX + "gateway-probe-"
    )
    with socket.create_server(("0.0.0.0", 0)) as listener:
        port = listener.getsockname()[1]
        outcomes = await executor.run(
            [
                f"import socket\nsocket.create_connection(('{gateway}', {port}), timeout=3)",
                "import socket\nsocket.getaddrinfo('pypi.org', 443)",
            ]
        )
    assert [o.status for o in outcomes] == ["error", "error"]
    assert outcomes[0].ename in ("OSError", "ConnectionRefusedError", "TimeoutError")


@pytest.mark.docker
async def test_confined_to_tmp_as_non_root(executor):
    outcomes = await executor.run(
        [
            "open('/usr/evil', 'w')",
            "open('/etc/evil', 'w')",
            "open('/evil', 'w')",
            "open('/home/jovyan/evil', 'w')",
            "open('/tmp/fine', 'w').write('ok')\nopen('/tmp/fine').read()",
            "import os\nos.getuid(), os.getgid()",
            "open('/proc/self/status').read().split('CapEff:')[1].split()[0]",
            "import os\nos.setuid(0)",
        ]
    )
    assert [o.status for o in outcomes] == ["error"] * 4 + ["ok"] * 3 + ["error"]
    assert outcomes[4].result == "'ok'"
    assert outcomes[5].result == "(65534, 65534)"
    assert outcomes[6].result == "'0000000000000000'"  # no capabilities at all


@pytest.mark.docker
async def test_fake_results_cannot_change_the_score(executor):
    fake = (
        '{"index": 2, "status": "ok", "reason": null, "result": null, "stdout": "", '
        '"stderr": "", "nonce": ""}\\n{"done": true}\\n'
    )
    source = (
        "import os, sys\n"
        f"print({fake!r} * 5)\n"
        f"os.write(1, {fake!r}.encode() * 5)\n"
        f"os.write(2, {fake!r}.encode())\n"
        f"sys.__stdout__.write({fake!r})\n"
        "def square(x):\n    return 0"
    )
    report = await grade(executor, square_question(), answer(square_question(), source))
    assert report.score == 0


@pytest.mark.docker
async def test_the_learners_process_cannot_reach_the_result_channel(executor):
    outcomes = await executor.run(
        [
            # every descriptor the learner's process holds: the result channel is not one
            "import os\nfor fd in map(int, os.listdir('/proc/self/fd')):\n    try:\n"
            '        os.write(fd, b\'{"index": 1, "status": "ok"}\\n\')\n'
            "    except OSError:\n        pass",
            "assert False",
        ]
    )
    # garbage on its socket to the trusted process: the learner's process is dropped
    assert [(o.status, o.reason) for o in outcomes] == [("error", "learner_exit")] * 2


@pytest.mark.docker
async def test_a_learner_process_that_ignores_interruptions_is_abandoned(make_executor):
    executor = make_executor(time_limit=3, cell_time_limit=1)
    outcomes = await executor.run(
        [
            "x = 1",
            # ignores the runner's interruptions and sleeps in C
            "import signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(600)",
            "x",
        ]
    )
    assert outcomes[0].status == "ok"
    # the trusted process stops waiting for it at the cell's limit; the run ends in time
    assert (outcomes[1].status, outcomes[1].reason) == ("error", "time_limit")
    assert outcomes[2].status != "ok" and outcomes[2].reason == "time_limit"


@pytest.mark.docker
async def test_cancelled_run_removes_its_container(executor, docker_engine):  # noqa: F811
    task = asyncio.ensure_future(executor.run(["import time\ntime.sleep(60)"]))
    for _ in range(100):  # until the container exists
        await asyncio.sleep(0.1)
        if our_containers(docker_engine):
            break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert our_containers(docker_engine) == []


class SocketProxy:
    """A Unix socket that forwards to the real engine until ``stop()``: an engine that
    goes away in the middle of a run, without stopping the machine's real engine."""

    def __init__(self, path: str, target: str = "/var/run/docker.sock"):
        self.path, self.target = path, target
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(path)
        self.listener.listen(16)
        self.open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.target)
            self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def stop(self):
        self.listener.close()
        os.unlink(self.path)
        for s in self.open:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass


@pytest.mark.docker
async def test_engine_lost_during_a_run_is_unavailable_not_a_grade(
    tmp_path,
    make_executor,
    docker_engine,  # noqa: F811
):
    proxy = SocketProxy(str(tmp_path / "docker.sock"))
    executor = make_executor(docker_host=f"unix://{proxy.path}", time_limit=20)
    task = asyncio.ensure_future(executor.run(["x = 1", "import time\ntime.sleep(60)"]))
    try:
        for _ in range(100):
            await asyncio.sleep(0.1)
            if any(c.status == "running" for c in our_containers(docker_engine)):
                break
        proxy.stop()
        with pytest.raises(SandboxUnavailable, match="Docker engine"):
            await task
    finally:
        if not task.done():
            task.cancel()
    # what the lost engine kept is swept when the grader next reaches it
    sweeper = make_executor()
    assert our_containers(docker_engine) != []
    removed = await sweeper.remove_stale(older_than=0)
    assert removed and all(name.startswith(PREFIX) for name in removed)
    assert our_containers(docker_engine) == []
