"""JavaScript questions graded by the DockerExecutor: the learner image holds Node.js
(and the deno kernel), and the same answers and attacks as in test_lang_javascript.py
give the same verdicts there as in bubblewrap. Skipped, with the reason, without an
engine."""

from __future__ import annotations

import pytest

from grader.executors.docker import DockerExecutor
from grader.grading.run import grade
from tests.docker_support import TEST_PREFIX, docker_engine, learner_image  # noqa: F401
from tests.test_lang_javascript import (
    ABUSE,
    FORGERIES,
    ONLY_HIDDEN,
    QUESTIONS,
    REFERENCE_ADD,
    SECRET,
    SNOOP,
    VISIBLE,
    WRONG,
    by_name,
    everything_said,
    js_question,
    source_notebook,
    with_answer,
)

pytestmark = pytest.mark.docker
PREFIX = TEST_PREFIX + "js-"


@pytest.fixture
def executor(learner_image):  # noqa: F811
    return DockerExecutor(name_prefix=PREFIX, image=learner_image, time_limit=60, cell_time_limit=5)


async def test_the_image_has_the_javascript_kernel(docker_engine, learner_image):  # noqa: F811
    out = docker_engine.containers.run(
        learner_image,
        ["sh", "-c", "node --version && deno --version && jupyter kernelspec list"],
        remove=True,
        network_mode="none",
    ).decode()
    assert "deno" in out and out.startswith("v")


@pytest.mark.parametrize("question", QUESTIONS)
async def test_reference_full_and_wrong_less_in_docker(executor, question):
    source = source_notebook(question)
    report = await grade(executor, source, source)
    assert report.score == report.max_score > 0, report.tests
    report = await grade(executor, source, with_answer(source, WRONG[question][0]))
    assert report.score < report.max_score


@pytest.mark.parametrize(
    "attack", ["lying primitives", "polluted built-ins", "protocol lines", "early exit"]
)
async def test_forging_is_contained_in_docker(executor, attack):
    source = js_question(REFERENCE_ADD, tests=(VISIBLE, ONLY_HIDDEN))
    report = await grade(executor, source, with_answer(source, FORGERIES[attack]))
    assert report.score == 0, report.tests
    assert by_name(report)["t1"]["message"].startswith("hidden test failed:")
    assert SECRET not in everything_said(report)


async def test_hidden_tests_stay_hidden_in_docker(executor):
    source = js_question(REFERENCE_ADD)
    order = js_question(REFERENCE_ADD, tests=(ONLY_HIDDEN, VISIBLE))
    report = await grade(executor, order, with_answer(source, SNOOP))
    assert "nothing among" in by_name(report)["t1"]["message"], report.tests
    assert SECRET not in everything_said(report)


@pytest.mark.parametrize("limit", ["time_limit", "memory_limit", "output_limit"])
async def test_resource_abuse_in_docker(executor, limit):
    spin_test = 'import assert from "node:assert";\nspin();\nassert.ok(true);'
    nb = js_question(
        ABUSE[limit], tests=(spin_test,), extra_cells=[(REFERENCE_ADD, "answer"), (VISIBLE, "test")]
    )
    report = await grade(executor, nb, nb)
    tests = by_name(report)
    assert limit in tests["t0"]["message"], tests["t0"]
    assert tests["extra1"]["passed"], tests["extra1"]
