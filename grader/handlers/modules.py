"""Modules: ordered groups of questions, in a course."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from tornado import web

from .. import orm
from .base import APIHandler, blocking, isoformat
from .validation import optional_text, required_slug, required_text, submission_rules


def module_model(module: orm.Module, teaching: bool = False) -> dict:
    visible = [q for q in module.questions if not q.retired and (teaching or q.is_released())]
    model = {
        "id": module.id,
        "course": module.course.slug,
        "slug": module.slug,
        "title": module.title,
        "description": module.description,
        "position": module.position,
        "questions": len(visible),
    }
    for field in orm.RULE_FIELDS:
        value = getattr(module, field)
        model[field] = isoformat(value) if field == "due" else value
    return model


class ModuleListAPIHandler(APIHandler):
    @web.authenticated
    @blocking
    def get(self):
        self.learner()
        course = self.course_argument(required=False)
        courses = [course] if course else self.access.learning(self.db)
        modules = self.db.scalars(
            select(orm.Module)
            .join(orm.Course)
            .where(orm.Module.course_id.in_([c.id for c in courses]))
            .order_by(orm.Course.position, orm.Course.id, orm.Module.position, orm.Module.id)
        )
        self.write_json(
            {"modules": [module_model(m, self.access.may_author(m.course)) for m in modules]}
        )

    @web.authenticated
    @blocking
    def post(self):
        self.learner()
        self.require_any_author()
        body = self.get_json_body()
        course_ref = body.get("course")
        if course_ref is None:
            courses = self.access.teaching(self.db)
            if len(courses) != 1:
                raise web.HTTPError(400, "course is required: the slug of the module's course")
            course = courses[0]
        elif isinstance(course_ref, str | int) and not isinstance(course_ref, bool):
            course = self.find_course(course_ref)
        else:
            raise web.HTTPError(400, "course must be a course's slug or id")
        self.require_author_of(course)
        slug = required_slug(body, "slug")
        if orm.Module.find_by_slug(self.db, slug, course.id) is not None:
            raise web.HTTPError(409, f"course {course.slug} has a module {slug!r} already")
        module = orm.Module(
            course=course,
            slug=slug,
            title=required_text(body, "title"),
            description=optional_text(body, "description"),
            position=_position(body, default=self._next_position(course)),
            **submission_rules(body),
        )
        self.db.add(module)
        try:
            self.db.flush()
            self.audit(
                self.db,
                "module.create",
                course_id=course.id,
                target=f"module {module.id}",
                detail={"slug": slug, "title": module.title, **rule_detail(submission_rules(body))},
            )
            self.db.commit()
        except IntegrityError:
            raise web.HTTPError(
                409, f"course {course.slug} has a module {slug!r} already"
            ) from None
        self.write_json(module_model(module, teaching=True), status=201)

    def _next_position(self, course: orm.Course) -> int:
        last = self.db.scalar(
            select(orm.Module.position)
            .where(orm.Module.course_id == course.id)
            .order_by(orm.Module.position.desc())
        )
        return 0 if last is None else last + 1


class ModuleAPIHandler(APIHandler):
    @web.authenticated
    @blocking
    def get(self, module_ref):
        self.learner()
        module = self.find_module(module_ref, self.course_argument(required=False))
        self.write_json(module_model(module, self.access.may_author(module.course)))

    @web.authenticated
    @blocking
    def put(self, module_ref):
        self.learner()
        module = self.find_module(module_ref, self.course_argument(required=False))
        self.require_author_of(module.course)
        body = self.get_json_body()
        if "title" in body:
            module.title = required_text(body, "title")
        if "description" in body:
            module.description = optional_text(body, "description")
        if "position" in body:
            module.position = _position(body, default=module.position)
        rule_values = submission_rules(body)
        for field, value in rule_values.items():
            setattr(module, field, value)
        target = f"module {module.id}"
        changed = sorted({"title", "description", "position"} & set(body))
        if changed:
            detail = {"slug": module.slug, "fields": changed}
            self.audit(
                self.db, "module.update", course_id=module.course_id, target=target, detail=detail
            )
        if rule_values:
            self.audit(
                self.db, "rules.update", course_id=module.course_id, target=target,
                detail=rule_detail(rule_values),
            )  # fmt: skip
        self.db.commit()
        self.write_json(module_model(module, teaching=True))

    @web.authenticated
    @blocking
    def delete(self, module_ref):
        self.learner()
        module = self.find_module(module_ref, self.course_argument(required=False))
        self.require_author_of(module.course)
        if any(not q.retired for q in module.questions):
            raise web.HTTPError(409, "module still holds questions: retire them first")
        self.audit(
            self.db,
            "module.delete",
            course_id=module.course_id,
            target=f"module {module.id}",
            detail={"slug": module.slug, "title": module.title},
        )
        self.db.delete(module)
        self.db.commit()
        self.no_content()


def rule_detail(rule_values: dict) -> dict:
    """Deadline and limit fields as an audit entry's detail (dates as the API writes them)."""
    return {k: isoformat(v) if k == "due" else v for k, v in rule_values.items()}


def _position(body: dict, default: int) -> int:
    value = body.get("position", default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise web.HTTPError(400, "position must be a non-negative integer")
    return value


default_handlers = [
    (r"modules", ModuleListAPIHandler),
    (r"modules/([^/]+)", ModuleAPIHandler),
]
