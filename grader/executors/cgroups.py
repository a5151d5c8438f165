"""Whole-sandbox memory, CPU and process limits with Linux control groups.

rlimits (``prlimit``) count per process (address space) or per user (processes): a
submission that starts eight processes of 500 MiB each stays under a 512 MiB address
space limit. A control group counts everything its member processes and their
descendants use, together: memory (tmpfs files included), CPU time and the number of
tasks. Every grading run gets a cgroup of its own, under a parent cgroup created once;
the processes of the sandbox join it before they exec anything (see
:meth:`RunCgroup.enter_prefix`), so nothing the learner starts is ever outside it.

Both layouts are handled:

- **cgroup v1**: one hierarchy per controller, ``/sys/fs/cgroup/memory/``,
  ``/sys/fs/cgroup/cpu/`` (sometimes ``cpu,cpuacct``), ``/sys/fs/cgroup/pids/``; a run
  has one directory in each and its processes join all of them.
- **cgroup v2**: one unified hierarchy (``/sys/fs/cgroup``), where a controller's files
  (``memory.max``, ``cpu.max``, ``pids.max``) exist in a cgroup only when its parent
  lists the controller in ``cgroup.subtree_control``. v2 also forbids enabling
  controllers below a non-root cgroup that holds processes: a grader whose own cgroup
  holds the grader itself needs ``parent_cgroup`` set to an absolute path of a delegated cgroup.

Which hierarchy holds which controller is read from ``/proc/self/mountinfo`` and
``/proc/self/cgroup`` (:func:`locate_hierarchies`, pure). By default the parent is
created *inside the grader's own cgroup*, so whatever limits the grader itself runs
under (a container's, a systemd unit's) cover its sandboxes too.

Every operation here is a few small reads and writes in cgroupfs; callers on an event
loop still run them in a thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import signal
import threading
import time
from dataclasses import dataclass, field

from traitlets import CaselessStrEnum, Unicode
from traitlets.config import LoggingConfigurable

CONTROLLERS = ("memory", "cpu", "pids")
# the file that proves a controller is usable in a cgroup, per cgroup version
LIMIT_FILES = {
    1: {"memory": "memory.limit_in_bytes", "cpu": "cpu.cfs_quota_us", "pids": "pids.max"},
    2: {"memory": "memory.max", "cpu": "cpu.max", "pids": "pids.max"},
}
CPU_PERIOD_US = 100_000
NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
# run cgroups of a crashed grader (empty, this old) are swept when the parent is probed
STALE_AFTER = 3600.0

# Joins every cgroup directory given before "--" and then execs the rest of the argv.
# The directories are arguments, never part of the shell text; exit 125 (like env and
# timeout for their own failures) if joining fails, so nothing runs outside the limits.
ENTER_SCRIPT = (
    'while [ "$1" != -- ]; do echo $$ > "$1/cgroup.procs" || exit 125; shift; done; '
    'shift; exec "$@"'
)


@dataclass(frozen=True)
class Hierarchy:
    """Where one controller lives: cgroup ``version``, the mounted hierarchy's ``top``
    directory, and ``own``: the directory of the calling process's cgroup in it."""

    version: int
    top: str
    own: str


def _unescape(path: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def locate_hierarchies(mountinfo: str, self_cgroup: str) -> dict[str, Hierarchy]:
    """Which mounted hierarchy holds each of :data:`CONTROLLERS`, and our cgroup in it.

    ``mountinfo`` and ``self_cgroup`` are the texts of ``/proc/self/mountinfo`` and
    ``/proc/self/cgroup``. A controller bound to a v1 hierarchy is there; the others are
    candidates in the v2 hierarchy (whether v2 really offers them is read from its
    ``cgroup.controllers`` by the caller). Controllers with no mounted hierarchy, or
    whose cgroup lies outside the mounted part, are left out.
    """
    paths_v1, path_v2 = {}, None
    for line in self_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and parts[1] == "":
            path_v2 = parts[2]
        else:
            for name in parts[1].split(","):
                paths_v1[name] = parts[2]
    found: dict[str, Hierarchy] = {}
    v2 = None
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if not sep or len(fields) < 5 or len(tail) < 3:
            continue
        root, mountpoint = _unescape(fields[3]), _unescape(fields[4])
        fstype, options = tail[0], tail[2].split(",")
        if fstype == "cgroup":
            for name in CONTROLLERS:
                if name in options and name not in found and name in paths_v1:
                    own = _inside(mountpoint, root, paths_v1[name])
                    if own is not None:
                        found[name] = Hierarchy(1, mountpoint, own)
        elif fstype == "cgroup2" and v2 is None and path_v2 is not None:
            own = _inside(mountpoint, root, path_v2)
            if own is not None:
                v2 = Hierarchy(2, mountpoint, own)
    if v2 is not None:
        for name in CONTROLLERS:
            found.setdefault(name, v2)
    return found


def _inside(mountpoint: str, root: str, path: str) -> str | None:
    """The directory of cgroup ``path`` under a mount of the hierarchy's ``root``."""
    root = root.rstrip("/")
    if path != root and not path.startswith(root + "/"):
        return None  # our cgroup is not visible through this mount
    rest = path[len(root) :].strip("/")
    return os.path.join(mountpoint, rest) if rest else mountpoint


@dataclass
class CgroupSupport:
    """What the probe found: the parent directory per working controller, and why the
    others do not work here."""

    parents: dict[str, str] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)

    def works(self, controller: str) -> bool:
        return controller in self.parents

    def describe(self, controller: str) -> str:
        if controller in self.parents:
            return f"cgroup v{self.versions[controller]}"
        return f"no cgroup: {self.reasons.get(controller, 'not probed')}"


def _read(path: str) -> str:
    with open(path, encoding="ascii", errors="replace") as f:
        return f.read()


def _write(path: str, value: str) -> None:
    # unbuffered: cgroupfs wants the whole value in one write(2)
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _procs(directory: str) -> set[int]:
    try:
        return {int(x) for x in _read(os.path.join(directory, "cgroup.procs")).split()}
    except FileNotFoundError:
        return set()


class RunCgroup:
    """One grading run's cgroup: a directory in each hierarchy that holds a controller."""

    def __init__(self, name: str, dirs: list[str], memory: tuple[int, str] | None, log=None):
        self.name = name
        self.dirs = dirs
        self._memory = memory  # (version, directory) of the memory controller
        self._log = log

    def __repr__(self):
        return f"<RunCgroup {self.name} {self.dirs}>"

    def enter_prefix(self) -> list[str]:
        """An argv prefix: the process it starts joins this cgroup, then execs the rest.

        Prepend it to the command that starts the sandbox. It runs with the grader's
        privileges (it writes to ``cgroup.procs``), so it must come before any
        privilege drop; everything the process later starts stays in the cgroup.
        """
        return ["/bin/sh", "-c", ENTER_SCRIPT, "coursehub-cgroup-enter", *self.dirs, "--"]

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of this cgroup for going over its memory
        limit (read it before :meth:`remove`)."""
        if self._memory is None:
            return False
        version, directory = self._memory
        try:
            if version == 2:
                return _counter(_read(os.path.join(directory, "memory.events")), "oom_kill") > 0
            text = _read(os.path.join(directory, "memory.oom_control"))
            if re.search(r"^oom_kill \d+", text, re.M):  # kernels since 4.13
                return _counter(text, "oom_kill") > 0
            # older kernels: the limit was hit (with no swap, hitting it means an OOM kill)
            return int(_read(os.path.join(directory, "memory.failcnt"))) > 0
        except (OSError, ValueError):
            return False

    def kill(self) -> int:
        """SIGKILL every process in the cgroup, repeatedly, until none is left (a fork
        bomb keeps forking while it is killed). Returns how many were signalled."""
        signalled = 0
        for directory in self.dirs:
            kill_file = os.path.join(directory, "cgroup.kill")
            if os.path.exists(kill_file):  # cgroup v2, Linux 5.14+: atomic
                try:
                    _write(kill_file, "1")
                except OSError:
                    pass
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            pids = set().union(*(_procs(d) for d in self.dirs))
            if not pids:
                break
            signalled += _kill_members(pids, self.dirs)
            time.sleep(0.005)
        return signalled

    def remove(self) -> bool:
        """Kill leftover processes, then remove the directories. Safe to call twice;
        returns False (and logs) if a directory could not be removed."""
        self.kill()
        ok = True
        for directory in self.dirs:
            deadline = time.monotonic() + 2.0
            while True:
                try:
                    os.rmdir(directory)
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    # EBUSY: killed tasks are still exiting
                    if e.errno != errno.EBUSY or time.monotonic() > deadline:
                        if self._log is not None:
                            self._log.warning("cannot remove cgroup %s: %s", directory, e)
                        ok = False
                        break
                    self.kill()
                    time.sleep(0.01)
        return ok


def _counter(text: str, key: str) -> int:
    match = re.search(rf"^{key} (\d+)$", text, re.M)
    return int(match.group(1)) if match else 0


def _kill_members(pids: set[int], dirs: list[str]) -> int:
    """SIGKILL ``pids`` through pidfds, each only if it is still in one of ``dirs`` after
    its pidfd was opened: a pid that exited and was reused meanwhile is never signalled."""
    fds = {}
    for pid in pids:
        try:
            fds[pid] = os.pidfd_open(pid)
        except OSError:
            pass
    try:
        members = set().union(*(_procs(d) for d in dirs))
        signalled = 0
        for pid, fd in fds.items():
            if pid in members:
                try:
                    signal.pidfd_send_signal(fd, signal.SIGKILL)
                    signalled += 1
                except ProcessLookupError:
                    pass
        return signalled
    finally:
        for fd in fds.values():
            os.close(fd)


class CgroupLimits(LoggingConfigurable):
    """Creates one cgroup per grading run with whole-sandbox memory, CPU and pids limits."""

    enabled = CaselessStrEnum(
        ["auto", "yes", "no"],
        default_value="auto",
        help="Use cgroups for whole-sandbox limits: 'auto' where the machine has them "
        "(else per-process rlimits only, as the health check and log say), 'yes' to "
        "refuse to grade without them, 'no' never.",
    ).tag(config=True)
    # not `parent`: a Configurable's parent is the object that configures it
    parent_cgroup = Unicode(
        "coursehub-sandboxes",
        help="The cgroup under which each grading run gets its own. A relative path is "
        "taken inside the grader's own cgroup (so the grader's own limits cover its "
        "sandboxes); an absolute one from the top of each mounted hierarchy, e.g. "
        "'/coursehub-sandboxes' (/sys/fs/cgroup/memory/coursehub-sandboxes on v1). On "
        "cgroup v2 the grader's own cgroup holds the grader, so controllers cannot be "
        "enabled under it: give an absolute path to a delegated cgroup there.",
    ).tag(config=True)

    _support: CgroupSupport | None = None

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._lock = threading.Lock()

    def available(self) -> CgroupSupport:
        """Which controllers work here (probed once: creates the parent cgroups)."""
        with self._lock:
            if self._support is None:
                self._support = self._probe()
                for name, reason in self._support.reasons.items():
                    self.log.info("cgroup %s controller not used: %s", name, reason)
            return self._support

    def _probe(self) -> CgroupSupport:
        support = CgroupSupport()
        if self.enabled == "no":
            support.reasons = dict.fromkeys(CONTROLLERS, "disabled (CgroupLimits.enabled)")
            return support
        if os.geteuid() != 0:
            support.reasons = dict.fromkeys(CONTROLLERS, "the grader does not run as root")
            return support
        try:
            found = locate_hierarchies(_read("/proc/self/mountinfo"), _read("/proc/self/cgroup"))
        except OSError as e:
            support.reasons = dict.fromkeys(CONTROLLERS, f"cannot read /proc: {e}")
            return support
        for name in CONTROLLERS:
            hierarchy = found.get(name)
            if hierarchy is None:
                support.reasons[name] = f"no cgroup hierarchy with the {name} controller"
                continue
            try:
                support.parents[name] = self._prepare_parent(name, hierarchy)
                support.versions[name] = hierarchy.version
            except OSError as e:
                support.reasons[name] = f"cgroup v{hierarchy.version}: {e}"
        return support

    def _parent_dir(self, hierarchy: Hierarchy) -> str:
        parent = self.parent_cgroup.strip()
        parts = [p for p in parent.split("/") if p]
        if not parts or any(not NAME_PATTERN.fullmatch(p) or p in (".", "..") for p in parts):
            raise OSError(
                errno.EINVAL, f"CgroupLimits.parent_cgroup {parent!r} is not a cgroup path"
            )
        base = hierarchy.top if parent.startswith("/") else hierarchy.own
        return os.path.join(base, *parts)

    def _prepare_parent(self, name: str, hierarchy: Hierarchy) -> str:
        """Create the parent cgroup, make ``name`` usable in its children, prove it."""
        parent = self._parent_dir(hierarchy)
        if hierarchy.version == 2:
            available = _read(os.path.join(hierarchy.top, "cgroup.controllers")).split()
            if name not in available:
                raise OSError(errno.ENOENT, f"the {name} controller is not enabled")
            # enable the controller on every level from the top down to the parent
            levels = os.path.relpath(parent, hierarchy.top).split(os.sep)
            directory = hierarchy.top
            for level in [None, *levels]:
                if level is not None:
                    directory = os.path.join(directory, level)
                    os.makedirs(directory, exist_ok=True)
                control = os.path.join(directory, "cgroup.subtree_control")
                if name not in _read(control).split():
                    try:
                        _write(control, f"+{name}")
                    except OSError as e:
                        raise OSError(
                            e.errno,
                            f"cannot enable {name} in {control} ({e.strerror}; a cgroup "
                            "that holds processes cannot: set CgroupLimits.parent_cgroup to a "
                            "delegated, empty cgroup)",
                        ) from None
        else:
            os.makedirs(parent, exist_ok=True)
        self._sweep(parent)
        # a cgroup of our own proves the limit file is there and writable
        probe = os.path.join(parent, f"probe-{os.getpid()}-{secrets.token_hex(4)}")
        os.mkdir(probe)
        try:
            limit_file = os.path.join(probe, LIMIT_FILES[hierarchy.version][name])
            _write(limit_file, _read(limit_file).strip())
        finally:
            os.rmdir(probe)
        return parent

    def _sweep(self, parent: str) -> None:
        """Remove run cgroups a crashed grader left: empty and older than STALE_AFTER."""
        now = time.time()
        try:
            entries = list(os.scandir(parent))
        except OSError:
            return
        for entry in entries:
            try:
                if (
                    entry.is_dir(follow_symlinks=False)
                    and now - entry.stat().st_mtime > STALE_AFTER
                    and not _procs(entry.path)
                ):
                    os.rmdir(entry.path)
            except OSError:
                pass  # busy, or another grader removed it first

    def create(
        self, name: str, memory_bytes: int | None, cpus: float | None, pids: int | None
    ) -> RunCgroup | None:
        """A cgroup for one run with the given limits (None: not limited), or None if no
        controller works here. Raises OSError (nothing left behind) if it cannot be set up."""
        if not NAME_PATTERN.fullmatch(name):
            raise ValueError(f"bad cgroup name {name!r}")
        support = self.available()
        if not support.parents:
            return None
        dirs: dict[str, str] = {}  # parent directory -> the run's directory
        run = RunCgroup(name, [], None, self.log)
        try:
            for controller in CONTROLLERS:
                if not support.works(controller):
                    continue
                parent = support.parents[controller]
                if parent not in dirs:
                    dirs[parent] = os.path.join(parent, name)
                    os.mkdir(dirs[parent])
                    run.dirs.append(dirs[parent])
                directory, version = dirs[parent], support.versions[controller]
                if controller == "memory":
                    run._memory = (version, directory)
                    if memory_bytes is not None:
                        _set_memory(directory, version, int(memory_bytes))
                elif controller == "cpu" and cpus is not None:
                    quota = max(1000, int(cpus * CPU_PERIOD_US))
                    if version == 2:
                        _write(os.path.join(directory, "cpu.max"), f"{quota} {CPU_PERIOD_US}")
                    else:
                        _write(os.path.join(directory, "cpu.cfs_period_us"), str(CPU_PERIOD_US))
                        _write(os.path.join(directory, "cpu.cfs_quota_us"), str(quota))
                elif controller == "pids" and pids is not None:
                    _write(os.path.join(directory, "pids.max"), str(int(pids)))
        except BaseException:
            run.remove()
            raise
        return run


def _set_memory(directory: str, version: int, limit: int) -> None:
    """The memory limit, with swap not a way around it."""
    if version == 2:
        _write(os.path.join(directory, "memory.max"), str(limit))
        swap = os.path.join(directory, "memory.swap.max")
        if os.path.exists(swap):
            _write(swap, "0")
        return
    _write(os.path.join(directory, "memory.limit_in_bytes"), str(limit))
    # memory+swap: absent when the kernel does not account swap (then there is none to use)
    memsw = os.path.join(directory, "memory.memsw.limit_in_bytes")
    if os.path.exists(memsw):
        _write(memsw, str(limit))
