"""Where people land: admins on the admin panel, with no server or system account
until they start one; learners on their own server, as JupyterHub does."""

from __future__ import annotations

import pwd
import secrets
import time

import pytest
import requests

from hub_config.testing import RunningHub

pytestmark = pytest.mark.hub

ADMIN_PASSWORD = "admin horse battery staple"
STRONG = "correct horse battery"


@pytest.fixture(scope="module")
def hub():
    admin = f"adm{secrets.token_hex(3)}"
    env = {
        "COURSEHUB_GRADER_ENABLED": "0",
        "COURSEHUB_ADMIN_USER": admin,
        "COURSEHUB_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "COURSEHUB_ALLOWED_EMAIL_DOMAINS": "uni.example",
    }
    with RunningHub(env=env) as hub:
        hub.admin_name = admin
        hub.learners.append(admin)
        yield hub


def has_system_account(hub, name: str) -> bool:
    try:
        pwd.getpwnam(hub.system_user_prefix + name)
    except KeyError:
        return False
    return True


def servers(hub, name: str) -> dict:
    return hub.api("GET", f"/users/{name}").json()["servers"]


def test_an_admin_lands_on_the_admin_panel_with_no_server_or_account(hub):
    session = requests.Session()
    r = hub.form(session, "login", username=hub.admin_name, password=ADMIN_PASSWORD)
    assert r.status_code == 302 and r.headers["Location"].endswith("/hub/admin"), r.headers
    # the Hub's root sends them there too, every time
    r = session.get(f"{hub.url}/hub/", allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"].endswith("/hub/admin")
    r = session.get(f"{hub.url}/hub/admin", allow_redirects=False, timeout=10)
    assert r.status_code == 200
    time.sleep(1)  # a spawn the login had started would show by now
    assert servers(hub, hub.admin_name) == {}
    assert not has_system_account(hub, hub.admin_name)


def test_a_link_the_admin_followed_to_the_login_is_still_followed(hub):
    session = requests.Session()
    session.get(f"{hub.url}/hub/login?next=%2Fhub%2Fhome", timeout=10)
    r = hub.form(
        session, "login?next=%2Fhub%2Fhome", username=hub.admin_name, password=ADMIN_PASSWORD
    )
    assert r.status_code == 302 and r.headers["Location"].endswith("/hub/home")


def test_an_admin_who_starts_their_server_gets_one(hub):
    hub.start_server(hub.admin_name)
    assert has_system_account(hub, hub.admin_name)
    assert hub.api("DELETE", f"/users/{hub.admin_name}/server").status_code in (202, 204)


def test_a_learner_lands_on_their_own_server(hub):
    name = f"ln{secrets.token_hex(3)}"
    hub.learners.append(name)
    session = requests.Session()
    hub.sign_up_and_in(name, STRONG)
    r = hub.form(session, "login", username=name, password=STRONG)
    # JupyterHub's default: the spawn page, which starts the learner's server
    assert r.status_code == 302 and r.headers["Location"].endswith("/hub/spawn")
    r = session.get(f"{hub.url}/hub/", allow_redirects=False, timeout=10)
    assert r.status_code == 302 and "/hub/admin" not in r.headers["Location"]
