"""Run notebook cells like a Jupyter kernel would; executed INSIDE the sandbox.

Standard library only: the sandbox has Debian's ``/usr/bin/python3`` and nothing of
coursehub. Reads one JSON job from stdin::

    {"cells": ["src", ...], "cell_time_limit": 10, "output_limit": 65536,
     "result_fd": 3, "nonce": "..."}

(or ``"results_on_stdout": true`` instead of ``result_fd``: see :func:`_results_on_stdout`)

and runs the cells in order in one shared ``__main__`` namespace: the last expression
statement's ``repr`` is the cell's result (None is not recorded, a trailing ``;``
silences it, as in IPython); stdout and stderr are captured per cell up to
``output_limit`` bytes; a cell running past ``cell_time_limit`` is interrupted and the
next cell runs, like nbgrader interrupting a kernel.

After each cell one JSON document is written as a line on ``result_fd`` (never on
stdout, which belongs to the learner's code), so if the sandbox is killed the executor
still knows which cells finished. The last line is ``{"done": true, ...}``.
"""

import ast
import builtins
import errno
import io
import json
import linecache
import os
import signal
import sys
import traceback
import types

MAX_TRACEBACK_LINES = 100
MAX_LINE_CHARS = 2000
MAX_EVALUE_CHARS = 4000

_dumps = json.dumps
_write = os.write
_getpid = os.getpid
_exit = os._exit
MAIN_PID = _getpid()
_RUNNER_FILE = __file__


class CellTimeout(BaseException):
    """Raised by the alarm when a cell runs past its time limit."""


class OutputLimitExceeded(BaseException):
    """Raised by a capture stream when a cell printed more than it may."""


class Capture(io.TextIOBase):
    """A text stream that keeps at most ``budget.limit`` bytes across stdout+stderr."""

    def __init__(self, budget, name):
        self.budget = budget
        self.name = name
        self.parts = []

    def writable(self):
        return True

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        data = text.encode("utf-8", "replace")
        room = self.budget.limit - self.budget.used
        if len(data) > room:
            self.parts.append(data[: max(room, 0)].decode("utf-8", "ignore"))
            self.budget.used = self.budget.limit
            self.budget.exceeded = True
            raise OutputLimitExceeded(f"cell output exceeded {self.budget.limit} bytes")
        self.budget.used += len(data)
        self.parts.append(text)
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False

    def value(self):
        return "".join(self.parts)


class Budget:
    def __init__(self, limit):
        self.limit = limit
        self.used = 0
        self.exceeded = False


class Runner:
    def __init__(self, job):
        self.cells = [str(c) for c in job["cells"]]
        self.cell_time_limit = float(job.get("cell_time_limit", 10))
        self.output_limit = int(job.get("output_limit", 65536))
        self.result_fd = int(job["result_fd"])
        self.nonce = str(job.get("nonce", ""))
        # only inside a sandbox's own pid namespace may leftovers be killed wholesale
        self.own_pid_namespace = bool(job.get("own_pid_namespace", False))
        self.timed_out = False
        # memory kept back so a MemoryError can still be reported
        self.reserve = bytearray(4 << 20)
        main = types.ModuleType("__main__")
        main.__dict__["__builtins__"] = builtins
        sys.modules["__main__"] = main
        self.namespace = main.__dict__

    # -- one cell ----------------------------------------------------------------------

    def compile_cell(self, index, source):
        filename = f"<cell {index + 1}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        tree = ast.parse(source, filename, "exec")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr) and not _silenced(source):
            last = ast.Expression(tree.body.pop().value)
        body = compile(tree, filename, "exec", dont_inherit=True)
        expr = compile(last, filename, "eval", dont_inherit=True) if last else None
        return body, expr

    def _alarm(self, signum, frame):
        self.timed_out = True
        raise CellTimeout(f"cell ran longer than {self.cell_time_limit:g} s")

    def run_cell(self, index, source):
        budget = Budget(self.output_limit)
        out, err = Capture(budget, "stdout"), Capture(budget, "stderr")
        outcome = {"index": index, "status": "ok", "reason": None, "result": None}
        real_out, real_err = sys.stdout, sys.stderr
        self.timed_out = False
        sys.stdout, sys.stderr = out, err
        signal.signal(signal.SIGALRM, self._alarm)
        # keep interrupting if the learner's code swallows the first interruption
        signal.setitimer(signal.ITIMER_REAL, self.cell_time_limit, 0.5)
        try:
            body, expr = self.compile_cell(index, source)
            exec(body, self.namespace)
            if expr is not None:
                value = eval(expr, self.namespace)
                if value is not None:
                    self.namespace["_"] = value
                    outcome["result"] = _cap(repr(value), self.output_limit)
        except BaseException as e:  # the learner's code may raise anything
            signal.setitimer(signal.ITIMER_REAL, 0)
            if _getpid() != MAIN_PID:
                _exit(1)  # a child the learner forked: it must never report
            self.reserve = None
            outcome.update(self.describe_error(e, budget))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            if _getpid() != MAIN_PID:
                _exit(0)
            sys.stdout, sys.stderr = real_out, real_err
        if self.reserve is None:
            self.reserve = bytearray(4 << 20)
        if outcome["status"] == "ok" and (self.timed_out or budget.exceeded):
            # the learner caught the interruption; the limit still counts
            reason = "time_limit" if self.timed_out else "output_limit"
            outcome.update(
                status="error", ename=_ENAMES[reason], evalue="", traceback=[], reason=reason
            )
        outcome["stdout"] = out.value()
        outcome["stderr"] = err.value()
        if outcome["reason"] == "process_limit" and self.own_pid_namespace:
            _kill_leftovers()
        return outcome

    def describe_error(self, e, budget):
        if self.timed_out or isinstance(e, CellTimeout):
            reason = "time_limit"
        elif isinstance(e, OutputLimitExceeded) or budget.exceeded:
            reason = "output_limit"
        elif isinstance(e, MemoryError):
            reason = "memory_limit"
        elif _is_process_limit(e):
            reason = "process_limit"
        else:
            reason = None
        ename = _ENAMES[reason] if reason in ("time_limit", "output_limit") else type(e).__name__
        try:
            evalue = str(e)
        except BaseException:
            evalue = "<exception str() failed>"
        return {
            "status": "error",
            "reason": reason,
            "ename": _cap(ename, 200),
            "evalue": _cap(evalue, MAX_EVALUE_CHARS),
            "traceback": _cell_traceback(e),
        }

    # -- the job ---------------------------------------------------------------------

    def emit(self, document):
        document["nonce"] = self.nonce
        data = (_dumps(document) + "\n").encode("utf-8", "replace")
        while data:
            written = _write(self.result_fd, data)
            data = data[written:]

    def run(self):
        for index, source in enumerate(self.cells):
            self.emit(self.run_cell(index, source))
        self.emit({"done": True})


_ENAMES = {"time_limit": "CellTimeoutError", "output_limit": "OutputLimitExceeded"}


def _silenced(source):
    # IPython: a trailing ';' on the last line hides the result
    lines = [line.split("#", 1)[0].rstrip() for line in source.rstrip().splitlines()]
    return bool(lines) and lines[-1].endswith(";")


def _is_process_limit(e):
    if isinstance(e, OSError) and e.errno == errno.EAGAIN:
        return True
    return isinstance(e, RuntimeError) and "can't start new thread" in str(e)


def _cap(text, limit):
    return text if len(text) <= limit else text[:limit] + "..."


def _cell_traceback(e):
    """The traceback of ``e`` from the first frame in a cell: the runner is not shown."""
    tb = e.__traceback__
    while tb is not None and not tb.tb_frame.f_code.co_filename.startswith("<cell "):
        tb = tb.tb_next
    if isinstance(e, SyntaxError):
        tb = None
    try:
        te = traceback.TracebackException(type(e), e, tb, compact=True)
        # the alarm and capture streams raise from the runner's own frames: hide them
        te.stack = traceback.StackSummary.from_list(
            [f for f in te.stack if f.filename != _RUNNER_FILE]
        )
        lines = list(te.format())
    except BaseException:
        lines = [f"{type(e).__name__}\n"]
    out = []
    for chunk in lines:
        out.extend(chunk.rstrip("\n").split("\n"))
    if len(out) > MAX_TRACEBACK_LINES:
        half = MAX_TRACEBACK_LINES // 2
        out = out[:half] + ["... traceback truncated ..."] + out[-half:]
    return [_cap(line, MAX_LINE_CHARS) for line in out]


def _kill_leftovers():
    """After a fork bomb, end every other process in the sandbox's pid namespace."""
    try:
        os.kill(-1, signal.SIGKILL)  # spares pid 1 (bwrap) and ourselves
    except OSError:
        pass


def _results_on_stdout(job):
    """Keep the process's stdout as the private result channel; fd 1 becomes /dev/null.

    For sandboxes whose only way out is stdout (a container's attach stream): results
    go on a duplicate of fd 1 that the learner's code is never pointed at, and whatever
    the learner's code writes on fd 1 directly is thrown away, so it cannot mix with
    (or pass for) results. fd 2 stays: the executor keeps a capped tail for diagnostics.
    """
    if job.get("results_on_stdout"):
        job["result_fd"] = os.dup(1)  # not inherited by the learner's subprocesses
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)


def main():
    job = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    sys.stdin.close()
    sys.stdin = io.StringIO("")
    _results_on_stdout(job)
    Runner(job).run()
    _exit(0)  # don't let atexit handlers the learner registered report anything


if __name__ == "__main__":
    main()
