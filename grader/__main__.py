"""`python -m grader`: how JupyterHub starts the grading service."""

import sys

from .cli import main

main(["serve", *sys.argv[1:]])
