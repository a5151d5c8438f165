"""Each apply_* function on a bare traitlets Config, with no Hub running."""

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from traitlets.config import Config

from hub_config import Settings, apply_all
from hub_config.authenticator import TEMPLATES_DIR, CoursehubAuthenticator, apply_auth
from hub_config.docker import (
    DOCKER_MODE_MESSAGE,
    CoursehubDockerSpawner,
    learner_network_spec,
    network_gateway,
)
from hub_config.hub import apply_hub
from hub_config.roles import AUTHOR_SCOPE, LEARN_SCOPE, apply_roles, instructor_role_spec
from hub_config.services import apply_culler, apply_services
from hub_config.settings import REPO_DIR
from hub_config.spawner import DEVELOPMENT_MODE_MESSAGE, LocalDevSpawner, apply_spawner


@pytest.fixture
def settings(tmp_path):
    # development mode: apply_all must not depend on (or create things in) this
    # machine's Docker engine
    return Settings(state_dir=tmp_path / "state", admin_token="tok-123", spawner="local")


def roles_by_name(c):
    return {role["name"]: role for role in c.JupyterHub.load_roles}


def test_from_environ_defaults():
    s = Settings.from_environ({})
    assert s.state_dir == REPO_DIR / ".state"
    assert (s.port, s.ip, s.grader_port) == (8000, "127.0.0.1", 10101)
    assert s.public_url == "http://127.0.0.1:8000"
    assert s.admin_user == "admin" and s.admin_token is None and s.admin_password is None
    assert s.hub_db_url == f"sqlite:///{REPO_DIR}/.state/jupyterhub.sqlite"
    assert s.grader_db_url == f"sqlite:///{REPO_DIR}/.state/grader.sqlite"
    assert s.course_dir == REPO_DIR / "course_content"
    assert s.homes_dir == Path("/var/lib/coursehub/homes")
    assert s.allow_unsandboxed is False and s.grader_enabled is True


def test_from_environ_reads_every_variable(tmp_path):
    s = Settings.from_environ(
        {
            "COURSEHUB_STATE_DIR": str(tmp_path / "st"),
            "COURSEHUB_PORT": "9000",
            "COURSEHUB_IP": "0.0.0.0",
            "COURSEHUB_ADMIN_TOKEN": "t",
            "COURSEHUB_ADMIN_USER": "Boss",
            "COURSEHUB_ADMIN_PASSWORD": "pw-pw-pw-pw",
            "COURSEHUB_GRADER_PORT": "10200",
            "COURSEHUB_GRADER_DB_URL": "postgresql://db/grader",
            "COURSEHUB_COURSE_DIR": str(tmp_path / "courses"),
            "COURSEHUB_HOMES_DIR": str(tmp_path / "homes"),
            "COURSEHUB_ALLOW_UNSANDBOXED": "yes",
            "COURSEHUB_HUB_DB_URL": "postgresql://db/hub",
            "COURSEHUB_GRADER_ENABLED": "0",
        }
    )
    assert s.state_dir == tmp_path / "st" and s.port == 9000 and s.ip == "0.0.0.0"
    # a wildcard address is not one local processes can connect to
    assert s.grader_public_url == "http://127.0.0.1:9000/services/grader/"
    assert s.admin_user == "boss" and s.admin_password == "pw-pw-pw-pw"
    assert s.grader_port == 10200 and s.grader_db_url == "postgresql://db/grader"
    assert s.hub_db_url == "postgresql://db/hub"
    assert s.allow_unsandboxed is True and s.grader_enabled is False
    assert not (tmp_path / "st").exists()  # reading settings creates nothing


def test_mail_settings_from_environ(tmp_path):
    s = Settings.from_environ(
        {
            "COURSEHUB_STATE_DIR": str(tmp_path),
            "COURSEHUB_SMTP_HOST": "smtp.uni.example",
            "COURSEHUB_SMTP_PORT": "465",
            "COURSEHUB_SMTP_SECURITY": "TLS",
            "COURSEHUB_SMTP_USER": "course",
            "COURSEHUB_MAIL_FROM": "Course <course@uni.example>",
            "COURSEHUB_ALLOWED_EMAIL_DOMAINS": "uni.example, Lab.Uni.Example",
            "COURSEHUB_PUBLIC_URL": "https://course.uni.example/",
            "COURSEHUB_HUB_CONFIG": str(tmp_path / "mine.py"),
        }
    )
    c = Config()
    apply_auth(c, s)
    auth = c.CoursehubAuthenticator
    assert (auth.smtp_host, auth.smtp_port, auth.smtp_security) == ("smtp.uni.example", 465, "tls")
    assert auth.smtp_user == "course" and "smtp_password" not in auth  # from its own variable
    assert auth.mail_from == "Course <course@uni.example>"
    assert auth.allowed_email_domains == {"uni.example", "lab.uni.example"}
    assert auth.public_url == "https://course.uni.example"
    assert auth.maildir == str(tmp_path / "mail")
    assert s.hub_config_file == tmp_path / "mine.py"


@pytest.mark.parametrize(
    "env, name",
    [
        ({"COURSEHUB_PORT": "eighty"}, "COURSEHUB_PORT"),
        ({"COURSEHUB_GRADER_PORT": "70000"}, "COURSEHUB_GRADER_PORT"),
        ({"COURSEHUB_ALLOW_UNSANDBOXED": "maybe"}, "COURSEHUB_ALLOW_UNSANDBOXED"),
        ({"COURSEHUB_SMTP_SECURITY": "ssl"}, "COURSEHUB_SMTP_SECURITY"),
        ({"COURSEHUB_SMTP_PORT": "x"}, "COURSEHUB_SMTP_PORT"),
    ],
)
def test_bad_environment_names_the_variable(env, name):
    with pytest.raises(ValueError, match=name):
        Settings.from_environ(env)


def test_apply_hub(settings):
    c = Config()
    apply_hub(c, settings)
    state = settings.state_dir
    assert state.is_dir() and state.stat().st_mode & 0o777 == 0o700
    assert c.JupyterHub.bind_url == "http://127.0.0.1:8000"
    assert c.JupyterHub.hub_ip == "127.0.0.1"
    assert c.JupyterHub.db_url == f"sqlite:///{state}/jupyterhub.sqlite"
    assert c.JupyterHub.cookie_secret_file == str(state / "jupyterhub_cookie_secret")
    assert c.Spawner.default_url == "/lab"
    assert c.Spawner.start_timeout >= 60


def test_apply_hub_closes_an_open_state_dir(settings):
    settings.state_dir.mkdir(mode=0o755)
    apply_hub(Config(), settings)
    assert settings.state_dir.stat().st_mode & 0o777 == 0o700


def test_apply_auth(settings):
    c = Config()
    apply_auth(c, settings)
    assert c.JupyterHub.authenticator_class is CoursehubAuthenticator
    assert c.Authenticator.admin_users == {"admin"}
    assert c.CoursehubAuthenticator.db_url == settings.hub_db_url
    assert c.CoursehubAuthenticator.admin_password_file == str(
        settings.state_dir / "admin-password"
    )
    assert str(TEMPLATES_DIR) in c.JupyterHub.template_paths
    assert (TEMPLATES_DIR / "signup.html").exists()
    # no password configured: generated at first start, not set in config
    assert "bootstrap_admin_password" not in c.CoursehubAuthenticator


def test_apply_auth_with_admin_password(tmp_path):
    c = Config()
    apply_auth(c, Settings(state_dir=tmp_path, admin_user="boss", admin_password="s3cret-pw"))
    assert c.Authenticator.admin_users == {"boss"}
    assert c.CoursehubAuthenticator.bootstrap_admin == "boss"
    assert c.CoursehubAuthenticator.bootstrap_admin_password == "s3cret-pw"


def test_apply_roles_scopes_and_roles(settings):
    c = Config()
    apply_roles(c, settings)
    assert {LEARN_SCOPE, AUTHOR_SCOPE, "custom:coursehub:hub"} <= set(c.JupyterHub.custom_scopes)
    assert all(spec["description"] for spec in c.JupyterHub.custom_scopes.values())
    roles = roles_by_name(c)
    # learning comes with a course (hub_config.courses), not with being a user
    assert set(roles["user"]["scopes"]) == {"self", "access:services!service=grader"}
    # with managed roles, load_roles may not assign roles to users or groups
    assert not any(role.get("users") or role.get("groups") for role in c.JupyterHub.load_roles)
    instructor = instructor_role_spec()
    assert set(instructor["scopes"]) == {
        "custom:coursehub:author",
        "custom:coursehub:learn",
        "access:services!service=grader",
    }
    assert instructor["groups"] == ["instructors"]
    assert {"instructors", "restricted"} <= set(c.JupyterHub.load_groups)
    assert roles["coursehub-grader"]["services"] == ["grader"]
    # names of users; courses' groups made and their members changed
    assert {"read:users", "admin:groups"} <= set(roles["coursehub-grader"]["scopes"])
    # the Hub's own calls to the grader (LTI launches, audit): a service, never a user
    hub_calls = roles["coursehub-hub"]
    assert hub_calls["services"] == ["coursehub-hub"]
    assert set(hub_calls["scopes"]) == {"custom:coursehub:hub", "access:services!service=grader"}
    assert not any(
        "custom:coursehub:hub" in r["scopes"] for n, r in roles.items() if n != "coursehub-hub"
    )
    admin = roles["coursehub-admin"]
    assert admin["services"] == ["coursehub-admin"]
    assert {"admin:users", "admin:servers", "admin-ui", AUTHOR_SCOPE} <= set(admin["scopes"])


def test_server_token_scopes_follow_the_owner_but_not_for_admins(settings):
    c = Config()
    apply_roles(c, settings)
    choose = c.Spawner.server_token_scopes
    learner = SimpleNamespace(user=SimpleNamespace(admin=False))
    assert choose(learner) == ["inherit"]  # a course joined reaches a running server
    scopes = set(choose(SimpleNamespace(user=SimpleNamespace(admin=True))))
    assert "inherit" not in scopes and "admin:users" not in scopes
    # JupyterHub's defaults (the `server` role), which an explicit list replaces
    assert {"users:activity!user", "access:servers!server"} <= scopes
    assert {"access:services!service=grader", "custom:coursehub:learn"} <= scopes


def test_roles_without_grader_or_admin_token(tmp_path):
    c = Config()
    apply_roles(c, Settings(state_dir=tmp_path, grader_enabled=False))
    # JupyterHub refuses roles naming services that are not defined
    assert not any(role.get("services") for role in c.JupyterHub.load_roles)


def test_apply_services(settings):
    c = Config()
    apply_services(c, settings, docker_probe=lambda: False)
    services = {s["name"]: s for s in c.JupyterHub.services}
    grader = services["grader"]
    assert grader["url"] == "http://127.0.0.1:10101"
    assert grader["command"] == [sys.executable, "-m", "grader"]
    assert grader["oauth_no_confirm"] is True
    assert grader["environment"] == {
        "COURSEHUB_GRADER_DB_URL": settings.grader_db_url,
        "COURSEHUB_COURSE_DIR": str(settings.course_dir),
        "COURSEHUB_ALLOW_UNSANDBOXED": "0",
        "COURSEHUB_STATE_DIR": str(settings.state_dir),
        "COURSEHUB_GRADER_PORT": "10101",
        "COURSEHUB_EXECUTOR": "auto",
    }
    assert set(grader["oauth_client_allowed_scopes"]) == {LEARN_SCOPE, AUTHOR_SCOPE}
    assert services["coursehub-admin"] == {"name": "coursehub-admin", "api_token": "tok-123"}


def test_the_grader_gets_the_ai_keys_and_no_other_variable(settings, monkeypatch):
    monkeypatch.setenv("COURSEHUB_AI_OPENAI_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-passed")
    c = Config()
    apply_services(c, settings, docker_probe=lambda: False)
    grader = {s["name"]: s for s in c.JupyterHub.services}["grader"]
    assert grader["environment"]["COURSEHUB_AI_OPENAI_KEY"] == "sk-test"
    assert "OPENAI_API_KEY" not in grader["environment"]


def test_apply_services_options(tmp_path):
    c = Config()
    apply_services(c, Settings(state_dir=tmp_path, grader_enabled=False))
    assert c.JupyterHub.services == []
    c = Config()
    apply_services(
        c, Settings(state_dir=tmp_path, allow_unsandboxed=True), docker_probe=lambda: False
    )
    (grader, _hub_calls) = c.JupyterHub.services
    assert grader["environment"]["COURSEHUB_ALLOW_UNSANDBOXED"] == "1"


def test_apply_spawner_development_mode(settings, capsys):
    c = Config()
    apply_spawner(c, settings, docker_probe=lambda: False)
    assert c.JupyterHub.spawner_class is LocalDevSpawner
    assert c.LocalDevSpawner.homes_dir == "/var/lib/coursehub/homes"
    assert c.LocalDevSpawner.grader_url == "http://127.0.0.1:8000/services/grader/"
    singleuser = Path(c.LocalDevSpawner.cmd[0])
    assert singleuser.name == "jupyterhub-singleuser" and singleuser.exists()
    assert DEVELOPMENT_MODE_MESSAGE in capsys.readouterr().err


def test_apply_all_gives_a_complete_config(settings, capsys):
    c = Config()
    apply_all(c, settings)
    assert c.JupyterHub.authenticator_class is CoursehubAuthenticator
    assert c.JupyterHub.spawner_class is LocalDevSpawner
    assert {s["name"] for s in c.JupyterHub.services} == {
        "grader",
        "coursehub-hub",
        "coursehub-admin",
        "idle-culler",
    }
    assert "coursehub-grader" in roles_by_name(c)
    assert c.JupyterHub.bind_url == "http://127.0.0.1:8000"


def test_jupyterhub_config_file_applies_settings_from_environ(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEHUB_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("COURSEHUB_SPAWNER", "local")
    monkeypatch.setenv("COURSEHUB_PORT", "8123")
    c = Config()
    source = (REPO_DIR / "jupyterhub_config.py").read_text()
    path = str(REPO_DIR / "jupyterhub_config.py")
    # as traitlets loads it: with get_config and __file__
    exec(compile(source, path, "exec"), {"get_config": lambda: c, "__file__": path})
    assert c.JupyterHub.bind_url == "http://127.0.0.1:8123"


# Docker mode ----------------------------------------------------------------------


def docker_settings(tmp_path, **kwargs):
    return Settings(state_dir=tmp_path / "state", spawner="docker", **kwargs)


def test_docker_settings_from_environ(tmp_path):
    s = Settings.from_environ(
        {
            "COURSEHUB_STATE_DIR": str(tmp_path),
            "COURSEHUB_SPAWNER": "Docker",
            "COURSEHUB_EXECUTOR": "bubblewrap",
            "COURSEHUB_LEARNER_IMAGE": "me/learner:1",
            "COURSEHUB_DOCKER_PREFIX": "coursehub-test-x",
            "COURSEHUB_LEARNER_MEM_LIMIT": "512M",
            "COURSEHUB_LEARNER_CPU_LIMIT": "0.5",
            "COURSEHUB_LEARNER_PIDS_LIMIT": "100",
            "COURSEHUB_CULL_TIMEOUT": "0",
            "COURSEHUB_GRADER_URL_INTERNAL": "http://grader:10101/",
            "COURSEHUB_GRADER_API_TOKEN": "g-tok",
            "COURSEHUB_HUB_CONNECT_HOST": "hub",
        }
    )
    assert (s.spawner, s.executor, s.learner_image) == ("docker", "bubblewrap", "me/learner:1")
    assert s.docker_network == "coursehub-test-x-learners"
    assert (s.learner_mem_limit, s.learner_cpu_limit, s.learner_pids_limit) == ("512M", 0.5, 100)
    assert s.cull_timeout == 0 and s.hub_connect_host == "hub"
    assert s.grader_url == "http://grader:10101" and s.grader_runs_elsewhere
    defaults = Settings.from_environ({"COURSEHUB_STATE_DIR": str(tmp_path)})
    assert (defaults.spawner, defaults.executor, defaults.cull_timeout) == ("auto", "auto", 3600)
    assert defaults.learner_image == "coursehub/learner:latest"
    assert defaults.docker_network == "coursehub-learners" and not defaults.grader_runs_elsewhere


@pytest.mark.parametrize(
    "env, name",
    [
        ({"COURSEHUB_SPAWNER": "kubernetes"}, "COURSEHUB_SPAWNER"),
        ({"COURSEHUB_EXECUTOR": "chroot"}, "COURSEHUB_EXECUTOR"),
        ({"COURSEHUB_CULL_TIMEOUT": "-5"}, "COURSEHUB_CULL_TIMEOUT"),
        ({"COURSEHUB_LEARNER_CPU_LIMIT": "lots"}, "COURSEHUB_LEARNER_CPU_LIMIT"),
        ({"COURSEHUB_GRADER_URL_INTERNAL": "http://grader:10101"}, "COURSEHUB_GRADER_API_TOKEN"),
    ],
)
def test_bad_docker_settings_name_the_variable(env, name):
    with pytest.raises(ValueError, match=name):
        Settings.from_environ(env)


def test_apply_spawner_docker_mode_on_one_machine(tmp_path, capsys):
    c = Config()
    asked = []
    settings = docker_settings(tmp_path)
    apply_spawner(
        c,
        settings,
        docker_probe=lambda: True,
        network_gateway=lambda name: asked.append(name) or "172.30.0.1",
    )
    assert asked == ["coursehub-learners"]
    assert c.JupyterHub.spawner_class is CoursehubDockerSpawner
    d = c.DockerSpawner
    assert d.image == "coursehub/learner:latest"
    # the learner's work on a named volume of their own, which outlives the container
    assert d.volumes == {"coursehub-user-{username}": "/home/jovyan/work"}
    assert d.notebook_dir == "/home/jovyan/work" and d.remove is True
    assert d.prefix == "coursehub-learner"
    assert (d.mem_limit, d.cpu_limit, d.extra_host_config) == ("1G", 1.0, {"pids_limit": 512})
    assert d.network_name == "coursehub-learners" and d.use_internal_ip is True
    # containers reach the Hub's API at the gateway, the grader through the proxy
    assert c.JupyterHub.hub_ip == c.JupyterHub.hub_connect_ip == "172.30.0.1"
    assert d.environment["COURSEHUB_GRADER_URL"] == "http://172.30.0.1:8000/services/grader/"
    # and which front end (learner's or instructor's) the server shows: see
    # tests/test_nbgrader_front_end.py
    assert set(d.environment) == {"COURSEHUB_GRADER_URL", "JUPYTER_CONFIG_PATH"}
    # a proxy on loopback only would be out of the containers' reach
    assert c.JupyterHub.bind_url == "http://0.0.0.0:8000"
    err = capsys.readouterr().err
    assert DOCKER_MODE_MESSAGE in err and DEVELOPMENT_MODE_MESSAGE not in err


def test_apply_spawner_docker_mode_in_compose(tmp_path):
    c = Config()
    settings = docker_settings(tmp_path, hub_connect_host="hub", docker_network="net-x")

    def no_engine_lookup(name):
        raise AssertionError("the Hub is reached by name: no gateway lookup")

    apply_spawner(c, settings, docker_probe=lambda: True, network_gateway=no_engine_lookup)
    assert c.JupyterHub.hub_ip == "0.0.0.0" and c.JupyterHub.hub_connect_ip == "hub"
    assert c.DockerSpawner.network_name == "net-x"
    assert c.DockerSpawner.environment["COURSEHUB_GRADER_URL"] == (
        "http://hub:8000/services/grader/"
    )


def test_spawner_choice(tmp_path, capsys):
    # auto follows the engine; docker without one is an error, not development mode
    c = Config()
    apply_spawner(c, Settings(state_dir=tmp_path), docker_probe=lambda: False)
    assert c.JupyterHub.spawner_class is LocalDevSpawner
    assert "no Docker engine answers" in capsys.readouterr().err
    c = Config()
    apply_spawner(c, Settings(state_dir=tmp_path, spawner="local"), docker_probe=lambda: True)
    assert c.JupyterHub.spawner_class is LocalDevSpawner
    with pytest.raises(RuntimeError, match="no Docker engine answers"):
        apply_spawner(Config(), docker_settings(tmp_path), docker_probe=lambda: False)


def test_grader_executor_choice(tmp_path):
    def command(probe, **kwargs):
        c = Config()
        apply_services(c, Settings(state_dir=tmp_path, **kwargs), docker_probe=probe)
        return next(s for s in c.JupyterHub.services if s["name"] == "grader")["command"]

    docker_args = [
        "--GraderApp.executor_class=docker",
        "--DockerExecutor.image=coursehub/learner:latest",
        "--DockerExecutor.name_prefix=coursehub-grading-",
    ]
    assert command(lambda: True)[3:] == docker_args
    # the grader's own default (bubblewrap)
    assert command(lambda: False) == [sys.executable, "-m", "grader"]
    assert command(lambda: True, executor="bubblewrap")[3:] == [
        "--GraderApp.executor_class=bubblewrap"
    ]
    with pytest.raises(RuntimeError, match="no Docker engine"):
        command(lambda: False, executor="docker")


def test_external_grader(tmp_path):
    c = Config()
    settings = Settings(
        state_dir=tmp_path, grader_url_internal="http://grader:10101", grader_api_token="g-tok"
    )
    apply_services(c, settings, docker_probe=lambda: True)
    (grader, _hub_calls) = c.JupyterHub.services
    assert grader["url"] == "http://grader:10101" and grader["api_token"] == "g-tok"
    # the Hub routes to it but does not start it
    assert "command" not in grader and "environment" not in grader


def test_apply_culler(tmp_path):
    c = Config()
    settings = Settings(state_dir=tmp_path, cull_timeout=600)
    apply_services(c, settings, docker_probe=lambda: False)
    apply_roles(c, settings)
    apply_culler(c, settings)
    culler = next(s for s in c.JupyterHub.services if s["name"] == "idle-culler")
    assert culler["command"][:3] == [sys.executable, "-m", "jupyterhub_idle_culler"]
    assert "--timeout=600" in culler["command"]
    role = roles_by_name(c)["idle-culler"]
    assert role["services"] == ["idle-culler"]
    # exactly the scopes the culler's README lists for culling servers
    assert sorted(role["scopes"]) == sorted(
        ["list:users", "read:users:activity", "read:servers", "delete:servers"]
    )
    assert "grader" in {s["name"] for s in c.JupyterHub.services}
    off = Config()
    apply_culler(off, Settings(state_dir=tmp_path, cull_timeout=0))
    assert "services" not in off.JupyterHub


def test_learner_network_spec_and_gateway():
    spec = learner_network_spec("coursehub-learners")
    assert spec["name"] == "coursehub-learners" and spec["driver"] == "bridge"
    # learners' containers cannot reach one another
    assert spec["options"] == {"com.docker.network.bridge.enable_icc": "false"}
    attrs = {
        "Name": "n",
        "IPAM": {"Config": [{"Subnet": "172.30.0.0/16", "Gateway": "172.30.0.1"}]},
    }
    assert network_gateway(attrs) == "172.30.0.1"
    with pytest.raises(RuntimeError, match="no gateway"):
        network_gateway({"Name": "n", "IPAM": {"Config": []}})
