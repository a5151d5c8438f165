"""CoursehubAuthenticator: sign-up, approval and login, in-process and in a real Hub."""

import asyncio
import mailbox
import re
import secrets
import stat
import statistics
import time
from datetime import timedelta
from types import SimpleNamespace
from unittest.mock import patch

import pytest
import requests
from sqlalchemy import select, update
from tornado import web

from hub_config.accounts.models import Attempt, EmailCode, IssuedCode, ResetToken, utcnow
from hub_config.authenticator import (
    PENDING_MESSAGE,
    CoursehubAuthenticator,
    SignupError,
)
from hub_config.testing import RunningHub

# -- in process: the authenticator object on a SQLite file, mail into a maildir ---------

STRONG = "correct horse battery"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def authenticator(request, tmp_path):
    """On a SQLite file, then on a database of its own on the session's PostgreSQL."""
    if request.param == "sqlite":
        db_url = f"sqlite:///{tmp_path}/hub.sqlite"
    else:
        db_url = request.getfixturevalue("postgres_server").create_database("accounts")
    return CoursehubAuthenticator(
        db_url=db_url,
        bcrypt_rounds=4,
        preapproved_users={"pia"},
        admin_users={"admin"},
        bootstrap_admin="admin",
        admin_password_file=str(tmp_path / "admin-password"),
        maildir=str(tmp_path / "mail"),
        allowed_email_domains={"uni.example"},
    )


def mailed_code(authenticator, to: str) -> str:
    """The code in the newest mail to `to` in the authenticator's maildir."""
    text = newest_mail(authenticator, to).get_payload()[0].get_payload(decode=True).decode()
    return CODE_RE.search(text).group(0)


def newest_mail(authenticator, to: str):
    box = mailbox.Maildir(authenticator.maildir, create=False)
    # a Maildir key starts with the delivery's seconds and microseconds: "<s>.M<us>P..."
    keys = [k for k in box.keys() if box[k]["To"] == to]
    assert keys, f"no mail to {to}"
    return box[max(keys, key=lambda k: [int(n) for n in re.findall(r"\d+", k)[:2]])]


CODE_RE = re.compile(r"\b[A-HJKMNP-Z2-9]{6}\b")


async def signed_up(authenticator, name, email, password=STRONG):
    await authenticator.sign_up(name, password, password, email=email)
    await authenticator.verify_email(name, mailed_code(authenticator, email))


async def test_sign_up_verify_then_authenticate(authenticator):
    assert await authenticator.sign_up("Bob", STRONG, STRONG, email="Bob@Uni.Example") == "bob"
    account = authenticator.store.find("bob")
    assert account.status == "unverified" and account.email == "bob@uni.example"
    stored = account.password_hash
    assert STRONG.encode() not in stored and stored.startswith(b"$2")
    # the right password on an unverified account: told to verify, nobody else is
    with pytest.raises(web.HTTPError) as e:
        await authenticator.get_authenticated_user(None, {"username": "bob", "password": STRONG})
    assert e.value.status_code == 403 and "not verified" in e.value.log_message

    account = await authenticator.verify_email("bob", mailed_code(authenticator, "bob@uni.example"))
    assert account.status == "active"  # a verified address of an allowed domain
    user = await authenticator.get_authenticated_user(None, {"username": "BOB", "password": STRONG})
    assert user["name"] == "bob"
    assert await authenticator.authenticate(None, {"username": "bob", "password": "wrong"}) is None
    assert (
        await authenticator.authenticate(None, {"username": "nobody", "password": "x" * 9}) is None
    )


async def test_other_domains_wait_for_approval(authenticator):
    await signed_up(authenticator, "carl", "carl@elsewhere.example")
    assert authenticator.store.find("carl").status == "pending"
    assert authenticator.check_allowed("carl") is False
    with pytest.raises(web.HTTPError) as e:
        authenticator.check_allowed("carl", {"name": "carl", "user_info": {"status": "pending"}})
    assert e.value.status_code == 403 and e.value.log_message == PENDING_MESSAGE

    await signed_up(authenticator, "pia", "pia@elsewhere.example")  # preapproved
    assert authenticator.store.find("pia").status == "active"

    authenticator.require_approval = True
    await signed_up(authenticator, "dora", "dora@uni.example")
    assert authenticator.store.find("dora").status == "pending"


async def test_codes_expire_allow_five_wrong_tries_and_three_an_hour(authenticator):
    await authenticator.sign_up("eve", STRONG, STRONG, email="eve@uni.example")
    code = mailed_code(authenticator, "eve@uni.example")
    wrong = "A" * 6 if code != "A" * 6 else "B" * 6
    for left in (4, 3, 2, 1):
        with pytest.raises(SignupError, match=f"{left} tr"):
            await authenticator.verify_email("eve", wrong)
    with pytest.raises(SignupError, match="last try"):
        await authenticator.verify_email("eve", wrong)
    with pytest.raises(SignupError, match="Too many wrong tries"):
        await authenticator.verify_email("eve", code)  # even the right one, now

    await authenticator.resend_code("eve")  # the second code this hour
    second = mailed_code(authenticator, "eve@uni.example")
    assert second != code
    with authenticator.store.session() as db:  # five minutes later
        db.execute(update(EmailCode).values(expires=utcnow() - timedelta(seconds=1)))
        db.commit()
    with pytest.raises(SignupError, match="expired"):
        await authenticator.verify_email("eve", second)

    await authenticator.resend_code("eve")  # the third
    with pytest.raises(SignupError) as e:
        await authenticator.resend_code("eve")
    assert e.value.status == 429 and "next one can be sent in" in str(e.value)
    assert 3500 < e.value.retry_after <= 3600
    # typed in lower case with spaces: still the code
    third = mailed_code(authenticator, "eve@uni.example")
    assert (await authenticator.verify_email("eve", f" {third[:3].lower()} {third[3:]}")).status


async def test_a_code_is_never_one_of_the_last_issued(authenticator):
    """20,000 codes issued in a row: no two alike, and only their digests are kept."""
    from hub_config.accounts import codes

    with authenticator.store.session() as db:
        issued = [codes.new_code(db, b"key", remember=20_000) for _ in range(20_000)]
        db.commit()
        assert len(set(issued)) == 20_000
        kept = db.scalars(select(IssuedCode.digest)).all()
    assert 20_000 <= len(kept) <= 20_000 + codes.TRIM_EVERY and not set(kept) & set(issued)
    assert all(len(c) == 6 and set(c) <= set(codes.ALPHABET) for c in issued)
    assert not set("01OIL") & set(codes.ALPHABET)

    # a repeat is drawn again: with the alphabet cut to what was issued, only new ones
    with authenticator.store.session() as db, patch.object(codes.secrets, "choice") as choice:
        choice.side_effect = iter("AAAAAAAAAAAABBBBBB")
        db.add(IssuedCode(digest=codes.digest(b"key", "AAAAAA")))
        db.flush()
        assert codes.new_code(db, b"key", remember=20_000) == "BBBBBB"


async def test_passwords_meet_the_policy(authenticator):
    for weak in ("12345678", "password1", "bobbobbob1"):
        with pytest.raises(SignupError, match="too easy to guess"):
            await authenticator.sign_up("bob", weak, weak, email="bob@uni.example")
    with pytest.raises(SignupError, match="too short"):
        await authenticator.sign_up("bob", "Zq9#x", "Zq9#x", email="bob@uni.example")
    # 37 "é" are 74 bytes: more than bcrypt takes, and said so (never a 500)
    long = "é" * 37
    with pytest.raises(SignupError, match="too long: at most 72 bytes"):
        await authenticator.sign_up("bob", long, long, email="bob@uni.example")
    with pytest.raises(SignupError, match="do not match"):
        await authenticator.sign_up("bob", STRONG, STRONG + "!", email="bob@uni.example")
    assert authenticator.store.find("bob") is None  # nothing half-made
    # signing in with a password over 72 bytes is a wrong password, not an error
    await signed_up(authenticator, "bob", "bob@uni.example")
    assert await authenticator.authenticate(None, {"username": "bob", "password": long}) is None


async def test_sign_up_refusals_say_what_is_wrong(authenticator):
    for name, address, message in [
        ("1abc", "a@uni.example", "is not a valid username"),
        ("abc", "", "An email address is needed"),
        ("abc", "not-an-address", "is not an email address"),
        ("abc", "a@b", "is not an email address"),
    ]:
        with pytest.raises(SignupError, match=message):
            await authenticator.sign_up(name, STRONG, STRONG, email=address)


async def test_duplicate_name_and_address(authenticator):
    await authenticator.sign_up("dup", STRONG, STRONG, email="dup@uni.example")
    with pytest.raises(SignupError) as e:
        await authenticator.sign_up("dup", STRONG, STRONG, email="other@uni.example")
    assert e.value.status == 409
    # an address with an account: the same answer as a new one; its owner is told
    assert await authenticator.sign_up("dup2", STRONG, STRONG, email="DUP@uni.example") == "dup2"
    assert authenticator.store.find("dup2") is None
    # that mail is sent after the answer: wait for it (a busy machine takes longer)
    deadline = time.monotonic() + 30
    while True:
        box = mailbox.Maildir(authenticator.maildir, create=False)
        notices = [m for m in box if "already" in m["Subject"].lower()]
        if notices or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert len(notices) == 1 and notices[0]["To"] == "dup@uni.example"


def earlier(authenticator, model, column: str, seconds: float) -> None:
    """Move every row's time back, as if that long had passed."""
    with authenticator.store.session() as db:
        for row in db.scalars(select(model)):
            setattr(row, column, getattr(row, column) - timedelta(seconds=seconds))
        db.commit()


async def test_lockout_grows_and_does_not_tell_names_apart(authenticator):
    await signed_up(authenticator, "lou", "lou@uni.example")
    for name in ("lou", "nobody-here"):
        for _ in range(5):
            assert (
                await authenticator.authenticate(None, {"username": name, "password": "no"}) is None
            )
        with pytest.raises(web.HTTPError) as e:
            await authenticator.authenticate(None, {"username": name, "password": STRONG})
        assert e.value.status_code == 429 and e.value.retry_after == 30
        assert "Too many failed sign-ins for this name" in e.value.log_message
    # the lock ends; one more failure locks twice as long
    earlier(authenticator, Attempt, "at", seconds=31)
    assert await authenticator.authenticate(None, {"username": "lou", "password": "no"}) is None
    with pytest.raises(web.HTTPError) as e:
        await authenticator.authenticate(None, {"username": "lou", "password": STRONG})
    assert e.value.retry_after == 60
    # after the lock, the right password signs in and the count starts over
    earlier(authenticator, Attempt, "at", seconds=61)
    assert await authenticator.authenticate(None, {"username": "lou", "password": STRONG})
    assert await authenticator.authenticate(None, {"username": "lou", "password": "no"}) is None
    assert await authenticator.authenticate(None, {"username": "lou", "password": STRONG})


async def test_locks_and_limits_hold_across_restarts_and_replicas(authenticator):
    """State lives in the database: a second authenticator on it (a Hub restarted, or
    another replica) sees the lock and the count of the first."""
    await signed_up(authenticator, "rex", "rex@uni.example")
    for _ in range(5):
        assert await authenticator.authenticate(None, {"username": "rex", "password": "no"}) is None
    replica = CoursehubAuthenticator(
        db_url=authenticator.db_url, bcrypt_rounds=4, maildir=authenticator.maildir
    )
    with pytest.raises(web.HTTPError) as e:
        await replica.authenticate(None, {"username": "rex", "password": STRONG})
    assert e.value.status_code == 429

    authenticator.rate_limits = replica.rate_limits = {"reset": [2, 60]}
    await authenticator.request_reset("rex", address="192.0.2.7")
    await replica.request_reset("rex", address="192.0.2.7")
    with pytest.raises(SignupError) as e:
        await replica.request_reset("rex", address="192.0.2.7")
    assert e.value.status == 429 and 0 < e.value.retry_after <= 60
    await replica.request_reset("rex", address="192.0.2.8")  # another address: its own count


async def test_unknown_names_take_as_long_as_wrong_passwords(tmp_path):
    """Measured as a ratio of medians at the Hub's real cost (bcrypt 12 rounds)."""
    authenticator = CoursehubAuthenticator(
        db_url=f"sqlite:///{tmp_path}/hub.sqlite", maildir=str(tmp_path / "mail"),
        lockout_after=100,
    )  # fmt: skip
    await authenticator._store_call("create", "known", STRONG, email="k@uni.example")

    async def median_seconds(name):
        times = []
        for _ in range(5):
            started = time.perf_counter()
            assert (
                await authenticator.authenticate(None, {"username": name, "password": "no"}) is None
            )
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    await median_seconds("warm-up")
    ratio = await median_seconds("unknown") / await median_seconds("known")
    assert 0.8 <= ratio <= 1.2, ratio  # within 20%


async def test_reset_links_are_single_use_expire_and_are_replaced(authenticator):
    await signed_up(authenticator, "rita", "rita@uni.example")
    account = authenticator.store.find("rita")
    first = await authenticator._store_call("issue_reset", account.id)
    second = await authenticator._store_call("issue_reset", account.id)
    with pytest.raises(SignupError, match="not valid any more"):
        await authenticator.reset_password(first, "new horse battery", None)  # replaced
    with pytest.raises(SignupError, match="too easy"):
        await authenticator.reset_password(second, "password", None)
    await authenticator.reset_password(second, "new horse battery", None)
    with pytest.raises(SignupError, match="not valid any more"):
        await authenticator.reset_password(second, "other horse battery", None)  # used
    assert await authenticator.authenticate(
        None, {"username": "rita", "password": "new horse battery"}
    )

    assert await authenticator._store_call("issue_reset", account.id)  # the third
    assert await authenticator._store_call("issue_reset", account.id) is None  # 3 an hour
    with authenticator.store.session() as db:
        db.execute(update(ResetToken).values(created=utcnow() - timedelta(hours=2)))
        db.commit()
    fourth = await authenticator._store_call("issue_reset", account.id)
    with authenticator.store.session() as db:
        db.execute(update(ResetToken).values(expires=utcnow() - timedelta(seconds=1)))
        db.commit()
    with pytest.raises(SignupError, match="expired"):
        await authenticator.reset_password(fourth, "new horse battery 2", None)


async def test_change_password(authenticator):
    await signed_up(authenticator, "cy", "cy@uni.example")
    with pytest.raises(SignupError, match="current password is not right"):
        await authenticator.change_password("cy", "wrong", "new horse battery", None)
    with pytest.raises(SignupError, match="too easy"):
        await authenticator.change_password("cy", STRONG, "qwertyui", None)
    await authenticator.change_password("cy", STRONG, "new horse battery", "new horse battery")
    assert await authenticator.authenticate(
        None, {"username": "cy", "password": "new horse battery"}
    )
    assert await authenticator.authenticate(None, {"username": "cy", "password": STRONG}) is None


async def test_admin_account_from_configured_password(authenticator):
    authenticator.bootstrap_admin_password = "admin horse battery"
    await authenticator.add_user(SimpleNamespace(name="admin"))
    account = authenticator.store.find("admin")
    assert account.status == "active"
    assert await authenticator.authenticate(
        None, {"username": "admin", "password": "admin horse battery"}
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
    assert sign_up(hub, "admin", STRONG, email="a@uni.example").status_code == 409


@pytest.mark.hub
def test_learner_instructor_and_admin_token_scopes(hub):
    name = new_name()
    assert hub.api("POST", f"/users/{name}").status_code == 201
    token = hub.api("POST", f"/users/{name}/tokens", json={}).json()["token"]

    # a new user reaches the grader (to join a course) but learns in no course yet
    scopes = set(hub.api("GET", "/user", token=token).json()["scopes"])
    assert "access:services!service=grader" in scopes
    assert not {s for s in scopes if s.startswith("custom:coursehub:")}

    # an admin makes someone an instructor of every course: the `instructors` group
    r = hub.api("POST", "/groups/instructors/users", json={"users": [name]})
    assert r.status_code == 200, r.text
    scopes = set(hub.api("GET", "/user", token=token).json()["scopes"])
    assert {"custom:coursehub:author", "custom:coursehub:learn"} <= scopes

    admin = hub.api("GET", "/user").json()
    assert admin["kind"] == "service" and admin["name"] == "coursehub-admin"
    assert {"custom:coursehub:author", "admin:users", "admin:servers"} <= set(admin["scopes"])
