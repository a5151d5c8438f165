"""Accounts through a real Hub and its proxy, with mail through a real SMTP server.

A person signs up, gets the code by mail, verifies, waits for approval or not, signs
in, forgets the password, resets it through the mailed link, changes it; an attacker
guesses codes and passwords, floods the forms, reuses links, and reads the logs. The
Hub runs with `COURSEHUB_SMTP_*` pointing at aiosmtpd on loopback and a config file
(`COURSEHUB_HUB_CONFIG`) like an operator's.
"""

from __future__ import annotations

import re
import secrets
import sqlite3

import pytest
import requests

from hub_config.testing import RunningHub
from tests.mail_support import SmtpTestServer

pytestmark = pytest.mark.hub

STRONG = "correct horse battery"
ADMIN_PASSWORD = "admin horse battery staple"
CODE_RE = re.compile(r"\b[A-HJKMNP-Z2-9]{6}\b")
LINK_RE = re.compile(r"http://\S+/hub/reset\?token=[\w-]+")

#: every secret the tests typed or were mailed: none may reach the Hub's log
SECRETS: list[str] = []


def hub_with_mail(smtp: SmtpTestServer, tmp_path_factory, config: str, **env) -> RunningHub:
    config_file = tmp_path_factory.mktemp("hubconfig") / "operator_config.py"
    config_file.write_text(
        "c = get_config()  # noqa\n"
        "c.CoursehubAuthenticator.allowed_email_domains = {'uni.example'}\n"
        # cheaper hashes: these tests sign in hundreds of times
        "c.CoursehubAuthenticator.bcrypt_rounds = 6\n" + config
    )
    return RunningHub(
        env={
            "COURSEHUB_GRADER_ENABLED": "0",
            "COURSEHUB_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "COURSEHUB_SMTP_HOST": smtp.host,
            "COURSEHUB_SMTP_PORT": str(smtp.port),
            "COURSEHUB_SMTP_SECURITY": "none",
            "COURSEHUB_MAIL_FROM": "Course <course@uni.example>",
            "COURSEHUB_HUB_CONFIG": str(config_file),
            **env,
        }
    )


@pytest.fixture(scope="module")
def hub(smtp_server_module, tmp_path_factory):
    # per-address limits high enough for a module of tests from one address
    limits = "{'login': [500, 60], 'signup': [200, 60], 'verify': [500, 60], 'reset': [200, 60]}"
    hub = hub_with_mail(
        smtp_server_module,
        tmp_path_factory,
        f"c.CoursehubAuthenticator.rate_limits = {limits}\n",
    )
    with hub:
        hub.smtp = smtp_server_module
        yield hub


class Browser:
    """A person at a browser: cookies, the form's XSRF token, no redirects followed."""

    def __init__(self, hub: RunningHub):
        self.hub = hub
        self.session = requests.Session()

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.session.get(f"{self.hub.url}/hub/{path}", allow_redirects=False, **kwargs)

    def post(self, path: str, **data) -> requests.Response:
        if "_xsrf" not in self.session.cookies:
            self.get("login")
        data["_xsrf"] = self.session.cookies["_xsrf"]
        return self.session.post(f"{self.hub.url}/hub/{path}", data=data, allow_redirects=False)

    def sign_up(self, name: str, email: str, password: str = STRONG) -> requests.Response:
        SECRETS.append(password)
        return self.post(
            "signup", username=name, email=email, password=password,
            password_confirmation=password,
        )  # fmt: skip

    def new_password(self, path: str, password: str, **fields) -> requests.Response:
        """Post a form that sets a password (typed twice), with its other fields."""
        SECRETS.append(password)
        return self.post(path, password=password, password_confirmation=password, **fields)

    def log_in(self, name: str, password: str = STRONG) -> requests.Response:
        return self.post("login", username=name, password=password)


def mail_text(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def new_name() -> str:
    return f"t{secrets.token_hex(4)}"


def signed_up(hub, name: str, domain: str = "uni.example") -> tuple[Browser, str]:
    """A new account, its address verified through the mailed code: (browser, code)."""
    browser, address = Browser(hub), f"{name}@{domain}"
    before = len(hub.smtp.messages)
    r = browser.sign_up(name, address)
    assert r.status_code == 201, r.text
    code = mailed_code(hub, address, before)
    r = browser.post("verify", username=name, code=code)
    assert r.status_code == 200 and "is verified" in r.text, r.text
    return browser, code


def mailed_code(hub, address: str, before: int) -> str:
    code = CODE_RE.search(mail_text(hub.smtp.wait_for(address, after=before))).group(0)
    SECRETS.append(code)
    return code


def admin(hub) -> Browser:
    browser = Browser(hub)
    assert browser.log_in("admin", ADMIN_PASSWORD).status_code == 302
    return browser


def hub_db(hub) -> sqlite3.Connection:
    return sqlite3.connect(hub.state_dir / "jupyterhub.sqlite")


# -- sign up, verify, approve ----------------------------------------------------------


def test_sign_up_code_by_mail_then_sign_in(hub):
    name = new_name()
    browser, address = Browser(hub), f"{name}@uni.example"
    before = len(hub.smtp.messages)
    r = browser.sign_up(name, address)
    assert r.status_code == 201
    assert f"We mailed a code to {address}" in r.text and 'name="code"' in r.text

    mail = hub.smtp.wait_for(address, after=before)
    assert mail["From"] == "Course <course@uni.example>"
    assert "verification code" in mail["Subject"]
    code = CODE_RE.search(mail_text(mail)).group(0)
    SECRETS.append(code)
    assert code in mail.get_body(preferencelist=("html",)).get_content()

    # before verifying: the right password is told to verify, a wrong one is not
    r = browser.log_in(name)
    assert r.status_code == 403 and "not verified yet" in r.text
    assert "not verified" not in browser.log_in(name, "wrong password").text

    r = browser.post("verify", username=name, code=code.lower())
    assert r.status_code == 200 and "You can sign in now" in r.text
    r = browser.log_in(name.upper())
    assert r.status_code == 302, r.text
    assert browser.get("home").status_code == 200


def test_other_domains_wait_for_an_admin_who_sees_them_listed(hub):
    name = new_name()
    browser, _ = signed_up(hub, name, domain="elsewhere.example")
    r = browser.log_in(name)
    assert r.status_code == 403 and "waiting for approval" in r.text

    boss = admin(hub)
    page = boss.get("accounts")
    assert page.status_code == 200 and f'data-user="{name}"' in page.text
    # the Hub's navigation bar links to it for admins
    assert 'id="accounts-link"' in boss.get("home").text
    r = boss.post("accounts", action="approve", username=name)
    assert r.status_code == 200 and f"{name} is approved" in r.text
    assert f'<tr data-user="{name}"' not in r.text
    assert browser.log_in(name).status_code == 302


def test_rejected_accounts_cannot_sign_in(hub):
    name = new_name()
    browser, _ = signed_up(hub, name, domain="elsewhere.example")
    assert admin(hub).post("accounts", action="reject", username=name).status_code == 200
    r = browser.log_in(name)
    assert r.status_code == 403 and "not approved" in r.text


def test_the_accounts_page_is_for_admins_only(hub):
    name = new_name()
    browser, _ = signed_up(hub, name)
    assert browser.log_in(name).status_code == 302
    assert browser.get("accounts").status_code == 403
    assert browser.post("accounts", action="approve", username=name).status_code == 403
    assert Browser(hub).get("accounts").status_code == 302  # to the login page


# -- codes -----------------------------------------------------------------------------


def test_five_wrong_codes_then_a_new_one_is_needed(hub):
    name = new_name()
    browser, address = Browser(hub), f"{name}@uni.example"
    before = len(hub.smtp.messages)
    browser.sign_up(name, address)
    code = mailed_code(hub, address, before)
    wrong = "AAAAAA" if code != "AAAAAA" else "BBBBBB"
    for left in (4, 3, 2, 1):
        r = browser.post("verify", username=name, code=wrong)
        assert r.status_code == 400 and f"{left} tr" in r.text
    assert "last try" in browser.post("verify", username=name, code=wrong).text
    r = browser.post("verify", username=name, code=code)
    assert r.status_code == 400 and "Too many wrong tries" in r.text

    before = len(hub.smtp.messages)
    r = browser.post("verify", username=name, action="resend")
    assert r.status_code == 200 and "new code is on its way" in r.text
    second = mailed_code(hub, address, before)
    assert second != code
    assert "is verified" in browser.post("verify", username=name, code=second).text


def test_an_expired_code_is_refused(hub):
    name = new_name()
    browser, address = Browser(hub), f"{name}@uni.example"
    before = len(hub.smtp.messages)
    browser.sign_up(name, address)
    code = mailed_code(hub, address, before)
    with hub_db(hub) as db:  # five minutes later
        db.execute(
            "UPDATE coursehub_email_codes SET expires = datetime('now', '-1 second') "
            "WHERE account_id = (SELECT id FROM coursehub_accounts WHERE username = ?)",
            (name,),
        )
    r = browser.post("verify", username=name, code=code)
    assert r.status_code == 400 and "expired" in r.text


def test_three_codes_an_hour_and_the_page_says_when_the_next_can_be_sent(hub):
    name = new_name()
    browser = Browser(hub)
    browser.sign_up(name, f"{name}@uni.example")  # the first
    for _ in range(2):
        assert browser.post("verify", username=name, action="resend").status_code == 200
    r = browser.post("verify", username=name, action="resend")
    assert r.status_code == 429 and "The next one can be sent in" in r.text
    assert 3500 < int(r.headers["Retry-After"]) <= 3600


# -- passwords -------------------------------------------------------------------------


def test_weak_and_over_long_passwords_are_refused_with_a_message(hub):
    browser = Browser(hub)
    for password, message in [
        ("12345678", "too easy to guess"),
        ("short", "at least 8 characters"),
        ("é" * 37, "too long: at most 72 bytes"),
    ]:
        r = browser.sign_up(new_name(), "x@uni.example", password)
        assert r.status_code == 400 and message in r.text, r.text
    # at sign-in, a password bcrypt cannot take is a wrong password, not a 500
    name = new_name()
    signed_up(hub, name)
    r = browser.log_in(name, "é" * 37)
    assert r.status_code == 403 and "Invalid username or password" in r.text


def test_failed_sign_ins_lock_a_name_whether_or_not_it_exists(hub):
    name = new_name()
    signed_up(hub, name)
    for target in (name, new_name()):
        browser = Browser(hub)
        for _ in range(5):
            assert browser.log_in(target, "wrong password").status_code == 403
        r = browser.log_in(target)  # even the right password, while locked
        assert r.status_code == 429 and r.headers["Retry-After"] == "30"
        assert "Too many failed sign-ins for this name. Try again in 30 seconds." in r.text


def test_reset_by_mailed_link_signs_out_everywhere(hub):
    name = new_name()
    browser, _ = signed_up(hub, name)
    assert browser.log_in(name).status_code == 302
    token = hub.api("POST", f"/users/{name}/tokens", json={}).json()["token"]
    SECRETS.append(token)
    assert hub.api("GET", "/user", token=token).status_code == 200

    stranger = Browser(hub)
    before = len(hub.smtp.messages)
    unknown = stranger.post("forgot", name="nobody-has-this-name")
    r = stranger.post("forgot", name=f"{name}@uni.example")
    assert r.status_code == unknown.status_code == 200
    assert "If an account has this name or address" in r.text
    link = LINK_RE.search(mail_text(hub.smtp.wait_for(f"{name}@uni.example", after=before)))
    link = link.group(0)
    SECRETS.append(link.rpartition("=")[2])

    form = stranger.session.get(link, allow_redirects=False)
    assert form.status_code == 200 and 'name="token"' in form.text
    token_value = link.rpartition("=")[2]
    r = stranger.new_password("reset", "new horse battery", token=token_value)
    assert r.status_code == 200 and "Your password is changed" in r.text

    # the old session and the old token are gone; the old password too
    assert browser.get("home").status_code == 302
    assert hub.api("GET", "/user", token=token).status_code == 403
    assert Browser(hub).log_in(name).status_code == 403
    assert Browser(hub).log_in(name, "new horse battery").status_code == 302
    # the link works once
    again = stranger.new_password("reset", "third horse battery", token=token_value)
    assert again.status_code == 400 and "not valid any more" in again.text
    assert "not valid any more" in stranger.session.get(link).text


def test_an_expired_reset_link_is_refused(hub):
    name = new_name()
    signed_up(hub, name)
    before = len(hub.smtp.messages)
    Browser(hub).post("forgot", name=name)
    link = LINK_RE.search(mail_text(hub.smtp.wait_for(f"{name}@uni.example", after=before)))
    SECRETS.append(link.group(0).rpartition("=")[2])
    with hub_db(hub) as db:
        db.execute("UPDATE coursehub_reset_tokens SET expires = datetime('now', '-1 second')")
    assert "has expired" in requests.get(link.group(0)).text


def test_an_admin_sends_a_reset_link(hub):
    name = new_name()
    signed_up(hub, name)
    before = len(hub.smtp.messages)
    r = admin(hub).post("accounts", action="send-reset", username=name)
    assert r.status_code == 200 and "reset link is on its way" in r.text
    mail = hub.smtp.wait_for(f"{name}@uni.example", after=before)
    SECRETS.append(LINK_RE.search(mail_text(mail)).group(0).rpartition("=")[2])


def test_change_password(hub):
    name = new_name()
    browser, _ = signed_up(hub, name)
    browser.log_in(name)
    other = Browser(hub)
    assert other.log_in(name).status_code == 302
    assert browser.get("change-password").status_code == 200
    r = browser.new_password("change-password", "fresh horse battery", current="not it")
    assert r.status_code == 403 and "current password is not right" in r.text
    r = browser.new_password("change-password", "fresh horse battery", current=STRONG)
    assert r.status_code == 200 and "Your password is changed" in r.text
    # this browser stays signed in, another one is signed out
    assert browser.get("home").status_code == 200
    assert other.get("home").status_code == 302
    assert Browser(hub).log_in(name, "fresh horse battery").status_code == 302
    assert Browser(hub).get("change-password").status_code == 302  # signed-in users only


# -- restriction, health ---------------------------------------------------------------


def test_restricting_through_the_page_and_the_rest_api(hub):
    name = new_name()
    signed_up(hub, name)
    Browser(hub).log_in(name)
    boss = admin(hub)
    r = boss.post("accounts", action="restrict", username=name)
    assert r.status_code == 200 and "is restricted" in r.text
    members = hub.api("GET", "/groups/restricted").json()["users"]
    assert name in members
    assert boss.post("accounts", action="lift", username=name).status_code == 200
    assert name not in hub.api("GET", "/groups/restricted").json()["users"]
    r = hub.api("POST", "/groups/restricted/users", json={"users": [name]})
    assert r.status_code == 200
    assert name in boss.get("accounts").text


def test_health_reports_mail(hub):
    r = requests.get(f"{hub.url}/hub/accounts/health")
    assert r.status_code == 200 and r.json() == {"mail": {"status": "ok"}}
    cookies = admin(hub).session.cookies
    model = requests.get(f"{hub.url}/hub/accounts/health", cookies=cookies).json()
    assert model["mail"]["mode"].startswith("smtp 127.0.0.1:")


# -- a Hub of its own: per-address limits, a mail server that is down -------------------


def test_per_address_limits_answer_429_with_retry_after(tmp_path_factory):
    smtp = SmtpTestServer().start()
    limits = "{'login': [3, 60], 'signup': [2, 60], 'verify': [2, 60], 'reset': [2, 60]}"
    try:
        with hub_with_mail(
            smtp, tmp_path_factory, f"c.CoursehubAuthenticator.rate_limits = {limits}\n"
        ) as hub:
            browser = Browser(hub)
            for _ in range(3):
                assert browser.log_in(new_name(), "wrong password").status_code == 403
            r = browser.log_in(new_name(), "wrong password")
            assert r.status_code == 429 and 0 < int(r.headers["Retry-After"]) <= 60
            assert "Too many sign-in attempts from your address" in r.text

            for path, data, what in [
                ("signup", {"username": "x", "email": "x@uni.example", "password": STRONG}, "sign-ups"),
                ("verify", {"username": "x", "code": "AAAAAA"}, "code checks"),
                ("forgot", {"name": "x"}, "password reset requests"),
            ]:  # fmt: skip
                for _ in range(2):
                    assert browser.post(path, **data).status_code != 429
                r = browser.post(path, **data)
                assert r.status_code == 429 and f"Too many {what} from your address" in r.text
                assert int(r.headers["Retry-After"]) > 0
            # a client cannot pick its address: the proxy's X-Forwarded-For entry counts
            spoofed = browser.session.post(
                f"{hub.url}/hub/forgot",
                data={"name": "x", "_xsrf": browser.session.cookies["_xsrf"]},
                headers={"X-Forwarded-For": "203.0.113.9"},
                allow_redirects=False,
            )
            assert spoofed.status_code == 429
    finally:
        smtp.stop()


def test_health_says_when_mail_cannot_get_out(tmp_path_factory):
    smtp = SmtpTestServer().start()
    port = smtp.port
    smtp.stop()  # nothing listens there any more
    closed = SmtpTestServer()
    closed.port = port
    with hub_with_mail(closed, tmp_path_factory, "") as hub:
        r = requests.get(f"{hub.url}/hub/accounts/health")
        assert r.status_code == 503 and r.json() == {"mail": {"status": "failing"}}
        # sign-up says so too, instead of pretending a code is on its way
        r = Browser(hub).sign_up(new_name(), "y@uni.example")
        assert r.status_code == 503 and "could not be sent" in r.text


def test_a_hub_refuses_an_accounts_schema_it_does_not_know(tmp_path):
    """A database migrated by a newer coursehub: the Hub stops at start, saying why,
    instead of reading tables it does not understand."""
    from hub_config.accounts import schema

    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    url = f"sqlite:///{state}/jupyterhub.sqlite"
    schema.upgrade(url)
    with sqlite3.connect(state / "jupyterhub.sqlite") as db:
        db.execute(f"UPDATE {schema.VERSION_TABLE} SET version_num = 'ffff'")
    hub = RunningHub(env={"COURSEHUB_GRADER_ENABLED": "0"}, state_dir=state)
    with pytest.raises(RuntimeError, match="the Hub exited"):
        hub.start(timeout=60)
    log = hub.log()
    hub.cleanup()
    assert "ffff" in log and "accounts" in log


# -- last: nothing secret in the log ---------------------------------------------------


def test_no_code_token_password_or_link_in_the_log(hub):
    assert SECRETS, "the tests above ran first"
    log = hub.log()
    assert "Failed sign-in for" in log  # the log is the real one, with our lines in it
    leaked = [s for s in SECRETS + [ADMIN_PASSWORD, STRONG] if s in log]
    assert leaked == []
    assert "/hub/reset?token=[secret]" in log or "reset?token=" not in log
