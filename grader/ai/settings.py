"""A course's AI settings: read, checked and saved (`GET`/`PUT courses/{slug}/ai`).

Off by default: a course without a row has the defaults below, `enabled` false. What
an instructor may set is checked as a whole before anything is saved (a 400 naming the
first problem, nothing changed): the endpoint within the admin's allowed prefixes, the
key's variable name by the admin's pattern (the key itself is never accepted, stored
or returned: only whether the variable is set), the budget, the XP cost, the template
and its placeholders (:func:`grader.ai.grounding.template_problem`).
"""

from __future__ import annotations

from .. import orm
from .assistant import AIAssistant, Endpoint
from .grounding import DEFAULT_TEMPLATE, PLACEHOLDERS, template_problem

DEFAULTS = {
    "enabled": False,
    "tutor": False,
    "base_url": "",
    "model": "",
    "api_key_env": "",
    "daily_budget": 10,
    "prompt_template": DEFAULT_TEMPLATE,
    "hint_cost": 0.25,
}
FIELDS = tuple(DEFAULTS)
MAX_DAILY_BUDGET = 1000


class SettingsError(ValueError):
    """What is wrong with settings an instructor sent (a sentence)."""


def settings_of(db, course_id: int) -> orm.AISettings:
    """The course's settings: its row, or an unsaved one with the defaults."""
    row = db.get(orm.AISettings, course_id)
    return row if row is not None else orm.AISettings(course_id=course_id, **DEFAULTS)


def endpoint_of(row: orm.AISettings) -> Endpoint:
    return Endpoint(row.base_url, row.model, row.api_key_env)


def settings_model(course: orm.Course, row: orm.AISettings, assistant: AIAssistant) -> dict:
    """The settings as the course's instructors read them: the key's variable name and
    whether it is set, never the key."""
    return {
        "course": course.slug,
        **{name: getattr(row, name) for name in FIELDS},
        "prompt_template": row.prompt_template or DEFAULT_TEMPLATE,
        "api_key_set": assistant.key_present(row.api_key_env),
        "placeholders": dict(PLACEHOLDERS),
        "allowed_base_urls": list(assistant.allowed_base_urls),
        "updated": orm.isoformat(row.updated),
        "updated_by": row.updated_by,
    }


def checked_update(body: dict, current: orm.AISettings, assistant: AIAssistant) -> dict:
    """The fields of ``body`` to save, checked together with the current ones;
    :class:`SettingsError` for the first problem."""
    if "api_key" in body or "key" in body:
        raise SettingsError(
            "the key itself is never stored: put it in an environment variable of the "
            "grader and name that variable in api_key_env"
        )
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise SettingsError(f"unknown field {unknown[0]!r}: the fields are {', '.join(FIELDS)}")
    update = {}
    for name in ("enabled", "tutor"):
        if name in body:
            if not isinstance(body[name], bool):
                raise SettingsError(f"{name} must be true or false")
            update[name] = body[name]
    for name, limit in (("base_url", 500), ("model", 200), ("api_key_env", 100)):
        if name in body:
            value = body[name]
            if not isinstance(value, str) or len(value) > limit:
                raise SettingsError(f"{name} must be a string of at most {limit} characters")
            update[name] = value.strip()
    if "daily_budget" in body:
        budget = body["daily_budget"]
        if (
            not isinstance(budget, int)
            or isinstance(budget, bool)
            or not 0 <= budget <= MAX_DAILY_BUDGET
        ):
            raise SettingsError(
                f"daily_budget must be a whole number of requests from 0 to {MAX_DAILY_BUDGET}"
            )
        update["daily_budget"] = budget
    if "hint_cost" in body:
        cost = body["hint_cost"]
        if not isinstance(cost, int | float) or isinstance(cost, bool) or not 0 <= cost <= 1:
            raise SettingsError(
                "hint_cost must be a share of the question's XP from 0 to 1 (0.25: a quarter)"
            )
        update["hint_cost"] = float(cost)
    if "prompt_template" in body:
        problem = template_problem(body["prompt_template"])
        if problem:
            raise SettingsError(problem)
        update["prompt_template"] = body["prompt_template"]

    merged = {name: update.get(name, getattr(current, name)) for name in FIELDS}
    if merged["base_url"]:
        problem = assistant.base_url_problem(merged["base_url"])
        if problem:
            raise SettingsError(problem)
    problem = assistant.key_env_problem(merged["api_key_env"])
    if problem:
        raise SettingsError(problem)
    if merged["enabled"] or merged["tutor"]:
        missing = [n for n in ("base_url", "model") if not merged[n]]
        if missing:
            raise SettingsError(f"AI help cannot be turned on without {' and '.join(missing)}")
    return update


def save(db, course: orm.Course, update: dict, by: str) -> orm.AISettings:
    """Apply a checked update; commits."""
    row = db.get(orm.AISettings, course.id)
    if row is None:
        row = orm.AISettings(course_id=course.id, **DEFAULTS)
        db.add(row)
    for name, value in update.items():
        setattr(row, name, value)
    row.updated = orm.utcnow()
    row.updated_by = by
    db.commit()
    return row
