"""The C kernel: an ipykernel :class:`~ipykernel.kernelbase.Kernel` whose cells are
pieces of one C program (:mod:`.cunit` holds the rules, shared with the grader).

A definitions cell joins the program and prints nothing (gcc's warnings, if any); a
statements cell is compiled with everything defined so far as the body of ``main``
and run, its output streamed as it comes; a compile error or a program that fails
(non-zero exit, a signal, running out of memory) is the cell's error, as a Python
kernel shows an exception. ``%reset`` alone in a cell forgets every definition.
"""

from __future__ import annotations

import codecs
import os
import selectors
import shutil
import subprocess
import tempfile

from ipykernel.kernelbase import Kernel

from . import __version__
from .cunit import Cells, CompileError, describe_exit

WORKDIR_PREFIX = "coursehub-c-kernel-"


def remove_orphaned_workdirs() -> None:
    """Working directories of this user's C kernels that are gone: a kernel killed
    without a shutdown request (a client's "immediate" shutdown) never removes its own,
    so the next kernel to start does. The directory's name holds its kernel's pid."""
    tmp = tempfile.gettempdir()
    for name in os.listdir(tmp):
        pid = name[len(WORKDIR_PREFIX) :].partition("-")[0]
        if not name.startswith(WORKDIR_PREFIX) or not pid.isdigit():
            continue
        path = os.path.join(tmp, name)
        try:
            if os.stat(path).st_uid != os.getuid():
                continue
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except OSError:  # another user's kernel, or gone meanwhile
            continue


class CKernel(Kernel):
    implementation = "coursehub-c"
    implementation_version = __version__
    language = "c"
    language_version = "C11"
    language_info = {
        "name": "c",
        "version": "C11",
        "mimetype": "text/x-csrc",
        "file_extension": ".c",
        "codemirror_mode": "text/x-csrc",
        "pygments_lexer": "c",
    }
    banner = "C (gcc -std=c11 -O1 -Wall -lm): definitions accumulate, statements run as main"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        remove_orphaned_workdirs()
        self.workdir = tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-")
        self.cells = Cells(self.workdir)
        self.running: subprocess.Popen | None = None

    # -- output ----------------------------------------------------------------------

    def stream(self, name: str, text: str) -> None:
        if text and not self.get_parent().get("content", {}).get("silent"):
            self.send_response(self.iopub_socket, "stream", {"name": name, "text": text})

    def fail(self, ename: str, evalue: str, traceback: list[str]) -> dict:
        content = {"ename": ename, "evalue": evalue, "traceback": traceback}
        self.send_response(self.iopub_socket, "error", content)
        return {"status": "error", "execution_count": self.execution_count, **content}

    def ok(self) -> dict:
        return {
            "status": "ok",
            "execution_count": self.execution_count,
            "payload": [],
            "user_expressions": {},
        }

    # -- cells -----------------------------------------------------------------------

    def do_execute(
        self, code, silent, store_history=True, user_expressions=None, allow_stdin=False
    ):
        if code.strip() == "%reset":
            self.cells.unit = type(self.cells.unit)()
            return self.ok()
        label = f"In[{self.execution_count}]"
        plan = self.cells.plan(code, label)
        if plan.kind == "error":
            return self.fail("CompileError", "the cell does not compile", [plan.diagnostics])
        if plan.kind == "definitions":
            self.cells.unit = plan.unit
            self.stream("stderr", plan.diagnostics)
            return self.ok()
        try:
            executable = self.cells.build(plan.program)
        except CompileError as e:
            return self.fail("CompileError", "the cell does not compile", [e.diagnostics])
        self.cells.unit = plan.unit
        try:
            returncode = self.run_program(executable)
        finally:
            os.unlink(executable)
        failure = describe_exit(returncode)
        if failure is None:
            return self.ok()
        ename, evalue = failure
        return self.fail(ename, evalue, [f"{ename}: {evalue}"])

    def run_program(self, executable: str) -> int:
        """Run a built cell, streaming its stdout and stderr; its return code."""
        self.running = subprocess.Popen(
            [executable],
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        names = {self.running.stdout: "stdout", self.running.stderr: "stderr"}
        # a character cut between two reads is decoded whole with the next one
        decoders = {pipe: codecs.getincrementaldecoder("utf-8")("replace") for pipe in names}
        with selectors.DefaultSelector() as selector:
            for pipe in names:
                selector.register(pipe, selectors.EVENT_READ)
            open_pipes = len(names)
            while open_pipes:
                for key, _ in selector.select():
                    chunk = os.read(key.fileobj.fileno(), 65536)
                    decoder = decoders[key.fileobj]
                    self.stream(names[key.fileobj], decoder.decode(chunk, final=not chunk))
                    if not chunk:
                        selector.unregister(key.fileobj)
                        open_pipes -= 1
        returncode = self.running.wait()
        self.running = None
        return returncode

    def do_shutdown(self, restart):
        if self.running is not None:
            self.running.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)
        return {"status": "ok", "restart": restart}
