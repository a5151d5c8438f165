"""Whole-sandbox limits with the real cgroupfs of this machine (no mocks).

Skipped with the reason the probe gives where a controller does not work (not root, no
cgroupfs, a v2 cgroup that cannot delegate, ...). The layout parsing is tested pure.
"""

import os
import subprocess
import time

import pytest

from grader.executors.cgroups import CgroupLimits, locate_hierarchies

pytestmark = pytest.mark.sandbox

PYTHON = "/usr/bin/python3"

V1_MOUNTINFO = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
V1_SELF = """\
9:name=systemd:/system.slice/grader.service
8:pids:/system.slice/grader.service
4:memory:/system.slice/grader.service
1:cpu,cpuacct:/system.slice/grader.service
0::/system.slice/grader.service
"""


def test_locate_v1_hybrid():
    found = locate_hierarchies(V1_MOUNTINFO, V1_SELF)
    own = "system.slice/grader.service"
    assert found["memory"].version == 1
    assert found["memory"].own == f"/sys/fs/cgroup/memory/{own}"
    assert found["cpu"].top == "/sys/fs/cgroup/cpu,cpuacct"
    assert found["pids"].own == f"/sys/fs/cgroup/pids/{own}"


def test_locate_v2_and_a_container_mount():
    mountinfo = "30 23 0:27 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n"
    found = locate_hierarchies(mountinfo, "0::/docker/abc/grader\n")
    assert {h.version for h in found.values()} == {2}
    assert found["memory"].top == "/sys/fs/cgroup"
    assert found["memory"].own == "/sys/fs/cgroup/grader"
    # our cgroup outside the mounted part: nothing usable
    assert locate_hierarchies(mountinfo, "0::/elsewhere\n") == {}


def test_locate_escaped_mountpoint():
    mountinfo = "35 31 0:32 / /sys/fs/cgroup/my\\040memory rw - cgroup cgroup rw,memory\n"
    found = locate_hierarchies(mountinfo, "4:memory:/\n")
    assert found["memory"].own == "/sys/fs/cgroup/my memory"


# -- with the real cgroupfs ----------------------------------------------------------------


@pytest.fixture
def limits():
    """CgroupLimits under a parent cgroup of this test run, removed afterwards."""
    limits = CgroupLimits(parent_cgroup=f"coursehub-test-{os.getpid()}")
    support = limits.available()
    yield limits
    for parent in set(support.parents.values()):
        try:
            os.rmdir(parent)
        except OSError:
            pass


def needs(limits, *controllers):
    support = limits.available()
    missing = {c: support.reasons[c] for c in controllers if not support.works(c)}
    if missing:
        pytest.skip(f"cgroup controllers unavailable here: {missing}")


def run_in(cgroup, code, **kw):
    return subprocess.run(
        [*cgroup.enter_prefix(), PYTHON, "-c", code], capture_output=True, timeout=60, **kw
    )


def test_over_the_memory_cap_is_oom_killed(limits):
    needs(limits, "memory")
    cgroup = limits.create("mem-cap", 64 * 2**20, None, None)
    try:
        fine = run_in(cgroup, "b = bytearray(16 * 2**20); print('fine')")
        assert fine.returncode == 0 and fine.stdout == b"fine\n"
        assert not cgroup.oom_killed()
        # one process, well over the cap (no swap to escape to)
        hog = run_in(cgroup, "b = bytearray(256 * 2**20); print('survived')")
        assert hog.returncode == -9 and b"survived" not in hog.stdout
        assert cgroup.oom_killed()
    finally:
        assert cgroup.remove()


def test_memory_counts_for_every_process_together(limits):
    needs(limits, "memory")
    cgroup = limits.create("mem-sum", 96 * 2**20, None, None)
    # four processes of 40 MiB each: each alone is fine, together they are over
    code = (
        "import os, time\n"
        "for _ in range(3):\n"
        "    if os.fork() == 0:\n"
        "        break\n"
        "b = bytearray(40 * 2**20)\n"
        "time.sleep(1)\n"
    )
    try:
        run_in(cgroup, code)
        assert cgroup.oom_killed()
    finally:
        assert cgroup.remove()


def test_a_fork_bomb_stops_at_the_pids_limit(limits):
    needs(limits, "pids")
    cgroup = limits.create("pids-cap", None, None, 16)
    # bounded (at most 200 children) so that a broken limit cannot hurt the machine
    code = (
        "import os, time\n"
        "n = 0\n"
        "for _ in range(200):\n"
        "    try:\n"
        "        pid = os.fork()\n"
        "    except BlockingIOError:\n"
        "        break\n"
        "    if pid == 0:\n"
        "        os.closerange(0, 3)  # let the parent's output end\n"
        "        time.sleep(30)\n"
        "        os._exit(0)\n"
        "    n += 1\n"
        "print(n, flush=True)\n"
        "os._exit(0)\n"
    )
    try:
        proc = run_in(cgroup, code)
        assert proc.returncode == 0
        assert int(proc.stdout) == 15  # the limit counts the forking process too
        assert len(os.listdir(cgroup.dirs[0])) > 0
    finally:
        # the 15 sleepers are still there: remove() must end them to remove the cgroup
        assert cgroup.remove()
    assert not any(os.path.exists(d) for d in cgroup.dirs)


def test_cpu_quota_throttles(limits):
    needs(limits, "cpu")
    cgroup = limits.create("cpu-cap", None, 0.1, None)
    try:
        code = "import time\nt = time.monotonic()\nwhile time.monotonic() - t < 0.4:\n    pass\n"
        assert run_in(cgroup, code).returncode == 0
        stat = next(
            open(os.path.join(d, "cpu.stat")).read()
            for d in cgroup.dirs
            if os.path.exists(os.path.join(d, "cpu.stat"))
            and any(os.path.exists(os.path.join(d, f)) for f in ("cpu.max", "cpu.cfs_quota_us"))
        )
        throttled = dict(line.split() for line in stat.splitlines())["nr_throttled"]
        assert int(throttled) > 0
    finally:
        assert cgroup.remove()


def test_remove_kills_leftovers_and_is_safe_twice(limits):
    needs(limits, "memory")
    cgroup = limits.create("leftover", 64 * 2**20, None, 32)
    sleeper = subprocess.Popen([*cgroup.enter_prefix(), "sleep", "60"])
    try:
        deadline = time.monotonic() + 10
        while not open(os.path.join(cgroup.dirs[0], "cgroup.procs")).read().split():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert cgroup.remove()
        assert sleeper.wait(timeout=10) == -9
        assert not any(os.path.exists(d) for d in cgroup.dirs)
        assert cgroup.remove()  # nothing left to do
    finally:
        sleeper.kill()
        sleeper.wait()


def test_nothing_runs_if_joining_fails(limits):
    needs(limits, "memory")
    cgroup = limits.create("gone", 64 * 2**20, None, None)
    cgroup.remove()
    proc = run_in(cgroup, "print('ran')")
    assert proc.returncode == 125 and b"ran" not in proc.stdout


def test_create_refuses_bad_names(limits):
    with pytest.raises(ValueError):
        limits.create("../escape", None, None, None)


def test_disabled_reports_why():
    support = CgroupLimits(enabled="no").available()
    assert not support.parents
    assert "disabled" in support.describe("memory")
