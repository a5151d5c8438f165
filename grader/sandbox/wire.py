"""The wire between the trusted test process and the learner's process: framing and values.

Standard library only: this module runs inside sandboxes, on both sides of the wire.

Messages are length-prefixed JSON (4-byte big-endian length, then ASCII JSON). Values
travel as *plain data* or as *references*:

- ``None``, ``bool``, ``int``, ``float`` and ``str`` are JSON's own; everything else is a
  list whose first item is a tag: ``["I", hex]`` big int, ``["c", re, im]`` complex,
  ``["b", base64]`` bytes, ``["t", [...]]`` tuple, ``["l", [...]]`` list, ``["d",
  [[k, v], ...]]`` dict, ``["s", [...]]`` set, ``["f", [...]]`` frozenset, ``["n", dtype,
  shape, base64]`` a numeric numpy array or scalar; ``["nt", name, fields, [...]]`` a
  namedtuple (remade in the receiving process); any other subclass of a built-in type
  (an IntEnum, a Counter, a ``str`` with its own ``__eq__``) travels as its base value;
- ``["r", id, type name, flags]`` an object living in the learner's process (flags:
  ``c`` callable, ``k`` class); ``["E", id, name, bases]`` a learner-defined exception
  class; ``["g", module, qualname, id]`` a module-level object of an importable module
  (the trusted side imports its own); ``["m", module, id]`` a module;
- ``["x", id, flags]`` an object living in the trusted process (a callback).

:func:`decode` is the trusted side's conversion: whatever the learner's process sends
becomes fresh objects of the trusted process's own built-in types, or a reference; it
never evaluates anything, and caps size and depth.
"""

from __future__ import annotations

import base64
import json
import os
import struct

MAX_MESSAGE = 32 * 1024 * 1024
MAX_DEPTH = 64
MAX_BIG_INT_HEX = 20_000
MAX_NAME = 200
_HEADER = struct.Struct(">I")

PLAIN_SCALARS = (type(None), bool, int, float, str)
PLAIN_BASES = (int, float, complex, str, bytes, list, tuple, dict, set, frozenset)
NUMPY_KINDS = "biufc"


class ProtocolError(Exception):
    """The other side sent something that is not a well-formed message or value."""


class ChannelClosed(ProtocolError):
    """The other side is gone: end of file on the channel."""


# -- framing ----------------------------------------------------------------------------


def send(sock, message) -> None:
    data = json.dumps(message, separators=(",", ":")).encode("ascii")
    if len(data) > MAX_MESSAGE:
        raise ProtocolError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE}")
    sock.sendall(_HEADER.pack(len(data)) + data)


def _read_exactly(sock, n: int) -> bytes:
    chunks = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise ChannelClosed("the channel was closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def receive(sock):
    (size,) = _HEADER.unpack(_read_exactly(sock, _HEADER.size))
    if size > MAX_MESSAGE:
        raise ProtocolError(f"message of {size} bytes exceeds {MAX_MESSAGE}")
    try:
        return json.loads(_read_exactly(sock, size))
    except (ValueError, RecursionError) as e:
        raise ProtocolError(f"malformed message: {type(e).__name__}") from None


def read_exactly_fd(fd: int, n: int) -> bytes:
    """Exactly ``n`` bytes from ``fd``, unbuffered (nothing beyond them is read)."""
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise ChannelClosed("end of input")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


# -- values: plain data both ways -----------------------------------------------------------


def encode_plain(value, encode_other, depth: int = 0, numpy=None):
    """``value`` as wire data; what is not plain goes to ``encode_other(value)``.

    Only the exact built-in types are plain: subclasses (a lying ``int``, a ``list`` with
    its own ``__eq__``) go to ``encode_other`` like any other object, which decides.
    """
    kind = type(value)
    if kind in PLAIN_SCALARS:
        if kind is int and not -(2**63) < value < 2**63:
            return ["I", format(value, "x")]
        return value
    if depth >= MAX_DEPTH:
        return encode_other(value)
    if kind is list or kind is tuple:
        items = [encode_plain(v, encode_other, depth + 1, numpy) for v in value]
        return ["l" if kind is list else "t", items]
    if kind is dict:
        pairs = [
            [
                encode_plain(k, encode_other, depth + 1, numpy),
                encode_plain(v, encode_other, depth + 1, numpy),
            ]
            for k, v in value.items()
        ]
        return ["d", pairs]
    if kind is set or kind is frozenset:
        items = [encode_plain(v, encode_other, depth + 1, numpy) for v in value]
        return ["s" if kind is set else "f", items]
    if kind is complex:
        return ["c", value.real, value.imag]
    if kind is bytes:
        return ["b", base64.b64encode(value).decode("ascii")]
    if isinstance(value, tuple) and isinstance(getattr(kind, "_fields", None), tuple):
        # a namedtuple: plain items, and its class's name and fields to make it again
        items = [encode_plain(v, encode_other, depth + 1, numpy) for v in tuple.__iter__(value)]
        fields = [f for f in kind._fields if type(f) is str]
        return ["nt", str(getattr(kind, "__name__", "namedtuple")), fields, items]
    for base in PLAIN_BASES:
        if isinstance(value, base):
            # a subclass of a built-in type (an IntEnum, a Counter...) travels as its base
            # value: none of its methods comes along
            return encode_plain(_as_base(value, base), encode_other, depth + 1, numpy)
    if numpy is not None and _is_numeric_numpy(value, numpy):
        array = numpy.ascontiguousarray(value)
        data = base64.b64encode(array.tobytes()).decode("ascii")
        return ["n", array.dtype.str, list(array.shape), data]
    return encode_other(value)


def _as_base(value, base):
    if base is str:
        return str.__str__(value)
    if base is dict:
        return dict(dict.items(value))
    if base in (int, float, complex):
        return base(base.__repr__(value)) if base is not int else int.__index__(value)
    return base(value)


def _is_numeric_numpy(value, numpy) -> bool:
    kind = type(value)
    if kind is not numpy.ndarray and not (
        isinstance(value, numpy.generic) and kind is value.dtype.type
    ):
        return False
    return value.dtype.kind in NUMPY_KINDS


class Decoder:
    """Wire data -> trusted objects. ``on_tag(tag, item)`` handles reference tags."""

    def __init__(self, on_tag):
        self.on_tag = on_tag
        self.budget = 0
        self.namedtuples = {}  # (name, fields) -> a namedtuple class of this process

    def decode(self, data):
        self.budget = 2_000_000
        return self._decode(data, 0)

    def _decode(self, data, depth):
        self.budget -= 1
        if self.budget < 0:
            raise ProtocolError("value has too many parts")
        if depth > MAX_DEPTH + 2:
            raise ProtocolError("value is nested too deeply")
        kind = type(data)
        if kind in PLAIN_SCALARS:
            return data
        if kind is not list or not data or type(data[0]) is not str:
            raise ProtocolError("malformed value")
        tag = data[0]
        try:
            if tag in ("l", "t", "s", "f"):
                items = [self._decode(v, depth + 1) for v in _list(data[1])]
                return {"l": list, "t": tuple, "s": set, "f": frozenset}[tag](items)
            if tag == "d":
                result = {}
                for pair in _list(data[1]):
                    key, value = _list(pair)
                    result[self._decode(key, depth + 1)] = self._decode(value, depth + 1)
                return result
            if tag == "I":
                text = _str(data[1], MAX_BIG_INT_HEX)
                return int(text, 16)
            if tag == "c":
                return complex(_number(data[1]), _number(data[2]))
            if tag == "b":
                return base64.b64decode(_str(data[1], MAX_MESSAGE), validate=True)
            if tag == "n":
                return _decode_numpy(data)
            if tag == "nt":
                return self._namedtuple(data, depth)
        except ProtocolError:
            raise
        except (TypeError, ValueError, IndexError, KeyError, OverflowError) as e:
            raise ProtocolError(f"malformed value ({tag}): {type(e).__name__}") from None
        return self.on_tag(tag, data)

    def _namedtuple(self, data, depth):
        import collections

        _, type_name, fields, items = data
        fields = tuple(_str(f) for f in _list(fields)[:255])
        key = (_str(type_name), fields)
        if key not in self.namedtuples:
            try:
                made = collections.namedtuple(key[0], fields)
            except ValueError:
                made = collections.namedtuple("namedtuple", fields, rename=True)
            self.namedtuples[key] = made
        values = [self._decode(v, depth + 1) for v in _list(items)]
        if len(values) != len(fields):
            raise ProtocolError("namedtuple with the wrong number of items")
        return self.namedtuples[key](*values)


def _list(value) -> list:
    if type(value) is not list:
        raise ProtocolError("malformed value: expected a list")
    return value


def _str(value, limit: int = MAX_NAME) -> str:
    if type(value) is not str or len(value) > limit:
        raise ProtocolError("malformed value: expected a short string")
    return value


def _number(value) -> float:
    if type(value) not in (int, float):
        raise ProtocolError("malformed value: expected a number")
    return float(value)


def _decode_numpy(data):
    import numpy

    _, dtype, shape, payload = data
    dtype = numpy.dtype(_str(dtype, 16))
    if dtype.kind not in NUMPY_KINDS or dtype.hasobject:
        raise ProtocolError("numpy value of an unsupported dtype")
    shape = tuple(int(n) for n in _list(shape))
    raw = base64.b64decode(_str(payload, MAX_MESSAGE), validate=True)
    array = numpy.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    return array[()] if shape == () else array


def name(value, limit: int = MAX_NAME) -> str:
    """A name from the other side, checked (for messages only)."""
    return _str(value, limit)
