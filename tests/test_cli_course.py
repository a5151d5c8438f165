"""`coursehub-grader course import|validate|release|export`, run as an instructor runs
it (a subprocess, `python -m grader course ...`) against the real grading service
in-process (tests/conftest.py's `grader`), with tokens the fake Hub maps to users."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from grader.course_cli.api import api_url_from, token_from
from grader.course_cli.exporting import file_name
from tests.conftest import AUTHOR, LEARN, free_port

REPO = Path(__file__).resolve().parent.parent
FOUNDATIONS = REPO / "course_content" / "python-foundations"
# the sample course's size, from its manifest (it grows; these tests follow)
_FOUNDATIONS_MODULES = json.loads((FOUNDATIONS / "course.json").read_text())["modules"]
MODULE_COUNT = len(_FOUNDATIONS_MODULES)
QUESTION_COUNT = sum(len(m["questions"]) for m in _FOUNDATIONS_MODULES)
NBGRADER_COURSE = REPO / "tests" / "nbgrader_course"

# the command is a client of the API: which database the service uses is not its subject
SQLITE = pytest.mark.parametrize("grader", ["sqlite"], indirect=True)


@dataclass
class Run:
    code: int
    out: str
    err: str


async def course_cli(*args, url: str | None = None, token: str | None = None) -> Run:
    """`python -m grader course <args>` with $COURSEHUB_URL/$COURSEHUB_TOKEN set, run
    while this test's event loop keeps serving the grader."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COURSEHUB_", "JUPYTERHUB_"))}
    env.update(PYTHONPATH=str(REPO), COLUMNS="250")
    if url:
        env["COURSEHUB_URL"] = url
    if token:
        env["COURSEHUB_TOKEN"] = token
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "grader",
        "course",
        *map(str, args),
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=600)
    run = Run(process.returncode, out.decode(), err.decode())
    print(run.out, run.err, sep="\n")  # shown when a test fails
    return run


def instructor(grader, name="prof"):
    """A global instructor (the Hub's `instructor` role): may create courses."""
    return grader.client_for(name, (LEARN, AUTHOR))


def small_course(tmp_path: Path, slug: str, questions=("hello-variables", "leap-year")) -> Path:
    """A course folder of a few python-foundations questions, in one module."""
    folder = tmp_path / slug
    (folder / "basics").mkdir(parents=True)
    for question in questions:
        shutil.copy(FOUNDATIONS / "basics" / f"{question}.ipynb", folder / "basics")
    manifest = {
        "slug": slug,
        "title": slug.title(),
        "join": "open",
        "modules": [{"slug": "basics", "title": "Basics", "questions": list(questions)}],
    }
    (folder / "course.json").write_text(json.dumps(manifest))
    return folder


async def course_questions(client, course: str) -> dict[str, dict]:
    code, data = await client.get(f"questions?course={course}")
    assert code == 200, data
    return {f"{q['module_slug']}/{q['slug']}": q for q in data["questions"]}


async def join(grader, name: str, course: str):
    learner = grader.client_for(name)
    code, data = await learner.post(f"courses/{course}/enrol", {})
    assert code == 200, data
    return learner


# import ----------------------------------------------------------------------------


@SQLITE
async def test_import_creates_the_sample_course_and_importing_again_changes_nothing(
    grader, tmp_path
):
    prof = instructor(grader)
    folder = tmp_path / "python-foundations"
    shutil.copytree(FOUNDATIONS, folder)

    run = await course_cli("import", folder, url=grader.base_url, token=prof.token)
    assert run.code == 0
    assert "course python-foundations: created" in run.out
    assert f"modules: {MODULE_COUNT} created" in run.out
    assert f"questions: {QUESTION_COUNT} created" in run.out
    assert "paths: 3 created; quizzes: 2 created" in run.out  # paths.json, quizzes.json

    code, course = await prof.get("courses/python-foundations")
    assert code == 200, course
    assert (course["title"], course["join"], course["modules"]) == (
        "Python foundations",
        "open",
        MODULE_COUNT,
    )
    questions = await course_questions(prof, "python-foundations")
    manifest = json.loads((folder / "course.json").read_text())
    assert list(questions) == [
        f"{m['slug']}/{q}" for m in manifest["modules"] for q in m["questions"]
    ]
    assert {(q["status"], q["version"]) for q in questions.values()} == {("released", 1)}
    assert questions["algorithms/binary-search"]["title"] == "Binary search"
    # the course's own achievements came along
    assert [a["key"] for a in course["achievements"]] == [
        a["key"] for a in json.loads((folder / "course.json").read_text())["achievements"]
    ]

    again = await course_cli("import", folder, url=grader.base_url, token=prof.token)
    assert again.code == 0
    assert "course python-foundations: unchanged" in again.out
    assert f"modules: {MODULE_COUNT} unchanged" in again.out
    assert f"questions: {QUESTION_COUNT} unchanged" in again.out
    assert "paths: 3 unchanged; quizzes: 2 unchanged" in again.out
    assert await course_questions(prof, "python-foundations") == questions

    # an edited notebook is a new version of its question, the rest stay as they were
    path = folder / "basics" / "leap-year.ipynb"
    nb = json.loads(path.read_text())
    nb["cells"][0]["source"] = "".join(nb["cells"][0]["source"]) + "\n\nMind the centuries."
    path.write_text(json.dumps(nb))
    edited = await course_cli("import", folder, url=grader.base_url, token=prof.token)
    assert edited.code == 0
    assert f"questions: 1 updated, {QUESTION_COUNT - 1} unchanged" in edited.out
    after = await course_questions(prof, "python-foundations")
    assert after["basics/leap-year"]["version"] == 2
    assert after["basics/fizzbuzz"]["version"] == 1


@SQLITE
async def test_a_bad_notebook_fails_alone_and_the_exit_code_says_so(grader, tmp_path):
    prof = instructor(grader)
    folder = small_course(tmp_path, "mini")
    manifest = json.loads((folder / "course.json").read_text())
    manifest["modules"][0]["questions"] += ["not-nbgrader", "missing"]
    (folder / "course.json").write_text(json.dumps(manifest))
    plain = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    (folder / "basics" / "not-nbgrader.ipynb").write_text(nbformat.writes(plain))

    run = await course_cli("import", folder, url=grader.base_url, token=prof.token)
    assert run.code == 1
    assert "questions: 2 created, 2 failed" in run.out
    assert "missing.ipynb" in run.out  # the file that is not there, named
    questions = await course_questions(prof, "mini")
    assert sorted(questions) == ["basics/hello-variables", "basics/leap-year"]


@SQLITE
async def test_a_path_naming_a_missing_question_fails_alone(grader, tmp_path):
    prof = instructor(grader)
    folder = small_course(tmp_path, "mini")
    good = {"slug": "good", "title": "Good", "questions": ["basics/leap-year"]}
    bad = {"slug": "bad", "title": "Bad", "questions": ["basics/hello-variables", "basics/nope"]}
    (folder / "paths.json").write_text(json.dumps([good, bad]))
    run = await course_cli("import", folder, url=grader.base_url, token=prof.token)
    assert run.code == 1
    assert "paths: 1 created, 1 failed" in run.out
    assert "basics/nope" in run.err
    code, listed = await prof.get("paths?course=mini")
    assert [p["slug"] for p in listed["paths"]] == ["good"]


@SQLITE
async def test_an_nbgrader_course_directory_is_imported(grader):
    prof = instructor(grader)
    run = await course_cli("import", NBGRADER_COURSE, url=grader.base_url, token=prof.token)
    assert run.code == 0
    assert "words.txt" in run.err  # a data file nbgrader would copy: said, not dropped
    assert "modules: 3 created" in run.out
    questions = await course_questions(prof, "intro-programming")
    assert sorted(questions) == [
        "ps1-functions/area",
        "ps1-functions/greeting",
        "ps2-collections/dedupe",
        "ps2-collections/word_count",
        "ps3-recursion/factorial",
    ]
    again = await course_cli("import", NBGRADER_COURSE, url=grader.base_url, token=prof.token)
    assert again.code == 0
    assert "questions: 5 unchanged" in again.out


@SQLITE
async def test_creating_a_course_takes_a_global_instructor_a_course_instructor_imports_into_theirs(
    grader, tmp_path
):
    folder = small_course(tmp_path, "mini")
    demo_teacher = grader.client_for(
        "dee", (f"{LEARN}!group=course-demo", f"{AUTHOR}!group=course-demo")
    )
    refused = await course_cli("import", folder, url=grader.base_url, token=demo_teacher.token)
    assert refused.code == 2
    assert "only instructors of every course may create courses" in refused.err

    run = await course_cli(
        "import", folder, "--course", "demo", url=grader.base_url, token=demo_teacher.token
    )
    assert run.code == 0, run.err
    assert "course demo: updated" in run.out  # the folder's title and joining
    assert sorted(await course_questions(demo_teacher, "demo")) == [
        "basics/hello-variables",
        "basics/leap-year",
    ]


# validate ----------------------------------------------------------------------------


@SQLITE
async def test_validate_passes_a_good_folder_and_fails_a_broken_one(grader, tmp_path):
    prof = instructor(grader)
    good = small_course(tmp_path / "good", "mini")
    run = await course_cli("validate", good, url=grader.base_url, token=prof.token)
    assert run.code == 0, run.out + run.err
    assert "2 of 2 notebooks pass" in run.out
    # the reference solution's score and the learner's version's
    row = next(line for line in run.out.splitlines() if "basics/hello-variables" in line)
    assert row.split()[5:8:2] == ["4/4", "0/4"]

    broken = small_course(tmp_path / "broken", "mini")
    # the reference solution made wrong: it no longer earns full marks
    # the first of the question's wrong answers (a list of {grade_id: source})
    wrong = json.loads((FOUNDATIONS / "checks" / "wrong_answers.json").read_text())
    leap_year_wrong = wrong["basics/leap-year"][0]
    path = broken / "basics" / "leap-year.ipynb"
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in leap_year_wrong:
            body = leap_year_wrong[grade_id].split("\n", 1)[1]
            cell["source"] = (
                "def is_leap_year(year):\n    ### BEGIN SOLUTION\n"
                + body
                + "\n    ### END SOLUTION"
            )
    path.write_text(json.dumps(nb))
    plain = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    (broken / "basics" / "not-nbgrader.ipynb").write_text(nbformat.writes(plain))
    manifest = json.loads((broken / "course.json").read_text())
    manifest["modules"][0]["questions"].append("not-nbgrader")
    (broken / "course.json").write_text(json.dumps(manifest))

    run = await course_cli("validate", broken, url=grader.base_url, token=prof.token)
    assert run.code == 1
    assert "1 of 3 notebooks pass" in run.out
    rows = {line.split()[1]: line for line in run.out.splitlines() if "basics/" in line}
    assert "ok" in rows["basics/hello-variables"]
    assert "failed" in rows["basics/leap-year"]
    assert "failed" in rows["basics/not-nbgrader"]
    # nothing was saved
    code, data = await prof.get("courses/mini")
    assert code == 404, data


# release ----------------------------------------------------------------------------


@SQLITE
async def test_drafts_are_hidden_until_released(grader, tmp_path):
    prof = instructor(grader)
    folder = small_course(tmp_path, "mini", ("hello-variables", "leap-year", "fizzbuzz"))
    run = await course_cli("import", folder, "--draft", url=grader.base_url, token=prof.token)
    assert run.code == 0
    statuses = {q["slug"]: q["status"] for q in (await course_questions(prof, "mini")).values()}
    assert statuses == dict.fromkeys(("hello-variables", "leap-year", "fizzbuzz"), "draft")
    ann = await join(grader, "ann", "mini")
    assert await course_questions(ann, "mini") == {}

    one = await course_cli(
        "release", "mini", "--question", "basics/leap-year", url=grader.base_url, token=prof.token
    )
    assert one.code == 0
    assert list(await course_questions(ann, "mini")) == ["basics/leap-year"]

    later = await course_cli(
        "release",
        "--course",
        "mini",
        "--question",
        "fizzbuzz",
        "--at",
        "2099-01-01T09:00+00:00",
        url=grader.base_url,
        token=prof.token,
    )
    assert later.code == 0
    assert "scheduled" in later.out
    questions = await course_questions(prof, "mini")
    assert questions["basics/fizzbuzz"]["status"] == "scheduled"
    assert questions["basics/fizzbuzz"]["released"].startswith("2099-01-01T09:00")

    rest = await course_cli(
        "release", "mini", "--module", "basics", url=grader.base_url, token=prof.token
    )
    assert rest.code == 0
    assert "mini: 1 released" in rest.out  # the last draft; the scheduled one keeps its date
    assert sorted(await course_questions(ann, "mini")) == [
        "basics/hello-variables",
        "basics/leap-year",
    ]

    nothing = await course_cli("release", "mini", url=grader.base_url, token=prof.token)
    assert nothing.code == 0
    assert "nothing to release" in nothing.out

    bad_date = await course_cli(
        "release", "mini", "--at", "next tuesday", url=grader.base_url, token=prof.token
    )
    assert bad_date.code == 2
    assert "ISO 8601" in bad_date.err

    # a re-import with --draft leaves released questions released
    again = await course_cli("import", folder, "--draft", url=grader.base_url, token=prof.token)
    assert again.code == 0
    assert (await course_questions(prof, "mini"))["basics/leap-year"]["status"] == "released"


# export ----------------------------------------------------------------------------


async def graded_course(grader, tmp_path):
    """A small course imported, and ann's graded full-marks answer to one question."""
    prof = instructor(grader)
    folder = small_course(tmp_path, "mini")
    run = await course_cli("import", folder, url=grader.base_url, token=prof.token)
    assert run.code == 0
    ann = await join(grader, "ann", "mini")
    question = (await course_questions(ann, "mini"))["basics/hello-variables"]
    # the source notebook as an answer: the reference solution, full marks
    source = json.loads((folder / "basics" / "hello-variables.ipynb").read_text())
    code, submission = await ann.post(
        "submissions", {"question": question["id"], "notebook": source}
    )
    assert code == 202, submission
    graded = await ann.wait_graded(submission["id"])
    assert graded["status"] == "graded" and graded["score"] == graded["max_score"], graded
    return prof, graded


@SQLITE
async def test_export_writes_the_gradebook_csv(grader, tmp_path):
    prof, graded = await graded_course(grader, tmp_path)
    target = tmp_path / "out" / "gradebook.csv"
    run = await course_cli(
        "export", "mini", "--gradebook", target, url=grader.base_url, token=prof.token
    )
    assert run.code == 0
    assert "gradebook: " in run.out and "learners: 1" in run.out
    rows = list(csv.DictReader(target.open()))
    assert list(rows[0])[:3] == ["user", "basics/hello-variables", "basics/leap-year"]
    ann = next(row for row in rows if row["user"] == "ann")
    assert float(ann["basics/hello-variables"]) == graded["max_score"]
    assert ann["basics/leap-year"] == ""
    assert float(ann["total"]) == graded["max_score"]
    assert not list(target.parent.glob("*.part"))


@SQLITE
async def test_export_writes_each_learners_latest_graded_notebook(grader, tmp_path):
    prof, graded = await graded_course(grader, tmp_path)
    target = tmp_path / "submissions"
    run = await course_cli(
        "export", "mini", "--submissions", target, url=grader.base_url, token=prof.token
    )
    assert run.code == 0, run.out + run.err
    files = sorted(p.relative_to(target).as_posix() for p in target.rglob("*.ipynb"))
    assert files == ["basics/hello-variables/ann.ipynb"]
    nb = nbformat.read(target / files[0], as_version=4)
    assert any("greet" in cell.source for cell in nb.cells)
    assert "notebooks: 1 exported" in run.out


# connection problems ----------------------------------------------------------------


@SQLITE
async def test_a_bad_token_or_a_wrong_url_is_a_clear_error_and_exit_2(grader, fake_hub, tmp_path):
    folder = small_course(tmp_path, "mini")
    bad = await course_cli("import", folder, "--token", "not-a-token", url=grader.base_url)
    assert bad.code == 2
    assert "authentication required" in bad.err
    assert "did not accept the token" in bad.err
    assert "not-a-token" not in bad.out + bad.err

    nobody = await course_cli(
        "export", "mini", "--gradebook", tmp_path / "g.csv",
        url=f"http://127.0.0.1:{free_port()}/", token="t",
    )  # fmt: skip
    assert nobody.code == 2
    assert "cannot connect" in nobody.err

    # something answers, but not the grader's API (the Hub's own API here)
    elsewhere = await course_cli(
        "release", "mini", url=f"http://127.0.0.1:{fake_hub.port}/elsewhere/", token="t"
    )
    assert elsewhere.code == 2
    assert "not from the grader's API" in elsewhere.err

    no_token = await course_cli("release", "mini", url=grader.base_url)
    assert no_token.code == 2
    assert "/hub/token" in no_token.err


# where the URL and token come from ---------------------------------------------------


def test_the_url_is_completed_and_found_in_a_hub_server():
    api = "https://hub.example/services/grader/api/v1/"
    for given in ("https://hub.example", "https://hub.example/services/grader/", api[:-1], api):
        assert api_url_from(given, {}) == api
    assert api_url_from(None, {"COURSEHUB_URL": "https://hub.example"}) == api
    # in a Hub server: the grader's address the Hub gave it, or the Hub's
    assert (
        api_url_from(None, {"COURSEHUB_GRADER_URL": "http://10.0.0.1:8000/services/grader/"})
        == "http://10.0.0.1:8000/services/grader/api/v1/"
    )
    assert (
        api_url_from(None, {"JUPYTERHUB_API_URL": "http://127.0.0.1:8081/hub/api"})
        == "http://127.0.0.1:8081/services/grader/api/v1/"
    )
    assert api_url_from(None, {}) is None
    assert token_from(None, {"JUPYTERHUB_API_TOKEN": "server"}) == "server"
    assert token_from(None, {"COURSEHUB_TOKEN": "mine", "JUPYTERHUB_API_TOKEN": "s"}) == "mine"
    assert token_from("flag", {"COURSEHUB_TOKEN": "mine"}) == "flag"


def test_user_names_are_file_names():
    assert file_name("ann") == "ann"
    assert file_name("ann.lee@example.org") == "ann.lee@example.org"
    assert file_name("../etc") == "%2E.%2Fetc"
    assert "/" not in file_name("a/b")


# the other commands ------------------------------------------------------------------


def test_the_database_commands_still_work(tmp_path):
    import subprocess

    db_url = f"sqlite:///{tmp_path / 'grader.sqlite'}"
    env = {**os.environ, "PYTHONPATH": str(REPO), "COURSEHUB_STATE_DIR": str(tmp_path)}
    for command in (
        ["upgrade-db", "--db-url", db_url],
        ["load-course", str(FOUNDATIONS), "--db-url", db_url],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "grader", *command],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["questions_created"] == QUESTION_COUNT
