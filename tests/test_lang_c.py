"""C graded like Python: coursehub's C kernel, the C driver pair, the sample questions.

- the rules of a C notebook (definitions accumulate, statements run as ``main``) are one
  block of code shared by the kernel and both drivers (checked identical here), and the
  kernel follows them in a real Jupyter session;
- the trusted driver's stubs come only from prototypes whose every token it checked;
- the sample questions' reference solutions score full, wrong answers less, the released
  stub nothing, in bubblewrap (and in Docker: tests/test_lang_c_docker.py);
- hostile answers cannot forge a verdict, read hidden tests, escape or exhaust the
  sandbox (here in bubblewrap; the same cases run in Docker there).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import socket
import sys
from pathlib import Path

import nbformat
import pytest
import pytest_asyncio

from grader.executors.bubblewrap import BubblewrapExecutor
from grader.grading.languages import LANGUAGES
from grader.grading.run import grade

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "extensions"))
from coursehub_c_kernel import cunit  # noqa: E402

DRIVERS = ROOT / "grader" / "sandbox" / "drivers" / "c"
MODULE = ROOT / "course_content" / "python-foundations" / "c-basics"
QUESTIONS = ["sum-of-array", "reverse-in-place", "count-vowels"]
WRONG = json.loads(
    (ROOT / "course_content" / "python-foundations" / "checks" / "wrong_answers.json").read_text()
)
SECRET = "secret-hidden-marker-7x9q"
KERNELSPEC = {"name": "coursehub-c", "display_name": "C", "language": "c"}

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is missing")
needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")


def test_both_drivers_get_the_kernels_rules_as_a_file_beside_them():
    """One copy of the rules: the kernel's module travels with each driver spec."""
    from grader.grading.languages import LANGUAGES

    kernel = (ROOT / "extensions/coursehub_c_kernel/cunit.py").read_text()
    for role in ("learner", "trusted"):
        spec = LANGUAGES["c"].driver_spec(role)
        assert spec["files"] == {"cunit.py": kernel}
        assert "from cunit import" in spec["source"]


# -- the rules, pure -------------------------------------------------------------------


@needs_gcc
def test_cells_accumulate_and_redefinitions_replace(tmp_path):
    cells = cunit.Cells(str(tmp_path))

    def step(source, label):
        plan = cells.plan(source, label)
        if plan.unit is not None:
            cells.unit = plan.unit
        return plan

    assert step("#include <stdio.h>\nint sq(int x) { return x * x; }", "a").kind == "definitions"
    assert step("int sq(int x) { return x + 1; }\nint total = 3;", "b").kind == "definitions"
    assert [item[0] for item in cells.unit.items] == ["function sq", "variable total"]
    plan = step('printf("%d\\n", sq(2) + total);', "c")
    assert plan.kind == "statements"
    assert "return x + 1" in plan.program and "return x * x" not in plan.program
    mixed = step('int twice(int a) { return 2 * a; }\nprintf("%d", twice(4));', "d")
    assert mixed.kind == "statements" and "function twice" in cells.unit.keys()
    assert step("int main(void) { return sq(1); }", "e").kind == "program"
    assert "function main" not in cells.unit.keys()
    broken = step("int broken(int a) { return a +; }", "f")
    assert broken.kind == "error" and "f:1:" in broken.diagnostics
    assert step("undefined_function(3);", "g").kind == "error"


@pytest.mark.parametrize(
    "header, stub",
    [
        ("int sum(const int *xs, int n)", "int sum(const int *a0, int a1)"),
        ("void reverse(int xs[], size_t n)", "void reverse(int *a0, __SIZE_TYPE__ a1)"),
        ("char *greet(const char *name)", "char * greet(const char *a0)"),
        ("bool even(unsigned long long n)", "_Bool even(unsigned long long a0)"),
        ("void shout(char *s)", "void shout(char *a0)"),
        ("long int f(void)", "long f(void)"),
    ],
)
def test_supported_prototypes(header, stub):
    assert cunit.parse_prototype(header).c() == stub


@pytest.mark.parametrize(
    "header",
    [
        "int f(struct point p)",
        "int *f(int n)",
        "int f(int *p)",  # a pointer with no length
        "int f(int **p, int n)",
        "static int f(int x)",
        "int __f(int x)",
        'int f(int x); system("id")',
        "int f(int (*callback)(int), int n)",
        "int f(int x) __attribute__((constructor))",
        "int f(int x, ...)",
        "int f(volatile int x)",
        "int f(int x /* */)",
        "int f(int x\n#define assert(x)\n)",
    ],
)
def test_prototypes_outside_the_whitelist_are_refused(header):
    with pytest.raises(cunit.PrototypeError):
        cunit.parse_prototype(header)


def test_tokens_are_checked_against_their_type():
    sig = cunit.parse_prototype("int sum(const int *xs, int n)")
    assert cunit.decode_token("a1,2,-3", sig.params[0], count=3) == [1, 2, -3]
    for bad in ("a1,2", "a1,2,3,4", "i3", "a1,2,x", "a1,2,99999999999"):
        with pytest.raises(ValueError):
            cunit.decode_token(bad, sig.params[0], count=3)
    assert cunit.decode_token("i-2147483648", None, "int") == -(2**31)
    for bad in ("i2147483648", "u3", "d0x1p+0", "i", "i1 2"):
        with pytest.raises(ValueError):
            cunit.decode_token(bad, None, "int")
    assert cunit.decode_token("d" + (2.5).hex(), None, "double") == 2.5
    with pytest.raises(ValueError):
        cunit.decode_token("s6100", None, "string")  # a NUL byte inside


# -- the kernel, in a real Jupyter session ---------------------------------------------


@pytest.fixture(scope="module")
def c_kernelspec(tmp_path_factory):
    """A JUPYTER_PATH holding the coursehub-c kernelspec, run from this checkout."""
    path = tmp_path_factory.mktemp("jupyter")
    spec = json.loads((ROOT / "extensions/coursehub_c_kernel/kernelspec/kernel.json").read_text())
    spec["argv"][0] = sys.executable
    spec["env"] = {"PYTHONPATH": str(ROOT / "extensions")}
    (path / "kernels" / "coursehub-c").mkdir(parents=True)
    (path / "kernels" / "coursehub-c" / "kernel.json").write_text(json.dumps(spec))
    return path


@needs_gcc
def test_the_kernel_runs_cells_as_one_program(c_kernelspec, monkeypatch):
    from jupyter_client.manager import start_new_kernel

    monkeypatch.setenv("JUPYTER_PATH", str(c_kernelspec))
    manager, client = start_new_kernel(kernel_name="coursehub-c")

    def run(code):
        seen = []

        def hook(msg):
            if msg["msg_type"] in ("stream", "error"):
                seen.append((msg["msg_type"], msg["content"]))

        reply = client.execute_interactive(code, output_hook=hook, timeout=60)
        return reply["content"], seen

    try:
        reply, seen = run("#include <stdio.h>\nint sq(int x) { return x * x; }")
        assert reply["status"] == "ok" and seen == []
        reply, seen = run('printf("%d\\n", sq(7));')
        assert reply["status"] == "ok" and seen == [("stream", {"name": "stdout", "text": "49\n"})]
        run("int sq(int x) { return x + 1; }")  # fixed and run again: replaces
        assert run('printf("%d\\n", sq(7));')[1][0][1]["text"] == "8\n"
        reply, seen = run("int broken( {")
        assert reply["status"] == "error" and reply["ename"] == "CompileError"
        assert "error" in reply["traceback"][0] and seen[-1][0] == "error"
        reply, seen = run("#include <assert.h>\nassert(sq(2) == 4);")
        assert reply["ename"] == "Aborted" and "Assertion" in seen[0][1]["text"]
        assert run("int *p = 0; *p = 1;")[0]["ename"] == "SegmentationFault"
        info = client.kernel_info(reply=True)["content"]
        assert info["language_info"]["name"] == "c"
    finally:
        client.stop_channels()
        manager.shutdown_kernel()  # a shutdown request: the kernel removes its directory


# -- grading: notebooks ---------------------------------------------------------------


def load(question: str):
    return nbformat.read(MODULE / f"{question}.ipynb", as_version=4)


def with_answer(source, answers: dict):
    nb = copy.deepcopy(source)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nb


def stubbed(source):
    """The released version's answers, made the way nbgrader makes them (the region
    replaced by the language's code stub)."""
    stub = LANGUAGES["c"].code_stub
    nb = copy.deepcopy(source)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = re.sub(
                r"( *)// BEGIN SOLUTION\n.*?// END SOLUTION",
                lambda m: "\n".join(m.group(1) + line for line in stub.split("\n")),
                cell.source,
                flags=re.S,
            )
    return nb


def c_notebook(solution: str, tests: list[tuple[str, str, float]]):
    """A C question: one answer cell (grade_id "answer") and test cells of a visible and
    a hidden part."""
    meta = lambda grade_id, **kw: {  # noqa: E731
        "nbgrader": {
            "grade_id": grade_id,
            "schema_version": 3,
            "locked": True,
            "grade": False,
            "solution": False,
            **kw,
        }
    }
    cells = [nbformat.v4.new_markdown_cell("# A C question", metadata=meta("intro"))]
    cells.append(
        nbformat.v4.new_code_cell(solution, metadata=meta("answer", solution=True, locked=False))
    )
    for index, (visible, hidden, points) in enumerate(tests):
        source = f"#include <assert.h>\n#include <string.h>\n{visible}\n"
        if hidden:
            source += f"// BEGIN HIDDEN TESTS\n{hidden}\n// END HIDDEN TESTS"
        cells.append(
            nbformat.v4.new_code_cell(
                source, metadata=meta(f"test-{index}", grade=True, points=points)
            )
        )
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "c"}
    return nb


REFERENCE = """#include <stdio.h>
#include <ctype.h>
#include <stdlib.h>
int answer(int x) {
    // BEGIN SOLUTION
    return 2 * x;
    // END SOLUTION
}
char *shout(const char *s) {
    static char out[256];
    size_t i = 0;
    for (; s[i] && i < 250; i++) out[i] = (char)toupper((unsigned char)s[i]);
    out[i++] = '!';
    out[i] = 0;
    return out;
}
int steady(void) { return 7; }
"""
ATTACK_TESTS = [
    ("assert(answer(2) == 4);", f"// {SECRET}\nassert(answer(21) == 42);", 2),
    ('assert(strcmp(shout("hi"), "HI!") == 0);', 'assert(strcmp(shout("c"), "C!") == 0);', 1),
    ("assert(steady() == 7);", "", 1),
]
ATTACK_SOURCE = c_notebook(REFERENCE, ATTACK_TESTS)
REST = REFERENCE[REFERENCE.index("char *shout") :]


def attack(code: str, rest: str = REST) -> str:
    """A learner answer: ``code`` (defining ``answer`` its way) and the rest right."""
    return "#include <stdio.h>\n#include <stdlib.h>\n#include <ctype.h>\n#include <unistd.h>\n" + (
        code + "\n" + rest
    )


# Each gives the right answer only where the sandbox failed; none may score full.
ATTACKS = {
    "prints pass markers": attack(
        'int answer(int x) { printf("ok\\npassed\\n{\\"done\\": {\\"status\\": \\"ok\\"}}\\n");'
        " fflush(stdout); return 0; }"
    ),
    "exit(0) in the function": attack("int answer(int x) { exit(0); }"),
    "_exit(0) in the function": attack("int answer(int x) { _exit(0); }"),
    "an atexit handler": attack(
        "static void bye(void) { _exit(0); }\nint answer(int x) { atexit(bye); return x; }"
    ),
    "#define assert": attack("#define assert(e) ((void)0)\nint answer(int x) { return 0; }"),
    "a learner strcmp": attack(
        "int answer(int x) { return 0; }",
        "int strcmp(const char *a, const char *b) { (void)a; (void)b; return 0; }\n"
        'char *shout(const char *s) { (void)s; return "wrong"; }\nint steady(void) { return 7; }',
    ),
    "overwrites its memory": attack(
        "int answer(int x) { volatile char *p = (volatile char *)&x;"
        " for (long i = -100000; i < 100000; i++) p[i] = 0; return 2 * x; }"
    ),
    "fake protocol lines on fds 1-9": attack(
        "int answer(int x) { for (int fd = 1; fd < 10; fd++) dprintf(fd,"
        ' "{\\"done\\": {\\"status\\": \\"ok\\"}}\\n{\\"reply\\": {\\"tokens\\": [\\"i%d\\"]}}'
        '\\nok i%d\\n", 2 * x, 2 * x); return 0; }'
    ),
    "reads hidden tests from /proc, /tmp and the host": attack(
        r"""#include <dirent.h>
#include <string.h>
static int found;
static void look(const char *path, int depth) {
    char buf[65536]; FILE *f = fopen(path, "rb");
    if (f) { size_t n = fread(buf, 1, sizeof buf - 1, f); fclose(f);
             for (size_t i = 0; i + 10 < n; i++)
                 if (!memcmp(buf + i, "secret-hid", 10)) found = 1; }
    if (depth <= 0) return;
    DIR *d = opendir(path); if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char next[4096]; snprintf(next, sizeof next, "%s/%s", path, e->d_name);
        look(next, depth - 1);
    }
    closedir(d);
}
int answer(int x) {
    const char *places[] = {"/tmp", "/proc", "/work", "/root", "/home", "/var/tmp", "/dev/shm"};
    for (int i = 0; i < 7; i++) look(places[i], 3);
    DIR *d = opendir("/proc"); struct dirent *e;
    while (d && (e = readdir(d))) { char p[300];
        snprintf(p, sizeof p, "/proc/%s/cmdline", e->d_name); look(p, 0);
        snprintf(p, sizeof p, "/proc/%s/environ", e->d_name); look(p, 0); }
    return found ? 2 * x : -1;
}"""
    ),
    "writes outside /tmp": attack(
        'int answer(int x) { FILE *f = fopen("/usr/coursehub-pwned", "w");'
        ' if (!f) f = fopen("/etc/coursehub-pwned", "w"); return f ? 2 * x : -1; }'
    ),
    "infinite loop": attack("int answer(int x) { for (;;) {} return x; }"),
    "huge allocation": attack(
        "#include <string.h>\nint answer(int x) { for (;;) { char *p = malloc(64 << 20);"
        " memset(p, 1, 64 << 20); } return x; }"
    ),
    "fork bomb": attack("int answer(int x) { for (;;) fork(); return x; }"),
    "output flood": attack(
        'int answer(int x) { for (;;) printf("spam spam spam spam spam spam\\n"); return x; }'
    ),
    "a statement cell that exits 0 with markers": attack("int answer(int x) { return 0; }")
    + '\nprintf("ok\\n"); fflush(stdout); _exit(0);',
}


def network_attack(port: int) -> str:
    return attack(
        "#include <sys/socket.h>\n#include <netinet/in.h>\n#include <arpa/inet.h>\n"
        "int answer(int x) { int s = socket(AF_INET, SOCK_STREAM, 0);"
        " struct sockaddr_in a = {0}; a.sin_family = AF_INET;"
        f" a.sin_port = htons({port}); a.sin_addr.s_addr = htonl(0x7f000001);"
        " return s >= 0 && connect(s, (struct sockaddr *)&a, sizeof a) == 0 ? 2 * x : -1; }"
    )


def assert_no_secret(report):
    text = json.dumps(report.tests)
    assert SECRET not in text and "42" not in text, text


async def check_attack(executor, name: str, answer: str):
    report = await grade(executor, ATTACK_SOURCE, with_answer(ATTACK_SOURCE, {"answer": answer}))
    assert report.max_score == 4
    # `answer`'s points are never given (the other functions are right)
    assert report.score <= 2 and report.tests[0]["points"] == 0, (name, report.tests)
    assert not report.tests[0]["passed"], (name, report.tests)
    assert_no_secret(report)
    return report


# -- in bubblewrap ---------------------------------------------------------------------

in_module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bwrap():
    sandbox = BubblewrapExecutor(time_limit=60, cell_time_limit=5)
    yield sandbox
    await sandbox.close()


@needs_bwrap
@in_module_loop
@pytest.mark.parametrize("question", QUESTIONS)
async def test_sample_questions(bwrap, question):
    source = load(question)
    report = await grade(bwrap, source, source)
    assert report.score == report.max_score > 0, report.tests
    assert any(t["hidden"] for t in report.tests)
    for wrong in WRONG[f"c-basics/{question}"]:
        report = await grade(bwrap, source, with_answer(source, wrong))
        assert 0 <= report.score < report.max_score, (wrong, report.tests)
    report = await grade(bwrap, source, stubbed(source))
    assert report.score == 0, report.tests


@needs_bwrap
@in_module_loop
async def test_reference_of_the_attack_question_scores_full(bwrap):
    report = await grade(bwrap, ATTACK_SOURCE, ATTACK_SOURCE)
    assert report.score == report.max_score == 4, report.tests


@needs_bwrap
@in_module_loop
@pytest.mark.parametrize("name", list(ATTACKS))
async def test_hostile_answers_in_bubblewrap(bwrap, name):
    report = await check_attack(bwrap, name, ATTACKS[name])
    if name == "infinite loop":
        assert "time_limit" in report.tests[0]["message"], report.tests
    if name == "output flood":
        assert "output_limit" in report.tests[0]["message"], report.tests
    if name == "huge allocation":
        assert "MemoryError" in report.tests[0]["message"], report.tests
    assert not Path("/usr/coursehub-pwned").exists() and not Path("/etc/coursehub-pwned").exists()


@needs_bwrap
@in_module_loop
async def test_no_network_in_bubblewrap(bwrap):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        await check_attack(bwrap, "network", network_attack(listener.getsockname()[1]))


@needs_bwrap
@in_module_loop
async def test_later_cells_behave_after_a_crash(bwrap):
    """A learner function that crashes fails its test; the next test cells still run
    against the learner's other functions."""
    answer = attack("int answer(int x) { int *p = 0; return *p + x; }")
    report = await grade(bwrap, ATTACK_SOURCE, with_answer(ATTACK_SOURCE, {"answer": answer}))
    assert [t["passed"] for t in report.tests] == [False, True, True], report.tests
    assert "SegmentationFault" in report.tests[0]["message"]


@needs_bwrap
@in_module_loop
async def test_hidden_failure_says_only_its_error_name(bwrap):
    answer = attack("int answer(int x) { return x == 2 ? 4 : 0; }")
    report = await grade(bwrap, ATTACK_SOURCE, with_answer(ATTACK_SOURCE, {"answer": answer}))
    first = report.tests[0]
    assert not first["passed"] and first["hidden"]
    assert first["message"] == "hidden test failed: AssertionError"
    visible = await grade(
        bwrap,
        ATTACK_SOURCE,
        with_answer(ATTACK_SOURCE, {"answer": attack("int answer(int x) { return 0; }")}),
    )
    assert "assert(answer(2) == 4) failed" in visible.tests[0]["message"]


def test_driver_files_are_what_the_registry_starts():
    c = LANGUAGES["c"]
    assert c.kernels == ("coursehub-c",)
    assert c.driver_source("learner") == (DRIVERS / "learner.py").read_text()
    assert c.driver_source("trusted") == (DRIVERS / "trusted.py").read_text()
    assert os.path.exists(ROOT / "extensions/coursehub_c_kernel/kernelspec/kernel.json")
