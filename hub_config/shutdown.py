"""How the Hub shuts down: within seconds, leaving nothing behind.

SIGTERM or Ctrl-C on the Hub runs JupyterHub's cleanup: it stops the managed services
one after the other (the grader with its worker processes and sandboxes, the idle
culler), then every learner's server at once and the proxy, and exits when they are
gone. That order is JupyterHub's own; what coursehub chooses is how each part stops:

- **Learners' servers get SIGTERM, not SIGINT.** LocalProcessSpawner sends SIGINT
  first, and a jupyter_server with no terminal takes SIGINT as a KeyboardInterrupt: it
  exits at once without its cleanup, leaving its kernels running as orphans (each
  notices after up to a second and exits on its own) and their connection files in the
  learner's home. SIGTERM runs jupyter_server's stop: extensions, then every kernel
  shut down, all at once (:class:`CleanStopMixin`; in Docker mode ``docker stop``
  already sends SIGTERM).
- **Kernels get a short shutdown.** jupyter_server asks each kernel to shut down,
  gives it half of ``KernelManager.shutdown_wait_time``, then SIGTERM, the other half,
  then SIGKILL: a kernel stuck in C code costs that bound, not the default 5 s.
- **Whatever a learner's server leaves is killed.** In development mode each learner
  has a system account of their own, so every process still running as it once their
  server has stopped (a job started in the background from a terminal, a kernel the
  server could not stop) is a leftover; a learner's container takes them with it in
  Docker mode.
- **The Hub notices at once.** It checks whether a stopping server is gone at a fixed
  short interval, not with JupyterHub's exponential backoff, which let it notice a
  server gone after one second only two seconds later.
- **The Hub exits at once** once all is stopped (:func:`skip_final_collections`).

The grader stops its own worker processes and sandboxes (grader.app), giving the
submissions being graded back to the queue.
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import os
import pwd
import signal

from traitlets import Float
from traitlets.config import LoggingConfigurable

from .settings import Settings

#: Seconds jupyter_server gives each kernel to exit once asked to (half of it before
#: SIGTERM, the rest before SIGKILL). A kernel exits within a fraction of a second when
#: it can: this only bounds one that cannot (stuck in C code, its process stopped).
KERNEL_SHUTDOWN_WAIT = 2.0

#: Seconds a learner's server gets after SIGTERM (its kernels' shutdown included)
#: before SIGKILL: the kernels' bound, with room for the server's own exit on a busy
#: machine. Also the grace of ``docker stop`` in Docker mode.
SERVER_TERM_TIMEOUT = 6

#: Seconds to wait for a killed server or its leftovers to be gone before giving up.
SERVER_KILL_TIMEOUT = 5


class CleanStopMixin(LoggingConfigurable):
    """Stops a development-mode learner's server with SIGTERM, and then everything still
    running as the learner's system account.

    A base before LocalProcessSpawner in a spawner whose servers run as a system
    account of their own, named by its ``system_username`` (LocalDevSpawner: its traits
    need a configurable class to live in, hence the base); ``term_timeout`` and
    ``kill_timeout`` bound each step. ``stop`` is what the Hub's cleanup, the idle
    culler and a learner's "Stop My Server" all call.
    """

    death_interval = Float(
        0.05,
        help="""Seconds between two checks of whether a stopping server's process has
        exited (a fixed interval: the Hub notices within this much).""",
    ).tag(config=True)

    async def stop(self, now=False):
        # LocalProcessSpawner's "now" path: SIGTERM, term_timeout, SIGKILL, kill_timeout
        # (its other path starts with SIGINT: see the module's docstring)
        try:
            await super().stop(now=True)
        finally:
            await self.kill_leftovers()

    async def wait_for_death(self, timeout=10):
        """Whether the server's process exits within `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while await self.poll() is None:
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(self.death_interval)
        return True

    async def kill_leftovers(self) -> None:
        """SIGKILL every process of the learner's system account, until none is left
        (or ``kill_timeout`` has passed: a process in uninterruptible sleep)."""
        account = self.system_username
        try:
            uid = (await asyncio.to_thread(pwd.getpwnam, account)).pw_uid
        except KeyError:
            return  # no account (deleted meanwhile): nothing runs as it
        if uid == 0 or uid == os.getuid():
            # a prefix of "" and a Hub user named like a system account: never the Hub's
            self.log.error(
                "Not killing the processes of %s (uid %d) after its server", account, uid
            )
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.kill_timeout
        while killed := await asyncio.to_thread(kill_processes_of, uid):
            self.log.warning(
                "Killed what %s's server left running: %s", self.user.name, ", ".join(killed)
            )
            if loop.time() >= deadline:
                self.log.warning("Processes of %s still run after SIGKILL", account)
                return
            await asyncio.sleep(self.death_interval)


def kill_processes_of(uid: int) -> list[str]:
    """SIGKILL every running process whose real or effective uid is `uid` (zombies have
    ended: left out); returns what was killed, as ``name (pid)``. Blocking: reads /proc."""
    killed = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status") as f:
                status = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue  # ended meanwhile
        real, effective = (int(u) for u in status["Uid"].split()[:2])
        if uid not in (real, effective) or status["State"].split()[0] == "Z":
            continue
        try:
            os.kill(int(entry.name), signal.SIGKILL)
        except ProcessLookupError:
            continue
        killed.append(f"{status['Name'].strip()} ({entry.name})")
    return killed


def skip_final_collections() -> None:
    """Leave the objects this process holds out of the garbage collections Python runs
    while it exits (jupyterhub_config.py calls it in the Hub's process).

    Those collections walk every object the Hub imported or made (~250,000): 0.5 s on
    a busy machine, after everything has stopped. At exit nothing needs them: atexit
    handlers still run, output is still flushed, and the operating system frees the
    memory. ``gc.freeze`` at exit, not before: until then garbage is collected as usual.
    """
    atexit.register(gc.freeze)


def learner_server_args() -> list[str]:
    """Options given to every learner's jupyter_server (both modes)."""
    return [f"--KernelManager.shutdown_wait_time={KERNEL_SHUTDOWN_WAIT}"]


def apply_shutdown(c, settings: Settings) -> None:
    """Stopping the Hub stops the proxy and every learner's server, quickly and fully.

    Options are added to ``Spawner.args`` and ``DockerSpawner.extra_create_kwargs``
    rather than set, so that other concerns' additions stay.
    """
    c.JupyterHub.cleanup_servers = True
    c.JupyterHub.cleanup_proxy = True

    c.Spawner.args.extend(learner_server_args())
    # development mode (LocalDevSpawner stops with SIGTERM: CleanStopMixin)
    c.LocalDevSpawner.term_timeout = SERVER_TERM_TIMEOUT
    c.LocalDevSpawner.kill_timeout = SERVER_KILL_TIMEOUT
    # Docker mode: `docker stop` sends SIGTERM, and SIGKILL after the container's
    # stop timeout (the engine's default is 10 s)
    c.DockerSpawner.extra_create_kwargs.update({"stop_timeout": SERVER_TERM_TIMEOUT})
