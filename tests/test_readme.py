"""The README an admin installs from: its two commands, and every knob named in it."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()

#: where operators' and coursehub's own environment variables are read or set
SOURCES = [
    *REPO.glob("grader/**/*.py"),
    *REPO.glob("hub_config/**/*.py"),
    *REPO.glob("hub_config/*.sh"),
    *REPO.glob("extensions/coursehub_extension/**/*.py"),
    *REPO.glob("images/**/*.sh"),
    *REPO.glob("images/**/*.yml"),
    REPO / "images/compose/.env.example",
    REPO / "jupyterhub_config.py",
    REPO / "docker-compose.yml",
    REPO / "tests/run.sh",
]
VARIABLE = re.compile(r"\bCOURSEHUB_[A-Z0-9_]*[A-Z0-9]\b")


def test_the_quick_start_opens_with_the_two_commands():
    section = README.split("## Quick start\n", 1)[1]
    block = re.match(r"\s*```bash\n(.*?)```", section, re.S)
    assert block, "the Quick start section opens with a fenced block"
    assert block.group(1).splitlines() == ["bash hub_config/run.sh", "bash tests/run.sh"]
    ci = (REPO / ".ci/run").read_text()
    assert "bash tests/run.sh" in ci


def test_every_environment_variable_is_in_the_readme():
    used = {name for path in SOURCES for name in VARIABLE.findall(path.read_text())}
    # a family documented by its prefix (COURSEHUB_AI_<NAME>: keys of AI endpoints)
    used = {"COURSEHUB_AI_*" if name.startswith("COURSEHUB_AI_") else name for name in used}
    missing = sorted(name for name in used if f"`{name}`" not in README)
    assert missing == [], f"not in the README: {missing}"
    assert len(used) > 60
