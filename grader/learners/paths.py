"""Learning paths: ordered sets of questions, across modules and courses, that a learner
follows ("Start here", "Loops and recursion").

Two kinds, as `orm.LearningPath` says:

- a **course's path** (`course_id` set, `public`): made by an instructor of that course
  (or loaded from `course_content/<course>/paths.json`); every learner of the course sees
  it. Its questions are all in courses its author teaches (maybe several).
- a learner's **own path** (no course, private): only its owner sees it. Its questions
  are any the owner can see.

Either way a reader sees, and is counted on, only the items *they* can see: questions
in courses they learn in, not retired, and released (an instructor of the question's
course sees its drafts too, as `find_question` lets them). So a path that spans two
courses shows a learner of one of them that course's part only, and a question released
next week joins the count next week.

Progress comes from best scores (`orm.BestScore`, kept by :mod:`grader.learners.scores`):
``solved`` counts visible items whose best is a solve, ``next`` is the first visible item
not solved. Reading any number of paths is three statements (the paths; their visible
items with the reader's best scores; the reader's enrolments), never one per item.
"""

from __future__ import annotations

import re
from collections import defaultdict

from sqlalchemy import and_, delete, func, or_, select

from .. import orm
from ..courses import CourseAccess
from ..dbutil import dialect_insert
from ..scopes import SLUG

# a path is something to follow, not a copy of a course: this many questions at most
MAX_PATH_QUESTIONS = 500
# a learner's own paths, at most (each a few rows: not a way to fill the database)
MAX_OWN_PATHS = 100


class PathError(ValueError):
    """A path spec that cannot be saved; the message names the field and the problem."""


# who sees what ---------------------------------------------------------------------


def learns(access: CourseAccess, course_slug: str) -> bool:
    return access.learn_all or course_slug in access.learn


def teaches(access: CourseAccess, course_slug: str) -> bool:
    return access.author_all or course_slug in access.author


def item_visible(access: CourseAccess, course_slug: str, released, retired: bool, now) -> bool:
    """Whether a reader with ``access`` sees (and is counted on) a question of a path:
    `find_question`'s rule, on plain columns."""
    if retired or not learns(access, course_slug):
        return False
    return (released is not None and released <= now) or teaches(access, course_slug)


def _path_rows(db, where):
    """(path, its course's slug or None, its owner's name or None) rows."""
    owner = orm.User
    return db.execute(
        select(orm.LearningPath, orm.Course.slug, owner.name)
        .outerjoin(orm.Course, orm.Course.id == orm.LearningPath.course_id)
        .outerjoin(owner, owner.id == orm.LearningPath.owner_id)
        .where(where)
        .order_by(
            orm.LearningPath.course_id.is_(None),  # the courses' paths first
            orm.Course.position,
            orm.Course.id,
            orm.LearningPath.position,
            orm.LearningPath.id,
        )
    ).all()


def _seen_by(user: orm.User, access: CourseAccess):
    """The paths a reader sees: their own, the public paths of courses they learn in,
    and every path of courses they teach."""
    path, course = orm.LearningPath, orm.Course
    seen = [path.owner_id == user.id]
    if access.learn_all:
        seen.append(and_(path.public.is_(True), path.course_id.is_not(None)))
    elif access.learn:
        seen.append(and_(path.public.is_(True), course.slug.in_(access.learn)))
    if access.author_all:
        seen.append(path.course_id.is_not(None))
    elif access.author:
        seen.append(course.slug.in_(access.author))
    return or_(*seen)


def visible_paths(db, user: orm.User, access: CourseAccess, course: orm.Course | None = None):
    """`GET paths`: rows of the paths the reader sees; with ``course``, that course's
    paths and the reader's own (a learner's own path may span courses: always listed)."""
    where = _seen_by(user, access)
    if course is not None:
        where = and_(
            where,
            or_(
                orm.LearningPath.course_id == course.id,
                and_(orm.LearningPath.course_id.is_(None), orm.LearningPath.owner_id == user.id),
            ),
        )
    return _path_rows(db, where)


def visible_path(db, user: orm.User, access: CourseAccess, path_id: int):
    """The row of one path the reader sees, or None (the caller answers 404)."""
    rows = _path_rows(db, and_(orm.LearningPath.id == path_id, _seen_by(user, access)))
    return rows[0] if rows else None


def may_edit(user: orm.User, access: CourseAccess, path: orm.LearningPath, course_slug) -> bool:
    """Its owner, or an instructor of its course, may change or delete a path."""
    return path.owner_id == user.id or (course_slug is not None and teaches(access, course_slug))


# reading ---------------------------------------------------------------------------


def _visible_items(db, user: orm.User, access: CourseAccess, path_ids) -> dict[int, list[dict]]:
    """path id -> its items the reader sees, in order, with their best scores: one
    statement for every path at once."""
    if not path_ids:
        return {}
    q, best = orm.Question, orm.BestScore
    query = (
        select(
            orm.PathItem.path_id,
            q.id,
            q.slug,
            q.title,
            q.type,
            q.difficulty,
            q.max_score,
            q.released,
            q.retired,
            q.module_id,
            orm.Module.slug.label("module_slug"),
            orm.Course.slug.label("course"),
            best.score,
            best.solved,
        )
        .join(q, q.id == orm.PathItem.question_id)
        .join(orm.Module, orm.Module.id == q.module_id)
        .join(orm.Course, orm.Course.id == orm.Module.course_id)
        .outerjoin(best, and_(best.question_id == q.id, best.user_id == user.id))
        .where(orm.PathItem.path_id.in_(path_ids), q.retired.is_(False))
        .order_by(orm.PathItem.path_id, orm.PathItem.position, q.id)
    )
    if not access.learn_all:
        query = query.where(orm.Course.slug.in_(access.learn))
    now = orm.utcnow()
    items = defaultdict(list)
    for row in db.execute(query):
        if not item_visible(access, row.course, row.released, row.retired, now):
            continue
        items[row.path_id].append(
            {
                "id": row.id,
                "slug": row.slug,
                "title": row.title,
                "module": row.module_id,
                "module_slug": row.module_slug,
                "course": row.course,
                "type": row.type,
                "difficulty": row.difficulty,
                "points": row.max_score,
                "best_score": row.score,
                "solved": bool(row.solved),
            }
        )
    return items


def _enrolled(db, user: orm.User, path_ids) -> set[int]:
    if not path_ids:
        return set()
    return set(
        db.scalars(
            select(orm.PathEnrolment.path_id).where(
                orm.PathEnrolment.user_id == user.id, orm.PathEnrolment.path_id.in_(path_ids)
            )
        )
    )


def path_models(
    db, user: orm.User, access: CourseAccess, rows, with_items: bool = False
) -> list[dict]:
    """The paths of ``rows`` (from :func:`visible_paths`) as the reader sees them: their
    progress, whether they follow them, and (``with_items``) their visible items."""
    ids = [row[0].id for row in rows]
    items = _visible_items(db, user, access, ids)
    enrolled = _enrolled(db, user, ids)
    models = []
    for path, course_slug, owner_name in rows:
        mine = items.get(path.id, [])
        solved = sum(1 for item in mine if item["solved"])
        upcoming = next((item for item in mine if not item["solved"]), None)
        model = {
            "id": path.id,
            "slug": path.slug,
            "title": path.title,
            "description": path.description,
            "course": course_slug,
            "owner": owner_name,
            "public": path.public,
            "mine": path.owner_id == user.id,
            "enrolled": path.id in enrolled,
            "total": len(mine),
            "solved": solved,
            "percent": round(100 * solved / len(mine)) if mine else 0,
            "next": None
            if upcoming is None
            else {key: upcoming[key] for key in ("id", "title", "module", "module_slug", "type")},
        }
        if with_items:
            model["items"] = mine
        models.append(model)
    return models


# writing ---------------------------------------------------------------------------


def slug_from(title: str) -> str:
    """A slug made of a title ("Loops & recursion" -> "loops-recursion")."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:90].strip("-")
    return slug if slug and not slug.isdigit() else f"path-{slug}".strip("-")


def _same_place(course: orm.Course | None, owner: orm.User | None):
    """Paths whose slugs must differ: a course's, or one owner's own."""
    path = orm.LearningPath
    if course is not None:
        return path.course_id == course.id
    return and_(path.course_id.is_(None), path.owner_id == (owner.id if owner else None))


def find_by_slug(db, course, owner, slug: str) -> orm.LearningPath | None:
    return db.scalar(
        select(orm.LearningPath).where(_same_place(course, owner), orm.LearningPath.slug == slug)
    )


def free_slug(db, course, owner, wanted: str) -> str:
    """``wanted``, or ``wanted-2``, ``wanted-3``... the first not used in its place."""
    taken = set(
        db.scalars(
            select(orm.LearningPath.slug).where(
                _same_place(course, owner), orm.LearningPath.slug.like(f"{wanted}%")
            )
        )
    )
    slug, n = wanted, 1
    while slug in taken:
        n += 1
        slug = f"{wanted}-{n}"
    return slug


def own_path_count(db, owner: orm.User) -> int:
    return db.scalar(
        select(func.count()).where(
            orm.LearningPath.owner_id == owner.id, orm.LearningPath.course_id.is_(None)
        )
    )


def create_path(
    db, course, owner, slug: str, title: str, description: str, question_ids
) -> orm.LearningPath:
    """A new path (a course's, public; or the owner's own, private), flushed."""
    position = db.scalar(
        select(func.coalesce(func.max(orm.LearningPath.position) + 1, 0)).where(
            _same_place(course, owner)
        )
    )
    path = orm.LearningPath(
        slug=slug,
        title=title,
        description=description,
        course_id=course.id if course is not None else None,
        owner_id=owner.id if owner is not None else None,
        public=course is not None,
        position=position,
    )
    db.add(path)
    db.flush()
    set_items(db, path, question_ids)
    return path


def set_items(db, path: orm.LearningPath, question_ids) -> None:
    """The path's questions are these, in this order (ids checked by the caller)."""
    db.execute(delete(orm.PathItem).where(orm.PathItem.path_id == path.id))
    if question_ids:
        db.execute(
            orm.PathItem.__table__.insert(),
            [
                {"path_id": path.id, "question_id": qid, "position": position}
                for position, qid in enumerate(question_ids)
            ],
        )
    path.updated = orm.utcnow()


def item_ids(db, path: orm.LearningPath) -> list[int]:
    return list(
        db.scalars(
            select(orm.PathItem.question_id)
            .where(orm.PathItem.path_id == path.id)
            .order_by(orm.PathItem.position)
        )
    )


def delete_path(db, path: orm.LearningPath) -> None:
    # explicitly: a database without enforced foreign keys keeps no orphan rows
    db.execute(delete(orm.PathItem).where(orm.PathItem.path_id == path.id))
    db.execute(delete(orm.PathEnrolment).where(orm.PathEnrolment.path_id == path.id))
    db.delete(path)


def enrol(db, user: orm.User, path: orm.LearningPath) -> None:
    """Follow a path; following it again (or two requests at once) changes nothing."""
    table = orm.PathEnrolment.__table__
    db.execute(
        dialect_insert(db, table)
        .values(path_id=path.id, user_id=user.id, enrolled=orm.utcnow())
        .on_conflict_do_nothing(index_elements=[table.c.path_id, table.c.user_id])
    )


def leave(db, user: orm.User, path: orm.LearningPath) -> None:
    db.execute(
        delete(orm.PathEnrolment).where(
            orm.PathEnrolment.path_id == path.id, orm.PathEnrolment.user_id == user.id
        )
    )


# the loaders' helper ----------------------------------------------------------------


def save_path(
    db, course: orm.Course | None, owner: orm.User | None, spec: dict
) -> orm.LearningPath:
    """Create or update (matched by slug) a path from a spec: ``{"slug"?, "title",
    "description"?, "questions": [question id | "module-slug/question-slug", ...]}``
    (slugs are looked up in ``course``). With ``course``, the course's public path; else
    ``owner``'s own. For loaders (content folders, scripts): it trusts its caller with
    every question it names; PathError names what is wrong. Flushes, does not commit."""
    if not isinstance(spec, dict):
        raise PathError("a path must be a JSON object")
    title = spec.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > 255:
        raise PathError("title is required: a non-empty string of at most 255 characters")
    description = spec.get("description", "") or ""
    if not isinstance(description, str) or len(description) > 10_000:
        raise PathError(f"path {title!r}: description must be a string (10,000 characters)")
    slug = spec.get("slug") or slug_from(title)
    if not isinstance(slug, str) or not SLUG.match(slug) or slug.isdigit():
        raise PathError(f"path {title!r}: slug {slug!r} is not a slug")
    ids = resolve_questions(db, course, spec.get("questions"), f"path {slug}")
    path = find_by_slug(db, course, owner, slug)
    if path is None:
        return create_path(db, course, owner, slug, title.strip(), description, ids)
    path.title, path.description = title.strip(), description
    if item_ids(db, path) != ids:
        set_items(db, path, ids)
    db.flush()
    return path


def resolve_questions(db, course: orm.Course | None, refs, where: str) -> list[int]:
    """Question ids of ``refs`` (ids, or "module/question" slugs within ``course``), in
    order; PathError names the first that is not a question or is listed twice."""
    if not isinstance(refs, list) or not refs:
        raise PathError(f"{where}: questions must be a non-empty list")
    if len(refs) > MAX_PATH_QUESTIONS:
        raise PathError(f"{where}: at most {MAX_PATH_QUESTIONS} questions")
    by_slug = {}
    if course is not None and any(isinstance(ref, str) for ref in refs):
        rows = db.execute(
            select(orm.Question.id, orm.Module.slug, orm.Question.slug)
            .join(orm.Module, orm.Module.id == orm.Question.module_id)
            .where(orm.Module.course_id == course.id)
        )
        by_slug = {f"{module}/{question}": qid for qid, module, question in rows}
    numbers = [ref for ref in refs if isinstance(ref, int) and not isinstance(ref, bool)]
    existing = set(db.scalars(select(orm.Question.id).where(orm.Question.id.in_(numbers))))
    ids = []
    for ref in refs:
        if isinstance(ref, str):
            qid = by_slug.get(ref)
        elif isinstance(ref, int) and not isinstance(ref, bool):
            qid = ref if ref in existing else None
        else:
            qid = None
        if qid is None:
            within = f" in {course.slug}" if course is not None and isinstance(ref, str) else ""
            raise PathError(f"{where}: no such question{within}: {ref!r}")
        if qid in ids:
            raise PathError(f"{where}: question {ref!r} is listed twice")
        ids.append(qid)
    return ids
