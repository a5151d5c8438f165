"""UnsandboxedExecutor: the two sandbox processes as bare processes. UNSAFE: learners' code
runs as the service's user, with its files and network, and can reach the trusted
process; only rlimits and a timeout apply.

For development machines without bubblewrap. It refuses to run unless
``c.UnsandboxedExecutor.allow_unsandboxed = True``.
"""

from __future__ import annotations

import os
import shutil
import sys

from traitlets import Bool, Unicode, default

from .base import Executor, SandboxUnavailable


class UnsandboxedExecutor(Executor):
    """Run grading jobs without a sandbox (development only; refuses unless allowed)."""

    allow_unsandboxed = Bool(
        help="Run learners' code with no sandbox at all. Only for a development machine "
        "where every learner is trusted. Default: $COURSEHUB_ALLOW_UNSANDBOXED (1 or true).",
    ).tag(config=True)

    @default("allow_unsandboxed")
    def _default_allow_unsandboxed(self):
        return os.environ.get("COURSEHUB_ALLOW_UNSANDBOXED", "").lower() in ("1", "true", "yes")

    python = Unicode(help="The Python that runs the cells (default: this one).").tag(config=True)

    @default("python")
    def _default_python(self):
        return sys.executable

    def _launch_path(self) -> str:
        from importlib import resources

        return str(resources.files("grader.sandbox").joinpath("launch.py"))

    async def check(self) -> str:
        if not self.allow_unsandboxed:
            raise SandboxUnavailable(
                "refusing to run learners' code without a sandbox: install bubblewrap, or "
                "set c.UnsandboxedExecutor.allow_unsandboxed = True on a trusted "
                "development machine"
            )
        for tool in ("prlimit", "timeout"):
            if shutil.which(tool) is None:
                raise SandboxUnavailable(f"{tool} is not installed (util-linux/coreutils)")
        return "ok"

    async def run(self, cells, language=None):
        # checked on every run: allow_unsandboxed may be switched off at any time
        await self.check()
        return await self.run_pair(
            cells,
            lambda fd: self.command(["learner", str(fd), str(self.output_limit)]),
            lambda fd: self.command(["trusted", str(fd)]),
            language,
        )

    def command(self, arguments: list[str]) -> list[str]:
        return [
            "prlimit",
            f"--as={self.address_space_limits()}",
            f"--nproc={self.process_limit}",
            "--core=0",
            "--",
            "timeout",
            "-s",
            "KILL",
            f"{self.time_limit:g}",
            self.python,
            "-I",
            self._launch_path(),
            *arguments,
        ]
