"use strict";
// The learner driver of the JavaScript pair: runs the learner's cells in this process,
// one after the other like a kernel, and answers the trusted driver's questions about
// the learner's names (see trusted.js for the vocabulary and the value encoding).
//
// Everything here is untrusted: the learner's code runs in this very process and may
// change anything in it, write to any descriptor or exit. What this process sends is
// only ever decoded as plain data by trusted.js, so a learner who breaks this file
// breaks nothing but their own answers. The built-ins it uses are taken before any
// learner code runs, so an honest learner's global names (`var JSON = ...`) break
// nothing either.
//
// Messages: fd 3 in, fd 4 out, one JSON object a line; fds 1 and 2 are the cell's
// output (synchronous pipes in Node.js on Linux: written before any reply).

const {
  Array, BigInt, Buffer, Date, Error, JSON, Map, Number, Object, Reflect, RegExp, Set,
  String, Symbol, SyntaxError, TypeError, RangeError, SharedArrayBuffer, Int32Array, Atomics,
} = globalThis;
const fs = require("fs");
const vm = require("vm");
const { readSync, writeSync } = fs;
const { runInThisContext } = vm;
const { apply, construct, get, has, ownKeys, getPrototypeOf, getOwnPropertyDescriptor } = Reflect;
const { isArray } = Array;
const { keys, defineProperty, create } = Object;
const { stringify, parse } = JSON;
const ObjectPrototype = Object.prototype;
const mapSize = getOwnPropertyDescriptor(Map.prototype, "size").get;
const setSize = getOwnPropertyDescriptor(Set.prototype, "size").get;
const mapEntries = Map.prototype.entries;
const setValues = Set.prototype.values;
const mapSet = Map.prototype.set;
const setAdd = Set.prototype.add;
const mapGet = Map.prototype.get;
const dateGetTime = Date.prototype.getTime;
const regexpSource = getOwnPropertyDescriptor(RegExp.prototype, "source").get;
const regexpFlags = getOwnPropertyDescriptor(RegExp.prototype, "flags").get;
const arrayPush = Array.prototype.push;
const stringSlice = String.prototype.slice;
const stringSplit = String.prototype.split;
const isNaN = Number.isNaN;
const call = (fn, self, ...args) => apply(fn, self, args);

const MAX_DEPTH = 100; // levels of nesting in one value
const MAX_NODES = 200000; // arrays, objects, entries and values in one value
const MAX_REPLY = 3 * 1024 * 1024; // characters of one reply (the parent's cap is 4 MiB)
const MAX_HANDLES = 100000; // learner objects the tests may hold at once
const MAX_TEXT = 4000;

// notebook cells as scripts (cells.js, sent beside this driver)
const { cellAsScript } = require("./cells.js");

// -- messages --------------------------------------------------------------------------

let inbox = Buffer.alloc(0);
const nap = new Int32Array(new SharedArrayBuffer(4));

function readMessage() {
  for (;;) {
    const end = inbox.indexOf(10);
    if (end >= 0) {
      const line = inbox.toString("utf8", 0, end);
      inbox = inbox.subarray(end + 1);
      return parse(line);
    }
    const chunk = Buffer.alloc(65536);
    let got;
    try {
      got = readSync(3, chunk, 0, chunk.length, null);
    } catch (e) {
      if (e && e.code === "EAGAIN") {
        Atomics.wait(nap, 0, 0, 5);
        continue;
      }
      throw e;
    }
    if (got === 0) process.exit(0); // the parent is gone
    inbox = Buffer.concat([inbox, chunk.subarray(0, got)]);
  }
}

function send(document) {
  let data = Buffer.from(stringify(document) + "\n", "utf8");
  while (data.length) data = data.subarray(writeSync(4, data));
}

// -- running cells ---------------------------------------------------------------------

function text(value, limit = MAX_TEXT) {
  let s;
  try {
    s = typeof value === "string" ? value : String(value);
  } catch (e) {
    s = "";
  }
  return s.length > limit ? call(stringSlice, s, 0, limit) : s;
}

function errorName(e) {
  try {
    if (e !== null && (typeof e === "object" || typeof e === "function")) {
      const name = get(e, "name");
      if (typeof name === "string" && name) return text(name, 200);
    }
  } catch (err) {
    // a throwing getter: the plain name
  }
  return "Error";
}

function errorMessage(e) {
  try {
    if (e !== null && typeof e === "object") {
      const message = get(e, "message");
      if (message !== undefined) return text(message);
    }
  } catch (err) {
    return "";
  }
  return text(e);
}

// the lines of an error's stack that are the learner's cells (not this driver's)
function learnerStack(e) {
  let stack;
  try {
    stack = e !== null && typeof e === "object" ? get(e, "stack") : undefined;
  } catch (err) {
    return [];
  }
  if (typeof stack !== "string") return [];
  // a syntax error's context (file:line, the line, a caret), then the cells' frames;
  // the "Name: message" line is the outcome's own ename and evalue
  const lines = call(stringSplit, text(stack, 20000), "\n");
  const out = [];
  let context = e instanceof SyntaxError;
  for (const line of lines) {
    const frame = /^\s+at /.test(line);
    if (frame || /^SyntaxError\b/.test(line)) context = false;
    const keep = frame ? line.includes("cell:") : context && line.trim() !== "";
    if (keep && out.length < 60) call(arrayPush, out, text(line, 2000));
  }
  return out;
}

function failure(e) {
  return { status: "error", ename: errorName(e), evalue: errorMessage(e), traceback: learnerStack(e) };
}

function runCell(source) {
  const script = cellAsScript(String(source));
  try {
    runInThisContext(script, { filename: "cell", displayErrors: false });
    return { status: "ok" };
  } catch (e) {
    return failure(e);
  }
}

// -- values out (the encoding is documented in trusted.js) -----------------------------

const handles = []; // ref -> the learner's object or function
const handleOf = new Map(); // the learner's object or function -> ref

function handle(value) {
  let ref = call(mapGet, handleOf, value);
  if (ref === undefined) {
    if (handles.length >= MAX_HANDLES) throw new RangeError("too many objects handed to the tests");
    ref = handles.length;
    call(arrayPush, handles, value);
    call(mapSet, handleOf, value, ref);
  }
  return ref;
}

function brand(getter, value) {
  try {
    call(getter, value);
    return true;
  } catch (e) {
    return false;
  }
}

function className(value) {
  try {
    const proto = getPrototypeOf(value);
    const ctor = proto && get(proto, "constructor");
    const name = ctor && get(ctor, "name");
    return typeof name === "string" ? text(name, 200) : "Object";
  } catch (e) {
    return "Object";
  }
}

// plain data: an object whose prototype is Object.prototype (or null) and whose own
// enumerable properties hold no function; an object with behaviour stays here, asked
function isPlainData(value) {
  const proto = getPrototypeOf(value);
  if (proto !== ObjectPrototype && proto !== null) return false;
  for (const key of keys(value)) {
    if (typeof get(value, key) === "function") return false;
  }
  return true;
}

class Encoder {
  constructor() {
    this.seen = new Map();
    this.nodes = 0;
  }

  encode(value, depth = 0) {
    if (++this.nodes > MAX_NODES) throw new RangeError("the value is too large to send to the tests");
    switch (typeof value) {
      case "string":
      case "boolean":
        return value;
      case "number":
        if (isNaN(value)) return { t: "number", v: "NaN" };
        if (value === Infinity) return { t: "number", v: "Infinity" };
        if (value === -Infinity) return { t: "number", v: "-Infinity" };
        if (value === 0 && 1 / value < 0) return { t: "number", v: "-0" };
        return value;
      case "undefined":
        return { t: "undefined" };
      case "bigint":
        return { t: "bigint", v: String(value) };
      case "symbol":
        return { t: "symbol", v: text(value.description || "", 200) };
      case "function":
        return this.functionOf(value);
    }
    if (value === null) return null;
    if (depth >= MAX_DEPTH) {
      throw new RangeError(`the value is nested deeper than ${MAX_DEPTH} levels`);
    }
    const known = call(mapGet, this.seen, value);
    if (known !== undefined) return { t: "seen", id: known };
    const id = this.seen.size;
    call(mapSet, this.seen, value, id);
    if (isArray(value)) {
      const length = get(value, "length");
      if (length > MAX_NODES) throw new RangeError("the array is too large to send to the tests");
      const items = [];
      for (let i = 0; i < length; i++) call(arrayPush, items, this.encode(get(value, i), depth + 1));
      return { t: "array", id, v: items };
    }
    if (brand(mapSize, value)) {
      const entries = [];
      for (const [k, v] of { [Symbol.iterator]: () => call(mapEntries, value) }) {
        call(arrayPush, entries, [this.encode(k, depth + 1), this.encode(v, depth + 1)]);
      }
      return { t: "map", id, v: entries };
    }
    if (brand(setSize, value)) {
      const items = [];
      for (const v of { [Symbol.iterator]: () => call(setValues, value) }) {
        call(arrayPush, items, this.encode(v, depth + 1));
      }
      return { t: "set", id, v: items };
    }
    if (brand(dateGetTime, value)) {
      const time = call(dateGetTime, value);
      return { t: "date", id, v: isNaN(time) ? null : time };
    }
    if (brand(regexpSource, value)) {
      return { t: "regexp", id, source: call(regexpSource, value), flags: call(regexpFlags, value) };
    }
    if (isPlainData(value)) {
      const entries = [];
      for (const key of keys(value)) {
        call(arrayPush, entries, [key, this.encode(get(value, key), depth + 1)]);
      }
      return { t: "object", id, null: getPrototypeOf(value) === null, v: entries };
    }
    return { t: "remote", ref: handle(value), class: className(value) };
  }

  functionOf(fn) {
    let name = "";
    let length = 0;
    try {
      name = text(get(fn, "name"), 200);
      length = Number(get(fn, "length")) || 0;
    } catch (e) {
      // a function with throwing getters is still a function
    }
    return { t: "function", ref: handle(fn), name, length };
  }
}

function encodeValue(value) {
  return new Encoder().encode(value);
}

// -- values in (arguments the tests pass) ----------------------------------------------

function decodeValue(value, objects = []) {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return value;
  if (typeof value !== "object") throw new TypeError("malformed argument");
  switch (value.t) {
    case "number":
      return Number(value.v);
    case "undefined":
      return undefined;
    case "bigint":
      return BigInt(value.v);
    case "symbol":
      return Symbol(value.v);
    case "seen":
      return objects[value.id];
    case "handle":
      if (!(value.ref >= 0 && value.ref < handles.length)) throw new TypeError("unknown object");
      return handles[value.ref];
    case "array": {
      const out = [];
      objects[value.id] = out;
      for (const item of value.v) call(arrayPush, out, decodeValue(item, objects));
      return out;
    }
    case "object": {
      const out = value.null ? create(null) : {};
      objects[value.id] = out;
      for (const [key, item] of value.v) {
        defineProperty(out, key, {
          value: decodeValue(item, objects), writable: true, enumerable: true, configurable: true,
        });
      }
      return out;
    }
    case "map": {
      const out = new Map();
      objects[value.id] = out;
      for (const [k, v] of value.v) call(mapSet, out, decodeValue(k, objects), decodeValue(v, objects));
      return out;
    }
    case "set": {
      const out = new Set();
      objects[value.id] = out;
      for (const v of value.v) call(setAdd, out, decodeValue(v, objects));
      return out;
    }
    case "date":
      return (objects[value.id] = new Date(value.v === null ? NaN : value.v));
    case "regexp":
      return (objects[value.id] = new RegExp(value.source, value.flags));
  }
  throw new TypeError("malformed argument");
}

// -- questions from the tests ----------------------------------------------------------

const CONTAINERS = new Set(["array", "object", "map", "set"]);
let baseline = null; // the global names this process had before any learner code

function target(ref) {
  if (!(typeof ref === "number" && ref >= 0 && ref < handles.length)) {
    throw new TypeError("the tests asked about an unknown object");
  }
  return handles[ref];
}

const WELL_KNOWN = new Set([
  "iterator", "asyncIterator", "toPrimitive", "toStringTag", "hasInstance", "isConcatSpreadable",
]);

function propertyKey(key) {
  if (typeof key === "string") return key;
  if (key && typeof key.symbol === "string" && WELL_KNOWN.has(key.symbol)) return Symbol[key.symbol];
  throw new TypeError("malformed property key");
}

function learnerNames() {
  const names = [];
  for (const name of ownKeys(globalThis)) {
    if (typeof name === "string" && !baseline.has(name) && names.length < 10000) {
      call(arrayPush, names, name);
    }
  }
  return names;
}

function answer(msg) {
  if (!msg || typeof msg !== "object") throw new TypeError("malformed question");
  if (msg.names) return { names: learnerNames() };
  if (typeof msg.get === "string") {
    if (!getOwnPropertyDescriptor(globalThis, msg.get) || baseline.has(msg.get)) {
      return { missing: true };
    }
    return { value: encodeValue(get(globalThis, msg.get)) };
  }
  if ("call" in msg || "construct" in msg) {
    const fn = target("call" in msg ? msg.call : msg.construct);
    const self = msg.this === undefined || msg.this === null ? undefined : decodeValue(msg.this);
    const args = msg.args.map((a) => decodeValue(a));
    const result = "call" in msg ? apply(fn, self, args) : construct(fn, args);
    // the arguments as the call left them, for a test to see changes made in place
    const after = args.map((arg, i) => (CONTAINERS.has(msg.args[i] && msg.args[i].t) ? encodeValue(arg) : null));
    return { value: encodeValue(result), after };
  }
  if ("getattr" in msg) {
    const obj = target(msg.getattr);
    const key = propertyKey(msg.key);
    if (!has(obj, key)) return { missing: true };
    return { value: encodeValue(get(obj, key)) };
  }
  if ("has" in msg) return { value: has(target(msg.has), propertyKey(msg.key)) };
  if ("keys" in msg) return { keys: keys(target(msg.keys)).map((k) => text(k, 1000)) };
  if ("desc" in msg) {
    const obj = target(msg.desc);
    const desc = getOwnPropertyDescriptor(obj, propertyKey(msg.key));
    if (!desc) return { missing: true };
    return { value: encodeValue(get(obj, propertyKey(msg.key))), enumerable: !!desc.enumerable };
  }
  if ("setattr" in msg) {
    return { value: Reflect.set(target(msg.setattr), propertyKey(msg.key), decodeValue(msg.value)) };
  }
  throw new TypeError("unknown question");
}

function reply(msg) {
  let out;
  try {
    out = answer(msg);
  } catch (e) {
    out = { raise: { name: errorName(e), message: errorMessage(e), stack: learnerStack(e) } };
  }
  let line;
  try {
    line = stringify({ reply: out });
  } catch (e) {
    line = null;
  }
  if (line === null || line === undefined || line.length > MAX_REPLY) {
    out = { raise: { name: "RangeError", message: "the value is too large to send to the tests", stack: [] } };
  }
  return out;
}

// -- the loop --------------------------------------------------------------------------

// what learner code may use that a script does not have: `require` (import statements
// become require calls)
defineProperty(globalThis, "require", { value: require, writable: true, configurable: true });
Error.stackTraceLimit = 50;
baseline = new Set(ownKeys(globalThis));

for (;;) {
  const message = readMessage();
  if (message && message.op === "run") send(runCell(message.source));
  else if (message && message.op === "ask") send({ reply: reply(message.msg) });
  else send({ status: "error", ename: "Error", evalue: "unknown message", traceback: [] });
}
