"""The `course` command's arguments, where its URL and token come from, and its exit
codes: 0 all done, 1 some items failed (the table says which), 2 nothing could be done
(usage, a folder that is not a course, no answer from the URL, a token or course the
grader refuses).

Only argparse is imported with the `coursehub-grader` command; the HTTP client and rich
are imported when a `course` subcommand runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class CommandError(Exception):
    """Nothing could be done (a course that is not the caller's to change, say): the
    message says why; exit code 2."""


def taught_course(api, course_ref: str) -> dict:
    """The course (`GET courses/{ref}`), which the caller must teach: else CommandError."""
    course = api.get(f"courses/{course_ref}")
    if course.get("role") != "instructor":
        raise CommandError(f"you are not an instructor of the course {course['slug']}")
    return course


HELP = """Instructors' commands over the grader's REST API (through the Hub's proxy,
https://<hub>/services/grader/api/v1/, or the grader directly), with a Hub API token
(the Hub's token page, /hub/token)."""

CONNECTION_HELP = """--url: the grader's API, e.g. https://hub.example/services/grader/api/v1/
(a Hub's address alone is enough); default $COURSEHUB_URL, or in a Hub server
$COURSEHUB_GRADER_URL or the address of $JUPYTERHUB_API_URL's Hub. --token: a Hub API
token; default $COURSEHUB_TOKEN, else $JUPYTERHUB_API_TOKEN (prefer the variable: a
--token is visible to other users in the process list)."""


def add_course_command(commands) -> None:
    """`course import|validate|release|export`, added to `coursehub-grader`'s commands."""
    connection = argparse.ArgumentParser(add_help=False)
    group = connection.add_argument_group("connection", CONNECTION_HELP)
    group.add_argument("--url", help="the grader's API URL")
    group.add_argument("--token", help="a Hub API token")

    course = commands.add_parser("course", help=HELP.split("\n")[0], description=HELP)
    actions = course.add_subparsers(dest="course_command", metavar="ACTION", required=True)

    importing = actions.add_parser(
        "import",
        parents=[connection],
        help="create or update a course from a folder (idempotent)",
        description="Create or update a course, its modules and questions from a coursehub "
        "course folder (course.json) or an nbgrader course directory (nbgrader_config.py, "
        "source/<assignment>/*.ipynb). Matched by slug: run it again after editing; a "
        "changed notebook becomes a new version of its question, nothing is deleted. "
        "Creating a course takes an instructor of every course.",
    )
    importing.add_argument("folder", type=Path)
    importing.add_argument("--course", help="the course's slug (default: the folder's)")
    importing.add_argument(
        "--draft",
        action="store_true",
        help="new questions are drafts that learners do not see until released "
        "(`course release`); questions already there keep their state",
    )

    validate = actions.add_parser(
        "validate",
        parents=[connection],
        help="check every notebook of a folder: the reference solution scores full marks, "
        "the learner's version 0",
        description="Send every notebook of a course folder to the grader's checks "
        "(POST questions/validate): nbgrader format, the reference solution graded (full "
        "marks expected) and the learner's version graded (0 expected). Nothing is saved.",
    )
    validate.add_argument("folder", type=Path)

    release = actions.add_parser(
        "release",
        parents=[connection],
        help="release a course's draft questions, now or at a date",
        description="Release draft questions: every draft of the course, of one module, "
        "or one question (also a scheduled one, to change its date).",
    )
    release.add_argument("course", nargs="?", help="the course's slug (or --course)")
    release.add_argument(
        "--course", dest="course_option", metavar="COURSE", help="the same as COURSE"
    )
    release.add_argument("--module", help="only this module's drafts (slug or id)")
    release.add_argument("--question", help="only this question (id, slug or module/slug)")
    release.add_argument(
        "--at",
        metavar="ISO",
        help="when, e.g. 2025-09-01T09:00+02:00 (no zone: UTC); default now",
    )

    export = actions.add_parser(
        "export",
        parents=[connection],
        help="download a course's gradebook (CSV) and learners' graded notebooks",
        description="Download the gradebook (best scores, one row per learner) and/or "
        "every learner's latest graded submission to each question, as "
        "DIR/<module>/<question>/<user>.ipynb.",
    )
    export.add_argument("course", nargs="?", help="the course's slug (or --course)")
    export.add_argument(
        "--course", dest="course_option", metavar="COURSE", help="the same as COURSE"
    )
    export.add_argument("--gradebook", type=Path, metavar="FILE.csv")
    export.add_argument("--submissions", type=Path, metavar="DIR")
    for action_parser in actions.choices.values():
        action_parser.set_defaults(course_parser=action_parser)


def run_course_command(args) -> int:
    """Run `course <action>`; the exit code (argparse's usage errors exit 2 here)."""
    from . import output
    from .api import APIError, GraderAPI, Unreachable, api_url_from, token_from
    from .folders import FolderError

    parser = args.course_parser
    if args.course_command in ("release", "export"):
        if args.course and args.course_option and args.course != args.course_option:
            parser.error("give the course once: as an argument or with --course")
        args.course = args.course or args.course_option
        if not args.course:
            parser.error("which course? its slug, as COURSE or --course")
    if args.course_command == "export" and not (args.gradebook or args.submissions):
        parser.error("nothing to export: --gradebook FILE.csv and/or --submissions DIR")

    url = api_url_from(args.url)
    if not url:
        output.error(
            "where is the grader? --url https://<hub>/services/grader/api/v1/ or $COURSEHUB_URL"
        )
        return EXIT_USAGE
    token = token_from(args.token)
    if not token:
        output.error(
            "no API token: make one on the Hub's token page (/hub/token), then set "
            "$COURSEHUB_TOKEN (or --token)"
        )
        return EXIT_USAGE

    api = GraderAPI(url, token)
    try:
        return _action(args.course_command)(api, args)
    except Unreachable as e:
        output.error(str(e))
        return EXIT_USAGE
    except APIError as e:
        output.error(f"{e.method} {e.path}: {e.message}")
        if e.not_signed_in:
            output.error(
                "the grader did not accept the token: is it current, and from this Hub? "
                "(--token, $COURSEHUB_TOKEN)"
            )
        return EXIT_USAGE
    except (FolderError, CommandError) as e:
        output.error(str(e))
        return EXIT_USAGE
    except OSError as e:  # a file that cannot be written (the export's)
        output.error(f"{e.filename or ''}: {e.strerror or e}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        output.error("interrupted")
        return 130
    finally:
        api.close()


def _action(name: str):
    if name == "import":
        from .importing import import_course

        return import_course
    if name == "validate":
        from .importing import validate_course

        return validate_course
    if name == "release":
        from .releasing import release_questions

        return release_questions
    from .exporting import export_course

    return export_course
