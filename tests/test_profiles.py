"""Profiles: the public part (links, standing in a course: percentile and "top n%"
bucket on the course's and each module's board), the private part (its owner's only),
and anonymity on leaderboards."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from grader import orm
from grader.learners import scores
from grader.learners.profiles import ProfileError, check_link
from tests.conftest import AUTHOR, LEARN, Client

# percentiles and buckets -----------------------------------------------------------------


@pytest.mark.parametrize(
    "higher, learners, expected",
    [
        (0, 1, (100.0, None)),  # alone: nobody to be ahead of
        (0, 2, (50.0, 50)),
        (0, 4, (25.0, 25)),
        (1, 4, (50.0, 50)),
        (3, 4, (100.0, None)),
        (0, 3, (33.3, 50)),
        (0, 10, (10.0, 10)),
        (0, 20, (5.0, 5)),
        (0, 100, (1.0, 1)),
        (1, 100, (2.0, 5)),
        (4, 100, (5.0, 5)),
        (5, 100, (6.0, 10)),
        (50, 100, (51.0, None)),
        (0, 0, (100.0, None)),  # counts that lag behind the learner's own total
    ],
)
def test_percentile_and_bucket(higher, learners, expected):
    assert scores.percentile_and_top(higher, learners) == expected


# a course of two modules, one question each (4 points), with scores set directly ------


def fill_boards(grader, points: dict[str, tuple[float | None, float | None]]) -> list[int]:
    """Each learner's score on the question of module m0 and of m1 (None: no attempt),
    graded one second apart in the order given; the modules' ids."""
    with grader.writer_factory() as db:
        course = orm.Course.find_by_slug(db, "demo")
        questions = []
        for m in range(2):
            module = orm.Module.find_by_slug(db, f"m{m}", course.id)
            if module is not None:  # filled before
                questions.append(module.questions[0])
                continue
            module = orm.Module(course=course, slug=f"m{m}", title=f"Module {m}", position=m)
            question = orm.Question(module=module, slug="q", title="Q", max_score=4.0,
                                    source_notebook={}, student_notebook={},
                                    released=orm.utcnow())  # fmt: skip
            db.add_all([module, question])
            questions.append(question)
        db.flush()
        start = orm.utcnow() - timedelta(hours=1)
        step = 0
        for name, per_module in points.items():
            user = orm.User.find_or_create(db, name)
            for question, score in zip(questions, per_module, strict=True):
                if score is None:
                    continue
                step += 1
                submission = orm.Submission(
                    user_id=user.id, question_id=question.id, question_version=1,
                    notebook={}, status="graded", score=score, max_score=4.0,
                    finished=start + timedelta(seconds=step),
                )  # fmt: skip
                db.add(submission)
                db.flush()
                scores.record_graded(db, submission)
        db.commit()
        return [q.module_id for q in questions]


def standing(profile: dict) -> tuple:
    return profile["score"], profile["rank"], profile["percentile"], profile["top"]


async def test_tied_learners_share_a_percentile_and_a_bucket(grader):
    modules = fill_boards(
        grader,
        {"ann": (4, 4), "bob": (4, 4), "cat": (4, 4), "dan": (4, None)},
    )
    reader = grader.client_for("eve")
    seen = {}
    for name in ("ann", "bob", "cat", "dan"):
        code, profile = await reader.get(f"profiles/{name}")
        assert code == 200, profile
        seen[name] = profile
    # ranks break ties (who got there first); the percentile does not
    assert standing(seen["ann"]) == (8, 1, 25.0, 25)
    assert standing(seen["bob"]) == (8, 2, 25.0, 25)
    assert standing(seen["cat"]) == (8, 3, 25.0, 25)
    assert standing(seen["dan"]) == (4, 4, 100.0, None)
    # module boards: everyone tied on m0 (4 learners), three on m1
    assert [m["id"] for m in seen["dan"]["modules"]] == modules
    m0, m1 = seen["dan"]["modules"]
    assert (m0["slug"], m0["title"], m0["score"], m0["rank"], m0["percentile"], m0["top"]) == (
        "m0", "Module 0", 4, 1, 25.0, 25,
    )  # fmt: skip
    assert (m1["score"], m1["solved"], m1["rank"], m1["percentile"], m1["top"]) == (
        0.0, 0, None, None, None,
    )  # fmt: skip
    # a module's rank is the place its ties share
    assert [(m["rank"], m["percentile"], m["top"]) for m in seen["cat"]["modules"]] == [
        (1, 25.0, 25),
        (1, 33.3, 50),
    ]


async def test_a_small_course(grader):
    fill_boards(grader, {"solo": (3, None)})
    code, profile = await grader.client_for("solo").get("profile")
    assert standing(profile) == (3, 1, 100.0, None)  # alone: no "top n%"
    code, profile = await grader.client_for("solo").get("profiles/nobody-here")
    assert code == 404
    fill_boards(grader, {"a2": (4, 4), "a3": (1, None), "a4": (0, None)})
    code, first = await grader.client_for("solo").get("profiles/a2")
    assert standing(first) == (8, 1, 25.0, 25)
    code, last = await grader.client_for("solo").get("profiles/a4")
    assert standing(last) == (0, 4, 100.0, None)
    # someone with no score at all is not on the board
    code, none = await grader.client_for("newcomer").get("profile")
    assert standing(none) == (0, None, None, None)
    assert none["solved"] == 0 and none["xp"] == 0 and none["achievements"] == []


# the private part --------------------------------------------------------------------------

PRIVATE = {
    "email": "Ann.Secret@Example.org",
    "timezone": "Pacific/Chatham",
    "anonymous": False,
    "settings": {"celebrations": False, "sounds": False},
}


async def test_the_private_part_is_the_owners_only(grader):
    fill_boards(grader, {"ann": (4, 1), "bob": (2, None)})
    ann, bob = grader.client_for("ann"), grader.client_for("bob")
    teacher = grader.client_for("teacher", (LEARN, AUTHOR))
    code, own = await ann.request(
        "PATCH",
        "profile",
        {
            **PRIVATE,
            "display_name": "Ann A.",
            "bio": "Loves recursion",
            "links": {"github": "https://github.com/ann", "website": "http://ann.example.org/"},
        },
    )
    assert code == 200, own
    assert own["private"] == {**PRIVATE, "email": "Ann.Secret@example.org",
                              "settings": {**PRIVATE["settings"], "reduced_motion": False}}  # fmt: skip
    assert own["links"] == {"github": "https://github.com/ann", "linkedin": None,
                            "website": "http://ann.example.org/"}  # fmt: skip
    code, again = await ann.get("profile")
    assert again["private"] == own["private"]

    secrets = ("Secret", "secret", "Chatham", "celebrations", "private", "timezone")
    for reader in (bob, teacher):
        readable = [
            await reader.get("profiles/ann"),
            await reader.get("leaderboard"),
            await reader.get(f"leaderboard?module={own['modules'][0]['id']}"),
            await reader.get("progress/ann"),
            await reader.get("gradebook"),
            await reader.get("submissions?user=ann"),
            await reader.get("courses"),
        ]
        for _code, data in readable:
            text = json.dumps(data)
            assert not any(secret in text for secret in secrets), text
    code, public = await bob.get("profiles/ann")
    assert (public["display_name"], public["bio"]) == ("Ann A.", "Loves recursion")
    assert "private" not in public and "email" not in public


async def test_profiles_are_for_signed_in_users_only(grader):
    fill_boards(grader, {"ann": (4, 1)})
    for client in (Client(grader.base_url, None), Client(grader.base_url, "forged")):
        for method, path in (
            ("GET", "profiles/ann"),
            ("GET", "profile"),
            ("GET", "leaderboard"),
            ("PATCH", "profile"),
        ):
            body = {"bio": "pwned"} if method == "PATCH" else None
            code, data = await client.request(method, path, body)
            assert code == 403, (path, data)
            assert "ann" not in json.dumps(data)


# checks of what a learner sets -----------------------------------------------------------


@pytest.mark.parametrize(
    "body, message",
    [
        ({"links": {"github": "javascript:alert(1)"}}, "links.github must be an https://"),
        ({"links": {"website": "javascript://example.org/%0Aalert(1)"}}, "https://"),
        ({"links": {"website": "data:text/html,<script>x</script>"}}, "https://"),
        ({"links": {"website": "ftp://example.org/"}}, "https://"),
        ({"links": {"website": "//example.org/"}}, "https://"),
        ({"links": {"website": "https://"}}, "must name a host"),
        ({"links": {"website": "https://localhost/"}}, "on the internet"),
        ({"links": {"website": "https://exa mple.org/"}}, "spaces"),
        ({"links": {"website": "https://example.org/\x00"}}, "control characters"),
        ({"links": {"website": "https://example.org:99999/"}}, "not a valid URL"),
        ({"links": {"website": "https://example.org/" + "a" * 300}}, "longer than 300"),
        ({"links": {"github": "https://evil.example/github.com/ann"}}, "a link to github.com"),
        ({"links": {"github": "https://github.com@evil.example/"}}, "no user or password"),
        ({"links": {"github": "https://ann:pw@github.com/"}}, "no user or password"),
        ({"links": {"linkedin": "https://linkedin.evil.example/in/ann"}}, "linkedin.com"),
        ({"links": {"github": 42}}, "links.github must be a URL"),
        ({"links": {"mastodon": "https://example.social/@ann"}}, "not 'mastodon'"),
        ({"links": ["https://github.com/ann"]}, "links must be an object"),
        ({"email": "not an address"}, "email is not a valid address"),
        ({"email": "ann@"}, "email is not a valid address"),
        ({"email": ["ann@example.org"]}, "email must be a string"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone must be an IANA time zone"),
        ({"timezone": "../../../etc/passwd"}, "timezone must be an IANA time zone"),
        ({"timezone": None}, "timezone must be an IANA time zone"),
        ({"anonymous": "yes"}, "anonymous must be true or false"),
        ({"settings": {"theme": "dark"}}, "settings has no 'theme'"),
        ({"settings": {"celebrations": "off"}}, "settings.celebrations must be true or false"),
        ({"settings": []}, "settings must be an object"),
        ({"display_name": "Ann\nAdmin"}, "display_name must be one line"),
        ({"display_name": "x" * 101}, "longer than 100"),
        ({"bio": "x" * 2001}, "bio is longer than 2000"),
        ({"name": "root"}, "cannot change name"),
        ({"avatar": "AAAA"}, "cannot change avatar"),
        ({"xp": 10**6}, "cannot change xp"),
    ],
)
async def test_bad_profile_fields_are_named_and_nothing_changes(grader, body, message):
    ann = grader.client_for("ann")
    code, data = await ann.request("PATCH", "profile", {"bio": "changed", **body})
    assert code == 400 and message in data["message"], data
    code, profile = await ann.get("profile")
    assert profile["bio"] == "" and profile["private"]["timezone"] == "UTC"


async def test_links_change_one_at_a_time_and_empty_removes(grader):
    ann = grader.client_for("ann")
    links = {
        "github": "https://github.com/ann",
        "linkedin": "https://www.linkedin.com/in/ann",
        "website": "https://ann.example.org/about?x=1#top",
    }
    code, data = await ann.request("PATCH", "profile", {"links": links})
    assert code == 200 and data["links"] == links
    code, data = await ann.request("PATCH", "profile", {"links": {"linkedin": ""}})
    assert data["links"] == {**links, "linkedin": None}
    code, data = await ann.request("PATCH", "profile", {"links": {"github": None}})
    assert data["links"] == {"github": None, "linkedin": None, "website": links["website"]}
    code, data = await ann.request(
        "PATCH", "profile", {"email": "", "timezone": "Europe/Paris", "settings": {"sounds": None}}
    )
    assert data["private"]["email"] == "" and data["private"]["timezone"] == "Europe/Paris"
    assert data["private"]["settings"]["sounds"] is True  # back to the default


@pytest.mark.parametrize(
    "kind, url",
    [("github", "http://www.github.com/a"), ("linkedin", "https://linkedin.com/in/a"),
     ("website", "HTTPS://Example.ORG")],
)  # fmt: skip
def test_good_links(kind, url):
    assert check_link(kind, f"  {url} ") == url


def test_a_link_kind_that_does_not_exist_is_not_a_key_error():
    with pytest.raises(ProfileError):
        check_link("github", "javascript:alert(1)")


# anonymity on leaderboards ----------------------------------------------------------------


async def test_an_anonymous_learner_on_leaderboards_and_profiles(grader):
    modules = fill_boards(grader, {"ann": (4, 4), "bob": (2, None), "cat": (1, 1)})
    ann, bob = grader.client_for("ann"), grader.client_for("bob")
    teacher = grader.client_for("teacher", (LEARN, AUTHOR))
    code, data = await ann.request(
        "PATCH", "profile", {"anonymous": True, "display_name": "Ann the Great"}
    )
    assert code == 200 and data["private"]["anonymous"] is True
    code, data = await bob.request("PATCH", "profile", {"display_name": "Bob B."})

    def first(board):
        return board["entries"][0]

    for path in ("leaderboard", f"leaderboard?module={modules[0]}"):
        code, board = await bob.get(path)
        assert first(board) == {
            "rank": 1, "user": None, "display_name": "anonymous learner", "score": first(
                board)["score"], "solved": first(board)["solved"], "anonymous": True,
            "you": False,
        }  # fmt: skip
        assert "Ann the Great" not in json.dumps(board) and '"ann"' not in json.dumps(board)
        assert board["entries"][1]["display_name"] == "Bob B." and board["entries"][1]["you"]
        code, board = await ann.get(path)
        assert (first(board)["user"], first(board)["display_name"], first(board)["you"]) == (
            "ann", "Ann the Great", True,
        )  # fmt: skip
        code, board = await teacher.get(path)
        assert (first(board)["user"], first(board)["anonymous"], first(board)["you"]) == (
            "ann", True, False,
        )  # fmt: skip

    # her profile, read by another learner, does not tell where she stands either
    code, public = await bob.get("profiles/ann")
    assert standing(public) == (None, None, None, None) and public["solved"] is None
    assert all(m["rank"] is None and m["score"] is None for m in public["modules"])
    code, own = await ann.get("profile")
    assert standing(own) == (8, 1, 33.3, 50)
    code, taught = await teacher.get("profiles/ann")
    assert standing(taught) == (8, 1, 33.3, 50)
    # a learner who is not anonymous is ranked for everyone
    code, public = await bob.get("profiles/cat")
    assert public["rank"] == 3 and public["anonymous"] is False
