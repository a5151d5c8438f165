"""The audit log with a real Hub: an admin's action in the Hub's own pages (restrict,
lift) reaches the grader's log through the Hub's own token (hub_config.grader_calls),
with the admin as its actor; the Hub's `admin` flag is what lets an admin read it, and
a learner's token reads nothing.

The grader here is the Hub's managed service, run from the installed package.
"""

from __future__ import annotations

import time

import pytest
import requests

from hub_config.testing import RunningHub
from tests.test_accounts_hub import ADMIN_PASSWORD, Browser

pytestmark = pytest.mark.hub


@pytest.fixture(scope="module")
def hub():
    with RunningHub(env={"COURSEHUB_ADMIN_PASSWORD": ADMIN_PASSWORD}) as running:
        wait_for(lambda: grader(running, "GET", "health", running.admin_token).status_code == 200,
                 "the grader answers", running)  # fmt: skip
        yield running


def wait_for(condition, what: str, hub, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not so after {timeout}s: {what}\n{hub.log()[-4000:]}"
        time.sleep(0.5)


def grader(hub, method: str, path: str, token: str, **kwargs):
    return requests.request(
        method,
        f"{hub.url}/services/grader/api/v1/{path}",
        headers={"Authorization": f"token {token}"},
        timeout=30,
        **kwargs,
    )


def token_of(hub, name: str) -> str:
    return hub.api("POST", f"/users/{name}/tokens", json={"note": "test"}).json()["token"]


def test_an_admin_restricting_a_user_is_on_the_graders_log(hub):
    assert hub.api("POST", "/users/au-victim").status_code == 201
    boss = Browser(hub)
    assert boss.log_in("admin", ADMIN_PASSWORD).status_code == 302
    r = boss.post("accounts", action="restrict", username="au-victim")
    assert r.status_code == 200 and "is restricted" in r.text
    assert "Not in the audit log" not in r.text, r.text
    r = boss.post("accounts", action="lift", username="au-victim")
    assert r.status_code == 200 and "Not in the audit log" not in r.text

    # the Hub admin's own token: the identity's `admin` flag lets them read every entry
    admin_token = token_of(hub, "admin")
    r = grader(hub, "GET", "audit?action=account.*", admin_token)
    assert r.status_code == 200, r.text
    entries = r.json()["entries"]
    assert [e["action"] for e in entries] == ["account.restrict", "account.unrestrict"]
    for entry in entries:
        assert entry["actor"] == "admin" and entry["actor_kind"] == "user"
        assert entry["target"] == "user au-victim"
        assert entry["detail"]["via"] == "coursehub-hub"  # vouched for by the Hub's token
        assert entry["address"]  # the admin's browser, as the Hub saw it
    r = grader(hub, "GET", "audit/verify", admin_token)
    assert r.status_code == 200 and r.json()["ok"], r.text

    # the scripts' token (coursehub-admin: the audit scope) reads it too
    r = grader(hub, "GET", "audit?action=account.restrict", hub.admin_token)
    assert r.status_code == 200 and len(r.json()["entries"]) == 1, r.text


def test_only_the_hub_writes_entries_and_learners_read_none(hub):
    assert hub.api("POST", "/users/au-mallory").status_code == 201
    learner = token_of(hub, "au-mallory")
    for path in ("audit", "audit.csv", "audit/verify", "audit/events"):
        assert grader(hub, "GET", path, learner).status_code == 403, path
    forged = {"actor": "admin", "action": "account.restrict", "target": "user au-victim"}
    for token in (learner, token_of(hub, "admin"), hub.admin_token):
        r = grader(hub, "POST", "audit/entries", token, json=forged)
        assert r.status_code == 403, r.text
