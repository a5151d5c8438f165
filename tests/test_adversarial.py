"""Hostile answers against the real grading service: grades a learner cannot forge, hidden
tests that stay hidden (issue 7).

Each case is an answer cell a hostile learner could submit: most wrap a wrong answer
(every function returns 0) in an attack on the grader, a few wrap a partly right one. The
service runs in this process (real HubAuth against a stand-in Hub, SQLite) with a real
sandbox: bubblewrap, then Docker where an engine answers. For every case:

1. the score is at most the *honest* score: what the answer would earn if it could neither
   see nor touch the grader (``Case.honest``: 0 for the wrong answer, 6 for the partly
   right one; an object that lies stands for no value at all, except where plain values
   could do what it does, e.g. a truth value that flips as a call counter's would);
2. nothing a learner can read (the submission, their submission list, progress,
   leaderboard, own and public profile, the question) holds a hidden test's expected
   values, assertion messages or source. A hidden test's *arguments* reach the learner's
   code when the test calls it, so they may come back through the learner's own output in
   a later visible test, but never in the hidden test's own feedback, which holds an
   outcome and an error type from the grader's fixed list only;
3. nothing the sandbox is meant to prevent happened: an attack that gets out (a network
   connection, a user namespace, ptrace, the grader's files, a resource limit that did not
   hold) says so with ``ESCAPED:`` in its visible output, which must never be seen;
4. the same learner's next honest (correct) submission gets full marks, and GET health
   answers 200.

The question (``adversarial_question``) has one visible test per kind of check a test
can make (``==``, ``math.isclose``, ``len``/``sum``, dict and str equality, ``isinstance``,
indexing, truth) so each attack has something to forge, then two hidden tests whose
arguments, expected values and messages carry markers (``ARG``, ``SECRETS``), then a last
visible test through which an answer shows whatever it found.

All cases of one class are submitted at once, each by a learner of its own, and a
class's honest follow-ups at once after it; the campaign runs once per executor (a
module-scoped fixture) and each test checks one case. Set
``COURSEHUB_ADVERSARIAL_REPORT=<file>`` to get a JSON summary of every case (score,
what leaked, what escaped).
"""

from __future__ import annotations

import asyncio
import builtins
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from textwrap import dedent

import nbformat
import pytest
import pytest_asyncio
from tornado.httpserver import HTTPServer

from grader.executors.base import SandboxUnavailable
from tests.conftest import (
    ACCESS,
    AUTHOR,
    LEARN,
    Client,
    FakeHub,
    answer,
    free_port,
    make_course,
    nbgrader_cell,
    python_notebook,
    service_env,
)

pytestmark = [pytest.mark.adversarial, pytest.mark.asyncio(loop_scope="module")]

REPO = Path(__file__).resolve().parent.parent

# -- the question ------------------------------------------------------------------------

# Markers: the hidden tests' argument (reaches the learner's code), and what must never
# leave the grader: expected values (int and float) and the assertion message.
ARG = "306091215"
SECRETS = ("918273645", "918273646", "HIDDEN_MARK_7f3a")
ESCAPED = "ESCAPED:"
# arguments the visible tests pass: an answer may treat these calls as harmless
VISIBLE_ARGS = "(2, 0.5, 1, 10)"

SOLUTION = """\
def triple(x):
    ### BEGIN SOLUTION
    return 3 * x
    ### END SOLUTION


def triples(xs):
    ### BEGIN SOLUTION
    return [3 * x for x in xs]
    ### END SOLUTION


def table(xs):
    ### BEGIN SOLUTION
    return {x: 3 * x for x in xs}
    ### END SOLUTION


def label(x):
    ### BEGIN SOLUTION
    return f"triple is {3 * x}"
    ### END SOLUTION


def is_triple(a, b):
    ### BEGIN SOLUTION
    return b == 3 * a
    ### END SOLUTION
"""

HIDDEN = f"""\
print("checking hidden cases")
### BEGIN HIDDEN TESTS
assert triple({ARG}) == 918273645, "HIDDEN_MARK_7f3a"
assert triples([{ARG}]) == [918273645], "HIDDEN_MARK_7f3a"
assert table([{ARG}]) == {{{ARG}: 918273645}}, "HIDDEN_MARK_7f3a"
assert label({ARG}) == "triple is 918273645", "HIDDEN_MARK_7f3a"
assert abs(triple({ARG}.5) - 918273646.5) < 1e-6, "HIDDEN_MARK_7f3a"
### END HIDDEN TESTS"""

HIDDEN_MAP = f"""\
### BEGIN HIDDEN TESTS
assert all(map(lambda x: triple(x) == 3 * x, [{ARG}, 7])), "HIDDEN_MARK_7f3a"
### END HIDDEN TESTS"""

# (grade_id, points, source); "hidden" and "hidden_map" are the hidden tests
TESTS = [
    ("visible", 1, 'assert triple(2) == 6, "triple(2) should be 6"'),
    ("close", 1, 'import math\nassert math.isclose(triple(0.5), 1.5), "triple(0.5) is 1.5"'),
    (
        "sizes",
        1,
        't = triples([1, 2])\nassert len(t) == 2 and sum(t) == 9, "triples([1, 2]) is [3, 6]"',
    ),
    ("table", 1, 'assert table([1, 2]) == {1: 3, 2: 6}, "table([1, 2]) is {1: 3, 2: 6}"'),
    ("label", 1, 'assert label(2) == "triple is 6", "label(2) is \'triple is 6\'"'),
    ("types", 1, 'assert isinstance(triple(1), int) and triple(1) == 3, "triple(1) is the int 3"'),
    ("index", 1, 'assert [0, 1, 2, 3, 4, 5, 6][triple(2)] == 6, "triple(2) indexes item 6"'),
    ("truth", 1, 'assert is_triple(2, 6) and not is_triple(2, 7), "is_triple(2, 6) only"'),
    ("hidden", 2, HIDDEN),
    ("hidden_map", 1, HIDDEN_MAP),
    ("after", 1, 'assert triple(10) == 30, "triple(10) should be 30"'),
]
MAX_SCORE = sum(points for _, points, _ in TESTS)
HIDDEN_TESTS = {"hidden", "hidden_map"}


def adversarial_question() -> nbformat.NotebookNode:
    """The question every hostile answer is submitted to (see the module docstring)."""
    nb = python_notebook()
    nb.cells = [
        nbgrader_cell("locked", "Write `triple(x)` and its friends.", "task", cell_type="markdown"),
        nbgrader_cell("solution", SOLUTION, "answer"),
        *(nbgrader_cell("test", source, name, points) for name, points, source in TESTS),
    ]
    return nb


# -- answers -----------------------------------------------------------------------------

CORRECT = """\
def triple(x):
    return 3 * x

def triples(xs):
    return [3 * x for x in xs]

def table(xs):
    return {x: 3 * x for x in xs}

def label(x):
    return f"triple is {3 * x}"

def is_triple(a, b):
    return b == 3 * a
"""

# every function wrong: scores 0
WRONG = """
def triple(x):
    return 0

def triples(xs):
    return [0 for x in xs]

def table(xs):
    return {x: 0 for x in xs}

def label(x):
    return "triple is 0"

def is_triple(a, b):
    return False
"""

# triple right, the others wrong: visible, close, types, index, hidden_map, after
PARTIAL = WRONG.replace("def triple(x):\n    return 0", "def triple(x):\n    return 3 * x")
PARTIAL_SCORE = 6

# Answers that look for secrets keep what they find in `_loot` and show it in the last
# visible test (`triple(10)`): printed, on stderr, as an exception's message and type name.
LOOT = """
import re as _re
import sys as _sys

_loot = []
_BEGIN = "### BEGIN " + "HIDDEN TESTS"
_END = "### END " + "HIDDEN TESTS"


def _keep(*items):
    for item in items:
        text = str(item)
        if text and text not in _loot and len(_loot) < 500:
            _loot.append(text)


def _hidden_parts(text):
    parts, start = [], text.find(_BEGIN)
    while start >= 0:
        end = text.find(_END, start)
        end = end if end > 0 else start + 800
        parts.append(text[start + len(_BEGIN):end].strip())
        start = text.find(_BEGIN, end)
    return [p for p in parts if p]


def _consts(frame):
    return [c for c in frame.f_code.co_consts if type(c) in (int, float, str)]


def _reveal():
    if _loot:
        text = " | ".join(_loot)[-3000:]
        print(text)
        print(text, file=_sys.stderr)
        raise type("L_" + _re.sub(r"\\W", "_", text)[:90], (Exception,), {})(text)


def _on_call(x):
    pass


def _result(x):
    return 0
"""

LEAKY_WRONG = (
    WRONG.replace(
        "def triple(x):\n    return 0",
        "def triple(x):\n    _on_call(x)\n"
        "    if x == 10:\n        _reveal()\n    return _result(x)",
    )
    + "\n"
)


# The attack runs after the answer's functions are defined: an attack that fails halfway
# (it finds nothing to attack) still leaves the answer to be graded.


def wrong(attack: str) -> str:
    """The wrong answer, then ``attack`` in the same answer cell."""
    return WRONG + dedent(attack)


def partial(attack: str) -> str:
    """The partly right answer, then ``attack``."""
    return PARTIAL + dedent(attack)


def leaky(attack: str = "") -> str:
    """The wrong answer that shows what it found, then ``attack``, which may also define
    ``_on_call(x)`` (run on every call of triple) or ``_result(x)`` (what triple returns)."""
    return LOOT + LEAKY_WRONG + dedent(attack)


@dataclass
class Case:
    """One hostile answer (or several probes of one attack) and the score it may get."""

    kind: str  # the class of attack
    name: str
    sources: list  # one answer, or several probes (a str each, or a callable(ctx) -> str)
    honest: float = 0  # what the answer earns if it can neither see nor touch the grader
    doc: str = ""
    # probes whose hidden tests' feedback must be identical (an oracle must learn nothing)
    same_hidden_feedback: bool = False

    @property
    def id(self):
        return f"{self.kind}-{self.name}"


CASES: list[Case] = []


def case(kind, name, *sources, honest=0, doc="", **kw):
    CASES.append(Case(kind, name, list(sources), honest, doc, **kw))


# -- forging through builtins ----------------------------------------------------------

case(
    "builtins",
    "compile-strips-asserts",
    partial("""
    import ast, builtins
    _compile = builtins.compile

    class _NoAsserts(ast.NodeTransformer):
        def visit_Assert(self, node):
            return ast.copy_location(ast.Pass(), node)

    def _fake_compile(source, filename, mode, flags=0, *args, **kwargs):
        if isinstance(source, ast.AST) and not flags & ast.PyCF_ONLY_AST:
            source = ast.fix_missing_locations(_NoAsserts().visit(source))
        return _compile(source, filename, mode, flags, *args, **kwargs)

    builtins.compile = _fake_compile
    """),
    honest=PARTIAL_SCORE,
    doc="builtins.compile replaced: every later cell compiled without its asserts",
)
case(
    "builtins",
    "exec-does-nothing",
    wrong("""
    import builtins
    builtins.exec = lambda *args, **kwargs: None
    """),
    doc="builtins.exec replaced: later cells never run, so never fail",
)
case(
    "builtins",
    "ast-parse-returns-pass",
    wrong("""
    import ast
    _parse = ast.parse
    ast.parse = lambda source, *args, **kwargs: _parse("pass")
    """),
    doc="ast.parse replaced: every later cell parses as `pass`",
)
case(
    "builtins",
    "all-sum-abs-replaced",
    wrong("""
    import builtins
    builtins.all = lambda iterable: True
    builtins.sum = lambda iterable, start=0: 9
    builtins.abs = lambda x: 0
    """),
    doc="builtins.all/sum/abs replaced with liars",
)
case(
    "builtins",
    "print-reads-the-caller",
    leaky("""
    import builtins
    _print = builtins.print

    def _spy_print(*args, **kwargs):
        _keep(*_consts(_sys._getframe(1)))
        return _print(*args, **kwargs)

    builtins.print = _spy_print
    """),
    doc="builtins.print replaced: the hidden test's print hands its frame (constants) over",
)
case(
    "builtins",
    "builtins-dict-swapped",
    wrong("""
    import builtins
    __builtins__ = dict(vars(builtins), all=lambda iterable: True, abs=lambda x: 0)
    """),
    doc="the namespace's __builtins__ replaced by a dict with lying all/abs",
)

# -- the learner's namespace ----------------------------------------------------------

case(
    "namespace",
    "len-sum-all-defined",
    wrong("""
    def len(obj):
        return 2

    def sum(iterable, start=0):
        return 9

    def all(iterable):
        return True
    """),
    doc="len, sum and all defined in the answer cell (tests used to run in its namespace)",
)
case(
    "namespace",
    "map-defined",
    wrong("""
    def map(function, *iterables):
        return []
    """),
    doc="map defined in the answer cell: all(map(...)) sees nothing to check",
)
case(
    "namespace",
    "math-isclose-patched",
    wrong("""
    import math
    math.isclose = lambda *args, **kwargs: True
    """),
    doc="math.isclose replaced in the shared math module",
)
case(
    "namespace",
    "sys-modules-math-replaced",
    wrong("""
    import sys, types
    _fake = types.ModuleType("math")
    _fake.isclose = lambda *args, **kwargs: True
    sys.modules["math"] = _fake
    """),
    doc="sys.modules['math'] replaced: a test's `import math` gets the fake",
)

# -- frames ----------------------------------------------------------------------------

FIND_RUNNER_BY_FRAMES = """
import sys
_frame = sys._getframe()
while _frame is not None and not hasattr(_frame.f_locals.get("self"), "cells"):
    _frame = _frame.f_back
_runner = _frame.f_locals["self"]
"""

case(
    "frames",
    "getframe-rewrites-cells",
    wrong(
        FIND_RUNNER_BY_FRAMES
        + """
for _i, _source in enumerate(_runner.cells):
    if "assert" in _source:
        _runner.cells[_i] = "pass"
"""
    ),
    doc="sys._getframe up to the runner, then its list of cells rewritten",
)
case(
    "frames",
    "f-globals-run-cell-replaced",
    partial("""
    import sys
    _frame = sys._getframe()
    while "Runner" not in _frame.f_back.f_globals:
        _frame = _frame.f_back
    _Runner = _frame.f_back.f_globals["Runner"]

    def _run_cell(self, index, source):
        return {"index": index, "status": "ok", "reason": None, "result": None,
                "stdout": "", "stderr": ""}

    _Runner.run_cell = _run_cell
    """),
    honest=PARTIAL_SCORE,
    doc="f_back.f_globals of the runner: its run_cell replaced",
)
case(
    "frames",
    "emit-rewrites-outcomes",
    wrong(
        FIND_RUNNER_BY_FRAMES
        + """
_emit = _runner.emit

def _forged_emit(document):
    if "index" in document:
        document.update(status="ok", reason=None, ename=None, evalue=None, traceback=[],
                        stderr="")
    return _emit(document)

_runner.emit = _forged_emit
"""
    ),
    doc="the runner's result writer wrapped (reached through frames)",
)

# -- gc --------------------------------------------------------------------------------

case(
    "gc",
    "runner-object-cells",
    wrong("""
    import gc
    for _obj in gc.get_objects():
        try:
            _cells = getattr(_obj, "cells", None) if hasattr(_obj, "result_fd") else None
        except Exception:
            continue
        if isinstance(_cells, list):
            for _i, _source in enumerate(_cells):
                if "assert" in _source:
                    _cells[_i] = "pass"
    """),
    doc="gc.get_objects() finds the runner; its cells rewritten",
)
case(
    "gc",
    "cell-list-rewritten",
    wrong("""
    import gc
    for _obj in gc.get_objects():
        if isinstance(_obj, list) and any(
            isinstance(s, str) and "assert triple(" in s for s in _obj
        ):
            for _i, _source in enumerate(_obj):
                if isinstance(_source, str) and "assert" in _source:
                    _obj[_i] = "pass"
    """),
    doc="gc.get_objects() finds any list holding test sources and empties them",
)
case(
    "gc",
    "result-writer-globals",
    partial("""
    import gc
    for _g in gc.get_objects():
        if isinstance(_g, dict) and "_dumps" in _g and "MAIN_PID" in _g:
            _real_dumps = _g["_dumps"]

            def _forged_dumps(document, _real=_real_dumps):
                if "index" in document:
                    document.update(status="ok", reason=None, ename=None, evalue=None,
                                    traceback=[], stderr="")
                return _real(document)

            _g["_dumps"] = _forged_dumps
    """),
    honest=PARTIAL_SCORE,
    doc="gc finds the runner module's globals; its JSON writer rewrites every outcome",
)

# -- threads ---------------------------------------------------------------------------

case(
    "threads",
    "thread-rewrites-cells",
    wrong("""
    import gc, threading, time

    def _rewrite():
        lists = [o for o in gc.get_objects()
                 if isinstance(o, list) and any(isinstance(s, str) and "assert" in s for s in o)]
        while True:
            for cells in lists:
                for i, source in enumerate(cells):
                    if isinstance(source, str) and "assert" in source:
                        cells[i] = "pass"
            time.sleep(0.001)

    threading.Thread(target=_rewrite, daemon=True).start()
    time.sleep(0.2)
    """),
    doc="a thread keeps rewriting every list of test sources while the tests run",
)
case(
    "threads",
    "thread-current-frames",
    wrong("""
    import sys, threading, time
    _main = threading.get_ident()

    def _take_over():
        while True:
            frame = sys._current_frames().get(_main)
            while frame is not None:
                runner = frame.f_locals.get("self")
                if hasattr(runner, "run_cell") and "run_cell" not in vars(runner):
                    runner.run_cell = lambda index, source: {
                        "index": index, "status": "ok", "reason": None, "result": None,
                        "stdout": "", "stderr": ""}
                frame = frame.f_back
            time.sleep(0.001)

    threading.Thread(target=_take_over, daemon=True).start()
    time.sleep(0.2)
    """),
    doc="another thread reaches the runner through sys._current_frames() and replaces run_cell",
)
case(
    "threads",
    "thread-races-outcomes",
    wrong("""
    import sys, threading, time
    _main = threading.get_ident()
    sys.setswitchinterval(1e-6)  # the main thread gives way as often as it can

    def _race():
        while True:
            frame = sys._current_frames().get(_main)
            while frame is not None:
                outcome = frame.f_locals.get("outcome")
                if isinstance(outcome, dict) and outcome.get("status") == "error":
                    outcome.update(status="ok", reason=None, ename=None, evalue=None,
                                   traceback=[])
                frame = frame.f_back
            time.sleep(0)

    threading.Thread(target=_race, daemon=True).start()
    """),
    doc="a thread keeps turning failed outcomes into passes while the tests run",
)

# -- signals ---------------------------------------------------------------------------

case(
    "signals",
    "alarm-ignored-then-loop",
    wrong("""
    import signal
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    signal.signal = lambda *args, **kwargs: None
    signal.setitimer = lambda *args, **kwargs: (0.0, 0.0)
    signal.alarm = lambda *args: 0
    """)
    + "\ndef triple(x):\n    while True:\n        pass\n",
    doc="SIGALRM ignored and signal.signal disabled, then triple loops forever",
)
case(
    "signals",
    "handlers-raise-everywhere",
    wrong("""
    import signal
    def _raise(signum, frame):
        raise KeyboardInterrupt("interrupted by the learner")
    for _sig in (signal.SIGALRM, signal.SIGVTALRM, signal.SIGPROF, signal.SIGTERM,
                 signal.SIGINT, signal.SIGUSR1):
        signal.signal(_sig, _raise)
    signal.setitimer(signal.ITIMER_PROF, 0.005, 0.005)
    signal.setitimer(signal.ITIMER_VIRTUAL, 0.003, 0.003)
    """),
    doc="signal handlers raising at random points of the runner's own code",
)
case(
    "signals",
    "kill-parent",
    wrong("""
    import os, signal
    for _sig in (signal.SIGTERM, signal.SIGKILL):
        for _pid in {os.getppid(), 1}:
            try:
                os.kill(_pid, _sig)
            except OSError:
                pass
    """),
    doc="os.kill(os.getppid()) and pid 1, SIGTERM then SIGKILL",
)
case(
    "signals",
    "kill-every-process",
    wrong("""
    import os, signal
    for _sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(-1, _sig)
        except OSError:
            pass
    """),
    doc="kill(-1): every process the sandbox's user may signal",
)
case(
    "signals",
    "stop-every-process",
    wrong("""
    import os, signal
    try:
        os.kill(-1, signal.SIGSTOP)
    except OSError:
        pass
    """),
    doc="SIGSTOP to every process the sandbox's user may signal",
)

# -- tracing ---------------------------------------------------------------------------

FORGE_OUTCOME = """
def _forge(outcome):
    if isinstance(outcome, dict) and outcome.get("status") == "error":
        outcome.update(status="ok", reason=None, ename=None, evalue=None, traceback=[],
                       stderr="")
"""

case(
    "tracing",
    "settrace-rewrites-outcomes",
    wrong(
        "import sys\n"
        + FORGE_OUTCOME
        + """
def _local(frame, event, arg):
    if event == "return":
        _forge(arg)
    return _local

def _trace(frame, event, arg):
    return _local if frame.f_code.co_name == "run_cell" else None

sys.settrace(_trace)
"""
    ),
    doc="sys.settrace: each cell's outcome rewritten as the runner returns it",
)
case(
    "tracing",
    "setprofile-rewrites-outcomes",
    wrong(
        "import sys\n"
        + FORGE_OUTCOME
        + """
def _profile(frame, event, arg):
    if event == "return" and frame.f_code.co_name == "run_cell":
        _forge(arg)

sys.setprofile(_profile)
"""
    ),
    doc="sys.setprofile: each cell's outcome rewritten as the runner returns it",
)
case(
    "tracing",
    "threading-settrace-error-reports",
    wrong(
        "import sys, threading\n"
        + FORGE_OUTCOME
        + """
def _local(frame, event, arg):
    if event == "return":
        _forge(arg)
    return _local

def _trace(frame, event, arg):
    return _local if frame.f_code.co_name in ("describe_error", "run_cell") else None

threading.settrace(_trace)
sys.settrace(_trace)
"""
    ),
    doc="threading.settrace and sys.settrace: error reports rewritten in every thread",
)

# -- the result channel ----------------------------------------------------------------

FORGE_RESULTS = """
import gc, json, os
_runner = next(o for o in gc.get_objects()
               if not isinstance(o, type) and hasattr(o, "nonce") and hasattr(o, "cells"))

def _lines(nonce, count):
    docs = [{"index": i, "status": "ok", "reason": None, "result": None, "stdout": "",
             "stderr": "", "nonce": nonce} for i in range(count)]
    docs.append({"done": True, "nonce": nonce})
    return "".join(json.dumps(d) + "\\n" for d in docs).encode()
"""

case(
    "channel",
    "nonce-from-memory-then-exit",
    partial(
        FORGE_RESULTS
        + """
os.write(_runner.result_fd, _lines(_runner.nonce, len(_runner.cells)))
os._exit(0)
"""
    ),
    honest=PARTIAL_SCORE,
    doc="the result channel's nonce and fd read from memory: well-formed lines, os._exit(0)",
)
case(
    "channel",
    "every-fd-known-nonce",
    wrong(
        FORGE_RESULTS
        + """
_data = _lines(_runner.nonce, len(_runner.cells))
for _fd in range(256):
    try:
        os.write(_fd, _data)
    except OSError:
        pass
os._exit(0)
"""
    ),
    doc="well-formed result lines (nonce from memory) on every fd 0..255, then os._exit(0)",
)
case(
    "channel",
    "every-fd-guessed-nonces",
    wrong("""
    import json, os
    _docs = []
    for _nonce in ("", "0" * 32, "f" * 32, None):
        _docs += [{"index": i, "status": "ok", "reason": None, "stdout": "", "stderr": "",
                   "nonce": _nonce} for i in range(12)]
        _docs.append({"done": True, "nonce": _nonce})
    _data = "".join(json.dumps(d) + "\\n" for d in _docs).encode()
    for _fd in range(256):
        try:
            os.write(_fd, _data)
        except OSError:
            pass
    os._exit(0)
    """),
    doc="result lines with guessed nonces on every fd 0..255, then os._exit(0)",
)
case(
    "channel",
    "close-every-fd",
    wrong("""
    import os
    os.closerange(0, 1024)
    """),
    doc="every file descriptor closed, the result channel's included",
)
case(
    "channel",
    "results-on-stdout-stderr",
    wrong("""
    import json, os, sys
    _docs = [{"index": i, "status": "ok", "reason": None, "result": None, "stdout": "",
              "stderr": "", "nonce": ""} for i in range(12)] + [{"done": True, "nonce": ""}]
    _data = "".join(json.dumps(d) + "\\n" for d in _docs)
    print(_data)
    print(_data, file=sys.stderr)
    for _fd in (1, 2):
        os.write(_fd, _data.encode())
    """),
    doc="things that look like result lines on stdout and stderr (print and fds 1, 2)",
)

case(
    "channel",
    "learner-server-hijacked",
    wrong("""
    import gc
    for _cls in [o for o in gc.get_objects() if isinstance(o, type)]:
        if _cls.__name__ == "LearnerServer" and hasattr(_cls, "handle"):
            _real_handle = _cls.handle

            def _handle(self, message, _real=_real_handle):
                op = message.get("op")
                if op == "call" and message.get("args"):  # a bare "done" where a value is due
                    return {"done": ["t", [0, "ok"]]}
                if op == "call":  # a reference to an object of the test never handed over
                    return {"ok": ["x", 1, "c"]}
                if op in ("binary", "unary", "isinstance"):
                    return {"ok": True}
                return _real(self, message)

            _cls.handle = _handle
    """),
    doc="the learner's end of the wire answers out of turn: bare results, unknown references",
)
case(
    "channel",
    "deep-and-huge-values",
    wrong("""
    def triple(x):
        value = 0
        for _ in range(100_000):
            value = [value]
        return value

    def triples(xs):
        return list(range(3_000_000))

    def label(x):
        return "x" * (40 << 20)

    def table(xs):
        top = current = {}
        for i in range(20_000):
            current[i] = current = {}
        return top
    """),
    doc="return values too deep (100,000 levels) and too big (40 MiB, 3 million items) to carry",
)

# -- lying objects ---------------------------------------------------------------------

LIARS = '''
class _Eq:
    """Equal to everything, and everything arithmetic gives itself back."""
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    def __hash__(self):
        return 0
    def __sub__(self, other):
        return self
    __rsub__ = __add__ = __radd__ = __sub__
    def __abs__(self):
        return 0
    def __repr__(self):
        return "3"


class _EqInt(_Eq):
    @property
    def __class__(self):
        return int


class _List(list):
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    def __len__(self):
        return 2
    def __iter__(self):
        return iter([_Eq()])
    __hash__ = None


class _Dict(dict):
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __hash__ = None


class _Str(str):
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __hash__ = str.__hash__


class _Flip:
    """Truthy, then falsy, then truthy..."""
    _state = [False]
    def __bool__(self):
        self._state[0] = not self._state[0]
        return self._state[0]
'''


def lying(functions: str) -> str:
    """The wrong answer, with some of its functions replaced by liars."""
    return WRONG + dedent(LIARS) + dedent(functions)


case(
    "lying",
    "eq-ne-hash",
    lying("""
    def triple(x):
        return _Eq()
    """),
    doc="__eq__ always True, __ne__ always False, __hash__ constant",
)
case(
    "lying",
    "eq-returns-truthy",
    lying("""
    class _Truthy:
        def __bool__(self):
            return True

    class _Liar:
        def __eq__(self, other):
            return _Truthy()
        __hash__ = object.__hash__

    def triple(x):
        return _Liar()
    """),
    doc="__eq__ returns an object whose __bool__ is True",
)
case(
    "lying",
    "every-liar-at-once",
    lying("""
    def triple(x):
        return _EqInt()

    def triples(xs):
        return _List()

    def table(xs):
        return _Dict()

    def label(x):
        return _Str("no")

    def is_triple(a, b):
        return _Flip()
    """),
    # the flip passes `truth` as honestly as plain True-then-False would (see bool-flips)
    honest=1,
    doc="every function a liar (__eq__, __abs__, __len__, __iter__, __class__, __bool__)",
)
case(
    "lying",
    "int-subclass",
    lying("""
    class _Int(int):
        def __eq__(self, other):
            return True
        def __ne__(self, other):
            return False
        __hash__ = int.__hash__

    def triple(x):
        return _Int(0)
    """),
    doc="a subclass of int whose == lies",
)
case(
    "lying",
    "float-subclass-abs",
    lying("""
    class _Float(float):
        def __eq__(self, other):
            return True
        def __ne__(self, other):
            return False
        def __sub__(self, other):
            return self
        def __abs__(self):
            return 0.0
        __hash__ = float.__hash__

    def triple(x):
        return _Float(0)
    """),
    doc="a subclass of float whose ==, - and abs() lie",
)
case(
    "lying",
    "str-subclass",
    lying("""
    def label(x):
        return _Str("no")
    """),
    doc="a subclass of str whose == lies",
)
case(
    "lying",
    "list-subclass-len-iter",
    lying("""
    def triples(xs):
        return _List()
    """),
    doc="a subclass of list whose ==, __len__ and __iter__ lie",
)
case(
    "lying",
    "dict-subclass",
    lying("""
    def table(xs):
        return _Dict()
    """),
    doc="a subclass of dict whose == lies",
)
case(
    "lying",
    "class-spoofed-as-int",
    lying("""
    def triple(x):
        return _EqInt()
    """),
    doc="__class__ spoofed as int (isinstance believes it) and == always True",
)
case(
    "lying",
    "stopiteration-in-map",
    lying("""
    def triple(x):
        if x in (2, 0.5, 1, 10):
            return 0
        raise StopIteration
    """),
    doc="StopIteration raised inside all(map(f, xs)) ends the map early: all([]) is True",
)
case(
    "lying",
    "bool-flips",
    lying("""
    def is_triple(a, b):
        return _Flip()
    """),
    # An answer returning plain True, then False (it counts its calls) passes the visible
    # `truth` test too: a flipping truth value may earn that point, and no more.
    honest=1,
    doc="__bool__ True, then False: `f(a) and not f(b)` passes",
)
case(
    "lying",
    "float-index-read-the-caller",
    lying("""
    import sys

    class _Peek:
        def _caller_number(self):
            consts = sys._getframe(2).f_code.co_consts
            numbers = [c for c in consts if type(c) in (int, float)]
            return numbers[-1] if numbers else 0
        def __float__(self):
            return float(self._caller_number())
        def __index__(self):
            return int(self._caller_number())
        __int__ = __index__

    def triple(x):
        return _Peek()
    """),
    doc="__float__ / __index__ return the calling test's own last constant",
)

# -- leaking hidden tests ----------------------------------------------------------------

SCAN = """
import os


def _scan_bytes(data):
    begin = _BEGIN.encode()
    pos = data.find(begin)
    while pos >= 0 and len(_loot) < 400:
        _keep(*_hidden_parts(data[pos:pos + 1500].decode("utf-8", "replace")))
        pos = data.find(begin, pos + 1)


def _scan_file(path, limit=1 << 20):
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return
    try:
        _scan_bytes(os.read(fd, limit))
    except OSError:
        pass
    finally:
        os.close(fd)


def _scan_mem(pid):
    try:
        with open(f"/proc/{pid}/maps") as f:
            regions = f.read().splitlines()
        mem = open(f"/proc/{pid}/mem", "rb", 0)
    except OSError:
        return
    with mem:
        for line in regions:
            fields = line.split()
            start, end = (int(v, 16) for v in fields[0].split("-"))
            if "r" not in fields[1] or end - start > 64 << 20:
                continue
            try:
                mem.seek(start)
                _scan_bytes(mem.read(end - start))
            except (OSError, OverflowError, ValueError):
                pass


def _scan_process(pid):
    for name in ("cmdline", "environ"):
        _scan_file(f"/proc/{pid}/{name}")
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        fds = []
    for fd in fds:
        _scan_file(f"/proc/{pid}/fd/{fd}")
    _scan_mem(pid)
"""

case(
    "leaks",
    "gc-runner-attributes",
    leaky("""
    import gc
    for _obj in gc.get_objects():
        try:
            _values = list(vars(_obj).values())
        except Exception:
            continue
        for _value in _values:
            if isinstance(_value, (list, tuple)):
                for _item in _value:
                    if isinstance(_item, str):
                        _keep(*_hidden_parts(_item))
    """),
    doc="gc.get_objects(): every object's attributes searched for hidden test sources",
)
case(
    "leaks",
    "gc-strings",
    leaky("""
    import gc
    for _obj in gc.get_objects():
        if isinstance(_obj, (list, tuple, dict)):
            for _item in list(_obj.values() if isinstance(_obj, dict) else _obj):
                if isinstance(_item, str) and _BEGIN in _item:
                    _keep(*_hidden_parts(_item))
    """),
    doc="gc.get_objects(): every string held by a container, searched for hidden tests",
)
case(
    "leaks",
    "linecache",
    leaky("""
    import linecache

    def _on_call(x):
        for _entry in list(linecache.cache.values()):
            if len(_entry) > 2 and isinstance(_entry[2], list):
                _keep(*_hidden_parts("".join(_entry[2])))
    """),
    doc="linecache holds the source of every cell run so far",
)
case(
    "leaks",
    "inspect-stack-consts",
    leaky("""
    import inspect

    def _on_call(x):
        for _info in inspect.stack()[2:4]:
            _keep(*_consts(_info.frame))
            _keep(*(_info.code_context or []))
    """),
    doc="inspect.stack() from code a hidden test calls: the test's constants and source",
)
case(
    "leaks",
    "proc-self",
    leaky(
        SCAN
        + """
_scan_process("self")
"""
    ),
    doc="/proc/self: cmdline, environ, every open fd, the whole memory",
)
case(
    "leaks",
    "proc-other-processes",
    leaky(
        SCAN
        + """
for _pid in os.listdir("/proc"):
    if _pid.isdigit() and int(_pid) != os.getpid():
        _scan_process(_pid)


def _on_call(x):
    if x not in (2, 0.5, 1, 10):
        for pid in os.listdir("/proc"):
            if pid.isdigit() and int(pid) != os.getpid():
                _scan_process(pid)
"""
    ),
    doc="/proc/<every other pid>: cmdline, environ, fds, memory (also while a hidden test runs)",
)
case(
    "leaks",
    "file-system-scan",
    leaky(
        SCAN
        + """
import stat, time
_deadline = time.monotonic() + 1.0
_skip = {"/proc", "/sys", "/usr", "/dev"}
for _root in ("/tmp", "/dev/shm", "/var/tmp", "/run", "/coursehub", "/home", "/root", "/srv",
              "/opt", "/mnt", "/var", "/etc", "/"):
    for _dir, _dirs, _files in os.walk(_root):
        _dirs[:] = [d for d in _dirs if os.path.join(_dir, d) not in _skip]
        if time.monotonic() > _deadline:
            break
        for _name in _files:
            _path = os.path.join(_dir, _name)
            try:
                if stat.S_ISREG(os.lstat(_path).st_mode):
                    _scan_file(_path, 256 << 10)
            except OSError:
                pass
"""
    ),
    doc="the file system (/tmp, /dev/shm, /run, ..., /) searched for the job or a hidden test",
)
case(
    "leaks",
    "error-type-named-after-the-test",
    leaky(f"""
    def _on_call(x):
        if x in {VISIBLE_ARGS}:
            return
        consts = [str(c) for c in _sys._getframe(2).f_code.co_consts if type(c) in (int, str)]
        text = _re.sub(r"\\W", "_", "_".join(consts))
        raise type("E_" + text[:95], (Exception,), {{}})(text)
    """),
    doc="type(secret, (Exception,), {}) raised from code a hidden test calls",
)
case(
    "leaks",
    "exception-carries-frames-and-args",
    leaky(f"""
    import traceback

    def _on_call(x):
        if x in {VISIBLE_ARGS}:
            return
        frame = _sys._getframe(2)
        stack = "".join(traceback.extract_stack().format())
        print("called with", x, _consts(frame), stack)
        print("called with", x, _consts(frame), stack, file=_sys.stderr)
        raise RuntimeError(x, _consts(frame), frame.f_code, stack)
    """),
    doc="an exception (and stdout/stderr) carrying the hidden test's arguments, frame, stack",
)
case(
    "leaks",
    "eq-keeps-the-other-operand",
    leaky("""
    class _Spy:
        def __eq__(self, other):
            _keep(other)
            return False
        __hash__ = object.__hash__

    def _result(x):
        return _Spy()
    """),
    doc="__eq__ keeps what the test compares it with: the hidden expected value",
)
ORACLE = f"""
def _on_call(x):
    if x in {VISIBLE_ARGS}:
        return
    ints = [c for c in _sys._getframe(2).f_code.co_consts if type(c) is int]
    if ints and max(ints) % 2 == PARITY:
        while True:
            pass
"""
case(
    "leaks",
    "timing-oracle-on-expected-value",
    leaky(ORACLE.replace("PARITY", "0")),
    leaky(ORACLE.replace("PARITY", "1")),
    doc="two probes: loop past the time limit iff the hidden expected value is even / odd",
    same_hidden_feedback=True,
)
case(
    "leaks",
    "sleep-per-argument",
    leaky(f"""
    import time

    def _on_call(x):
        if x not in {VISIBLE_ARGS}:
            time.sleep((int(x) % 10) * 0.1)
    """),
    doc="sleeps in proportion to each hidden argument's last digit",
)

# -- resource abuse and escape -----------------------------------------------------------

case(
    "resources",
    "fork-bomb",
    wrong("") + "\nimport os\nwhile True:\n    os.fork()\n",
    doc="os.fork() forever, at the end of the answer cell",
)
case(
    "resources",
    "memory-across-processes",
    leaky("""
    import os, select, time
    _children = []
    for _ in range(6):
        _r, _w = os.pipe()
        _pid = os.fork()
        if _pid == 0:
            try:
                _block = b"x" * (200 << 20)
                os.write(_w, b"1")
                time.sleep(5)
            finally:
                os._exit(0)
        os.close(_w)
        _children.append((_pid, _r))
    _held, _deadline = 0, time.monotonic() + 2.2
    for _pid, _r in _children:
        if select.select([_r], [], [], max(0.0, _deadline - time.monotonic()))[0]:
            _held += os.read(_r, 1) == b"1"
    for _pid, _r in _children:
        try:
            os.kill(_pid, 9)
            os.waitpid(_pid, 0)
        except OSError:
            pass
    if _held * 200 > 1024:
        _keep(f"ESCAPED:memory {_held * 200} MiB held at once by {_held} processes")
    """),
    doc="six processes of 200 MiB each: twice the sandbox's memory limit (512 MiB) in all",
)
case(
    "resources",
    "disk-fill",
    leaky("""
    import os
    _written = {}
    for _dir in ("/tmp", "/dev/shm", "/dev", "/var/tmp", "/run"):
        _total, _n = 0, 0
        _chunk = b"\\0" * (1 << 20)
        try:
            while _total < 160 << 20:
                with open(os.path.join(_dir, f"fill{_n}.bin"), "wb") as _f:
                    for _ in range(15):
                        _f.write(_chunk)
                        _f.flush()
                        _total += len(_chunk)
                _n += 1
        except OSError:
            pass
        _written[_dir] = _total >> 20
    _over = {d: m for d, m in _written.items() if d != "/tmp" and m > 80}
    if _over:
        _keep(f"ESCAPED:disk MiB written {_written}")
    """),
    doc="files written to /tmp, /dev/shm, /dev, /var/tmp, /run until refused (160 MiB each)",
)
case(
    "resources",
    "user-namespace",
    leaky("""
    import ctypes, os
    _libc = ctypes.CDLL(None, use_errno=True)
    for _flags, _what in ((0x10000000, "user"), (0x10000000 | 0x00020000, "user+mount")):
        _pid = os.fork()
        if _pid == 0:
            os._exit(0 if _libc.unshare(_flags) == 0 else 1)
        _, _status = os.waitpid(_pid, 0)
        if os.WIFEXITED(_status) and os.WEXITSTATUS(_status) == 0:
            _keep(f"ESCAPED:unshare({_what} namespace) allowed")
    """),
    doc="unshare(CLONE_NEWUSER) through ctypes, in a child",
)
case(
    "resources",
    "ptrace",
    leaky("""
    import ctypes, os
    _libc = ctypes.CDLL(None, use_errno=True)
    _libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    for _pid in os.listdir("/proc"):
        if _pid.isdigit() and int(_pid) != os.getpid():
            if _libc.ptrace(16, int(_pid), None, None) == 0:  # PTRACE_ATTACH
                try:
                    _cmd = open(f"/proc/{_pid}/cmdline", "rb").read()[:80]
                except OSError:
                    _cmd = b"?"
                _keep(f"ESCAPED:ptrace attached to pid {_pid} {_cmd!r}")
                _libc.ptrace(17, int(_pid), None, None)  # PTRACE_DETACH
    """),
    doc="ptrace(PTRACE_ATTACH) through ctypes on every other process",
)
case(
    "resources",
    "network",
    lambda ctx: leaky(f"""
    import socket
    for _host, _port in (("127.0.0.1", {ctx["grader_port"]}), ("127.0.0.1", {ctx["hub_port"]}),
                         ("172.17.0.1", {ctx["grader_port"]}), ("1.1.1.1", 53),
                         ("10.0.2.2", 80)):
        try:
            with socket.create_connection((_host, _port), timeout=0.3) as _s:
                _keep(f"ESCAPED:network connected to {{_host}}:{{_port}}")
        except OSError:
            pass
    try:
        _u = socket.socket(socket.AF_UNIX)
        _u.connect("/var/run/docker.sock")
        _keep("ESCAPED:network docker.sock")
    except OSError:
        pass
    """),
    doc="connect to the grader's own port, the Hub's, the Docker bridge, the internet, docker.sock",
)
case(
    "resources",
    "grader-files",
    lambda ctx: leaky(f"""
    import os
    for _path in ("/etc/shadow", "/root", "/work", {str(REPO)!r}, {ctx["course_dir"]!r},
                  {ctx["state_dir"]!r}, {ctx["state_dir"] + "/grader.sqlite"!r},
                  "/var/run/docker.sock", "/proc/1/root/etc/shadow"):
        try:
            if os.path.isdir(_path):
                _keep(f"ESCAPED:listed {{_path}}: {{sorted(os.listdir(_path))[:5]}}")
            else:
                with open(_path, "rb") as _f:
                    _keep(f"ESCAPED:read {{_path}}: {{_f.read(40)!r}}")
        except OSError:
            pass
    """),
    doc="the grader's files: /etc/shadow, /root, the repository, course dir, state dir, DB",
)

KINDS = [
    "builtins",
    "namespace",
    "frames",
    "gc",
    "threads",
    "signals",
    "tracing",
    "channel",
    "lying",
    "leaks",
    "resources",
]
assert {c.kind for c in CASES} == set(KINDS)
assert len({c.id for c in CASES}) == len(CASES)

# -- what a learner may read -------------------------------------------------------------

BUILTIN_EXCEPTIONS = {
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
}
# error types the grader itself names (runner limits, cells that never ran)
GRADER_ERROR_TYPES = {
    "CellTimeoutError",
    "OutputLimitExceeded",
    "CellNotRun",
    "LearnerProcessEnded",
}


def foreign_words(message: str) -> list[str]:
    """Words in a hidden test's feedback the grader's fixed vocabulary does not have: any
    name with a capital or a digit that is not a builtin exception or the grader's own."""
    words = re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", message)
    return [
        w
        for w in words
        if not re.fullmatch(r"[a-z]+(_[a-z]+)*", w)
        and w not in BUILTIN_EXCEPTIONS | GRADER_ERROR_TYPES
    ]


@dataclass
class Seen:
    """What one hostile submission got, and what its learner could read afterwards."""

    learner: str
    results: list = field(default_factory=list)  # GET submissions/{id} per probe
    readable: dict = field(default_factory=dict)  # endpoint -> response body
    honest: dict | None = None  # the follow-up correct submission
    health: int | None = None


# -- the campaign: the service, the question, every case submitted -----------------------

EXECUTORS = [
    pytest.param("bubblewrap", id="bubblewrap", marks=pytest.mark.sandbox),
    pytest.param("docker", id="docker", marks=pytest.mark.docker),
]
DOCKER_PREFIX = f"coursehub-test-adv{secrets.token_hex(3)}-"


def _selected_cases(request, executor: str) -> list[Case]:
    """The cases whose tests were collected for this executor (all, unless -k narrowed)."""
    wanted = set()
    for item in request.session.items:
        spec = getattr(item, "callspec", None)
        if item.module.__name__ != __name__ or spec is None:
            continue
        if spec.params.get("campaign") == executor and "case" in spec.params:
            wanted.add(spec.params["case"].id)
    return [c for c in CASES if c.id in wanted]


class Campaign:
    """Submits cases to the running service as learners of their own; keeps what each saw."""

    def __init__(self, base_url, hub, ctx):
        self.base_url = base_url
        self.hub = hub
        self.ctx = ctx
        self.seen: dict[str, Seen] = {}
        self.author = self.client("teacher", (LEARN, AUTHOR))

    def client(self, name, scopes=(LEARN,)):
        return Client(self.base_url, self.hub.add_user(name, (ACCESS, *scopes)))

    async def setup_question(self):
        await make_course(self.author)
        code, module = await self.author.post("modules", {"slug": "adv", "title": "Adversarial"})
        assert code == 201, module
        code, question = await self.author.post(
            "questions",
            {
                "module": "adv",
                "slug": "triple",
                "title": "Triple",
                "notebook": adversarial_question(),
            },
        )
        assert code == 201, question
        self.question = question["id"]
        code, model = await self.author.get(f"questions/{self.question}")
        assert code == 200, model
        self.student = nbformat.from_dict(model["notebook"])

    async def submit(self, client, source) -> int:
        code, data = await client.post(
            "submissions",
            {"question": self.question, "notebook": answer(self.student, source, "answer")},
        )
        assert code == 202, data
        return data["id"]

    async def wait_all(self, ids, timeout=400.0):
        """Poll (as the instructor, one request for all) until every id is graded or error."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        pending = set(ids)
        while pending and loop.time() < deadline:
            code, data = await self.author.get("submissions?user=*&limit=1000")
            assert code == 200, data
            for s in data["submissions"]:
                if s["id"] in pending and s["status"] in ("graded", "error"):
                    pending.discard(s["id"])
            if pending:
                await asyncio.sleep(0.25)
        assert not pending, f"not graded in {timeout:g} s: {sorted(pending)}"

    async def run_kind(self, cases: list[Case]):
        clients, ids = {}, {}
        for c in cases:
            learner = re.sub(r"[^a-z0-9-]", "-", c.id.lower())[:60]
            clients[c.id] = self.client(learner)
            self.seen[c.id] = Seen(learner)
            sources = [s(self.ctx) if callable(s) else s for s in c.sources]
            ids[c.id] = [await self.submit(clients[c.id], s) for s in sources]
        await self.wait_all([i for probe_ids in ids.values() for i in probe_ids])
        for c in cases:
            for i in ids[c.id]:
                code, body = await clients[c.id].get(f"submissions/{i}")
                assert code == 200, body
                self.seen[c.id].results.append(body)
        # the same learners' next, honest submissions
        honest_ids = {c.id: await self.submit(clients[c.id], CORRECT) for c in cases}
        await self.wait_all(list(honest_ids.values()))
        for c in cases:
            seen, client = self.seen[c.id], clients[c.id]
            code, seen.honest = await client.get(f"submissions/{honest_ids[c.id]}")
            for path in (
                "submissions",
                f"submissions?question={self.question}",
                "progress",
                "leaderboard",
                "leaderboard?module=adv",
                "profile",
                f"profiles/{seen.learner}",
                f"questions/{self.question}",
                "questions",
            ):
                code, body = await client.get(path)
                seen.readable[path] = {"status": code, "body": body}
            seen.health = (await client.get("health"))[0]


def _start_service(executor, port, learner_image=None):
    """GraderApp on SQLite with small limits, listening on ``port``, its queue started."""
    from traitlets.config import Config

    from grader.app import GraderApp

    config = Config()
    # small limits keep the campaign short: an honest answer needs a fraction of them
    config.Executor.cell_time_limit = 3.0
    config.Executor.time_limit = 20.0
    config.GradingQueue.workers = 4
    config.GradingQueue.unavailable_backoff = 0.5
    config.GradingQueue.poll_interval = 0.5
    # the campaign submits every case of a kind at once, many from one learner
    config.GradingQueue.max_queued_per_learner = 10_000
    config.GradingQueue.storage_quota = 2**40
    if executor == "docker":
        config.DockerExecutor.image = learner_image
        config.DockerExecutor.name_prefix = DOCKER_PREFIX
    GraderApp.clear_instance()
    app = GraderApp(config=config)
    app.initialize([])
    server = HTTPServer(app.webapp, max_body_size=64 * 2**20)
    server.listen(port, "127.0.0.1")
    app.queue.start()
    return app, server


def _remove_containers():
    from tests.docker_support import docker_client, remove_test_objects

    remove_test_objects(docker_client(), DOCKER_PREFIX)


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=EXECUTORS)
async def campaign(request, tmp_path_factory):
    """The service with one executor; every selected case submitted and graded."""
    from grader.app import GraderApp

    executor = request.param
    learner_image = request.getfixturevalue("learner_image") if executor == "docker" else None
    cases = _selected_cases(request, executor)
    tmp = tmp_path_factory.mktemp(f"adversarial-{executor}")
    hub = FakeHub()
    port = free_port()
    ctx = {
        "grader_port": port,
        "hub_port": hub.port,
        "state_dir": str(tmp / "state"),
        "course_dir": str(REPO / "course_content"),
    }
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("COURSEHUB_COURSE_DIR", raising=False)
        mp.delenv("COURSEHUB_GRADER_DB_URL", raising=False)  # SQLite: the sandbox is the subject
        for key, value in service_env(hub.api_url, port, ctx["state_dir"], executor).items():
            mp.setenv(key, value)
        app, server = _start_service(executor, port, learner_image)
        run = Campaign(f"http://127.0.0.1:{port}/services/grader/api/v1/", hub, ctx)
        try:
            try:
                await app.executor.check()
            except SandboxUnavailable as e:
                pytest.skip(f"no {executor} sandbox here: {e}")
            await run.setup_question()
            for kind in KINDS:
                batch = [c for c in cases if c.kind == kind]
                if batch:
                    await run.run_kind(batch)
            _write_report(run, cases, executor)
            yield run
        finally:
            server.stop()
            await app.close()
            hub.server.stop()
            GraderApp.clear_instance()
            if executor == "docker":
                _remove_containers()


# -- the checks ------------------------------------------------------------------------


def score_of(result: dict) -> float:
    """A submission's score; one that ended in `error` has none and counts as 0."""
    return result["score"] if result["status"] == "graded" else 0


def leaks(seen: Seen) -> list[str]:
    """Every place a learner can read that shows a secret, a hidden test's argument in its
    own feedback, a word outside the grader's vocabulary there, or an escape."""
    found = []
    readable = {f"submission {r['id']}": r for r in seen.results}
    readable["honest submission"] = seen.honest
    readable.update(seen.readable)
    for where, body in readable.items():
        text = json.dumps(body)
        found += [f"{marker!r} in {where}" for marker in (*SECRETS, ESCAPED) if marker in text]
    for result in [*seen.results, seen.honest]:
        for test in result["tests"]:
            if test["name"] in HIDDEN_TESTS:
                text = json.dumps(test)
                if ARG in text:
                    found.append(f"the hidden argument in {test['name']}'s feedback: {text}")
                if not test["hidden"]:
                    found.append(f"{test['name']} not marked hidden")
                if words := foreign_words(test["message"]):
                    found.append(f"learner-chosen words {words} in {test['name']}'s feedback")
    return found


def _write_report(run: Campaign, cases: list[Case], executor: str):
    path = os.environ.get("COURSEHUB_ADVERSARIAL_REPORT")
    if not path:
        return
    report = json.loads(Path(path).read_text()) if Path(path).exists() else {}
    report[executor] = {
        c.id: {
            "honest": c.honest,
            "scores": [r["score"] for r in run.seen[c.id].results],
            "statuses": [r["status"] for r in run.seen[c.id].results],
            "leaks": leaks(run.seen[c.id])[:5],
            "honest_after": run.seen[c.id].honest["score"],
            "health": run.seen[c.id].health,
            "tests": [
                [(t["name"], t["points"], t["message"][:200]) for t in r["tests"]]
                for r in run.seen[c.id].results
            ],
        }
        for c in cases
    }
    Path(path).write_text(json.dumps(report, indent=1))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_hostile_answer(campaign, case):
    """At most the honest score, nothing hidden readable, no escape, the service unharmed."""
    seen = campaign.seen[case.id]
    for result in seen.results:
        assert result["status"] in ("graded", "error"), result
        assert score_of(result) <= case.honest, (
            f"{case.doc}: scored {result['score']} of {result['max_score']}, "
            f"the answer's honest score is {case.honest}: "
            + json.dumps([(t["name"], t["points"], t["message"][:120]) for t in result["tests"]])
        )
    assert leaks(seen) == [], case.doc
    if case.same_hidden_feedback:
        feedback = [
            [(t["name"], t["passed"], t["message"]) for t in r["tests"] if t["hidden"]]
            for r in seen.results
        ]
        assert all(f == feedback[0] for f in feedback), f"{case.doc}: {feedback}"
    honest = seen.honest
    assert (honest["status"], honest["score"]) == ("graded", MAX_SCORE), (
        f"the next honest submission after {case.doc}: "
        + json.dumps([(t["name"], t["message"][:120]) for t in honest["tests"]])
    )
    assert all(t["passed"] for t in honest["tests"])
    assert seen.health == 200


# plain values that do what a flipping truth value does: the bar for the bool-flips case
COUNTING = (
    WRONG
    + """
_calls = []

def is_triple(a, b):
    _calls.append((a, b))
    return len(_calls) % 2 == 1
"""
)


async def test_the_honest_answers_score_as_designed(campaign):
    """The bars are right: correct, partly right and wrong answers with no attack, the
    wrong answer that shows what it finds (finding nothing), the call counter."""
    learner = campaign.client("honest-reference")
    answers = (CORRECT, PARTIAL, WRONG, leaky(), lying(""), COUNTING)
    ids = [await campaign.submit(learner, source) for source in answers]
    await campaign.wait_all(ids)
    scores = [(await learner.get(f"submissions/{i}"))[1]["score"] for i in ids]
    assert scores == [MAX_SCORE, PARTIAL_SCORE, 0, 0, 0, 1]
