"""Courses in the Hub: two groups and two roles per course, made while the Hub runs.

A course `<slug>` is, in the Hub,

- the group ``course-<slug>``, its learners, granted the role ``course-<slug>-learner``:
  ``custom:coursehub:learn!group=course-<slug>``;
- the group ``course-<slug>-instructors``, granted the role ``course-<slug>-instructor``:
  ``custom:coursehub:author!group=course-<slug>`` and the learner's scope.

The scopes are filtered to the course's learner group (jupyterhub's custom scopes with
a ``!group=`` filter): the grader reads the course from the filter and never looks at a
group's name or a role. Admins add and remove members in the Hub's admin panel (Groups);
the grader does it for learners who join an open course or use a join code, and for an
instructor who enrols someone.

JupyterHub has no REST API for roles, and deletes at start-up every role its
configuration does not list. So the roles are *managed by the authenticator*
(``Authenticator.manage_roles``, JupyterHub 5), and :class:`CourseRolesMixin` derives
them from the Hub's own groups at every start: the roles of each ``course-<slug>``
group, and the global ``instructor`` role of the ``instructors`` group (with managed
roles, ``load_roles`` may not assign roles). While the Hub runs, it serves
:class:`CourseAPIHandler`, which the grader calls to make a new course's groups and
roles. Any authenticator coursehub uses mixes it in.
"""

from __future__ import annotations

from jupyterhub import orm, roles
from jupyterhub.apihandlers.base import APIHandler
from jupyterhub.auth import Authenticator
from jupyterhub.scopes import needs_scope
from tornado import web
from traitlets import Bool

from grader.scopes import (
    AUTHOR_SCOPE,
    COURSE_GROUP_PREFIX,
    INSTRUCTORS_SUFFIX,
    LEARN_SCOPE,
    SLUG,
    instructor_group,
    learner_group,
)

from .roles import ACCESS_GRADER_SCOPE, instructor_role_spec


def course_role_specs(slug: str) -> list[dict]:
    """The two roles of a course, each granted to one of its groups."""
    learners = learner_group(slug)
    learn = f"{LEARN_SCOPE}!group={learners}"
    return [
        {
            "name": f"{learners}-learner",
            "description": f"Learn in the course {slug}",
            "scopes": [learn, ACCESS_GRADER_SCOPE],
            "groups": [learners],
        },
        {
            "name": f"{learners}-instructor",
            "description": f"Teach the course {slug}: author, read learners' work, grade",
            "scopes": [f"{AUTHOR_SCOPE}!group={learners}", learn, ACCESS_GRADER_SCOPE],
            "groups": [instructor_group(slug)],
        },
    ]


def course_slugs(db) -> set[str]:
    """The courses whose learner group is in the Hub's database."""
    slugs = set()
    for (name,) in db.query(orm.Group.name).filter(orm.Group.name.startswith(COURSE_GROUP_PREFIX)):
        slug = name[len(COURSE_GROUP_PREFIX) :]
        if SLUG.match(slug) and not slug.endswith(INSTRUCTORS_SUFFIX):
            slugs.add(slug)
    return slugs


def ensure_course(db, slug: str) -> None:
    """The course's groups and roles, made if missing (idempotent; one transaction)."""
    for spec in course_role_specs(slug):
        group_name = spec["groups"][0]
        group = orm.Group.find(db, group_name)
        if group is None:
            group = orm.Group(name=group_name)
            db.add(group)
        role = roles.create_role(
            db, {**_without(spec, "groups"), "managed_by_auth": True}, commit=False
        )
        if role not in group.roles:
            roles.grant_role(db, group, role, managed=True, commit=False)
    db.commit()


def remove_course(db, slug: str) -> None:
    """The course's roles and groups, gone (its members lose the course's scopes)."""
    for spec in course_role_specs(slug):
        role = orm.Role.find(db, spec["name"])
        if role is not None:
            db.delete(role)
        group = orm.Group.find(db, spec["groups"][0])
        if group is not None:
            db.delete(group)
    db.commit()


def _without(spec: dict, key: str) -> dict:
    return {k: v for k, v in spec.items() if k != key}


class CourseAPIHandler(APIHandler):
    """``PUT /hub/api/coursehub/courses/<slug>``: make the course's groups and roles;
    ``DELETE``: remove them. Needs ``admin:groups`` (the grader's token has it)."""

    @needs_scope("admin:groups")
    def put(self, slug):
        ensure_course(self.db, _checked(slug))
        self.write({"course": slug, "groups": [learner_group(slug), instructor_group(slug)]})

    @needs_scope("admin:groups")
    def delete(self, slug):
        remove_course(self.db, _checked(slug))
        self.set_status(204)


def _checked(slug: str) -> str:
    if not SLUG.match(slug) or slug.endswith(INSTRUCTORS_SUFFIX):
        raise web.HTTPError(400, f"not a course slug: {slug!r}")
    return slug


class CourseRolesMixin(Authenticator):
    """For an Authenticator: course roles kept across restarts, and the course API
    (``class MyAuthenticator(CourseRolesMixin, SomeAuthenticator)``)."""

    manage_roles = Bool(
        True,
        config=True,
        help="Courses' roles are made while the Hub runs (hub_config.courses): keep it True.",
    )

    reset_managed_roles_on_startup = Bool(
        True,
        config=True,
        help="Managed roles are rebuilt from the course groups at every start: keep it True.",
    )

    async def load_managed_roles(self):
        """The global instructor role, and two roles for each course group in the Hub's
        database (made by CourseAPIHandler, or by an admin in the admin panel)."""
        specs = [instructor_role_spec()]
        for slug in sorted(course_slugs(self.parent.db)):
            specs += course_role_specs(slug)
        return specs

    def course_handlers(self) -> list[tuple]:
        return [(r"/api/coursehub/courses/([^/]+)", CourseAPIHandler)]
