"""Profiles: a public part anyone signed in reads, a private part only its owner does.

Public (`GET profiles/{name}`): display name, bio, links (GitHub, LinkedIn, a website:
checked URLs), the avatar's URL, XP, streaks and achievements earned
(:func:`grader.learners.awards.summary`), and the learner's standing in one course:
score, solved, rank, percentile and "top n%" bucket on the course's board and on each of
its modules' boards. Private (`GET profile`, the owner's own): email, time zone,
leaderboard anonymity, settings for the front end.

A learner who chose anonymity is "anonymous learner" on leaderboards; so that their
profile does not tell others where they stand there either, their board-derived
figures (score, solved, rank, percentile, top, modules') are null in the profile as
others read it. They see their own; so do the course's instructors.

Ranks and percentiles come from the boards' score counts (:func:`scores.standings`:
one statement for the course's board and every module's), plus, for the course's rank,
one index range over the learners tied on the learner's score: no profile counts every
learner ahead. Ties share a percentile (and a module's rank: the place of a tie);
the course's rank breaks them as its leaderboard does.
"""

from __future__ import annotations

import functools
import zoneinfo
from datetime import UTC
from urllib.parse import quote, urlsplit

from sqlalchemy import func, select

from .. import orm
from . import scores

#: the links a profile may show, and the hosts each may point to (None: any)
LINK_HOSTS = {
    "github": ("github.com", "www.github.com"),
    "linkedin": ("linkedin.com", "www.linkedin.com"),
    "website": None,
}
MAX_LINK_LENGTH = 300
MAX_DISPLAY_NAME = 100
MAX_BIO = 2000
#: the front end's settings a learner may keep, with their type and default
SETTINGS = {
    "celebrations": (bool, True),  # confetti and sounds when a question is solved
    "sounds": (bool, True),
    "reduced_motion": (bool, False),
}
#: seconds between two changes of one learner's avatar (each is decoded and re-encoded)
AVATAR_CHANGE_INTERVAL = 10


class ProfileError(ValueError):
    """A profile field that cannot be saved; ``str(e)`` names the field and the problem."""


# -- checks of the fields a learner sets ------------------------------------------------


def check_text(value, field: str, max_length: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ProfileError(f"{field} must be a string")
    if len(value) > max_length:
        raise ProfileError(f"{field} is longer than {max_length} characters")
    return value


def check_display_name(value) -> str:
    name = check_text(value, "display_name", MAX_DISPLAY_NAME).strip()
    if any(not c.isprintable() for c in name):
        raise ProfileError("display_name must be one line of printable characters")
    return name


def check_link(kind: str, value) -> str:
    """An absolute http(s) URL on the host the kind of link allows; "" removes it."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise ProfileError(f"links.{kind} must be a URL (a string)")
    url = value.strip()
    if len(url) > MAX_LINK_LENGTH:
        raise ProfileError(f"links.{kind} is longer than {MAX_LINK_LENGTH} characters")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise ProfileError(f"links.{kind} must not hold spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a bad port raises here)
    except ValueError as e:
        raise ProfileError(f"links.{kind} is not a valid URL: {e}") from None
    if parts.scheme.lower() not in ("https", "http"):
        raise ProfileError(f"links.{kind} must be an https:// (or http://) URL")
    host = (parts.hostname or "").lower()
    if not host or "@" in parts.netloc:
        raise ProfileError(f"links.{kind} must name a host (and no user or password)")
    hosts = LINK_HOSTS[kind]
    if hosts is not None and host not in hosts:
        raise ProfileError(f"links.{kind} must be a link to {hosts[0]}")
    if hosts is None and "." not in host:
        raise ProfileError(f"links.{kind} must name a host on the internet")
    return url


def check_links(value, current: dict) -> dict:
    """The links after a change: only the kinds given change; "" or null removes one."""
    if not isinstance(value, dict):
        raise ProfileError(f"links must be an object with {', '.join(LINK_HOSTS)}")
    unknown = sorted(set(value) - set(LINK_HOSTS))
    if unknown:
        raise ProfileError(
            f"links may hold {', '.join(LINK_HOSTS)}, not {', '.join(map(repr, unknown))}"
        )
    links = {k: v for k, v in (current or {}).items() if k in LINK_HOSTS}
    for kind, url in value.items():
        checked = check_link(kind, url)
        if checked:
            links[kind] = checked
        else:
            links.pop(kind, None)
    return links


def check_email(value) -> str:
    """A well-formed address (no DNS lookup), normalized; "" removes it."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise ProfileError("email must be a string")
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as e:
        raise ProfileError(f"email is not a valid address: {e}") from None


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_timezone(value) -> str:
    """An IANA time zone name ("Europe/Paris"), as zoneinfo knows them."""
    if not isinstance(value, str) or value not in _zones():
        raise ProfileError(
            f'timezone must be an IANA time zone such as "Europe/Paris", not {value!r}'
        )
    return value


def check_settings(value, current: dict) -> dict:
    """The settings after a change: the keys given change (null: back to the default)."""
    if not isinstance(value, dict):
        raise ProfileError("settings must be an object")
    unknown = sorted(set(value) - set(SETTINGS))
    if unknown:
        raise ProfileError(
            f"settings has no {', '.join(map(repr, unknown))}: it holds {', '.join(SETTINGS)}"
        )
    settings = {k: v for k, v in (current or {}).items() if k in SETTINGS}
    for key, setting in value.items():
        kind, _ = SETTINGS[key]
        if setting is None:
            settings.pop(key, None)
        elif not isinstance(setting, kind):
            raise ProfileError(
                f"settings.{key} must be {'true or false' if kind is bool else kind.__name__}"
            )
        else:
            settings[key] = setting
    return settings


def settings_of(user: orm.User) -> dict:
    stored = user.settings or {}
    return {key: stored.get(key, default) for key, (_, default) in SETTINGS.items()}


def apply_changes(user: orm.User, body: dict) -> None:
    """Check every field of a PATCH body first, then change the user: nothing is
    changed if anything is wrong (ProfileError names it)."""
    checks = {
        "display_name": check_display_name,
        "bio": lambda v: check_text(v, "bio", MAX_BIO),
        "links": lambda v: check_links(v, user.links),
        "email": check_email,
        "timezone": check_timezone,
        "anonymous": _check_bool("anonymous"),
        "settings": lambda v: check_settings(v, user.settings),
    }
    unknown = sorted(set(body) - set(checks))
    if unknown:
        raise ProfileError(f"cannot change {', '.join(unknown)}: only {', '.join(checks)}")
    changes = {field: checks[field](value) for field, value in body.items()}
    for field, value in changes.items():
        setattr(user, field, value)


def _check_bool(field):
    def check(value):
        if not isinstance(value, bool):
            raise ProfileError(f"{field} must be true or false")
        return value

    return check


# -- reading ------------------------------------------------------------------------------


def avatar_url(user: orm.User) -> str | None:
    """Relative to the API's root; the version changes with the picture (caches)."""
    if user.avatar_updated is None:
        return None
    version = int(user.avatar_updated.replace(tzinfo=UTC).timestamp() * 1000)
    return f"profiles/{quote(user.name, safe='')}/avatar?v={version}"


def private_part(user: orm.User) -> dict:
    return {
        "email": user.email or "",
        "timezone": user.timezone or "UTC",
        "anonymous": bool(user.anonymous),
        "settings": settings_of(user),
    }


def profile(
    db,
    user: orm.User,
    course: orm.Course | None,
    course_ids=(),
    *,
    reader_id: int | None = None,
    reveal: bool = False,
    award_rules=None,
) -> dict:
    """The public profile: what a learner shows to others, in one course (its boards:
    score, rank, percentile, modules), or without one, their activity in `course_ids`
    (the reader's courses: nobody learns of a course they are not in) and nothing
    ranked. Read by `reader_id` (None: the learner themselves); `reveal`: the reader
    teaches the course, and sees an anonymous learner's standing. `award_rules`: the
    service's (`awards.rules_of(queue)`), for streaks read with its grace."""
    counted = [course.id] if course is not None else list(course_ids)
    hide_standing = bool(user.anonymous) and not reveal and reader_id not in (None, user.id)
    model = {
        "course": course and course.slug,
        "name": user.name,
        "display_name": user.display_name or user.name,
        "bio": user.bio or "",
        "links": {kind: (user.links or {}).get(kind) for kind in LINK_HOSTS},
        "avatar": avatar_url(user),
        "anonymous": bool(user.anonymous),
        **_awards(db, user, course, counted, award_rules),
        **_activity(db, user, counted),
        **_standing(db, user, course, hide_standing),
        "joined": user.created.isoformat() + "Z",
    }
    return model


#: a board's figures for a learner with no score there, and for one whose are hidden
UNRANKED = {"score": 0.0, "solved": 0, "rank": None, "percentile": None, "top": None}
HIDDEN = dict.fromkeys(UNRANKED)


def _standing(db, user: orm.User, course: orm.Course | None, hidden: bool) -> dict:
    """Score, solved, rank, percentile and top on the course's board, and on each of
    its modules' (`modules`)."""
    if course is None:
        return {**UNRANKED, "modules": []}
    modules = db.execute(
        select(orm.Module.id, orm.Module.slug, orm.Module.title)
        .where(orm.Module.course_id == course.id)
        .order_by(orm.Module.position, orm.Module.id)
    ).all()
    rows = {} if hidden else scores.standings(db, user.id, [course.board, *(m.id for m in modules)])

    def on(board: int, exact: bool = False) -> dict:
        if hidden:
            return HIDDEN
        row = rows.get(board)
        if row is None:
            return UNRANKED
        # the course's rank is the learner's line on its leaderboard (ties broken by
        # who got there first: an index range over the learners tied with them); a
        # module's is the place ties share, read from the counts alone: modules' boards
        # have large ties (everyone who solved all of one), and there are many of them
        rank = 1 + row.higher + (scores.tied_ahead(db, row) if exact else 0)
        percentile, top = scores.percentile_and_top(row.higher, max(row.learners, rank))
        return {
            "score": row.score,
            "solved": row.solved,
            "rank": rank,
            "percentile": percentile,
            "top": top,
        }

    return {
        **on(course.board, exact=True),
        "modules": [{"id": m.id, "slug": m.slug, "title": m.title, **on(m.id)} for m in modules],
    }


def _activity(db, user: orm.User, course_ids: list[int]) -> dict:
    """`attempted`: questions (not retired) of these courses the learner has a score on;
    `submissions`: their submissions to these courses' questions (their own rows, by
    the index on user_id, each joined to its question and module by primary key). One
    statement: two scalar subqueries, one round trip to the database."""
    if not course_ids:
        return {"attempted": 0, "submissions": 0}
    attempted = scores.counted_best_scores().add_columns(func.count())
    attempted = attempted.where(
        orm.BestScore.user_id == user.id, orm.Module.course_id.in_(course_ids)
    )
    submissions = (
        select(func.count())
        .select_from(orm.Submission)
        .join(orm.Question, orm.Question.id == orm.Submission.question_id)
        .join(orm.Module, orm.Module.id == orm.Question.module_id)
        .where(orm.Submission.user_id == user.id, orm.Module.course_id.in_(course_ids))
    )
    row = db.execute(
        select(
            attempted.scalar_subquery().label("attempted"),
            submissions.scalar_subquery().label("submissions"),
        )
    ).one()
    return {"attempted": row.attempted, "submissions": row.submissions}


def _awards(db, user: orm.User, course: orm.Course | None, course_ids: list[int], rules) -> dict:
    """XP, streaks and the achievements earned: in the course, or added up over the
    counted courses."""
    from . import awards  # the awards read the profile's tables, not the other way round

    courses = [course] if course is not None else [db.get(orm.Course, i) for i in course_ids]
    xp = streak = best_streak = 0
    earned = []
    for each in courses:
        summary = awards.summary(db, user, each, rules)
        xp += summary.get("xp", 0)
        streak = max(streak, summary.get("streak", 0))
        best_streak = max(best_streak, summary.get("best_streak", 0))
        earned += [a for a in summary.get("achievements", []) if a.get("earned")]
    return {"xp": xp, "streak": streak, "best_streak": best_streak, "achievements": earned}
