"""BubblewrapExecutor: each grading run in a fresh bubblewrap sandbox, as an unprivileged user.

The sandbox has no network and its own pid, ipc and uts namespaces; it sees a
read-only ``/usr`` (and the ``/bin``, ``/lib`` ... links into it), a fresh ``/proc``
and ``/dev``, an empty ``/tmp`` and the runner program, read-only. Privileges are
dropped to ``nobody`` with ``setpriv`` *before* bwrap (as root, bwrap's
``--unshare-user --uid`` would keep host privileges). ``prlimit`` sets address space,
process, file size and open file limits; ``timeout -s KILL`` ends the whole run, with
``asyncio.wait_for`` as a backstop and the process group killed in ``finally``.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import pwd
import shutil
import stat
import tempfile

from traitlets import Integer, List, Unicode, default

from .base import (
    BACKSTOP_GRACE,
    CellOutcome,
    CellSpec,
    Executor,
    SandboxUnavailable,
    sandbox_sources,
)

SANDBOX_DIR = "/coursehub"
LAUNCH_PATH = f"{SANDBOX_DIR}/launch.py"
# top-level directories that are symlinks into /usr on merged-/usr systems
USR_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


class BubblewrapExecutor(Executor):
    """Run grading jobs in single-use bubblewrap sandboxes (no Docker needed)."""

    bwrap = Unicode("bwrap", help="The bubblewrap program (name on PATH or full path).").tag(
        config=True
    )
    python = Unicode(
        "/usr/bin/python3",
        help="The Python that runs the cells inside the sandbox. It must be readable by "
        "the sandbox user (a venv outside root's home is fine; list it in extra_ro_binds).",
    ).tag(config=True)
    extra_ro_binds = List(
        Unicode(),
        help="Host paths bound read-only at the same place in the sandbox, e.g. a venv "
        "with numpy for questions that need it.",
    ).tag(config=True)
    user = Unicode(
        help="Unprivileged user the sandbox runs as (name or numeric uid). Default: nobody."
    ).tag(config=True)
    uid_pool_start = Integer(
        3_000_000,
        help="First uid of a range used one per running sandbox, so that a fork bomb in "
        "one sandbox (process limits count per uid) cannot starve the others. These uids "
        "need no account and must belong to nobody else. 0: every sandbox runs as "
        "`user`. Used only when the grader runs as root.",
    ).tag(config=True)
    uid_pool_size = Integer(
        1024, help="How many uids from uid_pool_start (the most sandboxes at once)."
    ).tag(config=True)

    @default("user")
    def _default_user(self):
        return os.environ.get("COURSEHUB_SANDBOX_USER", "nobody")

    _sandbox_dir: str | None = None
    # shared by every executor in this process (several apps or replicas in one process)
    _uids_in_use: set[int] = set()

    # -- preparing a sandbox -----------------------------------------------------------

    def acquire_uid(self) -> int | None:
        """A uid no other running sandbox of this executor uses, or None (use `user`)."""
        if not self.uid_pool_start or os.geteuid() != 0:
            return None
        for uid in range(self.uid_pool_start, self.uid_pool_start + self.uid_pool_size):
            if uid not in self._uids_in_use:
                self._uids_in_use.add(uid)
                return uid
        raise SandboxUnavailable(f"all {self.uid_pool_size} sandbox uids are in use")

    def release_uid(self, uid: int | None) -> None:
        if uid is not None:
            self._uids_in_use.discard(uid)

    def uid_gid(self) -> tuple[int, int]:
        try:
            entry = pwd.getpwuid(int(self.user)) if self.user.isdigit() else pwd.getpwnam(self.user)
        except (KeyError, ValueError):
            if self.user.isdigit():
                return int(self.user), int(self.user)
            raise SandboxUnavailable(f"sandbox user {self.user!r} does not exist") from None
        if entry.pw_uid == 0:
            raise SandboxUnavailable("the sandbox user must not be root")
        return entry.pw_uid, entry.pw_gid

    def sandbox_host_dir(self) -> str:
        """A copy of the sandbox programs that the sandbox users can read (made once)."""
        # one copy per process, shared by every executor in it
        cls = BubblewrapExecutor
        if cls._sandbox_dir is None or not os.path.exists(cls._sandbox_dir):
            directory = tempfile.mkdtemp(prefix="coursehub-sandbox-")
            os.chmod(directory, 0o755)
            for name, source in sandbox_sources().items():
                path = os.path.join(directory, f"{name}.py")
                with open(path, "w", encoding="utf-8") as f:
                    f.write(source)
                os.chmod(path, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
            cls._sandbox_dir = directory
            atexit.register(shutil.rmtree, directory, True)
        return cls._sandbox_dir

    def bwrap_args(self, runner: str) -> list[str]:
        """bwrap's arguments (without the program to run): the sandbox's file system."""
        args = [
            "--unshare-all",
            "--new-session",
            "--die-with-parent",
            "--cap-drop",
            "ALL",
            "--ro-bind",
            "/usr",
            "/usr",
        ]
        for link in USR_LINKS:
            if os.path.islink(link):
                args += ["--symlink", os.readlink(link), link]
            elif os.path.isdir(link):
                args += ["--ro-bind", link, link]
        for path in ("/etc/ld.so.cache", "/etc/localtime", "/etc/alternatives"):
            args += ["--ro-bind-try", path, path]
        args += [
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--size",
            str(self.tmp_size),
            "--tmpfs",
            "/tmp",
        ]
        args += ["--ro-bind", runner, SANDBOX_DIR]
        for path in self.extra_ro_binds:
            args += ["--ro-bind", path, path]
        # bwrap's root is a writable tmpfs: only /tmp may be written
        args += ["--remount-ro", "/", "--chdir", "/tmp", "--setenv", "HOME", "/tmp"]
        return args

    def wrap(self, program: list[str], time_limit: float, uid: int | None = None) -> list[str]:
        """Drop privileges, set limits, start bwrap running ``program``."""
        bwrap = shutil.which(self.bwrap)
        if bwrap is None:
            raise SandboxUnavailable(
                f"bubblewrap ({self.bwrap}) is not installed: apt-get install bubblewrap"
            )
        drop = []
        if os.geteuid() == 0:
            # as root, bwrap's own --uid would keep host privileges: drop them first
            user_uid, gid = self.uid_gid()
            if uid is None:
                uid = user_uid
            drop = [
                "setpriv",
                f"--reuid={uid}",
                f"--regid={gid}",
                "--clear-groups",
                "--no-new-privs",
                "--",
            ]
        return [
            *drop,
            "prlimit",
            f"--as={self.memory_limit}",
            f"--nproc={self.process_limit}",
            f"--fsize={self.file_size_limit}",
            f"--nofile={self.open_files_limit}",
            "--core=0",
            "--",
            "timeout",
            "-s",
            "KILL",
            f"{time_limit:g}",
            bwrap,
            *self.bwrap_args(self.sandbox_host_dir()),
            *program,
        ]

    def learner_command(self, sock_fd: int, uid: int | None = None) -> list[str]:
        """The learner's process, alone in a sandbox, with only its socket."""
        program = [self.python, "-I", LAUNCH_PATH, "learner", str(sock_fd), str(self.output_limit)]
        program.append("own-uid")  # the sandbox has its own pid namespace
        return self.wrap(program, self.time_limit + BACKSTOP_GRACE, uid)

    def trusted_command(self, sock_fd: int, uid: int | None = None) -> list[str]:
        """The trusted process, in a sandbox of its own under another uid."""
        program = [self.python, "-I", LAUNCH_PATH, "trusted", str(sock_fd)]
        return self.wrap(program, self.time_limit + BACKSTOP_GRACE, uid)

    async def run(self, cells: list[CellSpec]) -> list[CellOutcome]:
        if not self._checked:
            await self.check()
            self._checked = True
        learner_uid = self.acquire_uid()
        try:
            trusted_uid = self.acquire_uid()
        except BaseException:
            self.release_uid(learner_uid)
            raise
        try:
            return await self.run_pair(
                cells,
                lambda fd: self.learner_command(fd, learner_uid),
                lambda fd: self.trusted_command(fd, trusted_uid),
            )
        finally:
            # the sandboxes' pid namespaces are gone with bwrap: the uids are free again
            self.release_uid(learner_uid)
            self.release_uid(trusted_uid)

    # -- checking ----------------------------------------------------------------------

    async def check(self) -> str:
        """Start a sandbox that runs the sandbox's Python; raise SandboxUnavailable if not."""
        for tool in ("setpriv", "prlimit", "timeout"):
            if shutil.which(tool) is None:
                raise SandboxUnavailable(f"{tool} is not installed (util-linux/coreutils)")
        argv = self.wrap([self.python, "-I", "-c", "import json, signal, ast"], 20)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                env=self.environment(),
            )
            output, _ = await asyncio.wait_for(proc.communicate(), 30)
        except (OSError, TimeoutError) as e:
            raise SandboxUnavailable(f"cannot start bubblewrap: {e}") from e
        if proc.returncode != 0:
            detail = output.decode("utf-8", "replace").strip()[-500:]
            raise SandboxUnavailable(
                f"bubblewrap sandbox does not work (exit {proc.returncode}): {detail}"
            )
        return "ok"
