"""The audit log (grader.audit): read, exported, followed; written only by the grader.

Who reads it: Hub admins (the identity's `admin` flag) and tokens with
``custom:coursehub:audit`` (or the Hub's own, ``custom:coursehub:hub``) read every entry;
an instructor reads the entries of the courses they teach, because they answer for
what happens in them (a co-instructor's regrade, a changed deadline, who enrolled whom),
and nothing else (account actions have no course: admins only). A learner reads
nothing (403).

- `GET audit?course=&actor=&action=&target=&since=&until=&after_id=&limit=`: entries
  oldest first after `after_id` (keyset on the id; `next` is the id to pass on), or
  newest first with `before_id=`. `action` is exact, or a prefix ending in ".*".
- `GET audit/entries/{id}`: one entry.
- `GET audit.csv`, `GET audit.jsonl`: every matching entry, streamed a page at a time
  (each read in its own short transaction); the export itself is recorded first
  (`export.audit`, with its filter).
- `GET audit/verify`: the hash chain checked (admins and the audit scope only).
- `GET audit/events`: server-sent events, one `audit` event per new entry (id: the
  entry's id), replayed after `Last-Event-ID` (or `?last_event_id=`); without either,
  from now on.
- `POST audit/entries` `{"actor", "action", "target", "detail", "address"}`: an admin's
  action in the Hub's own pages (`account.*`), sent by the Hub with its token (scope
  ``custom:coursehub:hub``: the only caller trusted to name another actor).

Nothing changes or removes an entry: every other method on these paths is a 405.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from tornado import web
from tornado.iostream import StreamClosedError

from .. import audit, orm
from ..audit import reading
from ..audit.chain import verify
from ..scopes import AUDIT_SCOPE, HUB_SCOPE
from ..stream_watch import TooManyStreams
from .base import MAX_ID, APIHandler, as_id, blocking
from .pages import PageHandler
from .streams import KEEPALIVE_SECONDS, ReplayingStream
from .validation import utc_datetime

#: what the Hub may record for an admin: its own pages' actions
HUB_ACTIONS = re.compile(r"^account\.[a-z_]+$")
MAX_DETAIL_BYTES = 16 * 1024


class AuditReader:
    """Who may read which entries, and the filter a request asks for."""

    def reads_everything(self) -> bool:
        return self.caller_is_admin or bool(self.scopes & {AUDIT_SCOPE, HUB_SCOPE})

    def visible_courses(self) -> tuple[int, ...] | None:
        """None: every entry; else the ids of the courses whose entries the caller may
        read (a 403 if none)."""
        if self.current_user is None:
            raise web.HTTPError(403, "authentication required")
        if self.reads_everything():
            return None
        if self.current_user.get("kind", "user") == "user":
            self.learner()
        teaching = self.access.teaching(self.db)
        if not teaching:
            raise web.HTTPError(
                403,
                "the audit log is for Hub admins, and for instructors about the courses "
                f"they teach (or a token with the scope {AUDIT_SCOPE})",
            )
        return tuple(c.id for c in teaching)

    def audit_filter(self) -> reading.AuditFilter:
        """The query's filter, within what the caller may read."""
        visible = self.visible_courses()
        course_ids = visible
        course_ref = self.get_query_argument("course", None)
        if course_ref:
            course = None
            if course_ref.isdigit() and int(course_ref) <= MAX_ID:
                course = orm.Course.find(self.db, int(course_ref))
            course = course or orm.Course.find_by_slug(self.db, course_ref)
            if course is None or (visible is not None and course.id not in visible):
                # the same answer for a course that does not exist and one not taught
                raise web.HTTPError(404, f"no such course among yours: {course_ref}")
            course_ids = (course.id,)
        return reading.AuditFilter(
            course_ids=course_ids,
            actor=self._text_argument("actor", 255),
            action=self._text_argument("action", 64),
            target=self._text_argument("target", 500),
            since=self._time_argument("since"),
            until=self._time_argument("until"),
        )

    def _text_argument(self, name: str, max_length: int) -> str | None:
        value = self.get_query_argument(name, None)
        if value is not None and len(value) > max_length:
            raise web.HTTPError(400, f"{name} is longer than {max_length} characters")
        return value or None

    def _time_argument(self, name: str):
        value = self.get_query_argument(name, None)
        if not value:
            return None
        when = utc_datetime(value)
        if when is None:
            raise web.HTTPError(400, f"{name} must be an ISO 8601 date and time, not {value!r}")
        return when


class AuditListAPIHandler(AuditReader, APIHandler):
    @web.authenticated
    @blocking
    def get(self):
        where = self.audit_filter()
        limit = self.int_argument("limit", default=100, minimum=1, maximum=1000)
        after_id = self.int_argument("after_id", default=None, maximum=MAX_ID)
        before_id = self.int_argument("before_id", default=None, maximum=MAX_ID)
        if after_id is not None and before_id is not None:
            raise web.HTTPError(400, "give after_id (oldest first) or before_id, not both")
        entries = reading.page(self.db, where, after_id=after_id, before_id=before_id, limit=limit)
        model = {"entries": reading.models(self.db, entries), "next": None}
        if len(entries) == limit:
            model["next"] = entries[-1].id  # pass as after_id (or before_id) for more
        self.write_json(model)


class AuditEntryAPIHandler(AuditReader, APIHandler):
    @web.authenticated
    @blocking
    def get(self, entry_id):
        visible = self.visible_courses()
        entry = self.db.get(orm.AuditEntry, as_id(entry_id, "audit entry"))
        if entry is None or (visible is not None and entry.course_id not in visible):
            raise web.HTTPError(404, f"no such audit entry: {entry_id}")
        self.write_json(reading.models(self.db, [entry])[0])


class HubAuditEntriesAPIHandler(APIHandler):
    """`POST audit/entries`: the Hub records what an admin did in its own pages."""

    @web.authenticated
    @blocking
    def post(self):
        if HUB_SCOPE not in self.scopes:
            raise web.HTTPError(
                403, f"only the Hub records audit entries here (the scope {HUB_SCOPE})"
            )
        body = self.get_json_body()
        action = body.get("action")
        if not isinstance(action, str) or not HUB_ACTIONS.match(action):
            raise web.HTTPError(400, 'action must be an account action ("account.restrict", ...)')
        actor = body.get("actor")
        if not isinstance(actor, str) or not actor.strip() or len(actor) > audit.MAX_ACTOR:
            raise web.HTTPError(400, "actor must be the name of the admin who acted")
        target = body.get("target", "")
        if not isinstance(target, str) or len(target) > audit.MAX_TARGET:
            raise web.HTTPError(
                400, f"target must be text of at most {audit.MAX_TARGET} characters"
            )
        detail = body.get("detail") or {}
        if not isinstance(detail, dict) or len(self.request.body) > MAX_DETAIL_BYTES:
            raise web.HTTPError(400, "detail must be a JSON object (at most 16 KiB in all)")
        address = body.get("address")
        if address is not None and (not isinstance(address, str) or len(address) > 64):
            raise web.HTTPError(400, "address must be the admin's client address")
        entry = audit.record(
            self.db,
            actor=actor.strip(),
            actor_kind="user",
            action=action,
            target=target,
            # who vouched for the actor: the Hub's own service
            detail={**detail, "via": self.current_user["name"]},
            address=address or None,
        )
        self.db.commit()
        self.write_json(reading.models(self.db, [entry])[0], status=201)


class AuditVerifyAPIHandler(AuditReader, APIHandler):
    """The hash chain checked from the first entry (a while for a long log)."""

    @web.authenticated
    async def get(self):
        await self.in_db(self._may_verify)
        found = await self.in_db(verify, self.grader.session_factory)
        self.write_json(found.to_dict())

    def _may_verify(self):
        if self.current_user is None or not self.reads_everything():
            raise web.HTTPError(403, "only Hub admins verify the audit log")


class AuditExportAPIHandler(AuditReader, APIHandler):
    """`audit.csv`, `audit.jsonl`: the matching entries, oldest first, streamed."""

    @web.authenticated
    async def get(self, kind):
        where = await self.in_db(self._start, kind)
        if kind == "csv":
            self.set_header("Content-Type", "text/csv; charset=UTF-8")
            self.write(reading.csv_header())
            rows = reading.csv_rows
        else:
            self.set_header("Content-Type", "application/x-ndjson; charset=UTF-8")
            rows = reading.jsonl_rows
        self.set_header("Content-Disposition", f'attachment; filename="audit.{kind}"')
        after = 0
        try:
            while True:
                page = await self.in_db(self._page, where, after)
                if page:
                    self.write(rows(page))
                    await self.flush()  # sent before the next page is read
                    after = page[-1]["id"]
                if len(page) < reading.EXPORT_PAGE:
                    break
        except StreamClosedError:
            return
        self.finish()

    def _start(self, kind) -> reading.AuditFilter:
        """The filter, and the export on the record before a byte of it is sent."""
        where = self.audit_filter()
        self.audit(self.db, "export.audit", target=f"audit.{kind}", detail=where.describe())
        self.db.commit()
        return where

    def _page(self, where, after) -> list[dict]:
        with self.grader.session_factory() as db:
            entries = reading.page(db, where, after_id=after, limit=reading.EXPORT_PAGE)
            return reading.models(db, entries)


class AuditEventsAPIHandler(ReplayingStream, AuditReader, APIHandler):
    """`GET audit/events`: new entries as they are written, replayed from Last-Event-ID."""

    event_id_name = "an audit entry's id"

    @web.authenticated
    async def get(self):
        last_id = self.last_event_id()
        where, last_id = await self.in_db(self._start, last_id)
        watch = self.grader.audit_watch
        caller = f"{self.current_user.get('kind', 'user')}:{self.current_user['name']}"
        try:
            watch.open_stream(caller)
        except TooManyStreams:
            raise web.HTTPError(
                429, f"{watch.max_streams_per_caller} audit event streams are open already"
            ) from None

        async def read(last_id):
            # up to `checked`: past entries this caller may not see too, not read again
            sent, checked = await self.in_db(self._read, where, last_id)
            texts = [reading.event_text(row) for row in sent]
            return texts, checked, len(sent) == reading.EXPORT_PAGE

        try:
            await self.follow(
                f": audit entries after {last_id}",
                last_id,
                read,
                lambda last_id: watch.wait(last_id, KEEPALIVE_SECONDS),
            )
        finally:
            watch.close_stream(caller)

    def _start(self, last_id):
        where = self.audit_filter()
        if last_id is None:
            last_id = reading.newest_id(self.db)
        return where, last_id

    def _read(self, where, last_id) -> tuple[list[dict], int]:
        """(the visible entries after ``last_id``, a page at most; the id read up to).
        Ids commit in order (grader.audit): every entry up to the head's is there."""
        newest = reading.newest_id(self.db)
        entries = reading.page(
            self.db, where, after_id=last_id, up_to=newest, limit=reading.EXPORT_PAGE
        )
        if len(entries) == reading.EXPORT_PAGE:
            return reading.models(self.db, entries), entries[-1].id
        return reading.models(self.db, entries), max(last_id, newest)


class AuditPageHandler(AuditReader, PageHandler):
    """`/services/grader/audit`: the log, newest first, with filters (admins; an
    instructor sees their courses' entries)."""

    PAGE_SIZE = 100

    @web.authenticated
    async def get(self):
        self.finish(await self.in_db(self._render))

    def _render(self) -> str:
        where = self.audit_filter()
        before_id = self.int_page_argument("before_id")
        entries = reading.page(self.db, where, before_id=before_id, limit=self.PAGE_SIZE)
        rows = reading.models(self.db, entries)
        query = {
            name: self.get_query_argument(name, "")
            for name in ("course", "actor", "action", "target", "since", "until")
        }
        courses = (
            self.db.scalars(select(orm.Course).order_by(orm.Course.slug)).all()
            if where.course_ids is None
            else self.db.scalars(
                select(orm.Course).where(orm.Course.id.in_(self.visible_courses() or ()))
            ).all()
        )
        return self.render_page(
            "audit.html",
            entries=rows,
            query=query,
            courses=courses,
            admin=self.reads_everything(),
            older=entries[-1].id if len(entries) == self.PAGE_SIZE else None,
        )

    def int_page_argument(self, name):
        value = self.get_query_argument(name, None)
        if not value:
            return None
        if not value.isdigit() or int(value) > MAX_ID:
            raise web.HTTPError(400, f"{name} must be an entry's id")
        return int(value)


default_handlers = [
    (r"audit", AuditListAPIHandler),
    (r"audit\.(csv|jsonl)", AuditExportAPIHandler),
    (r"audit/entries", HubAuditEntriesAPIHandler),
    (r"audit/entries/(\d+)", AuditEntryAPIHandler),
    (r"audit/verify", AuditVerifyAPIHandler),
    (r"audit/events", AuditEventsAPIHandler),
]

#: after the service's prefix (pages)
page_handlers = [
    (r"/audit/?", AuditPageHandler),
]
