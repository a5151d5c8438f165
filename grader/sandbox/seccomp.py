"""A seccomp filter for grading sandboxes, assembled by hand; executed INSIDE the sandbox.

Standard library only (the sandbox has Debian's bare ``/usr/bin/python3``): the sandbox
programs import this module from their own directory and call :func:`install` first
thing, before any learner code exists.

seccomp lets a process hand the kernel a small classic-BPF program that looks at every
system call it (and every process it later starts) makes, and decides: allow it, or
fail it with an errno. The program here allows everything grading needs and refuses
what it never needs and what kernel exploits and sandbox escapes are made of:

- new namespaces (``unshare``, ``setns``, ``clone`` with a ``CLONE_NEW*`` flag) and
  ``clone3``, which gets ``ENOSYS`` so that glibc falls back to ``clone``, whose flags
  a filter can read (``clone3`` passes them in memory, out of a filter's reach; Docker's
  default profile does the same);
- mounting anything (``mount``, ``umount2``, ``pivot_root`` and the new mount API);
- other processes' memory (``ptrace``, ``process_vm_readv/writev``, ``pidfd_getfd``,
  ``process_madvise``, ``kcmp``);
- large kernel attack surfaces a Python cell never uses: ``bpf``, ``io_uring_*``,
  ``perf_event_open``, ``userfaultfd``, the keyring (``keyctl``, ``add_key``,
  ``request_key``), file handles (``open_by_handle_at``, ``name_to_handle_at``);
- host administration: modules, kexec, swap, reboot, ``acct``, ``quotactl``, ``syslog``;
- ``personality`` other than the query (``0xffffffff``) and the default (``0``): its
  flags can turn off address space randomisation for the programs a process starts.

Refused calls fail with ``EPERM`` (as if the sandbox lacked a privilege, which code
handles) instead of killing the process, so a learner's cell that tries one gets an
ordinary ``PermissionError``. A system call made through another ABI than the
sandbox's own (i386 ``int 0x80`` on x86_64, 32-bit ARM on aarch64, x32 numbers) would
slip past a table of 64-bit numbers: the filter kills the process instead.
"""

import ctypes
import errno
import os
import struct

# -- the instruction set (linux/filter.h, linux/bpf_common.h, linux/seccomp.h) -----------

BPF_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS: load a 32-bit word of seccomp_data
BPF_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
BPF_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
BPF_JSET_K = 0x45  # BPF_JMP | BPF_JSET | BPF_K: jump if (A & k) != 0
BPF_RET_K = 0x06  # BPF_RET | BPF_K

SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000

# struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; }
OFFSET_NR = 0
OFFSET_ARCH = 4
OFFSET_ARG0_LOW = 16  # both architectures here are little-endian

AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_AARCH64 = 0xC00000B7
X32_SYSCALL_BIT = 0x40000000

# clone's flags: only the low 32 bits count (the kernel reads lower_32_bits(flags))
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
# CLONE_NEWTIME (0x80) is left out: in clone's flags that bit is part of the exit signal
CLONE_NAMESPACES = (
    CLONE_NEWNS
    | CLONE_NEWCGROUP
    | CLONE_NEWUTS
    | CLONE_NEWIPC
    | CLONE_NEWUSER
    | CLONE_NEWPID
    | CLONE_NEWNET
)
PERSONALITY_QUERY = 0xFFFFFFFF
PER_LINUX = 0

# -- system call numbers (arch/x86/entry/syscalls/syscall_64.tbl, asm-generic/unistd.h) --

_COMMON = {  # numbers from 424 on are the same on every architecture
    "pidfd_getfd": 438,
    "process_madvise": 440,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "clone3": 435,
    "mount_setattr": 442,
    "quotactl_fd": 443,
    "statmount": 457,
    "listmount": 458,
    "open_tree_attr": 467,
}

SYSCALLS = {
    "x86_64": {
        **_COMMON,
        "clone": 56,
        "ptrace": 101,
        "syslog": 103,
        "personality": 135,
        "uselib": 134,
        "pivot_root": 155,
        "acct": 163,
        "mount": 165,
        "umount2": 166,
        "swapon": 167,
        "swapoff": 168,
        "reboot": 169,
        "iopl": 172,
        "ioperm": 173,
        "init_module": 175,
        "delete_module": 176,
        "quotactl": 179,
        "lookup_dcookie": 212,
        "kexec_load": 246,
        "add_key": 248,
        "request_key": 249,
        "keyctl": 250,
        "unshare": 272,
        "perf_event_open": 298,
        "name_to_handle_at": 303,
        "open_by_handle_at": 304,
        "setns": 308,
        "process_vm_readv": 310,
        "process_vm_writev": 311,
        "kcmp": 312,
        "finit_module": 313,
        "kexec_file_load": 320,
        "bpf": 321,
        "userfaultfd": 323,
    },
    "aarch64": {
        **_COMMON,
        "lookup_dcookie": 18,
        "umount2": 39,
        "mount": 40,
        "pivot_root": 41,
        "quotactl": 60,
        "acct": 89,
        "personality": 92,
        "unshare": 97,
        "kexec_load": 104,
        "init_module": 105,
        "delete_module": 106,
        "syslog": 116,
        "ptrace": 117,
        "reboot": 142,
        "add_key": 217,
        "request_key": 218,
        "keyctl": 219,
        "clone": 220,
        "swapon": 224,
        "swapoff": 225,
        "perf_event_open": 241,
        "name_to_handle_at": 264,
        "open_by_handle_at": 265,
        "setns": 268,
        "process_vm_readv": 270,
        "process_vm_writev": 271,
        "kcmp": 272,
        "finit_module": 273,
        "bpf": 280,
        "userfaultfd": 282,
        "kexec_file_load": 294,
    },
}
AUDIT_ARCH = {"x86_64": AUDIT_ARCH_X86_64, "aarch64": AUDIT_ARCH_AARCH64}
SYS_SECCOMP = {"x86_64": 317, "aarch64": 277}
# calls the filter inspects or answers specially rather than refusing outright
SPECIAL = ("clone", "clone3", "personality")


def refused_syscalls(machine=None):
    """Names of the system calls refused outright on ``machine`` (None: unsupported)."""
    table = SYSCALLS.get(_machine(machine))
    if table is None:
        return None
    return sorted(name for name in table if name not in SPECIAL)


def _machine(machine):
    machine = (machine or os.uname().machine).lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def _stmt(code, k):
    return (code, 0, 0, k)


def _assemble(program):
    """Resolve symbolic jumps; ``program`` holds ``(code, k)``, ``("label", name)`` and
    ``(code, k, jt_label, jf_label)`` items (a label of None: the next instruction)."""
    labels, position = {}, 0
    for item in program:
        if item[0] == "label":
            labels[item[1]] = position
        else:
            position += 1
    out, position = [], 0
    for item in program:
        if item[0] == "label":
            continue
        if len(item) == 2:
            out.append(_stmt(*item))
        else:
            code, k, jt, jf = item
            offsets = []
            for target in (jt, jf):
                offset = 0 if target is None else labels[target] - position - 1
                if not 0 <= offset <= 255:
                    raise ValueError(f"seccomp: jump to {target} out of range ({offset})")
                offsets.append(offset)
            out.append((code, offsets[0], offsets[1], k))
        position += 1
    return out


def build_filter(machine=None):
    """The filter for ``machine`` (default: this one) as the bytes of a
    ``struct sock_filter`` array, or None where the architecture is not supported."""
    machine = _machine(machine)
    table = SYSCALLS.get(machine)
    if table is None:
        return None
    eperm = SECCOMP_RET_ERRNO | errno.EPERM
    program = [
        (BPF_LD_W_ABS, OFFSET_ARCH),
        (BPF_JEQ_K, AUDIT_ARCH[machine], None, "kill"),
        (BPF_LD_W_ABS, OFFSET_NR),
    ]
    if machine == "x86_64":
        program.append((BPF_JGE_K, X32_SYSCALL_BIT, "kill", None))
    program += [
        (BPF_JEQ_K, table["clone"], "clone", None),
        (BPF_JEQ_K, table["clone3"], "enosys", None),
        (BPF_JEQ_K, table["personality"], "personality", None),
    ]
    for name in refused_syscalls(machine):
        program.append((BPF_JEQ_K, table[name], "eperm", None))
    program += [
        (BPF_RET_K, SECCOMP_RET_ALLOW),
        ("label", "clone"),
        (BPF_LD_W_ABS, OFFSET_ARG0_LOW),
        (BPF_JSET_K, CLONE_NAMESPACES, "eperm", None),
        (BPF_RET_K, SECCOMP_RET_ALLOW),
        ("label", "personality"),
        (BPF_LD_W_ABS, OFFSET_ARG0_LOW),
        (BPF_JEQ_K, PERSONALITY_QUERY, "allow", None),
        (BPF_JEQ_K, PER_LINUX, "allow", "eperm"),
        ("label", "allow"),
        (BPF_RET_K, SECCOMP_RET_ALLOW),
        ("label", "eperm"),
        (BPF_RET_K, eperm),
        ("label", "enosys"),
        (BPF_RET_K, SECCOMP_RET_ERRNO | errno.ENOSYS),
        ("label", "kill"),
        (BPF_RET_K, SECCOMP_RET_KILL_PROCESS),
    ]
    return b"".join(struct.pack("=HBBI", *insn) for insn in _assemble(program))


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_TSYNC = 1


def install(program=None):
    """Apply ``program`` (default: :func:`build_filter`) to this process, every thread
    of it, and everything it starts from now on. Irreversible.

    Returns a short status for reports ("seccomp filter: N syscalls refused"); raises
    OSError if the kernel refuses, or if the architecture is not supported
    ("seccomp: unsupported arch").
    """
    machine = _machine(None)
    if program is None:
        program = build_filter(machine)
    if program is None or machine not in SYS_SECCOMP:
        raise OSError(errno.ENOSYS, f"seccomp: unsupported arch {machine}")
    if not program or len(program) % 8:
        raise ValueError("seccomp: a filter is a non-empty array of 8-byte instructions")
    libc = ctypes.CDLL(None, use_errno=True)
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    # without no_new_privs only a privileged process may install a filter, and a setuid
    # program started later could run with privileges under a filter it does not expect
    # prctl and syscall are variadic: every argument must be a full unsigned long
    ulong = ctypes.c_ulong
    if libc.prctl(PR_SET_NO_NEW_PRIVS, ulong(1), ulong(0), ulong(0), ulong(0)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp: PR_SET_NO_NEW_PRIVS: {os.strerror(err)}")
    libc.syscall.restype = ctypes.c_long
    # seccomp(2) with TSYNC covers threads that already exist (prctl covers the caller only)
    ret = libc.syscall(
        ctypes.c_long(SYS_SECCOMP[machine]),
        ulong(SECCOMP_SET_MODE_FILTER),
        ulong(SECCOMP_FILTER_FLAG_TSYNC),
        ctypes.byref(fprog),
    )
    if ret < 0 and ctypes.get_errno() == errno.ENOSYS:  # kernels before 3.17
        ret = libc.prctl(
            PR_SET_SECCOMP, ulong(SECCOMP_MODE_FILTER), ctypes.byref(fprog), ulong(0), ulong(0)
        )
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp: cannot install the filter: {os.strerror(err)}")
    if ret > 0:  # TSYNC: the id of a thread that could not be synchronised
        raise OSError(errno.EAGAIN, f"seccomp: thread {ret} could not take the filter")
    # clone3 counts as refused; clone and personality are refused only with some arguments
    return f"seccomp filter: {len(refused_syscalls(machine)) + 1} syscalls refused"
