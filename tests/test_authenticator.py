"""CoursehubAuthenticator: sign-up, approval and login, in-process and in a real Hub."""

import secrets
import stat
from types import SimpleNamespace

import pytest
import requests
from tornado import web

from hub_config.authenticator import (
    PENDING_MESSAGE,
    USERNAME_RULE,
    CoursehubAuthenticator,
    SignupError,
)
from hub_config.testing import RunningHub

# -- in process: the authenticator object on a SQLite file ------------------------------


@pytest.fixture
def authenticator(tmp_path):
    return CoursehubAuthenticator(
        db_url=f"sqlite:///{tmp_path}/hub.sqlite",
        bcrypt_rounds=4,
        preapproved_users={"pia"},
        admin_users={"admin"},
        bootstrap_admin="admin",
        admin_password_file=str(tmp_path / "admin-password"),
    )


async def test_sign_up_then_authenticate(authenticator):
    account = await authenticator.sign_up("Bob", "correct horse", "correct horse")
    assert account.username == "bob" and account.approved is False
    stored = authenticator.store.find("bob").password_hash
    assert b"correct horse" not in stored and stored.startswith(b"$2")
    assert (
        await authenticator.authenticate(None, {"username": "BOB", "password": "correct horse"})
        == "bob"
    )
    assert (
        await authenticator.authenticate(None, {"username": "bob", "password": "wrong one"}) is None
    )
    assert (
        await authenticator.authenticate(None, {"username": "nobody", "password": "x" * 9}) is None
    )


async def test_pending_account_is_told_to_wait(authenticator):
    await authenticator.sign_up("carl", "password1")
    assert authenticator.check_allowed("carl") is False
    with pytest.raises(web.HTTPError) as e:
        authenticator.check_allowed("carl", {"name": "carl"})
    assert e.value.status_code == 403 and e.value.log_message == PENDING_MESSAGE


async def test_preapproved_and_hub_users_are_approved(authenticator):
    assert (await authenticator.sign_up("pia", "password1")).approved is True
    assert authenticator.check_allowed("pia", {"name": "pia"})
    # an admin adding the user in the Hub (admin panel / API) approves the account
    await authenticator.sign_up("dora", "password1")
    await authenticator.add_user(SimpleNamespace(name="dora"))
    assert authenticator.check_allowed("dora", {"name": "dora"})
    assert authenticator.store.find("dora").approved is True
    await authenticator.delete_user(SimpleNamespace(name="dora"))
    assert authenticator.check_allowed("dora") is False
    assert authenticator.store.find("dora").approved is False


@pytest.mark.parametrize(
    "username, password, confirmation, email, message",
    [
        ("9lives", "password1", None, None, USERNAME_RULE),
        ("bad name", "password1", None, None, "not a valid username"),
        ("a" * 30, "password1", None, None, "at most 29 characters"),
        ("ok", "short", None, None, "at least 8 characters"),
        ("ok", "password1", "password2", None, "do not match"),
        ("ok", "password1", None, "not-an-email", "not an email address"),
    ],
)
async def test_sign_up_refusals_say_what_is_wrong(
    authenticator, username, password, confirmation, email, message
):
    with pytest.raises(SignupError, match=message) as e:
        await authenticator.sign_up(username, password, confirmation, email)
    assert e.value.status == 400
    assert authenticator.store.find("ok") is None


async def test_duplicate_username(authenticator):
    await authenticator.sign_up("eve", "password1")
    with pytest.raises(SignupError, match="'eve' is already taken") as e:
        await authenticator.sign_up("EVE", "password2")
    assert e.value.status == 409


async def test_admin_account_from_configured_password(authenticator):
    authenticator.bootstrap_admin_password = "admin-pass-1"
    await authenticator.add_user(SimpleNamespace(name="admin"))
    assert await authenticator.authenticate(None, {"username": "admin", "password": "admin-pass-1"})
    # a changed password in the environment replaces the old one at the next start
    authenticator.bootstrap_admin_password = "admin-pass-2"
    await authenticator.add_user(SimpleNamespace(name="admin"))
    assert await authenticator.authenticate(None, {"username": "admin", "password": "admin-pass-2"})
    assert not await authenticator.authenticate(
        None, {"username": "admin", "password": "admin-pass-1"}
    )


# -- a real Hub --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hub():
    # no COURSEHUB_ADMIN_PASSWORD: the Hub generates one at first start
    with RunningHub(env={"COURSEHUB_GRADER_ENABLED": "0", "COURSEHUB_ADMIN_PASSWORD": ""}) as h:
        yield h


def form_session(hub, page):
    """A browser-like session holding the _xsrf cookie the page sets."""
    s = requests.Session()
    r = s.get(f"{hub.url}/hub/{page}")
    assert r.status_code == 200
    return s


def sign_up(hub, username, password, confirmation=None, **extra):
    s = form_session(hub, "signup")
    data = {
        "username": username,
        "password": password,
        "password_confirmation": password if confirmation is None else confirmation,
        "_xsrf": s.cookies["_xsrf"],
        **extra,
    }
    return s.post(f"{hub.url}/hub/signup", data=data, allow_redirects=False)


def log_in(hub, username, password):
    s = form_session(hub, "login")
    data = {"username": username, "password": password, "_xsrf": s.cookies["_xsrf"]}
    return s.post(f"{hub.url}/hub/login", data=data, allow_redirects=False)


def new_name():
    return f"t{secrets.token_hex(4)}"


@pytest.mark.hub
def test_login_page_links_to_signup_form(hub):
    login = requests.get(f"{hub.url}/hub/login")
    assert 'href="/hub/signup"' in login.text
    signup = requests.get(f"{hub.url}/hub/signup")
    assert signup.status_code == 200
    for field in ('name="username"', 'name="password"', 'name="_xsrf"', 'name="email"'):
        assert field in signup.text


@pytest.mark.hub
def test_signup_pending_approval_login(hub):
    name = new_name()
    r = sign_up(hub, name, "s3cret-password", email=f"{name}@example.org")
    assert r.status_code == 201
    assert "waiting for approval" in r.text

    r = log_in(hub, name, "s3cret-password")
    assert r.status_code == 403
    assert "waiting for approval by an administrator" in r.text

    # the admin approves by adding the user to the Hub (admin panel or REST API)
    assert hub.api("POST", f"/users/{name}").status_code == 201

    r = log_in(hub, name.upper(), "s3cret-password")
    assert r.status_code == 302, r.text
    assert "jupyterhub-hub-login" in r.cookies

    r = log_in(hub, name, "not-the-password")
    assert r.status_code == 403
    assert "Invalid username or password" in r.text


@pytest.mark.hub
def test_signup_refusals_in_the_form(hub):
    r = sign_up(hub, "1-not-a-name", "s3cret-password")
    assert r.status_code == 400
    assert "is not a valid username" in r.text and "starts with a letter" in r.text

    r = sign_up(hub, new_name(), "short")
    assert r.status_code == 400 and "at least 8 characters" in r.text

    name = new_name()
    assert sign_up(hub, name, "s3cret-password").status_code == 201
    r = sign_up(hub, name, "other-password")
    assert r.status_code == 409 and "is already taken" in r.text


@pytest.mark.hub
def test_signup_needs_the_xsrf_token(hub):
    r = requests.post(
        f"{hub.url}/hub/signup",
        data={"username": new_name(), "password": "s3cret-password"},
        allow_redirects=False,
    )
    assert r.status_code == 403


@pytest.mark.hub
def test_first_admin_password_generated_once(hub):
    path = hub.state_dir / "admin-password"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    password = path.read_text().strip()
    assert len(password) >= 16
    # shown once on the console, and never through the logger
    log = hub.log()
    assert log.count(password) == 1
    assert not any(password in line for line in log.splitlines() if "JupyterHub" in line)

    r = log_in(hub, "admin", password)
    assert r.status_code == 302, r.text
    # the name is taken: nobody can sign up as the admin
    assert sign_up(hub, "admin", "s3cret-password").status_code == 409


@pytest.mark.hub
def test_learner_instructor_and_admin_token_scopes(hub):
    name = new_name()
    assert hub.api("POST", f"/users/{name}").status_code == 201
    token = hub.api("POST", f"/users/{name}/tokens", json={}).json()["token"]

    scopes = set(hub.api("GET", "/user", token=token).json()["scopes"])
    assert {"custom:coursehub:learn", "access:services!service=grader"} <= scopes
    assert "custom:coursehub:author" not in scopes

    # an admin makes someone an instructor by adding them to the `instructors` group
    r = hub.api("POST", "/groups/instructors/users", json={"users": [name]})
    assert r.status_code == 200, r.text
    scopes = set(hub.api("GET", "/user", token=token).json()["scopes"])
    assert "custom:coursehub:author" in scopes

    admin = hub.api("GET", "/user").json()
    assert admin["kind"] == "service" and admin["name"] == "coursehub-admin"
    assert {"custom:coursehub:author", "admin:users", "admin:servers"} <= set(admin["scopes"])
