"""`course import` and `course validate`: a course folder, notebook by notebook, to the
grader.

Import does over the API what `coursehub-grader load-course` does in the database
(:func:`grader.instructors.content.load_course`): the course, then its modules, then
each question matched by module and slug, created (POST questions) or given the folder's
notebook and card (PUT questions/{id}, where an unchanged notebook makes no new
version). So a second import of the same folder changes nothing and says so, and
nothing is ever deleted. Questions go one at a time, each read from disk just before it
is sent; one that fails is reported and the others still go.
"""

from __future__ import annotations

from . import output
from .api import APIError
from .folders import CourseFolder, NotebookProblems, QuestionFile, read_folder
from .main import EXIT_FAILED, EXIT_OK, CommandError
from .practice import import_practice

CARD = ("title", "category", "difficulty", "tags")
RETIRED = "load-course brings it back, or give the notebook another name"


def import_course(api, args) -> int:
    folder = _read(args.folder)
    if folder is None:
        return EXIT_FAILED
    slug = args.course or folder.slug
    api.get("courses")  # the token, before anything is written
    course_result = _upsert_course(api, folder, slug)
    modules, module_results = _upsert_modules(api, folder, slug)
    existing = {
        (q["module_slug"], q["slug"]): q for q in api.get("questions", course=slug)["questions"]
    }
    summary = output.table(
        f"{slug}: questions", "module", "question", "result", "version", "status", "message"
    )
    tally = dict.fromkeys(("created", "updated", "unchanged", "failed"), 0)
    with output.progress_bar() as progress:
        task = progress.add_task(f"importing {slug}", total=len(folder.questions))
        for question in folder.questions:
            progress.update(task, description=f"importing {question.name}")
            if question.module in modules:
                found = existing.get((question.module, question.slug))
                result, model, message = _upsert_question(api, slug, question, found, args.draft)
            else:
                result, model, message = "failed", None, "its module could not be saved"
            tally[result] += 1
            summary.add_row(
                question.module,
                question.slug,
                output.result(result),
                f"v{model['version']}" if model else "",
                output.result(model["status"]) if model else "",
                output.escape(message),
            )
            progress.advance(task)
    output.out.print(summary)
    output.note(
        f"course {slug}: {course_result}; modules: {output.counts(module_results)}; "
        f"questions: {output.counts(tally)}"
    )
    # paths.json and quizzes.json name the questions just imported
    practice_failed = import_practice(api, folder, slug)
    failed = tally["failed"] or module_results["failed"] or practice_failed
    return EXIT_FAILED if failed else EXIT_OK


def validate_course(api, args) -> int:
    folder = _read(args.folder)
    if folder is None:
        return EXIT_FAILED
    api.get("courses")  # the token, before every notebook is sent
    summary = output.table(
        f"{folder.slug}: checks", "question", "result", "reference", "learner's version", "problems"
    )
    failures = 0
    with output.progress_bar() as progress:
        task = progress.add_task("validating", total=len(folder.questions))
        for question in folder.questions:
            progress.update(task, description=f"validating {question.name}")
            try:
                notebook, _ = question.read()
                report = api.post("questions/validate", {"notebook": notebook})
            except (OSError, ValueError) as e:
                report = {"ok": False, "problems": [f"{question.path}: {e}"]}
            except APIError as e:
                if e.not_signed_in:
                    raise
                report = {"ok": False, "problems": [e.message]}
            ok = bool(report.get("ok"))
            failures += not ok
            summary.add_row(
                question.name,
                output.result("ok" if ok else "failed"),
                _score(report.get("reference")),
                _score(report.get("stub")),
                output.escape("; ".join(report.get("problems") or [])),
            )
            progress.advance(task)
    output.out.print(summary)
    total = len(folder.questions)
    output.note(f"{total - failures} of {total} notebooks pass")
    return EXIT_FAILED if failures else EXIT_OK


def _read(path) -> CourseFolder | None:
    """The folder, its warnings shown; None (after listing them) if notebooks of an
    nbgrader course are not valid questions."""
    try:
        folder = read_folder(path)
    except NotebookProblems as e:
        for problem in e.problems:
            output.error(problem)
        output.error(f"{path}: nothing was sent: fix these notebooks first")
        return None
    for warning in folder.warnings:
        output.warning(warning)
    return folder


def _upsert_course(api, folder: CourseFolder, slug: str) -> str:
    """Make the course, or bring its title, description and joining in line with the
    folder's (a coursehub folder's: an nbgrader one does not say them)."""
    try:
        course = api.get(f"courses/{slug}")
    except APIError as e:
        if e.status != 404:
            raise
        course = None
    if course is None:
        api.post(
            "courses",
            {
                "slug": slug,
                "title": folder.title,
                "description": folder.description or "",
                "join": folder.join or "invite",
            },
        )
        if folder.achievements:
            api.put(f"courses/{slug}", {"achievements": folder.achievements})
        return "created"
    if course.get("role") != "instructor":
        raise CommandError(f"you are not an instructor of the course {slug}: nothing was imported")
    wanted = {
        "title": folder.title,
        "description": folder.description,
        "join": folder.join,
        "achievements": folder.achievements,
    }
    changes = {
        key: value
        for key, value in wanted.items()
        if folder.says_titles and value is not None and course.get(key) != value
    }
    if not changes:
        return "unchanged"
    api.put(f"courses/{slug}", changes)
    return "updated"


def _upsert_modules(api, folder: CourseFolder, slug: str) -> tuple[dict, dict]:
    """({module slug: its model} of those saved, counts); a module that fails is an
    error printed here, and its questions fail."""
    existing = {m["slug"]: m for m in api.get("modules", course=slug)["modules"]}
    saved, tally = {}, dict.fromkeys(("created", "updated", "unchanged", "failed"), 0)
    for position, module in enumerate(folder.modules):
        found = existing.get(module.slug)
        try:
            if found is None:
                body = {"course": slug, "slug": module.slug, "title": module.title}
                body.update(description=module.description or "", position=position)
                saved[module.slug] = api.post("modules", body)
                tally["created"] += 1
                continue
            changes = {"position": position} if found["position"] != position else {}
            if folder.says_titles:
                changes.update(
                    {
                        key: value
                        for key, value in (
                            ("title", module.title),
                            ("description", module.description),
                        )
                        if found.get(key) != value
                    }
                )
            saved[module.slug] = api.put(f"modules/{found['id']}", changes) if changes else found
            tally["updated" if changes else "unchanged"] += 1
        except APIError as e:
            if e.not_signed_in:
                raise
            output.error(f"module {module.slug}: {e.message}")
            tally["failed"] += 1
    return saved, tally


def _upsert_question(api, course: str, question: QuestionFile, found, draft: bool):
    """(result, the question's model or None, message) for one notebook."""
    try:
        notebook, card = question.read()
    except (OSError, ValueError) as e:
        return "failed", None, f"{question.path}: {e}"
    try:
        if found is None:
            body = {"course": course, "module": question.module, "slug": question.slug}
            body.update(card, notebook=notebook, release=None if draft else "now")
            return "created", api.post("questions", body), ""
        model = api.put(f"questions/{found['id']}", {**card, "notebook": notebook})
    except APIError as e:
        if e.not_signed_in:
            raise
        if e.status == 409 and found is None:  # not listed, yet there: retired
            return "failed", None, f"{e.message}: a retired question ({RETIRED})"
        return "failed", None, e.message
    changed = model["version"] != found["version"] or any(model[k] != found[k] for k in CARD)
    return ("updated" if changed else "unchanged"), model, ""


def _score(part) -> str:
    if not isinstance(part, dict) or part.get("max_score") is None:
        return ""
    return f"{part.get('score', 0):g}/{part['max_score']:g}"
