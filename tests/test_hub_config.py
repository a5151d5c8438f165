"""Each apply_* function on a bare traitlets Config, with no Hub running."""

import sys
from pathlib import Path

import pytest
from traitlets.config import Config

from hub_config import Settings, apply_all
from hub_config.authenticator import TEMPLATES_DIR, CoursehubAuthenticator, apply_auth
from hub_config.hub import apply_hub
from hub_config.roles import AUTHOR_SCOPE, LEARN_SCOPE, apply_roles
from hub_config.services import apply_services
from hub_config.settings import REPO_DIR
from hub_config.spawner import DEVELOPMENT_MODE_MESSAGE, LocalDevSpawner, apply_spawner


@pytest.fixture
def settings(tmp_path):
    return Settings(state_dir=tmp_path / "state", admin_token="tok-123")


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


@pytest.mark.parametrize(
    "env, name",
    [
        ({"COURSEHUB_PORT": "eighty"}, "COURSEHUB_PORT"),
        ({"COURSEHUB_GRADER_PORT": "70000"}, "COURSEHUB_GRADER_PORT"),
        ({"COURSEHUB_ALLOW_UNSANDBOXED": "maybe"}, "COURSEHUB_ALLOW_UNSANDBOXED"),
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
    assert c.JupyterHub.cleanup_servers is True and c.JupyterHub.cleanup_proxy is True
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
    assert set(c.JupyterHub.custom_scopes) == {LEARN_SCOPE, AUTHOR_SCOPE}
    assert all(spec["description"] for spec in c.JupyterHub.custom_scopes.values())
    roles = roles_by_name(c)
    assert set(roles["user"]["scopes"]) == {
        "self",
        "custom:coursehub:learn",
        "access:services!service=grader",
    }
    instructor = roles["instructor"]
    assert set(instructor["scopes"]) == {
        "custom:coursehub:author",
        "custom:coursehub:learn",
        "access:services!service=grader",
    }
    assert instructor["groups"] == ["instructors"]
    assert "instructors" in c.JupyterHub.load_groups
    assert roles["coursehub-grader"]["services"] == ["grader"]
    assert "read:users" in roles["coursehub-grader"]["scopes"]
    admin = roles["coursehub-admin"]
    assert admin["services"] == ["coursehub-admin"]
    assert {"admin:users", "admin:servers", "admin-ui", AUTHOR_SCOPE} <= set(admin["scopes"])


def test_server_token_scopes_keep_defaults_and_reach_the_grader(settings):
    c = Config()
    apply_roles(c, settings)
    scopes = set(c.Spawner.server_token_scopes)
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
    apply_services(c, settings)
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
    }
    assert set(grader["oauth_client_allowed_scopes"]) == {LEARN_SCOPE, AUTHOR_SCOPE}
    assert services["coursehub-admin"] == {"name": "coursehub-admin", "api_token": "tok-123"}


def test_apply_services_options(tmp_path):
    c = Config()
    apply_services(c, Settings(state_dir=tmp_path, grader_enabled=False))
    assert c.JupyterHub.services == []
    c = Config()
    apply_services(c, Settings(state_dir=tmp_path, allow_unsandboxed=True))
    (grader,) = c.JupyterHub.services
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
    assert {s["name"] for s in c.JupyterHub.services} == {"grader", "coursehub-admin"}
    assert "instructor" in roles_by_name(c)
    assert c.JupyterHub.bind_url == "http://127.0.0.1:8000"


def test_jupyterhub_config_file_applies_settings_from_environ(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEHUB_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("COURSEHUB_PORT", "8123")
    c = Config()
    source = (REPO_DIR / "jupyterhub_config.py").read_text()
    path = str(REPO_DIR / "jupyterhub_config.py")
    # as traitlets loads it: with get_config and __file__
    exec(compile(source, path, "exec"), {"get_config": lambda: c, "__file__": path})
    assert c.JupyterHub.bind_url == "http://127.0.0.1:8123"
