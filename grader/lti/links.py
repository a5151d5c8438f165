"""Linking an LMS context to a coursehub course, and what an instructor sees of it.

The rule: only someone who launched coursehub from that context with an LMS teaching
role (Instructor, ContentDeveloper, TeachingAssistant, Administrator) AND teaches the
coursehub course may link the two, or unlink them. The platforms file's `courses` map
links contexts by the admin's word instead (at their first launch).
"""

from __future__ import annotations

from sqlalchemy import or_, select

from .. import audit, orm
from . import outbox
from .client import AGS_SCORE
from .roles import is_teaching


class LinkRefused(Exception):
    """The caller may not link (or unlink) this context; the message says why."""


def check_launched_as_teacher(db, context: orm.LTIContext, user_id: int) -> None:
    member = db.scalar(
        select(orm.LTIMember).where(
            orm.LTIMember.context_id == context.id,
            orm.LTIMember.user_id == user_id,
            orm.LTIMember.launched.is_(True),
        )
    )
    name = context.title or context.label or context.context_id
    if member is None:
        raise LinkRefused(
            f"you have never launched coursehub from the LMS course {name!r}: only its "
            "instructors, after a launch from it, may link it"
        )
    if not is_teaching(member.roles or []):
        raise LinkRefused(
            f"you launched coursehub from the LMS course {name!r} without an instructor role "
            "there: only its instructors may link it"
        )


def visible_contexts(db, user_id: int, taught_course_ids) -> list[orm.LTIContext]:
    """Contexts the caller launched from as an LMS instructor, and contexts linked to a
    course they teach."""
    launched = select(orm.LTIMember.context_id, orm.LTIMember.roles).where(
        orm.LTIMember.user_id == user_id, orm.LTIMember.launched.is_(True)
    )
    mine = [cid for cid, roles in db.execute(launched).all() if is_teaching(roles or [])]
    return list(
        db.scalars(
            select(orm.LTIContext)
            .where(
                or_(
                    orm.LTIContext.id.in_(mine),
                    orm.LTIContext.course_id.in_(list(taught_course_ids)),
                )
            )
            .order_by(orm.LTIContext.id)
        )
    )


def link(db, context: orm.LTIContext, course: orm.Course, *, actor: str, grain: str) -> None:
    now = orm.utcnow()
    context.course_id, context.grain, context.linked_by, context.linked = (
        course.id,
        grain,
        actor,
        now,
    )
    audit.record(
        db,
        actor=actor,
        action="lti.link",
        course_id=course.id,
        target=f"lti context {context.id}",
        detail={"issuer": context.issuer, "context": context.context_id, "grain": grain},
    )
    db.commit()


def unlink(db, context: orm.LTIContext, *, actor: str) -> None:
    course_id = context.course_id
    context.course_id, context.linked_by, context.linked = None, "", None
    audit.record(
        db,
        actor=actor,
        action="lti.unlink",
        course_id=course_id,
        target=f"lti context {context.id}",
        detail={"issuer": context.issuer, "context": context.context_id},
    )
    db.commit()


def context_model(db, context: orm.LTIContext, counts: dict | None = None) -> dict:
    course = db.get(orm.Course, context.course_id) if context.course_id else None
    return {
        "id": context.id,
        "issuer": context.issuer,
        "deployment_id": context.deployment_id,
        "context_id": context.context_id,
        "label": context.label,
        "title": context.title,
        "course": course.slug if course else None,
        "grain": context.grain,
        "linked_by": context.linked_by or None,
        "linked": orm.isoformat(context.linked),
        "last_launch": orm.isoformat(context.last_launch),
        "grades": bool(context.lineitems_url) and AGS_SCORE in (context.ags_scopes or []),
        "roster": {
            "offered": bool(context.memberships_url),
            "status": context.roster_status or None,
            "started": orm.isoformat(context.roster_started),
            "finished": orm.isoformat(context.roster_finished),
            "counts": context.roster_counts or {},
            "error": context.roster_error,
        },
        "outbox": counts or {"pending": 0, "sent": 0, "failed": 0},
    }


def course_lti_contexts(db, course_id: int) -> list[orm.LTIContext]:
    return list(
        db.scalars(
            select(orm.LTIContext)
            .where(orm.LTIContext.course_id == course_id)
            .order_by(orm.LTIContext.id)
        )
    )


def course_lti(db, course: orm.Course, user_id: int, taught_course_ids) -> dict:
    """A course's LTI at a glance: its linked contexts (grain, outbox, roster), those
    the caller could link to it, and the latest passback errors."""
    linked = course_lti_contexts(db, course.id)
    ids = [c.id for c in linked]
    counts = outbox.counts(db, ids)
    linkable = [c for c in visible_contexts(db, user_id, taught_course_ids) if c.course_id is None]
    return {
        "course": course.slug,
        "contexts": [context_model(db, c, counts.get(c.id)) for c in linked],
        "linkable": [context_model(db, c) for c in linkable],
        "problems": outbox.problems(db, ids),
        "grains": list(orm.LTI_GRAINS),
    }
