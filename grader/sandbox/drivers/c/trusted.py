"""coursehub's C trusted driver: runs the test cells of a C question. Runs INSIDE the
trusted sandbox with Debian's /usr/bin/python3 -I and its standard library only; it
never compiles, links or loads learner code.

Each test cell becomes a test program: the source's setup ``#include`` lines, the
definitions earlier test cells made, this cell (its own definitions kept for later
cells, its statements as ``main``), and a *stub* for every learner function the cell
names. The stubs are generated here from the learner's function headers, each token of
which is checked against a whitelist (``parse_prototype`` in the shared block: scalar
types, ``const char *`` strings in, ``char *`` strings, pointer+length arrays; never
learner text in the program). A stub sends its arguments by value to this driver, which
checks them, asks the learner driver to call the function and checks the answer against
the prototype before the stub returns it (arrays and ``char *`` strings without
``const`` are copied back). Names the standard headers declare are never stubbed: a
learner's ``strlen`` or ``abs`` is not what a test calls.

The verdict is this driver's alone: a test cell passes when its program exits with
status 0. ``assert`` (glibc's ``__assert_fail``, replaced in the test program) reports
the failing expression and line; a learner function that crashed, exited or ran out
of time fails the call that made it (located by the call's return address and the
program's line table); any other non-zero exit or signal fails the cell. A failure is
``hidden`` when its line is in a hidden segment, or, where no line is known, whenever
the cell has a hidden segment.

Protocol: fd 3 in, fd 4 out, one JSON object a line (ops "setup" and "test"; questions
to the learner as ``{"ask": ...}``, answered ``{"reply": ...}`` or ``{"lost": reason}``).
"""

import json
import os
import re
import subprocess
import sys

# the C kernel's rules (coursehub_c_kernel/cunit.py), sent along with this driver and
# written beside it; -I leaves the script's directory off sys.path
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cunit import (  # noqa: E402
    C_KEYWORDS,
    CODEC_C,
    CODEC_DECLARATIONS,
    GCC,
    IDENTIFIER,
    MAX_PROTOTYPE,
    SCALARS,
    Cells,
    CompileError,
    Parameter,
    PrototypeError,
    Unit,
    decode_token,
    describe_exit,
    encode_token,
    hoist_includes,
    item_key,
    parse_prototype,
    scalar_letter,
    strip_comments,
    top_level_items,
)

STANDARD_HEADERS = (
    "assert.h",
    "ctype.h",
    "errno.h",
    "float.h",
    "inttypes.h",
    "limits.h",
    "math.h",
    "stdarg.h",
    "stdbool.h",
    "stddef.h",
    "stdint.h",
    "stdio.h",
    "stdlib.h",
    "string.h",
    "time.h",
    "complex.h",
    "fenv.h",
    "iso646.h",
    "locale.h",
    "setjmp.h",
    "signal.h",
    "wchar.h",
    "wctype.h",
    "unistd.h",
    "strings.h",
)
LEARNER_ERRORS = {
    "SegmentationFault",
    "Aborted",
    "ArithmeticError",
    "Killed",
    "ExitStatus",
    "MemoryError",
    "ProgramExit",
    "CompileError",
}
STUB_LABEL = "coursehub stubs"
TEST_LABEL = "test"
TEST_FLAGS = ("-g1", "-no-pie", "-fno-optimize-sibling-calls")
ASSERT_EXIT, FAILED_CALL_EXIT, BROKEN_PIPE_EXIT = 72, 71, 70
TEST_SUPPORT = (
    CODEC_C
    + r"""
static int ch_request = -1;
static FILE *ch_reply;
__attribute__((constructor)) static void ch_init(void) {
    const char *fds = getenv("COURSEHUB_C_FDS");
    int request, reply;
    if (fds && sscanf(fds, "%d %d", &request, &reply) == 2) {
        ch_request = request;
        ch_reply = fdopen(reply, "r");
    }
}
void __ch_begin(const char *name, void *where) {
    char address[40];
    __ch_reset();
    __ch_put("call ");
    __ch_put(name);
    snprintf(address, sizeof address, " %p", where);
    __ch_put(address);
}
void __ch_call(void) {
    static char *line;
    static size_t size;
    fflush(stdout);
    fflush(stderr);
    if (ch_request < 0 || !ch_reply || __ch_write_line(ch_request) < 0
        || getline(&line, &size, ch_reply) <= 0)
        _exit(70);
    __ch_read(line);
    if (strcmp(__ch_token(), "ok") != 0) _exit(71);
}
void __assert_fail(const char *assertion, const char *file, unsigned int line,
                   const char *function) {
    (void)function;
    fflush(stdout);
    fflush(stderr);
    __ch_reset();
    __ch_put("assert");
    __ch_arg_s(file);
    __ch_arg_u(line);
    __ch_arg_s(assertion);
    if (ch_request >= 0) __ch_write_line(ch_request);
    _exit(72);
}
"""
)
STUB_DECLARATIONS = CODEC_DECLARATIONS + (
    "void __ch_begin(const char *, void *); void __ch_call(void);\n"
)


class Failure(Exception):
    """A test cell's failure: an error name, a message, and the test line (or None)."""

    def __init__(self, ename, evalue, line=None, traceback=None):
        super().__init__(evalue)
        self.ename, self.evalue, self.line = ename, evalue, line
        self.traceback = traceback or [f"{ename}: {evalue}"]


def stub_source(signature) -> str:
    """The C of a stub: arguments out as tokens, the checked answer back in."""
    params = signature.params
    lines = [
        f"__attribute__((noinline)) {signature.c()} {{",
        f'    __ch_begin("{signature.name}", __builtin_return_address(0));',
    ]
    for i, param in enumerate(params):
        if param.kind == "scalar":
            lines.append(f"    __ch_arg_{scalar_letter(param.ctype)}(a{i});")
        elif param.kind in ("string", "text"):
            lines.append(f"    __ch_arg_s(a{i});")
        else:
            letter = scalar_letter(param.ctype)
            lines.append(
                f"    {{ long long n = a{i + 1} > 0 ? (long long)a{i + 1} : 0; __ch_arg_array();"
                f" for (long long k = 0; k < n; k++) __ch_elem_{letter}(k, a{i}[k]); }}"
            )
    lines.append("    __ch_call();")
    if signature.returns == "void":
        lines.append("    __ch_token();")
    elif signature.returns == "string":
        lines.append("    char *result = __ch_next_s();")
    else:
        spelling = SCALARS[signature.returns][2]
        letter = scalar_letter(signature.returns)
        lines.append(f"    {spelling} result = ({spelling})__ch_next_{letter}();")
    for i, param in enumerate(params):
        if not param.copied_back:
            continue
        if param.kind == "text":
            lines.append(f"    {{ char *t = __ch_next_s(); if (t && a{i}) strcpy(a{i}, t); }}")
        else:
            spelling = SCALARS[param.ctype][2]
            letter = scalar_letter(param.ctype)
            lines.append(
                f"    {{ long long n = __ch_next_array(); for (long long k = 0; k < n; k++)"
                f" a{i}[k] = ({spelling})__ch_element_{letter}(); }}"
            )
    if signature.returns != "void":
        lines.append("    return result;")
    lines.append("}")
    return "\n".join(lines) + "\n"


class TrustedDriver:
    def __init__(self, workdir: str, inbox, outbox):
        self.cells = Cells(workdir, support=TEST_SUPPORT, link=())
        self.inbox, self.outbox = inbox, outbox
        self.library = {}  # includes -> the names they declare

    # -- talking to the learner ------------------------------------------------------

    def send(self, document: dict) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        self.outbox.write(json.dumps(document).encode("utf-8") + b"\n")
        self.outbox.flush()

    def ask(self, msg: dict):
        """The learner driver's reply, or a Failure when the learner is gone."""
        self.send({"ask": msg})
        line = self.inbox.readline()
        try:
            answer = json.loads(line)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise SystemExit(0)  # the parent is gone
        if "lost" in answer:
            reason = answer["lost"] if isinstance(answer["lost"], str) else "learner_exit"
            raise Failure("error", f"the learner's program ended ({reason[:40]})")
        return answer.get("reply")

    # -- names ---------------------------------------------------------------------------

    def library_names(self, includes) -> set:
        """Every identifier the standard headers and the program's includes declare."""
        key = tuple(includes)
        if key not in self.library:
            headers = "".join(f"#include <{h}>\n" for h in STANDARD_HEADERS)
            names = set()
            for text in (headers + "\n".join(includes) + "\n", headers):
                try:
                    done = subprocess.run(
                        [GCC, "-std=c11", "-E", "-P", "-dD", "-"],
                        input=text.encode(),
                        capture_output=True,
                        timeout=60,
                        cwd=self.cells.workdir,
                    )
                except (OSError, subprocess.TimeoutExpired):
                    continue
                if done.returncode == 0:
                    names = set(IDENTIFIER.findall(done.stdout.decode("utf-8", "replace")))
                    break
            self.library[key] = names
        return self.library[key]

    def learner_functions(self) -> dict:
        reply = self.ask({"functions": True})
        functions = reply.get("functions") if isinstance(reply, dict) else None
        if not isinstance(functions, dict) or len(functions) > 1000:
            return {}
        return {
            name: header
            for name, header in functions.items()
            if isinstance(name, str)
            and IDENTIFIER.fullmatch(name)
            and isinstance(header, str)
            and len(header) <= MAX_PROTOTYPE
        }

    # -- calls from the test program --------------------------------------------------

    def answer_call(self, words, signatures, state) -> str:
        """One call from a stub: checked, asked, checked again; the line for the stub."""
        name = words[1] if len(words) > 2 else ""
        signature = signatures.get(name)
        if signature is None or len(words) != 3 + len(signature.params):
            raise Failure("error", "a malformed call from the test program")
        where = words[2]
        values = []
        try:
            for param, token in zip(signature.params, words[3:], strict=True):
                values.append(decode_token(token, param))
        except ValueError as e:
            state["failure"] = Failure("error", f"an argument of {name} cannot be sent: {e}")
            state["where"] = where
            return "fail"
        args = [encode_token(v, p) for v, p in zip(values, signature.params, strict=True)]
        reply = self.ask({"call": name, "args": args, "fresh": state["fresh"]})
        state["fresh"] = False
        state["where"] = where
        if not isinstance(reply, dict):
            state["failure"] = Failure("error", f"{name}: no answer")
            return "fail"
        if reply.get("missing"):
            state["failure"] = Failure("NameError", f"the function {name} is not defined")
            return "fail"
        if "error" in reply:
            error = reply["error"] if isinstance(reply["error"], dict) else {}
            ename = error.get("ename") if error.get("ename") in LEARNER_ERRORS else "error"
            evalue = error.get("evalue") if isinstance(error.get("evalue"), str) else ""
            state["failure"] = Failure(ename, f"{name}: {evalue[:300]}")
            return "fail"
        tokens = reply.get("tokens")
        try:
            return "ok " + " ".join(self.checked_result(signature, values, tokens))
        except ValueError as e:
            state["failure"] = Failure("error", f"{name} returned something unexpected: {e}")
            return "fail"

    def checked_result(self, signature, values, tokens) -> list[str]:
        """The learner's answer, decoded by the prototype and encoded again by us."""
        copied = [i for i, p in enumerate(signature.params) if p.copied_back]
        if not isinstance(tokens, list) or len(tokens) != 1 + len(copied):
            raise ValueError("a wrong number of values")
        if signature.returns == "void":
            if tokens[0] != "v":
                raise ValueError("a value from a void function")
            out = ["v"]
        else:
            result = decode_token(tokens[0], None, signature.returns)
            out = [encode_token(result, None, signature.returns)]
        for index, token in zip(copied, tokens[1:], strict=True):
            param = signature.params[index]
            if param.kind == "text":
                text = decode_token(token, param)
                if text is None or values[index] is None or len(text) > len(values[index]):
                    raise ValueError("a string copied back longer than it was")
                out.append(encode_token(text, param))
            else:
                array = decode_token(token, param, count=len(values[index]))
                out.append(encode_token(array, param))
        return out

    # -- cells -------------------------------------------------------------------------

    def setup(self, source: str) -> dict:
        includes, _rest = hoist_includes(source)
        self.cells.unit = self.cells.unit.with_includes(includes)
        return {"status": "ok"}

    def test(self, segments) -> dict:
        lines, hidden_lines = [], set()
        for segment in segments:
            text = str(segment.get("source", "")).rstrip("\n")
            first = len(lines) + 1
            lines.extend(text.split("\n"))
            if segment.get("hidden"):
                hidden_lines.update(range(first, len(lines) + 1))
        source = "\n".join(lines)
        any_hidden = bool(hidden_lines)
        try:
            self.run_test(source)
        except Failure as failure:
            lines_said = getattr(failure, "all_lines", None) or (
                [failure.line] if failure.line else []
            )
            hidden = any(line in hidden_lines for line in lines_said) if lines_said else any_hidden
            return {
                "status": "error",
                "ename": failure.ename,
                "evalue": failure.evalue,
                "traceback": failure.traceback,
                "hidden": hidden,
            }
        return {"status": "ok"}

    def run_test(self, source: str) -> None:
        base = self.cells.unit
        includes, rest = hoist_includes(source)
        library = self.library_names([*base.includes, *includes])
        code = strip_comments(rest)
        defined = {key.split(" ", 1)[1] for key in base.keys()}
        for _line, piece in top_level_items(rest):
            key = item_key(piece)
            if key:
                defined.add(key.split(" ", 1)[1])
        wanted = set(IDENTIFIER.findall(code)) - defined - library - C_KEYWORDS
        signatures, stubs = {}, []
        if wanted:
            for name, header in self.learner_functions().items():
                if name not in wanted:
                    continue
                try:
                    signature = parse_prototype(header)
                except PrototypeError as e:
                    raise Failure("CompileError", f"a test cannot call {name}: {e}") from None
                if signature.name != name:
                    continue
                signatures[name] = signature
                stubs.append(stub_source(signature))
        stub_item = (None, 1, STUB_DECLARATIONS + "".join(stubs), STUB_LABEL)
        self.cells.unit = Unit(base.includes, (stub_item, *base.items))
        try:
            plan = self.cells.plan(source, TEST_LABEL)
        finally:
            self.cells.unit = base
        if plan.kind == "error":
            raise self.compile_failure(plan.diagnostics)
        kept = [item for item in plan.unit.items if item[3] != STUB_LABEL]
        self.cells.unit = Unit(plan.unit.includes, kept)
        if plan.kind == "definitions":
            return
        try:
            executable = self.cells.build(plan.program, "test", TEST_FLAGS)
        except CompileError as e:
            raise self.compile_failure(e.diagnostics) from None
        try:
            self.run_program(executable, signatures)
        finally:
            os.unlink(executable)

    def compile_failure(self, diagnostics: str) -> Failure:
        label = re.escape(TEST_LABEL)
        lines = [int(m.group(1)) for m in re.finditer(rf"^{label}:(\d+):", diagnostics, re.M)]
        missing = re.search(r"implicit declaration of function [‘'](\w+)[’']", diagnostics)
        missing = missing or re.search(r"[‘'](\w+)[’'] undeclared", diagnostics)
        if missing:
            ename, evalue = "NameError", f"name '{missing.group(1)}' is not defined"
        else:
            ename, evalue = "CompileError", "the test cell does not compile"
        trace = [
            line for line in diagnostics.splitlines() if not line.startswith("In file included")
        ]
        trace = trace[:100]
        # a diagnostic on a hidden line makes the failure hidden (first line decides
        # only when every line is visible)
        line = lines[0] if lines else None
        failure = Failure(ename, evalue, line, trace)
        failure.all_lines = lines
        return failure

    def run_program(self, executable: str, signatures: dict) -> None:
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        env = dict(os.environ, COURSEHUB_C_FDS=f"{request_write} {reply_read}")
        sys.stdout.flush()
        sys.stderr.flush()
        process = subprocess.Popen(
            [executable],
            stdin=subprocess.DEVNULL,
            env=env,
            pass_fds=(request_write, reply_read),
            cwd=self.cells.workdir,
        )
        os.close(request_write)
        os.close(reply_read)
        state = {"fresh": True, "failure": None, "where": None, "assert": None}
        requests = os.fdopen(request_read, "rb")
        replies = os.fdopen(reply_write, "wb")
        try:
            for raw in requests:
                words = raw.decode("ascii", "replace").split()
                if not words:
                    continue
                if words[0] == "call":
                    try:
                        line = self.answer_call(words, signatures, state)
                    except Failure as failure:
                        state["failure"] = failure
                        line = "fail"
                    try:
                        replies.write(line.encode() + b"\n")
                        replies.flush()
                    except OSError:
                        pass
                elif words[0] == "assert" and len(words) == 4:
                    state["assert"] = words[1:]
        finally:
            requests.close()
            try:
                replies.close()
            except OSError:
                pass
            returncode = process.wait()
        self.verdict(executable, returncode, state)

    def verdict(self, executable, returncode, state) -> None:
        if returncode == ASSERT_EXIT and state["assert"]:
            file_token, line_token, expression = state["assert"]
            try:
                where = (decode_token(file_token, Parameter("string")) or b"").decode()
                line = int(line_token[1:])
                text = (decode_token(expression, Parameter("string")) or b"").decode()
            except ValueError:
                where, line, text = "", None, "?"
            line = line if where == TEST_LABEL else None
            message = f"assert({text}) failed"
            raise Failure("AssertionError", message, line, [f"{where}:{line}: {message}"])
        if returncode == FAILED_CALL_EXIT and state["failure"] is not None:
            failure = state["failure"]
            failure.line = self.line_of(executable, state["where"])
            failure.traceback = [f"{failure.ename}: {failure.evalue}"]
            raise failure
        outcome = describe_exit(returncode)
        if outcome is not None:
            raise Failure(*outcome)

    def line_of(self, executable: str, address) -> int | None:
        """The test line a stub was called from (its return address, minus one, in the
        program's line table)."""
        if not isinstance(address, str) or not re.fullmatch(r"0x[0-9a-f]{1,16}", address):
            return None
        try:
            done = subprocess.run(
                ["addr2line", "-e", executable, hex(int(address, 16) - 1)],
                capture_output=True,
                timeout=20,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        m = re.match(rf"{re.escape(TEST_LABEL)}:(\d+)", done.stdout.decode("ascii", "replace"))
        return int(m.group(1)) if m else None


def main() -> None:
    inbox = os.fdopen(3, "rb")
    outbox = os.fdopen(4, "wb")
    driver = TrustedDriver(os.getcwd(), inbox, outbox)
    while True:
        line = inbox.readline()
        if not line:
            return
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        op = message.get("op") if isinstance(message, dict) else None
        try:
            if op == "setup":
                done = driver.setup(str(message.get("source", "")))
            elif op == "test":
                segments = message.get("segments")
                segments = (
                    [s for s in segments if isinstance(s, dict)]
                    if isinstance(segments, list)
                    else []
                )
                done = driver.test(segments)
            else:
                done = {
                    "status": "error",
                    "ename": "error",
                    "evalue": "unknown op",
                    "traceback": [],
                    "hidden": False,
                }
        except Exception as e:  # a bug here must not look like a pass
            done = {
                "status": "error",
                "ename": "error",
                "evalue": f"the C test driver failed: {type(e).__name__}: {e}",
                "traceback": [],
                "hidden": True,
            }
        driver.send({"done": done})


if __name__ == "__main__":
    main()
