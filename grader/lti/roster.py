"""Roster sync (LTI Advantage NRPS): a linked context's members brought into its course.

Started by an instructor on the course's LTI page (202, then its progress on the
context's row: any replica reads it) or every `LTIService.roster_sync_interval`. The
memberships are fetched (every `next` page), outside any transaction; each member is
recorded (`lti_members`: roles, status); members with a Hub account (their LTI account,
from an earlier launch, or a grader user of the Hub name `grader.lti.names` gives them)
are put in the course's group for their role; members the platform lists as Inactive,
or no longer lists, lose the membership LTI made for them (never one they had
otherwise). Members without a Hub account are recorded and enrolled at their first
launch.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select, update

from .. import audit, orm
from ..courses import HubError, record_enrolment
from . import membership
from .client import PlatformError
from .roles import course_role

RUNNING, DONE, FAILED = "running", "done", "failed"


def hub_name_of(issuer: str, member: dict, username_key: str) -> str | None:
    """The Hub name a roster's member gets at their launch (the Hub side's rule,
    `grader.lti.names`), if it can be known before it."""
    try:
        from .names import hub_name_of_member
    except ImportError:  # pragma: no cover - the Hub side's module ships with this one
        return None
    return hub_name_of_member(issuer, member, username_key)


def start(db, context_id: int, stale_seconds: float) -> bool:
    """Mark the context's sync as running, unless one is (and is not stale); commits.
    False: one is under way already."""
    now = orm.utcnow()
    c = orm.LTIContext
    started = db.execute(
        update(c)
        .where(
            c.id == context_id,
            (c.roster_status != RUNNING)
            | (c.roster_started < now - timedelta(seconds=stale_seconds)),
        )
        .values(
            roster_status=RUNNING,
            roster_started=now,
            roster_finished=None,
            roster_error=None,
            roster_counts={"phase": "fetching"},
        )
    ).rowcount
    db.commit()
    return bool(started)


def _finish(db, context_id: int, status: str, counts: dict, error: str | None = None):
    c = orm.LTIContext
    db.execute(
        update(c)
        .where(c.id == context_id)
        .values(
            roster_status=status,
            roster_finished=orm.utcnow(),
            roster_counts=counts,
            roster_error=None if error is None else error[:500],
        )
    )
    db.commit()


def record_members(
    db, context_id: int, members: list[dict], username_key: str = "email"
) -> list[dict]:
    """Upsert the members listed (those not listed any more become "Deleted"); the
    plan: each member's sub, Hub name (None: no Hub account known), wanted role, and
    the membership LTI made. Commits."""
    context = db.get(orm.LTIContext, context_id)
    now = orm.utcnow()
    rows = {
        m.sub: m
        for m in db.scalars(select(orm.LTIMember).where(orm.LTIMember.context_id == context_id))
    }
    accounts = dict(
        db.execute(
            select(orm.LTIAccount.sub, orm.LTIAccount.user_id).where(
                orm.LTIAccount.issuer == context.issuer
            )
        ).all()
    )
    listed = set()
    for entry in members:
        sub = entry.get("user_id")
        if not isinstance(sub, str) or not sub or len(sub) > 255 or sub in listed:
            continue
        listed.add(sub)
        row = rows.get(sub)
        if row is None:
            row = orm.LTIMember(context_id=context_id, sub=sub, launched=False, enrolled_as=None)
            db.add(row)
            rows[sub] = row
        roles = entry.get("roles")
        row.roles = (
            [r for r in roles if isinstance(r, str)][:100] if isinstance(roles, list) else []
        )
        status = entry.get("status", "Active")
        row.lms_status = status if status in ("Active", "Inactive", "Deleted") else "Active"
        for name in ("name", "email"):
            value = entry.get(name)
            if isinstance(value, str):
                setattr(row, name, value[:255])
        row.seen = now
        if row.user_id is None:
            user_id = accounts.get(sub)
            if user_id is None:
                hub_name = hub_name_of(context.issuer, entry, username_key)
                user = orm.User.find(db, hub_name) if hub_name else None
                user_id = user.id if user is not None else None
            row.user_id = user_id
    for sub, row in rows.items():
        if sub not in listed:
            row.lms_status = "Deleted"
    db.flush()
    user_ids = {row.user_id for row in rows.values() if row.user_id is not None}
    names = dict(
        db.execute(select(orm.User.id, orm.User.name).where(orm.User.id.in_(user_ids))).all()
    )
    plan = []
    for row in rows.values():
        wanted = course_role(row.roles or []) if row.lms_status == "Active" else None
        plan.append(
            {
                "member": row.id,
                "sub": row.sub,
                "name": names.get(row.user_id) if row.user_id else None,
                "user_id": row.user_id,
                "wanted": wanted,
                "enrolled_as": row.enrolled_as,
            }
        )
    db.commit()
    return plan


async def sync(app, context_id: int, actor: str) -> dict:
    """One roster sync of a context (marked running by :func:`start`): its counts."""
    lti = app.lti

    async def db_call(fn, *args):
        return await asyncio.get_running_loop().run_in_executor(app.db_pool, fn, *args)

    counts = {"listed": 0, "added": 0, "removed": 0, "without_account": 0, "unchanged": 0}
    try:
        context, slug = await db_call(_context_and_course, app, context_id)
        if slug is None:
            raise PlatformError("the context is not linked to a course", retry=False)
        if not context.memberships_url:
            raise PlatformError(
                "the platform offers no roster (NRPS) for this context", retry=False
            )
        platform = lti.platform_for(context.issuer, context.client_id)
        if platform is None:
            raise PlatformError(f"the platform {context.issuer} is not configured", retry=False)
        members = await lti.client.memberships(platform, context.memberships_url)
        counts["listed"] = len(members)
        plan = await db_call(
            _with_session, app, record_members, context_id, members, platform.username_key
        )
        groups = await membership.CourseGroups.read(app.hub_groups, slug)
        for entry in plan:
            if entry["name"] is None:
                if entry["wanted"] is not None:
                    counts["without_account"] += 1
                continue
            new, changes = await membership.apply(
                app.hub_groups, groups, entry["name"], entry["wanted"], entry["enrolled_as"]
            )
            if not changes and new == entry["enrolled_as"]:
                counts["unchanged"] += 1
                continue
            counts["added"] += sum(1 for c in changes if c.startswith("added"))
            counts["removed"] += sum(1 for c in changes if c.startswith("removed"))
            await db_call(
                _with_session,
                app,
                _record_change,
                context.course_id,
                entry,
                new,
                groups.role_of(entry["name"]),
            )
        if counts["added"] or counts["removed"]:
            app.hub_auth.cache.clear()
        await db_call(_with_session, app, _done, context, actor, counts)
        return counts
    except (PlatformError, HubError) as e:
        await db_call(_with_session, app, _finish, context_id, FAILED, counts, str(e))
        return {**counts, "error": str(e)}


def _with_session(app, fn, *args):
    with app.writer_factory() as db:
        return fn(db, *args)


def _context_and_course(app, context_id):
    with app.session_factory() as db:
        context = db.get(orm.LTIContext, context_id)
        course = db.get(orm.Course, context.course_id) if context and context.course_id else None
        return context, course.slug if course else None


def _record_change(db, course_id, entry, enrolled_as, role):
    db.execute(
        update(orm.LTIMember)
        .where(orm.LTIMember.id == entry["member"])
        .values(enrolled_as=enrolled_as)
    )
    record_enrolment(db, course_id, entry["user_id"], role)  # commits


def _done(db, context, actor, counts):
    audit.record(
        db,
        actor=actor,
        action="lti.roster_sync",
        course_id=context.course_id,
        target=f"lti context {context.id}",
        detail=counts,
    )
    _finish(db, context.id, DONE, counts)


def _due_contexts(app) -> list[int]:
    stale = orm.utcnow() - timedelta(seconds=app.lti.roster_sync_interval)
    with app.writer_factory() as db:
        c = orm.LTIContext
        ids = db.scalars(
            select(c.id).where(
                c.course_id.is_not(None),
                c.memberships_url.is_not(None),
                (c.roster_started.is_(None)) | (c.roster_started < stale),
            )
        ).all()
        return [i for i in ids if start(db, i, app.lti.roster_stale_seconds)]


async def sync_periodically(app, stop: asyncio.Event) -> None:
    """Every linked context's roster, every `LTIService.roster_sync_interval` seconds
    (off at 0). Replicas share the work: each context's sync is started once
    (:func:`start` is a conditional update)."""
    interval = app.lti.roster_sync_interval
    if interval <= 0:
        return
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        try:
            for context_id in await loop.run_in_executor(app.db_pool, _due_contexts, app):
                await sync(app, context_id, "grader")
        except Exception as e:  # the database away for a while: the next tick tries
            app.lti.log.warning("LTI roster sync: %s", e)
        try:
            await asyncio.wait_for(stop.wait(), min(interval, 60.0))
        except TimeoutError:
            pass
