"""`course release`: draft questions made visible to learners, now or at a date
(PUT questions/{id} `{"release": "now" | ISO}`).

Without `--question` only drafts are touched: a question already released or scheduled
keeps its date. Naming a scheduled question moves its date.
"""

from __future__ import annotations

from datetime import datetime

from . import output
from .api import APIError
from .main import EXIT_FAILED, EXIT_OK, CommandError, taught_course


def release_questions(api, args) -> int:
    when = _release_time(args.at)
    course = taught_course(api, args.course)
    params = {"course": course["slug"]}
    if args.module:
        params["module"] = args.module
    questions = api.get("questions", **params)["questions"]
    if args.question:
        targets = [_named(questions, args.question, course["slug"])]
    else:
        targets = [q for q in questions if q["status"] == "draft"]
    if not targets:
        where = f"module {args.module} of " if args.module else ""
        output.note(f"no drafts in {where}{course['slug']}: nothing to release")
        return EXIT_OK

    summary = output.table(
        f"{course['slug']}: release", "module", "question", "id", "was", "result", "released"
    )
    tally = dict.fromkeys(("released", "scheduled", "skipped", "failed"), 0)
    with output.progress_bar() as progress:
        task = progress.add_task("releasing", total=len(targets))
        for question in targets:
            message = ""
            if question["status"] == "released":
                result, released = "skipped", question["released"]
                message = " (released already)"
            else:
                try:
                    model = api.put(f"questions/{question['id']}", {"release": when})
                    result, released = model["status"], model["released"]
                except APIError as e:
                    if e.not_signed_in:
                        raise
                    result, released = "failed", ""
                    message = f": {e.message}"
            tally[result if result in tally else "released"] += 1
            summary.add_row(
                question["module_slug"],
                question["slug"],
                str(question["id"]),
                question["status"],
                output.result(result) + output.escape(message),
                released or "",
            )
            progress.advance(task)
    output.out.print(summary)
    output.note(f"{course['slug']}: {output.counts(tally)}")
    return EXIT_FAILED if tally["failed"] else EXIT_OK


def _release_time(at: str | None) -> str:
    """ "now", or ``at`` once it reads as an ISO 8601 date (checked here, so a typo is
    a usage error, not a failure per question)."""
    if not at:
        return "now"
    try:
        datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(
            f"--at {at!r}: an ISO 8601 date and time, e.g. 2025-09-01T09:00+02:00"
        ) from None
    return at


def _named(questions: list[dict], name: str, course: str) -> dict:
    """The question called ``name``: its id, module/slug, or a slug no other module has."""
    found = [
        question
        for question in questions
        if name
        in (str(question["id"]), question["slug"], f"{question['module_slug']}/{question['slug']}")
    ]
    if len(found) > 1:
        raise CommandError(f"{name!r} is in several modules of {course}: name it module/slug")
    if not found:
        raise CommandError(f"no question {name!r} in {course} (an id, a slug or module/slug)")
    return found[0]
