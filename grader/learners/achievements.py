"""Achievements, defined as data.

An achievement is a small JSON object::

    {"key": "streak-7", "title": "A week in a row", "description": "Submit on 7 days in a row.",
     "icon": "🔥", "when": {"streak": 7}}

The built-in ones ship with the package (`achievements.json` beside this module); a
course adds its own in `course.json` under `"achievements"` (kept in
`Course.achievements`), with keys of its own: it cannot redefine a built-in one. What
`when` may say is a closed set of rule kinds, evaluated by code
(:func:`is_earned`), so a course's data never runs anything:

=====================================  =================================================
``{"solved": n}``                      n questions of the course solved
``{"module_completed": true}``         every released question of a module solved (a
                                       module's slug instead of ``true``: that module)
``{"streak": n}``                      a daily streak of n days
``{"first_try": true}``                a question solved, every test (hidden ones
                                       included) passed, with the first submission to it
``{"xp": n}``                          n XP earned in the course
``{"solved_difficulty": d,             n questions of difficulty d solved (count: 1 if
"count": n}``                          left out)
=====================================  =================================================

Definitions are checked when they are loaded (:func:`validate`: an unknown rule kind, a
missing or duplicate key is an :class:`AchievementError` naming it); one that is in the
database and no longer valid (written by an older version) is skipped with a warning,
never an error in the grading step. An earned achievement whose definition the course
removed is not shown (its row stays: defined again, it shows again).
"""

from __future__ import annotations

import functools
import json
import logging
import re
from dataclasses import dataclass
from importlib import resources
from typing import Protocol

log = logging.getLogger(__name__)

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
FIELDS = {"key", "title", "description", "icon", "when"}
MAX_DEFINITIONS = 200
MAX_TITLE = 100
MAX_DESCRIPTION = 500
MAX_ICON = 16  # an emoji, possibly with modifiers and joiners
MAX_COUNT = 10**6
DEFAULT_ICON = "🏅"

# rule kind -> the other fields its `when` may hold
RULE_KINDS: dict[str, set[str]] = {
    "solved": set(),
    "module_completed": set(),
    "streak": set(),
    "first_try": set(),
    "xp": set(),
    "solved_difficulty": {"count"},
}


class AchievementError(ValueError):
    """A definition that cannot be used; the message names it and the problem."""


@dataclass(frozen=True)
class Definition:
    key: str
    title: str
    description: str
    icon: str
    when: dict

    @property
    def kind(self) -> str:
        return next(k for k in self.when if k in RULE_KINDS)

    def model(self) -> dict:
        """As the API shows it (never `when`: what earns it is the description's job)."""
        return {
            "key": self.key,
            "title": self.title,
            "description": self.description,
            "icon": self.icon,
        }

    def as_data(self) -> dict:
        return {**self.model(), "when": dict(self.when)}


def validate(definitions, where: str = "achievements", reserved=()) -> list[Definition]:
    """Definitions checked: a list of objects with a `key` (lower-case letters, digits,
    '-', '_'), a `title`, optionally a `description` and an `icon`, and `when`: one rule
    kind. Keys are unique and none of ``reserved`` (the built-in ones). Raises
    :class:`AchievementError` naming ``where`` and the definition."""
    if not isinstance(definitions, list):
        raise AchievementError(f"{where} must be a list of achievement definitions")
    if len(definitions) > MAX_DEFINITIONS:
        raise AchievementError(f"{where}: at most {MAX_DEFINITIONS} achievements")
    reserved = set(reserved)
    seen: set[str] = set()
    result = []
    for index, spec in enumerate(definitions):
        definition = _definition(spec, f"{where}[{index}]")
        if definition.key in reserved:
            raise AchievementError(
                f"{where}[{index}]: {definition.key!r} is a built-in achievement: "
                "choose another key"
            )
        if definition.key in seen:
            raise AchievementError(f"{where}[{index}]: duplicate key {definition.key!r}")
        seen.add(definition.key)
        result.append(definition)
    return result


def _definition(spec, where: str) -> Definition:
    if not isinstance(spec, dict):
        raise AchievementError(f"{where} must be an object")
    key = spec.get("key")
    if key is None:
        raise AchievementError(f"{where}: 'key' is missing")
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        raise AchievementError(
            f"{where}: key {key!r} must be 1 to 100 lower-case letters, digits, '-' or '_'"
        )
    where = f"{where} ({key})"
    unknown = set(spec) - FIELDS
    if unknown:
        raise AchievementError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    title = spec.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE:
        raise AchievementError(f"{where}: 'title' must be text of 1 to {MAX_TITLE} characters")
    description = spec.get("description", "")
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise AchievementError(
            f"{where}: 'description' must be text of at most {MAX_DESCRIPTION} characters"
        )
    icon = spec.get("icon", DEFAULT_ICON)
    if not isinstance(icon, str) or not icon.strip() or len(icon) > MAX_ICON:
        raise AchievementError(f"{where}: 'icon' must be an emoji (at most {MAX_ICON} characters)")
    return Definition(key, title.strip(), description, icon, _rule(spec.get("when"), where))


def _rule(when, where: str) -> dict:
    if not isinstance(when, dict):
        raise AchievementError(f"{where}: 'when' must be an object holding one rule")
    kinds = [k for k in when if k in RULE_KINDS]
    if len(kinds) != 1:
        unknown = sorted(set(when) - set(RULE_KINDS) - {"count"})
        detail = f"unknown rule kind {', '.join(map(repr, unknown))}: " if unknown else ""
        raise AchievementError(
            f"{where}: {detail}'when' must hold exactly one of {', '.join(RULE_KINDS)}"
        )
    kind = kinds[0]
    extra = set(when) - {kind} - RULE_KINDS[kind]
    if extra:
        raise AchievementError(f"{where}: {kind!r} takes no {', '.join(map(repr, sorted(extra)))}")
    value = when[kind]
    if kind in ("solved", "streak", "xp"):
        return {kind: _count(value, f"{where}: {kind!r}")}
    if kind == "first_try":
        if value is not True:
            raise AchievementError(f"{where}: 'first_try' must be true")
        return {kind: True}
    if kind == "module_completed":
        if value is True or (isinstance(value, str) and KEY_PATTERN.match(value)):
            return {kind: value}
        raise AchievementError(f"{where}: 'module_completed' must be true or a module's slug")
    # solved_difficulty
    if not isinstance(value, str) or not value.strip() or len(value) > 20:
        raise AchievementError(f"{where}: 'solved_difficulty' must be a difficulty, e.g. 'hard'")
    count = _count(when.get("count", 1), f"{where}: 'count'")
    return {kind: value.strip().lower(), "count": count}


def _count(value, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_COUNT:
        raise AchievementError(f"{where} must be a whole number from 1 to {MAX_COUNT}")
    return value


@functools.cache
def builtin() -> tuple[Definition, ...]:
    """The built-in achievements (package data), read once."""
    text = resources.files(__package__).joinpath("achievements.json").read_text("utf-8")
    return tuple(validate(json.loads(text), "built-in achievements"))


def builtin_keys() -> set[str]:
    return {d.key for d in builtin()}


def validate_course(definitions, where: str = "achievements") -> list[dict]:
    """A course's own definitions checked (built-in keys reserved), as stored in
    `Course.achievements`."""
    return [d.as_data() for d in validate(definitions, where, reserved=builtin_keys())]


def definitions_for(course) -> list[Definition]:
    """Every achievement of a course: the built-in ones, then its own. A stored one that
    is no longer valid is skipped (and logged), never an error where it is read."""
    own = []
    seen = builtin_keys()
    for index, spec in enumerate(course.achievements or []):
        try:
            definition = _definition(spec, f"course {course.slug} achievements[{index}]")
        except AchievementError as e:
            log.warning("skipping an achievement: %s", e)
            continue
        if definition.key not in seen:
            seen.add(definition.key)
            own.append(definition)
    return [*builtin(), *own]


class Facts(Protocol):
    """What the rules ask about a learner in a course, after a graded submission."""

    xp: int
    streak: int

    def solved(self) -> int: ...
    def module_completed(self, module: str | bool) -> bool: ...
    def first_try(self) -> bool: ...
    def solved_difficulty(self, difficulty: str) -> int: ...


def is_earned(definition: Definition, facts: Facts) -> bool:
    """Whether the facts meet the definition's rule."""
    when = definition.when
    kind = definition.kind
    if kind == "solved":
        return facts.solved() >= when["solved"]
    if kind == "module_completed":
        return facts.module_completed(when["module_completed"])
    if kind == "streak":
        return facts.streak >= when["streak"]
    if kind == "first_try":
        return facts.first_try()
    if kind == "xp":
        return facts.xp >= when["xp"]
    if kind == "solved_difficulty":
        return facts.solved_difficulty(when["solved_difficulty"]) >= when["count"]
    return False  # pragma: no cover - validate() admits no other kind
