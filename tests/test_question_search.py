"""Descriptions and search: a question's task as plain text (its first markdown cell,
never a solution), and `GET questions?q=` over title, description, category and tags."""

from __future__ import annotations

import pytest

from grader.grading.notebooks import description_of
from tests.conftest import AUTHOR, LEARN, nbgrader_cell, python_notebook, square_question


def question_with_task(task: str):
    nb = square_question()
    nb.cells[0].source = task
    return nb


QUESTIONS = [
    # slug, title, category, tags, task
    ("fact", "Factorial", "functions", ["maths"],
     "# Factorial\n\nCompute `n!` using **recursion**: call the function from itself."),
    ("loops", "Sum a list", "loops", ["lists", "café"], "Add up the numbers of a list."),
    ("percent", "Percentages of x_1", "arithmetic", ["numbers"], "Give 100% of x_1 as a [ratio](http://r.example)."),
    ("hanoi", "Towers of Hanoi", "Recursion", [], "Move the discs from one peg to another."),
]  # fmt: skip


@pytest.fixture
async def catalogue(grader):
    author = grader.client_for("teacher", (LEARN, AUTHOR))
    code, _ = await author.post("modules", {"slug": "basics", "title": "Basics"})
    assert code == 201
    ids = {}
    for slug, title, category, tags, task in QUESTIONS:
        code, question = await author.post(
            "questions",
            {"module": "basics", "slug": slug, "title": title, "category": category,
             "tags": tags, "notebook": question_with_task(task)},
        )  # fmt: skip
        assert code == 201, question
        ids[slug] = question["id"]
    code, draft = await author.post(
        "questions",
        {"module": "basics", "slug": "draft", "title": "Recursion (draft)", "release": None,
         "notebook": question_with_task("More recursion.")},
    )  # fmt: skip
    assert code == 201
    ids["draft"] = draft["id"]
    return author, ids


async def found(client, q: str) -> list[str]:
    from urllib.parse import quote

    code, data = await client.get(f"questions?q={quote(q)}")
    assert code == 200, data
    return [question["slug"] for question in data["questions"]]


async def test_search_reads_title_description_category_and_tags(grader, catalogue):
    author, ids = catalogue
    ann = grader.client_for("ann")
    assert await found(ann, "recursion") == ["fact", "hanoi"]  # description, category
    assert await found(author, "RECURSION") == ["fact", "hanoi", "draft"]  # drafts: theirs
    assert await found(ann, "towers") == ["hanoi"]  # title
    assert await found(ann, "lists") == ["loops"]  # a tag
    assert await found(ann, "café") == ["loops"]  # a tag with a letter JSON escapes
    assert await found(ann, "recursion itself") == ["fact"]  # every word must match
    assert await found(ann, "recursion lists") == []
    assert await found(ann, "100%") == ["percent"]  # LIKE's wildcards are literal
    assert await found(ann, "%") == ["percent"]
    assert await found(ann, "x_1") == ["percent"]
    assert await found(ann, "_") == ["percent"]
    assert await found(ann, "example") == []  # a link's target is not its words
    assert await found(ann, "' OR 1=1 --") == []  # bound, never SQL
    assert await found(ann, '"]') == []
    assert await found(ann, "   ") == [q[0] for q in QUESTIONS]  # no words: everything
    code, data = await ann.get("questions?q=recursion&module=basics&category=functions")
    assert [q["slug"] for q in data["questions"]] == ["fact"]


async def test_summaries_carry_the_description_and_a_count_of_hints(grader, catalogue):
    _, ids = catalogue
    code, data = await grader.client_for("ann").get(f"questions/{ids['fact']}")
    assert data["description"] == (
        "Factorial Compute n! using recursion : call the function from itself."
    )
    assert data["hints"] == 0


async def test_search_bad_input(grader, catalogue):
    ann = grader.client_for("ann")
    code, data = await ann.get("questions?q=" + "a" * 201)
    assert code == 400 and "q is longer than 200" in data["message"]
    code, data = await ann.get("questions?q=" + "+".join("w" * 11))
    assert code == 400 and "more than 10 words" in data["message"]


def test_a_description_is_never_a_solution():
    """A manually graded markdown answer holds the instructor's answer in the source."""
    nb = python_notebook(
        [
            nbgrader_cell("solution", "THE MODEL ANSWER", "essay", cell_type="markdown"),
            nbgrader_cell("locked", "Explain *recursion* in <b>one</b> line.", "task",
                          cell_type="markdown"),
        ]
    )  # fmt: skip
    assert description_of(nb) == "Explain recursion in one line."
    assert description_of(python_notebook()) == ""


async def test_the_course_loader_sets_descriptions_and_hints(grader, tmp_path):
    import json

    import nbformat

    from grader import orm
    from grader.instructors.content import CourseError, load_course

    nb = question_with_task("Reverse a string with *recursion*.")
    nb.metadata["coursehub"] = {"title": "Reverse", "hints": ["s[::-1] is not allowed", "s[1:]"]}
    (tmp_path / "basics").mkdir()
    (tmp_path / "basics" / "rev.ipynb").write_text(nbformat.writes(nb))
    manifest = {
        "slug": "loaded",
        "modules": [{"slug": "basics", "title": "B", "questions": ["rev"]}],
    }
    (tmp_path / "course.json").write_text(json.dumps(manifest))
    with grader.writer_factory() as db:
        load_course(db, tmp_path)
        (question,) = orm.Course.find_by_slug(db, "loaded").modules[0].questions
        assert question.description == "Reverse a string with recursion ."
        assert question.hints == ["s[::-1] is not allowed", "s[1:]"]
        assert "s[1:]" not in json.dumps(question.student_notebook)

        nb.metadata["coursehub"]["hints"] = "just one"
        (tmp_path / "basics" / "rev.ipynb").write_text(nbformat.writes(nb))
        with pytest.raises(CourseError, match="coursehub.hints must be a list"):
            load_course(db, tmp_path)
