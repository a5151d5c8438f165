"""Stopping the Hub leaves nothing behind (hub_config.shutdown, grader.app).

A real Hub in development mode, with a few learners' servers each running a kernel,
one learner's background job started from their kernel, and a submission being graded
in its sandbox. SIGTERM, as an operator's Ctrl-C or a service manager would send, and
then: the Hub exited with status 0, no process it started is left (proxy, grader, its
worker processes and sandboxes, learners' servers and kernels), no process runs as a
learner's system account, the kernels were shut down by their servers (their
connection files are gone), and the submission is back in the queue.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import sqlite3
import time
from dataclasses import dataclass

import pytest
import requests
from jupyter_client.jsonutil import json_default
from jupyter_client.session import Session
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect
from traitlets.config import Config

from hub_config import Settings
from hub_config.settings import REPO_DIR
from hub_config.shutdown import (
    KERNEL_SHUTDOWN_WAIT,
    SERVER_KILL_TIMEOUT,
    SERVER_TERM_TIMEOUT,
    apply_shutdown,
)
from hub_config.spawner import LocalDevSpawner
from hub_config.testing import RunningHub
from tests.conftest import answer
from tests.test_end_to_end import Learner, author_square_question

#: an answer that keeps its sandbox busy until the Hub stops: each test cell calling it
#: runs until its time limit
ENDLESS_ANSWER = "def square(x):\n    import time\n    time.sleep(600)\n    return x * x"
#: a learner's job that outlives their kernel: a session of its own, detached
BACKGROUND_JOB = (
    "import subprocess\n"
    "subprocess.Popen(['sleep', '600'], start_new_session=True,\n"
    "                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)"
)


# configuration ---------------------------------------------------------------------


def test_apply_shutdown(tmp_path):
    c = Config()
    c.Spawner.args.append("--another-concern")  # added before: kept
    apply_shutdown(c, Settings(state_dir=tmp_path, spawner="local"))
    assert c.JupyterHub.cleanup_servers is True and c.JupyterHub.cleanup_proxy is True

    spawner = LocalDevSpawner(config=c)
    assert spawner.args == [
        "--another-concern",
        f"--KernelManager.shutdown_wait_time={KERNEL_SHUTDOWN_WAIT}",
    ]
    # the server's own stop (its kernels' included) fits before SIGKILL
    assert spawner.term_timeout == SERVER_TERM_TIMEOUT > KERNEL_SHUTDOWN_WAIT
    assert spawner.kill_timeout == SERVER_KILL_TIMEOUT

    from dockerspawner import DockerSpawner

    assert DockerSpawner(config=c).extra_create_kwargs == {"stop_timeout": SERVER_TERM_TIMEOUT}


# the processes of a Hub -----------------------------------------------------------


@dataclass(frozen=True)
class Process:
    """A process as seen once: its pid and start time name it even if the pid is reused."""

    pid: int
    started: int
    command: str

    @classmethod
    def read(cls, pid: int) -> Process | None:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                command = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            return None
        return cls(pid, int(fields[19]), command)  # field 22 of stat: the start time

    def running(self) -> bool:
        """Still running (a zombie has ended; the same pid started later is another)."""
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return False
        return fields[0] != "Z" and int(fields[19]) == self.started


def process_tree(root: int) -> list[Process]:
    """`root` and every process below it (children of every thread, recursively)."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        process = Process.read(pid)
        if process is None:
            continue
        found.append(process)
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    todo += [int(child) for child in f.read().split()]
            except OSError:
                pass
    return found


def processes_of(uids: set[int]) -> list[Process]:
    """Every process running as one of `uids` (by owner of its /proc entry)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid in uids:
                    found.append(Process.read(int(entry)))
            except OSError:
                pass
    return [p for p in found if p is not None and p.running()]


def wait_for(condition, what: str, timeout: float = 60, log=lambda: ""):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f"{what}, not within {timeout}s\n{log()[-5000:]}"
        time.sleep(0.2)
    return result


# a learner's kernel -----------------------------------------------------------------


def start_kernel(learner: Learner) -> str:
    r = learner.call("POST", "api/kernels", json={"name": "python3"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def execute(learner: Learner, kernel_id: str, code: str) -> dict:
    """Run `code` in a learner's kernel, as JupyterLab does (over the kernel's
    websocket, through the Hub's proxy); the execute_reply's content."""

    async def run():
        url = f"ws://127.0.0.1:{learner.hub.port}/user/{learner.name}/api/kernels/{kernel_id}/channels"
        request = HTTPRequest(url, headers={"Authorization": f"token {learner.token}"})
        ws = await websocket_connect(request)
        try:
            msg = Session().msg(
                "execute_request",
                {"code": code, "silent": False, "store_history": False, "allow_stdin": False},
            )
            msg["channel"] = "shell"
            await ws.write_message(json.dumps(msg, default=json_default))
            while True:
                reply = await asyncio.wait_for(ws.read_message(), 60)
                assert reply is not None, "the kernel's websocket closed"
                reply = json.loads(reply)
                if (
                    reply["msg_type"] == "execute_reply"
                    and reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]
                ):
                    return reply["content"]
        finally:
            ws.close()

    return asyncio.run(run())


def submit(hub: RunningHub, learner: Learner, question: dict, source: str) -> int:
    """Submit straight to the grader's API, with the learner's token."""
    grader = f"{hub.url}/services/grader/api/v1/"
    headers = {"Authorization": f"token {learner.token}"}
    r = requests.get(f"{grader}questions/{question['id']}", headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    notebook = answer(r.json()["notebook"], source)
    r = requests.post(
        f"{grader}submissions",
        headers=headers,
        json={"question": question["id"], "notebook": notebook},
        timeout=30,
    )
    assert r.status_code == 202, r.text
    return r.json()["id"]


def submission_status(hub: RunningHub, learner: Learner, submission_id: int) -> str:
    r = requests.get(
        f"{hub.url}/services/grader/api/v1/submissions/{submission_id}",
        headers={"Authorization": f"token {learner.token}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return r.json()["status"]


# the Hub stopped ------------------------------------------------------------------


@pytest.mark.hub
@pytest.mark.sandbox
def test_sigterm_stops_everything_the_hub_started():
    with RunningHub(env={"COURSEHUB_COURSE_DIR": str(REPO_DIR / "course_content")}) as hub:
        question = author_square_question(hub.url, hub.admin_token, "shutdown", hub.log)
        learners = [Learner(hub, f"sd-{n}") for n in range(3)]
        hub.learners += [learner.name for learner in learners]
        for learner in learners:
            learner.start_server()
        kernels = {learner.name: start_kernel(learner) for learner in learners}
        # a job started from a notebook, in a session of its own: its server does not
        # know of it, and it survives its kernel
        jobber = learners[0]
        assert execute(jobber, kernels[jobber.name], BACKGROUND_JOB)["status"] == "ok"
        # a submission being graded when the Hub stops, its sandbox running
        grading = submit(hub, learners[1], question, ENDLESS_ANSWER)
        wait_for(
            lambda: submission_status(hub, learners[1], grading) == "running",
            "the submission is being graded",
            log=hub.log,
        )
        wait_for(
            lambda: any("bwrap" in p.command for p in process_tree(hub.proc.pid)),
            "its sandbox runs",
            log=hub.log,
        )

        accounts = {
            learner.name: pwd.getpwnam(f"{hub.system_user_prefix}{learner.name}")
            for learner in learners
        }
        uids = {account.pw_uid for account in accounts.values()}
        before = set(process_tree(hub.proc.pid)) | set(processes_of(uids))
        commands = [p.command for p in before]
        # what is about to be stopped: every part, seen
        for part, count in (
            ("configurable-http-proxy", 1),
            ("-m grader", 1),  # the service (`python -m grader ...`)
            ("grader.cli worker", 2),
            ("jupyterhub-singleuser", len(learners)),
            ("ipykernel_launcher", len(learners)),
            ("bwrap", 1),
            ("sleep 600", 1),
        ):
            assert sum(part in c for c in commands) >= count, (part, commands)

        assert hub.stop() == 0, hub.log()[-5000:]

        left = [p for p in before if p.running()]
        assert not left, f"left running after the Hub stopped: {left}\n{hub.log()[-5000:]}"
        assert not processes_of(uids)
        log = hub.log()
        # kernels were shut down by their servers (a killed kernel leaves its connection
        # file); only the background job had to be killed
        for learner in learners:
            runtime = hub.homes_dir / learner.name / ".local/share/jupyter/runtime"
            assert not list(runtime.glob("kernel-*.json")), learner.name
            killed = f"Killed what {learner.name}'s server left running"
            assert (killed in log) == (learner is jobber), learner.name
        # the submission being graded went back to the queue: graded by the next start
        with sqlite3.connect(hub.state_dir / "grader.sqlite") as db:
            row = db.execute(
                "SELECT status, claim, worker FROM submissions WHERE id = ?", (grading,)
            ).fetchone()
        assert row == ("queued", None, None)
