"""What the Docker and Kubernetes executors share: both processes of a run in one container.

The container starts as root with only SETUID/SETGID. A short bootstrap program (the
container's command) gets the *sandbox bundle*, the sandbox programs and the launcher's
settings, loads the programs as top-level modules and calls
:func:`grader.sandbox.launch.container_main`, which forks the learner's process under
``learner_uid`` before the job is read, then drops to ``trusted_uid``.
"""

from __future__ import annotations

from traitlets import Integer

from .base import SANDBOX_MODULES, Executor, SandboxUnavailable, sandbox_sources

#: The end of every container bootstrap, once ``bundle`` holds the decoded bundle.
START_BUNDLE = """for name, source in bundle["modules"]:
    module = types.ModuleType(name)
    module.__file__ = "/coursehub/" + name + ".py"
    sys.modules[name] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)
sys.modules["launch"].container_main(bundle["settings"])
"""


def sandbox_bundle(settings: dict, sources: dict[str, str] | None = None) -> dict:
    """The sandbox programs, in load order, and the launcher's ``settings``."""
    sources = sandbox_sources() if sources is None else sources
    return {"modules": [[name, sources[name]] for name in SANDBOX_MODULES], "settings": settings}


class ContainerExecutor(Executor):
    """Base class of the executors that run both processes of a run in one container."""

    learner_uid = Integer(
        65534, help="uid (and gid) of the learner's process in the container; never 0."
    ).tag(config=True)
    trusted_uid = Integer(
        65533,
        help="uid (and gid) of the trusted test process; never 0, never the learner's.",
    ).tag(config=True)

    def sandbox_settings(self) -> dict:
        """The launcher's settings (``container_main``): the uids and the output limit."""
        if self.learner_uid == self.trusted_uid or 0 in (self.learner_uid, self.trusted_uid):
            raise SandboxUnavailable("learner_uid and trusted_uid must differ and not be 0")
        return {
            "output_limit": self.output_limit,
            "learner_uid": self.learner_uid,
            "trusted_uid": self.trusted_uid,
        }

    def environment(self) -> dict[str, str]:
        env = super().environment()
        env.pop("PATH")  # the image's PATH finds the image's Python
        return env
