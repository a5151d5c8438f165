"""The bubblewrap sandbox as strict as Docker's: read-only /dev, no nested user
namespaces, seccomp, whole-sandbox cgroup limits, host-wide uids (real bwrap, no mocks).
"""

import asyncio
import json
import os
import shutil
import textwrap

import pytest

from grader.executors.bubblewrap import BubblewrapExecutor

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed"),
]


@pytest.fixture
def executor():
    return BubblewrapExecutor(time_limit=30, cell_time_limit=5)


async def in_sandbox(executor, slot, code, time_limit=20):
    """Run ``code`` with the sandbox's Python in a sandbox of ``slot``: (status, stdout)."""
    argv = executor.wrap(
        [executor.python, "-I", "-c", textwrap.dedent(code)], time_limit, slot.uid, slot.cgroup
    )
    return await executor._output(argv, time_limit + 10)


async def test_dev_is_minimal_and_read_only(executor):
    async with executor.reserve_sandboxes(1) as (slot,):
        status, out = await in_sandbox(
            executor,
            slot,
            """
            import ctypes, errno, json, os
            got = {}
            with open("/dev/null", "w") as f:
                got["null"] = f.write("x")
            got["urandom"] = len(open("/dev/urandom", "rb").read(8))
            for path in ("/dev/big", "/dev/pts/../x"):
                try:
                    open(path, "wb").write(b"x" * 1024)
                    got[path] = "written"
                except OSError as e:
                    got[path] = errno.errorcode[e.errno]
            # /dev/shm is a tmpfs of its own, with its own size limit
            try:
                with open("/dev/shm/fill", "wb") as f:
                    for _ in range(64):
                        f.write(b"x" * 2**20)
                got["shm"] = "unlimited"
            except OSError as e:
                got["shm"] = errno.errorcode[e.errno]
            os.unlink("/dev/shm/fill")
            import multiprocessing
            multiprocessing.Lock()  # POSIX semaphores live in /dev/shm
            got["mp"] = "ok"
            libc = ctypes.CDLL(None, use_errno=True)
            got["userns"] = libc.unshare(0x10000000) == 0 or errno.errorcode[ctypes.get_errno()]
            print(json.dumps(got))
            """,
        )
    assert status == 0, out
    got = json.loads(out.splitlines()[-1])
    assert got["null"] == 1 and got["urandom"] == 8 and got["mp"] == "ok"
    assert got["/dev/big"] == "EROFS"
    assert got["/dev/pts/../x"] == "EROFS"
    assert got["shm"] == "ENOSPC"  # 8 MiB, not the 64 written
    assert got["userns"] in ("ENOSPC", "EPERM")  # --disable-userns


async def test_memory_is_limited_for_the_whole_sandbox(executor):
    executor.memory_limit = 256 * 2**20
    executor.tmp_size = 16 * 2**20
    if not executor.cgroups().available().works("memory"):
        pytest.skip(f"no memory cgroup: {executor.cgroups().available().describe('memory')}")
    async with executor.reserve_sandboxes(1) as (slot,):
        # four processes of 120 MiB: each under its address space limit, together over
        status, out = await in_sandbox(
            executor,
            slot,
            """
            import os, time
            for _ in range(2):
                os.fork()
            b = bytearray(120 * 2**20)
            time.sleep(2)
            print("survived", flush=True)
            """,
        )
        assert slot.oom_killed()
    assert out.count("survived") < 4


async def test_two_sandboxes_of_a_run_get_their_own_uid_and_cgroup(executor):
    async with executor.reserve_sandboxes(2) as (learner, trusted):
        if os.geteuid() == 0:
            assert learner.uid != trusted.uid and None not in (learner.uid, trusted.uid)
        outs = await asyncio.gather(
            *(
                in_sandbox(executor, slot, "import os; print(os.getuid(), os.getgid())")
                for slot in (learner, trusted)
            )
        )
        cgroups = [slot.cgroup for slot in (learner, trusted)]
    await executor.settle()  # cleaned up after the run, in the background
    ids = [tuple(map(int, out.split())) for _, out in outs]
    if os.geteuid() == 0:
        assert ids == [(learner.uid, learner.uid), (trusted.uid, trusted.uid)]
    if executor.cgroups().available().parents:
        assert set(cgroups[0].dirs).isdisjoint(cgroups[1].dirs)
        for cgroup in cgroups:
            assert not any(os.path.exists(d) for d in cgroup.dirs)  # removed on exit


async def test_check_proves_the_lock_down_and_reports_limits(executor, caplog):
    caplog.set_level("INFO")
    assert await executor.check() == "ok"
    assert await executor.check() == "ok"
    limits = executor.limits_in_force()
    assert set(limits) >= {"namespaces", "seccomp", "memory", "cpu", "pids", "uids"}
    assert "nested user namespaces refused" in limits["namespaces"]
    assert limits["seccomp"].startswith("seccomp filter:") or "unsupported" in limits["seccomp"]
    support = executor.cgroups().available()
    assert limits["memory"].startswith("cgroup" if support.works("memory") else "rlimit")
    logged = [r for r in caplog.records if "limits in force" in r.getMessage()]
    assert len(logged) == 1  # once, not at every check
