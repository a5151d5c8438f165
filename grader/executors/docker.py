"""DockerExecutor: each grading run in a fresh, single-use Docker container.

The container runs the learner image (learners and the grader share one environment)
with no network, a read-only root file system, every capability dropped but SETUID and
SETGID, no-new-privileges, memory/pids/cpu limits, rlimits on file size, open files and
data, and a small tmpfs on ``/tmp`` as the only writable place. Nothing is mounted: the
sandbox programs and then the job (hidden tests included) go in on the container's
stdin. The first process (root, with only those two capabilities) forks the learner's
process under ``learner_uid`` *before* reading the job, then becomes the trusted process
under ``trusted_uid`` (:func:`grader.sandbox.launch.container_main`): the learner's
code never shares a uid, a memory or a descriptor with the tests. The trusted process
writes result lines on its own private copy of stdout, so the attach stream's stdout
carries results only and its stderr a capped diagnostic tail.

Every Docker call runs in a thread. The whole run is bounded by ``time_limit``
(``asyncio.wait_for``; the container is killed then) and the container is removed in
``finally`` whatever happened. An engine that does not answer, before or during a run,
raises :class:`SandboxUnavailable`, so the queue keeps the submission and retries.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import struct
from datetime import UTC, datetime

from traitlets import Float, Unicode, default

from .base import (
    BACKSTOP_GRACE,
    DIAGNOSTIC_LIMIT,
    CellOutcome,
    CellSpec,
    SandboxUnavailable,
)
from .container import START_BUNDLE, ContainerExecutor, sandbox_bundle

ROLE_LABEL = "coursehub.role"
ROLE = "grading"
# Reads the sandbox programs (a 10-digit length, then JSON) from stdin, unbuffered so
# nothing of the job that follows is read before the learner's process is forked, loads
# them as top-level modules and starts both processes.
BOOTSTRAP = (
    """import os, sys, json, types
def read(n):
    data = b""
    while len(data) < n:
        chunk = os.read(0, n - len(data))
        if not chunk:
            raise SystemExit(3)
        data += chunk
    return data
bundle = json.loads(read(int(read(10))))
"""
    + START_BUNDLE
)
# seconds to wait for the container's stream to end after it was killed
KILL_GRACE = 10.0


def container_spec(
    *,
    image: str,
    name: str,
    python: str = "python3",
    memory_limit: int = 512 * 1024 * 1024,
    tmp_size: int = 64 * 1024 * 1024,
    process_limit: int = 64,
    cpu_limit: float = 1.0,
    file_size_limit: int = 16 * 1024 * 1024,
    open_files_limit: int = 256,
    environment: dict[str, str] | None = None,
) -> dict:
    """Keyword arguments for ``client.containers.create`` for one grading container.

    Pure: the same arguments give the same spec. ``memory_limit`` is the learner
    program's data limit (an rlimit, so a big allocation fails with MemoryError and the
    next cell still runs, as in the other executors); the container's memory cgroup
    adds ``tmp_size`` to it because the tmpfs ``/tmp`` is memory too.
    """
    from docker.types import LogConfig, Ulimit

    cgroup_memory = memory_limit + tmp_size
    return {
        "image": image,
        "name": name,
        "command": [python, "-I", "-c", BOOTSTRAP],
        # root with nothing but the right to become the two sandbox uids (it does so at
        # once, before reading the job); no-new-privileges keeps it from gaining more
        "user": "0:0",
        "environment": dict(environment or {}),
        "working_dir": "/tmp",
        "hostname": "sandbox",
        # the job goes in on stdin; with detach False the SDK sets StdinOnce, so stdin
        # closes when our attach stream closes its sending half
        "stdin_open": True,
        "detach": False,
        "tty": False,
        "network_mode": "none",
        "read_only": True,
        "cap_drop": ["ALL"],
        "cap_add": ["SETUID", "SETGID"],
        "security_opt": ["no-new-privileges"],
        "mem_limit": cgroup_memory,
        "memswap_limit": cgroup_memory,  # no swap
        "pids_limit": process_limit,
        "nano_cpus": int(cpu_limit * 1e9),
        # exec: compiled languages (C) build and run their programs in /tmp; Docker's
        # tmpfs is noexec unless asked (bubblewrap's and Kubernetes' /tmp are not)
        "tmpfs": {"/tmp": f"size={tmp_size},mode=1777,exec"},
        # not nproc: it counts per uid across the whole host; pids_limit is per container
        "ulimits": [
            Ulimit(name="data", soft=memory_limit, hard=memory_limit),
            Ulimit(name="fsize", soft=file_size_limit, hard=file_size_limit),
            Ulimit(name="nofile", soft=open_files_limit, hard=open_files_limit),
            Ulimit(name="core", soft=0, hard=0),
        ],
        # a tiny init as pid 1 reaps the learner's orphans (a fork bomb's zombies would
        # otherwise hold pids) and lets the runner end leftovers with kill(-1)
        "init": True,
        # no submission in labels or name: `docker ps` shows nothing about learners
        "labels": {ROLE_LABEL: ROLE},
        # the engine keeps at most this much of the learner's stderr on disk
        "log_config": LogConfig(type="json-file", config={"max-size": "1m", "max-file": "1"}),
        "auto_remove": False,  # we remove it ourselves, after reading its state
    }


class _Streams:
    """The container's attach stream, demultiplexed: stdout (results) and stderr, capped."""

    def __init__(self, result_cap: int, stderr_cap: int = DIAGNOSTIC_LIMIT):
        self.results = bytearray()
        self.stderr = bytearray()
        self.caps = {1: result_cap, 2: stderr_cap}
        self.overflow = False

    def keep(self, stream: int, data: bytes) -> None:
        buffer = self.results if stream == 1 else self.stderr
        room = self.caps.get(stream, 0) - len(buffer)
        if stream == 1 and len(data) > room:
            self.overflow = True
        if room > 0:
            buffer += data[:room]

    def read_from(self, sock: socket.socket) -> None:
        """Read frames (8-byte header: stream, 0, 0, 0, size) until the stream ends."""
        while True:
            header = _read_exactly(sock, 8)
            if len(header) < 8:
                return
            stream, size = struct.unpack(">BxxxL", header)
            while size > 0:
                chunk = sock.recv(min(size, 65536))
                if not chunk:
                    return
                size -= len(chunk)
                self.keep(stream, chunk)


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


class DockerExecutor(ContainerExecutor):
    """Run grading jobs in single-use Docker containers of the learner image."""

    image = Unicode(
        help="Image the cells run in: the learner image, so grading sees the same "
        "environment as the learner. Default: $COURSEHUB_LEARNER_IMAGE or "
        "coursehub/learner:latest."
    ).tag(config=True)
    python = Unicode(
        "python3",
        help="The image's Python that runs the cells (a name is looked up on the image's PATH).",
    ).tag(config=True)
    cpu_limit = Float(1.0, help="CPUs one grading container may use.").tag(config=True)
    name_prefix = Unicode(
        "coursehub-grading-",
        help="Prefix of grading containers' names (a random suffix follows).",
    ).tag(config=True)
    docker_host = Unicode(
        help="The Docker engine's address. Default: $DOCKER_HOST or the local socket."
    ).tag(config=True)
    api_timeout = Float(
        30.0, help="Seconds one Docker API call may take before the engine counts as down."
    ).tag(config=True)

    @default("image")
    def _default_image(self):
        return os.environ.get("COURSEHUB_LEARNER_IMAGE") or "coursehub/learner:latest"

    @default("docker_host")
    def _default_docker_host(self):
        return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"

    _client = None

    # -- the engine --------------------------------------------------------------------

    def _connect(self):
        """A client for the engine (blocking: call in a thread)."""
        if self._client is None:
            import docker

            # "auto": the engine may be older than the SDK's default API version
            self._client = docker.DockerClient(
                base_url=self.docker_host, version="auto", timeout=self.api_timeout
            )
        return self._client

    async def _call(self, what: str, fn, *args, **kwargs):
        """Run a blocking Docker call in a thread; an engine that fails to answer is
        :class:`SandboxUnavailable` (the submission waits), never a grading failure."""
        import docker.errors
        import requests.exceptions

        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except docker.errors.ImageNotFound as e:
            raise SandboxUnavailable(
                f"the grading image {self.image} is not on the Docker engine "
                "(build it: images/build.sh learner)"
            ) from e
        except (requests.exceptions.RequestException, OSError) as e:
            raise SandboxUnavailable(f"the Docker engine does not answer ({what}): {e}") from e
        except docker.errors.APIError as e:
            if e.status_code is not None and e.status_code < 500:
                raise
            raise SandboxUnavailable(f"the Docker engine failed ({what}): {e}") from e
        except docker.errors.DockerException as e:
            raise SandboxUnavailable(f"cannot reach the Docker engine ({what}): {e}") from e

    async def check(self) -> str:
        """ "ok" when the engine answers and the image is there, else SandboxUnavailable."""

        def probe():
            client = self._connect()
            client.ping()
            client.images.get(self.image)

        await self._call("check", probe)
        return "ok"

    def spec(self, name: str) -> dict:
        return container_spec(
            image=self.image,
            name=name,
            python=self.python,
            memory_limit=self.memory_limit,
            tmp_size=self.tmp_size,
            process_limit=self.process_limit,
            cpu_limit=self.cpu_limit,
            file_size_limit=self.file_size_limit,
            open_files_limit=self.open_files_limit,
            environment=self.environment(),
        )

    def stdin_for(self, cells: list[CellSpec], nonce: str, language: dict | None = None) -> bytes:
        """What goes in on the container's stdin: the sandbox programs, then the job."""
        bundle = sandbox_bundle(self.sandbox_settings())
        # the launcher sets the job's result_fd (its private copy of stdout)
        return self.framed(bundle) + self.framed(self.job_document(cells, -1, nonce, language))

    def limits_in_force(self) -> dict:
        return {
            "isolation": "a fresh container: no network, read-only root, own pid namespace",
            "uids": f"learner {self.learner_uid}, tests {self.trusted_uid}",
            "memory": f"cgroup {(self.memory_limit + self.tmp_size) >> 20} MiB for the "
            f"whole container, data rlimit {self.memory_limit >> 20} MiB per process",
            "cpu": f"cgroup {self.cpu_limit:g} CPU",
            "pids": f"cgroup {self.process_limit}",
            "seccomp": "Docker's default profile, and coursehub's filter in each process",
        }

    # -- a run ---------------------------------------------------------------------------

    async def run(self, cells: list[CellSpec], language: dict | None = None) -> list[CellOutcome]:
        """Run ``cells`` in a fresh container; remove it whatever happens."""
        if not self._checked:
            await self.check()
            self._checked = True
            # once per executor: what an earlier grader process left behind (crashed, or
            # lost its engine mid-run); only containers older than any run can last, so
            # other grader replicas' running containers are never touched
            try:
                for name in await self.remove_stale():
                    self.log.info("removed stale grading container %s", name)
            except SandboxUnavailable as e:
                self.log.warning("could not sweep stale grading containers: %s", e)
        nonce = secrets.token_hex(16)
        stdin = self.stdin_for(cells, nonce, language)
        _, result_cap = self.result_limits(len(cells))
        streams = _Streams(result_cap)
        name = self.name_prefix + secrets.token_hex(8)
        client = await self._call("connect", self._connect)
        container = None
        killed = False
        try:
            container = await self._call("create", client.containers.create, **self.spec(name))
            sock = await self._call("attach", self._attach_and_start, container)
            talk = asyncio.ensure_future(asyncio.to_thread(self._talk, sock, stdin, streams))
            try:
                # the trusted process keeps to time_limit itself; this is the backstop
                await asyncio.wait_for(asyncio.shield(talk), self.time_limit + BACKSTOP_GRACE)
            except TimeoutError:
                killed = True
                await self._call("kill", _kill, container)
                await asyncio.wait([talk], timeout=KILL_GRACE)
            finally:
                _close(sock)
            state = await self._call("wait", _state, container)
        finally:
            if container is not None:
                # shielded: a cancelled run still removes its container
                await asyncio.shield(self._remove(container))
        exit_info = f"exit {state.get('ExitCode')}" + (", OOM" if state.get("OOMKilled") else "")
        return self.outcomes_from(
            (bytes(streams.results), streams.overflow),
            len(cells),
            nonce,
            killed,
            exit_info,
            bytes(streams.stderr),
        )

    def _attach_and_start(self, container) -> socket.socket:
        # attach first, so nothing the container writes is missed
        raw = container.attach_socket(params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
        sock = getattr(raw, "_sock", raw)
        try:
            container.start()
        except BaseException:
            _close(sock)
            raise
        return sock

    def _talk(self, sock: socket.socket, stdin: bytes, streams: _Streams) -> None:
        """Send the job, close stdin, read the streams to their end (blocking)."""
        # a backstop only: the container is killed at time_limit, which ends the stream
        sock.settimeout(self.time_limit + KILL_GRACE + 5)
        try:
            sock.sendall(stdin)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the runner died before reading its job: the results will say so
        try:
            streams.read_from(sock)
        except OSError as e:
            # the stream broke (killed, closed, or the engine went away): what was read
            # stands, and the container's state, asked next, tells which it was
            self.log.debug("grading container stream ended: %s", e)

    async def _remove(self, container) -> None:
        import docker.errors

        try:
            await asyncio.to_thread(container.remove, force=True, v=True)
        except docker.errors.NotFound:
            pass
        except Exception as e:
            # the engine is down: remove_stale() gets it when the grader next starts
            self.log.warning("could not remove grading container %s: %s", container.name, e)

    async def remove_stale(self, older_than: float | None = None) -> list[str]:
        """Remove grading containers (ours by name prefix and label) older than a run can
        last: what a grader that crashed, or lost its engine, left behind."""
        older_than = self.time_limit + KILL_GRACE + 60 if older_than is None else older_than

        def sweep():
            client = self._connect()
            removed = []
            now = datetime.now(UTC)
            for c in client.containers.list(
                all=True, filters={"label": f"{ROLE_LABEL}={ROLE}", "name": self.name_prefix}
            ):
                created = datetime.fromisoformat(c.attrs["Created"][:26].rstrip("Z") + "+00:00")
                if c.name.startswith(self.name_prefix) and (
                    (now - created).total_seconds() >= older_than
                ):
                    c.remove(force=True, v=True)
                    removed.append(c.name)
            return removed

        return await self._call("remove stale containers", sweep)


def _kill(container) -> None:
    import docker.errors

    try:
        container.kill()
    except docker.errors.APIError as e:
        if e.status_code not in (404, 409):  # already gone or already stopped
            raise


def _state(container) -> dict:
    """The stopped container's state (exit code, OOMKilled)."""
    container.wait(timeout=KILL_GRACE + 30)
    container.reload()
    return container.attrs.get("State", {})


def _close(sock) -> None:
    try:
        sock.close()
    except OSError:
        pass
