"""Question types beyond code: multiple choice, fill in the blank, flashcards.

Choice and fill_in questions are nbgrader notebooks whose hidden tests are generated
from the answer cell's metadata and key: checked here as an attacker would try them (the
key read from the learner's notebook, metadata tampered with, extra test cells, an
``answer`` that claims to equal everything), graded for real in a bubblewrap sandbox
and through the service's API. Flashcards are rated, never submitted.
"""

from __future__ import annotations

import copy
import json
import shutil

import nbformat
import pytest

from grader.grading import choices
from grader.grading.flashcards import NOT_SUBMITTED
from grader.grading.notebooks import NotebookFormatError, read_notebook
from grader.grading.questiontypes import question_type
from grader.grading.variants import variant_seed
from tests.conftest import AUTHOR, LEARN, nbgrader_cell, python_notebook

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed"
)

# strings only the key holds: never in anything a learner reads
CHOICE_KEY = "opt-keyvalue"
CAPITAL = "Parisianum"
PATTERN = r"[A-Z]{3}-\d{4}"
NUMBER = 2.71828


def choice_source(multiple: bool = False, key=None, declared: bool = True):
    """Which of these are mutable? One answer (single) or two (multiple)."""
    nb = python_notebook(
        [
            nbgrader_cell("locked", "Which of these are mutable?", "task", cell_type="markdown"),
            nbgrader_cell(
                "solution",
                "### BEGIN SOLUTION\nanswer = "
                + json.dumps(
                    key if key is not None else ([CHOICE_KEY, "opt-d"] if multiple else CHOICE_KEY)
                )
                + "\n### END SOLUTION",
                "pick",
            ),
        ]
    )
    nb.cells[1].metadata["coursehub"] = {
        "choices": [
            {"id": "opt-a", "text": "`tuple`"},
            {"id": CHOICE_KEY, "text": "`list`"},
            {"id": "opt-c", "text": "`str`"},
            {"id": "opt-d", "text": "`dict`"},
            {"id": "opt-e", "text": "`frozenset`"},
        ],
        "multiple": multiple,
        "points": 2,
    }
    if declared:
        nb.metadata["coursehub"] = {"type": "choice", "title": "Mutable types"}
    return nb


def fill_in_source():
    nb = python_notebook(
        [
            nbgrader_cell("locked", "Fill in the blanks.", "task", cell_type="markdown"),
            nbgrader_cell(
                "solution",
                "### BEGIN SOLUTION\nanswer = "
                + json.dumps(
                    {"capital": CAPITAL, "river": "SEINE", "e": "2.718", "code": "ABC-1234"}
                )
                + "\n### END SOLUTION",
                "blanks",
            ),
        ]
    )
    nb.cells[1].metadata["coursehub"] = {
        "blanks": [
            {"id": "capital", "label": "Capital", "match": "exact", "answers": [CAPITAL]},
            {"id": "river", "label": "Its river", "match": "nocase", "answers": ["Seine"]},
            {"id": "e", "label": "Euler's number", "match": "numeric", "answers": [NUMBER],
             "tolerance": 0.001, "points": 2},
            {"id": "code", "label": "A product code", "match": "pattern", "pattern": PATTERN},
        ]
    }  # fmt: skip
    nb.metadata["coursehub"] = {"type": "fill_in"}
    return nb


def flashcard_source():
    nb = python_notebook(
        [
            nbformat.v4.new_markdown_cell(
                "What does `len([])` return?", metadata={"coursehub": {"card": "front"}}
            ),
            nbformat.v4.new_markdown_cell(
                "`0`: an empty list has no items.", metadata={"coursehub": {"card": "back"}}
            ),
        ]
    )
    nb.metadata["coursehub"] = {"type": "flashcard"}
    return nb


def prepared(kind: str, source):
    return question_type(kind).prepare(source)


def answered(student: dict, source_line: str):
    """The learner's copy with the answer cell's source as the widget writes it."""
    nb = read_notebook(copy.deepcopy(student))
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = source_line
    return nb


def key_free(served) -> str:
    """Everything a learner is served, as one string, for key hunting."""
    return json.dumps(served)


# -- preparing ----------------------------------------------------------------------------


def test_a_choice_question_hides_its_key_and_generates_one_hidden_check():
    for multiple in (False, True):
        question = prepared("choice", choice_source(multiple))
        assert question.max_score == 2
        source_cells = question.source["cells"]
        check = source_cells[2]
        assert check["metadata"]["nbgrader"]["grade_id"] == "pick_check"
        assert check["metadata"]["nbgrader"]["points"] == 2
        assert "### BEGIN HIDDEN TESTS" in check["source"]
        student = question.student
        assert student["metadata"]["coursehub"]["type"] == "choice"
        answer_cell = student["cells"][1]
        assert answer_cell["source"] == ("answer = []" if multiple else "answer = None")
        assert answer_cell["metadata"]["coursehub"] == {
            "choices": choice_source()["cells"][1]["metadata"]["coursehub"]["choices"],
            "multiple": multiple,
        }
        # the key id is in the choices list (it must be shown) and nowhere else
        outside = copy.deepcopy(student)
        del outside["cells"][1]["metadata"]["coursehub"]["choices"]
        text = key_free(outside)
        assert CHOICE_KEY not in text and "opt-d" not in text
        assert "BEGIN" not in text and "SOLUTION" not in text and "assert" not in text


def test_preparing_again_replaces_the_generated_check():
    question = prepared("choice", choice_source())
    again = prepared("choice", question.source)
    assert again.source == question.source
    assert again.student == question.student


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda m, nb: m.update(choices=m["choices"][:1]), "2 to 26 choices"),
        (lambda m, nb: m["choices"].append({"id": "opt-a", "text": "again"}), "duplicate id"),
        (lambda m, nb: m["choices"][0].update(text=" "), "text must be a non-empty string"),
        (lambda m, nb: m["choices"][0].update(id="no spaces"), "id must be"),
        (lambda m, nb: m.update(points=-1), "points must be a number > 0"),
        (lambda m, nb: m.update(multiple="yes"), "multiple must be true or false"),
        (
            lambda m, nb: setattr(nb.cells[1], "source", '### BEGIN SOLUTION\nanswer = "zzz"\n### END SOLUTION'),
            "names no choice",
        ),
        (
            lambda m, nb: setattr(nb.cells[1], "source", '### BEGIN SOLUTION\nanswer = ["opt-a"]\n### END SOLUTION'),
            "one id",
        ),
        (lambda m, nb: setattr(nb.cells[1], "source", "answer = 'opt-a'"), "BEGIN SOLUTION"),
        (
            lambda m, nb: setattr(nb.cells[1], "source", "### BEGIN SOLUTION\nimport os\n### END SOLUTION"),
            "one line: answer = ",
        ),
        (
            lambda m, nb: nb.cells.append(nbgrader_cell("test", "assert True", "extra", 1)),
            "no tests of its own",
        ),
    ],
)  # fmt: skip
def test_a_broken_choice_question_is_refused_with_the_problem_named(change, problem):
    nb = choice_source()
    change(nb.cells[1].metadata["coursehub"], nb)
    with pytest.raises(NotebookFormatError, match=problem):
        prepared("choice", nb)


def test_a_multiple_choice_key_is_a_list_of_known_distinct_ids():
    with pytest.raises(NotebookFormatError, match="a list"):
        prepared("choice", choice_source(multiple=True, key=CHOICE_KEY))
    with pytest.raises(NotebookFormatError, match="twice"):
        prepared("choice", choice_source(multiple=True, key=[CHOICE_KEY, CHOICE_KEY]))
    with pytest.raises(NotebookFormatError, match="a list"):
        prepared("choice", choice_source(multiple=True, key=[]))


def test_a_fill_in_question_keeps_only_ids_labels_and_kinds():
    question = prepared("fill_in", fill_in_source())
    assert question.max_score == 5
    names = [c["metadata"]["nbgrader"]["grade_id"] for c in question.source["cells"]]
    assert names == ["task", "blanks", "capital_check", "river_check", "e_check", "code_check"]
    student = question.student
    answer_cell = student["cells"][1]
    assert json.loads(answer_cell["source"].removeprefix("answer = ")) == {
        "capital": "", "river": "", "e": "", "code": ""
    }  # fmt: skip
    assert answer_cell["metadata"]["coursehub"] == {
        "blanks": [
            {"id": "capital", "label": "Capital", "kind": "text"},
            {"id": "river", "label": "Its river", "kind": "text"},
            {"id": "e", "label": "Euler's number", "kind": "number"},
            {"id": "code", "label": "A product code", "kind": "text"},
        ]
    }
    text = key_free(student)
    for secret in (CAPITAL, "seine", "Seine", "2.718", json.dumps(PATTERN)[1:-1], "tolerance",
                   "answers", "pattern", "match", "BEGIN", "assert"):  # fmt: skip
        assert secret not in text, secret


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"match": "fuzzy"}, "match must be one of"),
        ({"answers": []}, "at least one accepted answer"),
        ({"answers": "Parisianum"}, "answers must be a list"),
        ({"tolerance": 0.1}, "tolerance is for a numeric blank only"),
        ({"pattern": "x"}, "pattern is for a pattern blank only"),
        ({"match": "pattern", "pattern": "("}, "not a regular expression"),
        ({"answers": ["Lutetia"]}, "not accepted by its own blank's rule"),
        ({"id": "river"}, "two blanks share an id"),
        ({"label": ""}, "label must be a non-empty string"),
    ],
)
def test_a_broken_fill_in_question_is_refused_with_the_problem_named(change, problem):
    nb = fill_in_source()
    nb.cells[1].metadata["coursehub"]["blanks"][0].update(change)
    with pytest.raises(NotebookFormatError, match=problem):
        prepared("fill_in", nb)


def test_a_long_label_names_its_check_within_a_tests_name_limit():
    nb = fill_in_source()
    nb.cells[1].metadata["coursehub"]["blanks"][0]["label"] = "The capital " * 16
    question = prepared("fill_in", nb)
    names = [c["metadata"]["coursehub"]["test_name"] for c in question.source["cells"][2:]]
    assert 100 < len(names[0]) <= 120 and names[1:] == [
        "Its river",
        "Euler's number",
        "A product code",
    ]


def test_a_numeric_blank_needs_numbers_and_a_key_within_tolerance():
    nb = fill_in_source()
    nb.cells[1].metadata["coursehub"]["blanks"][2].update(answers=["e"])
    with pytest.raises(NotebookFormatError, match="not a finite number"):
        prepared("fill_in", nb)
    nb = fill_in_source()
    nb.cells[1].metadata["coursehub"]["blanks"][2].update(tolerance=0.0)
    with pytest.raises(NotebookFormatError, match="'e' is not accepted"):
        prepared("fill_in", nb)


def test_the_rules_of_a_blank():
    def blank(**kw):
        return choices.check_blank({"id": "x", "label": "x", **kw}, "here")

    exact = blank(answers=[" Paris "])
    assert choices.accepts(exact, "Paris") and choices.accepts(exact, "  Paris\n")
    assert not choices.accepts(exact, "paris") and not choices.accepts(exact, ["Paris"])
    nocase = blank(match="nocase", answers=["STRASSE"])
    assert choices.accepts(nocase, "straße")  # casefold, not lower
    numeric = blank(match="numeric", answers=["3.14"], tolerance=0.01)
    assert choices.accepts(numeric, "3.15") and choices.accepts(numeric, 3.13)
    assert not choices.accepts(numeric, "3.16") and not choices.accepts(numeric, "nan")
    assert not choices.accepts(numeric, "pi") and not choices.accepts(numeric, True)
    pattern = blank(match="pattern", pattern=r"\d+")
    assert choices.accepts(pattern, "123") and not choices.accepts(pattern, "123a")


def test_a_flashcard_has_a_front_and_a_back_and_is_never_submitted():
    question = prepared("flashcard", flashcard_source())
    assert question.max_score == 0
    sides = [c["metadata"]["coursehub"]["card"] for c in question.student["cells"]]
    assert sides == ["front", "back"]
    assert question.student["metadata"]["coursehub"]["type"] == "flashcard"
    with pytest.raises(ValueError, match="a flashcard is rated, not submitted"):
        question_type("flashcard").read_answer(question.student)
    assert not question_type("flashcard").graded

    no_back = flashcard_source()
    del no_back.cells[1]
    with pytest.raises(NotebookFormatError, match="exactly one back"):
        prepared("flashcard", no_back)
    two_fronts = flashcard_source()
    two_fronts.cells.append(copy.deepcopy(two_fronts.cells[0]))
    with pytest.raises(NotebookFormatError, match="exactly one front"):
        prepared("flashcard", two_fronts)
    graded = flashcard_source()
    graded.cells.append(nbgrader_cell("test", "assert True", "t", 1))
    with pytest.raises(NotebookFormatError, match="no answer cells and no tests"):
        prepared("flashcard", graded)


def test_each_learner_gets_their_own_deterministic_order_of_the_choices():
    question = prepared("choice", choice_source())
    kind = question_type("choice")
    stored = copy.deepcopy(question.student)

    def order(seed):
        served = kind.for_learner(question.student, seed)
        return [c["id"] for c in served["cells"][1]["metadata"]["coursehub"]["choices"]]

    orders = {user: order(variant_seed(7, user)) for user in range(1, 9)}
    assert orders[1] == order(variant_seed(7, 1)), "the same learner, the same order"
    assert len({tuple(o) for o in orders.values()}) > 1, "learners get different orders"
    assert all(sorted(o) == sorted(orders[1]) for o in orders.values())
    assert question.student == stored, "serving never changes the stored notebook"


# -- graded in the sandbox ----------------------------------------------------------------


class Tampered:
    """What an attacker edits in their copy of a question besides the answer."""

    @staticmethod
    def apply(student: dict, answer_line: str, forged_cells: bool = True):
        """``forged_cells``: the answer cell made a graded one too, and a test cell and
        an answer cell of the learner's own added (nbgrader's autograde refuses such a
        notebook outright, no score at all; coursehub ignores them)."""
        nb = answered(student, answer_line)
        nb.metadata["coursehub"]["type"] = "notebook"
        answer_cell = nb.cells[1]
        meta = answer_cell.metadata["coursehub"]
        for key in ("choices", "blanks"):
            if key in meta:
                meta[key] = meta[key][:1]
        meta["points"] = 100
        meta["multiple"] = True
        for cell in nb.cells[2:]:
            cell.source = "assert True"
            cell.metadata["nbgrader"]["points"] = 100
        if forged_cells:
            answer_cell.metadata["nbgrader"]["grade"] = True
            answer_cell.metadata["nbgrader"]["points"] = 100
            nb.cells.append(nbgrader_cell("test", "assert True", "bonus", 50))
            nb.cells.append(nbgrader_cell("solution", "answer = 'opt-a'", "pick-2"))
        else:
            nb.cells.append(nbformat.v4.new_markdown_cell("I am sure this is right."))
        return nb


@pytest.fixture
async def executor():
    from grader.executors.bubblewrap import BubblewrapExecutor

    sandbox = BubblewrapExecutor(time_limit=60, cell_time_limit=10)
    yield sandbox
    await sandbox.close()


CHOICE_CASES = [
    # multiple, answer cell, expected score (of 2)
    (False, f"answer = {CHOICE_KEY!r}", 2),
    (False, 'answer = "opt-a"', 0),
    (False, "answer = None", 0),
    (False, f"answer = [{CHOICE_KEY!r}]", 0),
    (False, "class Liar:\n    def __eq__(self, other):\n        return True\nanswer = Liar()", 0),
    (
        False,
        "class S(str):\n    def __eq__(self, other):\n        return True\nanswer = S('opt-a')",
        0,
    ),
    (
        False,
        "import builtins\nbuiltins.type = lambda x: str\nsorted = lambda x: x\nanswer = object()",
        0,
    ),
    (True, f'answer = ["opt-d", {CHOICE_KEY!r}]', 2),
    (True, f'answer = [{CHOICE_KEY!r}, "opt-d"]', 2),
    (True, f'answer = ({CHOICE_KEY!r}, "opt-d")', 2),
    (True, f"answer = [{CHOICE_KEY!r}]", 0),
    (True, f'answer = [{CHOICE_KEY!r}, "opt-d", "opt-a"]', 0),
    (True, f'answer = [{CHOICE_KEY!r}, "opt-d", "opt-d"]', 0),
    (True, "answer = []", 0),
]


@needs_bwrap
@pytest.mark.sandbox
@pytest.mark.parametrize(("multiple", "line", "expected"), CHOICE_CASES)
async def test_a_choice_scores_only_the_right_answer(executor, multiple, line, expected):
    question = prepared("choice", choice_source(multiple))
    kind = question_type("choice")
    source = kind.source_for(kind.read_source(question.source), 1)
    report = await kind.grade(executor, source, kind.read_answer(answered(question.student, line)))
    assert (report.score, report.max_score) == (expected, 2), report.tests
    assert [t["name"] for t in report.tests] == ["pick_check"]
    # a hidden check says pass or fail, never the key
    assert CHOICE_KEY not in json.dumps(report.to_dict())


FILL_IN_CASES = [
    ({"capital": CAPITAL, "river": "seine ", "e": "2.7185", "code": "XYZ-0001"}, 5),
    ({"capital": CAPITAL.lower(), "river": "Seine", "e": "2.718", "code": "ABC-1234"}, 4),
    ({"capital": CAPITAL, "river": "Loire", "e": "2.72", "code": "abc-1234"}, 1),
    ({"capital": CAPITAL, "river": "SEINE", "e": 2.718, "code": "ABC-12345"}, 4),
    ({"capital": "", "river": "", "e": "", "code": ""}, 0),
    ({"capital": [CAPITAL], "river": None, "e": "inf", "code": "ABC-1234 x"}, 0),
]


@needs_bwrap
@pytest.mark.sandbox
@pytest.mark.parametrize(("values", "expected"), FILL_IN_CASES)
async def test_each_blank_is_checked_by_its_rule(executor, values, expected):
    question = prepared("fill_in", fill_in_source())
    kind = question_type("fill_in")
    learner = answered(question.student, f"answer = {values!r}")
    report = await kind.grade(executor, kind.read_source(question.source), learner)
    assert report.score == expected, report.tests
    assert report.max_score == 5
    text = json.dumps(report.to_dict())
    assert CAPITAL not in text or CAPITAL in repr(values)
    assert PATTERN not in text


@needs_bwrap
@pytest.mark.sandbox
@pytest.mark.parametrize("kind_name", ["choice", "fill_in"])
async def test_tampered_metadata_and_extra_cells_change_nothing(executor, kind_name):
    if kind_name == "choice":
        question = prepared("choice", choice_source())
        lines = {"right": f"answer = {CHOICE_KEY!r}", "wrong": 'answer = "opt-c"'}
    else:
        question = prepared("fill_in", fill_in_source())
        lines = {
            "right": f"answer = {{'capital': {CAPITAL!r}, 'river': 'Seine', 'e': '2.718', "
            "'code': 'ABC-1234'}",
            "wrong": "answer = {'capital': 'Rome', 'river': 'Seine', 'e': '1', 'code': 'x'}",
        }
    kind = question_type(kind_name)
    source = kind.read_source(question.source)
    for line in lines.values():
        honest = await kind.grade(executor, source, answered(question.student, line))
        forged = await kind.grade(executor, source, Tampered.apply(question.student, line))
        assert forged.score == honest.score
        assert forged.max_score == honest.max_score == question.max_score
        assert [t["name"] for t in forged.tests] == [t["name"] for t in honest.tests]


# -- through the service ------------------------------------------------------------------


@pytest.fixture
async def practice(grader):
    """A module with a choice, a fill_in and a flashcard question, made through the API;
    the types come from the notebooks' metadata (none is given in the bodies)."""
    author = grader.client_for("teacher", (LEARN, AUTHOR))
    code, module = await author.post("modules", {"slug": "checks", "title": "Quick checks"})
    assert code == 201, module
    ids = {}
    for slug, notebook in (
        ("mutable", choice_source()),
        ("blanks", fill_in_source()),
        ("card", flashcard_source()),
    ):
        code, question = await author.post(
            "questions", {"module": "checks", "slug": slug, "title": slug, "notebook": notebook}
        )
        assert code == 201, question
        ids[slug] = question["id"]
    return author, ids


async def test_types_come_from_the_notebook_and_filter_the_list(grader, practice):
    author, ids = practice
    learner = grader.client_for("ann")
    code, data = await learner.get("questions")
    assert code == 200
    assert {q["slug"]: q["type"] for q in data["questions"]} == {
        "mutable": "choice", "blanks": "fill_in", "card": "flashcard"
    }  # fmt: skip
    assert {q["slug"]: q["points"] for q in data["questions"]}["card"] == 0
    code, data = await learner.get("questions?type=choice")
    assert [q["slug"] for q in data["questions"]] == ["mutable"]
    code, data = await learner.get("questions?type=notebook")
    assert code == 200 and data["questions"] == []
    code, data = await learner.get("questions?type=essay")
    assert code == 400 and "type must be one of" in data["message"]
    code, data = await learner.get("questions/filters")
    assert data["types"] == ["choice", "fill_in", "flashcard"]

    # given explicitly; or unknown
    notebook = choice_source(declared=False)
    code, data = await author.post(
        "questions", {"module": "checks", "slug": "typed", "title": "t", "notebook": notebook,
                      "type": "choice"},
    )  # fmt: skip
    assert code == 201 and data["type"] == "choice"
    code, data = await author.post(
        "questions", {"module": "checks", "slug": "undeclared", "title": "t", "notebook": notebook}
    )
    assert code == 400 and "no autograded test cell" in data["message"]
    code, data = await author.post(
        "questions", {"module": "checks", "slug": "x", "title": "t", "notebook": notebook,
                      "type": "essay"},
    )  # fmt: skip
    assert code == 400 and "unknown question type: essay" in data["message"]


async def test_a_learner_reads_no_key_and_their_own_order(grader, practice):
    _, ids = practice
    orders = set()
    for name in ("ann", "bob", "cid", "dee", "eve", "fay"):
        learner = grader.client_for(name)
        code, data = await learner.get(f"questions/{ids['mutable']}")
        assert code == 200
        served = data["notebook"]
        assert served["metadata"]["coursehub"]["type"] == "choice"
        listed = served["cells"][1]["metadata"]["coursehub"]["choices"]
        orders.add(tuple(c["id"] for c in listed))
        del served["cells"][1]["metadata"]["coursehub"]["choices"]
        assert CHOICE_KEY not in json.dumps(data)
        code, again = await learner.get(f"questions/{ids['mutable']}")
        assert again["notebook"]["cells"][1]["metadata"]["coursehub"]["choices"] == listed
        code, data = await learner.get(f"questions/{ids['blanks']}")
        text = json.dumps(data)
        assert CAPITAL not in text and "2.718" not in text and "answers" not in text
        code, data = await learner.get(f"questions/{ids['mutable']}/source")
        assert code == 403
    assert len(orders) > 1


@needs_bwrap
@pytest.mark.sandbox
async def test_choices_and_blanks_are_graded_through_the_queue(grader, practice):
    _, ids = practice
    ann = grader.client_for("ann")
    code, data = await ann.get(f"questions/{ids['mutable']}")
    results = []
    for line in (f"answer = {CHOICE_KEY!r}", 'answer = "opt-a"'):
        code, sub = await ann.post(
            "submissions",
            {"question": ids["mutable"], "notebook": answered(data["notebook"], line)},
        )
        assert code == 202, sub
        results.append(await ann.wait_graded(sub["id"]))
    assert [(r["score"], r["max_score"]) for r in results] == [(2, 2), (0, 2)]
    code, data = await ann.get(f"questions/{ids['blanks']}")
    line = f"answer = {{'capital': {CAPITAL!r}, 'river': 'x', 'e': '2.718', 'code': 'ABC-0000'}}"
    code, sub = await ann.post(
        "submissions", {"question": ids["blanks"], "notebook": answered(data["notebook"], line)}
    )
    graded = await ann.wait_graded(sub["id"])
    assert (graded["score"], graded["max_score"]) == (4, 5)
    assert {t["name"]: t["passed"] for t in graded["tests"]} == {
        "capital_check": True, "river_check": False, "e_check": True, "code_check": True
    }  # fmt: skip


async def test_a_flashcard_submission_is_a_400(grader, practice):
    _, ids = practice
    ann = grader.client_for("ann")
    code, data = await ann.get(f"questions/{ids['card']}")
    assert code == 200
    code, data = await ann.post(
        "submissions", {"question": ids["card"], "notebook": data["notebook"]}
    )
    assert code == 400
    assert NOT_SUBMITTED in data["message"]
    code, data = await ann.get("submissions")
    assert data["submissions"] == []


@needs_bwrap
@pytest.mark.sandbox
async def test_validate_reads_the_type_from_the_notebook(grader, practice):
    author, _ = practice
    code, data = await author.post("questions/validate", {"notebook": choice_source()})
    assert code == 200 and data["ok"], data
    assert data["reference"]["score"] == 2 and data["stub"]["score"] == 0
    code, data = await author.post("questions/validate", {"notebook": flashcard_source()})
    assert code == 200 and data["ok"], data
    code, data = await author.post("questions/validate", {"notebook": fill_in_source()})
    assert code == 200 and data["ok"], data


async def test_a_question_changes_type_with_its_notebook(grader, practice):
    author, ids = practice
    code, data = await author.get(f"questions/{ids['mutable']}/source")
    version = data["version"]
    # the same notebook again: no new version
    code, same = await author.request(
        "PUT", f"questions/{ids['mutable']}", {"notebook": data["notebook"]}
    )
    assert code == 200 and same["version"] == version and same["type"] == "choice"
    code, card = await author.request(
        "PUT", f"questions/{ids['mutable']}", {"notebook": flashcard_source()}
    )
    assert code == 200, card
    assert card["type"] == "flashcard" and card["points"] == 0 and card["version"] == version + 1
    code, bad = await author.request("PUT", f"questions/{ids['card']}", {"type": "choice"})
    assert code == 400 and "answer cell" in bad["message"]


async def test_the_sample_course_loads_with_its_types_and_its_variant(grader):
    from pathlib import Path

    from grader.instructors.content import load_course

    folder = Path(__file__).resolve().parents[1] / "course_content" / "python-foundations"
    with grader.session_factory() as db:
        load_course(db, folder)
    ann = grader.client_for("ann")
    code, data = await ann.get("questions?course=python-foundations&module=quick-checks")
    assert code == 200, data
    kinds = [q["type"] for q in data["questions"]]
    assert kinds.count("choice") >= 4 and kinds.count("fill_in") >= 4
    assert kinds.count("flashcard") >= 3
    code, data = await ann.get("questions/filters?course=python-foundations")
    assert data["types"] == ["notebook", "choice", "fill_in", "flashcard"]
    code, data = await ann.get("questions?course=python-foundations&q=receipt")
    (receipt,) = data["questions"]
    assert receipt["type"] == "notebook"
    seeds = set()
    for name in ("ann", "bob"):
        code, data = await grader.client_for(name).get(f"questions/{receipt['id']}")
        seeds.add(next(c["source"] for c in data["notebook"]["cells"] if c["id"] == "seed"))
    assert len(seeds) == 2 and "SEED = 20250101" not in seeds
    # loading again changes no version
    with grader.session_factory() as db:
        counts = load_course(db, folder)
    assert counts["questions_created"] == 0
    code, again = await ann.get(f"questions/{receipt['id']}")
    assert again["version"] == 1
