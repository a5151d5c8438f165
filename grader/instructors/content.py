"""Loading a course from disk (`course_content/<course>/`) into the database.

Layout (see course_content/README.md): `course.json` names the course (slug, title,
description, `join`: invite, code or open), may define the course's own `achievements`
(grader.learners.achievements), and lists modules in order and each module's question
slugs; `<module>/<question>.ipynb` is the nbgrader source notebook,
with `metadata.coursehub` holding title, category, difficulty and tags; `paths.json` and
`quizzes.json`, if there, the course's learning paths and quizzes
(:mod:`grader.instructors.practice_content`).

Loading is idempotent: modules and questions are matched by slug, a changed notebook
becomes a new question version, and nothing is deleted.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from sqlalchemy import select

from .. import orm
from ..courses import new_join_code
from ..learners import achievements, scores
from ..scopes import is_course_slug
from .authoring import QuestionError, QuestionFields, create_question, replace_notebook

log = logging.getLogger(__name__)


class CourseError(ValueError):
    """A course folder that cannot be loaded; the message names the file and problem."""


def read_course(course_dir: Path) -> dict:
    manifest = Path(course_dir) / "course.json"
    try:
        course = json.loads(manifest.read_text())
    except FileNotFoundError:
        raise CourseError(f"{manifest}: missing") from None
    except ValueError as e:
        raise CourseError(f"{manifest}: not valid JSON: {e}") from None
    if not isinstance(course.get("modules"), list):
        raise CourseError(f"{manifest}: 'modules' must be a list")
    if "achievements" in course:
        course["achievements"] = course_achievements(course["achievements"], str(manifest))
    return course


def course_achievements(definitions, where: str) -> list[dict]:
    """A course's own achievements (`"achievements"` in course.json), checked: a
    CourseError names the definition and what is wrong with it."""
    try:
        return achievements.validate_course(definitions, f"{where}: achievements")
    except achievements.AchievementError as e:
        raise CourseError(str(e)) from None


def load_course(db, course_dir: Path) -> dict:
    """Create or update the course, its modules and questions; returns counts (and the
    course's slug)."""
    course_dir = Path(course_dir)
    spec = read_course(course_dir)
    course = upsert_course(db, spec, default_slug=course_dir.name)
    counts = {"course": course.slug, "modules": 0, "questions_created": 0, "questions_updated": 0}
    retired = retired_questions(db)
    for position, module_spec in enumerate(spec["modules"]):
        module = _upsert_module(db, course, module_spec, position)
        counts["modules"] += 1
        for q_position, slug in enumerate(module_spec.get("questions", [])):
            path = course_dir / module.slug / f"{slug}.ipynb"
            try:
                created = _upsert_question(db, module, slug, path, q_position)
            except (OSError, QuestionError) as e:
                db.rollback()
                raise CourseError(f"{path}: {e}") from None
            counts["questions_created" if created else "questions_updated"] += 1
    counts.update(_load_practice(db, course, course_dir))
    finish_load(db, retired)
    return counts


def _load_practice(db, course: orm.Course, course_dir: Path) -> dict:
    """The folder's paths.json and quizzes.json (grader.instructors.practice_content)."""
    from .practice_content import load_practice

    try:
        return load_practice(db, course, course_dir)
    except ValueError as e:
        db.rollback()
        raise CourseError(str(e)) from None


def retired_questions(db) -> set[int]:
    """The retired questions before a load (see finish_load)."""
    return set(db.scalars(select(orm.Question.id).where(orm.Question.retired.is_(True))))


def finish_load(db, retired_before: set[int]) -> None:
    """Commit a load; if it brought a retired question back, its scores count again."""
    db.flush()
    if any(not db.get(orm.Question, question_id).retired for question_id in retired_before):
        scores.rebuild_totals(db)
    db.commit()


def upsert_course(db, spec: dict, default_slug: str) -> orm.Course:
    """The course a folder describes, made or updated. A database upgraded from before
    courses holds its modules in the course `default`: the first folder that has one of
    those modules takes that course over (its scores and submissions with it)."""
    slug = spec.get("slug") or default_slug
    if not is_course_slug(slug):
        raise CourseError(f"course slug {slug!r}: lower-case letters, digits, '-' and '_'")
    join = spec.get("join", "invite")
    if join not in orm.JOIN_MODES:
        raise CourseError(f"course {slug}: join must be one of {', '.join(orm.JOIN_MODES)}")
    course = orm.Course.find_by_slug(db, slug)
    if course is None:
        migrated = orm.Course.find_by_slug(db, "default")
        module_slugs = {m.get("slug") for m in spec.get("modules", [])}
        if migrated is not None and any(m.slug in module_slugs for m in migrated.modules):
            course = migrated
            course.slug = slug
        else:
            course = orm.Course(slug=slug, title=spec.get("title") or slug)
            course.position = len(db.scalars(select(orm.Course.id)).all())
            db.add(course)
    course.title = spec.get("title") or slug
    course.description = spec.get("description", "")
    course.join = join
    if "achievements" in spec:
        # only when the file has them: an instructor may have set them through the API
        course.achievements = course_achievements(spec["achievements"], f"course {slug}")
    if join == "code" and not course.join_code:
        course.join_code = new_join_code()
    db.flush()
    return course


def _upsert_module(db, course: orm.Course, spec: dict, position: int) -> orm.Module:
    slug = spec.get("slug")
    if not slug or not spec.get("title"):
        raise CourseError(f"module #{position + 1}: 'slug' and 'title' are required")
    module = orm.Module.find_by_slug(db, slug, course.id)
    if module is None:
        module = orm.Module(course=course, slug=slug, title=spec["title"])
        db.add(module)
    module.title = spec["title"]
    module.description = spec.get("description", "")
    module.position = position
    db.flush()
    return module


def _upsert_question(db, module: orm.Module, slug: str, path: Path, position: int) -> bool:
    source = path.read_bytes()
    meta = json.loads(source).get("metadata", {}).get("coursehub", {})
    fields = QuestionFields(
        slug=slug,
        title=meta.get("title") or slug,
        category=meta.get("category", ""),
        difficulty=meta.get("difficulty", ""),
        tags=sorted(meta.get("tags", [])),
        position=position,
    )
    return upsert_question(db, module, fields, source)


def upsert_question(
    db, module: orm.Module, fields: QuestionFields, source, release: bool = True
) -> bool:
    """Create the module's question `fields.slug` (released now, or a draft), or give the
    existing one these fields and notebook (a new version if it changed; its release state
    is kept; a retired one is back). True if created. Shared with the nbgrader importer."""
    question = next((q for q in module.questions if q.slug == fields.slug), None)
    if question is None:
        question = create_question(db, module, fields, source)
        question.released = orm.utcnow() if release else None
        db.flush()
        return True
    replace_notebook(question, source)
    question.title, question.category = fields.title, fields.category
    question.difficulty, question.tags = fields.difficulty, fields.tags
    question.position, question.retired = fields.position, False
    return False
