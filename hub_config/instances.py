"""Instances: several coursehub Hubs on one machine that never collide.

Everything a Hub holds machine-wide has a fixed default: four TCP ports (the proxy
8000, its REST API 8001, the Hub's own API 8081, the grader 10101), the state directory,
the learners' homes, development mode's system accounts ``ch-<name>`` and Docker
mode's containers, volumes and network. A second Hub started with those defaults fights
the first for all of them.

``COURSEHUB_INSTANCE=<name>`` gives one Hub its own set. The name claims a *slot* in
the machine's instance registry (``<root>/instances.json``, root ``/var/lib/coursehub``
unless ``COURSEHUB_INSTANCES_DIR`` says otherwise): the lowest number no other name
holds, kept for good, so an instance keeps its ports across restarts and two names never
share one. From the name and the slot come:

- ports: every default port plus 100 × slot (slot 1: 8100, 8101, 8181, 10201);
- the state directory ``<root>/<name>/state`` and the homes ``<root>/<name>/homes``;
- system accounts ``ch-<name>-<user>``;
- Docker objects named ``coursehub-<name>-…``.

Any of them set explicitly (``COURSEHUB_PORT``, ``COURSEHUB_STATE_DIR``...) still wins.
Without ``COURSEHUB_INSTANCE`` nothing changes: the Hub is the machine's default one.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

#: the registry and the instances' directories, unless COURSEHUB_INSTANCES_DIR says
DEFAULT_ROOT = Path("/var/lib/coursehub")
#: short enough that ``ch-<name>-`` leaves a system account name (at most 32
#: characters) room for the Hub user's own name
NAME_PATTERN = re.compile(r"[a-z][a-z0-9]{0,9}")
#: ports one slot apart: no instance's port is ever another's
SLOT_SPACING = 100
#: slots 1..MAX_SLOT: the proxies' and Hubs' ports (8000..10081) then stay below the
#: graders' (10101 and up), so no instance's port is ever another's
MAX_SLOT = 20

#: the default (unnamed) Hub's ports, slot 0
DEFAULT_PORTS = {"port": 8000, "proxy_api_port": 8001, "hub_port": 8081, "grader_port": 10101}


class InstanceError(ValueError):
    """A name that cannot be an instance's, or a registry with no slot left."""


@dataclass(frozen=True)
class Instance:
    """One named Hub on this machine: what its name and slot derive."""

    name: str
    slot: int
    root: Path

    @property
    def ports(self) -> dict[str, int]:
        return {key: port + SLOT_SPACING * self.slot for key, port in DEFAULT_PORTS.items()}

    @property
    def directory(self) -> Path:
        return self.root / self.name

    @property
    def state_dir(self) -> Path:
        return self.directory / "state"

    @property
    def homes_dir(self) -> Path:
        return self.directory / "homes"

    @property
    def running(self) -> bool:
        """Whether this instance's Hub runs (its pid file names a live process)."""
        try:
            pid = int((self.state_dir / "jupyterhub.pid").read_text())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return False
        return True

    @property
    def system_user_prefix(self) -> str:
        return f"ch-{self.name}-"

    @property
    def docker_prefix(self) -> str:
        return f"coursehub-{self.name}"


def check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise InstanceError(
            f"COURSEHUB_INSTANCE={name!r} is not an instance name: use 1 to 10 lowercase "
            "letters and digits, starting with a letter (it becomes part of system "
            "account, Docker object and directory names)"
        )
    return name


def claim(name: str, root: Path = DEFAULT_ROOT) -> Instance:
    """The instance called `name`, claiming it a slot in `root`'s registry if new.

    The registry is read and written under an exclusive lock, so two Hubs starting at
    once with new names get different slots. The instance's directory is created open
    to traversal (0711): learners' homes lie under it, its state directory does not
    let them in (the Hub makes it 0700).
    """
    check_name(name)
    root.mkdir(mode=0o755, parents=True, exist_ok=True)
    registry = root / "instances.json"
    with open(root / "instances.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        slots = _read_registry(registry)
        if name not in slots:
            taken = set(slots.values())
            free = next((s for s in range(1, MAX_SLOT + 1) if s not in taken), None)
            if free is None:
                raise InstanceError(f"{registry} has no free slot left for {name!r}")
            slots[name] = free
            _write_registry(registry, slots)
    instance = Instance(name=name, slot=slots[name], root=root)
    instance.directory.mkdir(mode=0o711, exist_ok=True)
    return instance


def forget(name: str, root: Path = DEFAULT_ROOT) -> Instance:
    """Free the slot of the instance called `name`; its directory stays (grades, work).

    Refused while its Hub runs (the Hub's pid file names a live process): a slot given
    to a new name while the old Hub holds its ports would collide.
    """
    check_name(name)
    registry = root / "instances.json"
    with open(root / "instances.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        slots = _read_registry(registry)
        if name not in slots:
            raise InstanceError(f"no instance {name!r} in {registry}")
        instance = Instance(name=name, slot=slots[name], root=root)
        if instance.running:
            raise InstanceError(f"instance {name!r} is running: stop its Hub first")
        del slots[name]
        _write_registry(registry, slots)
    return instance


def registered(root: Path = DEFAULT_ROOT) -> dict[str, int]:
    """Every instance name in `root`'s registry, with its slot."""
    return _read_registry(root / "instances.json")


def _read_registry(path: Path) -> dict[str, int]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise InstanceError(f"the instance registry {path} cannot be read: {e}") from None
    slots = data.get("instances") if isinstance(data, dict) else None
    if not isinstance(slots, dict) or not all(
        isinstance(slot, int) and not isinstance(slot, bool) for slot in slots.values()
    ):
        raise InstanceError(f"the instance registry {path} is not a registry of slots")
    return slots


def _write_registry(path: Path, slots: dict[str, int]) -> None:
    # written whole, then renamed: a crash never leaves half a registry
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"instances": slots}, indent=2, sort_keys=True) + "\n")
    os.replace(temporary, path)
