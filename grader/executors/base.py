"""The Executor base class: where a grading job's cells run.

An executor takes the merged notebook's code cells (:class:`CellSpec`) and returns one
:class:`CellOutcome` per cell. Every sandbox holds **two processes** running the same
stdlib-only programs, :mod:`grader.sandbox`: the learner's cells run in the learner's
process; the test cells run in a trusted process, under another uid, that never runs
the learner's code, reaches the learner's names through proxies over a socket, and is
the only one to write results, on a channel the learner's process does not have.
Subclasses decide *where* the two run (two bubblewrap sandboxes, one container...);
this class validates every result line before use.

A run ends in one of three ways: results for every cell (a grade); :class:`SandboxUnavailable`
(no sandbox here now: the submission waits); :class:`SandboxFailure` (the run broke
for a reason that is not the learner's: retried, never a grade).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
from dataclasses import asdict, dataclass, field
from importlib import resources

from traitlets import Float, Integer
from traitlets.config import LoggingConfigurable

# why a cell failed or did not run; "learner_exit": the learner's process ended (it exited,
# or was killed), so the cells that needed it could not run
REASONS = ("time_limit", "memory_limit", "process_limit", "output_limit", "learner_exit")
STATUSES = ("ok", "error", "not_run")
# what a learner's program may put on the sandbox's own stdout/stderr that we keep
DIAGNOSTIC_LIMIT = 16 * 1024
# extra seconds the asyncio backstop waits beyond `timeout -s KILL`
BACKSTOP_GRACE = 5.0


class SandboxUnavailable(RuntimeError):
    """The executor cannot run jobs here; ``str(e)`` says why and what to do."""


class SandboxFailure(RuntimeError):
    """A run failed for a reason that is not the learner's doing: the sandbox did not
    start, its trusted process died, the result channel was lost or garbled, the engine
    stopped mid-run. Never a grade: the queue retries, then marks the submission
    ``error`` with ``str(e)``."""


@dataclass(frozen=True)
class CellSpec:
    """One code cell of the merged notebook, as the sandbox runs it.

    ``test`` cells run in the trusted process; the others in the learner's process.
    ``hidden_lines`` are the 1-based line ranges (inclusive) of a test cell's
    ``### BEGIN HIDDEN TESTS`` regions: a failure there is reported without details.
    ``imports``: a locked setup cell's import statements, which the trusted process runs
    too, so that tests using ``np`` or ``isclose`` from a setup cell get the real ones.
    """

    source: str
    test: bool = False
    hidden_lines: tuple[tuple[int, int], ...] = ()
    imports: str = ""


@dataclass
class CellOutcome:
    """What happened when one cell ran (or didn't)."""

    status: str  # "ok" | "error" | "not_run"
    ename: str | None = None
    evalue: str | None = None
    traceback: list[str] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    result: str | None = None  # repr of the last expression, None if none or None
    reason: str | None = None  # None or one of REASONS
    # a test cell failed inside a hidden region (or may have: the default): its details
    # must not reach the learner; the trusted process says False for a visible failure
    hidden_failure: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


def as_cell_spec(cell: CellSpec | str) -> CellSpec:
    """A cell given as plain source is a learner's cell."""
    return cell if isinstance(cell, CellSpec) else CellSpec(cell)


#: the programs run inside every sandbox (grader/sandbox/), in the order they load
SANDBOX_MODULES = (
    "cells",
    "wire",
    "seccomp",
    "proxies",
    "foreign",
    "learner",
    "trusted",
    "launch",
    "zygote",
)


def sandbox_sources() -> dict[str, str]:
    """Module name -> source of the sandbox programs (copied or bound into sandboxes)."""
    package = resources.files("grader.sandbox")
    return {name: package.joinpath(f"{name}.py").read_text("utf-8") for name in SANDBOX_MODULES}


class Executor(LoggingConfigurable):
    """Base class: runs notebook cells with time, memory, process and output limits."""

    time_limit = Float(
        60.0, help="Seconds a whole grading run may take; the sandbox is killed after."
    ).tag(config=True)
    cell_time_limit = Float(
        10.0, help="Seconds one cell may run before it is interrupted (the next cell runs)."
    ).tag(config=True)
    memory_limit = Integer(
        512 * 1024 * 1024, help="Bytes of address space the learner's program may use."
    ).tag(config=True)
    process_limit = Integer(
        64, help="Processes (and threads) the sandbox's user may have at once."
    ).tag(config=True)
    output_limit = Integer(
        64 * 1024,
        help="Bytes of stdout+stderr captured per cell; more makes the cell fail with "
        "output_limit. Also caps what is read back from the sandbox.",
    ).tag(config=True)
    tmp_size = Integer(
        64 * 1024 * 1024,
        help="Bytes the sandbox's private /tmp (in memory, the only writable place) may hold.",
    ).tag(config=True)
    driver_address_space = Integer(
        8 * 1024 * 1024 * 1024,
        help="Address space a JavaScript (V8) driver may reserve: V8 reserves gigabytes it "
        "never uses and cannot start under memory_limit. Its data (what it writes) is still "
        "bounded by memory_limit; Python code in the sandbox keeps memory_limit.",
    ).tag(config=True)

    def address_space_limits(self) -> str:
        """prlimit's ``--as`` value, ``soft:hard``: the soft limit is memory_limit; the hard
        one is left higher only for a V8 driver to raise its own to (:mod:`foreign`)."""
        hard = max(self.memory_limit, self.driver_address_space)
        return f"{self.memory_limit}:{hard}"

    file_size_limit = Integer(
        16 * 1024 * 1024, help="Largest file (bytes) the learner's code may write."
    ).tag(config=True)
    open_files_limit = Integer(256, help="Open file descriptors per sandbox process.").tag(
        config=True
    )

    _checked = False

    async def check(self) -> str:
        """Return "ok" if jobs can run here, else raise SandboxUnavailable(reason)."""
        raise NotImplementedError

    def job_document(
        self, cells: list[CellSpec], result_fd: int, nonce: str, language: dict | None = None
    ) -> dict:
        """The trusted process's job (hidden tests included: never the learner's).
        ``language``: for a language other than Python, its error names and driver pair
        (:meth:`grader.grading.languages.Language.job_language`)."""
        document = {
            "cells": [
                {
                    "source": c.source,
                    "test": c.test,
                    "hidden_lines": [list(r) for r in c.hidden_lines],
                    "imports": c.imports,
                }
                for c in map(as_cell_spec, cells)
            ],
            "cell_time_limit": self.cell_time_limit,
            "time_limit": self.time_limit,
            "output_limit": self.output_limit,
            "result_fd": result_fd,
            "nonce": nonce,
        }
        if language:
            document["language"] = language
        return document

    @staticmethod
    def framed(document: dict) -> bytes:
        """How a job goes in on stdin: a 10-digit length, then the JSON."""
        data = json.dumps(document).encode()
        return b"%010d" % len(data) + data

    def environment(self) -> dict[str, str]:
        """The sandbox processes' whole environment: nothing of the service's leaks in."""
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": "/tmp",
            "PYTHONDONTWRITEBYTECODE": "1",
            "MPLBACKEND": "Agg",
        }

    def limits_in_force(self) -> dict:
        """Which limits and isolation apply to a sandbox here (for health and the log)."""
        return {}

    async def run(self, cells: list[CellSpec], language: dict | None = None) -> list[CellOutcome]:
        """Run ``cells`` in order in a fresh sandbox, one outcome per cell (``language``:
        see :meth:`job_document`; None for Python)."""
        raise NotImplementedError

    async def close(self) -> None:
        """End whatever this executor keeps running between runs (warm processes)."""

    async def run_pair(
        self, cells: list[CellSpec], learner_argv, trusted_argv, language: dict | None = None
    ) -> list[CellOutcome]:
        """Run a job with the two processes started on this machine.

        ``learner_argv(sock_fd)`` and ``trusted_argv(sock_fd)`` give each process's
        argument list; the trusted one gets the job on stdin and a result pipe. The
        results are read to their end in a thread: no timer on the event loop decides
        anything; the only timer is the backstop that kills a run past its time limit.
        """
        trusted_sock, learner_sock = socket.socketpair()
        read_fd, write_fd = os.pipe()
        nonce = secrets.token_hex(16)
        procs = []
        try:
            job = self.framed(self.job_document(cells, write_fd, nonce, language))
            learner = await self._start(
                learner_argv(learner_sock.fileno()), (learner_sock.fileno(),), None
            )
            procs.append(learner)
            trusted = await self._start(
                trusted_argv(trusted_sock.fileno()),
                (trusted_sock.fileno(), write_fd),
                asyncio.subprocess.PIPE,
            )
            procs.append(trusted)
        except BaseException:
            os.close(read_fd)
            for proc in procs:
                kill_process_group(proc)
            raise
        finally:
            os.close(write_fd)
            trusted_sock.close()
            learner_sock.close()

        _, result_cap = self.result_limits(len(cells))
        results = asyncio.ensure_future(asyncio.to_thread(_read_fd, read_fd, result_cap))
        stderr = asyncio.ensure_future(_drain(trusted.stderr, DIAGNOSTIC_LIMIT))
        killed = False

        async def feed_and_wait():
            try:
                trusted.stdin.write(job)
                await trusted.stdin.drain()
                trusted.stdin.close()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the trusted process died early: its missing results tell the story
            await trusted.wait()

        try:
            await asyncio.wait_for(feed_and_wait(), self.time_limit + BACKSTOP_GRACE)
        except TimeoutError:
            killed = True
        finally:
            for proc in procs:
                kill_process_group(proc)
            await asyncio.gather(*(proc.wait() for proc in procs))
        data = await results  # the writer is gone: end of file comes
        diagnostics, _ = await stderr
        return self.outcomes_from(
            data, len(cells), nonce, killed, f"exit {trusted.returncode}", diagnostics
        )

    async def run_forked(
        self,
        cells: list[CellSpec],
        learner,
        trusted_sock: socket.socket,
        zygote,
        language: dict | None = None,
    ) -> list[CellOutcome]:
        """Like :meth:`run_pair`, for a learner's process already started (``learner``,
        whose other end is ``trusted_sock``) and a trusted process forked by a warm
        ``zygote`` (:class:`~grader.executors.zygote.TrustedZygote`). The caller ends the
        learner's process."""
        read_fd, write_fd = os.pipe()
        job_read, job_write = os.pipe()
        nonce = secrets.token_hex(16)
        job = self.framed(self.job_document(cells, -1, nonce, language))
        try:
            await zygote.submit([trusted_sock.fileno(), write_fd, job_read])
        except BaseException:
            os.close(read_fd)
            os.close(job_write)
            raise
        finally:
            for fd in (write_fd, job_read):
                os.close(fd)
            trusted_sock.close()

        _, result_cap = self.result_limits(len(cells))
        feeding = asyncio.ensure_future(asyncio.to_thread(_write_all, job_write, job))
        results = asyncio.ensure_future(asyncio.to_thread(_read_fd, read_fd, result_cap))
        killed = False
        try:
            # the zygote kills a child past the time limit; this is the backstop
            await asyncio.wait_for(asyncio.shield(results), self.time_limit + 2 * BACKSTOP_GRACE)
        except TimeoutError:
            killed = True
            await zygote.stop()  # its children go with it: the result pipe ends
        finally:
            kill_process_group(learner)
            await asyncio.gather(feeding, return_exceptions=True)
        return self.outcomes_from(
            await results, len(cells), nonce, killed, "the trusted process ended", b""
        )

    async def _start(self, argv, pass_fds, stdin):
        try:
            return await asyncio.create_subprocess_exec(
                *argv,
                stdin=stdin if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                pass_fds=pass_fds,
                start_new_session=True,
                env=self.environment(),
            )
        except OSError as e:
            raise SandboxFailure(f"cannot start the sandbox ({argv[0]}): {e}") from e

    def result_limits(self, n_cells: int) -> tuple[int, int]:
        """(longest result line, most result bytes) accepted from a run of ``n_cells``."""
        max_line = 12 * self.output_limit + 256 * 1024
        return max_line, min(64 * 1024 * 1024, max_line * (n_cells + 1))

    def outcomes_from(
        self,
        data: tuple[bytes, bool],
        n_cells: int,
        nonce: str,
        killed: bool,
        exit_info: str = "",
        stderr: bytes = b"",
    ) -> list[CellOutcome]:
        """Validated outcomes from the result channel, or :class:`SandboxFailure`.

        The trusted process reports every cell, then ``done``, whatever the learner's
        code did; anything less means the run broke (the trusted process died, the
        channel was garbled or overflowed, the backstop had to kill it): not a grade.
        """
        raw, overflow = data
        max_line, _ = self.result_limits(n_cells)
        outcomes, complete = parse_results(raw, n_cells, nonce, max_line, self.output_limit)
        if complete and not overflow:
            return outcomes
        tail = stderr[-2000:].decode("utf-8", "replace").strip()
        if killed:
            why = f"the grading run did not end within {self.time_limit:g} s and was stopped"
        elif overflow:
            why = "the grading run's results exceeded their size limit"
        else:
            why = f"the grading run ended early ({exit_info})"
        self.log.warning(
            "sandbox failed after %d of %d cells: %s; stderr: %s",
            sum(o.status != "not_run" for o in outcomes),
            n_cells,
            why,
            tail,
        )
        raise SandboxFailure(why)


def kill_process_group(proc) -> None:
    if proc.returncode is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


async def _drain(stream, cap: int) -> tuple[bytes, bool]:
    """Read ``stream`` to EOF, keeping the first ``cap`` bytes."""
    kept = bytearray()
    overflow = False
    while chunk := await stream.read(65536):
        room = cap - len(kept)
        if len(chunk) > room:
            overflow = True
        kept += chunk[: max(room, 0)]
    return bytes(kept), overflow


def _write_all(fd: int, data: bytes) -> None:
    """Write ``data`` to ``fd`` and close it (blocking: run it in a thread)."""
    try:
        with os.fdopen(fd, "wb", buffering=0) as f:
            view = memoryview(data)
            while view:
                view = view[f.write(view) :]
    except (BrokenPipeError, ConnectionResetError):
        pass  # the reader is gone: its missing results tell the story


def _read_fd(fd: int, cap: int) -> tuple[bytes, bool]:
    """Read ``fd`` to end of file (blocking: run it in a thread), keeping ``cap`` bytes."""
    kept = bytearray()
    overflow = False
    with os.fdopen(fd, "rb", buffering=0) as f:
        while chunk := f.read(1 << 16):
            room = cap - len(kept)
            if len(chunk) > room:
                overflow = True
            kept += chunk[: max(room, 0)]
    return bytes(kept), overflow


def _clean(value, limit: int) -> str:
    """A string from the sandbox, valid UTF-8, at most ``limit`` characters."""
    text = value.encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + "..."


def _valid_line(doc, index: int, nonce: str, output_limit: int) -> CellOutcome | None:
    if not isinstance(doc, dict) or doc.get("nonce") != nonce or doc.get("index") != index:
        return None
    status, reason = doc.get("status"), doc.get("reason")
    if status not in STATUSES or (reason is not None and reason not in REASONS):
        return None
    if status == "not_run" and reason is None:
        return None
    if not isinstance(doc.get("hidden_failure", True), bool):
        return None
    strings = {k: doc.get(k) for k in ("ename", "evalue", "result")}
    if any(v is not None and not isinstance(v, str) for v in strings.values()):
        return None
    stdout, stderr, tb = doc.get("stdout", ""), doc.get("stderr", ""), doc.get("traceback", [])
    if not isinstance(stdout, str) or not isinstance(stderr, str):
        return None
    if not isinstance(tb, list) or len(tb) > 200 or not all(isinstance(x, str) for x in tb):
        return None
    if len(stdout) + len(stderr) > output_limit + 8:
        return None
    return CellOutcome(
        status=status,
        ename=_clean(strings["ename"], 200) if strings["ename"] is not None else None,
        evalue=_clean(strings["evalue"], 4096) if strings["evalue"] is not None else None,
        traceback=[_clean(x, 2048) for x in tb],
        stdout=_clean(stdout, output_limit),
        stderr=_clean(stderr, output_limit),
        result=_clean(strings["result"], output_limit) if strings["result"] is not None else None,
        reason=reason,
        hidden_failure=doc.get("hidden_failure", True),
    )


def parse_results(
    data: bytes, n_cells: int, nonce: str, max_line: int, output_limit: int
) -> tuple[list[CellOutcome], bool]:
    """Validate the trusted process's result lines: the outcomes, and whether the run
    completed (one line per cell, strictly in order, with the job's nonce, then
    ``done``). Anything malformed ends the reading: the run is then incomplete.
    """
    outcomes: list[CellOutcome] = []
    complete = False
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    elif lines:
        lines.pop()  # an unfinished last line: the sandbox died while writing it
    for raw in lines:
        if complete or len(raw) > max_line:
            complete = False
            break
        try:
            doc = json.loads(raw)
        except ValueError:
            break
        if len(outcomes) == n_cells:
            complete = (
                isinstance(doc, dict) and doc.get("done") is True and doc.get("nonce") == nonce
            )
            if not complete:
                break
            continue
        outcome = _valid_line(doc, len(outcomes), nonce, output_limit)
        if outcome is None:
            break
        outcomes.append(outcome)
    outcomes += [CellOutcome(status="not_run") for _ in range(n_cells - len(outcomes))]
    return outcomes, complete
