"""The LTI launch's pure parts, with no Hub: names, the platforms file, what the grader
is told, the configuration on a bare Config(), the key sets' cache against a fake
platform, the nonces' table, and a launch's token checked by the authenticator."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from traitlets.config import Config

from grader.lti.names import NameRefused, hub_name, hub_name_of_member
from grader.lti.platforms import (
    PlatformsError,
    PlatformsFile,
    UnknownPlatform,
    parse_platforms,
)
from hub_config import Settings
from hub_config.authenticator import USERNAME_RE, CoursehubAuthenticator, apply_auth
from hub_config.grader_calls import GraderCallError, GraderCalls, apply_grader_calls
from hub_config.lti import CoursehubLTIAuthenticator
from hub_config.lti.keys import KeySets, KeyUnavailable
from hub_config.lti.launch import LaunchRefused, is_lms_instructor, launch_payload
from hub_config.lti.store import LaunchStore, nonce_digest
from hub_config.oauth import CoursehubGitHubOAuthenticator, CoursehubOAuthenticator
from tests.lti_platform import INSTRUCTOR, LTI, FakePlatform, Launch, new_key

ISS = "https://lms.uni.example"


# -- names ---------------------------------------------------------------------------


def test_the_email_claim_lower_cased_is_the_name():
    assert hub_name(ISS, {"sub": "42", "email": " Jane.Doe@Uni.Example "}) == "jane.doe@uni.example"


def test_without_the_claim_the_subject_at_the_issuers_host():
    assert hub_name(ISS, {"sub": "A1b2"}) == "a1b2@lms.uni.example"
    assert hub_name("http://127.0.0.1:8443/lti", {"sub": "7", "email": ""}) == "7@127.0.0.1"


def test_a_custom_claim_or_any_claim_names_the_user():
    claims = {"sub": "9", LTI + "custom": {"uname": "JDoe"}, "given_name": "Jane"}
    # a bare name is qualified by the platform: it is no one else's name
    assert hub_name(ISS, claims, "custom_uname") == "jdoe@lms.uni.example"
    assert hub_name(ISS, claims, "given_name") == "jane@lms.uni.example"


def test_no_lti_name_can_be_a_password_accounts_name():
    for claims in ({"sub": "admin"}, {"sub": "x", "email": "admin@uni.example"}):
        name = hub_name(ISS, claims)
        assert "@" in name and not USERNAME_RE.fullmatch(name)


@pytest.mark.parametrize(
    "claims, why",
    [
        ({}, "neither"),
        ({"sub": "a/b"}, "characters"),
        ({"sub": "has space"}, "characters"),
        ({"sub": "x", "email": "not an@address"}, "not an email address"),
        ({"sub": "x", "email": "jörg@uni.example"}, "not an email address"),
        ({"sub": "x" * 200}, "longer than"),
    ],
)
def test_names_the_hub_would_refuse_are_refused_with_a_reason(claims, why):
    with pytest.raises(NameRefused, match=why):
        hub_name(ISS, claims)


def test_a_roster_member_gets_the_name_their_launch_will_give():
    member = {"user_id": "u-1", "email": "Ann@Uni.Example", "roles": []}
    assert hub_name_of_member(ISS, member) == hub_name(
        ISS, {"sub": "u-1", "email": "Ann@Uni.Example"}
    )
    assert hub_name_of_member(ISS, {"user_id": "u-2"}) == "u-2@lms.uni.example"
    # a custom claim is not in a roster: not known before the launch
    assert hub_name_of_member(ISS, member, "custom_uname") is None


# -- the platforms file ----------------------------------------------------------------


def registration(**extra) -> dict:
    return {
        "issuer": ISS,
        "client_id": "tool-1",
        "authorize_url": f"{ISS}/auth",
        "jwks_url": f"{ISS}/jwks",
        "token_url": f"{ISS}/token",
        "deployment_ids": ["1"],
        **extra,
    }


def test_platforms_are_found_by_issuer_and_client_id(tmp_path):
    path = tmp_path / "platforms.json"
    path.write_text(json.dumps([registration(), registration(client_id="tool-2")]))
    platforms = PlatformsFile(path)
    assert platforms.find(ISS, "tool-2").client_id == "tool-2"
    with pytest.raises(UnknownPlatform, match="several registrations"):
        platforms.find(ISS, None)
    with pytest.raises(UnknownPlatform, match="issuer 'https://evil.example'"):
        platforms.find("https://evil.example", "tool-1")
    with pytest.raises(UnknownPlatform, match="client id 'tool-3'"):
        platforms.find(ISS, "tool-3")
    # read again when it changes: a platform added without a restart
    path.write_text(json.dumps([registration(issuer="https://other.example")]))
    assert platforms.find("https://other.example", None).issuer == "https://other.example"


@pytest.mark.parametrize(
    "data, why",
    [
        ({}, "JSON list"),
        ([registration(jwks_url="")], "lacks jwks_url"),
        ([registration(deployment_ids=[1])], "deployment_ids must be strings"),
        ([registration(authorize_url="javascript:alert(1)")], "authorize_url must be"),
        ([registration(), registration()], "registered twice"),
    ],
)
def test_a_broken_platforms_file_says_what_is_wrong(data, why):
    with pytest.raises(PlatformsError, match=why):
        parse_platforms(data, "platforms.json")


# -- what the grader is told -------------------------------------------------------------


def test_the_launch_forwarded_to_the_grader():
    (platform,) = parse_platforms([registration()])
    claims = FakePlatform.claims(
        FakePlatform(issuer=ISS, client_id="tool-1", deployment_id="1"),
        Launch(
            sub="s-1",
            email="Lee@Uni.Example",
            roles=[INSTRUCTOR],
            ags_lineitems=f"{ISS}/ags/items",
            nrps_url=f"{ISS}/nrps",
            custom={"x": "1"},
        ),
        "nonce-1",
    )
    payload = launch_payload("lee@uni.example", platform, claims)
    assert payload == {
        "user": "lee@uni.example",
        "issuer": ISS,
        "client_id": "tool-1",
        "deployment_id": "1",
        "sub": "s-1",
        "name": "Lee Learner",
        "email": "lee@uni.example",
        "roles": [INSTRUCTOR],
        "context": {"id": "ctx-1", "label": "PY101", "title": "Python 101"},
        "resource_link": {"id": "rl-1", "title": "Week 1"},
        "custom": {"x": "1"},
        "ags": {
            "scope": [
                "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                "https://purl.imsglobal.org/spec/lti-ags/scope/score",
                "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
            ],
            "lineitems": f"{ISS}/ags/items",
            "lineitem": None,
        },
        "nrps": {"context_memberships_url": f"{ISS}/nrps"},
    }
    assert is_lms_instructor(claims)
    bare = {k: v for k, v in claims.items() if "lti-ags" not in k and "lti-nrps" not in k}
    bare.pop(LTI + "context")
    payload = launch_payload("x", platform, bare)
    assert payload["ags"] is None and payload["nrps"] is None and payload["context"] is None
    assert not is_lms_instructor(
        {LTI + "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]}
    )


# -- configuration ---------------------------------------------------------------------------


def test_the_authenticator_is_chosen_by_the_environment(tmp_path):
    env = {"COURSEHUB_STATE_DIR": str(tmp_path)}
    assert Settings.from_environ(env).authenticator == "coursehub"
    with pytest.raises(ValueError, match="COURSEHUB_AUTHENTICATOR='saml'"):
        Settings.from_environ({**env, "COURSEHUB_AUTHENTICATOR": "saml"})
    with pytest.raises(ValueError, match="needs COURSEHUB_LTI_PLATFORMS"):
        Settings.from_environ({**env, "COURSEHUB_AUTHENTICATOR": "lti"})

    lti = Settings.from_environ(
        {
            **env,
            "COURSEHUB_AUTHENTICATOR": "LTI",
            "COURSEHUB_LTI_PLATFORMS": str(tmp_path / "p.json"),
        }
    )
    c = Config()
    apply_auth(c, lti)
    assert c.JupyterHub.authenticator_class is CoursehubLTIAuthenticator
    assert c.CoursehubLTIAuthenticator.platforms_file == str(tmp_path / "p.json")
    assert c.JupyterHub.template_vars == {"coursehub_accounts": False}
    # no password admin: an LTI name is never "admin"
    assert "admin_users" not in c.Authenticator

    c = Config()
    apply_auth(c, Settings(state_dir=tmp_path))
    assert c.JupyterHub.authenticator_class is CoursehubAuthenticator
    assert c.JupyterHub.template_vars == {"coursehub_accounts": True}


def test_oauth_settings(tmp_path, monkeypatch):
    settings = Settings.from_environ(
        {
            "COURSEHUB_STATE_DIR": str(tmp_path),
            "COURSEHUB_AUTHENTICATOR": "oauth",
            "COURSEHUB_OAUTH_CLIENT_ID": "hub-client",
            "COURSEHUB_OAUTH_AUTHORIZE_URL": "https://idp.uni.example/auth",
            "COURSEHUB_OAUTH_TOKEN_URL": "https://idp.uni.example/token",
            "COURSEHUB_OAUTH_USERDATA_URL": "https://idp.uni.example/userinfo",
            "COURSEHUB_OAUTH_USERNAME_CLAIM": "uid",
            "COURSEHUB_OAUTH_ALLOWED_GROUPS": "students, staff",
            "COURSEHUB_OAUTH_ADMIN_USERS": "root",
            "COURSEHUB_PUBLIC_URL": "https://hub.uni.example",
        }
    )
    c = Config()
    apply_auth(c, settings)
    assert c.JupyterHub.authenticator_class is CoursehubOAuthenticator
    o = c.CoursehubOAuthenticator
    assert o.client_id == "hub-client" and o.username_claim == "uid"
    assert o.oauth_callback_url == "https://hub.uni.example/hub/oauth_callback"
    assert o.allowed_provider_groups == {"students", "staff"} and o.admin_users == {"root"}
    assert o.manage_groups is False  # courses are Hub groups: never replaced
    assert "client_secret" not in o  # read from the environment by the authenticator
    monkeypatch.setenv("COURSEHUB_OAUTH_CLIENT_SECRET", "s3cret")
    assert CoursehubOAuthenticator(config=c).client_secret == "s3cret"

    github = Settings(state_dir=tmp_path, authenticator="oauth", oauth_provider="github",
                      oauth_allowed_groups=("uni-org",))  # fmt: skip
    c = Config()
    apply_auth(c, github)
    assert c.JupyterHub.authenticator_class is CoursehubGitHubOAuthenticator
    assert c.CoursehubGitHubOAuthenticator.allowed_organizations == {"uni-org"}


def test_the_grader_gets_the_platforms_file_and_the_hub_its_calls_token(tmp_path):
    from hub_config.services import apply_services

    settings = Settings(
        state_dir=tmp_path,
        spawner="local",
        lti_platforms_file=tmp_path / "p.json",
        lti_key_file=tmp_path / "key.pem",
        hub_calls_token="hub-calls-token",
    )
    c = Config()
    apply_services(c, settings, docker_probe=lambda: False)
    services = {s["name"]: s for s in c.JupyterHub.services}
    env = services["grader"]["environment"]
    assert env["COURSEHUB_LTI_PLATFORMS"] == str(tmp_path / "p.json")
    assert env["COURSEHUB_LTI_KEY_FILE"] == str(tmp_path / "key.pem")
    assert services["coursehub-hub"] == {"name": "coursehub-hub", "api_token": "hub-calls-token"}
    apply_grader_calls(c, settings)
    calls = GraderCalls(config=c)
    assert calls.url == "http://127.0.0.1:10101/services/grader/api/v1/"
    assert calls.token == "hub-calls-token"
    # random at each start unless set
    assert (
        Settings(state_dir=tmp_path).hub_calls_token != Settings(state_dir=tmp_path).hub_calls_token
    )
    assert "hub-calls-token" not in repr(settings)


async def test_a_grader_that_does_not_answer_is_a_grader_call_error():
    from tests.lti_platform import free_port

    calls = GraderCalls(url=f"http://127.0.0.1:{free_port()}/services/grader/api/v1/", token="t")
    with pytest.raises(GraderCallError) as refused:
        await calls.call("POST", "lti/launches", {})
    assert refused.value.status == 599


# -- the key sets ----------------------------------------------------------------------------


async def test_key_sets_are_cached_and_fetched_again_for_an_unknown_key_id():
    platform = FakePlatform()
    platform.listen()
    try:
        keys = KeySets(max_age=300, refetch_interval=0)
        url = f"{platform.url}/jwks"
        first = await keys.signing_key(url, platform.kid)
        assert (await keys.signing_key(url, platform.kid)).key_id == first.key_id
        assert platform.jwks_fetches == 1  # cached
        platform.rotate_key()
        assert (await keys.signing_key(url, platform.kid)).key_id == platform.kid
        assert platform.jwks_fetches == 2  # a new key id: fetched at once
        with pytest.raises(KeyUnavailable, match="does not publish") as refused:
            await keys.signing_key(url, "made-up")
        assert refused.value.status == 401

        # made-up key ids cannot make the Hub hammer the platform
        slow = KeySets(max_age=300, refetch_interval=3600)
        await slow.signing_key(url, platform.kid)
        before = platform.jwks_fetches
        for n in range(5):
            with pytest.raises(KeyUnavailable):
                await slow.signing_key(url, f"made-up-{n}")
        assert platform.jwks_fetches == before
    finally:
        platform.stop()


async def test_an_unreachable_key_set_is_a_502():
    from tests.lti_platform import free_port

    with pytest.raises(KeyUnavailable, match="could not be fetched") as refused:
        await KeySets().signing_key(f"http://127.0.0.1:{free_port()}/jwks", "k")
    assert refused.value.status == 502


# -- nonces ------------------------------------------------------------------------------------


def test_a_nonce_is_used_once_and_forgotten_after_its_time(tmp_path):
    url = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    store = LaunchStore(url)
    now = time.time()
    digest = nonce_digest(ISS, "tool-1", "n-1")
    assert store.use_nonce(digest, now + 600, now)
    assert not store.use_nonce(digest, now + 600, now)
    # another store on the same database (a restarted Hub, a replica) knows it too
    assert not LaunchStore(url).use_nonce(digest, now + 600, now)
    # the same nonce from another registration is another nonce
    assert store.use_nonce(nonce_digest(ISS, "tool-2", "n-1"), now + 600, now)
    # deleted once past its time (every check refuses such a token by then anyway)
    assert store.use_nonce(digest, now + 2000, now + 700)


# -- a launch's token, checked ------------------------------------------------------------------


@pytest.fixture
async def platform_and_authenticator(tmp_path):
    platform = FakePlatform()
    platform.listen()
    path = tmp_path / "platforms.json"
    path.write_text(json.dumps([platform.registration()]))
    authenticator = CoursehubLTIAuthenticator(
        platforms_file=str(path), db_url=f"sqlite:///{tmp_path / 'hub.sqlite'}"
    )
    yield platform, authenticator, authenticator.platform(platform.issuer, platform.client_id)
    platform.stop()


def signed(platform, launch: Launch | None = None, nonce: str = "n-1") -> str:
    launch = launch or Launch()
    return platform.sign(platform.claims(launch, nonce), launch)


async def test_a_valid_launch_is_accepted(platform_and_authenticator):
    platform, authenticator, registration_ = platform_and_authenticator
    claims = await authenticator.verify_launch(signed(platform), registration_)
    assert claims["nonce"] == "n-1" and claims["aud"] == platform.client_id
    await authenticator.use_nonce(registration_, claims)
    with pytest.raises(LaunchRefused, match="already used") as refused:
        await authenticator.use_nonce(registration_, claims)
    assert refused.value.status == 403
    model = await authenticator.authenticate(None, {"claims": claims, "platform": registration_})
    assert model == {"name": "learner@uni.example"}


@pytest.mark.parametrize(
    "launch, status, why",
    [
        (Launch(sign_with=new_key()), 401, "signature"),
        (Launch(kid="other-kid"), 401, "does not publish"),
        (Launch(aud="another-tool"), 401, "not meant for this tool"),
        (Launch(lifetime=-120), 401, "expired"),
        (Launch(issued_ago=3600, lifetime=7200), 401, "too long ago"),
        (Launch(issuer="https://evil.example"), 401, "issuer"),
        (Launch(deployment_id="dep-other"), 403, "deployment 'dep-other'"),
        (Launch(extra={LTI + "version": "1.1"}), 400, "version"),
        (Launch(extra={LTI + "message_type": "Other"}), 400, "message_type"),
    ],
)
async def test_bad_launches_are_refused_with_a_reason(
    platform_and_authenticator, launch, status, why
):
    platform, authenticator, registration_ = platform_and_authenticator
    with pytest.raises(LaunchRefused, match=why) as refused:
        await authenticator.verify_launch(signed(platform, launch), registration_)
    assert refused.value.status == status


async def test_a_token_without_kid_or_signature(platform_and_authenticator):
    platform, authenticator, registration_ = platform_and_authenticator
    claims = platform.claims(Launch(), "n")
    unsigned = jwt.encode(claims, "", algorithm="none")
    with pytest.raises(LaunchRefused, match="signed with 'none'"):
        await authenticator.verify_launch(unsigned, registration_)
    hs = jwt.encode(claims, "secret-secret-secret-secret-secret", algorithm="HS256")
    with pytest.raises(LaunchRefused, match="HS256"):
        await authenticator.verify_launch(hs, registration_)
    with pytest.raises(LaunchRefused, match="not a JWT") as refused:
        await authenticator.verify_launch("garbage", registration_)
    assert refused.value.status == 400
    # no kid: accepted only from a platform with one key, as this one
    no_kid = jwt.encode(claims, platform.key, algorithm="RS256")
    assert (await authenticator.verify_launch(no_kid, registration_))["sub"] == claims["sub"]


async def test_a_password_accounts_name_is_never_an_lti_users(platform_and_authenticator, tmp_path):
    platform, authenticator, registration_ = platform_and_authenticator
    from tornado.web import HTTPError

    # an account made outside the name rules (an old Hub, a script): still refused
    store = authenticator.store
    from hub_config.accounts.models import Account

    with store.engine.begin() as connection:
        connection.execute(Account.__table__.insert().values(
            username="mallory@uni.example", password_hash=b"x", approved=True))  # fmt: skip
    claims = platform.claims(Launch(email="Mallory@Uni.Example"), "n")
    with pytest.raises(HTTPError) as refused:
        await authenticator.authenticate(None, {"claims": claims, "platform": registration_})
    assert refused.value.status_code == 409 and "password" in refused.value.log_message
