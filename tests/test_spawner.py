"""LocalDevSpawner in a real Hub: each learner's server runs as its own system account."""

import os
import pwd
import secrets
import stat
import subprocess

import pytest
import requests

from hub_config.spawner import delete_system_user
from hub_config.testing import RunningHub, process_running, process_uid

pytestmark = pytest.mark.hub


def new_name():
    return f"sp{secrets.token_hex(4)}"


def spawn(hub, name, timeout=120):
    """Create the user and start their server through the Hub API; the server's pid."""
    assert hub.api("POST", f"/users/{name}").status_code == 201
    return hub.start_server(name, timeout)["state"]["pid"]


def process_env(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        pairs = f.read().split(b"\0")
    return dict(p.decode().split("=", 1) for p in pairs if b"=" in p)


def as_account(account, *cmd):
    return subprocess.run(["runuser", "-u", account, "--", *cmd], capture_output=True)


@pytest.fixture(scope="module")
def learners():
    names = []
    yield names
    for name in names:
        delete_system_user(name)


@pytest.fixture(scope="module")
def hub(learners):
    with RunningHub(env={"COURSEHUB_GRADER_ENABLED": "0"}) as h:
        yield h
    # RunningHub stopped the Hub (and with it the learners' servers) before the
    # learners fixture deletes the accounts


def test_learner_server_runs_as_its_own_account(hub, learners):
    name = new_name()
    learners.append(name)
    pid = spawn(hub, name)

    account = pwd.getpwnam(f"ch-{name}")
    assert process_uid(pid) == account.pw_uid != 0
    home = hub.homes_dir / name
    assert account.pw_dir == str(home)
    assert account.pw_shell == "/usr/sbin/nologin"
    st = home.stat()
    assert st.st_uid == account.pw_uid and stat.S_IMODE(st.st_mode) == 0o700

    env = process_env(pid)
    assert env["HOME"] == str(home) and env["USER"] == f"ch-{name}"
    assert env["COURSEHUB_GRADER_URL"] == f"{hub.url}/services/grader/"
    assert "COURSEHUB_ADMIN_TOKEN" not in env
    assert os.readlink(f"/proc/{pid}/cwd") == str(home)

    # the server's own token lets the server extension call the grader as the learner
    token_model = hub.api("GET", "/user", token=env["JUPYTERHUB_API_TOKEN"]).json()
    assert token_model["name"] == name
    # "inherit": the owner's own scopes, as they are now (hub_config.roles)
    assert {
        "access:services!service=grader",
        f"access:servers!user={name}",
        f"users:activity!user={name}",
    } <= set(token_model["scopes"])
    # in no course yet: no course's scope. Once in one (its Hub group; the grader adds a
    # learner who joins), the running server's token carries that course's scope only
    assert not {s for s in token_model["scopes"] if s.startswith("custom:coursehub")}
    assert hub.api("PUT", "/coursehub/courses/spawn-test", json={}).status_code == 200
    r = hub.api("POST", "/groups/course-spawn-test/users", json={"users": [name]})
    assert r.status_code == 200, r.text
    token_model = hub.api("GET", "/user", token=env["JUPYTERHUB_API_TOKEN"]).json()
    course_scopes = {s for s in token_model["scopes"] if s.startswith("custom:coursehub")}
    # learners hold no authoring scope, so their servers' tokens do not either
    assert course_scopes == {"custom:coursehub:learn!group=course-spawn-test"}

    # reachable through the Hub's proxy; its files are the learner's home
    (home / "hello.txt").write_text("hi")
    r = requests.get(
        f"{hub.url}/user/{name}/api/contents",
        headers={"Authorization": f"token {hub.admin_token}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert [item["name"] for item in r.json()["content"]] == ["hello.txt"]


def test_learners_cannot_read_hub_state_or_each_other(hub, learners):
    first, second = new_name(), new_name()
    learners += [first, second]
    spawn(hub, first)
    spawn(hub, second)
    (hub.homes_dir / second / "answer.ipynb").write_text("{}")

    own = as_account(f"ch-{first}", "ls", str(hub.homes_dir / first))
    assert own.returncode == 0
    other = as_account(f"ch-{first}", "cat", str(hub.homes_dir / second / "answer.ipynb"))
    assert other.returncode != 0 and b"Permission denied" in other.stderr
    state = as_account(f"ch-{first}", "ls", str(hub.state_dir))
    assert state.returncode != 0 and b"Permission denied" in state.stderr


def test_stopping_the_hub_leaves_no_process(learners):
    name = new_name()
    learners.append(name)
    with RunningHub(env={"COURSEHUB_GRADER_ENABLED": "0"}) as hub:
        pid = spawn(hub, name)
        proxy_pid = int((hub.state_dir / "jupyterhub-proxy.pid").read_text())
        assert process_running(pid) and process_running(proxy_pid)
        assert hub.stop() == 0
        assert not process_running(pid), "the learner's server outlived the Hub"
        assert not process_running(proxy_pid), "the proxy outlived the Hub"
        leftover = subprocess.run(["pgrep", "-u", f"ch-{name}"], capture_output=True)
        assert leftover.stdout == b""
