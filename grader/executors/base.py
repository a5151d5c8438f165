"""The Executor base class: where a grading job's cells run.

An executor takes a list of code cells (the merged notebook's code cells) and returns
one :class:`CellOutcome` per cell. Subclasses decide *where* the cells run (a
bubblewrap sandbox, a bare process, ...); they all run the same stdlib-only program,
:mod:`grader.sandbox.runner`, and read its results from a pipe of its own (never the
learner's stdout), validating every line before use.

Running a job has two separable steps so a later pool can reuse the first:
:meth:`Executor.command` ("prepare a sandbox": the argument list that starts a runner
in a fresh sandbox) and :meth:`Executor.run_job` ("run a job in it").
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import time
from dataclasses import asdict, dataclass, field
from importlib import resources

from traitlets import Float, Integer
from traitlets.config import LoggingConfigurable

REASONS = ("time_limit", "memory_limit", "process_limit", "output_limit", "sandbox_error")
STATUSES = ("ok", "error", "not_run")
# what a learner's program may put on the sandbox's own stdout/stderr that we keep
DIAGNOSTIC_LIMIT = 16 * 1024
# extra seconds the asyncio backstop waits beyond `timeout -s KILL`
BACKSTOP_GRACE = 5.0


class SandboxUnavailable(RuntimeError):
    """The executor cannot run jobs here; ``str(e)`` says why and what to do."""


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

    def to_dict(self) -> dict:
        return asdict(self)


def runner_source() -> str:
    """The runner program's text (it is copied into or bound into sandboxes)."""
    return resources.files("grader.sandbox").joinpath("runner.py").read_text("utf-8")


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

    def command(self, result_fd: int) -> list[str]:
        """Argument list starting a fresh runner that writes results on ``result_fd``."""
        raise NotImplementedError

    def job_document(self, cells: list[str], result_fd: int, nonce: str) -> dict:
        return {
            "cells": list(cells),
            "cell_time_limit": self.cell_time_limit,
            "output_limit": self.output_limit,
            "result_fd": result_fd,
            "nonce": nonce,
        }

    def environment(self) -> dict[str, str]:
        """The runner's whole environment: nothing of the service's leaks in."""
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": "/tmp",
            "PYTHONDONTWRITEBYTECODE": "1",
            "MPLBACKEND": "Agg",
        }

    async def run(self, cells: list[str]) -> list[CellOutcome]:
        """Run ``cells`` in order in a fresh sandbox, one outcome per cell."""
        if not self._checked:
            await self.check()  # once per executor: a failed check raises every time
            self._checked = True
        read_fd, write_fd = os.pipe()
        try:
            argv = self.command(write_fd)
        except BaseException:
            os.close(read_fd)
            os.close(write_fd)
            raise
        return await self.run_job(argv, cells, read_fd, write_fd)

    async def run_job(
        self, argv: list[str], cells: list[str], read_fd: int, write_fd: int
    ) -> list[CellOutcome]:
        """Start ``argv``, feed it the job, collect and validate its result lines."""
        nonce = secrets.token_hex(16)
        job = json.dumps(self.job_document(cells, write_fd, nonce)).encode()
        started = time.monotonic()
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                pass_fds=(write_fd,),
                start_new_session=True,
                env=self.environment(),
            )
        except OSError as e:
            os.close(read_fd)
            raise SandboxUnavailable(f"cannot start the sandbox ({argv[0]}): {e}") from e
        finally:
            os.close(write_fd)

        max_line, result_cap = self.result_limits(len(cells))
        results = asyncio.ensure_future(_drain_fd(read_fd, result_cap))
        stdout = asyncio.ensure_future(_drain(proc.stdout, DIAGNOSTIC_LIMIT))
        stderr = asyncio.ensure_future(_drain(proc.stderr, DIAGNOSTIC_LIMIT))
        killed = False

        async def feed_and_wait():
            try:
                proc.stdin.write(job)
                await proc.stdin.drain()
                proc.stdin.close()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the runner died early; its missing results tell the story
            await proc.wait()

        try:
            # the backstop covers feeding the job too: a runner that never reads blocks it
            await asyncio.wait_for(feed_and_wait(), self.time_limit + BACKSTOP_GRACE)
        except TimeoutError:
            killed = True
        finally:
            _kill_group(proc)
            await proc.wait()
        elapsed = time.monotonic() - started
        data = b""
        try:
            data, _ = await asyncio.wait_for(results, 5)
        except TimeoutError:
            results.cancel()
        diagnostics = []
        for task in (stdout, stderr):
            try:
                diagnostics.append((await asyncio.wait_for(task, 1))[0])
            except TimeoutError:
                task.cancel()
        timed_out = killed or elapsed >= self.time_limit
        return self.outcomes_from(
            data,
            len(cells),
            nonce,
            "time_limit" if timed_out else "sandbox_error",
            f"exit {proc.returncode}",
            diagnostics[1] if len(diagnostics) > 1 else b"",
        )

    def result_limits(self, n_cells: int) -> tuple[int, int]:
        """(longest result line, most result bytes) accepted from a run of ``n_cells``."""
        max_line = 12 * self.output_limit + 256 * 1024
        return max_line, min(64 * 1024 * 1024, max_line * (n_cells + 1))

    def outcomes_from(
        self,
        data: bytes,
        n_cells: int,
        nonce: str,
        incomplete_reason: str,
        exit_info: str = "",
        stderr: bytes = b"",
    ) -> list[CellOutcome]:
        """Validated outcomes from the result channel's bytes.

        If the run did not complete, the cells it never reported are ``not_run`` with
        ``incomplete_reason`` (why the sandbox ended early, as the executor saw it).
        """
        max_line, _ = self.result_limits(n_cells)
        outcomes, complete = parse_results(data, n_cells, nonce, max_line, self.output_limit)
        if not complete:
            self.log.info(
                "sandbox ended after %d of %d cells (%s, %s); stderr: %s",
                sum(o.status != "not_run" for o in outcomes),
                n_cells,
                exit_info,
                incomplete_reason,
                stderr[-2000:].decode("utf-8", "replace"),
            )
            for outcome in outcomes:
                if outcome.status == "not_run" and outcome.reason is None:
                    outcome.reason = incomplete_reason
        return outcomes


def _kill_group(proc) -> None:
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


async def _drain_fd(fd: int, cap: int) -> tuple[bytes, bool]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**20)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", 0)
    )
    try:
        return await _drain(reader, cap)
    finally:
        transport.close()


def _clean(value, limit: int) -> str:
    """A string from the sandbox, valid UTF-8, at most ``limit`` characters."""
    text = value.encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + "..."


def _valid_line(doc, index: int, nonce: str, output_limit: int) -> CellOutcome | None:
    if not isinstance(doc, dict) or doc.get("nonce") != nonce or doc.get("index") != index:
        return None
    status, reason = doc.get("status"), doc.get("reason")
    if status not in ("ok", "error") or (reason is not None and reason not in REASONS):
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
    )


def parse_results(
    data: bytes, n_cells: int, nonce: str, max_line: int, output_limit: int
) -> tuple[list[CellOutcome], bool]:
    """Validate the runner's result lines; return outcomes and whether the run completed.

    Lines must carry the job's nonce and come strictly in cell order, one per cell, then
    a ``done`` line. Anything else means learner code wrote on the result channel: then
    no line of the run is trusted and every cell is ``not_run`` (``sandbox_error``).
    A truncated run (sandbox killed) keeps the lines it finished.
    """
    outcomes: list[CellOutcome] = []
    complete = False
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    elif lines:
        lines.pop()  # an unfinished last line: the sandbox died while writing it
    tampered = False
    for raw in lines:
        if complete or len(raw) > max_line:
            tampered = True
            break
        try:
            doc = json.loads(raw)
        except ValueError:
            tampered = True
            break
        if len(outcomes) == n_cells:
            if isinstance(doc, dict) and doc.get("done") is True and doc.get("nonce") == nonce:
                complete = True
                continue
            tampered = True
            break
        outcome = _valid_line(doc, len(outcomes), nonce, output_limit)
        if outcome is None:
            tampered = True
            break
        outcomes.append(outcome)
    if tampered:
        return [CellOutcome(status="not_run", reason="sandbox_error") for _ in range(n_cells)], True
    outcomes += [CellOutcome(status="not_run") for _ in range(n_cells - len(outcomes))]
    return outcomes, complete
