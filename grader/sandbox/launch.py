"""Start the two processes of a grading sandbox. Standard library only.

Three ways in, one per kind of sandbox:

``launch.py learner SOCK_FD OUTPUT_LIMIT [own-uid]``
    the learner's process, alone in a sandbox of its own (bubblewrap): it keeps only the
    socket to the trusted process and serves it (:mod:`learner`). ``own-uid``: its uid
    (or pid namespace) is the learner's alone, so leftovers may be killed wholesale.
``launch.py trusted SOCK_FD``
    the trusted process, alone in another sandbox: reads the job from stdin, writes
    results on the job's ``result_fd`` (:mod:`trusted`).
``launch.py zygote CONTROL_FD TIME_LIMIT``
    a warm trusted process in a long-lived sandbox that forks one trusted process per
    run (:mod:`zygote`).
:func:`container_main`
    both in one container (Docker, Kubernetes), started as root with only the
    SETUID/SETGID capabilities: the learner's process is forked *before* the job is read
    (so no hidden test was ever in its memory), under a uid of its own, with nothing
    open but its socket; then this process drops to the trusted uid and reads the job
    (from stdin, or from a root-only file it opened before dropping privileges).

Each process locks itself down first (:mod:`seccomp`) and never regains privileges.
"""

from __future__ import annotations

import json
import os
import socket
import sys

if __name__ == "__main__":  # run as a script: the sandbox's modules sit beside it
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    from . import wire
except ImportError:  # inside a sandbox, the sandbox's modules are top-level
    import wire

LEARNER_UID = 65534
TRUSTED_UID = 65533


def lock_down() -> str:
    """No new privileges and the seccomp filter, for this process and its children."""
    try:
        import seccomp
    except ImportError:
        try:
            from . import seccomp
        except ImportError:
            return "seccomp: not available"
    program = seccomp.build_filter()
    if program is None:
        return "seccomp: unsupported architecture"
    return seccomp.install(program)


def _only_fds(keep: set[int]) -> None:
    """Close every descriptor but ``keep``; 0, 1 and 2 point at /dev/null unless kept."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        if fd not in keep and fd != devnull:
            os.dup2(devnull, fd)
    top = max(keep | {2, devnull}) + 1
    for fd in range(3, max(top, 3)):
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    os.closerange(top, 1 << 16)


def _learner_server_class():
    try:
        from .learner import LearnerServer
    except ImportError:
        from learner import LearnerServer
    return LearnerServer


def _trusted_main():
    try:
        from .trusted import main
    except ImportError:
        from trusted import main
    return main


def run_learner(sock_fd: int, output_limit: int, own_uid: bool) -> None:
    server_class = _learner_server_class()
    lock_down()
    sock = socket.socket(fileno=sock_fd)
    server_class(sock, output_limit, own_uid).serve()
    os._exit(0)


def run_trusted(sock_fd: int, job_bytes: bytes, result_fd: int) -> None:
    main = _trusted_main()
    job = json.loads(job_bytes.decode("utf-8"))
    del job_bytes
    sock = socket.socket(fileno=sock_fd)
    main(job, sock, result_fd)
    sock.close()
    os._exit(0)


def read_job(fd: int = 0) -> bytes:
    """The job: a 10-digit length, then that many bytes of JSON (read unbuffered)."""
    size = int(wire.read_exactly_fd(fd, 10))
    return wire.read_exactly_fd(fd, size)


def drop_privileges(uid: int) -> None:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def set_rlimits(limits: dict) -> None:
    """Lower resource limits (name -> value, e.g. ``{"data": 2**29}``) for this process
    and every process it starts; never above the hard limit already in force."""
    import resource

    for name, value in limits.items():
        which = getattr(resource, "RLIMIT_" + name.upper())
        _, hard = resource.getrlimit(which)
        value = int(value) if hard == resource.RLIM_INFINITY else min(int(value), hard)
        resource.setrlimit(which, (value, value))


def _read_file_fd(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def container_main(settings: dict) -> None:
    """Both processes in one container (see the module's doc). Called as root.

    ``settings``: ``output_limit``, ``learner_uid``, ``trusted_uid``, and optionally
    ``rlimits`` (see :func:`set_rlimits`; for engines with no rlimits of their own,
    such as Kubernetes) and ``job_path``: the job as a JSON file instead of framed on
    stdin. The file is opened only after the learner's process is forked and before
    this one drops privileges, so a file readable by root alone keeps it from both
    sandbox uids while the trusted process still reads it (through the descriptor).
    """
    output_limit = int(settings.get("output_limit", 65536))
    learner_uid = int(settings.get("learner_uid", LEARNER_UID))
    trusted_uid = int(settings.get("trusted_uid", TRUSTED_UID))
    job_path = settings.get("job_path")
    privileged = os.geteuid() == 0
    set_rlimits(settings.get("rlimits") or {})
    trusted_end, learner_end = socket.socketpair()
    pid = os.fork()
    if pid == 0:  # the learner's process: nothing of the job has been read yet
        try:
            learner_fd = learner_end.detach()
            _only_fds({learner_fd})
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write("1000")  # under memory pressure, the learner's processes go first
        except OSError:
            pass
        if privileged:
            drop_privileges(learner_uid)
        run_learner(learner_fd, output_limit, own_uid=privileged)
        os._exit(0)
    learner_end.close()
    # the learner's process exists and never had it: now the job's file may be opened
    job_fd = os.open(job_path, os.O_RDONLY | os.O_CLOEXEC) if job_path else None
    # results go on a private copy of stdout; fd 1 itself points nowhere
    result_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    if privileged:
        drop_privileges(trusted_uid)
    lock_down()
    if job_fd is None:
        job = read_job(0)
    else:
        job = _read_file_fd(job_fd)
        os.close(job_fd)
    os.close(0)
    job_document = json.loads(job)
    job_document["result_fd"] = result_fd
    run_trusted(trusted_end.detach(), json.dumps(job_document).encode(), result_fd)


def main(argv: list[str]) -> None:
    role = argv[1]
    if role == "learner":
        sock_fd, output_limit = int(argv[2]), int(argv[3])
        _only_fds({sock_fd})
        run_learner(sock_fd, output_limit, own_uid="own-uid" in argv[4:])
    elif role == "trusted":
        sock_fd = int(argv[2])
        lock_down()
        job = read_job(0)
        os.close(0)
        result_fd = int(json.loads(job)["result_fd"])
        run_trusted(sock_fd, job, result_fd)
    elif role == "zygote":
        control_fd, time_limit = int(argv[2]), float(argv[3])
        _only_fds({control_fd, 2})
        lock_down()
        try:
            from .zygote import serve
        except ImportError:
            from zygote import serve
        serve(control_fd, time_limit)
    else:
        raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    main(sys.argv)
