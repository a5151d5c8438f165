"""A warm trusted process that forks one trusted process per grading run. Stdlib only.

The trusted process never runs the learner's code, so one long-lived copy, with
everything it needs already imported, may fork a fresh child for each run instead of a
new sandbox starting Python each time (as PrairieLearn's zygote does). It lives in a
sandbox of its own (bubblewrap, its own uid, the seccomp filter), like the per-run
trusted process it replaces.

The executor talks to it on a control socket: each request is a small JSON document
``{"run": id}`` carrying three descriptors (``socket.send_fds``): the socket to the run's
learner process, the result pipe's write end, and a pipe the job is read from. The
child reads the job, grades, writes its results and exits; the zygote keeps none of
them. A child still running at ``time_limit`` (plus a grace) is killed: its result
pipe then ends early and the executor sees an unfinished run. End of file on the control
socket ends the zygote and every child.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import time

try:
    from . import launch
except ImportError:  # inside a sandbox, the sandbox's modules are top-level
    import launch

GRACE = 2.0


def serve(control_fd: int, time_limit: float) -> None:
    launch._trusted_main()  # imported once, here: every child inherits it
    control = socket.socket(fileno=control_fd)
    children: dict[int, float] = {}  # pid -> when it must be gone
    while True:
        timeout = max(0.0, min(children.values()) - time.monotonic()) if children else None
        readable, _, _ = select.select([control], [], [], timeout)
        if readable:
            try:
                data, fds, _, _ = socket.recv_fds(control, 4096, 3)
            except OSError:
                data, fds = b"", []
            if not data:
                break  # the executor is gone
            if len(fds) != 3:
                for fd in fds:
                    os.close(fd)
                continue
            pid = os.fork()
            if pid == 0:
                control.close()
                _run_child(*fds)
            for fd in fds:
                os.close(fd)
            children[pid] = time.monotonic() + time_limit + GRACE
        _reap(children)
    for pid in children:
        _kill(pid)
    os._exit(0)


def _run_child(sock_fd: int, result_fd: int, job_fd: int) -> None:
    try:
        job = launch.read_job(job_fd)
        os.close(job_fd)
        launch.run_trusted(sock_fd, job, result_fd)
    finally:
        os._exit(0)


def _reap(children: dict[int, float]) -> None:
    now = time.monotonic()
    for pid, deadline in list(children.items()):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            del children[pid]
        elif now >= deadline:
            _kill(pid)
            children[pid] = now + 1.0  # reaped on a later round


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
