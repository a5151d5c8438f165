"""coursehub grades an nbgrader assignment exactly like nbgrader does.

A small assignment (visible and hidden tests, a partial-credit test) goes through real
``nbgrader generate_assignment`` and ``nbgrader autograde``; the same submissions are
graded by :func:`grader.grading.run.grade` in a real bubblewrap sandbox, and the per-test
points and totals are compared with nbgrader's gradebook.

A second assignment ("objects", at the end) has tests that use the learner's objects rather
than plain values: class instances and exceptions, generators, callbacks and closures,
arguments changed in place, and return values of every plain-data type. nbgrader runs tests
in the learner's kernel; coursehub runs them in a process of their own that reaches learner
names through proxies, so these are the cases where the two could disagree.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from nbgrader.preprocessors import ClearSolutions

from grader.executors.bubblewrap import BubblewrapExecutor
from grader.grading.notebooks import (
    nbgrader_code_stubs,
    read_notebook,
    student_version,
    validate_source,
)
from grader.grading.run import grade
from grader.grading.variants import variant_seed

NBGRADER = Path(sys.executable).with_name("nbgrader")
ASSIGNMENT = "ps1"
NOTEBOOK = "questions"

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed"),
]


def _meta(gid, **kw):
    base = {"grade": False, "solution": False, "locked": False, "grade_id": gid}
    base.update(kw, schema_version=3)
    return {"nbgrader": base}


KERNEL_METADATA = {
    "kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}
}


def build_source() -> nbformat.NotebookNode:
    """A three-question nbgrader source notebook."""
    return new_notebook(
        cells=[
            new_markdown_cell("# Problem set 1", metadata=_meta("header", locked=True)),
            new_code_cell("import math\nimport warnings"),
            new_markdown_cell("1. Write `square(x)`."),
            new_code_cell(
                "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION",
                metadata=_meta("square", solution=True),
            ),
            new_code_cell(
                "assert square(3) == 9\n### BEGIN HIDDEN TESTS\nassert square(-4) == 16\n"
                "assert square(0.5) == 0.25\n### END HIDDEN TESTS",
                metadata=_meta("test_square", grade=True, locked=True, points=2),
            ),
            new_markdown_cell("2. Write `mean(xs)`; partial credit per case."),
            new_code_cell(
                "def mean(xs):\n    ### BEGIN SOLUTION\n    return sum(xs) / len(xs)\n"
                "    ### END SOLUTION",
                metadata=_meta("mean", solution=True),
            ),
            new_code_cell(
                "cases = [([1, 2, 3], 2), ([5], 5), ([-1, 1], 0), ([1, 2], 1.5)]\n"
                "earned = 0.0\nfor xs, want in cases:\n    try:\n"
                "        earned += 0.75 * math.isclose(mean(xs), want, abs_tol=1e-9)\n"
                "    except Exception:\n        pass\nearned",
                metadata=_meta("test_mean", grade=True, locked=True, points=3),
            ),
            new_markdown_cell("3. Write `fizz(n)`."),
            new_code_cell(
                "### BEGIN SOLUTION\ndef fizz(n):\n    return 'fizz' if n % 3 == 0 else str(n)\n"
                "### END SOLUTION",
                metadata=_meta("fizz", solution=True),
            ),
            new_code_cell(
                "assert fizz(3) == 'fizz'\nassert fizz(4) == '4'",
                metadata=_meta("test_fizz", grade=True, locked=True, points=1),
            ),
        ],
        metadata=dict(KERNEL_METADATA),
    )


# answers by solution cell index (3: square, 6: mean, 9: fizz)
ANSWERS = {
    "correct": {
        3: "def square(x):\n    return x ** 2",
        6: "def mean(xs):\n    return sum(xs) / len(xs)",
        9: "def fizz(n):\n    return 'fizz' if n % 3 == 0 else str(n)",
    },
    "partial": {
        3: "def square(x):\n    return abs(x) * 3 if x == 3 else x * x if x > 0 else 0",
        6: "def mean(xs):\n    return sum(xs) // len(xs)",
        9: "def fizz(n):\n    return 'fizz'",
    },
    "wrong": {
        3: "def square(x):\n    return x + x",
        6: "def mean(xs):\n    return 0",
        9: "def fizz(n):\n    return n",
    },
    "error": {
        3: "def square(x):\n    return undefined_name",
        6: "def mean(xs:\n    pass",
        9: "raise RuntimeError('gave up')",
    },
    "warns": {
        3: "def square(x):\n    warnings.warn('slow square')\n    return x * x",
        6: "def mean(xs):\n    print('computing')\n    return sum(xs) / len(xs)",
    },
    "unanswered": {},
}


def make_submission(released, kind: str):
    nb = nbformat.reads(nbformat.writes(released), as_version=4)
    for index, source in ANSWERS.get(kind, {}).items():
        nb.cells[index].source = source
    if kind == "edited_test":
        for index, source in ANSWERS["wrong"].items():
            nb.cells[index].source = source
        nb.cells[4].source = "assert True"
        nb.cells[10].source = "pass"
        nb.cells[10].metadata["nbgrader"]["points"] = 100
    return nb


KINDS = [*ANSWERS, "edited_test"]


def _path() -> str:
    # nbgrader runs `alembic` from PATH
    return f"{NBGRADER.parent}{os.pathsep}{os.environ.get('PATH', '')}"


TIMINGS: dict[str, float] = {}
#: nbgrader's code stubs with coursehub's languages (R, JavaScript, C) added, as
#: coursehub configures nbgrader (extensions/jupyter-config/coursehub-instructor)
CODE_STUBS = {**ClearSolutions().code_stub, **nbgrader_code_stubs()}


def nbgrader(course: Path, *args: str) -> None:
    started = time.perf_counter()
    env = dict(os.environ, HOME=str(course), PATH=_path())
    done = subprocess.run(
        [str(NBGRADER), *args, "--force"],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    TIMINGS[args[0]] = time.perf_counter() - started


def nbgrader_grades(course: Path, source, submissions: dict) -> tuple[dict, object]:
    """Run real nbgrader on ``submissions``; return {student: {grade_id: points}}."""
    from nbgrader.api import Gradebook

    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        "c.CourseDirectory.course_id = 'course'\n"
        f"c.ClearSolutions.code_stub = {CODE_STUBS!r}\n"
    )
    src = course / "source" / ASSIGNMENT
    src.mkdir(parents=True)
    nbformat.write(source, src / f"{NOTEBOOK}.ipynb")
    nbgrader(course, "generate_assignment", ASSIGNMENT)
    released = nbformat.read(course / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    for student, make in submissions.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(make(released), folder / f"{NOTEBOOK}.ipynb")
    nbgrader(course, "autograde", ASSIGNMENT)
    scores = {}
    os.environ["PATH"] = _path()
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id="course") as gb:
        for student in submissions:
            nb = gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student)
            scores[student] = {g.name: float(g.score) for g in nb.grades}
    return scores, released


@pytest.fixture(scope="module")
def nbgrader_run(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    submissions = {kind: (lambda released, k=kind: make_submission(released, k)) for kind in KINDS}
    return nbgrader_grades(course, build_source(), submissions)


def assert_same_release(ours, released) -> None:
    assert [c.source for c in ours.cells] == [c.source for c in released.cells]
    for mine, theirs in zip(ours.cells, released.cells, strict=True):
        assert mine.metadata.get("nbgrader") == theirs.metadata.get("nbgrader")
        assert mine.metadata.get("editable") == theirs.metadata.get("editable")
        assert mine.metadata.get("deletable") == theirs.metadata.get("deletable")


def test_student_version_matches_nbgrader_release(nbgrader_run):
    _, released = nbgrader_run
    assert_same_release(student_version(build_source()), released)


@pytest.mark.parametrize("kind", KINDS)
async def test_same_points_as_nbgrader(nbgrader_run, kind):
    theirs, released = nbgrader_run
    source = build_source()
    validate_source(source)
    report = await grade(
        BubblewrapExecutor(cell_time_limit=30), source, make_submission(released, kind)
    )
    ours = {t["name"]: t["points"] for t in report.tests}
    assert ours == theirs[kind]
    assert report.score == sum(theirs[kind].values())
    assert report.max_score == 6.0


async def test_deleted_test_cell_is_restored_from_the_source(nbgrader_run):
    # nbgrader scores a deleted test 0 (unless add_missing_cells); coursehub runs the
    # source's test anyway, so deleting a test neither helps nor hurts
    _, released = nbgrader_run
    learner = make_submission(released, "correct")
    del learner.cells[10]  # test_fizz
    del learner.cells[4]  # test_square
    report = await grade(BubblewrapExecutor(), build_source(), learner)
    assert report.score == report.max_score == 6.0
    wrong = make_submission(released, "wrong")
    del wrong.cells[4]
    report = await grade(BubblewrapExecutor(), build_source(), wrong)
    tests = {t["name"]: t for t in report.tests}
    assert tests["test_square"]["points"] == 0
    # the visible assert of the restored test failed: its message, and nothing hidden
    message = tests["test_square"]["message"]
    assert message.startswith("AssertionError") and "assert square(3) == 9" in message
    assert "square(-4)" not in message and "HIDDEN" not in message


# --- learner objects across the process boundary ------------------------------------------
#
# A second assignment whose tests use what a separate test process has to reach through
# proxies: instances of learner classes (attributes, methods, state, ``==``, ``repr``),
# learner exceptions caught by class, generators (finite and infinite), callbacks the test
# defines and closures the learner returns, test-side lists and dicts the learner mutates in
# place, and returned values of every plain-data type. Every case must score exactly as in
# nbgrader, where tests and learner share one kernel.

OBJECTS_ACCOUNT = '''\
class InsufficientFunds(Exception):
    """Raised by Account.withdraw; its only argument is the shortfall."""


class Account:
    ### BEGIN SOLUTION
    def __init__(self, owner, balance=0):
        self.owner = owner
        self.balance = balance

    def deposit(self, amount):
        if amount <= 0:
            raise ValueError("a deposit must be positive")
        self.balance += amount
        return self.balance

    def withdraw(self, amount):
        if amount > self.balance:
            raise InsufficientFunds(amount - self.balance)
        self.balance -= amount
        return self.balance

    def __eq__(self, other):
        if not isinstance(other, Account):
            return NotImplemented
        return (self.owner, self.balance) == (other.owner, other.balance)

    def __repr__(self):
        return f"Account({self.owner!r}, {self.balance})"
    ### END SOLUTION


class SavingsAccount(Account):
    ### BEGIN SOLUTION
    def __init__(self, owner, balance=0, rate=0.1):
        super().__init__(owner, balance)
        self.rate = rate

    def add_interest(self):
        self.balance += self.balance * self.rate
        return self.balance
    ### END SOLUTION'''

OBJECTS_TEST_ACCOUNT = """\
a = Account("ada", 10)
assert isinstance(a, Account)
assert not isinstance(a, SavingsAccount)
assert a.owner == "ada"
assert a.balance == 10
assert a.deposit(5) == 15
assert a.balance == 15
a.withdraw(3)
assert a.balance == 12
assert hasattr(a, "deposit") and not hasattr(a, "overdraft")
### BEGIN HIDDEN TESTS
s = SavingsAccount("bob", 100, rate=0.5)
assert isinstance(s, Account) and isinstance(s, SavingsAccount)
assert issubclass(SavingsAccount, Account)
assert s.add_interest() == 150
s.deposit(50)
assert s.balance == 200
assert Account("eve").balance == 0
### END HIDDEN TESTS"""

OBJECTS_TEST_EQ_REPR = """\
assert Account("ada", 1) == Account("ada", 1)
assert not (Account("ada", 1) != Account("ada", 1))
assert Account("ada", 1) != Account("ada", 2)
assert Account("ada", 1) != Account("bob", 1)
assert Account("ada", 1) != ("ada", 1)
assert [Account("a", 1), Account("b", 2)] == [Account("a", 1), Account("b", 2)]
assert Account("a", 1) in [Account("b", 0), Account("a", 1)]
assert repr(Account("ada", 2)) == "Account('ada', 2)"
assert str(Account("ada", 2)) == "Account('ada', 2)"
assert str([Account("x", 3)]) == "[Account('x', 3)]"
assert f"{Account('x', 0)}" == "Account('x', 0)\""""

OBJECTS_TEST_ERRORS = """\
a = Account("ada", 5)
try:
    a.withdraw(8)
except InsufficientFunds as e:
    shortfall = e.args[0]
else:
    raise AssertionError("withdrawing more than the balance must raise InsufficientFunds")
assert shortfall == 3
assert a.balance == 5
assert issubclass(InsufficientFunds, Exception)
try:
    Account("bob", 1).withdraw(2)
except Exception as e:
    caught = e
assert isinstance(caught, InsufficientFunds)
try:
    a.deposit(0)
except ValueError as e:
    assert "positive" in str(e)
else:
    raise AssertionError("a deposit of 0 must raise ValueError")"""

OBJECTS_GENERATORS = """\
### BEGIN SOLUTION
def countdown(n):
    while n > 0:
        yield n
        n -= 1


def naturals(start=0):
    while True:
        yield start
        start += 1
### END SOLUTION"""

OBJECTS_TEST_COUNTDOWN = """\
assert list(countdown(3)) == [3, 2, 1]
g = countdown(2)
assert next(g) == 2
assert next(g) == 1
try:
    next(g)
except StopIteration:
    pass
else:
    raise AssertionError("countdown(2) yields two values")
assert next(countdown(0), "done") == "done"
assert sum(countdown(100)) == 5050
assert [x * x for x in countdown(3)] == [9, 4, 1]
assert max(countdown(4)) == 4"""

OBJECTS_TEST_NATURALS = """\
import itertools

assert list(itertools.islice(naturals(), 5)) == [0, 1, 2, 3, 4]
evens = (n for n in naturals(10) if n % 2 == 0)
assert next(evens) == 10
assert next(evens) == 12
assert list(zip("ab", naturals())) == [("a", 0), ("b", 1)]
for n in naturals(7):
    break
assert n == 7"""

OBJECTS_CALLBACKS = """\
### BEGIN SOLUTION
def apply_twice(f, x):
    return f(f(x))


def sorted_by(xs, key):
    return sorted(xs, key=key)


def for_each(xs, callback):
    for x in xs:
        callback(x)


def make_multiplier(k):
    def multiply(x):
        return k * x

    return multiply


def make_counter():
    count = 0

    def increment():
        nonlocal count
        count += 1
        return count

    return increment
### END SOLUTION"""

OBJECTS_TEST_CALLBACKS = """\
assert apply_twice(lambda x: x + 1, 3) == 5
assert apply_twice(str.upper, "ab") == "AB"
assert sorted_by(["ccc", "a", "bb"], key=len) == ["a", "bb", "ccc"]
assert sorted_by([3, -1, 2], key=abs) == [-1, 2, 3]
seen = []
for_each([1, 2, 3], seen.append)
assert seen == [1, 2, 3]
calls = []


def record(x):
    calls.append(x)
    return x * 10


assert apply_twice(record, 1) == 100
assert calls == [1, 10]


def boom(x):
    raise KeyError(x)


try:
    apply_twice(boom, 1)
except KeyError as e:
    assert e.args == (1,)
else:
    raise AssertionError("an exception in the callback must reach the caller")"""

OBJECTS_TEST_CLOSURES = """\
triple = make_multiplier(3)
assert callable(triple)
assert triple(4) == 12
assert make_multiplier(-1)(5) == -5
assert apply_twice(triple, 2) == 18
assert list(map(triple, [1, 2])) == [3, 6]
assert sorted([3, 1, 2], key=make_multiplier(-1)) == [3, 2, 1]
tick = make_counter()
assert [tick(), tick(), tick()] == [1, 2, 3]
assert make_counter()() == 1
assert tick() == 4"""

OBJECTS_IN_PLACE = """\
### BEGIN SOLUTION
def reverse_in_place(lst):
    i, j = 0, len(lst) - 1
    while i < j:
        lst[i], lst[j] = lst[j], lst[i]
        i, j = i + 1, j - 1


def tally(counts, words):
    for word in words:
        counts[word] = counts.get(word, 0) + 1
### END SOLUTION"""

OBJECTS_TEST_REVERSE = """\
lst = [1, 2, 3, 4]
assert reverse_in_place(lst) is None
assert lst == [4, 3, 2, 1]
one = ["x"]
reverse_in_place(one)
assert one == ["x"]
rows = [[1], [2]]
reverse_in_place(rows)
assert rows == [[2], [1]]
rows[0].append(9)
assert rows == [[2, 9], [1]]"""

OBJECTS_TEST_TALLY = """\
counts = {"a": 1}
tally(counts, ["a", "b", "a"])
assert counts == {"a": 3, "b": 1}
tally(counts, [])
assert counts == {"a": 3, "b": 1}
same = counts
tally(same, ["c"])
assert counts["c"] == 1"""

OBJECTS_DATA = """\
### BEGIN SOLUTION
import cmath
from collections import namedtuple

Point = namedtuple("Point", "x y")


def div_mod(a, b):
    return a // b, a % b


def grid(rows, cols):
    return {(r, c): r * cols + c for r in range(rows) for c in range(cols)}


def letters(word):
    return set(word)


def frozen_letters(word):
    return frozenset(word)


def triangle(n):
    return [[i] * i for i in range(1, n + 1)]


def shift(p, dx, dy):
    return Point(p[0] + dx, p[1] + dy)


def utf8(text):
    return text.encode("utf-8")


def sqrt_any(x):
    return cmath.sqrt(x) if x < 0 else x**0.5


def ratio(a, b):
    return a / b if b else float("nan")


def factorial(n):
    result = 1
    for k in range(2, n + 1):
        result *= k
    return result


def find(xs, target):
    for i, x in enumerate(xs):
        if x == target:
            return i
    return None
### END SOLUTION"""

OBJECTS_TEST_CONTAINERS = """\
assert div_mod(7, 2) == (3, 1)
q, r = div_mod(9, 4)
assert (q, r) == (2, 1)
assert isinstance(div_mod(1, 1), tuple)
g = grid(2, 3)
assert len(g) == 6 and g[(1, 2)] == 5 and (0, 0) in g
assert sorted(g) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
assert letters("abca") == {"a", "b", "c"}
assert "z" not in letters("abc")
assert frozen_letters("aab") == frozenset("ab")
assert {frozen_letters("ab"), frozen_letters("ba")} == {frozenset("ab")}
assert triangle(3) == [[1], [2, 2], [3, 3, 3]]
assert triangle(3)[2][1] == 3
assert triangle(0) == []
assert shift((1, 2), 1, 1) == (2, 3)
x, y = shift((0, 0), -1, 5)
assert (x, y) == (-1, 5)"""

OBJECTS_TEST_SCALARS = """\
import math

assert utf8("é") == b"\\xc3\\xa9"
assert utf8("") == b""
assert isinstance(utf8("a"), bytes)
assert sqrt_any(-4) == 2j
assert sqrt_any(9) == 3
assert abs(sqrt_any(-2) ** 2 + 2) < 1e-9
assert math.isnan(ratio(1, 0))
assert ratio(1, 0) != ratio(1, 0)
assert ratio(1, 4) == 0.25
assert factorial(25) == 15511210043330985984000000
assert factorial(200) > 2**1000 and len(str(factorial(200))) == 375
assert factorial(200) % 10**49 == 0
assert find([5, 6], 6) == 1
assert find([5, 6], 7) is None"""

OBJECTS_PRIMES = """\
def is_prime(n):
    ### BEGIN SOLUTION
    if n < 2:
        return False
    return all(n % d for d in range(2, int(n**0.5) + 1))
    ### END SOLUTION"""

# partial credit: the cell's last expression is an int, the number of cases passed
OBJECTS_TEST_PRIMES = """\
cases = [(2, True), (9, False), (17, True), (1, False)]
passed = 0
for n, want in cases:
    try:
        if is_prime(n) == want:
            passed += 1
    except Exception:
        pass
passed"""


def _solution(gid: str, source: str):
    return new_code_cell(source, metadata=_meta(gid, solution=True))


def _test(gid: str, points: int, source: str):
    return new_code_cell(source, metadata=_meta(gid, grade=True, locked=True, points=points))


def build_objects_source() -> nbformat.NotebookNode:
    """A six-question source notebook whose tests use learner objects, not just values."""
    return new_notebook(
        cells=[
            new_markdown_cell("# Problem set 2: objects", metadata=_meta("header", locked=True)),
            new_markdown_cell("1. Write `Account` and `SavingsAccount`."),
            _solution("account", OBJECTS_ACCOUNT),
            _test("test_account", 2, OBJECTS_TEST_ACCOUNT),
            _test("test_account_eq_repr", 1, OBJECTS_TEST_EQ_REPR),
            _test("test_account_errors", 1, OBJECTS_TEST_ERRORS),
            new_markdown_cell("2. Write the generators `countdown(n)` and `naturals(start)`."),
            _solution("generators", OBJECTS_GENERATORS),
            _test("test_countdown", 1, OBJECTS_TEST_COUNTDOWN),
            _test("test_naturals", 1, OBJECTS_TEST_NATURALS),
            new_markdown_cell("3. Functions that take and return functions."),
            _solution("callbacks", OBJECTS_CALLBACKS),
            _test("test_callbacks", 2, OBJECTS_TEST_CALLBACKS),
            _test("test_closures", 1, OBJECTS_TEST_CLOSURES),
            new_markdown_cell("4. Change a list and a dict in place."),
            _solution("in_place", OBJECTS_IN_PLACE),
            _test("test_reverse_in_place", 1, OBJECTS_TEST_REVERSE),
            _test("test_tally", 1, OBJECTS_TEST_TALLY),
            new_markdown_cell("5. Return values of every kind."),
            _solution("data", OBJECTS_DATA),
            _test("test_containers", 1, OBJECTS_TEST_CONTAINERS),
            _test("test_scalars", 1, OBJECTS_TEST_SCALARS),
            new_markdown_cell("6. Write `is_prime(n)`; a point per case."),
            _solution("primes", OBJECTS_PRIMES),
            _test("test_is_prime", 4, OBJECTS_TEST_PRIMES),
        ],
        metadata=dict(KERNEL_METADATA),
    )


# whole answer cells by grade_id; "partial" passes some tests of a question and fails others
OBJECTS_ANSWERS = {
    "correct": {
        # the same behaviour written differently from the source's solution
        "generators": (
            "def countdown(n):\n    yield from range(n, 0, -1)\n\n\n"
            "def naturals(start=0):\n    yield from itertools.count(start)\n\n\n"
            "import itertools"
        ),
        "in_place": (
            "def reverse_in_place(lst):\n    lst.reverse()\n\n\n"
            "def tally(counts, words):\n    for w in words:\n        counts[w] = counts.get(w, 0) + 1"
        ),
        "primes": (
            "def is_prime(n):\n    return n > 1 and not any(n % d == 0 for d in range(2, n))"
        ),
    },
    "partial": {
        # __eq__ compares owners only; the rest is right
        "account": OBJECTS_ACCOUNT.replace(
            "return (self.owner, self.balance) == (other.owner, other.balance)",
            "return self.owner == other.owner",
        ),
        # countdown returns a list (next() fails), naturals is right
        "generators": (
            "def countdown(n):\n    return list(range(n, 0, -1))\n\n\n"
            "def naturals(start=0):\n    while True:\n        yield start\n        start += 1"
        ),
        # callbacks right; the counter forgets its count
        "callbacks": OBJECTS_CALLBACKS.replace(
            "        nonlocal count\n        count += 1\n        return count\n",
            "        return count + 1\n",
        ),
        # tally overwrites instead of adding
        "in_place": OBJECTS_IN_PLACE.replace("counts.get(word, 0) + 1", "1"),
        # containers right; a division by zero gives 0, not nan
        "data": OBJECTS_DATA.replace('float("nan")', "0.0"),
        # 9 counts as prime: 3 of 4 cases
        "primes": "def is_prime(n):\n    return n == 2 or n > 1 and n % 2 == 1",
    },
    "wrong": {
        "account": (
            "class InsufficientFunds(Exception):\n    pass\n\n\n"
            "class Account:\n    def __init__(self, owner, balance=0):\n"
            "        self.owner = owner\n        self.balance = 0\n\n"
            "    def deposit(self, amount):\n        return amount\n\n"
            "    def withdraw(self, amount):\n        raise ValueError('no')\n\n\n"
            "class SavingsAccount:\n    pass"
        ),
        "generators": (
            "def countdown(n):\n    yield from range(n, -1, -1)\n\n\n"
            "def naturals(start=0):\n    yield from range(start + 1, start + 100)"
        ),
        "callbacks": (
            "def apply_twice(f, x):\n    return f(x)\n\n\n"
            "def sorted_by(xs, key):\n    return sorted(xs)\n\n\n"
            "def for_each(xs, callback):\n    pass\n\n\n"
            "def make_multiplier(k):\n    return lambda x: x\n\n\n"
            "def make_counter():\n    return lambda: 0"
        ),
        "in_place": (
            "def reverse_in_place(lst):\n    return lst[::-1]\n\n\n"
            "def tally(counts, words):\n    return {w: words.count(w) for w in words}"
        ),
        "data": (
            "def div_mod(a, b):\n    return [a // b, a % b]\n\n\ndef utf8(text):\n    return text"
        ),
        "primes": "def is_prime(n):\n    return str(n)",
    },
}

OBJECTS_KINDS = list(OBJECTS_ANSWERS)
SOLUTIONS = {
    c.metadata["nbgrader"]["grade_id"]: c.source
    for c in build_objects_source().cells
    if c.metadata.get("nbgrader", {}).get("solution")
}

OBJECTS_MAX = {
    "test_account": 2,
    "test_account_eq_repr": 1,
    "test_account_errors": 1,
    "test_countdown": 1,
    "test_naturals": 1,
    "test_callbacks": 2,
    "test_closures": 1,
    "test_reverse_in_place": 1,
    "test_tally": 1,
    "test_containers": 1,
    "test_scalars": 1,
    "test_is_prime": 4,
}

# what each kind should score, so a test that errors for both graders alike (a typo in a
# test cell) cannot pass as "equivalent"
OBJECTS_EXPECTED = {
    "correct": dict(OBJECTS_MAX),
    "partial": {
        **OBJECTS_MAX,
        "test_account_eq_repr": 0,
        "test_countdown": 0,
        "test_closures": 0,
        "test_tally": 0,
        "test_scalars": 0,
        "test_is_prime": 3,
    },
    "wrong": dict.fromkeys(OBJECTS_MAX, 0),
}


def make_objects_submission(released, kind: str):
    nb = nbformat.reads(nbformat.writes(released), as_version=4)
    answers = OBJECTS_ANSWERS[kind]
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
        elif cell.metadata.get("nbgrader", {}).get("solution"):
            # an answer not given above is the source's solution, markers and all
            cell.source = SOLUTIONS[gid]
    return nb


@pytest.fixture(scope="module")
def objects_nbgrader_run(tmp_path_factory):
    course = tmp_path_factory.mktemp("objects_course")
    submissions = {
        kind: (lambda released, k=kind: make_objects_submission(released, k))
        for kind in OBJECTS_KINDS
    }
    return nbgrader_grades(course, build_objects_source(), submissions)


def test_objects_student_version_matches_nbgrader_release(objects_nbgrader_run):
    _, released = objects_nbgrader_run
    assert_same_release(student_version(build_objects_source()), released)


@pytest.mark.parametrize("kind", OBJECTS_KINDS)
async def test_objects_same_points_as_nbgrader(objects_nbgrader_run, kind):
    theirs, released = objects_nbgrader_run
    source = build_objects_source()
    validate_source(source)
    assert theirs[kind] == OBJECTS_EXPECTED[kind]
    report = await grade(
        BubblewrapExecutor(cell_time_limit=30), source, make_objects_submission(released, kind)
    )
    ours = {t["name"]: t["points"] for t in report.tests}
    failed = {t["name"]: t["message"] for t in report.tests if not t["passed"]}
    assert ours == theirs[kind], failed
    assert report.score == sum(theirs[kind].values())
    assert report.max_score == sum(OBJECTS_MAX.values())


# --- question types beyond code: choice, fill_in, seeded variants -------------------------
#
# A choice or fill_in question is an nbgrader notebook once prepared (its hidden checks
# generated); a variant is graded against a source holding the learner's seed. nbgrader
# autogrades the same learner notebooks (the student version coursehub serves, answered,
# honest or with its metadata tampered with) against the same prepared source, and gives
# the same points.

from grader.grading.questiontypes import question_type  # noqa: E402
from tests.test_question_types import (  # noqa: E402
    CAPITAL,
    CHOICE_KEY,
    Tampered,
    answered,
    choice_source,
    fill_in_source,
)
from tests.test_variants import expected_total, variant_source  # noqa: E402

FILL_IN_RIGHT = (
    f"answer = {{'capital': {CAPITAL!r}, 'river': 'seine', 'e': '2.7181', 'code': 'ABC-1234'}}"
)
TYPED_ANSWERS = {
    "choice": {
        "right": f"answer = {CHOICE_KEY!r}",
        "wrong": 'answer = "opt-a"',
        "unanswered": "answer = None",
    },
    "multiple": {
        "right": f'answer = ["opt-d", {CHOICE_KEY!r}]',
        "wrong": f"answer = [{CHOICE_KEY!r}]",
        "unanswered": "answer = []",
    },
    "fill_in": {
        "right": FILL_IN_RIGHT,
        "wrong": "answer = {'capital': 'Rome', 'river': 'Seine', 'e': '3', 'code': 'AB-1'}",
        "partial": FILL_IN_RIGHT.replace("'seine'", "'Loire'").replace("2.7181", "2.8"),
    },
}
TYPED_SOURCES = {
    "choice": lambda: ("choice", choice_source()),
    "multiple": lambda: ("choice", choice_source(multiple=True)),
    "fill_in": lambda: ("fill_in", fill_in_source()),
}
TYPED_EXPECTED = {
    "choice": {"right": 2, "wrong": 0, "unanswered": 0},
    "multiple": {"right": 2, "wrong": 0, "unanswered": 0},
    "fill_in": {"right": 5, "wrong": 1, "partial": 2},
}


def typed_learners(name: str) -> dict:
    """student -> the learner's notebook: each answer honest, and tampered with."""
    type_name, source = TYPED_SOURCES[name]()
    student = question_type(type_name).prepare(source).student
    served = question_type(type_name).for_learner(student, 42)
    learners = {}
    for case, line in TYPED_ANSWERS[name].items():
        learners[case] = answered(served, line)
        learners[f"{case}-tampered"] = Tampered.apply(served, line, forged_cells=False)
    return learners


def nbgrader_grades_many(course: Path, sources: dict, submissions: dict) -> dict:
    """Real nbgrader on one assignment holding every notebook of ``sources`` (name ->
    source): each student of ``submissions`` (student -> (notebook name, notebook))
    hands in one of them (nbgrader scores the others 0 without running them). One
    generate_assignment and one autograde for everything: {student: {grade_id:
    points}} of the notebook they handed in."""
    from nbgrader.api import Gradebook

    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        "c.CourseDirectory.course_id = 'course'\n"
        f"c.ClearSolutions.code_stub = {CODE_STUBS!r}\n"
    )
    src = course / "source" / ASSIGNMENT
    src.mkdir(parents=True)
    for name, source in sources.items():
        nbformat.write(source, src / f"{name}.ipynb")
    nbgrader(course, "generate_assignment", ASSIGNMENT)
    for student, (name, nb) in submissions.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{name}.ipynb")
    nbgrader(course, "autograde", ASSIGNMENT)
    os.environ["PATH"] = _path()
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id="course") as gb:
        return {
            student: {
                g.name: float(g.score)
                for g in gb.find_submission_notebook(name, ASSIGNMENT, student).grades
            }
            for student, (name, _) in submissions.items()
        }


VARIANT_SEEDS = {"ann": variant_seed(5, 1), "bob": variant_seed(5, 2)}


def variant_learners(prepared) -> dict:
    """learner -> {case: notebook}: ann's own answer and a general one; bob handing in
    ann's answer, and his own."""
    kind = question_type("notebook")

    def answering(seed_for_copy: int, text: str):
        nb = read_notebook(kind.for_learner(prepared.student, seed_for_copy))
        nb.cells[3].source = text
        return nb

    seeds = VARIANT_SEEDS
    anns = f"total = {expected_total(seeds['ann'])}"
    return {
        "ann": {"own": answering(seeds["ann"], anns), "general": answering(seeds["ann"], "total = sum(numbers)")},
        "bob": {"anns": answering(seeds["bob"], anns),
                "own": answering(seeds["bob"], f"total = {expected_total(seeds['bob'])}")},
    }  # fmt: skip


@pytest.fixture(scope="module")
def typed_nbgrader_run(tmp_path_factory):
    """Every typed question (choice, multiple, fill_in) and the variant question (its
    source seeded for each learner, as nbgrader users would generate one per learner),
    with their learners' notebooks, graded by nbgrader in one run."""
    sources, submissions, typed = {}, {}, {}
    for name, make in TYPED_SOURCES.items():
        type_name, source = make()
        prepared = question_type(type_name).prepare(source)
        learners = typed_learners(name)
        sources[name] = read_notebook(prepared.source)
        submissions |= {f"{name}-{case}": (name, nb) for case, nb in learners.items()}
        typed[name] = (prepared, learners)
    kind = question_type("notebook")
    prepared = kind.prepare(variant_source())
    variants = {}
    for learner, cases in variant_learners(prepared).items():
        source = kind.source_for(read_notebook(prepared.source), VARIANT_SEEDS[learner])
        sources[f"variant_{learner}"] = source
        submissions |= {
            f"variant_{learner}-{case}": (f"variant_{learner}", nb) for case, nb in cases.items()
        }
        variants[learner] = (source, cases)
    theirs = nbgrader_grades_many(tmp_path_factory.mktemp("typed"), sources, submissions)
    return typed, variants, theirs


@pytest.mark.parametrize("name", list(TYPED_SOURCES))
async def test_choice_and_fill_in_same_points_as_nbgrader(typed_nbgrader_run, name):
    typed, _, theirs = typed_nbgrader_run
    prepared, learners = typed[name]
    kind = question_type(TYPED_SOURCES[name]()[0])
    source = kind.source_for(kind.read_source(prepared.source), 42)
    executor = BubblewrapExecutor(cell_time_limit=30)
    for case, learner in learners.items():
        report = await kind.grade(executor, source, kind.read_answer(learner))
        ours = {t["name"]: t["points"] for t in report.tests}
        assert ours == theirs[f"{name}-{case}"], case
        assert report.score == TYPED_EXPECTED[name][case.removesuffix("-tampered")], case
        assert report.max_score == prepared.max_score


async def test_variants_same_points_as_nbgrader(typed_nbgrader_run):
    _, variants, theirs = typed_nbgrader_run
    expected = {("ann", "own"): 2, ("ann", "general"): 2, ("bob", "anns"): 0, ("bob", "own"): 2}
    executor = BubblewrapExecutor(cell_time_limit=30)
    for name, (source, cases) in variants.items():
        for case, learner in cases.items():
            report = await grade(executor, source, learner)
            their_points = theirs[f"variant_{name}-{case}"]
            assert {t["name"]: t["points"] for t in report.tests} == their_points, (name, case)
            assert report.score == expected[name, case], (name, case)
