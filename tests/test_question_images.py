"""Pictures in questions: markdown attachments and data-URI images of a source reach the
learner intact; an instructor adds one (`POST questions/{id}/images`), checked and
re-encoded like an avatar, as a new version of the question."""

from __future__ import annotations

import base64
import copy
import io
import json

import nbformat
import pytest
from PIL import Image

from grader.grading.notebooks import student_version
from tests.conftest import AUTHOR, LEARN, square_question
from tests.test_avatars import jpeg_bomb, jpeg_with_exif, png_with_metadata
from tests.test_service import CORRECT, answer, student_notebook, submit

DOT_PNG = base64.b64encode(
    (lambda out: (Image.new("RGB", (3, 2), "green").save(out, "PNG"), out.getvalue())[1])(
        io.BytesIO()
    )
).decode()
DATA_URI = f"![inline](data:image/png;base64,{DOT_PNG})"


def illustrated_question():
    """The square question with a picture attached to its task and one inline."""
    nb = square_question()
    task = nb.cells[0]
    task.source = f"Write `square(x)`.\n\n![diagram](attachment:diagram.png)\n\n{DATA_URI}"
    task.attachments = {"diagram.png": {"image/png": DOT_PNG}}
    nb.cells.insert(1, nbformat.v4.new_markdown_cell("Some notes, no picture."))
    nb.cells.insert(2, nbformat.v4.new_code_cell("import math"))
    return nb


def test_attachments_and_inline_images_survive_the_student_version():
    nb = illustrated_question()
    released = student_version(nb)
    assert released.cells[0].attachments == {"diagram.png": {"image/png": DOT_PNG}}
    assert DATA_URI in released.cells[0].source


@pytest.fixture
async def illustrated(grader):
    author = grader.client_for("teacher", (LEARN, AUTHOR))
    code, _ = await author.post("modules", {"slug": "basics", "title": "Basics"})
    assert code == 201
    code, question = await author.post(
        "questions",
        {"module": "basics", "slug": "square", "title": "Square",
         "notebook": illustrated_question()},
    )  # fmt: skip
    assert code == 201, question
    return author, question


async def test_the_learner_gets_the_pictures_intact(grader, illustrated):
    _, question = illustrated
    code, model = await grader.client_for("ann").get(f"questions/{question['id']}")
    task = model["notebook"]["cells"][0]
    assert task["attachments"] == {"diagram.png": {"image/png": DOT_PNG}}
    assert DATA_URI in "".join(task["source"])
    # the description is the task's words, not its pictures
    assert model["description"] == "Write square(x) ."


def upload(name="plot.png", data: bytes | None = None, **more) -> dict:
    data = jpeg_with_exif((2000, 1500), orientation=6) if data is None else data
    return {"name": name, "data": base64.b64encode(data).decode(), **more}


def attached_png(cell: dict, name: str) -> Image.Image:
    png = base64.b64decode(cell["attachments"][name]["image/png"])
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.info == {} and not image.getexif()
    assert b"SecretCamera" not in png
    return image


async def test_an_instructor_adds_a_picture(grader, illustrated):
    author, question = illustrated
    qid = question["id"]
    ann = grader.client_for("ann")
    graded = await submit(ann, qid, answer(await student_notebook(ann, qid), CORRECT))
    assert graded["score"] == 3

    code, summary = await author.post(f"questions/{qid}/images", upload())
    assert code == 200, summary
    assert summary["version"] == question["version"] + 1 and "regrade" not in summary
    code, model = await ann.get(f"questions/{qid}")
    task = model["notebook"]["cells"][0]
    assert attached_png(task, "plot.png").size == (768, 1024)  # upright, at most 1024
    assert task["attachments"]["diagram.png"] == {"image/png": DOT_PNG}  # kept
    assert "".join(task["source"]).endswith("\n\n![plot.png](attachment:plot.png)")
    assert model["description"] == question["description"]

    # into another markdown cell, by index; a name already shown there is not shown twice
    code, summary = await author.post(f"questions/{qid}/images", upload("notes.png", cell=1))
    assert code == 200, summary
    code, summary = await author.post(
        f"questions/{qid}/images", upload("notes.png", png_with_metadata(), cell=1)
    )
    assert code == 200 and summary["version"] == question["version"] + 3
    code, model = await ann.get(f"questions/{qid}")
    notes = model["notebook"]["cells"][1]
    assert "".join(notes["source"]).count("attachment:notes.png") == 1
    assert attached_png(notes, "notes.png").size == (640, 480)

    # no regrade: the earlier submission keeps its version and its score
    code, again = await ann.get(f"submissions/{graded['id']}")
    assert (again["status"], again["score"]) == ("graded", 3)
    code, progress = await author.get(f"questions/{qid}/regrade")
    assert (progress["queued"], progress["running"], progress["outdated"]) == (0, 0, 1)


@pytest.mark.parametrize(
    "body, status, message",
    [
        (upload(cell=3), 400, "cell 3 is a code cell, not markdown"),
        (upload(cell=99), 400, "cell must be the index of a cell"),
        (upload(cell="0"), 400, "cell must be the index of a cell"),
        (upload(cell=True), 400, "cell must be the index of a cell"),
        (upload("../../etc/x.png"), 400, "name must be a file name"),
        (upload("x)](javascript:alert(1)"), 400, "name must be a file name"),
        (upload("a b.png"), 400, "name must be a file name"),
        (upload(None), 400, "name must be a file name"),
        ({"name": "x.png"}, 400, "data is required"),
        ({"name": "x.png", "data": "%%%"}, 400, "data is not valid base64"),
        (upload(data=b"print('hi')"), 400, "image is not an image"),
        (upload(data=b"GIF89a" + b"\0" * 50), 415, "image is a GIF image"),
        (upload(data=jpeg_bomb()), 400, "claims more pixels than accepted"),
        (upload(data=b"\xff\xd8" + b"\0" * (4 * 2**20)), 413, "at most 4 MiB"),
    ],
)
async def test_bad_uploads_are_named_and_change_nothing(grader, illustrated, body, status, message):
    author, question = illustrated
    code, data = await author.post(f"questions/{question['id']}/images", body)
    assert (code, data["status"]) == (status, status) and message in data["message"], data
    code, source = await author.get(f"questions/{question['id']}/source")
    assert source["version"] == question["version"]


async def test_only_the_courses_instructors_add_pictures(grader, illustrated):
    _, question = illustrated
    qid = question["id"]
    code, data = await grader.client_for("ann").post(f"questions/{qid}/images", upload())
    assert code == 403 and "only instructors" in data["message"]
    code, data = await grader.client_for("ann").post("questions/999/images", upload())
    assert code == 404
    code, model = await grader.client_for("ann").get(f"questions/{qid}")
    assert model["version"] == question["version"]


async def test_a_notebook_without_markdown_has_nowhere_for_a_picture(grader, illustrated):
    author, _ = illustrated
    nb = copy.deepcopy(square_question())
    nb.cells = [c for c in nb.cells if c.cell_type != "markdown"]
    code, question = await author.post(
        "questions", {"module": "basics", "slug": "bare", "title": "Bare", "notebook": nb}
    )
    assert code == 201, question
    code, data = await author.post(f"questions/{question['id']}/images", upload())
    assert code == 400 and "no markdown cell" in data["message"]
    assert json.dumps(data).count("SecretCamera") == 0
