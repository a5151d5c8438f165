"""Courses and who may do what in them, read from the scopes a request carries.

A course's members are the Hub's: the group `course-<slug>` (learners) and the group
`course-<slug>-instructors`, whose roles (made by the Hub side, :mod:`hub_config.courses`)
grant coursehub's custom scopes *filtered to the course's learner group*:

- ``custom:coursehub:learn!group=course-<slug>``: learn in that course;
- ``custom:coursehub:author!group=course-<slug>``: teach it (author, read every learner's
  work, grade, export);

and an unfiltered scope covers every course (the global ``instructor`` role, the admins'
scripts token). The grader reads only these scope strings, never a group's name: the
filter says which learners a scope is about, and a course is the set of its learners.

Joining a course (open, or with its code) and an instructor's enrolling someone add the
user to the course's group through the Hub's REST API (:class:`HubGroups`); the Hub then
grants the course's scopes to every token of that user at once.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import delete, select
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from . import orm
from .scopes import (  # noqa: F401 (the group names, re-exported for the handlers)
    AUTHOR_SCOPE,
    COURSE_GROUP_PREFIX,
    INSTRUCTORS_SUFFIX,
    LEARN_SCOPE,
    instructor_group,
    learner_group,
)


def new_join_code() -> str:
    """Eight characters a learner can type: 40 bits, from an alphabet without 0/O, 1/I."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(8))


@dataclass(frozen=True)
class CourseAccess:
    """The courses a request may learn in and teach, from its scopes."""

    learn_all: bool = False
    author_all: bool = False
    learn: frozenset[str] = frozenset()  # course slugs
    author: frozenset[str] = frozenset()

    @classmethod
    def from_scopes(cls, scopes) -> CourseAccess:
        learn, author = set(), set()
        learn_all = author_all = False
        for scope in scopes:
            name, _, scope_filter = scope.partition("!")
            if name not in (LEARN_SCOPE, AUTHOR_SCOPE):
                continue
            slug = None
            if scope_filter:
                kind, _, group = scope_filter.partition("=")
                if kind != "group" or not group.startswith(COURSE_GROUP_PREFIX):
                    continue  # a filter that names no course grants no course
                slug = group[len(COURSE_GROUP_PREFIX) :]
            if name == AUTHOR_SCOPE:
                author_all |= slug is None
                author.add(slug) if slug else None
            learn_all |= slug is None
            learn.add(slug) if slug else None  # teaching a course includes learning in it
        return cls(learn_all, author_all, frozenset(learn), frozenset(author))

    @property
    def any_author(self) -> bool:
        return self.author_all or bool(self.author)

    def may_learn(self, course: orm.Course) -> bool:
        return self.learn_all or course.slug in self.learn

    def may_author(self, course: orm.Course) -> bool:
        return self.author_all or course.slug in self.author

    def role_in(self, course: orm.Course) -> str | None:
        if self.may_author(course):
            return orm.INSTRUCTOR
        return orm.LEARNER if self.may_learn(course) else None

    def learning(self, db) -> list[orm.Course]:
        """The courses these scopes learn in, in order."""
        query = select(orm.Course).order_by(orm.Course.position, orm.Course.id)
        if not self.learn_all:
            query = query.where(orm.Course.slug.in_(self.learn))
        return list(db.scalars(query))

    def teaching(self, db) -> list[orm.Course]:
        query = select(orm.Course).order_by(orm.Course.position, orm.Course.id)
        if not self.author_all:
            query = query.where(orm.Course.slug.in_(self.author))
        return list(db.scalars(query))


def sync_enrolments(db, user: orm.User, access: CourseAccess) -> None:
    """Make the user's `Enrolment` rows say what their scopes say (course by course;
    a user with an unfiltered scope is in every course without a row). Commits only
    if something changed."""
    courses = {
        c.id: c for c in db.scalars(select(orm.Course).where(orm.Course.slug.in_(access.learn)))
    }
    wanted = {course_id: access.role_in(course) for course_id, course in courses.items()}
    rows = {
        e.course_id: e
        for e in db.scalars(select(orm.Enrolment).where(orm.Enrolment.user_id == user.id))
    }
    changed = False
    for course_id, row in rows.items():
        if course_id not in wanted and not (access.learn_all or access.author_all):
            db.delete(row)
            changed = True
        elif course_id in wanted and row.role != wanted[course_id]:
            row.role, changed = wanted[course_id], True
    for course_id, role in wanted.items():
        if course_id not in rows:
            db.add(orm.Enrolment(course_id=course_id, user_id=user.id, role=role))
            changed = True
    if changed:
        db.commit()


class EnrolmentSync:
    """`sync_enrolments`, off the hot path: every request names its user, and reading
    their courses and rows each time cost two queries a request for something that
    changes when a user joins or leaves a course. A user's rows are checked again when
    their scopes name other courses than last time (in this process), or after
    `max_age` seconds (a course row the grader made since, another replica's change)."""

    def __init__(self, max_age: float = 300, size: int = 20_000):
        self.max_age, self.size = max_age, size
        self._seen: OrderedDict[int, tuple] = OrderedDict()
        self._lock = threading.Lock()  # the database threads share it

    def sync(self, db, user: orm.User, access: CourseAccess) -> None:
        now = time.monotonic()
        with self._lock:
            seen = self._seen.get(user.id)
        if seen is not None and seen[0] == access and now - seen[1] < self.max_age:
            return
        sync_enrolments(db, user, access)
        with self._lock:
            self._seen[user.id] = (access, now)
            self._seen.move_to_end(user.id)
            while len(self._seen) > self.size:
                self._seen.popitem(last=False)


def record_enrolment(db, course_id: int, user_id: int, role: str | None) -> None:
    """Mirror a change the grader made in the Hub (role None: left the course)."""
    db.execute(
        delete(orm.Enrolment).where(
            orm.Enrolment.course_id == course_id, orm.Enrolment.user_id == user_id
        )
    )
    if role is not None:
        db.add(orm.Enrolment(course_id=course_id, user_id=user_id, role=role))
    db.commit()


class HubError(Exception):
    """The Hub refused or failed a change; the message says what and why."""


class HubGroups:
    """Course membership in the Hub, over its REST API with the grader's token."""

    def __init__(self, api_url: str, api_token: str):
        self.api_url = api_url.rstrip("/")
        self.api_token = api_token

    async def _request(self, method: str, path: str, body=None, ok=(200, 201, 204)):
        request = HTTPRequest(
            f"{self.api_url}{path}",
            method=method,
            headers={"Authorization": f"token {self.api_token}"},
            body=None if body is None else json.dumps(body),
            allow_nonstandard_methods=True,
            request_timeout=10,
        )
        try:
            response = await AsyncHTTPClient().fetch(request, raise_error=False)
        except (OSError, HTTPClientError) as e:
            raise HubError(f"the Hub did not answer: {e}") from None
        if response.code not in ok:
            raise HubError(f"the Hub answered {response.code} to {method} {path}")
        return json.loads(response.body) if response.body else None

    async def ensure_course(self, slug: str) -> None:
        """The course's two groups and their roles (the Hub side makes the roles)."""
        await self._request("PUT", f"/coursehub/courses/{quote(slug)}", body={})

    async def add(self, group: str, name: str) -> None:
        await self._request("POST", f"/groups/{quote(group)}/users", {"users": [name]})

    async def remove(self, group: str, name: str) -> None:
        await self._request("DELETE", f"/groups/{quote(group)}/users", {"users": [name]})

    async def members(self, group: str) -> list[str]:
        model = await self._request("GET", f"/groups/{quote(group)}")
        return list(model.get("users", []))
