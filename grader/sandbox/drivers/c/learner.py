"""coursehub's C learner driver: runs the learner's C cells, and calls the learner's
functions for the trusted driver. Runs INSIDE the learner's sandbox, with Debian's
/usr/bin/python3 -I and its standard library only; everything it says is untrusted.

Cells follow the C kernel's rules (the shared block below): definitions join one
translation unit, statements run as ``main`` compiled with it, in this driver's private
directory. A test reaches the learner's functions only by value: the trusted driver
asks for the unit's function headers (``{"functions": true}``), parses and validates them
itself, and asks for calls (``{"call": name, "args": [tokens], "fresh": bool}``); they
run in a *harness*, a program built from the unit and a generated dispatcher, started
afresh for each test cell (``fresh``) so that the calls of one test cell share a
program's globals, as they do when the cell runs in the kernel. The answer is
``{"tokens": [result, copied-back arrays...]}`` or ``{"error": {"ename", "evalue"}}``;
nothing in it is believed by the trusted side beyond its checked values.

Protocol: fd 3 in, fd 4 out, one JSON object a line (``op`` "run" and "ask").
"""

import json
import os
import subprocess
import sys

# the C kernel's rules (coursehub_c_kernel/cunit.py), sent along with this driver and
# written beside it; -I leaves the script's directory off sys.path
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cunit import (  # noqa: E402
    CFLAGS,
    CODEC_C,
    LIBS,
    SCALARS,
    Cells,
    CompileError,
    PrototypeError,
    describe_exit,
    parse_prototype,
    scalar_letter,
)

MAX_REPLY = 3 << 20
LEARNER_ERRORS = {
    "SegmentationFault",
    "Aborted",
    "ArithmeticError",
    "Killed",
    "ExitStatus",
    "MemoryError",
    "ProgramExit",
}


def harness_source(signatures) -> str:
    """The dispatcher's C: reads ``name token...`` lines, calls, answers ``ok
    tokens...`` (a separate translation unit: the learner's own names stay theirs)."""
    out = [CODEC_C, "#include <stdbool.h>\n"]
    for signature in signatures:
        out.append(signature.c() + ";\n")
    out.append(
        "int main(int argc, char **argv) {\n"
        '    FILE *in = fdopen(atoi(argv[1]), "r");\n'
        "    int reply = atoi(argv[2]);\n"
        "    char *line = NULL; size_t size = 0;\n"
        "    while (getline(&line, &size, in) > 0) {\n"
        "        char *name;\n"
        '        __ch_read(line); name = __ch_token(); __ch_reset(); __ch_put("ok");\n'
        "        if (0) {}\n"
    )
    for signature in signatures:
        out.append(f'        else if (!strcmp(name, "{signature.name}")) {{\n')
        body, after = [], []
        for i, param in enumerate(signature.params):
            spelling = SCALARS[param.ctype][2]
            letter = scalar_letter(param.ctype)
            if param.kind == "scalar":
                body.append(f"{spelling} a{i} = ({spelling})__ch_next_{letter}();")
            elif param.kind in ("string", "text"):
                body.append(f"char *a{i} = __ch_next_s();")
                if param.kind == "text":
                    after.append(f"__ch_arg_s(a{i});")
            else:
                body.append(
                    f"long long n{i} = __ch_next_array();"
                    f" {spelling} *a{i} = malloc(sizeof({spelling}) * (n{i} ? n{i} : 1));"
                    f" if (!a{i}) _exit(211);"
                    f" for (long long k = 0; k < n{i}; k++) a{i}[k] = ({spelling})__ch_element_{letter}();"
                )
                if param.copied_back:
                    after.append(
                        f"__ch_arg_array(); for (long long k = 0; k < n{i}; k++)"
                        f" __ch_elem_{letter}(k, a{i}[k]);"
                    )
        call = f"{signature.name}({', '.join(f'a{i}' for i in range(len(signature.params)))})"
        if signature.returns == "void":
            body.append(f'{call}; __ch_put(" v");')
        elif signature.returns == "string":
            body.append(f"__ch_arg_s({call});")
        else:
            letter = scalar_letter(signature.returns)
            cast = {"i": "long long", "u": "unsigned long long", "d": "double"}[letter]
            body.append(f"__ch_arg_{letter}(({cast}){call});")
        out.append("            " + "\n            ".join(body + after) + "\n        }\n")
    out.append(
        '        else { __ch_reset(); __ch_put("missing"); }\n'
        "        fflush(stdout); fflush(stderr);\n"
        "        if (__ch_write_line(reply) < 0) return 1;\n"
        "    }\n    return 0;\n}\n"
    )
    return "".join(out)


class LearnerDriver:
    def __init__(self, workdir: str):
        self.cells = Cells(workdir)
        self.count = 0
        self.harness = None  # (process, request pipe, reply file)
        self.harness_executable = None

    # -- cells -------------------------------------------------------------------------

    def run(self, source: str) -> dict:
        self.count += 1
        plan = self.cells.plan(source, f"cell {self.count}")
        if plan.kind == "error":
            return error("CompileError", "the cell does not compile", plan.diagnostics)
        if plan.kind == "definitions":
            self.change_unit(plan.unit)
            sys.stderr.write(plan.diagnostics)
            return {"status": "ok"}
        try:
            executable = self.cells.build(plan.program)
        except CompileError as e:
            return error("CompileError", "the cell does not compile", e.diagnostics)
        self.change_unit(plan.unit)
        sys.stdout.flush()
        sys.stderr.flush()
        returncode = subprocess.run([executable], stdin=subprocess.DEVNULL).returncode
        os.unlink(executable)
        failure = describe_exit(returncode)
        if failure is None:
            return {"status": "ok"}
        reply = error(*failure, failure[1])
        if failure[0] == "MemoryError":
            reply["reason"] = "memory_limit"
        return reply

    def change_unit(self, unit) -> None:
        if unit.items != self.cells.unit.items or unit.includes != self.cells.unit.includes:
            self.stop_harness()
            self.harness_executable = None
        self.cells.unit = unit

    # -- calls -------------------------------------------------------------------------

    def ask(self, msg) -> dict:
        if not isinstance(msg, dict):
            return {"error": {"ename": "error", "evalue": "a question this driver does not know"}}
        if msg.get("functions"):
            return {"functions": self.cells.unit.functions()}
        if "call" in msg:
            return self.call(str(msg["call"]), msg.get("args") or [], bool(msg.get("fresh")))
        return {"error": {"ename": "error", "evalue": "a question this driver does not know"}}

    def callable_signatures(self) -> list:
        found = []
        for header in self.cells.unit.functions().values():
            try:
                found.append(parse_prototype(header))
            except PrototypeError:
                pass
        return found

    def start_harness(self):
        if self.harness_executable is None:
            program = self.cells.unit.text()
            harness = harness_source(self.callable_signatures())
            path = os.path.join(self.cells.workdir, "harness.c")
            with open(path, "w", encoding="utf-8") as f:
                f.write(harness)
            self.cells.builds += 1
            output = os.path.join(self.cells.workdir, f"harness-{self.cells.builds}")
            objects = [*self.cells.support_objects(), path]
            self.cells.gcc(CFLAGS, program, output, [*objects, *self.cells.link, *LIBS])
            self.harness_executable = output
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        process = subprocess.Popen(
            [self.harness_executable, str(request_read), str(reply_write)],
            stdin=subprocess.DEVNULL,
            pass_fds=(request_read, reply_write),
        )
        os.close(request_read)
        os.close(reply_write)
        self.harness = (process, request_write, os.fdopen(reply_read, "rb"))

    def stop_harness(self):
        if self.harness is not None:
            process, request, reply = self.harness
            process.kill()
            process.wait()
            os.close(request)
            reply.close()
            self.harness = None

    def call(self, name: str, args, fresh: bool) -> dict:
        if name not in {s.name for s in self.callable_signatures()}:
            return {"missing": True}
        if not all(isinstance(a, str) and " " not in a and "\n" not in a for a in args):
            return {"error": {"ename": "error", "evalue": "arguments must be tokens"}}
        if fresh:
            self.stop_harness()
        try:
            if self.harness is None or self.harness[0].poll() is not None:
                self.stop_harness()
                self.start_harness()
        except CompileError as e:
            return {"error": {"ename": "CompileError", "evalue": e.diagnostics[:2000]}}
        process, request, reply = self.harness
        line = " ".join([name, *args]).encode() + b"\n"
        try:
            while line:
                line = line[os.write(request, line) :]
            answer = reply.readline(MAX_REPLY)
        except OSError:
            answer = b""
        if not answer.endswith(b"\n"):
            return {"error": self.harness_failure()}
        words = answer.decode("ascii", "replace").split()
        if not words or words[0] != "ok":
            return {"error": {"ename": "error", "evalue": "the function gave no answer"}}
        return {"tokens": words[1:]}

    def harness_failure(self) -> dict:
        """Why the harness stopped answering during a call (it crashed, exited, or its
        answer was too long)."""
        process = self.harness[0]
        try:
            returncode = process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            returncode = None
        self.stop_harness()
        if returncode is None:
            return {"ename": "error", "evalue": "the function's answer is too long"}
        failure = describe_exit(returncode)
        if failure is None or failure[0] == "ExitStatus":
            return {
                "ename": "ProgramExit",
                "evalue": f"the function ended the program (exit status {returncode})",
            }
        return {"ename": failure[0], "evalue": f"the function failed: {failure[1]}"}


def error(ename: str, evalue: str, detail: str) -> dict:
    return {
        "status": "error",
        "ename": ename,
        "evalue": evalue,
        "traceback": detail.splitlines()[:200] or [evalue],
    }


def main() -> None:
    inbox = os.fdopen(3, "rb")
    outbox = os.fdopen(4, "wb")
    driver = LearnerDriver(os.getcwd())
    for line in inbox:
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            answer = {
                "status": "error",
                "ename": "error",
                "evalue": "not a message",
                "traceback": [],
            }
        elif message.get("op") == "run":
            answer = driver.run(str(message.get("source", "")))
        elif message.get("op") == "ask":
            answer = {"reply": driver.ask(message.get("msg"))}
        else:
            answer = {"status": "error", "ename": "error", "evalue": "unknown op", "traceback": []}
        sys.stdout.flush()
        sys.stderr.flush()
        outbox.write(json.dumps(answer).encode("utf-8") + b"\n")
        outbox.flush()


if __name__ == "__main__":
    main()
