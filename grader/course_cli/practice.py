"""`course import`, after the questions: a coursehub folder's `paths.json` and
`quizzes.json` (see :mod:`grader.instructors.practice_content`, which reads them for
`load-course` too), through the API.

Each path and quiz is matched by slug among the course's: created (`POST paths`, `POST
quizzes`), changed only where the folder says something else (`PUT paths/{id}`, `PUT
quizzes/{id}`), or left as it is; nothing is deleted. A path names its questions as
"module-slug/question-slug", found among the course's questions as the import left them.
One item that fails is reported, and the others still go.
"""

from __future__ import annotations

from . import output
from .api import APIError
from .folders import CourseFolder

RESULTS = ("created", "updated", "unchanged", "failed")


def import_practice(api, folder: CourseFolder, slug: str) -> int:
    """Send the folder's paths and quizzes; prints a line of counts; how many failed."""
    if folder.kind != "coursehub":
        return 0
    from ..instructors.practice_content import PATHS_FILE, QUIZZES_FILE, read_specs

    tallies = {}
    for name, send in ((PATHS_FILE, _import_paths), (QUIZZES_FILE, _import_quizzes)):
        tally = dict.fromkeys(RESULTS, 0)
        try:
            specs = read_specs(folder.path, name)
        except ValueError as e:
            output.error(str(e))
            tally["failed"] += 1
        else:
            if specs:
                send(api, slug, specs, tally)
        tallies[name] = tally
    paths, quizzes = tallies[PATHS_FILE], tallies[QUIZZES_FILE]
    if any(paths.values()) or any(quizzes.values()):
        output.note(f"paths: {output.counts(paths)}; quizzes: {output.counts(quizzes)}")
    return paths["failed"] + quizzes["failed"]


def _attempt(tally: dict, what: str, send) -> None:
    """``send()`` -> a result word, counted; an APIError or ValueError is a failure."""
    try:
        tally[send()] += 1
    except APIError as e:
        if e.not_signed_in:
            raise
        output.error(f"{what}: {e.message}")
        tally["failed"] += 1
    except ValueError as e:
        output.error(f"{what}: {e}")
        tally["failed"] += 1


# paths -------------------------------------------------------------------------------


def _import_paths(api, course: str, specs: list[dict], tally: dict) -> None:
    questions = {
        f"{q['module_slug']}/{q['slug']}": q["id"]
        for q in api.get("questions", course=course)["questions"]
    }
    existing = {
        p["slug"]: p for p in api.get("paths", course=course)["paths"] if p["course"] == course
    }
    for spec in specs:
        what = f"path {spec.get('slug') or spec.get('title')}"
        _attempt(
            tally, what, lambda spec=spec: _upsert_path(api, course, spec, questions, existing)
        )


def _upsert_path(api, course: str, spec: dict, questions: dict, existing: dict) -> str:
    refs = spec.get("questions")
    if not isinstance(refs, list):
        raise ValueError("questions must be a list of module-slug/question-slug")
    missing = [ref for ref in refs if ref not in questions]
    if missing:
        raise ValueError(f"no such question in {course}: {missing[0]}")
    wanted = {
        "title": spec.get("title"),
        "description": spec.get("description") or "",
        "questions": [questions[ref] for ref in refs],
    }
    found = existing.get(spec.get("slug"))
    if found is None:
        api.post("paths", {"course": course, "slug": spec.get("slug"), **wanted})
        return "created"
    current = api.get(f"paths/{found['id']}")
    current["questions"] = [item["id"] for item in current["items"]]
    changes = {key: value for key, value in wanted.items() if current.get(key) != value}
    if not changes:
        return "unchanged"
    api.put(f"paths/{found['id']}", changes)
    return "updated"


# quizzes -----------------------------------------------------------------------------


def _import_quizzes(api, course: str, specs: list[dict], tally: dict) -> None:
    existing = {
        q["slug"]: q for q in api.get("quizzes", course=course)["quizzes"] if q["course"] == course
    }
    for spec in specs:
        what = f"quiz {spec.get('slug') or spec.get('title')}"
        _attempt(tally, what, lambda spec=spec: _upsert_quiz(api, course, spec, existing))


def _upsert_quiz(api, course: str, spec: dict, existing: dict) -> str:
    found = existing.get(spec.get("slug"))
    if found is None:
        api.post("quizzes", {**spec, "course": course})
        return "created"
    changes = {}
    for key, default in (("title", None), ("description", ""), ("time_limit", None)):
        if key in spec and (spec[key] or default) != (found.get(key) or default):
            changes[key] = spec[key]
    if "draws" in spec and _draws(spec["draws"]) != _draws(found.get("draws")):
        changes["draws"] = spec["draws"]
    released = spec.get("released", True)
    if _release_differs(released, found.get("released")):
        changes["released"] = released
    if not changes:
        return "unchanged"
    api.put(f"quizzes/{found['id']}", changes)
    return "updated"


def _draws(draws) -> list:
    """Draws as the service keeps them: no null filters, text stripped."""
    if not isinstance(draws, list):
        return draws
    return [
        {k: v.strip() if isinstance(v, str) else v for k, v in d.items() if v is not None}
        if isinstance(d, dict)
        else d
        for d in draws
    ]


def _release_differs(wanted, current: str | None) -> bool:
    """Whether the folder's `released` (true/"now", false/null, a time) says otherwise
    than the quiz's release time: a quiz released already stays as it was released."""
    if wanted is True or wanted == "now":
        return current is None
    if wanted is False or wanted is None:
        return current is not None
    return str(wanted).replace("+00:00", "Z").removesuffix("Z") != (current or "").removesuffix("Z")
