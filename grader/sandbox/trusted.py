"""The trusted test process: runs the notebook's test cells and writes every result.

Standard library only. It receives the whole job (hidden tests included) and is the
only process that does; it never runs a line of the learner's code. For each code cell
in order: a learner cell is sent to the learner's process and its outcome taken back
as data; a test cell runs here, in a namespace of the test's own whose missing names are
looked up in the learner's namespace, through :mod:`proxies`. Built-in names always
mean the trusted built-ins. Only this process writes result lines, on a descriptor the
learner's process does not have.
"""

from __future__ import annotations

import builtins
import json
import os
import signal
import sys
import time
import traceback
import types

try:
    from .cells import (
        LIMIT_ERRORS,
        LIMIT_MESSAGES,
        Budget,
        Capture,
        CellTimeout,
        OutputLimitExceeded,
        cap,
        execute,
    )
    from .foreign import Driver, DriverLost
    from .proxies import Channel, LearnerLimit, LearnerLost
except ImportError:  # inside a sandbox, the sandbox's modules are top-level
    from cells import (
        LIMIT_ERRORS,
        LIMIT_MESSAGES,
        Budget,
        Capture,
        CellTimeout,
        OutputLimitExceeded,
        cap,
        execute,
    )
    from foreign import Driver, DriverLost
    from proxies import Channel, LearnerLimit, LearnerLost

MAX_TRACEBACK_LINES = 100
MAX_LINE_CHARS = 2000
MAX_TEXT = 4000
LEARNER_REASONS = {None, "time_limit", "memory_limit", "process_limit", "output_limit"}
BUILTIN_NAMES = frozenset(dir(builtins))
# seconds kept back from the run's time limit to report the cells that could not run
RESERVE = 1.0


class TestNamespace(dict):
    """The test cells' globals. A name the tests did not define is the learner's, looked
    up on every use (the learner's later cells may redefine it); built-in names and
    dunder names never are."""

    __test__ = False

    def __init__(self, channel):
        super().__init__(__name__="__main__", __builtins__=builtins)
        self.channel = channel

    def __missing__(self, name):
        if name in BUILTIN_NAMES or (name.startswith("__") and name.endswith("__")):
            raise KeyError(name)
        try:
            return self.channel.request({"op": "get", "name": name})
        except NameError:
            raise KeyError(name) from None


class TrustedRunner:
    def __init__(self, job, sock, result_fd):
        self.cells = job["cells"]
        self.cell_time_limit = float(job.get("cell_time_limit", 10))
        self.time_limit = float(job.get("time_limit", 60))
        self.output_limit = int(job.get("output_limit", 65536))
        self.nonce = str(job.get("nonce", ""))
        self.result_fd = result_fd
        self.channel = Channel(sock)
        self.namespace = TestNamespace(self.channel)
        self.hidden = {}  # each test cell's filename -> its hidden line ranges
        self.timed_out = False
        main = types.ModuleType("__main__")
        sys.modules["__main__"] = main

    def emit(self, document):
        document["nonce"] = self.nonce
        data = (json.dumps(document) + "\n").encode("utf-8", "replace")
        while data:
            data = data[os.write(self.result_fd, data) :]

    def run(self):
        started = time.monotonic()
        signal.signal(signal.SIGALRM, self._alarm)
        for index, cell in enumerate(self.cells):
            left = self.time_limit - RESERVE - (time.monotonic() - started)
            if left <= 0:
                outcome = {"index": index, "status": "not_run", "reason": "time_limit"}
            else:
                outcome = self.run_guarded(index, cell, min(self.cell_time_limit, left))
            self.emit(outcome)
        self.emit({"done": True})

    def run_guarded(self, index, cell, time_left):
        """One cell's outcome, whatever happens. The cell runs once; an interruption
        that arrives after it ended (the alarm repeats until disarmed) only makes its
        outcome a time limit, computed again until nothing interrupts it."""
        attempt = lambda: self.run_cell(index, cell, time_left)  # noqa: E731
        while True:
            try:
                return attempt()
            except BaseException as e:
                attempt = lambda e=e: self.late_outcome(index, e)  # noqa: E731

    def run_cell(self, index, cell, time_left):
        if cell.get("test"):
            return self.run_test(index, cell, time_left)
        outcome = self.run_learner_cell(index, cell, time_left)
        if cell.get("imports"):
            self.run_imports(cell["imports"])
        return outcome

    def late_outcome(self, index, e):
        signal.setitimer(signal.ITIMER_REAL, 0)
        outcome = self.lost_outcome(index, "time_limit")
        outcome["hidden_failure"] = True  # nothing of the cell is known: say nothing
        return outcome

    def _alarm(self, signum, frame):
        self.timed_out = True
        # while waiting on the learner, the channel's own deadline decides
        if not self.channel.waiting:
            raise CellTimeout(f"cell ran longer than {self.cell_time_limit:g} s")

    def run_imports(self, source):
        """A setup cell's imports, here too: the tests' ``np`` is the trusted numpy."""
        real = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = Capture(Budget(self.output_limit), "setup")
        signal.setitimer(signal.ITIMER_REAL, self.cell_time_limit, 0.5)
        try:
            exec(compile(source, "<setup>", "exec"), self.namespace)
        except BaseException:
            pass  # the learner's process ran the cell itself; its outcome is what counts
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout, sys.stderr = real

    # -- the learner's cells -------------------------------------------------------------

    def run_learner_cell(self, index, cell, time_left):
        self.channel.deadline = time.monotonic() + time_left
        try:
            done = self.channel.request({"op": "run", "index": index, "source": cell["source"]})
            return self.checked_learner_outcome(index, done)
        except LearnerLost as e:
            return self.lost_outcome(index, e.reason)
        except BaseException as e:  # the learner's process answered out of turn
            return self.error_outcome(index, e)

    def checked_learner_outcome(self, index, done):
        """The learner's report of its own cell, as data of known shape and size."""
        if not isinstance(done, dict):
            self.channel.lose("learner_exit")
        status, reason = done.get("status"), done.get("reason")
        text = {k: done.get(k) for k in ("ename", "evalue", "result", "stdout", "stderr")}
        trace = done.get("traceback", [])
        if (
            status not in ("ok", "error")
            or reason not in LEARNER_REASONS
            or any(v is not None and not isinstance(v, str) for v in text.values())
            or not isinstance(trace, list)
            or not all(isinstance(line, str) for line in trace)
        ):
            self.channel.lose("learner_exit")
        limit = self.output_limit
        outcome = {
            "index": index,
            "status": status,
            "reason": reason,
            "result": cap(text["result"], limit) if text["result"] is not None else None,
            "stdout": cap(text["stdout"] or "", limit),
            "stderr": cap(text["stderr"] or "", limit),
        }
        if status == "error":
            outcome.update(
                ename=cap(text["ename"] or "Error", 200),
                evalue=cap(text["evalue"] or "", MAX_TEXT),
                traceback=[cap(line, MAX_LINE_CHARS) for line in trace[:MAX_TRACEBACK_LINES]],
            )
        return outcome

    def lost_outcome(self, index, reason):
        return {
            "index": index,
            "status": "error",
            "reason": reason,
            "ename": LIMIT_ERRORS.get(reason, LIMIT_ERRORS["learner_exit"]),
            "evalue": LIMIT_MESSAGES.get(reason, LIMIT_MESSAGES["learner_exit"]),
            "traceback": [],
            "stdout": "",
            "stderr": "",
            "result": None,
        }

    # -- test cells --------------------------------------------------------------------

    def run_test(self, index, cell, time_left):
        filename = f"<cell {index + 1}>"
        self.hidden[filename] = [tuple(r) for r in cell.get("hidden_lines", [])]
        budget = Budget(self.output_limit)
        out, err = Capture(budget, "stdout"), Capture(budget, "stderr")
        real = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        self.timed_out = False
        self.channel.output_exceeded = False
        self.channel.deadline = time.monotonic() + time_left
        outcome = {"index": index, "status": "ok", "reason": None, "result": None}
        signal.setitimer(signal.ITIMER_REAL, time_left, 0.5)
        try:
            outcome["result"] = execute(cell["source"], filename, self.namespace, self.output_limit)
            if self.timed_out or budget.exceeded or self.channel.output_exceeded:
                raise CellTimeout("time limit") if self.timed_out else OutputLimitExceeded("")
        except BaseException as e:  # a failing test may raise anything
            signal.setitimer(signal.ITIMER_REAL, 0)
            outcome = self.error_outcome(index, e, budget)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout, sys.stderr = real
        outcome["stdout"] = out.take()
        outcome["stderr"] = err.take()
        return outcome

    def error_outcome(self, index, e, budget=None):
        if isinstance(e, LearnerLost | LearnerLimit):
            reason = e.reason
        elif isinstance(e, CellTimeout) or self.timed_out:
            reason = "time_limit"
        elif isinstance(e, OutputLimitExceeded) or (budget and budget.exceeded):
            reason = "output_limit"
        elif isinstance(e, MemoryError):
            reason = "memory_limit"
        else:
            reason = None
        hidden = self.failed_in_hidden_lines(e)
        outcome = {
            "index": index,
            "status": "error",
            "reason": reason,
            "ename": LIMIT_ERRORS.get(reason) or cap(type(e).__name__, 200),
            "evalue": "",
            "traceback": [],
            "hidden_failure": hidden,
            "stdout": "",
            "stderr": "",
            "result": None,
        }
        if not hidden:  # a hidden test's message or source never leaves this process
            outcome["evalue"] = cap(_text(e), MAX_TEXT) if reason is None else ""
            outcome["traceback"] = self.visible_traceback(e)
        return outcome

    def failed_in_hidden_lines(self, e) -> bool:
        tb = e.__traceback__
        while tb is not None:
            code = tb.tb_frame.f_code
            for first, last in self.hidden.get(code.co_filename, ()):
                if first <= tb.tb_lineno <= last:
                    return True
            tb = tb.tb_next
        return False

    def visible_traceback(self, e):
        """The test's frames (no runner frames), then the learner's part if it raised."""
        try:
            te = traceback.TracebackException(type(e), e, e.__traceback__, compact=True)
            te.stack = traceback.StackSummary.from_list(
                [f for f in te.stack if f.filename in self.hidden]
            )
            lines = list(te.format(chain=False))
        except BaseException:
            lines = [f"{type(e).__name__}\n"]
        out = []
        for chunk in lines:
            out.extend(chunk.rstrip("\n").split("\n"))
        learner = getattr(e, "_coursehub_learner_traceback", None)
        if learner:
            out = out[:-1] + ["", "In your code:"] + list(learner)
        if len(out) > MAX_TRACEBACK_LINES:
            half = MAX_TRACEBACK_LINES // 2
            out = out[:half] + ["... traceback truncated ..."] + out[-half:]
        return [cap(line, MAX_LINE_CHARS) for line in out]


class ForeignRunner(TrustedRunner):
    """The trusted process of a job in a language other than Python: the learner's
    cells go to the learner driver (through the learner's process), the test cells to
    a trusted driver started here, whose questions about the learner's names are relayed
    the same way (:mod:`foreign`). Outcomes have the Python runner's shape; a hidden
    failure keeps only an error name from the language's list."""

    def __init__(self, job, sock, result_fd):
        super().__init__(job, sock, result_fd)
        language = job["language"]
        self.learner_spec = language["learner"]
        self.error_names = frozenset(language.get("error_names", ()))
        self.tests = Driver(language["trusted"], self.output_limit)
        self.setups = []  # setup sources run so far, again in a restarted trusted driver
        self.learner_output = []  # what the learner's code printed while a test ran
        self.learner_lost = None  # why the learner's side ended during a test, if it did

    def run(self):
        try:
            super().run()
        finally:
            self.tests.kill()

    def run_cell(self, index, cell, time_left):
        if cell.get("test"):
            return self.run_foreign_test(index, cell, time_left)
        outcome = self.run_foreign_learner_cell(index, cell, time_left)
        if cell.get("imports"):
            self.setups.append(cell["imports"])
            self.run_setup(cell["imports"], time_left)
        return outcome

    def ask_learner(self, msg, with_driver=False):
        """One message to the learner driver; its answer: ``reply`` (the driver's
        message, decoded here) or ``lost``, and what it printed meanwhile."""
        request = {"op": "foreign", "msg": msg}
        if with_driver:
            request["driver"] = self.learner_spec
        answer = self.channel.request(request)
        if not isinstance(answer, dict):
            self.channel.lose("learner_exit")
        if "reply" in answer:
            try:
                answer["reply"] = json.loads(answer["reply"])
            except (TypeError, ValueError, RecursionError):
                self.channel.lose("learner_exit")
        return answer

    def run_foreign_learner_cell(self, index, cell, time_left):
        self.channel.deadline = time.monotonic() + time_left
        try:
            answer = self.ask_learner({"op": "run", "source": cell["source"]}, True)
        except LearnerLost as e:
            return self.lost_outcome(index, e.reason)
        except BaseException as e:
            return self.error_outcome(index, e)
        output = {k: answer.get(k) for k in ("stdout", "stderr")}
        if "lost" in answer:
            reason = answer["lost"] if answer["lost"] in LEARNER_REASONS else "learner_exit"
            outcome = self.lost_outcome(index, reason or "learner_exit")
            if reason == "memory_limit":
                outcome.update(ename="MemoryError", evalue="your code ran out of memory")
            return outcome
        reply = answer.get("reply")
        if not isinstance(reply, dict):
            return self.lost_outcome(index, "learner_exit")
        done = {k: reply.get(k) for k in ("status", "ename", "evalue", "traceback")}
        # a driver may name the limit its cell hit (a failed allocation: memory_limit)
        reason = reply.get("reason") if reply.get("status") == "error" else None
        done.update(output, reason=reason if reason in LEARNER_REASONS else None, result=None)
        if done["traceback"] is None:
            done["traceback"] = []
        if answer.get("output_exceeded"):
            done.update(
                status="error", reason="output_limit", ename="OutputLimitExceeded", evalue=""
            )
        try:
            return self.checked_learner_outcome(index, done)
        except LearnerLost as e:
            return self.lost_outcome(index, e.reason)

    def relay(self, document):
        """A trusted driver's question for the learner driver, answered (None: not a
        question, so the driver's answer to this process)."""
        if "ask" not in document:
            return None
        try:
            answer = self.ask_learner({"op": "ask", "msg": document["ask"]})
        except LearnerLost as e:
            self.learner_lost = e.reason
            return {"lost": e.reason}
        for key in ("stdout", "stderr"):
            if isinstance(answer.get(key), str) and answer[key]:
                self.learner_output.append(answer[key])
        if answer.get("output_exceeded"):
            self.learner_lost = "output_limit"
            return {"lost": "output_limit"}
        if "lost" in answer:
            reason = answer["lost"] if answer["lost"] in LEARNER_REASONS else "learner_exit"
            self.learner_lost = reason or "learner_exit"
            return {"lost": self.learner_lost}
        message = answer.get("reply")
        if not isinstance(message, dict) or "reply" not in message:
            self.learner_lost = "learner_exit"  # the learner's driver answered out of turn
            return {"lost": "learner_exit"}
        return {"reply": message["reply"]}

    def run_setup(self, source, time_left):
        try:
            self.tests.exchange({"op": "setup", "source": source}, time.monotonic() + time_left)
        except DriverLost:
            pass  # the learner's process ran the cell; its outcome is what counts
        self.tests.take_output()

    def restart_tests(self, time_left):
        """A fresh trusted driver (the last one was lost), with the setups run again."""
        self.tests.kill()
        for source in self.setups:
            self.run_setup(source, time_left)

    def run_foreign_test(self, index, cell, time_left):
        segments = self.segments(cell)
        hidden_cell = any(segment["hidden"] for segment in segments)
        deadline = time.monotonic() + time_left
        self.channel.deadline = deadline
        self.learner_lost = None
        self.learner_output = []
        try:
            done = self.tests.exchange(
                {"op": "test", "segments": segments}, deadline + 0.5, self.relay
            )
            reason = self.learner_lost
        except DriverLost as e:
            done, reason = None, self.learner_lost or e.reason
            self.restart_tests(max(deadline - time.monotonic(), 1.0))
        out, err, exceeded = self.tests.take_output()
        out = "".join(self.learner_output) + out
        if exceeded and reason is None:
            reason = "output_limit"
        outcome = self.foreign_test_outcome(index, done, reason, hidden_cell)
        outcome["stdout"] = cap(out, self.output_limit)
        outcome["stderr"] = cap(err, self.output_limit)
        return outcome

    def foreign_test_outcome(self, index, done, reason, hidden_cell):
        result = done.get("done") if isinstance(done, dict) else None
        if reason is None and isinstance(result, dict) and result.get("status") == "ok":
            return {"index": index, "status": "ok", "reason": None, "result": None}
        if reason is not None or not isinstance(result, dict):
            # nothing of the failing line is known: a cell with hidden tests says nothing
            hidden = hidden_cell
            ename, evalue, trace = LIMIT_ERRORS.get(reason, "error"), "", []
        else:
            hidden = bool(result.get("hidden"))
            ename = result.get("ename") if isinstance(result.get("ename"), str) else "error"
            evalue = result.get("evalue") if isinstance(result.get("evalue"), str) else ""
            trace = result.get("traceback") if isinstance(result.get("traceback"), list) else []
        if hidden:
            ename = (
                ename if ename in self.error_names or ename in LIMIT_ERRORS.values() else "error"
            )
            evalue, trace = "", []
        return {
            "index": index,
            "status": "error",
            "reason": reason if reason in LEARNER_REASONS or reason == "learner_exit" else None,
            "ename": cap(ename or "error", 200),
            "evalue": cap(evalue, MAX_TEXT),
            "traceback": [cap(str(line), MAX_LINE_CHARS) for line in trace[:MAX_TRACEBACK_LINES]],
            "hidden_failure": hidden,
            "result": None,
        }

    @staticmethod
    def segments(cell):
        """The test cell cut at its hidden regions (their marker lines kept: comments)."""
        lines = cell["source"].split("\n")
        hidden = [tuple(r) for r in cell.get("hidden_lines", [])]
        segments, current, current_hidden = [], [], None
        for number, line in enumerate(lines, start=1):
            is_hidden = any(first <= number <= last for first, last in hidden)
            if current and is_hidden != current_hidden:
                segments.append({"source": "\n".join(current), "hidden": current_hidden})
                current = []
            current.append(line)
            current_hidden = is_hidden
        if current:
            segments.append({"source": "\n".join(current), "hidden": bool(current_hidden)})
        return segments


def _text(e) -> str:
    try:
        return str(e)
    except BaseException:
        return ""


def main(job, sock, result_fd):
    runner = ForeignRunner if job.get("language") else TrustedRunner
    runner(job, sock, result_fd).run()
