"""What both sandbox processes need to run a cell: capture of output, limits, compiling.

Standard library only.
"""

from __future__ import annotations

import ast
import io
import linecache


class CellTimeout(BaseException):
    """Raised by the alarm when a cell, or a call from a test, runs past its time."""


class OutputLimitExceeded(BaseException):
    """Raised by a capture stream when a cell printed more than it may."""


#: the error name a cell ended by a limit, or by its process ending, reports (a hidden
#: test's feedback keeps only such a name)
LIMIT_ERRORS = {
    "time_limit": "CellTimeoutError",
    "output_limit": "OutputLimitExceeded",
    "memory_limit": "MemoryError",
    "process_limit": "ProcessLimitExceeded",
    "learner_exit": "LearnerProcessEnded",
}
#: what such a cell's error says
LIMIT_MESSAGES = {
    "time_limit": "your code did not stop at the time limit",
    "output_limit": "your code printed more than the output limit",
    "memory_limit": "your code ran out of memory",
    "process_limit": "your code started more processes than it may",
    "learner_exit": "the process running your code ended",
}


class Budget:
    def __init__(self, limit):
        self.limit = limit
        self.used = 0
        self.exceeded = False


class Capture(io.TextIOBase):
    """A text stream keeping at most ``budget.limit`` bytes across stdout and stderr."""

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

    def take(self):
        text = "".join(self.parts)
        self.parts = []
        return text


def compile_cell(source, filename):
    """The cell's statements, and its last expression apart (its value is the result)."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    tree = ast.parse(source, filename, "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr) and not _silenced(source):
        last = ast.Expression(tree.body.pop().value)
    body = compile(tree, filename, "exec", dont_inherit=True)
    expr = compile(last, filename, "eval", dont_inherit=True) if last else None
    return body, expr


def execute(source, filename, namespace, output_limit):
    """Run a cell in ``namespace`` like a kernel: the ``repr`` of its last expression's
    value (kept as ``_``), or None when there is none or it is None."""
    body, expr = compile_cell(source, filename)
    exec(body, namespace)
    if expr is None:
        return None
    value = eval(expr, namespace)
    if value is None:
        return None
    namespace["_"] = value
    return cap(repr(value), output_limit)


def _silenced(source):
    # IPython: a trailing ';' on the last line hides the result
    lines = [line.split("#", 1)[0].rstrip() for line in source.rstrip().splitlines()]
    return bool(lines) and lines[-1].endswith(";")


def cap(text, limit):
    return text if len(text) <= limit else text[:limit] + "..."
