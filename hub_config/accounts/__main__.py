"""`coursehub-accounts`: migrate the accounts' tables in the Hub's database."""

from __future__ import annotations

import argparse
import sys

from hub_config.settings import Settings

from . import schema


def main(argv=None):
    parser = argparse.ArgumentParser(prog="coursehub-accounts", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    upgrade = commands.add_parser(
        "upgrade-db",
        help="create the accounts' tables or migrate them to this version's schema "
        "(back up the database first)",
    )
    upgrade.add_argument(
        "--db-url",
        help="the Hub's database URL (default: $COURSEHUB_HUB_DB_URL, else the "
        "jupyterhub.sqlite in the state folder)",
    )
    args = parser.parse_args(argv)

    if args.command == "upgrade-db":
        db_url = args.db_url or Settings.from_environ().hub_db_url
        try:
            before, after = schema.upgrade(db_url)
        except schema.SchemaMismatch as e:
            sys.exit(f"coursehub-accounts: {e}")
        if before == after:
            print(f"accounts schema: already at {after}")
        else:
            print(f"accounts schema: {before or 'none'} -> {after}")


if __name__ == "__main__":
    main()
