"use strict";
// The trusted driver of the JavaScript pair: runs the test cells, in one persistent
// global scope of its own, and never a line of the learner's code (that runs in
// learner.js, in another sandbox). A test reaches the learner's names through getters
// on this process's globalThis, defined before each test cell for the names the learner
// has then; each use asks the learner driver again, so a later learner cell's
// redefinition is seen by later tests. Built-in names (`Object`, `JSON`, `Array`, ...)
// and the names the tests define themselves are never the learner's, and everything
// that comes back is decoded here as plain data: a learner cannot change what
// `assert`, `Object.is`, `===` or a prototype method means in the tests.
//
// Messages: fd 3 in, fd 4 out, one JSON object a line (grader/sandbox/foreign.py).
//   in  {"op": "setup", "source"}            -> out {"done": {"status": ...}}
//   in  {"op": "test", "segments": [...]}    -> out {"done": {..., "hidden": bool}}
//   while a test runs: out {"ask": msg} -> in {"reply": ...} | {"lost": reason}
//
// Questions (msg) and the learner driver's replies:
//   {"names": true}                              -> {"names": [the learner's globals]}
//   {"get": name}                                -> {"value": V} | {"missing": true}
//   {"call": ref, "this": V|null, "args": [V]}   -> {"value": V}
//   {"construct": ref, "args": [V]}              -> {"value": V}
//   {"getattr"|"has"|"desc": ref, "key": K}      -> {"value": V} | {"missing": true}
//   {"keys": ref}                                -> {"keys": [string]}
//   {"setattr": ref, "key": K, "value": V}       -> {"value": bool}
//   any of them may instead reply {"raise": {"name", "message", "stack": [lines]}}
//   K is a string or {"symbol": a well-known symbol's name}
//
// Values V (both ways; objects carry an "id", and {"t": "seen", "id"} is one already
// sent in the same value, so shared and cyclic structures keep their shape):
//   a JSON string, boolean, null or finite number; {"t": "number", "v": "NaN" |
//   "Infinity" | "-Infinity" | "-0"}; {"t": "undefined"}; {"t": "bigint", "v": digits};
//   {"t": "symbol", "v": description} (a new symbol); {"t": "array", "v": [V]};
//   {"t": "object", "null": bool, "v": [[key, V]]} (own enumerable properties, getters
//   evaluated by the learner driver; a "__proto__" key is an ordinary property);
//   {"t": "map", "v": [[V, V]]}; {"t": "set", "v": [V]}; {"t": "date", "v": ms|null};
//   {"t": "regexp", "source", "flags"};
//   {"t": "function", "ref", "name", "length"}: a function here that asks the learner
//     driver to call the learner's function, arguments and result by value;
//   {"t": "remote", "ref", "class"}: an object with behaviour (a class instance, an
//     object holding functions): a Proxy here whose every property read, `in`, key
//     list and method call asks the learner driver;
//   {"t": "handle", "ref"}: (tests to learner only) a learner object the tests got.
// A test cannot hand a function of its own to the learner's code (no callbacks): the
// messages are strictly question and answer.

const fs = require("fs");
const vm = require("vm");

const MAX_DEPTH = 200; // JSON levels in one decoded value (the learner sends <= 100 levels)
const MAX_NODES = 1000000;
const MAX_TEXT = 4000;
const MAX_TRACE = 100;
const STACK_FRAMES = 50;

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
      return JSON.parse(line);
    }
    const chunk = Buffer.alloc(65536);
    let got;
    try {
      got = fs.readSync(3, chunk, 0, chunk.length, null);
    } catch (e) {
      if (e && e.code === "EAGAIN") {
        Atomics.wait(nap, 0, 0, 5);
        continue;
      }
      throw e;
    }
    if (got === 0) process.exit(0);
    inbox = Buffer.concat([inbox, chunk.subarray(0, got)]);
  }
}

function send(document) {
  let data = Buffer.from(JSON.stringify(document) + "\n", "utf8");
  while (data.length) data = data.subarray(fs.writeSync(4, data));
}

// -- reaching the learner --------------------------------------------------------------

class LearnerGone extends Error {
  constructor(reason) {
    super(reason === "time_limit" ? "your code did not stop at the time limit" : `your code's process ended (${reason})`);
    this.name = "LearnerProcessEnded";
  }
}

let lost = null; // why the learner's side is gone during this test cell, if it is

function ask(msg) {
  if (lost) throw new LearnerGone(lost);
  send({ ask: msg });
  const answer = readMessage();
  if (answer && typeof answer.lost === "string") {
    lost = answer.lost;
    throw new LearnerGone(lost);
  }
  const reply = answer && answer.reply;
  if (!reply || typeof reply !== "object" || Array.isArray(reply)) {
    throw new TypeError("the learner's process answered something that is not an answer");
  }
  if (reply.raise !== undefined) throw learnerError(reply.raise);
  return reply;
}

const ERRORS = { Error, TypeError, RangeError, ReferenceError, SyntaxError, EvalError, URIError };

function plainText(value, limit = MAX_TEXT) {
  return typeof value === "string" ? value.slice(0, limit) : "";
}

// an error the learner's code raised, rebuilt here from its name and message only
function learnerError(raised) {
  const name = raised && typeof raised === "object" ? plainText(raised.name, 200) : "";
  const message = raised && typeof raised === "object" ? plainText(raised.message) : "";
  const Kind = Object.hasOwn(ERRORS, name) ? ERRORS[name] : Error;
  const error = new Kind(message);
  if (name && !Object.hasOwn(ERRORS, name)) {
    Object.defineProperty(error, "name", { value: name, writable: true, configurable: true });
  }
  const stack = raised && Array.isArray(raised.stack) ? raised.stack : [];
  learnerTraces.set(error, stack.filter((l) => typeof l === "string").slice(0, 50).map((l) => l.slice(0, 2000)));
  return error;
}
const learnerTraces = new WeakMap();

// -- values from the learner -----------------------------------------------------------

const remotes = new Map(); // ref -> the proxy or function standing for a learner object
const refOf = new WeakMap(); // that proxy or function -> ref

function malformed() {
  return new TypeError("the learner's process sent a malformed value");
}

function isRef(ref) {
  return Number.isSafeInteger(ref) && ref >= 0;
}

class Decoder {
  constructor() {
    this.objects = new Map();
    this.nodes = 0;
  }

  keep(id, value) {
    if (!isRef(id) || this.objects.has(id)) throw malformed();
    this.objects.set(id, value);
    return value;
  }

  decode(value, depth = 0) {
    if (++this.nodes > MAX_NODES || depth > MAX_DEPTH) throw malformed();
    if (value === null || typeof value === "string" || typeof value === "boolean") return value;
    if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
    if (typeof value !== "object" || Array.isArray(value)) throw malformed();
    switch (value.t) {
      case "number":
        if (!["NaN", "Infinity", "-Infinity", "-0"].includes(value.v)) throw malformed();
        return value.v === "-0" ? -0 : Number(value.v);
      case "undefined":
        return undefined;
      case "bigint":
        if (typeof value.v !== "string" || !/^-?\d{1,100000}$/.test(value.v)) throw malformed();
        return BigInt(value.v);
      case "symbol":
        return Symbol(plainText(value.v, 200));
      case "seen":
        if (!this.objects.has(value.id)) throw malformed();
        return this.objects.get(value.id);
      case "array": {
        if (!Array.isArray(value.v)) throw malformed();
        const out = this.keep(value.id, []);
        for (const item of value.v) out.push(this.decode(item, depth + 1));
        return out;
      }
      case "object": {
        if (!Array.isArray(value.v)) throw malformed();
        const out = this.keep(value.id, value.null === true ? Object.create(null) : {});
        for (const entry of value.v) {
          if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== "string") {
            throw malformed();
          }
          // defined, never assigned: a "__proto__" key is an ordinary property
          Object.defineProperty(out, entry[0], {
            value: this.decode(entry[1], depth + 1),
            writable: true,
            enumerable: true,
            configurable: true,
          });
        }
        return out;
      }
      case "map": {
        if (!Array.isArray(value.v)) throw malformed();
        const out = this.keep(value.id, new Map());
        for (const entry of value.v) {
          if (!Array.isArray(entry) || entry.length !== 2) throw malformed();
          out.set(this.decode(entry[0], depth + 1), this.decode(entry[1], depth + 1));
        }
        return out;
      }
      case "set": {
        if (!Array.isArray(value.v)) throw malformed();
        const out = this.keep(value.id, new Set());
        for (const item of value.v) out.add(this.decode(item, depth + 1));
        return out;
      }
      case "date":
        if (value.v !== null && !Number.isFinite(value.v)) throw malformed();
        return this.keep(value.id, new Date(value.v === null ? NaN : value.v));
      case "regexp":
        if (typeof value.source !== "string" || typeof value.flags !== "string") throw malformed();
        try {
          return this.keep(value.id, new RegExp(value.source, value.flags));
        } catch (e) {
          throw malformed();
        }
      case "function":
        if (!isRef(value.ref)) throw malformed();
        return learnerFunction(value.ref, plainText(value.name, 200), value.length);
      case "remote":
        if (!isRef(value.ref)) throw malformed();
        return learnerObject(value.ref, plainText(value.class, 200));
    }
    throw malformed();
  }
}

function fromLearner(value) {
  return new Decoder().decode(value);
}

function learnerFunction(ref, name, length) {
  if (remotes.has(ref)) return remotes.get(ref);
  // a plain function of this process: calling it asks the learner driver
  const fn = function (...args) {
    const wire = args.map((a) => toLearner(a));
    let reply;
    if (new.target) {
      reply = ask({ construct: ref, args: wire });
    } else {
      const self = this === undefined || this === globalThis ? null : toLearner(this);
      reply = ask({ call: ref, this: self, args: wire });
    }
    const result = fromLearner(reply.value);
    if (Array.isArray(reply.after)) {
      args.forEach((arg, i) => {
        try {
          refill(arg, reply.after[i]);
        } catch (e) {
          // a frozen or exotic argument keeps what it had
        }
      });
    }
    return result;
  };
  Object.defineProperty(fn, "name", { value: name || "learnerFunction" });
  Object.defineProperty(fn, "length", { value: Number.isSafeInteger(length) && length >= 0 ? length : 0 });
  remotes.set(ref, fn);
  refOf.set(fn, ref);
  return fn;
}

// An array, plain object, Map or Set a test passed is sent by value; what the learner's
// function did to it in place is copied back into the test's own object (as data).
function refill(original, after) {
  if (after === null || after === undefined || original === null || typeof original !== "object") return;
  if (refOf.has(original)) return;
  const copy = fromLearner(after);
  if (Array.isArray(original) && Array.isArray(copy)) {
    original.length = 0;
    original.push(...copy);
  } else if (original instanceof Map && copy instanceof Map) {
    original.clear();
    for (const [k, v] of copy) original.set(k, v);
  } else if (original instanceof Set && copy instanceof Set) {
    original.clear();
    for (const v of copy) original.add(v);
  } else if (
    !Array.isArray(original) && !Array.isArray(copy) && copy !== null && typeof copy === "object" &&
    !(copy instanceof Map) && !(copy instanceof Set) && !(copy instanceof Date) && !(copy instanceof RegExp)
  ) {
    for (const key of Object.keys(original)) delete original[key];
    for (const key of Object.keys(copy)) {
      Object.defineProperty(original, key, { value: copy[key], writable: true, enumerable: true, configurable: true });
    }
  }
}

const WELL_KNOWN = new Map(
  ["iterator", "asyncIterator", "toPrimitive", "toStringTag", "hasInstance", "isConcatSpreadable"].map(
    (name) => [Symbol[name], name]
  )
);

function wireKey(key) {
  if (typeof key === "string") return key;
  return WELL_KNOWN.has(key) ? { symbol: WELL_KNOWN.get(key) } : null;
}

// a stand-in prototype per class name, so that `obj.constructor.name` and inspection
// name the learner's class; it holds nothing of the learner's
const prototypes = new Map();
function prototypeFor(name) {
  if (!prototypes.has(name)) {
    const ctor = { [name]: function () {} }[name];
    prototypes.set(name, ctor.prototype);
  }
  return prototypes.get(name);
}

function learnerObject(ref, className) {
  if (remotes.has(ref)) return remotes.get(ref);
  const proto = className === "Object" ? Object.prototype : prototypeFor(className || "Object");
  const handler = {
    get(target, key) {
      const wire = wireKey(key);
      if (wire === null) return undefined;
      const reply = ask({ getattr: ref, key: wire });
      if (reply.missing) return key === "constructor" ? proto.constructor : undefined;
      return fromLearner(reply.value);
    },
    has(target, key) {
      const wire = wireKey(key);
      return wire !== null && ask({ has: ref, key: wire }).value === true;
    },
    ownKeys() {
      const reply = ask({ keys: ref });
      if (!Array.isArray(reply.keys)) throw malformed();
      return [...new Set(reply.keys.filter((k) => typeof k === "string"))];
    },
    getOwnPropertyDescriptor(target, key) {
      const wire = wireKey(key);
      if (wire === null) return undefined;
      const reply = ask({ desc: ref, key: wire });
      if (reply.missing) return undefined;
      return { value: fromLearner(reply.value), writable: true, enumerable: reply.enumerable === true, configurable: true };
    },
    set(target, key, value) {
      const wire = wireKey(key);
      if (wire === null) return false;
      return ask({ setattr: ref, key: wire, value: toLearner(value) }).value === true;
    },
    defineProperty() {
      return false;
    },
    deleteProperty() {
      return false;
    },
    getPrototypeOf() {
      return proto;
    },
    setPrototypeOf() {
      return false;
    },
  };
  const proxy = new Proxy({}, handler);
  remotes.set(ref, proxy);
  refOf.set(proxy, ref);
  return proxy;
}

// -- values to the learner (arguments) -------------------------------------------------

function toLearner(value, seen = new Map(), depth = 0) {
  if (depth > 100) throw new RangeError("an argument is nested too deeply to send");
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      if (Number.isNaN(value)) return { t: "number", v: "NaN" };
      if (!Number.isFinite(value)) return { t: "number", v: value > 0 ? "Infinity" : "-Infinity" };
      return Object.is(value, -0) ? { t: "number", v: "-0" } : value;
    case "undefined":
      return { t: "undefined" };
    case "bigint":
      return { t: "bigint", v: String(value) };
    case "symbol":
      return { t: "symbol", v: value.description || "" };
    case "function":
      if (refOf.has(value)) return { t: "handle", ref: refOf.get(value) };
      throw new TypeError("a test cannot pass a function of its own to the learner's code");
  }
  if (value === null) return null;
  if (refOf.has(value)) return { t: "handle", ref: refOf.get(value) };
  if (seen.has(value)) return { t: "seen", id: seen.get(value) };
  const id = seen.size;
  seen.set(value, id);
  const next = (v) => toLearner(v, seen, depth + 1);
  if (Array.isArray(value)) return { t: "array", id, v: Array.from(value, next) };
  if (value instanceof Map) return { t: "map", id, v: [...value].map(([k, v]) => [next(k), next(v)]) };
  if (value instanceof Set) return { t: "set", id, v: [...value].map(next) };
  if (value instanceof Date) {
    const time = value.getTime();
    return { t: "date", id, v: Number.isNaN(time) ? null : time };
  }
  if (value instanceof RegExp) return { t: "regexp", id, source: value.source, flags: value.flags };
  return {
    t: "object",
    id,
    null: Object.getPrototypeOf(value) === null,
    v: Object.keys(value).map((key) => [key, next(value[key])]),
  };
}

// -- the learner's names ---------------------------------------------------------------

const builtinNames = new Set(Reflect.ownKeys(globalThis)); // never the learner's
const learnerGetters = new Map(); // name -> the getter this driver defined for it

function defineLearnerName(name) {
  const mine = learnerGetters.get(name);
  const current = Object.getOwnPropertyDescriptor(globalThis, name);
  if (current && (!mine || current.get !== mine)) return; // the tests' own name
  if (current) return; // already defined
  const getter = function () {
    const reply = ask({ get: name });
    if (reply.missing) throw new ReferenceError(`${name} is not defined`);
    return fromLearner(reply.value);
  };
  learnerGetters.set(name, getter);
  Object.defineProperty(globalThis, name, {
    get: getter,
    // a test that assigns or declares the name makes it its own
    set(value) {
      Object.defineProperty(globalThis, name, { value, writable: true, enumerable: true, configurable: true });
    },
    enumerable: false,
    configurable: true,
  });
}

function refreshLearnerNames() {
  const reply = ask({ names: true });
  if (!Array.isArray(reply.names)) throw malformed();
  for (const name of reply.names.slice(0, 10000)) {
    if (typeof name === "string" && !builtinNames.has(name) && /^[\p{L}\p{Nl}_$][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}_$]*$/u.test(name)) {
      defineLearnerName(name);
    }
  }
}

// -- running test cells ----------------------------------------------------------------

let hiddenRan = false; // a hidden segment has run: its functions may be on any stack

function traceOf(error, filename) {
  let stack = "";
  try {
    stack = error && typeof error === "object" && typeof error.stack === "string" ? error.stack : "";
  } catch (e) {
    stack = "";
  }
  // a syntax error's context (file:line, the line, a caret), then the test's frames;
  // the "Name: message" line is the outcome's own ename and evalue
  const lines = stack.split("\n");
  const syntax = error instanceof SyntaxError;
  const named = lines.findIndex((line) => line.startsWith("SyntaxError") || /^\s+at /.test(line));
  const context = syntax && named > 0 ? lines.slice(0, named).filter((line) => line.trim()) : [];
  const frames = lines.filter((line) => /^\s+at /.test(line) && line.includes(filename));
  const out = [...context, ...frames];
  const learner = error && typeof error === "object" ? learnerTraces.get(error) : undefined;
  if (learner && learner.length) out.push("", "In your code:", ...learner);
  return out.slice(0, MAX_TRACE).map((line) => line.slice(0, 2000));
}

function touchesHidden(error) {
  let stack = "";
  try {
    stack = error && typeof error === "object" && typeof error.stack === "string" ? error.stack : "";
  } catch (e) {
    return hiddenRan;
  }
  if (stack.includes("<hidden test")) return true;
  // a stack cut at its limit may have lost a hidden test's frame
  const frames = stack.split("\n").filter((line) => /^\s+at /.test(line)).length;
  return hiddenRan && frames >= STACK_FRAMES;
}

function describe(error) {
  let name = "Error";
  let message = "";
  try {
    if (error instanceof Error || (error && typeof error === "object")) {
      name = typeof error.name === "string" && error.name ? error.name : "Error";
      message = typeof error.message === "string" ? error.message : String(error);
    } else {
      message = String(error);
    }
  } catch (e) {
    message = "";
  }
  return { ename: name.slice(0, 200), evalue: message.slice(0, MAX_TEXT) };
}

function runSource(source, filename) {
  vm.runInThisContext(cellAsScript(source), { filename, displayErrors: false });
}

function runTest(segments) {
  lost = null;
  try {
    refreshLearnerNames();
  } catch (e) {
    return { status: "error", ...describe(e), traceback: [], hidden: segments.some((s) => s.hidden) };
  }
  let hiddenCount = 0;
  for (const segment of segments) {
    const hidden = segment.hidden === true;
    const filename = hidden ? `<hidden test ${++hiddenCount}>` : "<test>";
    if (hidden) hiddenRan = true;
    let failure = null;
    try {
      runSource(String(segment.source), filename);
    } catch (e) {
      failure = e;
    }
    if (failure === null && lost) failure = new LearnerGone(lost); // swallowed by the test
    if (failure !== null) {
      if (hidden || touchesHidden(failure)) return { status: "error", ...describe(failure), traceback: [], hidden: true };
      return { status: "error", ...describe(failure), traceback: traceOf(failure, filename), hidden: false };
    }
  }
  return { status: "ok" };
}

function runSetup(source) {
  try {
    runSource(String(source), "<setup>");
    return { status: "ok" };
  } catch (e) {
    return { status: "error", ...describe(e), traceback: [] };
  }
}

// what test code may use that a script does not have: `require` (import statements
// become require calls)
Object.defineProperty(globalThis, "require", { value: require, writable: true, configurable: true });
builtinNames.add("require");
Error.stackTraceLimit = STACK_FRAMES;

for (;;) {
  const message = readMessage();
  if (message && message.op === "test" && Array.isArray(message.segments)) {
    send({ done: runTest(message.segments) });
  } else if (message && message.op === "setup") {
    send({ done: runSetup(message.source) });
  } else {
    send({ done: { status: "error", ename: "Error", evalue: "unknown message", traceback: [] } });
  }
}
