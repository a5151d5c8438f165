"""Integrity signals: opt-in per course, self-reported by the learner's JupyterLab.

A course's instructors may turn them on (`PUT courses/{id}/integrity`, off by default).
While on, the learner's JupyterLab records, for the question notebook it submits:

- pastes into the question's answer cells: how many and each one's size in characters
  (never the pasted text);
- leaving the tab or window while the question is part of a timed quiz or duel: how
  often and for how many seconds in all;
- the time spent: seconds from the notebook's opening to the submission, and how many
  of them the notebook was shown.

It sends them with the submission (`POST submissions` `{"integrity": {...}}`).
Everything here comes from the learner's browser, which the learner controls: the
object is checked strictly (:func:`checked_signals`, known keys, numbers in range,
bounded sizes; a 400 naming the field, and then nothing is stored), and what is stored
is a hint for a conversation with the learner, never proof of anything. Signals sent
for a course that has them off are dropped, not stored.

Who reads them: the course's instructors, beside the submission (the submission page,
`GET submissions/{id}`), and the learner their own; never other learners.
"""

from __future__ import annotations

import math

from sqlalchemy import select

from .. import orm

#: paste sizes listed one by one with a submission (more pastes are counted only)
MAX_PASTES_LISTED = 200
#: a paste's size, characters: larger than any notebook the grader accepts (16 MiB)
MAX_PASTE_CHARS = 20_000_000
#: characters pasted in all, and counts of events (fit a 32-bit column)
MAX_TOTAL_CHARS = 1_000_000_000
MAX_COUNT = 1_000_000
#: seconds: a notebook open for a year is already past believing
MAX_SECONDS = 366 * 24 * 3600.0
TIMED_KINDS = ("quiz", "duel")

#: the fields a client sends, and what each one means (for the 400's message)
FIELDS = {
    "pastes": "the size in characters of each paste into an answer cell",
    "paste_count": "how many pastes into answer cells",
    "paste_chars": "characters pasted into answer cells in all",
    "away_count": "how often the learner left the tab during a timed quiz or duel",
    "away_seconds": "seconds away from the tab during a timed quiz or duel",
    "timed": "quiz or duel, when the question was timed; else null",
    "open_seconds": "seconds from the notebook's opening to the submission",
    "visible_seconds": "seconds the notebook was shown in that time",
}

#: what the learner is told is recorded, and what is not (the extension shows its own
#: copy of these words; the pages show these)
RECORDED = (
    "the size in characters of each paste into the question's answer cells",
    "leaving the JupyterLab tab or window during a timed quiz or duel: how often and how long",
    "time spent: from opening the question's notebook to submitting it, and how much of "
    "that time the notebook was shown",
)
NOT_RECORDED = (
    "keystrokes",
    "the pasted text",
    "the screen",
    "anything outside JupyterLab",
)
CAVEAT = (
    "Integrity signals are reported by the learner's own browser: hints to start a "
    "conversation with the learner, never proof of anything."
)


class SignalsError(ValueError):
    """What is wrong with the `integrity` object a client sent (names the field)."""


def _whole(value, name: str, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SignalsError(f"integrity.{name} must be a whole number from 0 to {maximum}")
    if not 0 <= value <= maximum:
        raise SignalsError(f"integrity.{name} must be a whole number from 0 to {maximum}")
    return value


def _seconds(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SignalsError(
            f"integrity.{name} must be a number of seconds from 0 to {MAX_SECONDS:g}"
        )
    if not math.isfinite(value) or not 0 <= value <= MAX_SECONDS:
        raise SignalsError(
            f"integrity.{name} must be a number of seconds from 0 to {MAX_SECONDS:g}"
        )
    return float(value)


def checked_signals(value) -> dict | None:
    """The `integrity` object of a submission, checked: the values to store, or None
    (absent or null); :class:`SignalsError` naming the first problem. Every key is
    optional; an unknown key, a wrong type, a number out of range or a list too long
    is refused whole (nothing of it is kept)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise SignalsError("integrity must be an object (or null)")
    unknown = sorted(str(k) for k in value if k not in FIELDS)
    if unknown:
        raise SignalsError(
            f"integrity.{unknown[0][:50]} is not a known field: the fields are {', '.join(FIELDS)}"
        )
    pastes = value.get("pastes", [])
    if not isinstance(pastes, list):
        raise SignalsError("integrity.pastes must be a list of paste sizes in characters")
    if len(pastes) > MAX_PASTES_LISTED:
        raise SignalsError(
            f"integrity.pastes lists {len(pastes)} pastes: at most {MAX_PASTES_LISTED} "
            "(count the others in paste_count and paste_chars)"
        )
    sizes = [_whole(p, f"pastes[{i}]", MAX_PASTE_CHARS) for i, p in enumerate(pastes)]
    count = _whole(value.get("paste_count", len(sizes)), "paste_count", MAX_COUNT)
    if count < len(sizes):
        raise SignalsError(
            f"integrity.paste_count ({count}) is less than the pastes listed ({len(sizes)})"
        )
    chars = _whole(value.get("paste_chars", sum(sizes)), "paste_chars", MAX_TOTAL_CHARS)
    if chars < sum(sizes):
        raise SignalsError("integrity.paste_chars is less than the listed pastes' sizes in all")
    timed = value.get("timed")
    if timed is not None and timed not in TIMED_KINDS:
        raise SignalsError("integrity.timed must be quiz, duel or null")
    return {
        "paste_count": count,
        "paste_chars": chars,
        "paste_sizes": sizes,
        "away_count": _whole(value.get("away_count", 0), "away_count", MAX_COUNT),
        "away_seconds": _seconds(value.get("away_seconds", 0), "away_seconds"),
        "timed": timed,
        "open_seconds": _seconds(value.get("open_seconds", 0), "open_seconds"),
        "visible_seconds": _seconds(value.get("visible_seconds", 0), "visible_seconds"),
    }


# the course's setting


def enabled(db, course_id: int) -> bool:
    return bool(
        db.scalar(
            select(orm.IntegritySettings.enabled).where(
                orm.IntegritySettings.course_id == course_id
            )
        )
    )


def enabled_courses(db, course_ids) -> set[int]:
    """Which of these courses collect integrity signals (one query)."""
    ids = list(course_ids)
    if not ids:
        return set()
    return set(
        db.scalars(
            select(orm.IntegritySettings.course_id).where(
                orm.IntegritySettings.course_id.in_(ids), orm.IntegritySettings.enabled
            )
        )
    )


def settings_model(db, course: orm.Course) -> dict:
    row = db.get(orm.IntegritySettings, course.id)
    return {
        "course": course.slug,
        "enabled": bool(row and row.enabled),
        "recorded": list(RECORDED),
        "not_recorded": list(NOT_RECORDED),
        "caveat": CAVEAT,
        "updated": orm.isoformat(row.updated) if row else None,
        "updated_by": row.updated_by if row else None,
    }


def set_enabled(db, course_id: int, on: bool, by: str) -> bool:
    """Turn the course's signals on or off (in the caller's transaction, not
    committed); whether that changed anything."""
    row = db.get(orm.IntegritySettings, course_id)
    if row is None:
        row = orm.IntegritySettings(course_id=course_id, enabled=False)
        db.add(row)
    changed = row.enabled != on
    row.enabled = on
    row.updated = orm.utcnow()
    row.updated_by = by
    return changed


# a submission's signals


def attach(db, submission: orm.Submission, signals: dict | None, course_id: int) -> bool:
    """Store checked ``signals`` with a submission being stored (in its transaction),
    if its course collects them; dropped otherwise. Whether they were stored."""
    if signals is None or not enabled(db, course_id):
        return False
    db.add(orm.IntegritySignals(submission_id=submission.id, **signals))
    return True


def signals_model(row: orm.IntegritySignals | None) -> dict | None:
    if row is None:
        return None
    sizes = list(row.paste_sizes or [])
    return {
        "paste_count": row.paste_count,
        "paste_chars": row.paste_chars,
        "pastes": sizes,
        "largest_paste": max(sizes, default=0),
        "away_count": row.away_count,
        "away_seconds": round(row.away_seconds, 1),
        "timed": row.timed,
        "open_seconds": round(row.open_seconds, 1),
        "visible_seconds": round(row.visible_seconds, 1),
        "recorded": orm.isoformat(row.created),
        "self_reported": True,
    }


def signals_of(db, submission_id: int) -> dict | None:
    """A submission's signals as the API sends them, or None (none recorded)."""
    return signals_model(db.get(orm.IntegritySignals, submission_id))


def markers(db, submission_ids) -> dict[int, dict]:
    """For lists of submissions: the signals of those that have some, by id (one query)."""
    ids = list(submission_ids)
    if not ids:
        return {}
    rows = db.scalars(
        select(orm.IntegritySignals).where(orm.IntegritySignals.submission_id.in_(ids))
    )
    return {row.submission_id: signals_model(row) for row in rows}


def marker_text(signals: dict | None) -> str:
    """A short summary for a list's marker ("" when nothing to note)."""
    if not signals:
        return ""
    parts = []
    if signals["paste_count"]:
        parts.append(
            f"{signals['paste_count']} paste{'s' if signals['paste_count'] != 1 else ''}, "
            f"largest {signals['largest_paste']} chars"
        )
    if signals["away_count"]:
        parts.append(f"left the {signals['timed'] or 'timed'} tab {signals['away_count']}×")
    return "; ".join(parts)
