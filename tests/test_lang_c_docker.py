"""C questions graded with the DockerExecutor: the sample questions, and the hostile
answers of tests/test_lang_c.py, in the learner image (which carries gcc)."""

from __future__ import annotations

import socket

import pytest

from grader.executors.docker import DockerExecutor
from grader.grading.run import grade
from tests.docker_support import TEST_PREFIX, docker_engine, learner_image  # noqa: F401
from tests.test_lang_c import (
    ATTACK_SOURCE,
    ATTACKS,
    QUESTIONS,
    WRONG,
    check_attack,
    load,
    network_attack,
    stubbed,
    with_answer,
)

pytestmark = pytest.mark.docker
PREFIX = TEST_PREFIX + "lang-c-"


@pytest.fixture
def executor(learner_image, docker_engine):  # noqa: F811
    yield DockerExecutor(image=learner_image, name_prefix=PREFIX, time_limit=60, cell_time_limit=5)
    left = [c for c in docker_engine.containers.list(all=True) if c.name.startswith(PREFIX)]
    for container in left:
        container.remove(force=True, v=True)
    assert not left, "grading containers were left behind"


@pytest.mark.parametrize("question", QUESTIONS)
async def test_sample_questions_in_docker(executor, question):
    source = load(question)
    report = await grade(executor, source, source)
    assert report.score == report.max_score > 0, report.tests
    for wrong in WRONG[f"c-basics/{question}"]:
        report = await grade(executor, source, with_answer(source, wrong))
        assert report.score < report.max_score, (wrong, report.tests)
    assert (await grade(executor, source, stubbed(source))).score == 0


async def test_reference_of_the_attack_question_in_docker(executor):
    report = await grade(executor, ATTACK_SOURCE, ATTACK_SOURCE)
    assert report.score == report.max_score == 4, report.tests


@pytest.mark.parametrize("name", list(ATTACKS))
async def test_hostile_answers_in_docker(executor, name):
    report = await check_attack(executor, name, ATTACKS[name])
    if name == "infinite loop":
        assert "time_limit" in report.tests[0]["message"], report.tests
    if name == "output flood":
        assert "output_limit" in report.tests[0]["message"], report.tests


async def test_no_network_in_docker(executor):
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        await check_attack(executor, "network", network_attack(listener.getsockname()[1]))
