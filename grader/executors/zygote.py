"""TrustedZygote: the executor's side of the warm trusted process (grader/sandbox/zygote.py).

Starting a sandboxed Python for each run's trusted process costs as much as the run
itself; the trusted process never runs the learner's code, so one warm copy, in a
long-lived sandbox of its own under a uid of its own, forks a child per run. Each
run's learner process still gets a fresh sandbox and a fresh uid.

The zygote is started on first use and again whenever it has died; ``stop()`` ends it
and every child (the sandbox's pid namespace goes with it).
"""

from __future__ import annotations

import asyncio
import json
import socket

from .base import SandboxFailure, kill_process_group


class TrustedZygote:
    """One warm trusted process for a :class:`~grader.executors.bubblewrap.BubblewrapExecutor`."""

    def __init__(self, executor):
        self.executor = executor
        self.proc = None
        self.control: socket.socket | None = None
        self.lease = None
        self.runs = 0
        self._lock = asyncio.Lock()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def submit(self, fds: list[int]) -> None:
        """Have the zygote fork a trusted process for a run with these descriptors:
        the socket to the learner's process, the result pipe, the job pipe."""
        async with self._lock:
            if not self.running:
                await self._start()
            self.runs += 1
            message = json.dumps({"run": self.runs}).encode()
            try:
                await asyncio.to_thread(socket.send_fds, self.control, [message], fds)
            except OSError as e:
                await self._stop()
                raise SandboxFailure(f"the warm trusted process is gone: {e}") from e

    async def _start(self) -> None:
        executor = self.executor
        self.lease = await asyncio.to_thread(executor.lease_uids, 1)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            argv = executor.wrap(
                executor.launch_argv("zygote", theirs.fileno(), f"{executor.time_limit:g}"),
                None,  # long-lived: each child has its own time limit
                self.lease.uids[0],
            )
            self.proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
                env=executor.environment(),
            )
        except BaseException:
            ours.close()
            self.lease.release()
            self.lease = None
            raise
        finally:
            theirs.close()
        self.control = ours
        executor.log.info("warm trusted process started (uid %s)", self.lease.uids[0])

    def close(self) -> None:
        """Let the zygote go (it ends with its children when its control socket closes);
        safe without an event loop, e.g. when the executor is garbage-collected."""
        if self.control is not None:
            self.control.close()
            self.control = None
        if self.lease is not None:
            self.lease.release()
            self.lease = None

    async def stop(self) -> None:
        async with self._lock:
            await self._stop()

    async def _stop(self) -> None:
        if self.control is not None:
            self.control.close()
            self.control = None
        if self.proc is not None:
            kill_process_group(self.proc)
            await self.proc.wait()
            self.proc = None
        if self.lease is not None:
            self.lease.release()
            self.lease = None
