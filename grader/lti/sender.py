"""The passback sender: scores of the outbox (`lti_score_posts`) posted to platforms.

Every API replica runs :meth:`ScoreSender.run` beside its other periodic work. A look
at the outbox claims due rows (:func:`grader.lti.outbox.claim_due`: conditional
updates, so two replicas never send one row), then, for each, outside any database
transaction and without blocking the event loop: an access token, the line item (found
by its resourceId, or created, and stored), the score posted. A 2xx marks it sent; a
5xx, a timeout or a refused connection retries it later (exponential backoff with
jitter, capped); any other 4xx marks it failed, for an instructor to retry from the
course's LTI page once the platform's side is put right.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from .. import orm
from ..dbutil import dialect_insert
from . import outbox
from .client import AGS_LINEITEM, AGS_SCORE, PlatformError

#: what coursehub tags its line items with (AGS `tag`)
TAG = "coursehub"


def score_timestamp(when: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as AGS asks."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def score_body(claim: outbox.Claim, sub: str) -> dict:
    body = {
        "userId": sub,
        "timestamp": score_timestamp(claim.timestamp),
        "activityProgress": claim.activity_progress,
        "gradingProgress": "FullyGraded",
    }
    if claim.score_given is None:  # the grade went: the platform's is cleared
        body.update(activityProgress="Initialized", gradingProgress="NotReady")
    else:
        body.update(scoreGiven=claim.score_given, scoreMaximum=claim.score_maximum)
    return body


class ScoreSender:
    """Sends the outbox's due scores; one per API replica (`GraderApp.lti_sender`)."""

    def __init__(self, app, lti):
        self.app = app
        self.lti = lti
        self.log = lti.log
        self._locks: dict[tuple[int, str], asyncio.Lock] = {}

    async def _db(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.app.db_pool, fn, *args)

    def _claim(self, now):
        with self.app.writer_factory() as db:
            return outbox.claim_due(
                db, now=now, limit=self.lti.send_batch, lease=self.lti.claim_seconds
            )

    async def send_due(self, now: datetime | None = None) -> int:
        """One look at the outbox: claim what is due, send it; how many were sent."""
        claims = await self._db(self._claim, now or orm.utcnow())
        if not claims:
            return 0
        limit = asyncio.Semaphore(max(1, self.lti.send_concurrency))

        async def one(claim):
            async with limit:
                return await self.send(claim)

        return sum(await asyncio.gather(*(one(c) for c in claims)))

    def _target(self, claim: outbox.Claim):
        """(context row, the learner's sub there, the stored line item URL or None)."""
        with self.app.session_factory() as db:
            context = db.get(orm.LTIContext, claim.context_id)
            sub = db.scalar(
                select(orm.LTIMember.sub).where(
                    orm.LTIMember.context_id == claim.context_id,
                    orm.LTIMember.user_id == claim.user_id,
                )
            )
            url = db.scalar(
                select(orm.LTILineItem.url).where(
                    orm.LTILineItem.context_id == claim.context_id,
                    orm.LTILineItem.key == claim.lineitem_key,
                    orm.LTILineItem.url != "",
                )
            )
            return context, sub, url

    def _reserve_lineitem(self, claim: outbox.Claim, now: datetime):
        """Reserve the making of a line item, across replicas: a row with no URL yet.
        Returns (True, None): ours to make; (False, url): made already; (False, None):
        another sender is making it right now."""
        table = orm.LTILineItem.__table__
        c = table.c
        where = (c.context_id == claim.context_id, c.key == claim.lineitem_key)
        with self.app.writer_factory() as db:
            inserted = db.execute(
                dialect_insert(db, table)
                .values(
                    context_id=claim.context_id,
                    key=claim.lineitem_key,
                    url="",
                    label=claim.label,
                    score_maximum=0.0,
                    created=now,
                )
                .on_conflict_do_nothing(index_elements=[c.context_id, c.key])
                .returning(c.id)
            ).first()
            if inserted is None:
                # a reservation whose maker died (older than a claim's lease) is taken over
                stale = now - timedelta(seconds=self.lti.claim_seconds)
                inserted = db.execute(
                    update(table)
                    .where(*where, c.url == "", c.created < stale)
                    .values(created=now)
                    .returning(c.id)
                ).first()
            db.commit()
            if inserted is not None:
                return True, None
            return False, db.scalar(select(c.url).where(*where)) or None

    def _store_lineitem(self, claim: outbox.Claim, url: str | None, maximum: float) -> None:
        """The reserved line item's URL; None: making it failed, the reservation goes."""
        table = orm.LTILineItem.__table__
        c = table.c
        where = (c.context_id == claim.context_id, c.key == claim.lineitem_key, c.url == "")
        with self.app.writer_factory() as db:
            if url is None:
                db.execute(delete(table).where(*where))
            else:
                db.execute(update(table).where(*where).values(url=url, score_maximum=maximum))
            db.commit()

    async def lineitem(self, platform, scopes, context, claim: outbox.Claim) -> str:
        """The line item's URL: stored, found on the platform (made by an attempt whose
        answer was lost), else created. One sender makes it: in this process, a lock;
        across replicas, a reservation row."""
        if AGS_LINEITEM not in scopes:
            raise PlatformError(
                "the platform did not grant the line item scope: coursehub cannot make "
                f"the line item {claim.lineitem_key}",
                retry=False,
            )
        lock = self._locks.setdefault((claim.context_id, claim.lineitem_key), asyncio.Lock())
        async with lock:
            mine, url = await self._db(self._reserve_lineitem, claim, orm.utcnow())
            if url is not None:
                return url
            if not mine:
                raise PlatformError(
                    f"the line item {claim.lineitem_key} is being made by another sender",
                    retry=True,
                )
            maximum = claim.score_maximum if claim.score_maximum > 0 else 1.0
            try:
                container = context.lineitems_url
                client = self.lti.client
                item = await client.find_lineitem(platform, scopes, container, claim.lineitem_key)
                if item is None:
                    item = await client.create_lineitem(
                        platform,
                        scopes,
                        container,
                        {
                            "scoreMaximum": maximum,
                            "label": claim.label or claim.lineitem_key,
                            "resourceId": claim.lineitem_key,
                            "tag": TAG,
                        },
                    )
            except BaseException:
                await self._db(self._store_lineitem, claim, None, maximum)
                raise
            await self._db(self._store_lineitem, claim, item["id"], maximum)
            return item["id"]

    async def send(self, claim: outbox.Claim) -> int:
        """Post one claimed score; 1 if the platform has it."""
        now = orm.utcnow
        try:
            context, sub, url = await self._db(self._target, claim)
            if context is None or sub is None:
                raise PlatformError("the context or the learner's membership is gone", retry=False)
            platform = self.lti.platform_for(context.issuer, context.client_id)
            if platform is None:
                raise PlatformError(
                    f"the platform {context.issuer} (client {context.client_id}) is not in "
                    "the LTI platforms file",
                    retry=False,
                )
            granted = context.ags_scopes or []
            if AGS_SCORE not in granted:
                raise PlatformError("the platform no longer grants the score scope", retry=False)
            scopes = [s for s in (AGS_LINEITEM, AGS_SCORE) if s in granted]
            if url is None:
                url = await self.lineitem(platform, scopes, context, claim)
            await self.lti.client.post_score(platform, scopes, url, score_body(claim, sub))
        except PlatformError as e:
            if e.retry:
                delay = outbox.backoff(claim.attempts, self.lti.retry_base, self.lti.retry_max)
                self.log.warning(
                    "LTI score %d (%s) not sent, retrying in %.0fs: %s",
                    claim.id,
                    claim.lineitem_key,
                    delay,
                    e,
                )
                await self._db(self._finish, outbox.mark_retry, claim, str(e), now(), delay)
            else:
                self.log.error("LTI score %d (%s) failed: %s", claim.id, claim.lineitem_key, e)
                await self._db(self._finish, outbox.mark_failed, claim, str(e), now())
            return 0
        await self._db(self._finish, outbox.mark_sent, claim, now())
        return 1

    def _finish(self, mark, *args):
        with self.app.writer_factory() as db:
            return mark(db, *args)

    async def run(self, stop: asyncio.Event):
        """Send what is due every `LTIService.send_interval` seconds until ``stop``."""
        while not stop.is_set():
            try:
                while await self.send_due() >= self.lti.send_batch:
                    pass  # a full batch: more may be due at once
            except Exception as e:  # the database away for a while: the next tick tries
                self.log.warning("LTI passback: %s", e)
            try:
                await asyncio.wait_for(stop.wait(), self.lti.send_interval)
            except TimeoutError:
                pass
