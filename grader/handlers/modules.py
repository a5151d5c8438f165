"""Modules: ordered groups of questions."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from tornado import web

from .. import orm
from ..scopes import AUTHOR_SCOPE
from .base import APIHandler, blocking
from .validation import optional_text, required_slug, required_text


def module_model(module: orm.Module) -> dict:
    return {
        "id": module.id,
        "slug": module.slug,
        "title": module.title,
        "description": module.description,
        "position": module.position,
        "questions": sum(1 for q in module.questions if not q.retired),
    }


class ModuleListAPIHandler(APIHandler):
    @web.authenticated
    @blocking
    def get(self):
        self.learner()
        modules = self.db.scalars(select(orm.Module).order_by(orm.Module.position, orm.Module.id))
        self.write_json({"modules": [module_model(m) for m in modules]})

    @web.authenticated
    @blocking
    def post(self):
        self.require_scope(AUTHOR_SCOPE)
        body = self.get_json_body()
        slug = required_slug(body, "slug")
        if orm.Module.find_by_slug(self.db, slug) is not None:
            raise web.HTTPError(409, f"a module with slug {slug!r} exists already")
        module = orm.Module(
            slug=slug,
            title=required_text(body, "title"),
            description=optional_text(body, "description"),
            position=_position(body, default=self._next_position()),
        )
        self.db.add(module)
        try:
            self.db.commit()
        except IntegrityError:
            raise web.HTTPError(409, f"a module with slug {slug!r} exists already") from None
        self.write_json(module_model(module), status=201)

    def _next_position(self) -> int:
        last = self.db.scalar(select(orm.Module.position).order_by(orm.Module.position.desc()))
        return 0 if last is None else last + 1


class ModuleAPIHandler(APIHandler):
    @web.authenticated
    @blocking
    def get(self, module_ref):
        self.learner()
        self.write_json(module_model(self.find_module(module_ref)))

    @web.authenticated
    @blocking
    def put(self, module_ref):
        self.require_scope(AUTHOR_SCOPE)
        module = self.find_module(module_ref)
        body = self.get_json_body()
        if "title" in body:
            module.title = required_text(body, "title")
        if "description" in body:
            module.description = optional_text(body, "description")
        if "position" in body:
            module.position = _position(body, default=module.position)
        self.db.commit()
        self.write_json(module_model(module))

    @web.authenticated
    @blocking
    def delete(self, module_ref):
        self.require_scope(AUTHOR_SCOPE)
        module = self.find_module(module_ref)
        if any(not q.retired for q in module.questions):
            raise web.HTTPError(409, "module still holds questions: retire them first")
        self.db.delete(module)
        self.db.commit()
        self.no_content()


def _position(body: dict, default: int) -> int:
    value = body.get("position", default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise web.HTTPError(400, "position must be a non-negative integer")
    return value


default_handlers = [
    (r"modules", ModuleListAPIHandler),
    (r"modules/([^/]+)", ModuleAPIHandler),
]
