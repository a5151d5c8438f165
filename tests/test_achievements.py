"""Achievements as data, XP arithmetic, and days and streaks in a learner's time zone:
pure functions, no database (the service's side is tests/test_awards.py)."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest
from traitlets import TraitError
from traitlets.config import Config

from grader.instructors.content import CourseError, load_course, read_course
from grader.learners import achievements
from grader.learners.achievements import AchievementError, validate, validate_course
from grader.learners.awards import (
    AwardRules,
    local_day,
    next_streak,
    streak_on,
    zone_of,
)

# definitions ------------------------------------------------------------------------


def test_the_built_in_achievements_ship_with_the_package_and_cover_the_issue():
    builtin = {d.key: d for d in achievements.builtin()}
    kinds = {d.kind for d in builtin.values()}
    assert kinds == set(achievements.RULE_KINDS)
    assert builtin["first-solve"].when == {"solved": 1}
    assert builtin["module-completed"].when == {"module_completed": True}
    assert builtin["streak-7"].when == {"streak": 7}
    assert builtin["first-try"].when == {"first_try": True}
    assert builtin["ten-solved"].when == {"solved": 10}
    assert builtin["xp-100"].when == {"xp": 100}
    for definition in builtin.values():
        assert definition.icon and definition.title and definition.description
        assert set(definition.model()) == {"key", "title", "description", "icon"}
    # the JSON is package data: found through importlib.resources, beside the module
    assert (Path(achievements.__file__).parent / "achievements.json").is_file()


GOOD = {
    "key": "lemon",
    "title": "Easy peasy",
    "description": "Solve three easy questions.",
    "icon": "🍋",
    "when": {"solved_difficulty": "Easy", "count": 3},
}


def test_a_course_definition_is_checked_and_normalised():
    [stored] = validate_course([GOOD])
    assert stored["when"] == {"solved_difficulty": "easy", "count": 3}
    # optional parts: description empty, a default icon, count 1
    [stored] = validate_course([{"key": "h", "title": "H", "when": {"solved_difficulty": "hard"}}])
    assert stored["icon"] == achievements.DEFAULT_ICON
    assert stored["when"]["count"] == 1
    [stored] = validate_course([{"key": "m", "title": "M", "when": {"module_completed": "loops"}}])
    assert stored["when"] == {"module_completed": "loops"}


@pytest.mark.parametrize(
    "definitions, message",
    [
        ({"key": "x"}, "must be a list"),
        ([{**GOOD, "when": {"solved_everything": True}}], "unknown rule kind 'solved_everything'"),
        ([{"title": "No key", "when": {"xp": 5}}], "achievements[0]: 'key' is missing"),
        ([GOOD, {**GOOD, "title": "Again"}], "achievements[1]: duplicate key 'lemon'"),
        ([{**GOOD, "key": "first-solve"}], "'first-solve' is a built-in achievement"),
        ([{**GOOD, "key": "Has Spaces"}], "key 'Has Spaces' must be"),
        ([{**GOOD, "when": {"xp": 5, "streak": 2}}], "exactly one of"),
        ([{**GOOD, "when": {"xp": 0}}], "'xp' must be a whole number from 1"),
        ([{**GOOD, "when": {"streak": True}}], "'streak' must be a whole number"),
        ([{**GOOD, "when": {"first_try": 2}}], "'first_try' must be true"),
        ([{**GOOD, "when": {"xp": 5, "count": 2}}], "'xp' takes no 'count'"),
        ([{**GOOD, "when": {"module_completed": "Not A Slug"}}], "true or a module's slug"),
        ([{**GOOD, "title": ""}], "'title' must be text"),
        ([{**GOOD, "icon": "x" * 40}], "'icon' must be an emoji"),
        ([{**GOOD, "colour": "red"}], "unknown field(s) colour"),
        ([{**GOOD, "when": "xp > 5"}], "'when' must be an object"),
    ],
)
def test_a_bad_definition_is_refused_with_a_message_naming_it(definitions, message):
    with pytest.raises(AchievementError) as raised:
        validate_course(definitions)
    assert message in str(raised.value)


def test_built_in_keys_are_only_reserved_for_courses():
    # the built-in list itself is valid (it is read with the same checks)
    assert len(validate([d.as_data() for d in achievements.builtin()])) == len(
        achievements.builtin()
    )


def test_a_stored_definition_no_longer_valid_is_skipped_not_an_error():
    class Course:
        slug = "demo"
        achievements = [GOOD, {"key": "broken", "title": "B", "when": {"nope": 1}}, "junk"]

    keys = [d.key for d in achievements.definitions_for(Course)]
    assert keys[-1] == "lemon" and "broken" not in keys
    assert keys[: len(achievements.builtin())] == [d.key for d in achievements.builtin()]


def write_course(tmp_path, **extra) -> Path:
    folder = tmp_path / "mycourse"
    folder.mkdir()
    (folder / "course.json").write_text(
        json.dumps({"slug": "mycourse", "title": "Mine", "modules": [], **extra})
    )
    return folder


def test_course_json_achievements_are_validated_when_the_course_is_read(tmp_path):
    folder = write_course(tmp_path, achievements=[GOOD, {**GOOD, "title": "dup"}])
    with pytest.raises(CourseError) as raised:
        read_course(folder)
    assert "course.json: achievements[1]: duplicate key 'lemon'" in str(raised.value)


def test_course_json_achievements_are_loaded_into_the_course(tmp_path):
    from grader import dbutil, orm

    url = f"sqlite:///{tmp_path / 'grader.sqlite'}"
    dbutil.upgrade(url)
    factory = dbutil.make_session_factory(dbutil.make_engine(url))
    with factory() as db:
        load_course(db, write_course(tmp_path, achievements=[GOOD]))
        course = orm.Course.find_by_slug(db, "mycourse")
        assert [a["key"] for a in course.achievements] == ["lemon"]
        assert "lemon" in [d.key for d in achievements.definitions_for(course)]


# XP --------------------------------------------------------------------------------


def test_xp_by_difficulty_with_a_default_and_a_penalty_per_hint_down_to_a_floor():
    rules = AwardRules()
    assert [rules.xp_for(d, 0) for d in ("easy", "Medium", "hard", "", None, "legendary")] == [
        10,
        20,
        40,
        10,
        10,
        10,
    ]
    # a quarter per hint (halves round up), never below a quarter of the base
    assert [rules.xp_for("easy", n) for n in range(6)] == [10, 8, 5, 3, 3, 3]
    assert [rules.xp_for("hard", n) for n in range(5)] == [40, 30, 20, 10, 10]


def test_award_rules_are_configurable_and_checked():
    config = Config()
    config.AwardRules.xp_by_difficulty = {"Easy": 1, "Hard": 100}
    config.AwardRules.default_xp = 7
    config.AwardRules.hint_penalty = 0.5
    config.AwardRules.xp_floor = 0.0
    rules = AwardRules(config=config)
    assert [rules.xp_for("easy", 0), rules.xp_for("hard", 1), rules.xp_for("medium", 0)] == [
        1,
        50,
        7,
    ]
    assert rules.xp_for("hard", 3) == 0
    with pytest.raises(TraitError):
        AwardRules(hint_penalty=1.5)
    with pytest.raises(TraitError):
        AwardRules(grace_days=-1)
    with pytest.raises(TraitError):
        AwardRules(xp_by_difficulty={"easy": -5})


# days and streaks --------------------------------------------------------------------


def utc(text: str) -> datetime:
    """A naive UTC moment, as stored."""
    return datetime.fromisoformat(text)


def test_a_day_is_the_learners_own_and_an_unknown_zone_is_utc():
    tokyo, utc_zone = zone_of("Asia/Tokyo"), zone_of("UTC")
    # 16:30 UTC on the 1st is 01:30 on the 2nd in Tokyo (UTC+9): "tomorrow" there
    moment = utc("2025-03-01T16:30:00")
    assert local_day(moment, utc_zone) == date(2025, 3, 1)
    assert local_day(moment, tokyo) == date(2025, 3, 2)
    # and 03:00 UTC is still "yesterday" in Los Angeles
    assert local_day(utc("2025-03-02T03:00:00"), zone_of("America/Los_Angeles")) == date(2025, 3, 1)
    for bad in ("Mars/Olympus_Mons", "", None, "../../etc/passwd", "UTC+25"):
        assert zone_of(bad) == utc_zone


def test_day_boundaries_are_local_midnight():
    berlin = zone_of("Europe/Berlin")  # UTC+1 in January
    assert local_day(utc("2025-01-10T22:59:00"), berlin) == date(2025, 1, 10)  # 23:59
    assert local_day(utc("2025-01-10T23:01:00"), berlin) == date(2025, 1, 11)  # 00:01


def test_days_follow_daylight_saving_time():
    new_york = zone_of("America/New_York")
    # 2024-11-03: clocks go back at 06:00 UTC (EDT UTC-4 -> EST UTC-5)
    assert local_day(utc("2024-11-03T03:59:00"), new_york) == date(2024, 11, 2)  # 23:59 EDT
    assert local_day(utc("2024-11-03T04:01:00"), new_york) == date(2024, 11, 3)  # 00:01 EDT
    # a day later the offset is -5: 04:30 UTC is 23:30 on the 3rd, not 00:30 on the 4th
    assert local_day(utc("2024-11-04T04:30:00"), new_york) == date(2024, 11, 3)
    assert local_day(utc("2024-11-04T05:01:00"), new_york) == date(2024, 11, 4)
    # spring forward (2025-03-09, 07:00 UTC): the short day is one day all the same
    assert local_day(utc("2025-03-09T05:30:00"), new_york) == date(2025, 3, 9)
    assert local_day(utc("2025-03-10T03:59:00"), new_york) == date(2025, 3, 9)


D = date(2025, 5, 10)


def day(n: int) -> date:
    return date.fromordinal(D.toordinal() + n)


@pytest.mark.parametrize(
    "before, active_on, grace, after",
    [
        ((0, 0, None), D, 1, (1, 1, D)),  # the first active day
        ((3, 5, D), D, 1, (3, 5, D)),  # the same day again: nothing
        ((3, 5, D), day(-2), 1, (3, 5, D)),  # an earlier day (out of order): nothing
        ((3, 5, D), day(1), 1, (4, 5, day(1))),  # the next day
        ((5, 5, D), day(1), 1, (6, 6, day(1))),  # the best follows
        ((3, 5, D), day(2), 1, (4, 5, day(2))),  # one day missed: within the grace
        ((3, 5, D), day(3), 1, (1, 5, day(3))),  # two missed: over
        ((3, 5, D), day(2), 0, (1, 5, day(2))),  # no grace
        ((3, 5, D), day(4), 3, (4, 5, day(4))),  # a longer grace
        ((3, 5, D), day(400), 1, (1, 5, day(400))),
    ],
)
def test_next_streak(before, active_on, grace, after):
    assert next_streak(*before, active_on, grace) == after


def test_a_streak_reads_as_zero_once_it_cannot_be_continued():
    assert streak_on(4, D, D, 1) == 4  # active today
    assert streak_on(4, D, day(1), 1) == 4  # yesterday: today continues it
    assert streak_on(4, D, day(2), 1) == 4  # missed one day: the grace
    assert streak_on(4, D, day(3), 1) == 0
    assert streak_on(4, D, day(2), 0) == 0
    assert streak_on(0, None, D, 1) == 0


def test_a_week_of_local_evenings_is_a_seven_day_streak_though_utc_days_skip_one():
    # a learner in Tokyo submitting at 08:30 local (23:30 UTC the day before) then at
    # 23:30 local (14:30 UTC) the next day and so on: each local day once
    tokyo = zone_of("Asia/Tokyo")
    moments = [utc(f"2025-06-{d:02d}T14:30:00") for d in range(1, 8)]
    streak, best, last = 0, 0, None
    for moment in moments:
        streak, best, last = next_streak(streak, best, last, local_day(moment, tokyo), 0)
    assert (streak, best, last) == (7, 7, date(2025, 6, 7))
    # two submissions on the same UTC day that are two days in Tokyo count twice
    first, second = utc("2025-07-01T00:30:00"), utc("2025-07-01T16:30:00")
    assert local_day(first, tokyo) != local_day(second, tokyo)
    assert local_day(first, zone_of("UTC")) == local_day(second, zone_of("UTC"))
