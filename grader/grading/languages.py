"""The languages a question can be written in, and how each one is graded.

A question's language comes from its notebook's kernel (:func:`language_of`). Python
runs in the two-process sandbox directly (:mod:`grader.sandbox.learner` and
:mod:`grader.sandbox.trusted`); every other language is run there by a *driver pair*
(``grader/sandbox/drivers/<driver>/``): a learner driver that runs the learner's cells in
the learner's process, and a trusted driver that runs the test cells in the trusted
process. The two Python processes start them and relay their messages
(:mod:`grader.sandbox.foreign`), so hidden tests never reach the learner's process in
any language, and only the trusted side decides a verdict.
"""

from __future__ import annotations

import functools
import importlib.resources
from dataclasses import dataclass
from pathlib import Path

from .notebooks import NotebookFormatError

DRIVERS = Path(__file__).resolve().parent.parent / "sandbox" / "drivers"

# how the JavaScript drivers start node: a bounded heap (V8 needs more address space
# than the heap: see Language.big_address_space), no warnings mixed into the output
NODE_FLAGS = ("--max-old-space-size=256", "--no-warnings")


@dataclass(frozen=True)
class Language:
    """One language: its kernels, its student-version stub and its driver pair."""

    name: str
    display: str
    # kernelspec names that mean this language (the first is the one coursehub installs)
    kernels: tuple[str, ...]
    # what a solution region becomes in the student version (nbgrader's code_stub)
    code_stub: str
    # the error names a failing *hidden* test may report; any other is shown as "error"
    error_names: frozenset[str] = frozenset()
    # lines of a locked setup cell that run in the trusted driver too (re.MULTILINE)
    setup_pattern: str = ""
    # the driver pair: folder under grader/sandbox/drivers/, file names, how to start them
    # ("{driver}" is the path of the driver's file, written into the sandbox)
    driver: str = ""
    learner_file: str = ""
    trusted_file: str = ""
    learner_argv: tuple[str, ...] = ()
    trusted_argv: tuple[str, ...] = ()
    # V8 reserves gigabytes of address space at start: its drivers get a larger
    # RLIMIT_AS and bound their heap with the runtime's own flag
    big_address_space: bool = False
    # modules written beside both drivers, which import them: (file name, "package:path"
    # of its text), e.g. the C kernel's rules
    shared_files: tuple[tuple[str, str], ...] = ()

    @property
    def foreign(self) -> bool:
        """Run by a driver pair (every language but Python)."""
        return bool(self.driver)

    def driver_source(self, role: str) -> str:
        """The text of the ``role`` ("learner" or "trusted") driver's main file."""
        name = self.learner_file if role == "learner" else self.trusted_file
        return (DRIVERS / self.driver / name).read_text(encoding="utf-8")

    # read once per process: the drivers' files do not change under a running grader,
    # and every grading of the language sends them (the C ones are ~35 KB each)
    @functools.cache  # noqa: B019 (the registry's few entries live as long as the process)
    def job_language(self) -> dict | None:
        """What a grading job carries for this language (None for Python): the error
        names a hidden failure may report and both drivers."""
        if not self.foreign:
            return None
        return {
            "name": self.name,
            "error_names": sorted(self.error_names),
            "learner": self.driver_spec("learner"),
            "trusted": self.driver_spec("trusted"),
        }

    def driver_spec(self, role: str) -> dict:
        """What the sandbox needs to start one driver: its file and argv (plain data)."""
        name = self.learner_file if role == "learner" else self.trusted_file
        argv = self.learner_argv if role == "learner" else self.trusted_argv
        return {
            "language": self.name,
            "file": name,
            "source": self.driver_source(role),
            "argv": list(argv),
            "big_address_space": self.big_address_space,
            "files": {name: _package_text(where) for name, where in self.shared_files},
        }


def _package_text(where: str) -> str:
    package, _, path = where.partition(":")
    return importlib.resources.files(package).joinpath(path).read_text(encoding="utf-8")


LANGUAGES: dict[str, Language] = {
    "python": Language(
        name="python",
        display="Python",
        kernels=("python3", "python"),
        code_stub="# YOUR CODE HERE\nraise NotImplementedError()",
    ),
    "r": Language(
        name="r",
        display="R",
        kernels=("ir",),
        code_stub='# YOUR CODE HERE\nstop("No Answer Given!")',
        # the trusted driver names a failure by its condition's class when it is one of
        # these: stopifnot/stop, testthat's expect_*, a failing test_that() block
        error_names=frozenset({"simpleError", "expectation_failure", "rlang_error", "error"}),
        setup_pattern=r"^\s*(suppressPackageStartupMessages\()?\s*(library|require)\(.*$",
        driver="r",
        learner_file="learner.R",
        trusted_file="trusted.R",
        learner_argv=("/usr/bin/Rscript", "--vanilla", "{driver}"),
        trusted_argv=("/usr/bin/Rscript", "--vanilla", "{driver}"),
    ),
    "javascript": Language(
        name="javascript",
        display="JavaScript",
        # deno's Jupyter kernel (`deno jupyter`, installed by bootstrap and the learner
        # image); tslab's "jslab" notebooks grade the same way
        kernels=("deno", "jslab", "javascript"),
        code_stub='// YOUR CODE HERE\nthrow new Error("No Answer Given!");',
        error_names=frozenset(
            {
                "Error",
                "AssertionError",
                "TypeError",
                "RangeError",
                "ReferenceError",
                "SyntaxError",
                "EvalError",
                "URIError",
            }
        ),
        setup_pattern=r"^\s*(const|let|var|import)\b.*\brequire\(.*$|^\s*import\b.*$",
        driver="javascript",
        learner_file="learner.js",
        trusted_file="trusted.js",
        shared_files=(("cells.js", "grader.sandbox:drivers/javascript/cells.js"),),
        # Node.js (Debian's 18.x or later), its heap bounded well under the sandbox's
        # memory limit so that a huge allocation ends as "out of memory", not a hang
        learner_argv=("/usr/bin/node", *NODE_FLAGS, "{driver}"),
        trusted_argv=("/usr/bin/node", *NODE_FLAGS, "{driver}"),
        big_address_space=True,
    ),
    "c": Language(
        name="c",
        display="C",
        kernels=("coursehub-c",),
        # fails at once when run, as Python's `raise NotImplementedError()` does (a
        # function left empty would return whatever a register held)
        code_stub="// YOUR CODE HERE\n__builtin_abort(); // (delete this line)",
        # the C drivers' error names (grader/sandbox/drivers/c/trusted.py)
        error_names=frozenset(
            {
                "AssertionError",
                "CompileError",
                "NameError",
                "SegmentationFault",
                "Aborted",
                "ArithmeticError",
                "Killed",
                "ExitStatus",
                "MemoryError",
                "ProgramExit",
                "error",
            }
        ),
        setup_pattern=r"^\s*#\s*include\b.*$",
        driver="c",
        learner_file="learner.py",
        trusted_file="trusted.py",
        learner_argv=("/usr/bin/python3", "-I", "{driver}"),
        trusted_argv=("/usr/bin/python3", "-I", "{driver}"),
        shared_files=(("cunit.py", "coursehub_c_kernel:cunit.py"),),
    ),
}

KERNEL_LANGUAGES = {kernel: lang.name for lang in LANGUAGES.values() for kernel in lang.kernels}
# language_info.name values (lower case) that name a language
INFO_NAMES = {"python": "python", "r": "r", "javascript": "javascript", "c": "c"}


def language_of(nb) -> str:
    """The language of a notebook, from its kernel (then ``language_info``); Python when
    it names neither. An unknown kernel is a :class:`NotebookFormatError`."""
    metadata = nb.get("metadata", {}) if isinstance(nb, dict) else {}
    spec = metadata.get("kernelspec") or {}
    kernel = spec.get("name") if isinstance(spec, dict) else None
    if isinstance(kernel, str) and kernel:
        if kernel in KERNEL_LANGUAGES:
            return KERNEL_LANGUAGES[kernel]
        if kernel.startswith("python"):
            return "python"
        raise NotebookFormatError(
            f"the notebook's kernel {kernel!r} is not supported: use one of "
            + ", ".join(sorted(KERNEL_LANGUAGES))
        )
    info = metadata.get("language_info") or {}
    name = info.get("name") if isinstance(info, dict) else None
    if isinstance(name, str) and name:
        if name.lower() in INFO_NAMES:
            return INFO_NAMES[name.lower()]
        raise NotebookFormatError(f"the notebook's language {name!r} is not supported")
    return "python"


def grading_language(nb) -> Language:
    """The language a stored question is graded in: an unknown kernel (saved before
    languages were checked) is graded as Python, as it always was."""
    try:
        return LANGUAGES[language_of(nb)]
    except NotebookFormatError:
        return LANGUAGES["python"]


def language(name: str) -> Language:
    """The registry entry for ``name`` (a KeyError names an unknown one)."""
    return LANGUAGES[name]
