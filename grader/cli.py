"""`coursehub-grader`: serve the grading service, migrate its database, load a course;
`coursehub-grader course ...`: instructors' commands over the REST API (course_cli/)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import dbutil
from .course_cli import add_course_command, run_course_command


def main(argv=None):
    parser = argparse.ArgumentParser(prog="coursehub-grader", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser(
        "serve", help="run the grading service (the default); takes --Class.trait=value options"
    )
    commands.add_parser(
        "worker",
        help="grade queued submissions (no API): the service starts these itself; start more "
        "anywhere the database is reachable to grade on several machines",
    )
    upgrade = commands.add_parser("upgrade-db", help="create or migrate the database schema")
    upgrade.add_argument("--db-url", help="database URL (default: the service's)")
    load = commands.add_parser("load-course", help="load a course folder into the database")
    load.add_argument("course_dir", type=Path)
    load.add_argument("--db-url", help="database URL (default: the service's)")
    audit = commands.add_parser("audit", help="the audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser(
        "verify",
        help="check the audit log's hash chain (exit status 1 if an entry was changed, "
        "removed or inserted); prints the head hash to compare with one noted earlier",
    )
    verify.add_argument("--db-url", help="database URL (default: the service's)")
    add_course_command(commands)
    # traitlets options (--GraderApp.executor_class=docker ...) go on to the app
    args, options = parser.parse_known_args(argv)
    if options and args.command not in (None, "serve", "worker"):
        parser.error(f"unrecognized arguments: {' '.join(options)}")
    if args.command == "course":
        sys.exit(run_course_command(args))

    # imported here: the app pulls in the executors and nbgrader, which take a while
    from .app import GraderApp

    if args.command in (None, "serve"):
        from .app import main as serve_main

        serve_main(options)
        return
    if args.command == "worker":
        from .app import main as serve_main

        serve_main(options, worker=True)
        return
    app = GraderApp()
    db_url = args.db_url or app.db_url
    if args.command == "upgrade-db":
        dbutil.upgrade(db_url)
        print(f"database at revision {dbutil.head_revision()}")
    elif args.command == "audit":
        from .audit.chain import verify

        engine = dbutil.make_engine(db_url)
        dbutil.check_schema(engine)
        found = verify(dbutil.make_session_factory(engine))
        print(json.dumps(found.to_dict(), indent=2))
        sys.exit(0 if found.ok else 1)
    elif args.command == "load-course":
        from .instructors.content import CourseError, load_course

        engine = dbutil.make_engine(db_url)
        dbutil.check_schema(engine)
        with dbutil.make_session_factory(engine)() as db:
            try:
                counts = load_course(db, args.course_dir)
            except CourseError as e:
                sys.exit(f"coursehub-grader: {e}")
        print(json.dumps(counts))


if __name__ == "__main__":
    main()
