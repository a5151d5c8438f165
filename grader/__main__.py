"""`python -m grader`: how JupyterHub starts the grading service (`serve` unless a
command is named: `python -m grader course import ...` is `coursehub-grader course ...`)."""

import sys

from .cli import main

COMMANDS = ("serve", "worker", "upgrade-db", "load-course", "course")

if sys.argv[1:2] and sys.argv[1] in COMMANDS:
    main(sys.argv[1:])
else:
    main(["serve", *sys.argv[1:]])
