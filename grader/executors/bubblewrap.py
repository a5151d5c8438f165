"""BubblewrapExecutor: each grading run in a fresh bubblewrap sandbox, as an unprivileged user.

The sandbox has no network and its own pid, ipc, uts, cgroup and user namespaces (in
which no further user namespace may be made); it sees a read-only ``/usr`` (and the
``/bin``, ``/lib`` ... links into it), a fresh ``/proc``, a minimal read-only ``/dev``
(with a small ``/dev/shm``), an empty size-limited ``/tmp`` and the sandbox programs,
read-only; they install a seccomp filter (:mod:`grader.sandbox.seccomp`) first thing.

Each run's learner process gets a fresh sandbox (one is started ahead of need) under a
uid of its own from a host-wide pool (:mod:`.uids`: never shared with another grader's
sandbox on the host), in a cgroup of its own with memory, CPU and pids limits for all
its processes together (:mod:`.cgroups`, where the machine has them). Its trusted
process is forked from a warm one living in another sandbox under another pool uid
(:mod:`.zygote`). A sandbox joins its cgroup, then privileges are dropped with
``setpriv`` *before* bwrap (as root, bwrap's ``--unshare-user --uid`` would keep host
privileges); ``prlimit`` sets address space, process, file size and open file limits per
process. The trusted process keeps to the run's time limit, the warm process kills a
child past it, and ``asyncio.wait_for`` is the backstop.
:meth:`BubblewrapExecutor.limits_in_force` says which of these hold on this machine.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
import tempfile
import weakref
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from traitlets import Float, Integer, List, Unicode, default

from .base import (
    CellOutcome,
    CellSpec,
    Executor,
    SandboxUnavailable,
    kill_process_group,
    sandbox_sources,
)
from .cgroups import CgroupLimits, RunCgroup
from .uids import DEFAULT_LOCK_DIR, UidLease, UidPool, UidPoolExhausted
from .zygote import TrustedZygote

SANDBOX_DIR = "/coursehub"
# starts grader/sandbox/launch.py as an imported module, so its compiled form is used
LAUNCH = f"import sys; sys.path.insert(0, {SANDBOX_DIR!r}); import launch; launch.main(sys.argv)"
# top-level directories that are symlinks into /usr on merged-/usr systems
USR_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# tasks a sandbox has besides the learner's: timeout, bwrap, bwrap's pid 1
PIDS_OVERHEAD = 4
# what check() runs inside a sandbox: the seccomp filter installs, /dev is read-only but
# its devices work, nested user namespaces are refused
SANDBOX_PROBE = f"""
import ctypes, json, os, sys
sys.path.insert(0, {SANDBOX_DIR!r})
import seccomp
found = {{}}
with open("/dev/null", "w") as f:
    f.write("x")
try:
    open("/dev/coursehub-probe", "w")
    found["dev"] = "writable"
except OSError:
    found["dev"] = "read-only"
found["userns"] = "allowed" if ctypes.CDLL(None).unshare(0x10000000) == 0 else "refused"
try:
    found["seccomp"] = seccomp.install() if seccomp.build_filter() else "unsupported arch"
except OSError as e:
    found["seccomp"] = "error: " + str(e)
print(json.dumps(found))
"""


@dataclass
class SandboxSlot:
    """What one sandbox of a run runs under: a uid of its own (None: the configured
    ``user``, or the grader's own uid when it is not root) and a cgroup of its own
    (None where cgroups are not available)."""

    uid: int | None
    cgroup: RunCgroup | None

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of this sandbox over its memory limit
        (read it inside ``reserve_sandboxes``: the cgroup is gone after)."""
        return self.cgroup is not None and self.cgroup.oom_killed()


SANDBOX_DIR_PREFIX = "coursehub-sandbox-"


def remove_leftover_sandbox_dirs() -> None:
    """Remove the sandbox program folders of grader processes that were killed (atexit
    never ran): each is named after its process's pid."""
    for path in Path(tempfile.gettempdir()).glob(f"{SANDBOX_DIR_PREFIX}*"):
        pid = path.name[len(SANDBOX_DIR_PREFIX) :].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            pass  # alive, another user's


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
        1024,
        help="How many uids from uid_pool_start (one a run, one for the warm trusted process).",
    ).tag(config=True)
    uid_lock_dir = Unicode(
        DEFAULT_LOCK_DIR,
        help="Directory of the lock files that make the uid pool host-wide: every grader "
        "on this host must use the same one (and the same pool). Created mode 0700.",
    ).tag(config=True)
    cpu_limit = Float(
        1.0, help="CPUs one sandbox may use (a cgroup CPU quota, where cgroups work)."
    ).tag(config=True)
    shm_size = Integer(
        8 * 1024 * 1024,
        help="Bytes the sandbox's /dev/shm (POSIX shared memory and semaphores, used by "
        "multiprocessing) may hold, in memory like /tmp. 0: no /dev/shm. The rest of "
        "/dev is read-only.",
    ).tag(config=True)

    warm_learners = Integer(
        1,
        help="Learner sandboxes kept started ahead of need (each fresh, used once), so a "
        "submission does not wait for one to start. 0: start each when needed.",
    ).tag(config=True)

    @default("user")
    def _default_user(self):
        return os.environ.get("COURSEHUB_SANDBOX_USER", "nobody")

    _sandbox_dir: str | None = None
    _uid_pool: UidPool | None = None
    _cgroups: CgroupLimits | None = None
    # learned by check(): bwrap before 0.8 has no --disable-userns (seccomp still
    # refuses new user namespaces); what check() saw inside a sandbox
    _bwrap_disables_userns = True
    _probe: dict | None = None

    # -- what a sandbox runs under ---------------------------------------------------

    def uid_pool(self) -> UidPool | None:
        """The host-wide pool of sandbox uids, or None (not root, or no pool)."""
        if not self.uid_pool_start or os.geteuid() != 0:
            return None
        if self._uid_pool is None:
            self._uid_pool = UidPool(
                self.uid_pool_start, self.uid_pool_size, self.uid_lock_dir, log=self.log
            )
        return self._uid_pool

    def cgroups(self) -> CgroupLimits:
        """Whole-sandbox limits (``c.CgroupLimits.enabled`` etc. configure it)."""
        if self._cgroups is None:
            self._cgroups = CgroupLimits(parent=self)
        return self._cgroups

    def lease_uids(self, count: int) -> UidLease:
        """``count`` distinct uids held host-wide until ``lease.release()``; without a
        pool, ``count`` times None (run as ``user``). Blocking (a few ms): call it from a
        thread on an event loop."""
        pool = self.uid_pool()
        if pool is None:
            return UidLease((None,) * count, [])
        try:
            return pool.acquire(count)
        except UidPoolExhausted as e:
            raise SandboxUnavailable(str(e)) from None
        except OSError as e:
            raise SandboxUnavailable(f"sandbox uid pool: {e}") from e

    @asynccontextmanager
    async def reserve_sandboxes(self, count: int = 2):
        """``count`` :class:`SandboxSlot` for one run (learner, trusted): distinct uids no
        other sandbox on this host has, each with a cgroup of its own. On exit every
        process left in the cgroups is killed, the cgroups removed, the uids released.

        Each sandbox gets its own cgroup so that the learner's processes can neither
        take the trusted process's memory, CPU or tasks nor get it OOM-killed.
        """
        lease = await asyncio.to_thread(self.lease_uids, count)
        slots: list[SandboxSlot] = []
        try:
            for uid in lease.uids:
                cgroup = await asyncio.to_thread(self.create_cgroup)
                slots.append(SandboxSlot(uid, cgroup))
            yield slots
        finally:
            # the run's result does not wait for its leftovers to die: the uids stay
            # leased until the cgroups are empty and gone
            cleanup = asyncio.ensure_future(asyncio.to_thread(_release, slots, lease))
            self._cleanups.add(cleanup)
            cleanup.add_done_callback(self._cleanups.discard)

    def create_cgroup(self) -> RunCgroup | None:
        """A cgroup for one sandbox with this executor's limits, or None (no cgroups).
        Blocking (cgroupfs I/O): call it from a thread on an event loop."""
        try:
            return self.cgroups().create(
                f"run-{os.getpid()}-{secrets.token_hex(6)}",
                # tmpfs files are memory too, as in the Docker executor
                self.memory_limit + self.tmp_size + self.shm_size,
                self.cpu_limit,
                self.process_limit + PIDS_OVERHEAD,
            )
        except OSError as e:
            raise SandboxUnavailable(f"cannot create the sandbox's cgroup: {e}") from e

    def uid_gid(self, uid: int | None = None) -> tuple[int, int]:
        """The (uid, gid) a sandbox runs as: a pool uid with a group of the same number
        (shared with nobody), or the configured ``user``'s."""
        if uid is not None:
            return uid, uid
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
            remove_leftover_sandbox_dirs()
            directory = tempfile.mkdtemp(prefix=f"{SANDBOX_DIR_PREFIX}{os.getpid()}-")
            os.chmod(directory, 0o755)
            for name, source in sandbox_sources().items():
                path = os.path.join(directory, f"{name}.py")
                with open(path, "w", encoding="utf-8") as f:
                    f.write(source)
                os.chmod(path, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
            # compiled once here, by the sandbox's Python: no sandbox compiles them again
            subprocess.run(
                [self.python, "-I", "-m", "compileall", "-q", directory],
                check=False,
                capture_output=True,
            )
            for root, dirs, files in os.walk(directory):
                for name in dirs + files:
                    os.chmod(os.path.join(root, name), 0o755 if name in dirs else 0o444)
            cls._sandbox_dir = directory
            atexit.register(shutil.rmtree, directory, True)
        return cls._sandbox_dir

    def bwrap_args(self, runner: str) -> list[str]:
        """bwrap's arguments (without the program to run): the sandbox's file system."""
        args = ["--unshare-all"]
        if self._bwrap_disables_userns:
            # the sandbox's own user namespace (its uid maps to itself), in which no
            # further one may be made: --unshare-all only *tries* to make one
            args += ["--unshare-user", "--disable-userns"]
        args += [
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
        # /etc/R: R's own configuration (/usr/lib/R/etc links there), for R questions
        for path in ("/etc/ld.so.cache", "/etc/localtime", "/etc/alternatives", "/etc/R"):
            args += ["--ro-bind-try", path, path]
        # a minimal /dev (null, zero, full, random, urandom, tty, pts), read-only: bwrap
        # makes it a tmpfs with no size limit; the device nodes stay usable (they are
        # mounts of their own, and writing a device is no write to the file system)
        args += ["--proc", "/proc", "--dev", "/dev"]
        if self.shm_size > 0:
            args += ["--size", str(self.shm_size), "--tmpfs", "/dev/shm"]
        args += ["--remount-ro", "/dev", "--size", str(self.tmp_size), "--tmpfs", "/tmp"]
        args += ["--ro-bind", runner, SANDBOX_DIR]
        for path in self.extra_ro_binds:
            args += ["--ro-bind", path, path]
        # bwrap's root is a writable tmpfs: only /tmp may be written
        args += ["--remount-ro", "/", "--chdir", "/tmp", "--setenv", "HOME", "/tmp"]
        return args

    def wrap(
        self,
        program: list[str],
        time_limit: float | None,
        uid: int | None = None,
        cgroup: RunCgroup | None = None,
    ) -> list[str]:
        """Join ``cgroup``, drop privileges to ``uid``, set rlimits, start bwrap running
        ``program``. The cgroup is joined first, while still privileged, so that
        everything the sandbox ever starts is inside it; the rlimits stay as a
        per-process backstop (and the only limits where there are no cgroups)."""
        bwrap = shutil.which(self.bwrap)
        if bwrap is None:
            raise SandboxUnavailable(
                f"bubblewrap ({self.bwrap}) is not installed: apt-get install bubblewrap"
            )
        enter = cgroup.enter_prefix() if cgroup is not None else []
        drop = []
        if os.geteuid() == 0:
            # as root, bwrap's own --uid would keep host privileges: drop them first
            uid, gid = self.uid_gid(uid)
            drop = [
                "setpriv",
                f"--reuid={uid}",
                f"--regid={gid}",
                "--clear-groups",
                "--no-new-privs",
                "--",
            ]
        return [
            *enter,
            *drop,
            "prlimit",
            f"--as={self.address_space_limits()}",
            f"--nproc={self.process_limit}",
            f"--fsize={self.file_size_limit}",
            f"--nofile={self.open_files_limit}",
            "--core=0",
            "--",
            *(["timeout", "-s", "KILL", f"{time_limit:g}"] if time_limit is not None else []),
            bwrap,
            *self.bwrap_args(self.sandbox_host_dir()),
            *program,
        ]

    def learner_command(self, sock_fd: int, uid=None, cgroup=None) -> list[str]:
        """The learner's process, alone in a sandbox, with only its socket."""
        program = self.launch_argv("learner", sock_fd, self.output_limit)
        program.append("own-uid")  # the sandbox has its own pid namespace
        # no `timeout`: one started ahead may wait long for its run; the run ends it,
        # and bwrap (whose parent is then the grader) ends if the grader dies
        return self.wrap(program, None, uid, cgroup)

    def launch_argv(self, role: str, *arguments) -> list[str]:
        """The sandbox's Python starting one of launch.py's roles."""
        return [self.python, "-I", "-c", LAUNCH, role, *map(str, arguments)]

    _cleanups: set[asyncio.Future] = set()
    _ready: list[asyncio.Future]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._ready = []

    _zygote: TrustedZygote | None = None

    def zygote(self) -> TrustedZygote:
        """This executor's warm trusted process (started on first use)."""
        if self._zygote is None:
            self._zygote = TrustedZygote(self)
            weakref.finalize(self, self._zygote.close)
        return self._zygote

    async def run(self, cells: list[CellSpec], language: dict | None = None) -> list[CellOutcome]:
        if not self._checked:
            await self.check()
            self._checked = True
        learner = await self._take_learner()
        try:
            outcomes = await self.run_forked(
                cells, learner.proc, learner.sock, self.zygote(), language
            )
            return await self._with_memory_verdict(outcomes, learner.slot)
        finally:
            self._in_background(_retire(learner))

    async def _with_memory_verdict(self, outcomes, slot: SandboxSlot):
        if await asyncio.to_thread(slot.oom_killed):
            # the learner's sandbox as a whole went over its memory: that is why its
            # process ended
            for outcome in outcomes:
                if outcome.reason == "learner_exit":
                    outcome.reason = "memory_limit"
        return outcomes

    async def close(self) -> None:
        ready, self._ready = self._ready, []
        for task in ready:
            task.cancel()
        for result in await asyncio.gather(*ready, return_exceptions=True):
            if isinstance(result, ReadyLearner):
                await _retire(result)
        if self._zygote is not None:
            await self._zygote.stop()
        await self.settle()

    # -- learner sandboxes started ahead of need -----------------------------------------

    async def _take_learner(self) -> ReadyLearner:
        """A fresh learner sandbox, started earlier if one is ready; another starts."""
        learner = None
        while self._ready and learner is None:
            task = self._ready.pop(0)
            try:
                candidate = await task
            except Exception as e:
                self.log.warning("a learner sandbox started ahead failed: %s", e)
                continue
            if candidate.proc.returncode is None:
                learner = candidate
            else:
                self._in_background(_retire(candidate))
        while len(self._ready) < self.warm_learners:
            self._ready.append(asyncio.ensure_future(self._start_learner()))
        return learner if learner is not None else await self._start_learner()

    async def _start_learner(self) -> ReadyLearner:
        lease = await asyncio.to_thread(self.lease_uids, 1)
        slot = None
        try:
            slot = SandboxSlot(lease.uids[0], await asyncio.to_thread(self.create_cgroup))
            trusted_end, learner_end = socket.socketpair()
            try:
                argv = self.learner_command(learner_end.fileno(), slot.uid, slot.cgroup)
                proc = await self._start(argv, (learner_end.fileno(),), None)
            except BaseException:
                trusted_end.close()
                raise
            finally:
                learner_end.close()
        except BaseException:
            await asyncio.to_thread(_release, [slot] if slot else [], lease)
            raise
        ready = ReadyLearner(proc, trusted_end, slot, lease)
        # if it is never used (its executor dropped): its socket closes, it ends, its
        # cgroup and uid are freed
        ready.finalizer = weakref.finalize(ready, _abandon, trusted_end, slot, lease)
        return ready

    async def settle(self) -> None:
        """Wait until what finished runs left behind is cleaned up (for tests)."""
        await asyncio.gather(*list(self._cleanups), return_exceptions=True)

    def _in_background(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)

    async def check(self) -> str:
        """Start a sandbox as a run does (a pool uid, a cgroup) and prove inside it that
        the seccomp filter installs, ``/dev`` is read-only and nested user namespaces
        are refused; raise SandboxUnavailable if not. Logs the limits in force once."""
        for tool in ("setpriv", "prlimit", "timeout"):
            if shutil.which(tool) is None:
                raise SandboxUnavailable(f"{tool} is not installed (util-linux/coreutils)")
        bwrap = shutil.which(self.bwrap)
        if bwrap is None:
            raise SandboxUnavailable(
                f"bubblewrap ({self.bwrap}) is not installed: apt-get install bubblewrap"
            )
        await asyncio.to_thread(self.sandbox_host_dir)  # made once (compiling): off the loop
        _, usage = await self._output([bwrap, "--help"], 10)
        self._bwrap_disables_userns = "--disable-userns" in usage
        support = await asyncio.to_thread(self.cgroups().available)
        if self.cgroups().enabled == "yes" and support.reasons:
            raise SandboxUnavailable(f"cgroups required but unavailable: {support.reasons}")
        async with self.reserve_sandboxes(1) as (slot,):
            program = [self.python, "-I", "-c", SANDBOX_PROBE]
            argv = self.wrap(program, 20, slot.uid, slot.cgroup)
            returncode, output = await self._output(argv, 30)
        if returncode != 0:
            raise SandboxUnavailable(
                f"bubblewrap sandbox does not work (exit {returncode}): {output[-500:]}"
            )
        try:
            found = json.loads(output.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise SandboxUnavailable(f"bubblewrap sandbox probe said: {output[-500:]}") from None
        problems = []
        if found.get("dev") != "read-only":
            problems.append("/dev is writable")
        if found.get("userns") != "refused" and self._bwrap_disables_userns:
            problems.append("nested user namespaces are allowed")
        if str(found.get("seccomp", "")).startswith("error"):
            problems.append(found["seccomp"])
        if problems:
            raise SandboxUnavailable(
                "bubblewrap sandbox is not locked down: " + "; ".join(problems)
            )
        first = self._probe is None
        self._probe = found
        if first:
            self.log.info(
                "bubblewrap sandbox limits in force: %s; cgroups under %s",
                self.limits_in_force(),
                sorted(set(support.parents.values())) or "none",
            )
        return "ok"

    async def _output(self, argv: list[str], timeout: float) -> tuple[int, str]:
        """(exit status, stdout and stderr) of a short command."""
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                env=self.environment(),
            )
        except OSError as e:
            raise SandboxUnavailable(f"cannot start {argv[0]}: {e}") from e
        try:
            output, _ = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise SandboxUnavailable(f"{argv[0]} did not finish in {timeout:g} s") from None
        return proc.returncode, output.decode("utf-8", "replace")

    def limits_in_force(self) -> dict[str, str]:
        """What confines a sandbox on this machine, in words, for the log and health.
        Accurate after :meth:`check` (before it, seccomp and nested user namespaces say
        what is intended, not what was seen)."""
        support = self.cgroups().available()
        mib = 1024 * 1024
        probe = self._probe or {}
        namespaces = ["mount", "pid", "net", "ipc", "uts", "cgroup", "user"]
        userns = probe.get("userns", "refused" if self._bwrap_disables_userns else "allowed")
        limits = {
            "namespaces": ", ".join(namespaces) + f"; nested user namespaces {userns}",
            "filesystem": f"read-only but /tmp ({self.tmp_size // mib} MiB)"
            + (f" and /dev/shm ({self.shm_size // mib} MiB)" if self.shm_size > 0 else ""),
            "seccomp": probe.get("seccomp", "not checked yet"),
            "time": f"{self.time_limit:g} s per run, {self.cell_time_limit:g} s per cell",
        }
        rlimit = f"rlimit {self.memory_limit // mib} MiB of address space per process"
        if support.works("memory"):
            total = (self.memory_limit + self.tmp_size + self.shm_size) // mib
            limits["memory"] = (
                f"{support.describe('memory')}: {total} MiB per sandbox (its files in "
                f"memory included); {rlimit}"
            )
        else:
            limits["memory"] = f"{rlimit} only ({support.describe('memory')})"
        if support.works("cpu"):
            limits["cpu"] = f"{support.describe('cpu')}: {self.cpu_limit:g} CPU per sandbox"
        else:
            limits["cpu"] = f"time limits only ({support.describe('cpu')})"
        nproc = f"rlimit {self.process_limit} processes per uid"
        if support.works("pids"):
            pids = self.process_limit + PIDS_OVERHEAD
            limits["pids"] = f"{support.describe('pids')}: {pids} tasks per sandbox; {nproc}"
        else:
            limits["pids"] = f"{nproc} only ({support.describe('pids')})"
        if self.uid_pool() is not None:
            limits["uids"] = (
                f"host-wide pool {self.uid_pool_start}+{self.uid_pool_size} (locks in "
                f"{self.uid_lock_dir}), a uid of its own for each sandbox, two per run"
            )
        elif os.geteuid() == 0:
            limits["uids"] = f"every sandbox runs as {self.user} (uid_pool_start is 0)"
        else:
            limits["uids"] = "every sandbox runs as the grader's own uid (it is not root)"
        return limits


@dataclass
class ReadyLearner:
    """A started learner sandbox waiting for its run: the process, the socket's other
    end (for the trusted process), its uid and cgroup."""

    proc: asyncio.subprocess.Process
    sock: socket.socket
    slot: SandboxSlot
    lease: UidLease
    finalizer: weakref.finalize | None = None


def _abandon(sock: socket.socket, slot: SandboxSlot, lease: UidLease) -> None:
    sock.close()  # the learner's process ends on end of file
    _release([slot], lease)


async def _retire(learner: ReadyLearner) -> None:
    """End a learner sandbox (used, or not wanted), then free its cgroup and uid."""
    if learner.finalizer is not None:
        learner.finalizer.detach()
    learner.sock.close()
    kill_process_group(learner.proc)
    await learner.proc.wait()
    await asyncio.to_thread(_release, [learner.slot], learner.lease)


def _release(slots: list[SandboxSlot], lease: UidLease) -> None:
    """Kill what a run left, remove its cgroups, then give its uids back (blocking)."""
    try:
        for slot in slots:
            if slot.cgroup is not None:
                slot.cgroup.remove()
    finally:
        lease.release()
