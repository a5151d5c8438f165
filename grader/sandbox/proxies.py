"""The trusted process's side of the wire: references to the learner's objects.

Standard library only. A :class:`Remote` stands for an object living in the learner's
process (a function, a class, an instance, a generator...). Using it sends a request;
what comes back is decoded into trusted plain data or another reference. The trusted
process never runs the learner's code, and the learner's code never sees a value of
the test unless the test hands it over (as an argument):

- comparisons and arithmetic between a reference and a value of the test are refused
  (``==`` falls back to identity, ``<`` and ``+`` raise TypeError): the learner's method
  would see the value the test expects and could answer "equal" to anything;
  between two references they are the learner's to answer;
- ``x in ref`` iterates ``ref`` and compares in the trusted process;
- ``hash(ref)`` is the reference's identity; ``ref.__dunder__`` attributes other than
  a few names are refused (``__array_interface__`` would hand trusted code a pointer).
"""

from __future__ import annotations

import builtins
import importlib
import operator
import re
import socket
import time

try:
    from . import wire
    from .cells import CellTimeout, OutputLimitExceeded
except ImportError:  # inside a sandbox, the sandbox's modules are top-level
    import wire
    from cells import CellTimeout, OutputLimitExceeded

# seconds a silent learner's process gets past a deadline to report its own timeout
GRACE = 1.0
PUBLIC_DUNDERS = {"__name__", "__qualname__", "__doc__", "__module__", "__wrapped__"}
_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
# what the learner's code may not raise into a test as itself
_NOT_FROM_LEARNER = (SystemExit, KeyboardInterrupt, GeneratorExit, StopAsyncIteration)


#: what the learner's code may do with an object a test handed it (its own methods run,
#: here); anything else raises KeyError, which the learner's code sees as an exception
TEST_OBJECT_OPERATIONS = {
    "iter": iter,
    "next": next,
    "len": len,
    "getitem": operator.getitem,
    "setitem": operator.setitem,
    "delitem": operator.delitem,
    "contains": operator.contains,
    "bool": bool,
    "repr": repr,
    "str": str,
    "hash": hash,
    "eq": operator.eq,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


class LearnerLost(BaseException):
    """The learner's process can no longer answer: ``reason`` is why (a limit's name)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class LearnerLimit(BaseException):
    """The learner's code hit a limit (memory, processes, output) while a test called it."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class Channel:
    """Requests to the learner's process, and answers to its callbacks."""

    def __init__(self, sock):
        self.sock = sock
        self.proxies: dict[int, Remote] = {}
        self.exception_classes: dict[int, type] = {}
        self.exported: dict[int, object] = {}
        self.exported_ids: dict[int, int] = {}
        self.raised: dict[str, BaseException] = {}
        self.lost: str | None = None
        self.deadline = time.monotonic() + 10
        self.waiting = False
        self.output_exceeded = False
        self.decoder = wire.Decoder(self._decode_tag)

    # -- requests --------------------------------------------------------------------

    def request(self, message, allow_stop=False):
        """Send ``message``; the learner's answer as trusted data (or raise its error)."""
        if self.lost:
            raise LearnerLost(self.lost)
        message["deadline"] = max(self.deadline - time.monotonic(), 0.01)
        try:
            wire.send(self.sock, message)
            while True:
                if time.monotonic() > self.deadline + GRACE:
                    # e.g. answering each request with a callback of its own, forever
                    self.lose("time_limit")
                reply = self._receive()
                if "op" in reply:
                    wire.send(self.sock, self._answer(reply))
                    continue
                if "ok" in reply:
                    result = self.decode(reply["ok"])
                elif "done" in reply:
                    result = reply["done"]
                elif "raise" in reply and isinstance(reply["raise"], dict):
                    raise self.exception_from(reply["raise"], allow_stop)
                else:
                    raise wire.ProtocolError("unexpected reply")
                if self.output_exceeded:
                    raise OutputLimitExceeded("output limit exceeded")
                return result
        except wire.ChannelClosed:
            self.lose("learner_exit")
        except (wire.ProtocolError, OSError):
            self.lose("learner_exit")

    def lose(self, reason):
        self.lost = reason
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        raise LearnerLost(reason)

    def _receive(self):
        remaining = self.deadline - time.monotonic()
        self.sock.settimeout(max(remaining, 0) + GRACE)
        self.waiting = True
        try:
            reply = wire.receive(self.sock)
        except TimeoutError:
            self.lose("time_limit")
        finally:
            self.waiting = False
        if not isinstance(reply, dict):
            raise wire.ProtocolError("a reply is not an object")
        self._relay_output(reply)
        return reply

    def _relay_output(self, reply):
        """What the learner's code printed goes into the current cell's output."""
        import sys

        for key, stream in (("out", sys.stdout), ("err", sys.stderr)):
            text = reply.get(key)
            if isinstance(text, str) and text:
                try:
                    stream.write(text)
                except OutputLimitExceeded:
                    self.output_exceeded = True

    def _answer(self, request):
        """Run one of the test's callbacks for the learner's code."""
        try:
            target = self.exported[int(request["x"])]
            op = request["op"]
            if op == "xcall":
                args = self.decode(request.get("args", ["l", []]))
                kwargs = self.decode(request.get("kwargs", ["d", []]))
                if type(args) is not list or type(kwargs) is not dict:
                    raise TypeError("bad call")
                value = target(*args, **{str(k): v for k, v in kwargs.items()})
            elif op == "xop":
                operation = TEST_OBJECT_OPERATIONS[wire.name(request["name"])]
                args = self.decode(request.get("args", ["l", []]))
                value = operation(target, *(args if type(args) is list else ()))
            elif op == "xgetattr":
                name = wire.name(request["name"])
                if name.startswith("_") or _is_code_like(target):
                    raise AttributeError(name)
                value = getattr(target, name)
            else:
                raise wire.ProtocolError("unknown callback request")
            return {"ok": self.encode(value)}
        except wire.ProtocolError:
            raise
        except BaseException as e:  # the test's code raised: the learner sees only a type
            return self._raise_to_learner(e)

    def _raise_to_learner(self, e):
        token = f"t{len(self.raised) + 1}"
        self.raised[token] = e
        cls = type(e)
        name = cls.__name__ if getattr(builtins, cls.__name__, None) is cls else "Exception"
        return {"raise": {"name": name, "token": token}}

    # -- values ------------------------------------------------------------------------

    def decode(self, data):
        return self.decoder.decode(data)

    def encode(self, value):
        import sys

        return wire.encode_plain(value, self._export, numpy=sys.modules.get("numpy"))

    def _export(self, value):
        if isinstance(value, Remote):
            return ["r", value._ch_id]
        remote_id = getattr(value, "_coursehub_remote", None) if isinstance(value, type) else None
        if remote_id is not None:
            return ["r", remote_id]
        xid = self.exported_ids.get(id(value))
        if xid is None or self.exported.get(xid) is not value:
            xid = len(self.exported) + 1
            self.exported[xid] = value
            self.exported_ids[id(value)] = xid
        return ["x", xid, "c" if callable(value) else ""]

    def _decode_tag(self, tag, item):
        if tag == "r":
            rid = int(item[1])
            if rid not in self.proxies:
                self.proxies[rid] = Remote(self, rid, wire.name(item[2]), wire.name(item[3]))
            return self.proxies[rid]
        if tag in ("E", "B"):
            return self.exception_class(item)
        if tag == "g":
            found = _import_attribute(wire.name(item[1]), wire.name(item[2]))
            return found if found is not None else self._decode_tag("r", ["r", item[3], "", "c"])
        if tag == "m":
            found = _import_attribute(wire.name(item[1]), "")
            return found if found is not None else self._decode_tag("r", ["r", item[2], "", ""])
        if tag == "x":
            xid = int(item[1])
            if xid not in self.exported:
                raise wire.ProtocolError("unknown reference to a test object")
            return self.exported[xid]
        raise wire.ProtocolError(f"unknown value tag {tag!r}")

    def exception_class(self, description) -> type:
        """A trusted exception class for the learner's: a built-in by name, or a class of
        the trusted process made once per learner class (same name, same bases)."""
        if type(description) is not list or not description:
            return Exception
        if description[0] == "B":
            cls = getattr(builtins, str(description[1]), None)
            if isinstance(cls, type) and issubclass(cls, BaseException):
                return cls
            return Exception
        rid = int(description[1])
        if rid not in self.exception_classes:
            name = str(description[2])
            name = name if _IDENTIFIER.fullmatch(name) else "LearnerError"
            bases = tuple(
                b
                for b in (self.exception_class(d) for d in wire._list(description[3])[:8])
                if not issubclass(b, _NOT_FROM_LEARNER)
            ) or (Exception,)
            try:
                cls = type(name, bases, {"_coursehub_remote": rid, "__module__": "__main__"})
            except TypeError:
                cls = type(name, (Exception,), {"_coursehub_remote": rid, "__module__": "__main__"})
            self.exception_classes[rid] = cls
        return self.exception_classes[rid]

    def exception_from(self, description, allow_stop=False) -> BaseException:
        """The learner's error, rebuilt in the trusted process."""
        token = description.get("token")
        if isinstance(token, str) and token in self.raised:
            return self.raised[token]  # the test's own exception, passed through
        reason = description.get("reason")
        if reason == "time_limit":
            return CellTimeout("ran longer than its time limit")
        if reason in ("memory_limit", "process_limit", "output_limit"):
            return LearnerLimit(reason)
        cls = self.exception_class(description.get("cls"))
        if issubclass(cls, _NOT_FROM_LEARNER) or (cls is StopIteration and not allow_stop):
            error = RuntimeError(f"the learner's code raised {cls.__name__}")
        else:
            try:
                args = self.decode(description.get("args", ["l", []]))
                args = tuple(args) if type(args) is list else ()
            except wire.ProtocolError:
                args = ()
            try:
                error = cls(*args)
            except Exception:
                error = cls.__new__(cls)
                error.args = args
        trace = description.get("tb")
        if isinstance(trace, list):
            error._coursehub_learner_traceback = [str(line)[:2000] for line in trace[:100]]
        return error


def _is_code_like(value) -> bool:
    import types

    return isinstance(
        value,
        type
        | types.ModuleType
        | types.FunctionType
        | types.MethodType
        | types.CodeType
        | types.FrameType
        | types.BuiltinFunctionType,
    )


#: Modules whose objects a learner's name may stand for in the trusted process (the
#: learner's ``np`` or ``isclose`` from a setup cell become the trusted ones). Computation
#: only: the learner's process chooses *which* of them a test then calls, so nothing with
#: effects outside the test (os, sys, subprocess, builtins' exec or open...) is here.
TRUSTED_MODULES = frozenset(
    """array bisect cmath collections copy dataclasses datetime decimal enum fractions
    functools heapq itertools json math numbers operator random re statistics string
    textwrap typing unicodedata numpy pandas scipy sympy""".split()
)
#: the built-ins a learner's name may stand for (``builtins`` is not in TRUSTED_MODULES)
TRUSTED_BUILTINS = frozenset(
    """abs all any ascii bin bool bytearray bytes callable chr complex dict divmod enumerate
    filter float format frozenset hash hex int isinstance issubclass iter len list map max
    min next object oct ord pow range repr reversed round set slice sorted str sum tuple
    type zip""".split()
)


def _import_attribute(module: str, qualname: str):
    """``module.qualname`` imported in the trusted process, or None (not allowed, or not
    importable here: the learner's object stays a reference)."""
    if not _MODULE_NAME.fullmatch(module) or (qualname and not _MODULE_NAME.fullmatch(qualname)):
        return None
    if module == "builtins":
        return getattr(builtins, qualname) if qualname in TRUSTED_BUILTINS else None
    if module.split(".")[0] not in TRUSTED_MODULES or "._" in f".{module}.{qualname}":
        return None
    try:
        target = importlib.import_module(module)
        for part in qualname.split(".") if qualname else ():
            target = getattr(target, part)
        return target
    except Exception:
        return None


def _checked(value, kind, what):
    if type(value) is not kind:
        raise TypeError(f"{what} returned {type(value).__name__}, not {kind.__name__}")
    return value


class Remote:
    """An object of the learner's process, used from a test (see the module's doc)."""

    __slots__ = ("_ch_channel", "_ch_id", "_ch_type", "_ch_flags", "__weakref__")

    def __init__(self, channel, rid, type_name, flags):
        object.__setattr__(self, "_ch_channel", channel)
        object.__setattr__(self, "_ch_id", rid)
        object.__setattr__(self, "_ch_type", type_name)
        object.__setattr__(self, "_ch_flags", flags)

    def _ch_ask(self, op, allow_stop=False, **fields):
        channel = object.__getattribute__(self, "_ch_channel")
        message = {"op": op, "ref": ["r", object.__getattribute__(self, "_ch_id")], **fields}
        return channel.request(message, allow_stop)

    def _ch_unary(self, name, allow_stop=False):
        return self._ch_ask("unary", allow_stop, name=name)

    def _ch_binary(self, name, other):
        return self._ch_ask("binary", name=name, other=["r", other._ch_id])

    # attributes and calls
    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__") and name not in PUBLIC_DUNDERS:
            raise AttributeError(name)
        return self._ch_ask("getattr", name=name)

    def __setattr__(self, name, value):
        self._ch_ask("setattr", name=name, value=self._ch_channel.encode(value))

    def __delattr__(self, name):
        self._ch_ask("delattr", name=name)

    def __call__(self, *args, **kwargs):
        channel = self._ch_channel
        reply = self._ch_ask("call", args=channel.encode(list(args)), kwargs=channel.encode(kwargs))
        if type(reply) is not tuple or len(reply) not in (1, 2):
            raise wire.ProtocolError("malformed call result")
        if len(reply) == 2 and type(reply[1]) is dict:
            for key, after in reply[1].items():
                original = kwargs.get(key) if not str(key).isdigit() else None
                if str(key).isdigit() and int(key) < len(args):
                    original = args[int(key)]
                _write_back(original, after)
        return reply[0]

    def __getitem__(self, key):
        return self._ch_ask("getitem", key=self._ch_channel.encode(key))

    def __setitem__(self, key, value):
        channel = self._ch_channel
        self._ch_ask("setitem", key=channel.encode(key), value=channel.encode(value))

    def __delitem__(self, key):
        self._ch_ask("delitem", key=self._ch_channel.encode(key))

    # conversions and protocols: nothing of the test goes to the learner
    def __len__(self):
        n = _checked(self._ch_unary("len"), int, "len()")
        if n < 0:
            raise ValueError("len() should return >= 0")
        return n

    def __iter__(self):
        iterator = self._ch_unary("iter")
        return iterator if isinstance(iterator, Remote) else iter(iterator)

    def __next__(self):
        return self._ch_unary("next", allow_stop=True)

    def __reversed__(self):
        return self._ch_unary("reversed")

    def __contains__(self, item):
        return any(x is item or x == item for x in self)

    def __bool__(self):
        return _checked(self._ch_unary("bool"), bool, "__bool__")

    def __repr__(self):
        return _checked(self._ch_unary("repr"), str, "__repr__")

    def __str__(self):
        return _checked(self._ch_unary("str"), str, "__str__")

    def __format__(self, spec):
        if not spec:
            return str(self)
        return _checked(self._ch_ask("binary", name="format", other=spec), str, "__format__")

    def __int__(self):
        return _checked(self._ch_unary("int"), int, "__int__")

    def __index__(self):
        return _checked(self._ch_unary("index"), int, "__index__")

    def __float__(self):
        return _checked(self._ch_unary("float"), float, "__float__")

    def __complex__(self):
        return _checked(self._ch_unary("complex"), complex, "__complex__")

    def __neg__(self):
        return self._ch_unary("neg")

    def __pos__(self):
        return self._ch_unary("pos")

    def __abs__(self):
        return self._ch_unary("abs")

    def __invert__(self):
        return self._ch_unary("invert")

    def __enter__(self):
        return self._ch_unary("enter")

    def __exit__(self, *exc):
        self._ch_unary("exit")
        return False

    def __hash__(self):
        return hash((Remote, self._ch_id))

    def __instancecheck__(self, value):
        if isinstance(value, Remote):
            return _checked(
                self._ch_ask("isinstance", value=["r", value._ch_id]), bool, "isinstance"
            )
        return False

    def __subclasscheck__(self, cls):
        if isinstance(cls, Remote):
            return _checked(self._ch_ask("issubclass", value=["r", cls._ch_id]), bool, "issubclass")
        return False


def _between_references(name, reflected=False):
    def method(self, other):
        if not isinstance(other, Remote):
            return NotImplemented
        return self._ch_binary(name, other) if not reflected else other._ch_binary(name, self)

    method.__name__ = f"__{'r' if reflected else ''}{name}__"
    return method


def _comparison(name):
    def method(self, other):
        if not isinstance(other, Remote):
            return NotImplemented
        return _checked(self._ch_binary(name, other), bool, f"__{name}__")

    method.__name__ = f"__{name}__"
    return method


for _name in ("eq", "ne", "lt", "le", "gt", "ge"):
    setattr(Remote, f"__{_name}__", _comparison(_name))
for _name in (
    "add",
    "sub",
    "mul",
    "matmul",
    "truediv",
    "floordiv",
    "mod",
    "pow",
    "and",
    "or",
    "xor",
    "lshift",
    "rshift",
):
    setattr(Remote, f"__{_name}__", _between_references(_name))
    setattr(Remote, f"__r{_name}__", _between_references(_name, reflected=True))


def _write_back(original, after):
    """Make the test's container hold what the learner's code left in its copy."""
    if type(original) is not type(after) or original == after:
        return
    if type(original) is list:
        original[:] = after
    elif type(original) in (dict, set):
        original.clear()
        original.update(after)
