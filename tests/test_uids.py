"""The host-wide sandbox uid pool, with real processes and real locks (no mocks)."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from grader.executors.uids import UidPool, UidPoolExhausted, prepare_lock_dir, processes_of

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(os.geteuid() != 0, reason="sandbox uids need root (setpriv, kill)"),
]

# far from the executor's default pool (3_000_000) so tests never meet a real sandbox
START = 3_900_000
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def python(code: str, *args: str, **kw) -> subprocess.Popen:
    """A separate grader-like process (the checkout's `grader` importable)."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        **kw,
    )


HOLDER = """
    import json, os, sys, time
    from grader.executors.uids import UidPool, UidPoolExhausted
    lock_dir, marks, start = sys.argv[1], sys.argv[2], int(sys.argv[3])
    pool = UidPool(start, 3, lock_dir)
    got = clashes = exhausted = 0
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        try:
            lease = pool.acquire(2)
        except UidPoolExhausted:
            exhausted += 1
            continue
        got += 1
        assert len(set(lease.uids)) == 2
        made = []
        for uid in lease.uids:
            try:  # O_EXCL: fails if another holder has marked this uid as in use
                os.close(os.open(f"{marks}/{uid}", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                made.append(uid)
            except FileExistsError:
                clashes += 1
        time.sleep(0.001)
        for uid in made:
            os.unlink(f"{marks}/{uid}")
        lease.release()
    print(json.dumps({"got": got, "clashes": clashes, "exhausted": exhausted}))
"""


def test_two_grader_processes_never_share_a_uid(tmp_path):
    lock_dir, marks = tmp_path / "locks", tmp_path / "marks"
    marks.mkdir()
    procs = [python(HOLDER, str(lock_dir), str(marks), str(START)) for _ in range(2)]
    results = [json.loads(p.communicate(timeout=30)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    for result in results:
        assert result["got"] > 0 and result["clashes"] == 0, results
    # two uids each from a pool of three: they met (one found the pool taken), and
    # neither ever took a uid the other held
    assert sum(r["exhausted"] for r in results) > 0, results


def test_a_lock_is_released_when_its_holder_is_killed(tmp_path):
    lock_dir = str(tmp_path / "locks")
    holder = python(
        """
        import sys, time
        from grader.executors.uids import UidPool
        lease = UidPool(int(sys.argv[2]), 1, sys.argv[1]).acquire(1)
        print(lease.uids[0], flush=True)
        time.sleep(60)
        """,
        lock_dir,
        str(START + 10),
    )
    try:
        assert int(holder.stdout.readline()) == START + 10
        pool = UidPool(START + 10, 1, lock_dir)
        with pytest.raises(UidPoolExhausted, match="in use on this host"):
            pool.acquire(1)
    finally:
        holder.kill()  # SIGKILL: no release, no cleanup
        holder.wait()
    with pool.acquire(1) as lease:
        assert lease.uids == (START + 10,)
    assert lease.released


def test_leftover_processes_of_a_uid_are_killed_when_it_is_handed_out(tmp_path):
    uid = START + 20
    lock_dir = str(tmp_path / "locks")
    # a grader that took the uid, started a "sandbox" under it, and died without cleaning up;
    # the leftover makes itself non-dumpable, which hides its owner in /proc/<pid>'s stat
    leftover_code = (
        "import ctypes, os, time; ctypes.CDLL(None).prctl(4, 0, 0, 0, 0); "
        "os.fork(); os.fork(); time.sleep(120)"
    )
    grader = python(
        """
        import subprocess, sys
        from grader.executors.uids import UidPool
        lease = UidPool(int(sys.argv[2]), 1, sys.argv[1]).acquire(1)
        u = str(lease.uids[0])
        subprocess.Popen(["setpriv", "--reuid=" + u, "--regid=" + u, "--clear-groups", "--",
                          "/usr/bin/python3", "-c", sys.argv[3]], start_new_session=True)
        print("started", flush=True)
        """,
        lock_dir,
        str(uid),
        leftover_code,
    )
    try:
        assert grader.stdout.readline().strip() == "started"
        grader.wait(timeout=30)
        deadline = time.monotonic() + 10
        while len(processes_of({uid})) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(processes_of({uid})) == 4
        with UidPool(uid, 1, lock_dir).acquire(1) as lease:
            assert lease.uids == (uid,)
            assert processes_of({uid}) == []
    finally:
        for pid in processes_of({uid}):
            os.kill(pid, signal.SIGKILL)


def test_leases_in_one_process_are_distinct_and_exhaust(tmp_path):
    pool = UidPool(START + 30, 3, str(tmp_path / "locks"))
    first = pool.acquire(2)
    with pytest.raises(UidPoolExhausted):
        pool.acquire(2)  # one left: a run needs two
    second = pool.acquire(1)
    assert set(first.uids).isdisjoint(second.uids)
    first.release()
    first.release()  # twice is fine
    third = pool.acquire(2)
    assert set(third.uids).isdisjoint(second.uids)
    third.release()
    second.release()


def test_lock_dir_writable_by_others_is_refused(tmp_path):
    path = tmp_path / "locks"
    prepare_lock_dir(str(path))
    assert os.stat(path).st_mode & 0o777 == 0o700
    os.chmod(path, 0o777)
    with pytest.raises(OSError, match="writable by it only"):
        UidPool(START + 40, 2, str(path)).acquire(1)
