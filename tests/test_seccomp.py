"""The sandbox's seccomp filter: its shape (pure), and what it refuses in a real process.

The real checks run Debian's bare ``/usr/bin/python3`` on a copy of the module beside a
probe script, as the sandbox programs do, first without the filter (every probe fails
for an ordinary reason, or works) and then with it (the same probes get EPERM).
"""

import errno
import json
import os
import platform
import re
import shutil
import signal
import struct
import subprocess
from pathlib import Path

import pytest

import grader.sandbox.seccomp as seccomp

pytestmark = pytest.mark.sandbox

SANDBOX_PYTHON = "/usr/bin/python3"
MACHINE = platform.machine()
needs_filter = pytest.mark.skipif(
    seccomp.build_filter() is None or not os.path.exists(SANDBOX_PYTHON),
    reason=f"no seccomp filter for {MACHINE} or no {SANDBOX_PYTHON}",
)

PROBE = r"""
import ctypes, errno, json, os, signal, socket, subprocess, sys, threading, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seccomp

table = seccomp.SYSCALLS[seccomp._machine(None)]
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
L = ctypes.c_ulong
status = seccomp.install() if sys.argv[1] == "filter" else "none"


def call(name, *args):
    ret = libc.syscall(ctypes.c_long(table[name]), *[L(a) for a in args])
    return "ok" if ret >= 0 else errno.errorcode[ctypes.get_errno()]


def clone_newuser():
    ret = libc.syscall(ctypes.c_long(table["clone"]), L(0x10000000 | signal.SIGCHLD), *[L(0)] * 4)
    if ret == 0:
        os._exit(0)
    if ret < 0:
        return errno.errorcode[ctypes.get_errno()]
    os.waitpid(ret, 0)
    return "ok"


def mount():
    if libc.mount(b"none", b"/nonexistent-coursehub", b"tmpfs", L(0), None) == 0:
        return "ok"
    return errno.errorcode[ctypes.get_errno()]


def unshare_user():
    return "ok" if libc.unshare(0x10000000) == 0 else errno.errorcode[ctypes.get_errno()]


refused = {
    "bpf": lambda: call("bpf", 999, 0, 0),
    "ptrace": lambda: call("ptrace", 2, 2**22 - 7, 0, 0),
    "io_uring_setup": lambda: call("io_uring_setup", 1, 0),
    "mount": mount,
    "keyctl": lambda: call("keyctl", 9999, 0, 0, 0, 0),
    "perf_event_open": lambda: call("perf_event_open", 0, 0, 0, 0, 0),
    "process_vm_readv": lambda: call("process_vm_readv", os.getpid(), 0, 0, 0, 0, 0),
    "clone3": lambda: call("clone3", 0, 0),
    "personality_no_aslr": lambda: call("personality", 0x0040000),
}
if sys.argv[1] == "filter":  # as root these would work for real without the filter
    refused["unshare_user"] = unshare_user
    refused["clone_newuser"] = clone_newuser


def works():
    got = {}
    pid = os.fork()
    if pid == 0:
        os._exit(3)
    got["fork"] = os.waitpid(pid, 0)[1] >> 8 == 3
    box = []
    t = threading.Thread(target=box.append, args=(1,))
    t.start()
    t.join()
    got["thread"] = box == [1]
    got["subprocess"] = subprocess.run(["/bin/echo", "hi"], capture_output=True).stdout == b"hi\n"
    path = "/tmp/coursehub-seccomp-%d" % os.getpid()
    with open(path, "w") as f:
        f.write("data")
    with open(path) as f:
        got["file"] = f.read() == "data"
    os.unlink(path)
    t0 = time.monotonic()
    time.sleep(0.01)
    got["time"] = time.monotonic() > t0 and time.time() > 1e9
    a, b = socket.socketpair()
    a.sendall(b"ping")
    got["socketpair"] = b.recv(4) == b"ping"
    seen = []
    signal.signal(signal.SIGUSR1, lambda *_: seen.append(1))
    os.kill(os.getpid(), signal.SIGUSR1)
    signal.signal(signal.SIGALRM, lambda *_: seen.append(2))
    signal.setitimer(signal.ITIMER_REAL, 0.01)
    time.sleep(0.2)
    got["signals"] = seen == [1, 2]
    got["personality_query"] = call("personality", 0xFFFFFFFF) == "ok"
    return got


print(json.dumps({"status": status, "refused": {k: f() for k, f in refused.items()},
                  "works": works()}))
"""


@pytest.fixture
def probe_dir(tmp_path):
    shutil.copy(seccomp.__file__, tmp_path / "seccomp.py")
    (tmp_path / "probe.py").write_text(PROBE)
    return tmp_path


def run_probe(directory, mode):
    proc = subprocess.run(
        [SANDBOX_PYTHON, "-I", str(directory / "probe.py"), mode],
        capture_output=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return json.loads(proc.stdout)


# -- the program (pure) ------------------------------------------------------------------


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_program_shape(machine):
    program = seccomp.build_filter(machine)
    assert len(program) % 8 == 0 and 0 < len(program) // 8 < 4096
    insns = [struct.unpack("=HBBI", program[i : i + 8]) for i in range(0, len(program), 8)]
    # first the architecture: anything else is killed
    assert insns[0] == (seccomp.BPF_LD_W_ABS, 0, 0, seccomp.OFFSET_ARCH)
    assert insns[1][0] == seccomp.BPF_JEQ_K and insns[1][3] == seccomp.AUDIT_ARCH[machine]
    assert insns[2 + insns[1][2]][0::3] == (seccomp.BPF_RET_K, seccomp.SECCOMP_RET_KILL_PROCESS)
    # every path ends in a return, and no jump leaves the program
    assert insns[-1][0] == seccomp.BPF_RET_K
    for i, (code, jt, jf, _) in enumerate(insns):
        if code & 0x07 == 0x05:  # BPF_JMP
            assert i + 1 + max(jt, jf) < len(insns)
    table = seccomp.SYSCALLS[machine]
    returns = {k for code, _, _, k in insns if code == seccomp.BPF_RET_K}
    assert returns == {
        seccomp.SECCOMP_RET_ALLOW,
        seccomp.SECCOMP_RET_ERRNO | errno.EPERM,
        seccomp.SECCOMP_RET_ERRNO | errno.ENOSYS,
        seccomp.SECCOMP_RET_KILL_PROCESS,
    }
    compared = {k for code, _, _, k in insns if code == seccomp.BPF_JEQ_K}
    for name in ("bpf", "ptrace", "mount", "unshare", "setns", "keyctl", "io_uring_setup"):
        assert table[name] in compared
    x32 = (seccomp.BPF_JGE_K, seccomp.X32_SYSCALL_BIT)
    assert any((code, k) == x32 for code, _, _, k in insns) == (machine == "x86_64")


def test_unsupported_arch_has_no_filter():
    assert seccomp.build_filter("riscv64") is None
    assert seccomp.refused_syscalls("s390x") is None


@pytest.mark.skipif(
    not os.path.exists("/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
    reason="no kernel headers to compare the x86_64 table with (linux-libc-dev)",
)
def test_x86_64_numbers_match_the_kernel_headers():
    text = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h").read_text()
    numbers = dict(re.findall(r"#define __NR_(\w+) (\d+)", text))
    for name, number in seccomp.SYSCALLS["x86_64"].items():
        if name in numbers:  # headers older than the kernel lack the newest calls
            assert int(numbers[name]) == number, name


# -- for real ------------------------------------------------------------------------------


@needs_filter
def test_filter_refuses_what_grading_never_needs(probe_dir):
    control = run_probe(probe_dir, "control")
    assert control["status"] == "none"
    assert "EPERM" not in control["refused"].values(), control["refused"]
    assert all(control["works"].values()), control["works"]

    got = run_probe(probe_dir, "filter")
    assert re.fullmatch(r"seccomp filter: \d+ syscalls refused", got["status"])
    expected = dict.fromkeys(got["refused"], "EPERM") | {"clone3": "ENOSYS"}
    assert got["refused"] == expected
    assert all(got["works"].values()), got["works"]


@needs_filter
@pytest.mark.skipif(MACHINE != "x86_64", reason="the x32 ABI exists on x86_64 only")
def test_x32_system_call_kills_the_process(probe_dir):
    script = (
        "import ctypes, os, sys; sys.path.insert(0, sys.argv[1]); import seccomp; "
        "seccomp.install(); ctypes.CDLL(None).syscall(0x40000000 | 39); print('alive')"
    )
    proc = subprocess.run(
        [SANDBOX_PYTHON, "-I", "-c", script, str(probe_dir)], capture_output=True, timeout=30
    )
    assert proc.returncode == -signal.SIGSYS and b"alive" not in proc.stdout


def test_install_refuses_unsupported_arch(monkeypatch):
    machine = os.uname()
    fake = os.uname_result((*machine[:4], "riscv64"))
    monkeypatch.setattr(seccomp.os, "uname", lambda: fake)
    with pytest.raises(OSError, match="seccomp: unsupported arch"):
        seccomp.install()
