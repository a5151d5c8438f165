"""Print a hash of the sources an image is built from.

build.sh stores it as the image label ``org.coursehub.sources``; the test fixtures in
tests/docker_support.py compare it with the label of the image they find, so a stale
image is rebuilt and an up-to-date one is reused. Stdlib only: it runs on any host.

Usage: python3 images/source_hash.py learner|hub
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LABEL = "org.coursehub.sources"

# What goes into the wheel (see pyproject.toml's [tool.hatch.build]) plus what builds it.
WHEEL_INPUTS = ["pyproject.toml", "README.md", "grader", "hub_config", "extensions"]
COMMON = ["images/constraints.txt", "images/build.sh", "images/base/build-base.sh"]
INPUTS = {
    "learner": [*WHEEL_INPUTS, *COMMON, "images/learner"],
    "hub": [*WHEEL_INPUTS, *COMMON, "images/hub", "jupyterhub_config.py"],
}
SKIP_DIRS = {"__pycache__", "node_modules", ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints"}


def iter_files(root: Path, names: list[str]):
    for name in names:
        path = root / name
        if path.is_file():
            yield path
        elif path.is_dir():
            for sub in sorted(path.rglob("*")):
                if sub.is_file() and not SKIP_DIRS.intersection(sub.relative_to(root).parts):
                    if sub.suffix not in {".pyc", ".pyo"}:
                        yield sub


def source_hash(kind: str, root: Path = REPO) -> str:
    """A short digest of every file (path and content) the ``kind`` image is built from."""
    digest = hashlib.sha256()
    for path in sorted(set(iter_files(root, INPUTS[kind]))):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in INPUTS:
        sys.exit(f"usage: {sys.argv[0]} {'|'.join(INPUTS)}")
    print(source_hash(sys.argv[1]))
