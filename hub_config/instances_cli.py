"""``coursehub-instances``: the coursehub instances of this machine.

coursehub-instances list            every instance: slot, address, state, running
coursehub-instances forget NAME     free a stopped instance's slot (its data stays)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .instances import DEFAULT_ROOT, Instance, InstanceError, forget, registered


def describe(instance: Instance) -> str:
    ports = instance.ports
    return (
        f"{instance.name:<10}  slot {instance.slot:>2}  http://127.0.0.1:{ports['port']:<5}  "
        f"{'running' if instance.running else 'stopped':<7}  {instance.state_dir}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="coursehub-instances", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(os.environ.get("COURSEHUB_INSTANCES_DIR") or DEFAULT_ROOT),
        help="the registry's directory (default: $COURSEHUB_INSTANCES_DIR or %(default)s)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every instance: slot, address, state, whether it runs")
    forgetting = commands.add_parser("forget", help="free a stopped instance's slot")
    forgetting.add_argument("name")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            slots = registered(args.root)
            if not slots:
                print(f"no instances in {args.root / 'instances.json'}")
            for name, slot in sorted(slots.items(), key=lambda item: item[1]):
                print(describe(Instance(name=name, slot=slot, root=args.root)))
        else:
            instance = forget(args.name, args.root)
            print(
                f"forgot {instance.name!r} (slot {instance.slot} is free); its state and "
                f"learners' homes are kept in {instance.directory}: remove them yourself"
            )
    except InstanceError as e:
        print(f"coursehub-instances: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
