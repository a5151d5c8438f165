"""The learner's process: runs the learner's cells and answers the trusted test process.

UNTRUSTED once the first cell ran: the learner's code can replace anything in this
process, this module included. Nothing here decides a grade. The trusted process only
ever receives *data* from it (see :mod:`wire`), and this process never receives a test
cell, a hidden test, or anything of the trusted process but the values a test passes to
the learner's code and references to the test's callbacks.

Standard library only. Requests come on a socket, one at a time, each answered once; a
request may be answered with a request of our own (the learner's code calling a test's
callback), answered before the first reply goes out.
"""

from __future__ import annotations

import builtins
import errno
import os
import signal
import sys
import types

try:
    from . import wire
    from .cells import LIMIT_ERRORS, Budget, Capture, CellTimeout, OutputLimitExceeded, cap, execute
    from .foreign import LearnerDrivers
except ImportError:  # inside a sandbox, the sandbox's modules are top-level
    import wire
    from cells import LIMIT_ERRORS, Budget, Capture, CellTimeout, OutputLimitExceeded, cap, execute
    from foreign import LearnerDrivers

MAX_TRACEBACK_LINES = 100
INTERRUPTIONS = ("time_limit", "output_limit")
MAX_LINE_CHARS = 2000
MAX_TEXT = 4000
_RUNNER_FILES = {__file__, wire.__file__, sys.modules[Capture.__module__].__file__}


class TrustedObject:
    """Stands for an object of the test (a callback, a sequence the test hands over): it
    can be called, iterated, indexed, measured and compared, and its public attributes
    read, each answered by the trusted process; nothing else of it is reachable."""

    __slots__ = ("_ch_server", "_ch_id", "_ch_flags")

    def __init__(self, server, xid, flags):
        object.__setattr__(self, "_ch_server", server)
        object.__setattr__(self, "_ch_id", xid)
        object.__setattr__(self, "_ch_flags", flags)

    def _ch_ask(self, op, **fields):
        return self._ch_server.request({"op": op, "x": self._ch_id, **fields})

    def _ch_op(self, name, *args):
        return self._ch_ask("xop", name=name, args=self._ch_server.encode(list(args)))

    def __call__(self, *args, **kwargs):
        server = self._ch_server
        return self._ch_ask("xcall", args=server.encode(list(args)), kwargs=server.encode(kwargs))

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return self._ch_ask("xgetattr", name=name)

    def __iter__(self):
        return self._ch_op("iter")

    def __next__(self):
        return self._ch_op("next")

    def __len__(self):
        return self._ch_op("len")

    def __getitem__(self, key):
        return self._ch_op("getitem", key)

    def __setitem__(self, key, value):
        self._ch_op("setitem", key, value)

    def __delitem__(self, key):
        self._ch_op("delitem", key)

    def __contains__(self, item):
        return self._ch_op("contains", item)

    def __bool__(self):
        return self._ch_op("bool")

    def __repr__(self):
        return self._ch_op("repr")

    def __str__(self):
        return self._ch_op("str")

    def __hash__(self):
        return self._ch_op("hash")

    def __eq__(self, other):
        return self._ch_op("eq", other)

    def __lt__(self, other):
        return self._ch_op("lt", other)

    def __le__(self, other):
        return self._ch_op("le", other)

    def __gt__(self, other):
        return self._ch_op("gt", other)

    def __ge__(self, other):
        return self._ch_op("ge", other)


class LearnerServer:
    """Runs cells in one ``__main__`` namespace and serves the trusted process's requests."""

    def __init__(self, sock, output_limit=65536, own_uid=False):
        self.sock = sock
        self.output_limit = output_limit
        # the process's uid is the learner's alone (or its pid namespace is): after a fork
        # bomb, every other process it can signal is a leftover of the learner's code
        self.own_uid = own_uid
        self.pid = os.getpid()
        main = types.ModuleType("__main__")
        main.__dict__["__builtins__"] = builtins
        sys.modules["__main__"] = main
        self.namespace = main.__dict__
        self.objects = {}  # reference id -> object, kept alive for the run
        self.ids = {}  # id(object) -> reference id
        self.trusted = {}  # trusted reference id -> TrustedObject
        self.depth = 0
        self.timed_out = False
        self.reserve = bytearray(4 << 20)  # freed to report a MemoryError
        self.budget = Budget(output_limit)
        self.stdout = Capture(self.budget, "stdout")
        self.stderr = Capture(self.budget, "stderr")
        self.decoder = wire.Decoder(self._decode_tag)
        self.drivers = None  # the learner driver of a job in another language
        self.python_started = False

    def foreign_drivers(self):
        if self.drivers is None:
            self.drivers = LearnerDrivers(self.output_limit)
        return self.drivers

    # -- values ------------------------------------------------------------------------

    def encode(self, value):
        return wire.encode_plain(value, self._export, numpy=sys.modules.get("numpy"))

    def _export(self, value):
        if isinstance(value, TrustedObject):
            return ["x", value._ch_id]
        kind = type(value)
        if isinstance(value, types.ModuleType):
            return ["m", _safe_str(getattr(value, "__name__", "")), self._ref(value)]
        if isinstance(value, type) and issubclass(value, BaseException):
            return self._exception_class(value)
        if isinstance(
            value, type | types.FunctionType | types.BuiltinFunctionType
        ) and self._is_library_global(value):
            return ["g", value.__module__, value.__qualname__, self._ref(value)]
        flags = ("c" if callable(value) else "") + ("k" if isinstance(value, type) else "")
        return ["r", self._ref(value), _safe_str(getattr(kind, "__name__", "object")), flags]

    def _is_library_global(self, value) -> bool:
        try:
            module, qualname = value.__module__, value.__qualname__
            if not isinstance(module, str) or module == "__main__" or module not in sys.modules:
                return False
            target = sys.modules[module]
            for part in qualname.split("."):
                target = getattr(target, part)
            return target is value
        except Exception:
            return False

    def _exception_class(self, cls):
        if getattr(builtins, cls.__name__, None) is cls:
            return ["B", cls.__name__]
        bases = [self._exception_class(b) for b in cls.__bases__ if issubclass(b, BaseException)]
        return ["E", self._ref(cls), _safe_str(cls.__name__), bases]

    def _ref(self, value) -> int:
        rid = self.ids.get(id(value))
        if rid is None or self.objects.get(rid) is not value:
            rid = len(self.objects) + 1
            self.objects[rid] = value
            self.ids[id(value)] = rid
        return rid

    def _decode_tag(self, tag, item):
        if tag == "r":
            return self.objects[int(item[1])]
        if tag == "x":
            xid = int(item[1])
            if xid not in self.trusted:
                self.trusted[xid] = TrustedObject(self, xid, str(item[2]) if len(item) > 2 else "")
            return self.trusted[xid]
        raise wire.ProtocolError(f"unexpected value tag {tag!r}")

    def decode(self, data):
        return self.decoder.decode(data)

    def encode_exception(self, e):
        """An exception as data: its class (built-in by name, or a reference), its plain
        arguments, its text and the learner's part of its traceback."""
        reason = self.reason_of(e)
        try:
            cls = self._exception_class(type(e))
        except Exception:
            cls = ["B", "Exception"]
        try:
            args = self.encode([a for a in e.args if type(a) in wire.PLAIN_SCALARS])
        except Exception:
            args = ["l", []]
        return {
            "cls": cls,
            "args": args,
            "str": cap(_safe_call(str, e), MAX_TEXT),
            "tb": cell_traceback(e),
            "reason": reason,
            "token": getattr(e, "_coursehub_token", None),
        }

    def reason_of(self, e):
        if self.timed_out or isinstance(e, CellTimeout):
            return "time_limit"
        if isinstance(e, OutputLimitExceeded) or self.budget.exceeded:
            return "output_limit"
        if isinstance(e, MemoryError):
            return "memory_limit"
        if (isinstance(e, OSError) and e.errno == errno.EAGAIN) or (
            isinstance(e, RuntimeError) and "can't start new thread" in _safe_call(str, e)
        ):
            return "process_limit"
        return None

    # -- the channel ---------------------------------------------------------------------

    def send(self, message):
        message["out"] = self.stdout.take()
        message["err"] = self.stderr.take()
        wire.send(self.sock, message)

    def request(self, message):
        """Ask the trusted process (a callback) and wait, serving its requests meanwhile."""
        self.send(message)
        while True:
            incoming = wire.receive(self.sock)
            if "op" in incoming:
                self.send(self.handle(incoming))
                continue
            if "ok" in incoming:
                return self.decode(incoming["ok"])
            raise self.exception_from(incoming.get("raise") or {})

    def exception_from(self, description):
        """The trusted side's exception, as a built-in class with no text (its message may
        quote a hidden test), carrying a token so the trusted side recognises it."""
        name = description.get("name")
        cls = getattr(builtins, name, None) if isinstance(name, str) else None
        if not (isinstance(cls, type) and issubclass(cls, BaseException)):
            cls = Exception
        error = cls.__new__(cls)
        error._coursehub_token = description.get("token")
        return error

    def serve(self):
        """Answer requests until the trusted process closes the channel."""
        while True:
            try:
                message = wire.receive(self.sock)
            except wire.ChannelClosed:
                return
            self.budget.used = 0
            self.budget.exceeded = False
            self.send(self.handle(message))

    # -- requests ------------------------------------------------------------------------

    def handle(self, message):
        op = message.get("op")
        if op == "foreign":
            # another language: its learner driver runs the cells, this process relays
            return {"ok": self.encode(self.foreign_drivers().handle(message))}
        if not self.python_started:
            self.python_started = True
            _keep_address_space_limit()
        top = self.depth == 0
        self.depth += 1
        if top:
            self.timed_out = False
            sys.stdout, sys.stderr = self.stdout, self.stderr
            signal.signal(signal.SIGALRM, self._alarm)
            # keep interrupting if the learner's code swallows the first interruption
            signal.setitimer(signal.ITIMER_REAL, max(float(message.get("deadline", 10)), 0.01), 0.5)
        try:
            if op == "run":
                return {"done": self.run_cell(int(message["index"]), str(message["source"]))}
            return {"ok": self.encode(self.perform(op, message))}
        except BaseException as e:
            if top:
                signal.setitimer(signal.ITIMER_REAL, 0)
            self.reserve = None
            return {"raise": self.encode_exception(e)}
        finally:
            if os.getpid() != self.pid:
                os._exit(0)  # a child the learner's code forked never answers
            self.depth -= 1
            if top:
                signal.setitimer(signal.ITIMER_REAL, 0)
                sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
            if self.reserve is None:
                self.reserve = bytearray(4 << 20)

    def _alarm(self, signum, frame):
        self.timed_out = True
        raise CellTimeout("ran longer than its time limit")

    def perform(self, op, m):
        if op == "get":
            name = str(m["name"])
            if name not in self.namespace:
                raise NameError(f"name {name!r} is not defined")
            return self.namespace[name]
        target = self.decode(m["ref"]) if "ref" in m else None
        if op == "call":
            args = self.decode(m.get("args", ["l", []]))
            kwargs = self.decode(m.get("kwargs", ["d", []]))
            result = target(*args, **kwargs)
            # in-place changes to the test's containers travel back with the result
            after = {str(i): a for i, a in enumerate(args) if type(a) in (list, dict, set)}
            after.update({k: v for k, v in kwargs.items() if type(v) in (list, dict, set)})
            return (result, after) if after else (result,)
        if op == "getattr":
            return getattr(target, str(m["name"]))
        if op == "setattr":
            return setattr(target, str(m["name"]), self.decode(m["value"]))
        if op == "delattr":
            return delattr(target, str(m["name"]))
        if op == "getitem":
            return target[self.decode(m["key"])]
        if op == "setitem":
            target[self.decode(m["key"])] = self.decode(m["value"])
            return None
        if op == "delitem":
            del target[self.decode(m["key"])]
            return None
        if op == "unary":
            return UNARY[str(m["name"])](target)
        if op == "binary":
            return BINARY[str(m["name"])](target, self.decode(m["other"]))
        if op == "isinstance":
            return isinstance(self.decode(m["value"]), target)
        if op == "issubclass":
            return issubclass(self.decode(m["value"]), target)
        raise wire.ProtocolError(f"unknown request {op!r}")

    def run_cell(self, index, source):
        """Run one of the learner's cells like a kernel: the outcome as a dict."""
        outcome = {"index": index, "status": "ok", "reason": None, "result": None}
        try:
            outcome["result"] = execute(
                source, f"<cell {index + 1}>", self.namespace, self.output_limit
            )
            if os.getpid() != self.pid:
                os._exit(0)
        except BaseException as e:  # the learner's code may raise anything
            signal.setitimer(signal.ITIMER_REAL, 0)
            if os.getpid() != self.pid:
                os._exit(1)  # a child the learner's code forked never answers
            self.reserve = None
            reason = self.reason_of(e)
            outcome.update(
                status="error",
                reason=reason,
                # the runner's own interruptions by their names; anything else (a
                # MemoryError, an OSError at the process limit) by the exception's
                ename=cap(
                    LIMIT_ERRORS[reason] if reason in INTERRUPTIONS else type(e).__name__, 200
                ),
                evalue=cap(_safe_call(str, e), MAX_TEXT),
                traceback=cell_traceback(e),
            )
        if outcome["status"] == "ok" and (self.timed_out or self.budget.exceeded):
            # the learner's code caught the interruption; the limit still counts
            reason = "time_limit" if self.timed_out else "output_limit"
            outcome.update(
                status="error", reason=reason, ename=LIMIT_ERRORS[reason], evalue="", traceback=[]
            )
        outcome["stdout"] = self.stdout.take()
        outcome["stderr"] = self.stderr.take()
        if outcome["reason"] == "process_limit" and self.own_uid:
            _kill_leftovers()
        return outcome


UNARY = {
    "len": len,
    "iter": iter,
    "next": next,
    "bool": bool,
    "repr": repr,
    "str": str,
    "int": int,
    "float": float,
    "complex": complex,
    "index": lambda x: x.__index__(),
    "neg": lambda x: -x,
    "pos": lambda x: +x,
    "abs": abs,
    "invert": lambda x: ~x,
    "hash": hash,
    "enter": lambda x: x.__enter__(),
    "exit": lambda x: x.__exit__(None, None, None),
    "reversed": reversed,
}

BINARY = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "matmul": lambda a, b: a @ b,
    "truediv": lambda a, b: a / b,
    "floordiv": lambda a, b: a // b,
    "mod": lambda a, b: a % b,
    "pow": lambda a, b: a**b,
    "and": lambda a, b: a & b,
    "or": lambda a, b: a | b,
    "xor": lambda a, b: a ^ b,
    "lshift": lambda a, b: a << b,
    "rshift": lambda a, b: a >> b,
    "format": format,
}


def _safe_call(fn, value):
    try:
        text = fn(value)
        return text if isinstance(text, str) else "<not a string>"
    except BaseException:
        return "<str() failed>"


def _safe_str(value):
    return cap(value, wire.MAX_NAME) if isinstance(value, str) else "object"


def _keep_address_space_limit():
    """The sandbox may leave a higher hard address-space limit for a V8 runtime's driver
    (see :mod:`foreign`); Python code keeps the soft one, for good, before any runs."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_AS, (soft, soft))


def _kill_leftovers():
    """End every other process of the learner's (kill(-1) spares the caller)."""
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass


def cell_traceback(e):
    """The traceback of ``e`` from the first frame in a cell: the runner is not shown."""
    import traceback  # only when something failed: it costs every sandbox's start-up

    tb = e.__traceback__
    while tb is not None and not tb.tb_frame.f_code.co_filename.startswith("<cell "):
        tb = tb.tb_next
    if isinstance(e, SyntaxError):
        tb = None
    try:
        te = traceback.TracebackException(type(e), e, tb, compact=True)
        te.stack = traceback.StackSummary.from_list(
            [f for f in te.stack if f.filename not in _RUNNER_FILES]
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
    return [cap(line, MAX_LINE_CHARS) for line in out]
