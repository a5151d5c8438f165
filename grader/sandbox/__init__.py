"""What runs inside a grading sandbox: :mod:`grader.sandbox.runner` (stdlib only)."""
