"""Languages other than Python: their drivers, started and spoken to. Standard library only.

A language other than Python is run by a *driver pair* (``grader/sandbox/drivers/``):
the learner's process starts the learner driver, which runs the learner's cells; the
trusted process starts the trusted driver, which runs the test cells and reaches the
learner's names by asking, through the trusted process, the channel and the learner's
process, the learner driver. Each side only relays: what the messages mean is the
language pair's own business.

A driver gets its messages on fd 3 and answers on fd 4, one JSON object a line; its
fds 1 and 2 are pipes read here (the cell's output, kept up to the output limit). It
runs in a private directory of its own under ``/tmp``, in a process group of its own,
so that a time limit kills it and everything it started. A killed or dead driver is
started again for the next cell: its state is lost, like a restarted kernel's.
"""

from __future__ import annotations

import fcntl
import json
import os
import resource
import select
import shutil
import signal
import tempfile
import time

MAX_LINE = 4 << 20
# seconds a driver that printed past the output limit has to finish what it is doing
# (a large print, then an answer: its names stay); one still printing is ended then,
# not at the cell's time limit
OUTPUT_GRACE = 1.0
# what a runtime prints when it runs out of memory (R, V8, glibc)
MEMORY_WORDS = ("out of memory", "cannot allocate", "heap limit", "allocation failed")


class DriverLost(Exception):
    """The driver ended or was ended: ``reason`` is one of the sandbox's reasons."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Driver:
    """One driver process, from its ``spec`` (``file``, ``source``, ``argv``,
    ``big_address_space``)."""

    def __init__(self, spec: dict, output_limit: int = 65536):
        self.spec = spec
        self.output_limit = output_limit
        self.pid: int | None = None
        self.workdir: str | None = None
        self.fds: dict[str, int] = {}
        self.buffers = {"msg": bytearray(), "out": bytearray(), "err": bytearray()}
        self.output_exceeded = False
        self.exceeded_at: float | None = None

    # -- the process ---------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        if self.pid is None:
            return False
        try:
            if os.waitpid(self.pid, os.WNOHANG) == (0, 0):
                return True
        except ChildProcessError:
            pass
        self.pid = None  # reaped: its number may be reused, never signal it again
        return False

    def start(self) -> None:
        self.workdir = tempfile.mkdtemp(prefix="coursehub-driver-")  # mode 0700
        path = os.path.join(self.workdir, os.path.basename(str(self.spec["file"])))
        with open(path, "w", encoding="utf-8") as f:
            f.write(str(self.spec["source"]))
        # modules the driver imports from its directory (a base name each: never a path)
        for name, text in dict(self.spec.get("files") or {}).items():
            shared = os.path.join(self.workdir, os.path.basename(str(name)))
            with open(shared, "w", encoding="utf-8") as f:
                f.write(str(text))
        argv = [str(a).replace("{driver}", path) for a in self.spec["argv"]]
        driver_in, to_driver = os.pipe()  # the driver reads fd 3, this process writes
        from_driver, driver_out = os.pipe()  # the driver writes fd 4, this process reads
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        env = {
            "HOME": self.workdir,
            "TMPDIR": self.workdir,
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
        }
        pid = os.fork()
        if pid == 0:  # the driver: nothing open but its five descriptors
            try:
                self._become_driver(argv, env, driver_in, driver_out, out_w, err_w)
            finally:
                os._exit(127)
        self.pid = pid
        for fd in (driver_in, driver_out, out_w, err_w):
            os.close(fd)
        self.fds = {"to": to_driver, "msg": from_driver, "out": out_r, "err": err_r}
        for fd in self.fds.values():
            os.set_blocking(fd, False)
        for buffer in self.buffers.values():
            buffer.clear()

    def _become_driver(self, argv, env, driver_in, driver_out, out_w, err_w) -> None:
        """In the forked child: descriptors 0-4 only (never the channel to the other
        process), a session of its own, the limits, then the driver's program."""
        # above every descriptor in use, so that placing them at 0-4 clobbers none
        moved = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (driver_in, driver_out, out_w, err_w)]
        devnull = fcntl.fcntl(os.open(os.devnull, os.O_RDONLY), fcntl.F_DUPFD, 10)
        for target, fd in enumerate((devnull, moved[2], moved[3], moved[0], moved[1])):
            os.dup2(fd, target)
        os.closerange(5, 1 << 16)
        os.chdir(self.workdir)
        os.setsid()
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # Python ignores it; a driver must not
        if self.spec.get("big_address_space"):
            # a V8 runtime reserves gigabytes it never uses: lift the address-space
            # limit to the sandbox's hard one, and bound data (what it writes) instead
            soft, hard = resource.getrlimit(resource.RLIMIT_AS)
            if soft != resource.RLIM_INFINITY:
                _, data_hard = resource.getrlimit(resource.RLIMIT_DATA)
                data = soft if data_hard == resource.RLIM_INFINITY else min(soft, data_hard)
                resource.setrlimit(resource.RLIMIT_DATA, (data, data))
            resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
        os.execve(argv[0], argv, env)

    def kill(self) -> None:
        if self.pid is not None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
        for fd in self.fds.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = {}
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.pid, self.workdir = None, None

    # -- messages ------------------------------------------------------------------------

    def exchange(self, message: dict, deadline: float, on_message=None) -> dict:
        """Send ``message`` and return the driver's answer: the first message it writes
        that ``on_message`` (given each one) does not answer itself. Raises
        :class:`DriverLost` when the driver ends, misbehaves or misses ``deadline``."""
        if not self.alive:
            self.start()
        pending = bytearray(json.dumps(message).encode("utf-8") + b"\n")
        while True:
            line = self._next_line(pending, deadline)
            try:
                document = json.loads(line)
            except (ValueError, RecursionError):
                document = None
            if not isinstance(document, dict):
                self._lose("learner_exit")
            answer = on_message(document) if on_message else None
            if answer is None:
                return document
            pending += json.dumps(answer).encode("utf-8") + b"\n"

    def _next_line(self, pending: bytearray, deadline: float) -> bytes:
        messages = self.buffers["msg"]
        while True:
            end = messages.find(b"\n")
            if end >= 0:
                line = bytes(messages[:end])
                del messages[: end + 1]
                return line
            if len(messages) > MAX_LINE:
                self._lose("learner_exit")
            now = time.monotonic()
            left = deadline - now
            if self.exceeded_at is not None:
                left = min(left, self.exceeded_at + OUTPUT_GRACE - now)
            if left <= 0:
                self._lose("output_limit" if self.output_exceeded else "time_limit")
            readers = [self.fds[k] for k in ("msg", "out", "err") if k in self.fds]
            writers = [self.fds["to"]] if pending else []
            try:
                readable, writable, _ = select.select(readers, writers, [], min(left, 1.0))
            except InterruptedError:
                continue
            if writable:
                try:
                    sent = os.write(self.fds["to"], pending)
                except BlockingIOError:
                    sent = 0
                except OSError:
                    self._lose(self._reason_of_death())
                del pending[:sent]
            for fd in readable:
                key = next(k for k, v in self.fds.items() if v == fd)
                try:
                    chunk = os.read(fd, 1 << 16)
                except BlockingIOError:
                    continue
                if not chunk:
                    if key == "msg":
                        self._lose(self._reason_of_death())
                    self.fds.pop(key)
                    os.close(fd)
                    continue
                self._keep(key, chunk)

    def _keep(self, key: str, chunk: bytes) -> None:
        buffer = self.buffers[key]
        if key == "msg":
            buffer += chunk
            return
        room = self.output_limit - len(self.buffers["out"]) - len(self.buffers["err"])
        if len(chunk) > room:
            self.output_exceeded = True
            if self.exceeded_at is None:
                self.exceeded_at = time.monotonic()
        buffer += chunk[: max(room, 0)]

    def _reason_of_death(self) -> str:
        text = bytes(self.buffers["err"]).decode("utf-8", "replace").lower()
        if any(word in text for word in MEMORY_WORDS):
            return "memory_limit"
        return "learner_exit"

    def _lose(self, reason: str):
        self.kill()
        raise DriverLost(reason)

    def take_output(self) -> tuple[str, str, bool]:
        """What the driver printed since the last call, and whether it printed more
        than the output limit."""
        out = bytes(self.buffers["out"]).decode("utf-8", "replace")
        err = bytes(self.buffers["err"]).decode("utf-8", "replace")
        exceeded = self.output_exceeded
        self.buffers["out"].clear()
        self.buffers["err"].clear()
        self.output_exceeded = False
        self.exceeded_at = None
        return out, err, exceeded


class LearnerDrivers:
    """The learner's process's side: one learner driver, started from the spec the
    trusted process sends with each learner cell, and the answers relayed back."""

    def __init__(self, output_limit: int):
        self.output_limit = output_limit
        self.driver: Driver | None = None

    def handle(self, message: dict) -> dict:
        spec = message.get("driver")
        if isinstance(spec, dict) and (self.driver is None or self.driver.spec != spec):
            if self.driver is not None:
                self.driver.kill()
            self.driver = Driver(spec, self.output_limit)
        if self.driver is None:
            return {"lost": "learner_exit", "stdout": "", "stderr": ""}
        deadline = time.monotonic() + max(float(message.get("deadline", 10)), 0.01)
        try:
            reply = self.driver.exchange(message.get("msg"), deadline)
            # as text: nested values need not fit the channel's own depth limit
            answer = {"reply": json.dumps(reply)}
        except DriverLost as e:
            answer = {"lost": e.reason}
        out, err, exceeded = self.driver.take_output()
        answer.update(stdout=out, stderr=err, output_exceeded=exceeded)
        return answer

    def close(self) -> None:
        if self.driver is not None:
            self.driver.kill()
