"""Similarity reports in the database: asked for, claimed, computed, read.

An instructor asks for a report of one question (:func:`create_report`): the
submissions to compare are fixed then, **each learner's latest stored submission**,
whatever its status (queued, graded, or an infrastructure error): what a learner handed
in last is their work, and whether the sandbox has graded it yet, or it failed the tests,
changes nothing in its code; a learner who copied and then failed still copied. The
course's instructors' own submissions (reference runs) are left out.

Computing runs in a process of its own (:mod:`plagiarism_runner`), one report at a
time per API process. A process takes a report with a conditional UPDATE
(:func:`claim_next`), so replicas never compute one report twice; it renews the
report's heartbeat each time it writes progress, and writes the pairs compared so far
in the same transaction as `done`. A report whose heartbeat went stale (its process
died) is claimed again and resumes after its `done` pairs; a process that finds its
claim gone writes nothing more.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import aliased

from .. import orm
from . import plagiarism

#: statuses of a report
QUEUED, RUNNING, DONE, ERROR = "queued", "running", "done", "error"
#: the smallest and largest threshold an instructor may ask for
MIN_THRESHOLD, MAX_THRESHOLD = 0.1, 1.0


class ReportRefused(Exception):
    """A report cannot be made: ``status`` (400, 409) and a message naming why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Limits:
    """What bounds a report (PlagiarismRunner's options, sent to the computing process)."""

    max_submissions: int = 1000
    max_code_chars: int = 20_000
    max_listed_pairs: int = 2000
    noise_threshold: int = 25
    guarantee_threshold: int = 25
    min_match: int = 50
    progress_interval: float = 0.5


# asking -------------------------------------------------------------------------------


def check_threshold(value) -> float:
    """The threshold of a request, or ReportRefused(400) naming what is wrong."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ReportRefused(400, f"threshold must be a number, not {value!r}")
    value = float(value)
    if not MIN_THRESHOLD <= value <= MAX_THRESHOLD:
        raise ReportRefused(
            400, f"threshold must be between {MIN_THRESHOLD:g} and {MAX_THRESHOLD:g} (a share)"
        )
    return value


def latest_submissions(db, question: orm.Question) -> list[int]:
    """Each learner's latest submission to ``question`` (ids, ascending), the course's
    instructors left out."""
    instructors = select(orm.Enrolment.user_id).where(
        orm.Enrolment.course_id == question.module.course_id,
        orm.Enrolment.role == orm.INSTRUCTOR,
    )
    latest = (
        select(func.max(orm.Submission.id))
        .where(
            orm.Submission.question_id == question.id,
            orm.Submission.user_id.not_in(instructors),
        )
        .group_by(orm.Submission.user_id)
    )
    return sorted(db.scalars(latest))


def create_report(
    db, question: orm.Question, actor: str, threshold: float, limits: Limits
) -> orm.PlagiarismReport:
    """A queued report of ``question`` (added to ``db``, flushed, not committed), or
    ReportRefused: a report of it is still being computed (409), fewer than two learners
    submitted, more than ``limits.max_submissions`` did, or it is not a notebook
    question (400)."""
    if question.type != "notebook":
        raise ReportRefused(
            400,
            f"question {question.id} is a {question.type} question: similarity reports "
            "compare code answers of notebook questions",
        )
    under_way = db.scalar(
        select(orm.PlagiarismReport.id).where(
            orm.PlagiarismReport.question_id == question.id,
            orm.PlagiarismReport.status.in_((QUEUED, RUNNING)),
        )
    )
    if under_way is not None:
        raise ReportRefused(
            409, f"report {under_way} of question {question.id} is still being computed"
        )
    ids = latest_submissions(db, question)
    if len(ids) < 2:
        raise ReportRefused(
            400,
            f"question {question.id} has submissions from {len(ids)} learner(s): a report "
            "compares at least two",
        )
    if len(ids) > limits.max_submissions:
        raise ReportRefused(
            400,
            f"question {question.id} has submissions from {len(ids)} learners, more than a "
            f"report compares ({limits.max_submissions}, PlagiarismRunner.max_submissions)",
        )
    report = orm.PlagiarismReport(
        question_id=question.id,
        course_id=question.module.course_id,
        requested_by=actor,
        threshold=threshold,
        status=QUEUED,
        submission_ids=ids,
        total=plagiarism.pair_count(len(ids)),
        done=0,
        unlisted=0,
        truncated=0,
        attempts=0,
        created=orm.utcnow(),
    )
    db.add(report)
    db.flush()
    return report


# claiming -----------------------------------------------------------------------------


def claim_next(db, stale_seconds: float, max_attempts: int) -> tuple[int, str] | None:
    """Take the oldest report waiting (queued, or running with a heartbeat older than
    ``stale_seconds``: its process died) and commit: ``(report id, claim token)``, or
    None. A conditional UPDATE: of replicas racing for one report, one gets it. A report
    taken ``max_attempts`` times already ends in error instead."""
    stale_before = orm.utcnow() - timedelta(seconds=stale_seconds)
    report = orm.PlagiarismReport
    claimable = (report.status == QUEUED) | (
        (report.status == RUNNING) & (report.heartbeat < stale_before)
    )
    for _ in range(10):  # another replica may take each one first
        candidate = db.execute(
            select(report.id, report.attempts).where(claimable).order_by(report.id).limit(1)
        ).first()
        if candidate is None:
            db.rollback()
            return None
        report_id, attempts = candidate
        now = orm.utcnow()
        if attempts >= max_attempts:
            db.execute(
                update(report)
                .where(report.id == report_id, claimable)
                .values(
                    status=ERROR,
                    claim=None,
                    finished=now,
                    error=f"computing it failed {attempts} times",
                )
            )
            db.commit()
            continue
        token = secrets.token_hex(16)
        taken = db.execute(
            update(report)
            .where(report.id == report_id, claimable)
            .values(
                status=RUNNING,
                claim=token,
                heartbeat=now,
                attempts=report.attempts + 1,
                started=func.coalesce(report.started, now),
            )
        ).rowcount
        db.commit()
        if taken == 1:
            return report_id, token
    return None


def release(db, report_id: int, token: str) -> bool:
    """Give a claimed report back (its process was stopped or died): queued again, its
    progress kept, for the next claim to resume. False if the claim was gone."""
    return _update_claimed(db, report_id, token, status=QUEUED, claim=None)


def fail(db, report_id: int, token: str, message: str) -> bool:
    """End a claimed report in error, with a message for the instructor."""
    return _update_claimed(
        db,
        report_id,
        token,
        status=ERROR,
        claim=None,
        error=message[:2000],
        finished=orm.utcnow(),
    )


def _update_claimed(db, report_id: int, token: str, **values) -> bool:
    report = orm.PlagiarismReport
    changed = db.execute(
        update(report)
        .where(report.id == report_id, report.claim == token, report.status == RUNNING)
        .values(**values)
    ).rowcount
    db.commit()
    return changed == 1


# computing (in the runner's process) -------------------------------------------------


class ClaimLost(Exception):
    """Another process took the report (this one was thought dead): stop, write nothing."""


def compute(session_factory, report_id: int, token: str, limits: Limits) -> str:
    """Compute a claimed report, resuming after its `done` pairs; its status at the end
    ("done", or "lost" if the claim was taken away). CPU-heavy: run it in a process of
    its own, never on the API's event loop or its database threads."""
    writer = _ProgressWriter(session_factory, report_id, token, limits.progress_interval)
    try:
        return _compute(session_factory, report_id, writer, limits)
    except ClaimLost:
        return "lost"


def _compute(session_factory, report_id: int, writer, limits: Limits) -> str:
    with session_factory() as db:
        report = db.get(orm.PlagiarismReport, report_id)
        if report is None or report.claim != writer.token or report.status != RUNNING:
            raise ClaimLost()
        question = db.get(orm.Question, report.question_id)
        source, student = question.source_notebook, question.student_notebook
        settings = plagiarism.Settings(
            language=question.language,
            noise_threshold=limits.noise_threshold,
            guarantee_threshold=limits.guarantee_threshold,
            threshold=report.threshold,
            min_match=limits.min_match,
        )
        ids = list(report.submission_ids)
        done = report.done
        writer.listed = db.scalar(
            select(func.count()).where(orm.PlagiarismPair.report_id == report_id)
        )
        writer.stored_codes = set(
            db.scalars(
                select(orm.PlagiarismCode.submission_id).where(
                    orm.PlagiarismCode.report_id == report_id
                )
            )
        )

    fingerprinter = plagiarism.Fingerprinter(settings, plagiarism.starter_code(student))
    answers = []  # (submission id, user id, code, truncated), in the order of ids
    prints = []
    truncated = 0
    for start in range(0, len(ids), 50):  # a page of notebooks in memory at a time
        page = ids[start : start + 50]
        with session_factory() as db:
            rows = {
                row.id: row
                for row in db.execute(
                    select(
                        orm.Submission.id, orm.Submission.user_id, orm.Submission.notebook
                    ).where(orm.Submission.id.in_(page))
                )
            }
        for submission_id in page:
            row = rows.get(submission_id)  # deleted since: compared as empty
            code = _answer_of(source, row.notebook) if row is not None else ""
            cut = len(code) > limits.max_code_chars
            if cut:
                code = code[: limits.max_code_chars]
                truncated += 1
            answers.append((submission_id, row.user_id if row else None, code, cut))
            prints.append(fingerprinter.fingerprint(code))
            writer.beat(done)
    writer.truncated = truncated

    total = len(ids)
    pair_index = done
    for i, j in plagiarism.pairs_from(total, done):
        comparison = plagiarism.compare(prints[i], prints[j])
        pair_index += 1
        if comparison.listed(settings) and answers[i][1] and answers[j][1]:
            if writer.listed < limits.max_listed_pairs:
                writer.add_pair(answers[i], answers[j], comparison)
            else:
                writer.unlisted += 1
        writer.maybe_flush(pair_index)
    writer.flush(pair_index, finish=True)
    return DONE


def _answer_of(source, notebook) -> str:
    try:
        return plagiarism.answer_code(source, notebook)
    except Exception:  # a notebook stored before a check it would fail now: no code
        return ""


class _ProgressWriter:
    """Progress, heartbeat and pairs, written together under the report's claim."""

    def __init__(self, session_factory, report_id: int, token: str, interval: float):
        self.session_factory = session_factory
        self.report_id = report_id
        self.token = token
        self.interval = interval
        self.last = time.monotonic()
        self.pending: list[dict] = []
        self.codes: dict[int, tuple[str, bool]] = {}
        self.stored_codes: set[int] = set()
        self.listed = 0
        self.unlisted = 0
        self.truncated = 0

    def add_pair(self, a, b, comparison: plagiarism.Comparison):
        self.pending.append(
            {
                "report_id": self.report_id,
                "submission_a": a[0],
                "submission_b": b[0],
                "user_a": a[1],
                "user_b": b[1],
                "similarity": comparison.similarity,
                "similarity_a": comparison.similarity_a,
                "similarity_b": comparison.similarity_b,
                "matched": comparison.matched,
                "regions_a": [list(r) for r in comparison.regions_a],
                "regions_b": [list(r) for r in comparison.regions_b],
            }
        )
        for submission_id, _, code, cut in (a, b):
            if submission_id not in self.stored_codes:
                self.codes[submission_id] = (code, cut)
        self.listed += 1

    def beat(self, done: int):
        """While fingerprinting: the heartbeat only, now and then."""
        if time.monotonic() - self.last >= self.interval:
            self.flush(done)

    def maybe_flush(self, done: int):
        if time.monotonic() - self.last >= self.interval:
            self.flush(done)

    def flush(self, done: int, finish: bool = False):
        report = orm.PlagiarismReport
        now = orm.utcnow()
        values = {
            "done": done,
            "heartbeat": now,
            "unlisted": report.unlisted + self.unlisted,
            "truncated": self.truncated,
        }
        if finish:
            values.update(status=DONE, claim=None, finished=now)
        with self.session_factory() as db:
            changed = db.execute(
                update(report)
                .where(
                    report.id == self.report_id,
                    report.claim == self.token,
                    report.status == RUNNING,
                )
                .values(**values)
            ).rowcount
            if changed != 1:
                db.rollback()
                raise ClaimLost()
            if self.codes:
                db.execute(
                    orm.PlagiarismCode.__table__.insert(),
                    [
                        {
                            "report_id": self.report_id,
                            "submission_id": submission_id,
                            "code": code,
                            "truncated": cut,
                        }
                        for submission_id, (code, cut) in self.codes.items()
                    ],
                )
            if self.pending:
                db.execute(orm.PlagiarismPair.__table__.insert(), self.pending)
            db.commit()
        self.stored_codes.update(self.codes)
        self.codes, self.pending, self.unlisted = {}, [], 0
        self.last = time.monotonic()


# reading ------------------------------------------------------------------------------


def find_report(db, report_id: int) -> orm.PlagiarismReport | None:
    return db.get(orm.PlagiarismReport, report_id)


def report_summary(report: orm.PlagiarismReport, pairs: int) -> dict:
    """A report without its pairs (lists of reports)."""
    return {
        "id": report.id,
        "question": report.question_id,
        "status": report.status,
        "threshold": report.threshold,
        "progress": {"done": report.done, "total": report.total},
        "submissions": len(report.submission_ids or ()),
        "pairs_listed": pairs,
        "pairs_unlisted": report.unlisted,
        "truncated": report.truncated,
        "requested_by": report.requested_by,
        "created": orm.isoformat(report.created),
        "started": orm.isoformat(report.started),
        "finished": orm.isoformat(report.finished),
        "error": report.error,
    }


def pair_count_of(db, report_id: int) -> int:
    return db.scalar(select(func.count()).where(orm.PlagiarismPair.report_id == report_id))


def question_reports(db, question_id: int, limit: int = 20) -> list[dict]:
    """A question's latest reports, newest first, with their listed pairs' counts."""
    reports = db.scalars(
        select(orm.PlagiarismReport)
        .where(orm.PlagiarismReport.question_id == question_id)
        .order_by(orm.PlagiarismReport.id.desc())
        .limit(limit)
    ).all()
    counts = dict(
        db.execute(
            select(orm.PlagiarismPair.report_id, func.count())
            .where(orm.PlagiarismPair.report_id.in_([r.id for r in reports]))
            .group_by(orm.PlagiarismPair.report_id)
        ).all()
    )
    return [report_summary(r, counts.get(r.id, 0)) for r in reports]


def pairs_page(db, report_id: int, offset: int, limit: int) -> list[dict]:
    """Listed pairs of a report, most similar first (ties: in the order found)."""
    pair = orm.PlagiarismPair
    user_a, user_b = aliased(orm.User), aliased(orm.User)
    rows = db.execute(
        select(pair, user_a.name, user_b.name)
        .join(user_a, user_a.id == pair.user_a)
        .join(user_b, user_b.id == pair.user_b)
        .where(pair.report_id == report_id)
        .order_by(pair.similarity.desc(), pair.id)
        .offset(offset)
        .limit(limit)
    ).all()
    return [_pair_summary(p, name_a, name_b) for p, name_a, name_b in rows]


def _pair_summary(pair: orm.PlagiarismPair, name_a: str, name_b: str) -> dict:
    return {
        "id": pair.id,
        "similarity": pair.similarity,
        "matched": pair.matched,
        "a": {"user": name_a, "submission": pair.submission_a, "similarity": pair.similarity_a},
        "b": {"user": name_b, "submission": pair.submission_b, "similarity": pair.similarity_b},
    }


def report_model(db, report: orm.PlagiarismReport, offset: int = 0, limit: int = 100) -> dict:
    """A report and a page of its pairs."""
    model = report_summary(report, pair_count_of(db, report.id))
    model["pairs"] = pairs_page(db, report.id, offset, limit)
    model["offset"] = offset
    return model


def find_pair(db, report_id: int, pair_id: int) -> orm.PlagiarismPair | None:
    pair = db.get(orm.PlagiarismPair, pair_id)
    return pair if pair is not None and pair.report_id == report_id else None


def pair_model(db, pair: orm.PlagiarismPair) -> dict:
    """One pair for the side-by-side view: each answer's code as compared and its
    matched regions (``[start, end)`` character ranges)."""
    names = dict(
        db.execute(
            select(orm.User.id, orm.User.name).where(orm.User.id.in_((pair.user_a, pair.user_b)))
        ).all()
    )
    codes = {
        c.submission_id: c
        for c in db.scalars(
            select(orm.PlagiarismCode).where(
                orm.PlagiarismCode.report_id == pair.report_id,
                orm.PlagiarismCode.submission_id.in_((pair.submission_a, pair.submission_b)),
            )
        )
    }
    model = _pair_summary(pair, names.get(pair.user_a, ""), names.get(pair.user_b, ""))
    model["report"] = pair.report_id
    for side, submission_id, regions in (
        ("a", pair.submission_a, pair.regions_a),
        ("b", pair.submission_b, pair.regions_b),
    ):
        code = codes.get(submission_id)
        model[side]["code"] = code.code if code is not None else ""
        model[side]["truncated"] = bool(code is not None and code.truncated)
        model[side]["regions"] = [list(r) for r in regions or ()]
    return model
