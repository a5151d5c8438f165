"""docker-compose.yml as an operator runs it: hub, grader and PostgreSQL, then a learner.

Brings the stack up under a test project name (``coursehub-test-c...``: its containers,
volumes and networks, and the learners' containers and volumes the Hub creates, all
carry that prefix), signs in with the admin token from the env file, spawns a learner's
container and runs the submit flow through the learner's extension, then takes it all
down again (``down -v``), also when the test fails.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time

import pytest
import requests

from hub_config.settings import REPO_DIR
from hub_config.testing import free_port
from tests.docker_support import remove_test_objects
from tests.test_end_to_end import CORRECT, PARTIAL, Learner, author_square_question

pytestmark = [pytest.mark.docker, pytest.mark.hub]

COMPOSE_FILE = REPO_DIR / "docker-compose.yml"


class ComposeStack:
    """One docker-compose project; `api()` and `log()` as RunningHub, for `Learner`."""

    def __init__(self, project: str, env_file, port: int, admin_token: str):
        self.project, self.env_file = project, env_file
        self.url = f"http://127.0.0.1:{port}"
        self.admin_token = admin_token
        self.compose = shutil.which("docker-compose")

    def run(self, *args: str, timeout=600, check=True) -> subprocess.CompletedProcess:
        cmd = [self.compose, "-f", str(COMPOSE_FILE), "--project-directory", str(REPO_DIR)]
        cmd += ["-p", self.project, "--env-file", str(self.env_file), *args]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def wait_for_hub(self, timeout=180) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            try:
                if requests.get(f"{self.url}/hub/api/", timeout=2).status_code == 200:
                    return time.monotonic() - started
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"the Hub did not answer within {timeout}s:\n{self.log()}")

    def api(self, method: str, path: str, token: str | None = None, **kwargs):
        headers = {"Authorization": f"token {token or self.admin_token}"}
        return requests.request(
            method, f"{self.url}/hub/api{path}", headers=headers, timeout=30, **kwargs
        )

    def log(self) -> str:
        result = self.run("logs", "--no-color", "--tail=200", check=False, timeout=60)
        return result.stdout + result.stderr


@pytest.fixture
def stack(docker_engine, hub_image, learner_image, tmp_path):  # noqa: F811
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    project = f"coursehub-test-c{secrets.token_hex(3)}"
    port = free_port()
    admin_token = secrets.token_hex(16)
    env_file = tmp_path / ".env"
    env_file.write_text(
        "\n".join(
            [
                f"POSTGRES_PASSWORD={secrets.token_hex(16)}",
                f"COURSEHUB_GRADER_API_TOKEN={secrets.token_hex(16)}",
                f"COURSEHUB_ADMIN_TOKEN={admin_token}",
                f"COURSEHUB_PUBLISH=127.0.0.1:{port}",
                f"COURSEHUB_DOCKER_PREFIX={project}",
                f"COURSEHUB_LEARNER_IMAGE={learner_image}",
                f"COURSEHUB_HUB_IMAGE={hub_image}",
                f"COURSEHUB_COURSE_DIR={REPO_DIR / 'course_content'}",
                "",
            ]
        )
    )
    stack = ComposeStack(project, env_file, port, admin_token)
    try:
        stack.run("build", "postgres")  # cached by the engine after the first time
        started = time.monotonic()
        stack.run("up", "-d")
        stack.wait_for_hub()
        print(f"\ndocker-compose up -> Hub ready: {time.monotonic() - started:.1f} s")
        yield stack
    except BaseException:
        print(stack.log())
        raise
    finally:
        try:
            stack.run("down", "-v", "--remove-orphans", "--timeout", "60", check=False)
        finally:
            # learners' containers and volumes are the Hub's, not compose's
            remove_test_objects(docker_engine, project)
        left = [c.name for c in docker_engine.containers.list(all=True, filters={"name": project})]
        left += [v.name for v in docker_engine.volumes.list(filters={"name": project})]
        assert not left, f"left behind: {left}"


def test_compose_stack_serves_the_whole_flow(stack):
    # the admin's token from .env works, and is the admin service's
    r = stack.api("GET", "/user")
    assert r.status_code == 200 and r.json()["kind"] == "service", r.text

    question = author_square_question(stack.url, stack.admin_token, "cp", stack.log)

    learner = Learner(stack, "cplearner")
    learner.start_server(timeout=180)
    r = learner.coursehub("POST", f"questions/{question['id']}/open")
    assert r.status_code == 201, r.text
    path = r.json()["path"]
    learner.write_answer(path, PARTIAL)
    result = learner.submit_and_wait(question["id"], path, timeout=120)
    assert (result["status"], result["score"], result["max_score"]) == ("graded", 1, 3)
    learner.write_answer(path, CORRECT)
    result = learner.submit_and_wait(question["id"], path, timeout=120)
    assert result["score"] == 3 and all(t["passed"] for t in result["tests"])
    # the sample course was loaded from the mounted folder
    assert len(learner.coursehub("GET", "questions").json()["questions"]) >= 13
