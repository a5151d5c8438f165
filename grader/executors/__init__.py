"""Executors: where grading jobs run (see :mod:`grader.executors.base`)."""

from .base import CellOutcome, Executor, SandboxUnavailable

__all__ = ["CellOutcome", "Executor", "SandboxUnavailable"]
