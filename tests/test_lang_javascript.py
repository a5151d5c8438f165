"""JavaScript questions are graded like Python ones (issue 13).

The driver pair (grader/sandbox/drivers/javascript/) runs through coursehub's own
pipeline, :func:`grader.grading.run.grade`, in a real bubblewrap sandbox (and in Docker,
at the end): the sample questions' reference solutions score full marks and their
wrong answers less; learner code that tries to forge the verdict (objects whose
valueOf/toString/Symbol.toPrimitive/toJSON lie, Proxies, prototype pollution, a patched
`assert`, protocol lines on fds 1-4, an early exit), to read the hidden tests (its own
memory, env, argv, /proc, /tmp) or to abuse resources or escape is contained, with the
feedback shape the Python grader gives.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import nbformat
import pytest
import pytest_asyncio

from grader.executors.bubblewrap import BubblewrapExecutor
from grader.grading.languages import LANGUAGES
from grader.grading.notebooks import read_notebook, test_specs
from grader.grading.run import grade

JS_DIR = Path(__file__).resolve().parents[1] / "course_content" / "python-foundations" / "js-basics"
QUESTIONS = ["sum-of-evens", "word-frequencies", "account-class"]
SECRET = "SECRET-7f3a9"

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed"
)
needs_node = pytest.mark.skipif(
    not Path("/usr/bin/node").exists(), reason="Node.js is not installed (apt-get install nodejs)"
)
pytestmark = [pytest.mark.sandbox, needs_bwrap, needs_node]
in_module_loop = pytest.mark.asyncio(loop_scope="module")

# plausible mistakes, each caught by a test: (question, solution cell id, source)
WRONG = {
    "sum-of-evens": [
        "function sumOfEvens(numbers) {\n  let total = 0;\n  for (const n of numbers) {\n"
        "    if (n % 2 === 1) total += n;\n  }\n  return total;\n}",
        # -3 % 2 is -1 in JavaScript, so odd negatives count as even here
        "function sumOfEvens(numbers) {\n  let total = 0;\n  for (const n of numbers) {\n"
        "    if (n % 2 !== 1) total += n;\n  }\n  return total;\n}",
        # sorts the array it was given
        "function sumOfEvens(numbers) {\n  numbers.sort();\n"
        "  return numbers.filter((n) => n % 2 === 0).reduce((a, b) => a + b, 0);\n}",
    ],
    "word-frequencies": [
        # counts on a plain object: "constructor" and "__proto__" break it
        "function wordFrequencies(text) {\n  const counts = {};\n"
        "  for (const word of text.toLowerCase().split(/\\s+/)) {\n"
        '    if (word === "") continue;\n    counts[word] = (counts[word] || 0) + 1;\n  }\n'
        "  return counts;\n}",
        # splits on single spaces only
        "function wordFrequencies(text) {\n  const counts = {};\n"
        '  for (const word of text.toLowerCase().split(" ")) {\n'
        '    if (word === "") continue;\n'
        "    if (!Object.hasOwn(counts, word)) Object.defineProperty(counts, word,"
        " { value: 0, writable: true, enumerable: true, configurable: true });\n"
        "    counts[word] += 1;\n  }\n  return counts;\n}",
    ],
    "account-class": [
        # never refuses a withdrawal
        "class BankAccount {\n  constructor(opening) { this.balance = opening; }\n"
        "  deposit(amount) { this.balance += amount; return this.balance; }\n"
        "  withdraw(amount) { this.balance -= amount; return this.balance; }\n}",
        # refuses, but with a plain Error, after changing the balance
        "class BankAccount {\n  constructor(opening) { this.balance = opening; }\n"
        "  deposit(amount) {\n    if (amount <= 0) throw new RangeError('no');\n"
        "    this.balance += amount;\n    return this.balance;\n  }\n"
        "  withdraw(amount) {\n    this.balance -= amount;\n"
        "    if (this.balance < 0) throw new Error('overdrawn');\n    return this.balance;\n  }\n}",
    ],
}


def source_notebook(question: str):
    return read_notebook((JS_DIR / f"{question}.ipynb").read_bytes())


def solution_cells(nb):
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]


def with_answer(nb, source: str):
    """``nb`` with its (single) solution cell replaced by ``source``."""
    nb = copy.deepcopy(nb)
    (cell,) = solution_cells(nb)
    cell.source = source
    return nb


# -- a small question for the attacks ----------------------------------------------------


def _meta(grade_id, **kw):
    base = {"grade": False, "solution": False, "locked": False, "grade_id": grade_id}
    base.update(kw, schema_version=3)
    return {"nbgrader": base}


VISIBLE = 'import assert from "node:assert";\nassert.strictEqual(add(1, 2), 3);'
HIDDEN = (
    'import assert from "node:assert";\nassert.strictEqual(add(2, 2), 4);\n'
    "// BEGIN HIDDEN TESTS\n"
    f'assert.strictEqual(add(10, 20), 30, "{SECRET} message");\n'
    f'const hiddenName_{SECRET.replace("-", "_")} = "{SECRET} value";\n'
    "assert.deepStrictEqual([add(0, 0), add(-1, 1)], [0, 0]);\n"
    "// END HIDDEN TESTS"
)


def js_question(answer: str, tests=(VISIBLE, HIDDEN), extra_cells=()):
    """A JavaScript source notebook: one answer cell, then the test cells (1 point
    each); ``extra_cells`` (source, kind) come after, kind "answer" or "test"."""
    cells = [
        nbformat.v4.new_markdown_cell("Write `add(a, b)`.", metadata=_meta("task", locked=True)),
        nbformat.v4.new_code_cell(answer, metadata=_meta("answer", solution=True)),
    ]
    for i, source in enumerate(tests):
        cells.append(
            nbformat.v4.new_code_cell(
                source, metadata=_meta(f"t{i}", grade=True, locked=True, points=1)
            )
        )
    for i, (source, kind) in enumerate(extra_cells):
        if kind == "answer":
            meta = _meta(f"answer{i}", solution=True)
        else:
            meta = _meta(f"extra{i}", grade=True, locked=True, points=1)
        cells.append(nbformat.v4.new_code_cell(source, metadata=meta))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "deno", "language": "javascript", "display_name": "JS"}
    return nb


REFERENCE_ADD = "function add(a, b) {\n  // BEGIN SOLUTION\n  return a + b;\n  // END SOLUTION\n}"


def everything_said(report) -> str:
    """Every text of a report a learner could see: messages and the executed cells'
    outputs."""
    parts = [json.dumps(report.tests)]
    for cell in report.notebook.cells:
        parts.append(json.dumps(cell.get("outputs", [])))
    return "\n".join(parts)


def by_name(report) -> dict:
    return {t["name"]: t for t in report.tests}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def executor():
    sandbox = BubblewrapExecutor(time_limit=60, cell_time_limit=5)
    yield sandbox
    await sandbox.close()


# -- the sample questions ----------------------------------------------------------------


def test_the_sample_questions_are_javascript_notebooks():
    from grader.grading.languages import language_of

    for question in QUESTIONS:
        nb = source_notebook(question)
        assert language_of(nb) == "javascript"
        assert nb.metadata["kernelspec"]["name"] == LANGUAGES["javascript"].kernels[0]
        specs = test_specs(nb)
        assert any(s.hidden for s in specs) and any(not s.hidden for s in specs), question
        assert len(WRONG[question]) >= 2


@in_module_loop
@pytest.mark.parametrize("question", QUESTIONS)
async def test_reference_solution_scores_full_marks(executor, question):
    source = source_notebook(question)
    report = await grade(executor, source, source)
    failed = [f"{t['name']}: {t['message']}" for t in report.tests if not t["passed"]]
    assert not failed, failed
    assert report.score == report.max_score > 0


@in_module_loop
@pytest.mark.parametrize(
    ("question", "index"), [(q, i) for q in QUESTIONS for i in range(len(WRONG[q]))]
)
async def test_wrong_answer_scores_less(executor, question, index):
    source = source_notebook(question)
    report = await grade(executor, source, with_answer(source, WRONG[question][index]))
    assert report.score < report.max_score, report.tests
    # a mistake fails tests; it is not a limit or a sandbox failure
    assert not [t for t in report.tests if "_limit" in t["message"] or "sandbox" in t["message"]]


@in_module_loop
@pytest.mark.parametrize("question", QUESTIONS)
async def test_student_version_scores_zero(executor, question):
    from grader.grading.questiontypes import question_type

    prepared = question_type("notebook").prepare((JS_DIR / f"{question}.ipynb").read_bytes())
    student = read_notebook(prepared.student)
    text = json.dumps(student)
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    report = await grade(executor, source_notebook(question), student)
    assert report.score == 0 < report.max_score
    visible = [t for t in report.tests if not t["hidden"]]
    assert all("No Answer Given!" in t["message"] for t in visible), visible


# -- values cross as data ----------------------------------------------------------------

VALUES_ANSWER = r"""
function values() {
  const o = { a: 1, b: [1, 2, { c: "x" }] };
  Object.defineProperty(o, "__proto__", { value: { polluted: true }, enumerable: true, writable: true, configurable: true });
  const cyclic = { name: "loop" };
  cyclic.self = cyclic;
  return {
    nan: NaN, inf: -Infinity, negzero: -0, big: 2n ** 70n, undef: undefined, nil: null,
    o, cyclic, date: new Date(0), map: new Map([[1, "one"]]), set: new Set(["s"]),
    re: /a+b/gi, get computed() { return 6 * 7; },
  };
}
class Counter {
  constructor() { this.count = 0; }
  increment(by = 1) { this.count += by; return this.count; }
  *[Symbol.iterator]() { for (let i = 0; i < this.count; i++) yield i; }
}
function boom() { throw new RangeError("too far"); }
"""

VALUES_TEST = r"""
import assert from "node:assert";
const v = values();
assert.ok(Number.isNaN(v.nan));
assert.strictEqual(v.inf, -Infinity);
assert.ok(Object.is(v.negzero, -0));
assert.strictEqual(v.big, 1180591620717411303424n);
assert.ok("undef" in v && v.undef === undefined);
assert.strictEqual(v.nil, null);
assert.deepStrictEqual(v.o.b, [1, 2, { c: "x" }]);
assert.ok(Object.hasOwn(v.o, "__proto__"));
assert.strictEqual(Object.getPrototypeOf(v.o), Object.prototype);
assert.strictEqual({}.polluted, undefined);
assert.strictEqual(v.cyclic.self.self.name, "loop");
assert.strictEqual(v.date.getTime(), 0);
assert.strictEqual(v.map.get(1), "one");
assert.ok(v.set.has("s"));
assert.strictEqual(v.re.flags, "gi");
assert.strictEqual(v.computed, 42);
const counter = new Counter();
assert.strictEqual(counter.increment(), 1);
assert.strictEqual(counter.increment(2), 3);
assert.strictEqual(counter.count, 3);
assert.deepStrictEqual([...counter], [0, 1, 2]);
assert.throws(() => boom(), RangeError);
assert.throws(() => boom(), { message: "too far" });
assert.throws(() => values(() => 1), /cannot pass a function/);
"""


@in_module_loop
async def test_values_cross_as_data_and_objects_with_behaviour_as_proxies(executor):
    nb = js_question(VALUES_ANSWER, tests=(VALUES_TEST,))
    report = await grade(executor, nb, nb)
    assert report.score == report.max_score, report.tests


@in_module_loop
async def test_names_resolve_on_each_use_and_redeclaring_is_like_a_kernel(executor):
    nb = js_question(
        "let add = (a, b) => a - b;\nconst limit = 1;",
        tests=(
            'import assert from "node:assert";\nassert.strictEqual(add(5, 2), 3);',
            # a later answer cell declares the names again, as a kernel allows
        ),
        extra_cells=[
            (
                "let add = (a, b) => a + b;\nconst limit = 2;\nclass Shape {}\nclass Shape2 extends Shape {}",
                "answer",
            ),
            (
                'import assert from "node:assert";\nassert.strictEqual(add(5, 2), 7);\n'
                "assert.strictEqual(limit, 2);\nassert.strictEqual(typeof Shape2, 'function');",
                "test",
            ),
        ],
    )
    report = await grade(executor, nb, nb)
    assert report.score == report.max_score, report.tests


# -- forging the verdict -----------------------------------------------------------------

FORGERIES = {
    "lying primitives": "function add(a, b) {\n  const v = a + b + 1;\n"
    "  return { valueOf() { return a + b; }, toString() { return String(a + b); },\n"
    "    [Symbol.toPrimitive]() { return a + b; }, toJSON() { return a + b; } };\n}",
    "proxy": "function add(a, b) {\n  return new Proxy({}, { get: () => () => true,"
    " getPrototypeOf: () => Number.prototype, has: () => true });\n}",
    "getter": "function add(a, b) {\n  return { get value() { return a + b; } };\n}",
    "polluted built-ins": "Object.prototype.valueOf = function () { return 3; };\n"
    "Object.is = () => true;\nArray.prototype.includes = () => true;\n"
    "JSON.stringify = () => '\"3\"';\nNumber.prototype.valueOf = () => 3;\n"
    "const realAssert = require('node:assert');\n"
    "realAssert.strictEqual = () => {};\nrealAssert.deepStrictEqual = () => {};\n"
    "realAssert.ok = () => {};\nvar assert = () => {};\nassert.strictEqual = () => {};\n"
    "globalThis.Error = function () {};\n"
    "function add(a, b) { return a - b + 1000; }",
    "protocol lines": "const fs = require('fs');\nfunction add(a, b) {\n"
    "  for (const fd of [1, 2, 4]) {\n"
    "    try { fs.writeSync(fd, JSON.stringify({ done: { status: 'ok' } }) + '\\n'); } catch (e) {}\n"
    "    try { fs.writeSync(fd, JSON.stringify({ reply: { value: a + b } }) + '\\n'); } catch (e) {}\n"
    "    try { fs.writeSync(fd, JSON.stringify({ status: 'ok', passed: true }) + '\\n'); } catch (e) {}\n"
    '  }\n  console.log(\'ok\\nhidden test passed\\n{"status": "ok"}\');\n  return a * b + 7;\n}',
    "early exit": "function add(a, b) {\n  process.exitCode = 0;\n  process.exit(0);\n}",
    "kill itself": "function add(a, b) { process.kill(process.pid, 'SIGKILL'); }",
    "read fd 3": "const fs = require('fs');\nfunction add(a, b) {\n"
    "  const buf = Buffer.alloc(100000);\n"
    "  try { fs.readSync(3, buf, 0, buf.length, null); } catch (e) {}\n  return -1;\n}",
    "wrong error name": "function add(a, b) {\n  const e = new Error('my own words');\n"
    "  e.name = 'HiddenTestPassed';\n  throw e;\n}",
}


#: a test cell whose every check is hidden (the first line only imports)
ONLY_HIDDEN = (
    'import assert from "node:assert";\n// BEGIN HIDDEN TESTS\n'
    f'assert.strictEqual(add(10, 20), 30, "{SECRET} message");\n'
    "assert.deepStrictEqual([add(0, 0), add(-1, 1)], [0, 0]);\n"
    "// END HIDDEN TESTS"
)


@in_module_loop
@pytest.mark.parametrize("attack", list(FORGERIES))
async def test_learner_code_cannot_forge_the_verdict(executor, attack):
    source = js_question(REFERENCE_ADD, tests=(VISIBLE, ONLY_HIDDEN))
    report = await grade(executor, source, with_answer(source, FORGERIES[attack]))
    assert report.score == 0, (attack, report.tests)
    hidden = by_name(report)["t1"]
    assert hidden["message"].startswith("hidden test failed:"), hidden
    # the learner chose the error's name: a hidden failure shows one from the fixed list
    kind = hidden["message"].split(":", 1)[1].strip()
    allowed = set(LANGUAGES["javascript"].error_names) | {"error"}
    allowed |= {"CellTimeoutError", "LearnerProcessEnded", "MemoryError", "OutputLimitExceeded"}
    assert kind in allowed or kind.endswith("_limit") or "learner_exit" in kind, hidden
    assert SECRET not in everything_said(report)


@in_module_loop
async def test_a_learner_redefining_built_ins_does_not_fail_a_correct_answer(executor):
    """The tests' built-ins are their own: pollution in the learner's process is not
    seen by the tests, either way."""
    answer = (
        "Object.prototype.valueOf = () => 99;\nArray.prototype.includes = () => false;\n"
        "Object.is = () => false;\nvar JSON = null;\nvar Object2 = Object;\n"
        "function add(a, b) { return a + b; }"
    )
    source = js_question(REFERENCE_ADD)
    report = await grade(executor, source, with_answer(source, answer))
    assert report.score == report.max_score, report.tests


# -- the hidden tests stay hidden ----------------------------------------------------------

SNOOP = r"""
const fs = require("fs");
function loot() {
  const found = [];
  const look = (label, read) => { try { found.push(label + ":" + read()); } catch (e) { found.push(label + "!" + e.code); } };
  look("argv", () => process.argv.join(" "));
  look("env", () => JSON.stringify(process.env));
  look("self", () => fs.readFileSync(process.argv[process.argv.length - 1], "utf8"));
  const walk = (dir, depth) => {
    if (depth > 4) return;
    let names = [];
    try { names = fs.readdirSync(dir); } catch (e) { return; }
    for (const name of names) {
      const path = dir + "/" + name;
      let st;
      try { st = fs.lstatSync(path); } catch (e) { continue; }
      if (st.isDirectory()) walk(path, depth + 1);
      else if (st.isFile() && st.size < 1e6) look(path, () => fs.readFileSync(path, "latin1"));
    }
  };
  walk("/tmp", 0);
  for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    for (const what of ["cmdline", "environ", "maps"]) look(`/proc/${pid}/${what}`, () => fs.readFileSync(`/proc/${pid}/${what}`, "latin1"));
    look(`/proc/${pid}/fd`, () => fs.readdirSync(`/proc/${pid}/fd`).map((fd) => { try { return fs.readlinkSync(`/proc/${pid}/fd/${fd}`); } catch (e) { return "?"; } }).join(","));
  }
  const text = found.join("\n");
  const at = text.indexOf("SECRET");
  return at >= 0 ? "FOUND " + text.slice(at - 200, at + 200) : "nothing among " + found.length;
}
function add(a, b) {
  // what it finds, in a visible failure's message
  return loot();
}
"""


@in_module_loop
async def test_learner_code_cannot_read_the_hidden_tests(executor):
    source = js_question(REFERENCE_ADD)
    # the hidden test cell runs first, so its text has reached the trusted side
    order = js_question(REFERENCE_ADD, tests=(HIDDEN, VISIBLE))
    report = await grade(executor, order, with_answer(source, SNOOP))
    visible = by_name(report)["t1"]
    assert "nothing among" in visible["message"], visible
    assert SECRET not in everything_said(report)


# -- resource abuse ------------------------------------------------------------------------

ABUSE = {
    "time_limit": "function spin() { for (;;) {} }",
    "memory_limit": "function spin() { const hold = []; for (;;) hold.push(new Array(1e6).fill(1.5)); }",
    "output_limit": "function spin() { for (;;) console.log('spam'.repeat(100)); }",
    "process_limit": "const cp = require('child_process');\n"
    "function spin() {\n  const kids = [];\n  for (let i = 0; i < 500; i++) {\n"
    "    kids.push(cp.spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }));\n"
    "  }\n  for (;;) {}\n}",
}


@in_module_loop
@pytest.mark.parametrize("limit", list(ABUSE))
async def test_resource_abuse_ends_at_a_limit_and_later_cells_still_run(executor, limit):
    spin_test = 'import assert from "node:assert";\nspin();\nassert.ok(true);'
    nb = js_question(
        ABUSE[limit],
        tests=(spin_test,),
        extra_cells=[(REFERENCE_ADD, "answer"), (VISIBLE, "test")],
    )
    if limit == "output_limit":
        # a flood ends a second past the output limit (foreign.OUTPUT_GRACE): a cell
        # time limit far from that keeps a loaded machine's slowness out of the test
        flooded = BubblewrapExecutor(time_limit=60, cell_time_limit=20)
        try:
            report = await grade(flooded, nb, nb)
        finally:
            await flooded.close()
    else:
        report = await grade(executor, nb, nb)
    tests = by_name(report)
    assert not tests["t0"]["passed"]
    expected = {limit}
    if limit == "process_limit":
        # the spawned children are cut off at the process limit; the loop then hits the time limit
        expected |= {"time_limit"}
    assert any(reason in tests["t0"]["message"] for reason in expected), tests["t0"]
    assert tests["extra1"]["passed"], tests["extra1"]


@in_module_loop
async def test_infinite_loop_in_an_answer_cell_is_a_time_limit_and_the_next_cells_run(executor):
    nb = js_question(
        "for (;;) {}",
        tests=('import assert from "node:assert";\nassert.ok(true);',),
        extra_cells=[(REFERENCE_ADD, "answer"), (VISIBLE, "test")],
    )
    report = await grade(executor, nb, nb)
    assert by_name(report)["extra1"]["passed"], report.tests


# -- escape --------------------------------------------------------------------------------

ESCAPE = r"""
const fs = require("fs");
const cp = require("child_process");
function probe() {
  const out = {};
  try { fs.writeFileSync("/etc/coursehub-escape", "x"); out.etc = "written"; } catch (e) { out.etc = "refused"; }
  try { fs.writeFileSync("/home/escape", "x"); out.home = "written"; } catch (e) { out.home = "refused"; }
  for (const path of [REPO, "/root", "/etc/shadow"]) {
    try { fs.readdirSync(path); out[path] = "listed"; } catch (e) {
      try { fs.readFileSync(path); out[path] = "read"; } catch (e2) { out[path] = "refused"; }
    }
  }
  const net = "const s = require('net').connect({ host: '1.1.1.1', port: 53 });" +
    "s.on('connect', () => { console.log('connected'); process.exit(0); });" +
    "s.on('error', (e) => { console.log('no network'); process.exit(0); });" +
    "setTimeout(() => { console.log('no network'); process.exit(0); }, 2000);";
  try {
    out.net = cp.execFileSync(process.execPath, ["-e", net], { encoding: "utf8", timeout: 3000 }).trim();
  } catch (e) { out.net = "no network"; }
  return out;
}
"""


@in_module_loop
async def test_learner_code_cannot_escape(executor):
    repo = str(Path(__file__).resolve().parents[1] / "course_content")
    answer = ESCAPE.replace("REPO", json.dumps(repo))
    test = (
        'import assert from "node:assert";\n'
        "assert.deepStrictEqual(probe(), {etc: 'refused', home: 'refused', "
        f"{json.dumps(repo)}: 'refused', '/root': 'refused', '/etc/shadow': 'refused', "
        "net: 'no network'});"
    )
    nb = js_question(answer, tests=(test,))
    report = await grade(executor, nb, nb)
    assert report.score == report.max_score, report.tests


# -- the same scores as nbgrader autograde (with the deno kernel) --------------------------

NBGRADER_STUB = LANGUAGES["javascript"].code_stub


def deno_kernel_installed() -> bool:
    from jupyter_client.kernelspec import KernelSpecManager

    return "deno" in KernelSpecManager().find_kernel_specs()


def equivalence_source():
    """Two questions in one notebook: add (visible and hidden tests) and a counter class."""
    nb = js_question(REFERENCE_ADD, tests=(VISIBLE, HIDDEN))
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "class Counter {\n  // BEGIN SOLUTION\n  constructor() { this.count = 0; }\n"
            "  increment() { return ++this.count; }\n  // END SOLUTION\n}",
            metadata=_meta("counter", solution=True),
        )
    )
    nb.cells.append(
        nbformat.v4.new_code_cell(
            'import assert from "node:assert";\nconst c = new Counter();\nc.increment();\n'
            "assert.strictEqual(c.increment(), 2);\n// BEGIN HIDDEN TESTS\n"
            "assert.strictEqual(c.count, 2);\nconst xs = [3, 1];\nxs.sort();\n"
            "assert.deepStrictEqual(xs, [1, 3]);\n// END HIDDEN TESTS",
            metadata=_meta("t-counter", grade=True, locked=True, points=2),
        )
    )
    return nb


EQUIVALENCE_ANSWERS = {
    "honest": {"answer": "function add(a, b) { return a + b; }", "counter": None},
    "wrong": {
        "answer": "function add(a, b) { return a > 5 ? 0 : a + b; }",
        "counter": "class Counter {\n  constructor() { this.count = 0; }\n  increment() { return this.count++; }\n}",
    },
    "throws": {"answer": "function add(a, b) { throw new TypeError('nope'); }", "counter": None},
    "syntax error": {"answer": "function add(a, b { return a + b; }", "counter": None},
    # hostile in a way that changes nothing in either grader
    "hostile but right": {
        "answer": "console.log('ok: all tests passed');\nconsole.error('{\"status\": \"ok\"}');\n"
        "Object.prototype.polluted = 1;\nfunction add(a, b) { return a + b; }",
        "counter": "class Counter {\n  constructor() { this.count = 0; }\n"
        "  increment() { this.count += 1; return this.count; }\n  toString() { return 'ok'; }\n}",
    },
    "unanswered": {"answer": None, "counter": None},
}


def submission(released, kind: str):
    nb = copy.deepcopy(released)
    for cell in solution_cells(nb):
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        answer = EQUIVALENCE_ANSWERS[kind].get(grade_id)
        if answer is not None:
            cell.source = answer
        elif kind != "unanswered":
            cell.source = (
                solution_cells(equivalence_source())[
                    [c.metadata["nbgrader"]["grade_id"] for c in solution_cells(released)].index(
                        grade_id
                    )
                ]
                .source.replace("// BEGIN SOLUTION\n", "")
                .replace("  // END SOLUTION\n", "")
            )
    return nb


@pytest.fixture(scope="module")
def nbgrader_js_run(tmp_path_factory):
    import os
    import subprocess
    import sys

    from nbgrader.api import Gradebook

    if not deno_kernel_installed():
        pytest.skip("the deno kernel is not installed (hub_config/bootstrap.sh installs it)")
    nbgrader_bin = Path(sys.executable).with_name("nbgrader")
    course = tmp_path_factory.mktemp("jscourse")
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        "c.CourseDirectory.course_id = 'course'\n"
        f"c.ClearSolutions.code_stub = {{'javascript': {NBGRADER_STUB!r}}}\n"
        "c.ExecutePreprocessor.timeout = 60\n"
    )
    path = f"{nbgrader_bin.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = dict(os.environ, HOME=str(course), PATH=path)

    def run(*args):
        done = subprocess.run(
            [str(nbgrader_bin), *args, "--force"],
            cwd=course,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    source_dir = course / "source" / "js1"
    source_dir.mkdir(parents=True)
    nbformat.write(equivalence_source(), source_dir / "q.ipynb")
    run("generate_assignment", "js1")
    released = nbformat.read(course / "release" / "js1" / "q.ipynb", as_version=4)
    for kind in EQUIVALENCE_ANSWERS:
        folder = course / "submitted" / kind.replace(" ", "-") / "js1"
        folder.mkdir(parents=True)
        nbformat.write(submission(released, kind), folder / "q.ipynb")
    run("autograde", "js1")
    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id="course") as gb:
        for kind in EQUIVALENCE_ANSWERS:
            nb = gb.find_submission_notebook("q", "js1", kind.replace(" ", "-"))
            scores[kind] = {g.name: float(g.score) for g in nb.grades}
    return scores, released


@in_module_loop
@pytest.mark.parametrize("kind", list(EQUIVALENCE_ANSWERS))
async def test_same_points_as_nbgrader_autograde(executor, nbgrader_js_run, kind):
    scores, released = nbgrader_js_run
    report = await grade(executor, equivalence_source(), submission(released, kind))
    ours = {t["name"]: t["points"] for t in report.tests}
    assert ours == scores[kind], (kind, report.tests)
    if kind == "honest":
        assert report.score == report.max_score
    if kind in ("wrong", "unanswered", "syntax error"):
        assert report.score < report.max_score


def test_both_drivers_get_the_cells_module_beside_them():
    """One copy of the cell-to-script rules: cells.js travels with each driver spec."""
    from grader.grading.languages import LANGUAGES

    drivers = Path(__file__).resolve().parents[1] / "grader" / "sandbox" / "drivers" / "javascript"
    for role in ("learner", "trusted"):
        spec = LANGUAGES["javascript"].driver_spec(role)
        assert spec["files"] == {"cells.js": (drivers / "cells.js").read_text()}
        assert 'require("./cells.js")' in spec["source"]
