"""Loading a course from disk (`course_content/<course>/`) into the database.

Layout (see course_content/README.md): `course.json` lists modules in order and each
module's question slugs; `<module>/<question>.ipynb` is the nbgrader source notebook,
with `metadata.coursehub` holding title, category, difficulty and tags.

Loading is idempotent: modules and questions are matched by slug, a changed notebook
becomes a new question version, and nothing is deleted.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from sqlalchemy import select

from .. import orm
from ..learners import scores
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
    return course


def load_course(db, course_dir: Path) -> dict:
    """Create or update the course's modules and questions; returns counts."""
    course_dir = Path(course_dir)
    course = read_course(course_dir)
    counts = {"modules": 0, "questions_created": 0, "questions_updated": 0}
    retired = set(db.scalars(select(orm.Question.id).where(orm.Question.retired.is_(True))))
    for position, module_spec in enumerate(course["modules"]):
        module = _upsert_module(db, module_spec, position)
        counts["modules"] += 1
        for q_position, slug in enumerate(module_spec.get("questions", [])):
            path = course_dir / module.slug / f"{slug}.ipynb"
            try:
                created = _upsert_question(db, module, slug, path, q_position)
            except (OSError, QuestionError) as e:
                db.rollback()
                raise CourseError(f"{path}: {e}") from None
            counts["questions_created" if created else "questions_updated"] += 1
    db.flush()
    if any(not db.get(orm.Question, question_id).retired for question_id in retired):
        scores.rebuild_totals(db)  # a retired question is back: its scores count again
    db.commit()
    return counts


def _upsert_module(db, spec: dict, position: int) -> orm.Module:
    slug = spec.get("slug")
    if not slug or not spec.get("title"):
        raise CourseError(f"module #{position + 1}: 'slug' and 'title' are required")
    module = orm.Module.find_by_slug(db, slug)
    if module is None:
        module = orm.Module(slug=slug, title=spec["title"])
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
    question = next((q for q in module.questions if q.slug == slug), None)
    if question is None:
        create_question(db, module, fields, source)
        db.flush()
        return True
    replace_notebook(question, source)
    question.title, question.category = fields.title, fields.category
    question.difficulty, question.tags = fields.difficulty, fields.tags
    question.position, question.retired = position, False
    return False
