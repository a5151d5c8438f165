"""images/swarm/stack.yml on a real Docker Swarm: the grader past one machine's processes.

A single-node swarm (made here with ``docker swarm init`` when the engine is in none,
and left again afterwards) runs the stack under a test name (``coursehub-test-s...``):
PostgreSQL, the Hub, two replicas of the grader's API (``--GraderApp.api_only=True``) and
two replicas of its workers (``python -m grader.cli worker``) grading in Docker
containers through the engine's socket. Learners made through the Hub's API submit
twenty answers through the Hub's proxy; every one must be graded exactly once (one
claim, the right score), best scores must agree, and both worker replicas must have
graded some. A learner's server, spawned by the Hub's service, reaches the grader only
through the Hub's proxy. Then the stack and everything it made (volumes, networks,
grading and learners' containers) is removed, also when a test fails.

What this kernel cannot do is left out, not faked: it has no IPVS, so a service's
virtual IP and the ingress routing mesh do not work; the stack uses DNS round robin and
publishes the Hub's port in host mode (docs/scaling.md).
"""

from __future__ import annotations

import collections
import json
import os
import secrets
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import yaml

from hub_config.settings import REPO_DIR
from hub_config.testing import free_port
from tests.conftest import answer
from tests.docker_support import container_logs, remove_test_objects
from tests.test_end_to_end import author_square_question

pytestmark = [pytest.mark.docker, pytest.mark.swarm, pytest.mark.hub]

STACK_FILE = REPO_DIR / "images" / "swarm" / "stack.yml"
POSTGRES_IMAGE = "coursehub/postgres:15"
ANSWERS = {  # answer -> its score on the square question (1 visible + 2 hidden points)
    "def square(x):\n    return 0": 0.0,
    "def square(x):\n    return x + 2": 1.0,
    "def square(x):\n    return x * x": 3.0,
}
LEARNERS, PER_LEARNER = 5, 4  # 20 submissions; 4 each stays under the per-learner limit
# What the one-off container on the stack's attachable network reads from the database.
DB_REPORT = """
import json, os
from sqlalchemy import create_engine, text
engine = create_engine(os.environ["COURSEHUB_GRADER_DB_URL"])
with engine.connect() as db:
    rows = lambda sql: [dict(r._mapping) for r in db.execute(text(sql))]
    print(json.dumps({
        "submissions": rows(
            "SELECT s.id, u.name AS user, s.status, s.score, s.attempts, s.worker"
            " FROM submissions s JOIN users u ON u.id = s.user_id"),
        "workers": rows("SELECT id, host FROM workers"),
        "best": rows(
            "SELECT u.name AS user, b.score, b.submission_id FROM best_scores b"
            " JOIN users u ON u.id = b.user_id"),
    }))
"""


def docker_cli(*args: str, timeout=120, check=True, env=None) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [shutil.which("docker"), *args], capture_output=True, text=True, timeout=timeout, env=env
    )
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def swarm(docker_engine):
    """A swarm this engine manages: the existing one, or a single-node one made here.

    Left at the end only if it was made here, so an operator's swarm is never touched.
    """
    if shutil.which("docker") is None:
        pytest.skip("the docker command-line client is not installed")
    state = docker_engine.info().get("Swarm", {})
    created = False
    if state.get("LocalNodeState") == "inactive":
        result = docker_cli("swarm", "init", "--advertise-addr", "127.0.0.1", check=False)
        if result.returncode != 0:
            pytest.skip(f"docker swarm init failed here: {result.stderr.strip()}")
        created = True
    elif state.get("LocalNodeState") != "active" or not state.get("ControlAvailable"):
        pytest.skip(f"the engine is in a swarm it does not manage: {state}")
    try:
        yield
    finally:
        if created:
            docker_cli("swarm", "leave", "--force", check=False)


class SwarmStack:
    """One deployed stack: its name, where its Hub is published, how to read its logs."""

    def __init__(self, client, name: str, port: int, admin_token: str, env: dict[str, str]):
        self.client, self.name, self.env, self.admin_token = client, name, env, admin_token
        self.url = f"http://127.0.0.1:{port}"
        self.grader = f"{self.url}/services/grader/api/v1/"

    def service(self, name: str) -> str:
        return f"{self.name}_{name}"

    def containers(self, service: str) -> list:
        """The running containers of one of the stack's services."""
        label = f"com.docker.swarm.service.name={self.service(service)}"
        return self.client.containers.list(
            filters={"label": label, "status": "running"}, ignore_removed=True
        )

    def wait_for_grader(self, timeout=180) -> None:
        """The Hub answers, and the grader's health through its proxy is ok, 10 times in
        a row: the proxy picks either API replica by DNS, and both must be up."""
        deadline = time.monotonic() + timeout
        in_a_row = 0
        while time.monotonic() < deadline:
            try:
                r = requests.get(self.grader + "health", timeout=5)
                in_a_row = in_a_row + 1 if r.status_code == 200 else 0
            except requests.ConnectionError:
                in_a_row = 0
            if in_a_row >= 10:
                return
            time.sleep(0.2 if in_a_row else 0.5)
        raise AssertionError(f"the grader did not become healthy within {timeout}s")

    def log(self) -> str:
        """The last lines of every container of the stack, dead ones too, and its tasks."""
        out = []
        label = f"com.docker.stack.namespace={self.name}"
        for c in self.client.containers.list(
            all=True, filters={"label": label}, ignore_removed=True
        ):
            lines = container_logs(c).splitlines()[-100:]
            out.append(f"--- {c.name} ({c.status}):\n" + "\n".join(lines))
        tasks = docker_cli("stack", "ps", "--no-trunc", self.name, check=False)
        return "\n".join([*out, "--- tasks:", tasks.stdout + tasks.stderr])

    def api(self, method: str, path: str, **kwargs):
        headers = {"Authorization": f"token {self.admin_token}"}
        return requests.request(
            method, f"{self.url}/hub/api{path}", headers=headers, timeout=30, **kwargs
        )


def remove_stack(client, name: str, timeout=120) -> list[str]:
    """`docker stack rm`, then its volumes and networks once its containers are gone.

    Returns what is still there at the end (nothing, if all went well).
    """
    docker_cli("stack", "rm", name, check=False)
    label = {"label": f"com.docker.stack.namespace={name}"}

    def containers(**filters):  # containers vanish while listed: skip those
        return client.containers.list(all=True, filters=filters, ignore_removed=True)

    deadline = time.monotonic() + timeout
    while containers(**label) and time.monotonic() < deadline:
        time.sleep(1)
    # the stack's volumes, and what is named after the stack: grading containers of its
    # workers, one-off containers, the learners' network
    for volume in client.volumes.list(filters=label):
        try:
            volume.remove(force=True)
        except Exception:
            pass
    remove_test_objects(client, name)
    left = [c.name for c in containers(**label) + containers(name=name)]
    left += [v.name for v in client.volumes.list(filters=label)]
    left += [n.name for n in client.networks.list(names=[name]) if n.name.startswith(name)]
    return left


@pytest.fixture(scope="module")
def stack(swarm, docker_engine, hub_image, learner_image, tmp_path_factory):
    # coursehub/postgres comes from the engine's cache after the first build
    postgres_dir = REPO_DIR / "images" / "postgres"
    docker_cli(
        "build", "-q", "-t", POSTGRES_IMAGE, "-f", str(postgres_dir / "Dockerfile.local"),
        str(postgres_dir), timeout=600,
    )  # fmt: skip
    name = f"coursehub-test-s{secrets.token_hex(3)}"
    port = free_port()
    admin_token = secrets.token_hex(16)
    # the stack file's variables, and no stray COURSEHUB_* of the host's
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSEHUB_")}
    env |= {
        "POSTGRES_PASSWORD": secrets.token_hex(16),
        "COURSEHUB_GRADER_API_TOKEN": secrets.token_hex(16),
        "COURSEHUB_ADMIN_TOKEN": admin_token,
        "COURSEHUB_PUBLISH_PORT": str(port),
        "COURSEHUB_DOCKER_PREFIX": name,
        "COURSEHUB_HUB_IMAGE": hub_image,
        "COURSEHUB_LEARNER_IMAGE": learner_image,
        "COURSEHUB_POSTGRES_IMAGE": POSTGRES_IMAGE,
    }
    # The test's changes to the shipped file, as a second compose file: grading containers
    # named after the stack, so that the cleanup finds any left behind
    shipped = yaml.safe_load(STACK_FILE.read_text())
    options = [f"--DockerExecutor.name_prefix={name}-grading-"]
    override = {
        "version": shipped["version"],
        "services": {
            s: {"command": [*shipped["services"][s]["command"], *options]}
            for s in ("grader", "grader-worker")
        },
    }
    override_file = tmp_path_factory.mktemp("swarm") / "test-override.yml"
    override_file.write_text(yaml.safe_dump(override))
    deployed = SwarmStack(docker_engine, name, port, admin_token, env)
    try:
        started = time.monotonic()
        result = docker_cli(
            "stack", "deploy", "-c", str(STACK_FILE), "-c", str(override_file),
            "--resolve-image", "never", name, env=env,
        )  # fmt: skip
        print(f"\ndocker stack deploy: {time.monotonic() - started:.1f} s\n{result.stderr}")
        deployed.wait_for_grader()
        print(f"deploy -> grader healthy through the Hub: {time.monotonic() - started:.1f} s")
        yield deployed
    except BaseException:
        print(deployed.log())
        raise
    finally:
        started = time.monotonic()
        left = remove_stack(docker_engine, name)
        print(f"stack removed: {time.monotonic() - started:.1f} s")
        assert not left, f"left behind: {left}"


def learner_token(stack: SwarmStack, name: str, course: str) -> str:
    """A learner made through the Hub's API who joined the (open) course, and a token
    of theirs for the grader."""
    r = stack.api("POST", f"/users/{name}")
    assert r.status_code == 201, r.text
    r = stack.api("POST", f"/users/{name}/tokens", json={"note": "swarm test"})
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    r = requests.post(
        f"{stack.grader}courses/{course}/enrol",
        headers={"Authorization": f"token {token}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return token


def db_report(stack: SwarmStack) -> dict:
    """The grader's tables, read by a one-off container on the stack's attachable network."""
    url = f"postgresql+psycopg://coursehub:{stack.env['POSTGRES_PASSWORD']}@postgres:5432/grader"
    output = stack.client.containers.run(
        stack.env["COURSEHUB_HUB_IMAGE"],
        ["python", "-c", DB_REPORT],
        name=f"{stack.name}-db-report",
        network=f"{stack.name}_backend",
        environment={"COURSEHUB_GRADER_DB_URL": url},
        remove=True,
    )
    return json.loads(output)


def test_replicated_workers_grade_every_submission_exactly_once(stack):
    try:
        check_exactly_once(stack)
    except BaseException:
        print(stack.log())
        raise


def check_exactly_once(stack: SwarmStack):
    question = author_square_question(stack.url, stack.admin_token, "swarm", stack.log)
    tokens = {
        f"swarm{i}": learner_token(stack, f"swarm{i}", question["course"]) for i in range(LEARNERS)
    }

    def call(token, method, path, **kwargs):
        headers = {"Authorization": f"token {token}"}
        return requests.request(method, stack.grader + path, headers=headers, timeout=30, **kwargs)

    # each learner opens the question first, as the extension does. (A learner's very
    # first requests arriving together can fail: two replicas, or two API threads,
    # both create the grader's `users` row and one hits its unique key.)
    for token in tokens.values():
        r = call(token, "GET", f"questions/{question['id']}")
        assert r.status_code == 200, r.text
    student = r.json()["notebook"]
    sources = list(ANSWERS)
    plan = [  # (learner, answer): each learner a different mix of the three answers
        (learner, sources[(i + j) % len(sources)])
        for i, learner in enumerate(tokens)
        for j in range(PER_LEARNER)
    ]

    def submit(item):
        learner, source = item
        body = {"question": question["id"], "notebook": answer(student, source)}
        r = call(tokens[learner], "POST", "submissions", json=body)
        assert r.status_code == 202, r.text
        return r.json()["id"]

    started = time.monotonic()
    with ThreadPoolExecutor(LEARNERS) as pool:
        ids = list(pool.map(submit, plan))
    expected = {
        sid: (learner, ANSWERS[source]) for sid, (learner, source) in zip(ids, plan, strict=True)
    }
    assert len(expected) == LEARNERS * PER_LEARNER  # twenty distinct submissions

    results = {}
    deadline = time.monotonic() + 180
    while len(results) < len(expected):
        assert time.monotonic() < deadline, f"not graded: {set(expected) - set(results)}"
        for sid, (learner, _) in expected.items():
            if sid not in results:
                model = call(tokens[learner], "GET", f"submissions/{sid}").json()
                if model["status"] in ("graded", "error"):
                    results[sid] = model
        time.sleep(0.5)
    print(f"{len(ids)} submissions graded in {time.monotonic() - started:.1f} s")

    for sid, (learner, score) in expected.items():
        model = results[sid]
        assert (model["status"], model["score"], model["max_score"]) == ("graded", score, 3)
        assert model["user"] == learner

    report = db_report(stack)
    rows = {row["id"]: row for row in report["submissions"]}
    # one row each, graded, claimed once: no submission was graded twice
    assert set(rows) == set(expected)
    assert all(row["status"] == "graded" and row["attempts"] == 1 for row in rows.values())
    assert all(row["score"] == expected[sid][1] for sid, row in rows.items())
    # both worker replicas graded: the workers that claimed submissions are the two
    # running grader-worker containers (a container's hostname is its short id)
    workers = {w["id"]: w["host"] for w in report["workers"]}
    replicas = {c.id[:12] for c in stack.containers("grader-worker")}
    assert len(replicas) == 2 and set(workers.values()) == replicas, (workers, replicas)
    graded_by = collections.Counter(workers[row["worker"]] for row in rows.values())
    print(f"submissions graded per worker replica: {dict(graded_by)}")
    assert set(graded_by) == replicas
    # best scores: one per learner, their best submission's score; the API agrees
    best = {b["user"]: b for b in report["best"]}
    assert len(report["best"]) == len(best) == LEARNERS
    for learner, token in tokens.items():
        scores = [score for who, score in expected.values() if who == learner]
        assert best[learner]["score"] == max(scores)
        assert rows[best[learner]["submission_id"]]["user"] == learner
        model = call(token, "GET", f"questions/{question['id']}").json()
        assert model["best_score"] == max(scores)
    # which API replica answered is the Hub's proxy's choice (DNS round robin): shown
    served = {
        c.id[:12]: c.logs().decode(errors="replace").count("POST /services/grader/api/v1/submissions")
        for c in stack.containers("grader")
    }  # fmt: skip
    print(f"submissions accepted per API replica: {served}")
    assert sum(served.values()) == len(expected)


# what a learner's server can reach, from inside its container
REACH = """
import os, socket, urllib.request
health = os.environ["COURSEHUB_GRADER_URL"].rstrip("/") + "/api/v1/health"
print(urllib.request.urlopen(health, timeout=10).status)
for name in ("postgres", "grader", "grader-worker"):
    try:
        socket.getaddrinfo(name, 80)
        print(name, "resolves")
    except socket.gaierror:
        print(name, "unknown")
"""


def test_learners_servers_reach_the_grader_only_through_the_hub(stack):
    """DockerSpawner, from the Hub's service, on the stack's `learners` overlay."""
    try:
        learner = "swarmlearner"
        assert stack.api("POST", f"/users/{learner}").status_code == 201
        r = stack.api("POST", f"/users/{learner}/server")
        assert r.status_code in (201, 202), r.text
        deadline = time.monotonic() + 120
        while not (stack.api("GET", f"/users/{learner}").json()["servers"].get("") or {}).get(
            "ready"
        ):
            assert time.monotonic() < deadline, "the learner's server did not start"
            time.sleep(1)
        (server,) = stack.client.containers.list(filters={"name": f"{stack.name}-learner-"})
        assert list(server.attrs["NetworkSettings"]["Networks"]) == [f"{stack.name}-learners"]
        result = server.exec_run(["python3", "-c", REACH])
        assert result.output.decode().split("\n")[:4] == [
            "200",  # the grader, through the Hub's proxy
            "postgres unknown",
            "grader unknown",
            "grader-worker unknown",
        ], result.output
        assert stack.api("DELETE", f"/users/{learner}/server").status_code in (202, 204)
    except BaseException:
        print(stack.log())
        raise
