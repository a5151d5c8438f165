"""LTI roles (LIS vocabulary URIs) as coursehub's two course roles."""

from __future__ import annotations

from .. import orm

#: context roles that teach: the course's instructors group
TEACHING_ROLES = frozenset({"Instructor", "ContentDeveloper", "TeachingAssistant", "Administrator"})
#: context roles that learn
LEARNING_ROLES = frozenset({"Learner", "Member", "Mentor"})

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
# a sub-role (membership/Instructor#TeachingAssistant) counts as its principal role's
SUB_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership/"


def _role_name(uri: str) -> str | None:
    """The context role a URI names ("Instructor"), or None for another kind of role
    (institution, system roles: those say nothing about this course)."""
    if uri.startswith(MEMBERSHIP):
        return uri[len(MEMBERSHIP) :]
    if uri.startswith(SUB_ROLE):
        principal, _, sub = uri[len(SUB_ROLE) :].partition("#")
        return sub if sub in TEACHING_ROLES else principal
    if "/" not in uri and "#" not in uri:
        return uri  # the short form LTI 1.3 allows for context roles ("Learner")
    return None


def course_role(roles) -> str | None:
    """instructor, learner, or None (no context role coursehub knows)."""
    names = {_role_name(r) for r in roles if isinstance(r, str)}
    if names & TEACHING_ROLES:
        return orm.INSTRUCTOR
    if names & LEARNING_ROLES:
        return orm.LEARNER
    return None


def is_teaching(roles) -> bool:
    return course_role(roles) == orm.INSTRUCTOR
