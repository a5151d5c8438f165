"""Instances: two coursehub Hubs on one machine, each on what its name derives.

The registry's slots are claimed under a lock (several Hubs starting at once), kept
across restarts, and turned into ports, directories, system accounts and Docker names
that no two instances share. Two real Hubs run side by side with their graders, and
the same learner name signs up, signs in and gets a server on each, as two different
system accounts.
"""

from __future__ import annotations

import multiprocessing
import os
import pwd
import secrets
import shutil
import socket
import tempfile
from pathlib import Path

import pytest
import requests

from hub_config import instances_cli
from hub_config.instances import InstanceError, check_name, claim, registered
from hub_config.settings import Settings
from hub_config.testing import RunningHub, process_uid

STRONG = "correct horse battery"


@pytest.fixture
def root():
    # learners' homes lie under it: traversable all the way, like /var/lib/coursehub
    # (pytest's own tmp_path is under a 0700 directory)
    directory = Path(tempfile.mkdtemp(prefix="coursehub-instances-", dir="/tmp"))
    directory.chmod(0o755)
    yield directory / "instances"
    shutil.rmtree(directory, ignore_errors=True)


# -- the registry ------------------------------------------------------------------------


def test_names_claim_the_lowest_free_slot_and_keep_it(root):
    assert claim("physics", root).slot == 1
    assert claim("maths", root).slot == 2
    assert claim("physics", root).slot == 1, "a restart keeps the instance's slot"
    assert registered(root) == {"physics": 1, "maths": 2}


def _claim_in_another_process(args):
    name, root = args
    return name, claim(name, Path(root)).slot


def test_hubs_starting_at_once_never_get_one_slot(root):
    names = [f"c{i}" for i in range(12)]
    with multiprocessing.get_context("spawn").Pool(6) as pool:
        slots = dict(pool.map(_claim_in_another_process, [(n, str(root)) for n in names]))
    assert sorted(slots.values()) == list(range(1, 13))
    assert registered(root) == slots


@pytest.mark.parametrize(
    "name", ["", "Physics", "1st", "a-b", "../etc", "a b", "abcdefghijk", "x;rm", "é"]
)
def test_names_that_cannot_name_accounts_and_directories_are_refused(name):
    with pytest.raises(InstanceError, match="COURSEHUB_INSTANCE"):
        check_name(name)


def test_a_registry_that_is_not_one_is_an_error_not_a_fresh_start(root):
    root.mkdir()
    (root / "instances.json").write_text('{"instances": {"a": "one"}}')
    with pytest.raises(InstanceError, match="not a registry"):
        claim("b", root)
    (root / "instances.json").write_text("{half")
    with pytest.raises(InstanceError, match="cannot be read"):
        claim("b", root)


# -- what a name derives -----------------------------------------------------------------


def test_an_instance_derives_ports_directories_accounts_and_docker_names(root):
    claim("first", root)
    s = Settings.from_environ(
        {"COURSEHUB_INSTANCE": "second", "COURSEHUB_INSTANCES_DIR": str(root)}
    )
    assert s.instance == "second"
    assert (s.port, s.proxy_api_port, s.hub_port, s.grader_port) == (8200, 8201, 8281, 10301)
    assert s.state_dir == root / "second" / "state"
    assert s.homes_dir == root / "second" / "homes"
    assert s.system_user_prefix == "ch-second-"
    assert s.docker_prefix == "coursehub-second"
    assert s.docker_network == "coursehub-second-learners"
    assert s.grader_db_url == f"sqlite:///{root}/second/state/grader.sqlite"
    assert (root / "second").stat().st_mode & 0o777 == 0o711


def test_explicit_settings_win_over_what_the_name_derives(root, tmp_path):
    s = Settings.from_environ(
        {
            "COURSEHUB_INSTANCE": "lab",
            "COURSEHUB_INSTANCES_DIR": str(root),
            "COURSEHUB_PORT": "9000",
            "COURSEHUB_STATE_DIR": str(tmp_path / "elsewhere"),
        }
    )
    assert s.port == 9000 and s.state_dir == tmp_path / "elsewhere"
    assert s.hub_port == 8181 and s.system_user_prefix == "ch-lab-"


def test_without_an_instance_the_default_hub_is_unchanged(tmp_path):
    s = Settings.from_environ({}, repo_dir=tmp_path)
    assert (s.port, s.proxy_api_port, s.hub_port, s.grader_port) == (8000, 8001, 8081, 10101)
    assert s.state_dir == tmp_path / ".state" and s.system_user_prefix == "ch-"
    assert s.docker_prefix == "coursehub" and s.instance == ""


def test_every_instance_port_is_distinct_from_every_other(root):
    ports = [p for i in range(20) for p in claim(f"n{i}", root).ports.values()]
    ports += [8000, 8001, 8081, 10101]  # the default Hub's
    assert len(ports) == len(set(ports))
    with pytest.raises(InstanceError, match="no free slot"):
        claim("onetoomany", root)


# -- two Hubs side by side ---------------------------------------------------------------


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def instance_on_free_ports(root: Path) -> str:
    """A new instance name whose derived ports nothing on this machine listens on (a
    real instance of a developer's may hold a slot's ports: the names claimed on the
    way stay unused in this test's own registry)."""
    while True:
        name = f"t{secrets.token_hex(3)}"
        if all(port_is_free(port) for port in claim(name, root).ports.values()):
            return name


@pytest.mark.hub
def test_two_instances_run_side_by_side_and_the_same_learner_signs_in_on_each(root):
    name = f"i{secrets.token_hex(3)}"
    env = {"COURSEHUB_ALLOWED_EMAIL_DOMAINS": "uni.example"}
    first = RunningHub(env=env, instance=instance_on_free_ports(root), instances_dir=root)
    second = RunningHub(env=env, instance=instance_on_free_ports(root), instances_dir=root)
    with first, second:
        for hub in (first, second):
            hub.learners.append(name)
        # each Hub's own grader answers on its own port, through its own proxy
        for hub in (first, second):
            r = requests.get(f"{hub.url}/services/grader/api/v1/health", timeout=10)
            assert r.status_code == 200, r.text
        sessions = [hub.sign_up_and_in(name, STRONG) for hub in (first, second)]
        pids = [hub.start_server(name)["state"]["pid"] for hub in (first, second)]

        accounts = [pwd.getpwuid(process_uid(pid)).pw_name for pid in pids]
        assert accounts == [first.system_user_prefix + name, second.system_user_prefix + name]
        homes = [pwd.getpwnam(a).pw_dir for a in accounts]
        assert homes == [str(first.homes_dir / name), str(second.homes_dir / name)]
        # each session is good on its own Hub only: two cookie secrets, two databases
        for session, hub, other in zip(sessions, (first, second), (second, first), strict=True):
            r = session.get(f"{hub.url}/hub/home", timeout=10, allow_redirects=False)
            assert r.status_code == 200 and name in r.text
            r = session.get(f"{other.url}/hub/home", timeout=10, allow_redirects=False)
            assert r.status_code == 302 and "/hub/login" in r.headers["Location"]
    for hub in (first, second):
        with pytest.raises(KeyError):
            pwd.getpwnam(hub.system_user_prefix + name)


# -- coursehub-instances -----------------------------------------------------------------


def test_the_command_lists_instances_and_forgets_a_stopped_one(root, capsys):
    claim("physics", root)
    claim("maths", root)
    assert instances_cli.main(["--root", str(root), "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed] == ["physics", "maths"]
    assert "http://127.0.0.1:8100" in listed[0] and "stopped" in listed[0]

    assert instances_cli.main(["--root", str(root), "forget", "physics"]) == 0
    assert "kept in" in capsys.readouterr().out
    assert registered(root) == {"maths": 2}
    assert (root / "physics").is_dir(), "its data stays"
    assert claim("chemistry", root).slot == 1, "the freed slot is given again"


def test_a_running_instance_or_an_unknown_one_is_not_forgotten(root, capsys):
    maths = claim("maths", root)
    maths.state_dir.mkdir(parents=True)
    (maths.state_dir / "jupyterhub.pid").write_text(str(os.getpid()))  # a live process
    assert instances_cli.main(["--root", str(root), "list"]) == 0
    assert "running" in capsys.readouterr().out
    assert instances_cli.main(["--root", str(root), "forget", "maths"]) == 2
    assert "is running: stop its Hub first" in capsys.readouterr().err
    assert instances_cli.main(["--root", str(root), "forget", "nosuch"]) == 2
    assert "no instance 'nosuch'" in capsys.readouterr().err
    assert registered(root) == {"maths": 1}
