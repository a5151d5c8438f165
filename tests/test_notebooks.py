"""nbgrader-format notebooks: reading, validation, student version, merging answers."""

import copy
import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.grading.notebooks import (
    CODE_STUB,
    NotebookFormatError,
    TestSpec,
    merge_answers,
    read_notebook,
    student_version,
    test_specs,
    validate_source,
)


def nbg(gid, *, grade=False, solution=False, locked=False, points=None):
    meta = {
        "grade": grade,
        "solution": solution,
        "locked": locked,
        "grade_id": gid,
        "schema_version": 3,
    }
    if grade:
        meta["points"] = points if points is not None else 1
    return {"nbgrader": meta}


def solution(gid, source):
    return new_code_cell(source, metadata=nbg(gid, solution=True))


def grade_cell(gid, source, points=1):
    return new_code_cell(source, metadata=nbg(gid, grade=True, locked=True, points=points))


SQUARE_SOLUTION = "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION"
HIDDEN_TEST = (
    "assert square(2) == 4\n"
    "### BEGIN HIDDEN TESTS\n"
    "assert square(SECRET_INPUT := 7) == 49\n"
    "### END HIDDEN TESTS"
)


def source_notebook():
    return new_notebook(
        cells=[
            new_markdown_cell("Write `square`.", metadata=nbg("intro", locked=True)),
            new_code_cell("import math"),
            solution("square", SQUARE_SOLUTION),
            grade_cell("test_square", HIDDEN_TEST, points=2),
            solution(
                "cube", "### BEGIN SOLUTION\ndef cube(x):\n    return x ** 3\n### END SOLUTION"
            ),
            grade_cell("test_cube", "assert cube(2) == 8", points=1),
        ],
        metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "P"}},
    )


# -- read_notebook -----------------------------------------------------------------------


def test_read_notebook_accepts_bytes_str_and_dict():
    nb = source_notebook()
    text = nbformat.writes(nb)
    for data in (text, text.encode(), json.loads(text)):
        assert read_notebook(data).cells[2].source == SQUARE_SOLUTION


@pytest.mark.parametrize(
    "data, message",
    [
        (b"{not json", "notebook is not valid JSON"),
        ('{"nbformat": 3, "nbformat_minor": 0, "worksheets": []}', "found nbformat 3"),
        ('{"nbformat": 4, "nbformat_minor": 5, "cells": 7, "metadata": {}}', "does not validate"),
        ("[1, 2]", "not a JSON object"),
    ],
)
def test_read_notebook_errors_name_the_problem(data, message):
    with pytest.raises(NotebookFormatError, match=message):
        read_notebook(data)


# -- validate_source ---------------------------------------------------------------------


def test_valid_source_passes_and_specs_list_the_tests():
    nb = source_notebook()
    validate_source(nb)
    assert test_specs(nb) == [
        TestSpec("test_square", 2.0, True),
        TestSpec("test_cube", 1.0, False),
    ]


def broken(change):
    nb = source_notebook()
    change(nb)
    return nb


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda nb: nb.cells.__delitem__(slice(3, 6)), "no autograded test cell"),
        (
            lambda nb: nb.cells[5].metadata.nbgrader.update(grade_id="test_square"),
            "Duplicate grade id: test_square",
        ),
        (lambda nb: nb.cells[5].metadata.nbgrader.update(points=-1), "test_cube"),
        (
            lambda nb: setattr(nb.cells[3], "source", "### BEGIN HIDDEN TESTS\nassert 1"),
            "cell 'test_square': unbalanced hidden tests",
        ),
        (
            lambda nb: setattr(nb.cells[2], "source", "### BEGIN SOLUTION\nx = 1"),
            "cell 'square': unbalanced solution region",
        ),
        (
            lambda nb: setattr(nb.cells[2], "source", "### END SOLUTION\nx = 1"),
            "cell 'square': unbalanced solution region",
        ),
        (
            lambda nb: setattr(nb.cells[5], "source", "### BEGIN SOLUTION\nx\n### END SOLUTION"),
            "cell 'test_cube': solution region outside a solution cell",
        ),
        (
            lambda nb: nb.cells.append(
                new_markdown_cell("essay", metadata=nbg("essay", grade=True))
            ),
            "Markdown grade cell 'essay' is not marked as a solution cell",
        ),
        (
            lambda nb: nb.cells[4].metadata.nbgrader.pop("grade_id"),
            "does not have a grade_id",
        ),
    ],
)
def test_invalid_sources_are_rejected_with_the_cell_named(change, message):
    with pytest.raises(NotebookFormatError, match=message):
        validate_source(broken(change))


def test_task_cells_are_rejected():
    nb = source_notebook()
    meta = {"grade": False, "solution": False, "locked": True, "task": True, "points": 1}
    meta.update(grade_id="task1", schema_version=3)
    nb.cells.append(new_markdown_cell("describe", metadata={"nbgrader": meta}))
    with pytest.raises(NotebookFormatError, match="cell 'task1' is a task cell"):
        validate_source(nb)


# -- student_version ---------------------------------------------------------------------


def test_student_version_has_no_solutions_no_hidden_tests_and_checksums():
    source = source_notebook()
    source.cells[2].outputs = [nbformat.v4.new_output("stream", text="leak")]
    released = student_version(source)
    text = nbformat.writes(released)
    assert "return x * x" not in text
    assert "x ** 3" not in text
    assert "SECRET_INPUT" not in text and "HIDDEN TESTS" not in text
    assert "leak" not in text
    assert released.cells[2].source == "def square(x):\n    " + CODE_STUB.replace("\n", "\n    ")
    assert released.cells[4].source == CODE_STUB
    assert released.cells[3].source == "assert square(2) == 4"
    for cell in released.cells:
        if "nbgrader" in cell.metadata:
            assert cell.metadata.nbgrader["checksum"]
    # test cells are locked, solution cells undeletable
    assert released.cells[3].metadata["editable"] is False
    assert released.cells[2].metadata["deletable"] is False
    # the source is left alone
    assert "SECRET_INPUT" in source.cells[3].source


# -- merge_answers -----------------------------------------------------------------------


def learner_copy():
    nb = student_version(source_notebook())
    nb.cells[2].source = "def square(x):\n    return x ** 2"
    nb.cells[4].source = "def cube(x):\n    return x * x * x"
    return nb


def sources(nb):
    return [c.source for c in nb.cells]


def test_merge_takes_answers_and_keeps_source_tests():
    merged = merge_answers(source_notebook(), learner_copy())
    assert sources(merged) == [
        "Write `square`.",
        "import math",
        "def square(x):\n    return x ** 2",
        HIDDEN_TEST,
        "def cube(x):\n    return x * x * x",
        "assert cube(2) == 8",
    ]


def test_merge_restores_deleted_and_edited_tests():
    learner = learner_copy()
    learner.cells[5].source = "pass  # no more test"
    learner.cells[3].source = "assert True"  # edited the visible part too
    del learner.cells[5]
    merged = merge_answers(source_notebook(), learner)
    assert merged.cells[3].source == HIDDEN_TEST
    assert merged.cells[5].source == "assert cube(2) == 8"


def test_merge_ignores_tampered_metadata():
    learner = learner_copy()
    # the learner turns a test into a "solution" and gives it no points
    learner.cells[3].metadata.nbgrader.update(solution=True, grade=False, points=0)
    learner.cells[3].source = "square = lambda x: 'whatever'"
    # and relabels their answer as a test cell
    learner.cells[4].metadata.nbgrader.update(grade=True, points=100)
    merged = merge_answers(source_notebook(), learner)
    assert merged.cells[3].source == HIDDEN_TEST
    assert merged.cells[3].metadata.nbgrader["points"] == 2
    assert (
        merged.cells[4].metadata.nbgrader["points"]
        if "points" in merged.cells[4].metadata.nbgrader
        else True
    )
    assert merged.cells[4].metadata.nbgrader["solution"] is True
    assert merged.cells[4].metadata.nbgrader.get("grade", False) is False


def test_merge_uses_stub_for_deleted_answer():
    learner = learner_copy()
    del learner.cells[4]
    merged = merge_answers(source_notebook(), learner)
    assert merged.cells[4].source == CODE_STUB


def test_merge_keeps_helper_cells_after_an_answer_only():
    learner = learner_copy()
    learner.cells.insert(3, new_code_cell("def helper():\n    return 1"))
    learner.cells.insert(4, new_markdown_cell("my notes"))
    learner.cells.insert(5, new_code_cell("print(helper())"))
    learner.cells.insert(0, new_code_cell("print('before everything')"))  # not after an answer
    merged = merge_answers(source_notebook(), learner)
    assert sources(merged)[2:6] == [
        "def square(x):\n    return x ** 2",
        "def helper():\n    return 1",
        "print(helper())",
        HIDDEN_TEST,
    ]
    assert "print('before everything')" not in sources(merged)
    assert "nbgrader" not in merged.cells[3].metadata


def test_merge_follows_source_order_when_cells_are_moved():
    learner = learner_copy()
    cube_answer = learner.cells.pop(4)
    learner.cells.insert(0, cube_answer)  # moved to the top
    learner.cells.reverse()
    merged = merge_answers(source_notebook(), learner)
    assert sources(merged)[4] == "def cube(x):\n    return x * x * x"
    assert sources(merged)[3] == HIDDEN_TEST
    assert [c.metadata.get("nbgrader", {}).get("grade_id") for c in merged.cells] == [
        "intro",
        None,
        "square",
        "test_square",
        "cube",
        "test_cube",
    ]


def test_merge_does_not_duplicate_unchanged_plain_cells():
    source = source_notebook()
    source.cells.insert(3, new_code_cell("print(square(3))"))  # a given demo cell
    learner = student_version(source)
    for cell in learner.cells:
        cell.pop("id", None)  # an nbformat 4.4 copy: no cell ids to match on
    learner.nbformat_minor = 4
    merged = merge_answers(source, learner)
    assert sources(merged).count("print(square(3))") == 1


def test_merge_learner_copy_of_answer_cell_is_a_helper():
    learner = learner_copy()
    dup = copy.deepcopy(learner.cells[2])
    dup.source = "square_alias = square"
    dup["id"] = "dup-cell"
    learner.cells.insert(3, dup)
    merged = merge_answers(source_notebook(), learner)
    assert sources(merged)[2:4] == ["def square(x):\n    return x ** 2", "square_alias = square"]


# -- limits on big or deep notebooks -----------------------------------------------------


def nested(depth: int) -> list:
    """A list nested ``depth`` levels deep (itself being level 1)."""
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def with_deep_metadata(levels: int) -> dict:
    """The source notebook as plain JSON, nested ``levels`` deep in all (the notebook is
    level 1, its metadata level 2)."""
    nb = json.loads(nbformat.writes(source_notebook()))
    nb["metadata"]["deep"] = nested(levels - 2)
    return nb


def with_extra_cells(total: int) -> dict:
    nb = json.loads(nbformat.writes(source_notebook()))
    extra = total - len(nb["cells"])
    nb["cells"] += [
        {"cell_type": "markdown", "id": f"extra-{i}", "metadata": {}, "source": "more"}
        for i in range(extra)
    ]
    return nb


def test_notebooks_at_the_limits_are_read():
    from grader.grading.notebooks import MAX_CELLS, MAX_CODE_CELL_CHARS, MAX_JSON_DEPTH

    nb = with_extra_cells(MAX_CELLS)
    nb["metadata"]["deep"] = nested(MAX_JSON_DEPTH - 2)
    nb["cells"][-1] = nbformat.v4.new_code_cell("x" * MAX_CODE_CELL_CHARS, id="long")
    for data in (nb, json.dumps(nb), json.dumps(nb).encode()):
        read = read_notebook(data)
        assert len(read.cells) == MAX_CELLS
        assert len(read.cells[-1].source) == MAX_CODE_CELL_CHARS
    # a code cell stored as a list of lines counts all its lines
    nb["cells"][-1]["source"] = ["x" * (MAX_CODE_CELL_CHARS // 2)] * 2
    assert len(read_notebook(nb).cells[-1].source) == MAX_CODE_CELL_CHARS


def test_one_cell_too_many_is_refused_naming_the_limit():
    from grader.grading.notebooks import MAX_CELLS

    for data in (with_extra_cells(MAX_CELLS + 1), json.dumps(with_extra_cells(100_000))):
        with pytest.raises(NotebookFormatError, match=f"at most {MAX_CELLS:,} cells"):
            read_notebook(data)


def test_a_code_cell_too_long_is_refused_naming_the_limit():
    from grader.grading.notebooks import MAX_CODE_CELL_CHARS

    nb = json.loads(nbformat.writes(source_notebook()))
    nb["cells"][2]["source"] = ["x = 1\n"] + ["y" * MAX_CODE_CELL_CHARS]
    with pytest.raises(NotebookFormatError, match=f"cell 3 .* {MAX_CODE_CELL_CHARS:,} char"):
        read_notebook(nb)
    # markdown is never run: only the request's byte size caps it
    nb = json.loads(nbformat.writes(source_notebook()))
    nb["cells"][0]["source"] = "![](data:image/png;base64," + "A" * MAX_CODE_CELL_CHARS + ")"
    read_notebook(nb)


@pytest.mark.parametrize("levels", [65, 500, 100_000])
def test_deep_json_is_refused_naming_the_limit_never_a_recursion_error(levels):
    """Nested past the limit, as parsed JSON (within the interpreter's recursion limit)
    or as text of any depth: a NotebookFormatError, not a RecursionError (a 500)."""
    text = (
        '{"nbformat": 4, "nbformat_minor": 5, "cells": [], "metadata": {"deep": '
        + "[" * (levels - 2)
        + "]" * (levels - 2)
        + "}}"
    )
    data = [text, text.encode()]
    if levels < 900:
        data.append(json.loads(text))
    for item in data:
        with pytest.raises(NotebookFormatError, match="more than 64 levels deep"):
            read_notebook(item)


def test_deep_json_anywhere_is_refused():
    """In a cell's metadata, in an output, in a list of source lines."""
    from grader.grading.notebooks import json_shape_problem

    for where in ("metadata", "outputs"):
        nb = json.loads(nbformat.writes(source_notebook()))
        nb["cells"][2][where] = {"x": nested(70)} if where == "metadata" else [nested(70)]
        with pytest.raises(NotebookFormatError, match="64 levels"):
            read_notebook(nb)
    assert json_shape_problem(nested(64)) is None
    assert "64 levels" in json_shape_problem(nested(65))
    assert "64 levels" in json_shape_problem({"a": [{"b": nested(62)}]})  # 1 + 1 + 1 + 62
    assert json_shape_problem("a string") is None


def test_too_many_arrays_and_objects_are_refused_naming_the_limit():
    """16 MiB of `[]` is 5.6 million lists: refused before anything copies them."""
    from grader.grading.notebooks import MAX_JSON_CONTAINERS, json_shape_problem

    nb = json.loads(nbformat.writes(source_notebook()))
    used = 1 + sum(1 for _ in _containers(nb))  # the notebook's own arrays and objects
    nb["metadata"]["rows"] = [[] for _ in range(MAX_JSON_CONTAINERS - used - 1)]
    assert json_shape_problem(nb) is None
    read_notebook(nb)
    nb["metadata"]["rows"].append({})
    message = f"more than {MAX_JSON_CONTAINERS:,} JSON arrays and objects"
    for data in (nb, json.dumps(nb)):
        with pytest.raises(NotebookFormatError, match=message):
            read_notebook(data)


def _containers(value):
    for child in value.values() if isinstance(value, dict) else value:
        if isinstance(child, dict | list):
            yield child
            yield from _containers(child)


def test_decoding_leaves_the_garbage_collector_as_it_found_it():
    import gc

    from grader.grading.notebooks import JSONLimitError, decode_json

    assert gc.isenabled()
    assert decode_json('{"a": [1, {"b": null}]}') == {"a": [1, {"b": None}]}
    for text in ("[" * 100_000, "[" + "[]," * 600_000 + "[]]", "{nope"):
        with pytest.raises(ValueError) as error:
            decode_json(text)
        assert isinstance(error.value, JSONLimitError) == (text != "{nope")
    assert gc.isenabled()
    gc.disable()
    try:
        decode_json("[]")
        assert not gc.isenabled()
    finally:
        gc.enable()
