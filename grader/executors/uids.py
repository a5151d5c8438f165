"""Sandbox uids that no two running sandboxes on one host ever share.

A sandbox runs under a uid of its own so that what counts per uid (the process limit,
who may signal or ptrace whom, who owns which file) never lets one sandbox reach or
starve another. A set of "uids in use" inside one grader process is not enough: a
second grader on the host (several replicas, or a restart overlapping the old process)
would hand out the same uids, and one learner's fork bomb would then make another
learner's correct answer fail.

So the pool is host-wide and needs no server: uid ``U`` is taken by holding an
exclusive ``flock`` on ``<lock_dir>/<U>.lock``. The lock lives exactly as long as the
open file description that holds it: closing it releases the uid, and so does the death
of the process holding it (even ``kill -9``), so a crashed grader never leaks uids. Its
sandboxes may outlive it, though (they end at their own time limit): so whoever takes a
uid first kills every process still running under it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import subprocess
import threading
import time

DEFAULT_LOCK_DIR = "/run/coursehub/sandbox-uids"
# how long to wait for a leftover's processes to be gone after SIGKILL
LEFTOVER_GRACE = 2.0


class UidPoolExhausted(RuntimeError):
    """Every uid of the pool is held by a running sandbox (of this or another grader)."""


class UidLease:
    """Distinct uids held until :meth:`release` (or the holder's death)."""

    def __init__(self, uids: tuple[int, ...], fds: list[int]):
        self.uids = uids
        self._fds = fds
        self._lock = threading.Lock()

    def __repr__(self):
        return f"<UidLease {self.uids}{'' if self._fds else ' released'}>"

    @property
    def released(self) -> bool:
        return not self._fds

    def release(self) -> None:
        """Give the uids back (safe to call twice)."""
        with self._lock:
            fds, self._fds = self._fds, []
        for fd in fds:
            os.close(fd)  # closing the lock file's only descriptor drops the flock

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def prepare_lock_dir(path: str) -> None:
    """Create ``path`` (mode 0700) if missing; refuse one that someone else could write
    into: whoever can create lock files there can hold every uid, or none."""
    os.makedirs(os.path.dirname(path) or ".", mode=0o755, exist_ok=True)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if not os.path.isdir(path) or os.path.islink(path):
        raise OSError(errno.ENOTDIR, f"uid lock directory {path} is not a directory")
    if st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise OSError(
            errno.EPERM,
            f"uid lock directory {path} must belong to uid {os.geteuid()} and be writable "
            f"by it only (it has uid {st.st_uid}, mode {st.st_mode & 0o777:o})",
        )


def processes_of(uids: set[int]) -> list[int]:
    """Pids of the live processes whose real or saved uid is in ``uids``.

    Reads ``/proc/<pid>/status``, not the owner of ``/proc/<pid>``: a process that made
    itself non-dumpable shows as root's there. Zombies are left out (they run nothing).
    """
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status", "rb") as f:
                status = f.read(4096)
        except OSError:
            continue  # gone meanwhile
        state = uid_line = None
        for line in status.split(b"\n"):
            if line.startswith(b"State:"):
                state = line.split()[1:2]
            elif line.startswith(b"Uid:"):
                uid_line = line.split()[1:]
                break
        if uid_line is None or state in ([b"Z"], [b"X"]):
            continue
        real, saved = int(uid_line[0]), int(uid_line[2])
        if real in uids or saved in uids:
            found.append(int(name))
    return found


def kill_uid(uid: int) -> None:
    """SIGKILL every process of ``uid`` at once: ``kill(-1)`` made *as* that uid signals
    exactly the processes it may signal (its own) but not itself, atomically with
    respect to fork, so a fork bomb cannot outrun it. Needs root."""
    subprocess.run(
        [
            "setpriv",
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--",
            "kill",
            "-KILL",
            "-1",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=10,
        check=False,  # exits 1 even when it killed (procps), and when nothing was there
    )


class UidPool:
    """Uids ``start .. start+size-1``, shared host-wide through lock files in ``lock_dir``.

    Thread-safe, never blocks on another holder (``LOCK_NB``): call :meth:`acquire` from
    a thread when on an event loop (it reads ``/proc`` and may start ``setpriv``).
    """

    def __init__(self, start: int, size: int, lock_dir: str = DEFAULT_LOCK_DIR, log=None):
        if start <= 0 or size <= 0:
            raise ValueError("a uid pool needs a positive start and size")
        self.start, self.size, self.lock_dir, self.log = start, size, lock_dir, log
        self._cursor = 0
        self._mutex = threading.Lock()
        self._prepared = False

    def acquire(self, count: int = 1) -> UidLease:
        """``count`` distinct uids no other sandbox on this host holds, with no process
        left running under them. Raises UidPoolExhausted, or OSError (lock directory)."""
        if not self._prepared:
            prepare_lock_dir(self.lock_dir)
            self._prepared = True
        with self._mutex:
            first = self._cursor  # start after the last uid handed out: reuse it last
            self._cursor = (self._cursor + count) % self.size
        uids, fds = [], []
        try:
            for i in range(self.size):
                if len(uids) == count:
                    break
                uid = self.start + (first + i) % self.size
                fd = self._try_lock(uid)
                if fd is not None:
                    uids.append(uid)
                    fds.append(fd)
            if len(uids) < count:
                raise UidPoolExhausted(
                    f"all {self.size} sandbox uids from {self.start} are in use on this host"
                )
            self._end_leftovers(set(uids))
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        with self._mutex:
            self._cursor = (uids[-1] - self.start + 1) % self.size
        return UidLease(tuple(uids), fds)

    def _try_lock(self, uid: int) -> int | None:
        path = os.path.join(self.lock_dir, f"{uid}.lock")
        # O_CLOEXEC: a sandbox that inherited the descriptor could unlock it for everyone
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _end_leftovers(self, uids: set[int]) -> None:
        """Kill what a crashed holder's sandboxes left running under ``uids``."""
        pids = processes_of(uids)
        if not pids:
            return
        if self.log is not None:
            self.log.warning(
                "killing %d leftover process(es) of sandbox uid(s) %s (a grader that "
                "stopped while grading?)",
                len(pids),
                sorted(uids),
            )
        deadline = time.monotonic() + LEFTOVER_GRACE
        while pids and time.monotonic() < deadline:
            for uid in uids:
                kill_uid(uid)
            time.sleep(0.01)
            pids = processes_of(uids)
        if pids and self.log is not None:
            self.log.warning("sandbox uid(s) %s still have processes %s", sorted(uids), pids)
