"""The custom scopes coursehub's permissions are made of: a contract, never renamed.

They are JupyterHub RBAC scopes (jupyterhub's ``examples/custom-scopes``), declared and
granted through Hub roles in :mod:`hub_config.roles`, which imports them from here. The
grader checks the scopes a request's token or cookie carries, never role names; the one
group it knows is `RESTRICTED_GROUP`.
"""

import re

#: use modules, questions, own submissions, progress, profile, leaderboard
LEARN_SCOPE = "custom:coursehub:learn"
#: author modules and questions; read every learner's submissions, progress, gradebook
AUTHOR_SCOPE = "custom:coursehub:author"

#: the Hub's own calls to the grader (an LTI launch forwarded, an admin action in the
#: Hub's pages for the audit log): held only by the token-only service the Hub itself
#: uses (hub_config), never by a user
HUB_SCOPE = "custom:coursehub:hub"

#: read the audit log (every entry, its exports and event stream), for a system that
#: follows it (a SIEM, an archive): Hub admins read it without it
AUDIT_SCOPE = "custom:coursehub:audit"

#: members of this Hub group may sign in and read, but the grader refuses their
#: submissions (an admin's tool against abuse). A group, not a scope: roles only add
#: scopes, and restricting must take one away from a learner who has it.
RESTRICTED_GROUP = "restricted"

#: slugs of courses, modules and questions (a course's is part of its Hub groups' names)
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")

#: Hub groups of a course are named `course-<slug>` (learners) and
#: `course-<slug>-instructors`; course scopes are filtered to the learner group:
#: ``custom:coursehub:learn!group=course-<slug>`` (see grader.courses)
COURSE_GROUP_PREFIX = "course-"
#: so no course slug may end with it: `course-<slug>-instructors` would be the learner
#: group of another course
INSTRUCTORS_SUFFIX = "-instructors"


def is_course_slug(slug: str) -> bool:
    """A slug a course may have: a slug, not digits alone (courses are found by id or
    slug), not ending in INSTRUCTORS_SUFFIX."""
    return bool(SLUG.match(slug)) and not slug.isdigit() and not slug.endswith(INSTRUCTORS_SUFFIX)


def learner_group(slug: str) -> str:
    return f"{COURSE_GROUP_PREFIX}{slug}"


def instructor_group(slug: str) -> str:
    return f"{COURSE_GROUP_PREFIX}{slug}{INSTRUCTORS_SUFFIX}"
