"""A launch the Hub forwards (`POST api/v1/lti/launches`): checked, recorded (context,
account, membership), and the course membership it implies.

The Hub verified the id_token (signature, issuer, audience, expiry, nonce, deployment)
before forwarding it with its own token (`HUB_SCOPE`); the grader checks the payload's
shape and that the platform and deployment are configured here too, records what the
launch says, and enrols the user through the Hub's groups (:mod:`grader.lti.membership`)
if the context is linked to a course.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from .. import audit, orm
from .platforms import Platform
from .roles import course_role

MAX_TEXT = 255


class LaunchError(ValueError):
    """The launch payload is malformed; the message names the field."""


@dataclass(frozen=True)
class Launch:
    user: str
    issuer: str
    client_id: str
    deployment_id: str
    sub: str
    name: str
    email: str
    roles: tuple[str, ...]
    context_id: str | None
    context_label: str
    context_title: str
    lineitems_url: str | None
    ags_scopes: tuple[str, ...]
    memberships_url: str | None


def _text(body: dict, name: str, *, required: bool = True, limit: int = MAX_TEXT, where=""):
    value = body.get(name)
    field = f"{where}{name}"
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise LaunchError(f"{field} must be a non-empty string")
    if len(value) > limit:
        raise LaunchError(f"{field} is longer than {limit} characters")
    return value


def _url(body: dict, name: str, where: str) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise LaunchError(f"{where}{name} must be an http(s) URL or null")
    if len(value) > 2000:
        raise LaunchError(f"{where}{name} is longer than 2000 characters")
    return value


def _object(body: dict, name: str) -> dict | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise LaunchError(f"{name} must be an object or null")
    return value


def parse_launch(body: dict) -> Launch:
    """The launch of a forwarded payload (the contract's shape), or LaunchError."""
    roles = body.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise LaunchError("roles must be a list of strings")
    if len(roles) > 100:
        raise LaunchError("roles has more than 100 entries")
    context = _object(body, "context")
    ags = _object(body, "ags") or {}
    nrps = _object(body, "nrps") or {}
    scopes = ags.get("scope", [])
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise LaunchError("ags.scope must be a list of strings")
    for name in ("resource_link", "custom"):
        _object(body, name)
    return Launch(
        user=_text(body, "user"),
        issuer=_text(body, "issuer"),
        client_id=_text(body, "client_id"),
        deployment_id=_text(body, "deployment_id"),
        sub=_text(body, "sub"),
        name=_text(body, "name", required=False),
        email=_text(body, "email", required=False),
        roles=tuple(roles),
        context_id=_text(context, "id", where="context.") if context is not None else None,
        context_label=_text(context, "label", required=False, where="context.") if context else "",
        context_title=_text(context, "title", required=False, limit=500, where="context.")
        if context
        else "",
        lineitems_url=_url(ags, "lineitems", "ags."),
        ags_scopes=tuple(scopes[:20]),
        memberships_url=_url(nrps, "context_memberships_url", "nrps."),
    )


@dataclass(frozen=True)
class Recorded:
    """What a recorded launch leads to (no session)."""

    context: int | None  # lti_contexts.id
    member: int | None  # lti_members.id
    course_id: int | None
    course_slug: str | None
    user_id: int
    role: str | None  # the course role the launch's roles give
    enrolled_as: str | None = None  # the membership LTI made before this launch


def record_launch(db, launch: Launch, platform: Platform) -> Recorded:
    """Upsert the account, the context and the membership; link a context the platforms
    file names a course for (at its first launch). Commits."""
    now = orm.utcnow()
    user = orm.User.find_or_create(db, launch.user)
    account = db.scalar(
        select(orm.LTIAccount).where(
            orm.LTIAccount.issuer == launch.issuer, orm.LTIAccount.sub == launch.sub
        )
    )
    if account is None:
        account = orm.LTIAccount(issuer=launch.issuer, sub=launch.sub, user_id=user.id)
        db.add(account)
    account.user_id = user.id
    account.name, account.email, account.last_launch = launch.name, launch.email, now
    role = course_role(launch.roles)
    if launch.context_id is None:
        db.commit()
        return Recorded(None, None, None, None, user.id, role)
    context = db.scalar(
        select(orm.LTIContext).where(
            orm.LTIContext.issuer == launch.issuer,
            orm.LTIContext.deployment_id == launch.deployment_id,
            orm.LTIContext.context_id == launch.context_id,
        )
    )
    if context is None:
        context = orm.LTIContext(
            issuer=launch.issuer,
            deployment_id=launch.deployment_id,
            context_id=launch.context_id,
            client_id=launch.client_id,
            grain="module",
            linked_by="",
            roster_status="",
            roster_counts={},
            created=now,
        )
        db.add(context)
        slug = platform.courses.get(launch.context_id)
        course = orm.Course.find_by_slug(db, slug) if slug else None
        if course is not None:
            context.course_id, context.linked_by, context.linked = course.id, "", now
            db.flush()
            audit.record(
                db,
                actor="grader",
                action="lti.link",
                course_id=course.id,
                target=f"lti context {launch.issuer} {launch.context_id}",
                detail={"by": "platforms file", "grain": context.grain},
            )
    context.client_id = launch.client_id
    context.label, context.title = launch.context_label, launch.context_title
    # the services of the latest launch: a platform may move them or change the scopes
    if launch.lineitems_url or launch.ags_scopes:
        context.lineitems_url = launch.lineitems_url
        context.ags_scopes = list(launch.ags_scopes)
    if launch.memberships_url:
        context.memberships_url = launch.memberships_url
    context.last_launch = now
    db.flush()
    member = db.scalar(
        select(orm.LTIMember).where(
            orm.LTIMember.context_id == context.id, orm.LTIMember.sub == launch.sub
        )
    )
    if member is None:
        member = orm.LTIMember(context_id=context.id, sub=launch.sub, enrolled_as=None)
        db.add(member)
    member.user_id = user.id
    member.name, member.email = launch.name, launch.email
    member.roles, member.lms_status, member.launched, member.seen = (
        list(launch.roles),
        "Active",
        True,
        now,
    )
    db.flush()
    course = db.get(orm.Course, context.course_id) if context.course_id else None
    recorded = Recorded(
        context.id,
        member.id,
        course.id if course else None,
        course.slug if course else None,
        user.id,
        role,
        member.enrolled_as,
    )
    db.commit()
    return recorded
