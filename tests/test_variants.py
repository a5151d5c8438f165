"""Seeded variants: each learner their own instance of a question.

The seed cell's line is the learner's own in the notebook they are served and in the
source their submission is graded against; an answer worked out for one learner's
instance fails another's, graded for real in the sandbox through the service.
"""

from __future__ import annotations

import copy
import random
import shutil

import pytest

from grader import orm
from grader.grading.notebooks import NotebookFormatError, read_notebook
from grader.grading.questiontypes import question_type
from grader.grading.run import grade
from grader.grading.variants import SEED_LIMIT, check_variant, variant_seed, with_seed
from tests.conftest import AUTHOR, LEARN, nbgrader_cell, python_notebook

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed"
)


def seed_cell(source: str = "SEED = 12345"):
    cell = nbgrader_cell("locked", source, "seed")
    cell.metadata["coursehub"] = {"variant": True}
    return cell


def variant_source():
    """Add up your own five numbers: they come from SEED."""
    return python_notebook(
        [
            nbgrader_cell("locked", "Add up your numbers into `total`.", "task", cell_type="markdown"),
            seed_cell(),
            nbgrader_cell(
                "locked",
                "import random\n\nrng = random.Random(SEED)\nnumbers = [rng.randint(1, 1000) for _ in range(5)]\n"
                "print(numbers)",
                "setup",
            ),
            nbgrader_cell("solution", "### BEGIN SOLUTION\ntotal = sum(numbers)\n### END SOLUTION", "sum"),
            nbgrader_cell(
                "test",
                "import random\n\nrng = random.Random(SEED)\n"
                "expected = sum(rng.randint(1, 1000) for _ in range(5))\n"
                "assert total == expected, 'total is not the sum of your numbers'",
                "check",
                2,
            ),
        ]
    )  # fmt: skip


def expected_total(seed: int) -> int:
    rng = random.Random(seed)
    return sum(rng.randint(1, 1000) for _ in range(5))


def seed_of(nb) -> str:
    return next(c for c in nb["cells"] if c["metadata"].get("coursehub", {}).get("variant"))[
        "source"
    ]


def test_a_seed_is_deterministic_in_range_and_per_learner():
    seeds = {variant_seed(q, u) for q in range(1, 20) for u in range(1, 20)}
    assert len(seeds) == 19 * 19
    assert all(0 <= s < SEED_LIMIT for s in seeds)
    assert variant_seed(3, 4) == variant_seed(3, 4) != variant_seed(4, 3)


@pytest.mark.parametrize(
    ("cells", "problem"),
    [
        ([seed_cell(), seed_cell()], "at most one variant cell"),
        ([seed_cell("SEED = 1\nprint(SEED)")], "exactly one line"),
        ([seed_cell("SEED = -1")], "exactly one line"),
        ([seed_cell("seed = 1")], "exactly one line"),
    ],
)
def test_a_variant_cell_is_one_locked_seed_line(cells, problem):
    with pytest.raises(NotebookFormatError, match=problem):
        check_variant(python_notebook(cells))


def test_a_variant_cell_must_be_locked():
    nb = variant_source()
    nb.cells[1].metadata["nbgrader"]["locked"] = False
    with pytest.raises(NotebookFormatError, match="read-only"):
        question_type("notebook").prepare(nb)
    nb.cells[1].metadata["nbgrader"] = {**nb.cells[3].metadata["nbgrader"], "grade_id": "seed"}
    with pytest.raises(NotebookFormatError, match="read-only"):
        question_type("notebook").prepare(nb)


def test_a_learners_copy_and_source_hold_their_seed_and_nothing_else_changes():
    prepared = question_type("notebook").prepare(variant_source())
    kind = question_type("notebook")
    stored_student, stored_source = copy.deepcopy(prepared.student), copy.deepcopy(prepared.source)
    served = kind.for_learner(prepared.student, 777)
    assert seed_of(served) == "SEED = 777"
    assert served["metadata"]["coursehub"]["type"] == "notebook"
    graded = kind.source_for(read_notebook(prepared.source), 777)
    assert seed_of(graded) == "SEED = 777"
    assert prepared.student == stored_student and prepared.source == stored_source
    # the released checksum stays nbgrader's checksum of the cell as served
    from nbgrader.utils import compute_checksum

    cell = read_notebook(served).cells[1]
    assert cell.metadata.nbgrader.checksum == compute_checksum(cell)
    # a question without a variant cell is returned as it is
    plain = python_notebook([nbgrader_cell("test", "assert True", "t", 1)])
    assert with_seed(plain, 5) is plain


# -- graded -------------------------------------------------------------------------------


@needs_bwrap
@pytest.mark.sandbox
async def test_rebinding_seed_in_an_answer_does_not_move_the_tests():
    from grader.executors.bubblewrap import BubblewrapExecutor

    kind = question_type("notebook")
    prepared = kind.prepare(variant_source())
    source = kind.source_for(read_notebook(prepared.source), 1001)
    learner = read_notebook(kind.for_learner(prepared.student, 1001))

    def answering(text):
        nb = copy.deepcopy(learner)
        nb.cells[3].source = text
        return nb

    executor = BubblewrapExecutor(cell_time_limit=10)
    try:
        own = await grade(executor, source, answering(f"total = {expected_total(1001)}"))
        assert own.score == 2
        general = await grade(executor, source, answering("total = sum(numbers)"))
        assert general.score == 2
        # someone else's instance, with their seed put back: still theirs, not this one
        other = await grade(executor, source, answering(f"SEED = 5\ntotal = {expected_total(5)}"))
        assert other.score == 0
    finally:
        await executor.close()


@needs_bwrap
@pytest.mark.sandbox
async def test_an_answer_for_one_learners_variant_fails_anothers(grader):
    author = grader.client_for("teacher", (LEARN, AUTHOR))
    code, _ = await author.post("modules", {"slug": "numbers", "title": "Numbers"})
    assert code == 201
    code, question = await author.post(
        "questions",
        {
            "module": "numbers",
            "slug": "your-sum",
            "title": "Your sum",
            "notebook": variant_source(),
        },
    )
    assert code == 201, question
    qid = question["id"]
    ann, bob = grader.client_for("ann"), grader.client_for("bob")
    served = {}
    for name, client in (("ann", ann), ("bob", bob)):
        code, data = await client.get(f"questions/{qid}")
        assert code == 200
        served[name] = data["notebook"]
    with grader.session_factory() as db:
        seeds = {name: variant_seed(qid, orm.User.find(db, name).id) for name in served}
    assert seeds["ann"] != seeds["bob"]
    for name in served:
        assert seed_of(served[name]) == f"SEED = {seeds[name]}"

    def answering(nb, text):
        nb = copy.deepcopy(nb)
        next(c for c in nb["cells"] if c["metadata"]["nbgrader"].get("solution"))["source"] = text
        return nb

    anns_answer = answering(served["ann"], f"total = {expected_total(seeds['ann'])}")
    results = {}
    for name, client in (("ann", ann), ("bob", bob)):
        code, sub = await client.post("submissions", {"question": qid, "notebook": anns_answer})
        assert code == 202, sub
        results[name] = await client.wait_graded(sub["id"])
    assert results["ann"]["score"] == 2
    assert results["bob"]["score"] == 0
    # bob's own instance, worked out the same way, is full marks for bob
    bobs_answer = answering(served["bob"], f"total = {expected_total(seeds['bob'])}")
    code, sub = await bob.post("submissions", {"question": qid, "notebook": bobs_answer})
    assert (await bob.wait_graded(sub["id"]))["score"] == 2
