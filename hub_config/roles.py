"""Custom scopes and roles: who may learn, who may author, what each token carries.

coursehub's permissions are JupyterHub RBAC: two ``custom:`` scopes, granted through Hub
roles (see jupyterhub's ``examples/custom-scopes``). The grader checks the *scopes* of
the token or OAuth cookie a request carries, never role or group names, so an admin can
re-arrange roles in configuration without touching the grader.

The scope names are a contract with the grader, defined once in :mod:`grader.scopes`.
"""

from __future__ import annotations

from jupyterhub.roles import get_default_roles

from grader.scopes import AUDIT_SCOPE, AUTHOR_SCOPE, HUB_SCOPE, LEARN_SCOPE, RESTRICTED_GROUP

from .settings import Settings

GRADER_SERVICE = "grader"
ADMIN_SERVICE = "coursehub-admin"
#: the token-only service whose token the Hub process itself calls the grader with
#: (hub_config.grader_calls): an LTI launch forwarded, an admin action for the audit log
HUB_CALLS_SERVICE = "coursehub-hub"
INSTRUCTOR_ROLE = "instructor"
INSTRUCTORS_GROUP = "instructors"
#: reaching the grader through the proxy with a token or OAuth cookie
ACCESS_GRADER_SCOPE = f"access:services!service={GRADER_SERVICE}"

CUSTOM_SCOPES = {
    LEARN_SCOPE: {
        "description": (
            "Use coursehub as a learner: modules, questions, own submissions, "
            "progress, profile and leaderboard."
        ),
    },
    AUTHOR_SCOPE: {
        "description": (
            "Author coursehub modules and questions; read every learner's "
            "submissions, progress and the gradebook."
        ),
    },
    HUB_SCOPE: {
        "description": (
            "The Hub's own calls to coursehub's grader (LTI launches, audit entries): "
            "for the Hub's service only, never a user."
        ),
    },
    AUDIT_SCOPE: {
        "description": (
            "Read coursehub's audit log: its entries, exports and event stream "
            "(a system that follows it; Hub admins read it without this scope)."
        ),
    },
}

#: The token of an admin's server: JupyterHub 6 uses the ``server`` role's scopes when
#: this is empty, so those two come first; the Hub grants only the subset the user
#: holds when the server starts (see :func:`server_token_scopes`).
SERVER_TOKEN_SCOPES = [
    "users:activity!user",
    "access:servers!server",
    ACCESS_GRADER_SCOPE,
    LEARN_SCOPE,
    AUTHOR_SCOPE,
]

#: What the grader's own token needs: names and group membership of users, for
#: leaderboards and gradebooks; making courses' groups and changing their members
#: (joining a course, an instructor's enrolling someone). Identifying a request needs
#: no scope: HubAuth asks the Hub about the request's token with that token itself.
GRADER_SERVICE_SCOPES = ["list:users", "read:users", "admin:groups"]


def instructor_role_spec() -> dict:
    """Instructors of every course (the group `instructors`): a role the authenticator
    manages (see hub_config.courses), as the courses' roles are."""
    return {
        "name": INSTRUCTOR_ROLE,
        "description": "Author questions and modules in every course; read all learners' work",
        "scopes": [AUTHOR_SCOPE, LEARN_SCOPE, ACCESS_GRADER_SCOPE],
        "groups": [INSTRUCTORS_GROUP],
    }


def server_token_scopes(spawner) -> list[str]:
    """The scopes of a server's token (``$JUPYTERHUB_API_TOKEN``, what the extension
    calls the grader with).

    A learner's and an instructor's: ``inherit``, their own scopes *as they are at each
    request*. The Hub fixes a token's scopes when the server starts, to those its owner
    then holds; a course's scope comes with joining the course, often while the server
    runs, and must reach it at once. The token holds no more than its owner's own
    permissions, which the owner has in the browser anyway.

    An admin's: a fixed list, so an admin's server (code they run) never holds the
    Hub's admin permissions.
    """
    if spawner.user.admin:
        return list(SERVER_TOKEN_SCOPES)
    return ["inherit"]


def role_specs(settings: Settings) -> list[dict]:
    """The roles coursehub loads into the Hub (``c.JupyterHub.load_roles``); none assigns
    users or groups (the authenticator's managed roles do, hub_config.courses)."""
    instructor = instructor_role_spec()
    roles = [
        {
            # the default role every user has, extended: JupyterHub merges this
            # partial spec with its own default `user` role. Not the learner's scope:
            # that comes with each course a user joins
            "name": "user",
            "description": "A user: own server; reaches coursehub to join courses",
            "scopes": ["self", ACCESS_GRADER_SCOPE],
        },
    ]
    if settings.grader_enabled:
        roles.append(
            {
                "name": "coursehub-grader",
                "description": "The grading service: look up users and their groups",
                "scopes": list(GRADER_SERVICE_SCOPES),
                "services": [GRADER_SERVICE],
            }
        )
        # the Hub's own calls to the grader: a role of its own, so that no user role
        # (and no `inherit` server token) ever carries the Hub's scope
        roles.append(
            {
                "name": HUB_CALLS_SERVICE,
                "description": "The Hub's own calls to the grader (LTI launches, audit)",
                "scopes": [HUB_SCOPE, ACCESS_GRADER_SCOPE],
                "services": [HUB_CALLS_SERVICE],
            }
        )
    if settings.admin_token:
        # one token for scripts: everything the Hub's admin role may do, and
        # authoring through the grader (a role of its own: putting a service in the
        # `admin` role spec would make that role's member list static)
        admin_scopes = next(r["scopes"] for r in get_default_roles() if r["name"] == "admin")
        roles.append(
            {
                "name": "coursehub-admin",
                "description": "Scripts' token: Hub admin and instructor",
                "scopes": sorted(set(admin_scopes) | set(instructor["scopes"]) | {AUDIT_SCOPE}),
                "services": [ADMIN_SERVICE],
            }
        )
    return roles


def apply_roles(c, settings: Settings) -> None:
    """Custom scopes, roles, the instructors and restricted groups, and the servers'
    token scopes."""
    c.JupyterHub.custom_scopes = dict(CUSTOM_SCOPES)
    c.JupyterHub.load_roles = role_specs(settings)
    # strictly adds the groups; existing members are kept across restarts
    c.JupyterHub.load_groups = {INSTRUCTORS_GROUP: {"users": []}, RESTRICTED_GROUP: {"users": []}}
    c.Spawner.server_token_scopes = server_token_scopes
