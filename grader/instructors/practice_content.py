"""A course folder's practice beyond questions: `paths.json` (learning paths) and
`quizzes.json` (randomized quizzes), loaded after its questions by
:func:`grader.instructors.content.load_course`.

- `paths.json`: a list of ``{"slug", "title", "description", "questions":
  ["module-slug/question-slug", ...]}``, the course's public paths
  (:func:`grader.learners.paths.save_path`);
- `quizzes.json`: a list of quiz specs (a draw's `module` by slug), the course's quizzes
  (:func:`grader.learners.quizzes.save_quiz`).

Both are matched by slug: loading again updates them, and nothing is deleted. Either
file may be missing. `read_practice` is shared with `coursehub-grader course import`,
which sends the same specs through the API.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the command line reads the files without the database's modules
    from .. import orm

PATHS_FILE = "paths.json"
QUIZZES_FILE = "quizzes.json"


def read_specs(course_dir: Path, name: str) -> list[dict]:
    """The list of specs in ``course_dir/name`` ([] if there is no such file); ValueError
    names the file and what is wrong with it."""
    path = Path(course_dir) / name
    try:
        specs = json.loads(path.read_text())
    except FileNotFoundError:
        return []
    except ValueError as e:
        raise ValueError(f"{path}: not valid JSON: {e}") from None
    if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
        raise ValueError(f"{path}: must be a list of objects")
    for index, spec in enumerate(specs):
        if not isinstance(spec.get("slug"), str) or not spec["slug"]:
            # loading again finds each by its slug
            raise ValueError(f"{path}: item #{index + 1} needs a slug")
    slugs = [s.get("slug") for s in specs]
    twice = {slug for slug in slugs if slugs.count(slug) > 1}
    if twice:
        raise ValueError(f"{path}: slug {sorted(map(str, twice))[0]!r} is used twice")
    return specs


def load_practice(db, course: orm.Course, course_dir: Path) -> dict:
    """Save the folder's paths and quizzes in ``course`` (flushed, not committed);
    counts. ValueError names the file, the item and the problem."""
    from ..learners import paths

    course_dir = Path(course_dir)
    counts = {"paths": 0, "quizzes": 0}
    for position, spec in enumerate(read_specs(course_dir, PATHS_FILE)):
        try:
            path = paths.save_path(db, course, None, spec)
        except ValueError as e:
            raise ValueError(f"{course_dir / PATHS_FILE}: {e}") from None
        path.position = position
        counts["paths"] += 1
    quiz_specs = read_specs(course_dir, QUIZZES_FILE)
    if quiz_specs:
        from ..learners import quizzes

        for spec in quiz_specs:
            try:
                quizzes.save_quiz(db, course, _keep_release(db, course, spec))
            except ValueError as e:
                raise ValueError(f"{course_dir / QUIZZES_FILE}: {e}") from None
            counts["quizzes"] += 1
    db.flush()
    return counts


def _keep_release(db, course: orm.Course, spec: dict) -> dict:
    """The spec, saying when its quiz was released if it is released already and the
    file says only "released" (true, "now" or nothing): loading again (every start of
    the service) must not move a release time to now."""
    from sqlalchemy import select

    from .. import orm

    if spec.get("released", True) not in (True, "now"):
        return spec
    released = db.scalar(
        select(orm.Quiz.released).where(
            orm.Quiz.course_id == course.id, orm.Quiz.slug == spec.get("slug")
        )
    )
    if released is None:
        return spec
    return {**spec, "released": released.isoformat()}
