"""The grader in the browser: its pages at `/services/grader/` and its API signed in with
the Hub's OAuth cookie (XSRF for what changes anything), on any replica.

Service tests: the grader in-process, identity from the stand-in for the Hub's
`/hub/api/user` (a token in a header, or the same token in the login cookie the
grader's OAuth callback sets, signed as any replica signs it). Hub tests: a real Hub,
proxy and grader; people sign in to the Hub with a password and follow the Hub's OAuth
to the grader, as a browser does.
"""

from __future__ import annotations

import mailbox
import re
import time
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from tornado import web
from tornado.httpclient import AsyncHTTPClient

from grader.auth import GraderOAuth, cookie_secret_from_token
from hub_config.settings import REPO_DIR
from hub_config.testing import RunningHub
from tests.conftest import ACCESS, AUTHOR, LEARN, answer, square_question

PAGE = "/services/grader/"
SECRET = "SECRET_HIDDEN_ASSERT"
CORRECT = "def square(x):\n    return x * x"


async def fetch(url, headers=None, method="GET", body=None, follow=False):
    """A request as a browser makes it (no redirects followed unless asked)."""
    return await AsyncHTTPClient().fetch(
        url,
        method=method,
        headers=headers or {},
        body=body,
        follow_redirects=follow,
        raise_error=False,
        allow_nonstandard_methods=True,
    )


def page_url(grader, path="") -> str:
    return grader.base_url.split(PAGE)[0] + PAGE + path


def token_header(token: str) -> dict:
    return {"Authorization": f"token {token}"}


async def submit_and_wait(client, question_id, source):
    code, model = await client.get(f"questions/{question_id}")
    assert code == 200, model
    code, data = await client.post(
        "submissions", {"question": question_id, "notebook": answer(model["notebook"], source)}
    )
    assert code == 202, data
    return await client.wait_graded(data["id"])


# pages with a token ---------------------------------------------------------------


@pytest.mark.sandbox
async def test_an_instructor_gets_the_dashboard(grader, course, fake_hub):
    author = course["author"]
    qid = course["question"]["id"]
    # a second question, retired; a learner solves the first
    nb = square_question()
    code, other = await author.post(
        "questions", {"module": "basics", "slug": "cube", "title": "Cube it", "notebook": nb}
    )
    assert code == 201, other
    assert (await author.request("DELETE", f"questions/{other['id']}"))[0] == 204
    ann = grader.client_for("ann")
    assert (await submit_and_wait(ann, qid, CORRECT))["score"] == 3

    # the instructor of one course is sent to its dashboard
    r = await fetch(page_url(grader), token_header(author.token))
    assert (r.code, r.headers["Location"]) == (302, f"{PAGE}courses/demo/")
    r = await fetch(page_url(grader, "courses/demo/"), token_header(author.token))
    assert r.code == 200, r.body
    assert r.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    html = r.body.decode()
    assert "instructor's dashboard" in html
    assert "Basics" in html and "Square a number" in html and "Cube it" in html
    square_row = _row(html, qid)
    assert "<code>square</code>" in square_row and "released" in square_row
    assert 'class="submissions">1<' in square_row and 'class="solved">1 learner<' in square_row
    cube_row = _row(html, other["id"])
    assert "retired" in cube_row and 'class="submissions">0<' in cube_row
    # the gradebook link is the real one: it answers the CSV with the same token
    assert f'href="{PAGE}api/v1/gradebook.csv?course=demo"' in html
    r = await fetch(page_url(grader, "api/v1/gradebook.csv"), token_header(author.token))
    assert r.code == 200 and r.body.decode().splitlines()[1] == "ann,3.0,3.0,"
    assert f'href="{PAGE}api/v1/modules?course=demo"' in html
    # the Hub's own stylesheet, and nothing from elsewhere
    assert 'href="/hub/static/css/style.min.css"' in html
    assert "http://" not in html and "https://" not in html and "<script" not in html


def _row(html: str, question_id: int) -> str:
    start = html.index(f'data-question="{question_id}"')
    return html[start : html.index("</tr>", start)]


@pytest.mark.sandbox
async def test_a_learner_gets_progress_and_their_jupyterlab_never_the_dashboard(grader, course):
    qid = course["question"]["id"]
    ann = grader.client_for("ann")
    r = await fetch(page_url(grader), token_header(ann.token))
    assert r.code == 200, r.body
    html = r.body.decode()
    assert 'href="/user/ann/lab"' in html and "coursehub</strong> panel" in html
    assert "Basics" in _module_row(html, "basics") and "0 of 1" in _module_row(html, "basics")

    assert (await submit_and_wait(ann, qid, CORRECT))["score"] == 3
    html = (await fetch(page_url(grader), token_header(ann.token))).body.decode()
    row = _module_row(html, "basics")
    assert "1 of 1" in row and "3 / 3" in row and "100.0%" in row
    # nothing of the dashboard, no question's source or title
    for absent in ("dashboard", "gradebook", "Square a number", SECRET, "return x * x"):
        assert absent not in html


def _module_row(html: str, slug: str) -> str:
    start = html.index(f'data-module="{slug}"')
    return html[start : html.index("</tr>", start)]


async def test_what_instructors_type_is_escaped(grader):
    author = grader.client_for("teacher", (LEARN, AUTHOR))
    title = '<script>alert("x")</script> & <b>bold</b>'
    code, _ = await author.post("modules", {"slug": "xss", "title": title, "description": title})
    assert code == 201
    for client in (author, grader.client_for("ann")):
        r = await fetch(page_url(grader), token_header(client.token), follow=True)
        html = r.body.decode()
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold" in html
        assert "<script" not in html and "<b>" not in html


async def test_in_no_course_the_page_says_how_to_join_one(grader, fake_hub):
    token = fake_hub.add_user("visitor", scopes=(ACCESS,))
    r = await fetch(page_url(grader), token_header(token))
    assert r.code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "You are in no course yet" in r.body.decode()


async def test_signed_out_the_page_goes_to_the_hubs_login_the_api_answers_403(grader):
    r = await fetch(page_url(grader))
    assert r.code == 302
    location = urlparse(r.headers["Location"])
    assert location.path == "/hub/api/oauth2/authorize"
    query = parse_qs(location.query)
    assert query["client_id"] == ["service-grader"]
    assert query["redirect_uri"] == [f"{PAGE}oauth_callback"]
    assert query["code_challenge_method"] == ["S256"]
    # the state cookie the callback checks, at the service's path
    assert any(c.startswith("service-grader-oauth-state=") for c in _set_cookies(r))
    # no slash: to the page with one first
    r = await fetch(page_url(grader).rstrip("/"))
    assert (r.code, r.headers["Location"]) == (301, PAGE)
    # the API never redirects
    r = await fetch(page_url(grader, "api/v1/modules"))
    assert r.code == 403 and r.headers["Content-Type"].startswith("application/json")


def _set_cookies(response) -> list[str]:
    return response.headers.get_list("Set-Cookie")


# the login cookie, XSRF, replicas ----------------------------------------------------


def login_cookie(token: str, service_token: str = "service-token") -> str:
    """The cookie the grader's oauth_callback sets after the Hub's OAuth: the token,
    signed with the cookie secret every replica derives from the service's token."""
    signed = web.create_signed_value(
        cookie_secret_from_token(service_token), "service-grader", token
    )
    return f"service-grader={signed.decode()}"


async def test_the_login_cookie_signs_in_to_pages_and_api_with_xsrf_for_changes(grader, fake_hub):
    token = fake_hub.add_user("teacher", (ACCESS, LEARN, AUTHOR))
    cookie = login_cookie(token)

    # a page: signed in by the cookie alone (a cookie another replica set), and it
    # hands out the XSRF cookie
    r = await fetch(page_url(grader), {"Cookie": cookie})
    assert (r.code, r.headers["Location"]) == (302, f"{PAGE}courses/demo/")
    r = await fetch(page_url(grader, "courses/demo/"), {"Cookie": cookie})
    assert r.code == 200 and "instructor's dashboard" in r.body.decode()
    (xsrf,) = [c.split(";")[0] for c in _set_cookies(r) if c.startswith("_xsrf=")]
    assert "Path=/services/grader/" in next(c for c in _set_cookies(r) if c.startswith("_xsrf="))
    xsrf_value = xsrf.split("=", 1)[1]
    cookies = f"{cookie}; {xsrf}"
    modules = page_url(grader, "api/v1/modules")
    body = b'{"slug": "m1", "title": "M1"}'

    # reading: the cookie is enough (a link followed, a script without Sec-Fetch-*)
    r = await fetch(modules, {"Cookie": cookie})
    assert r.code == 200, r.body
    # changing: refused without the XSRF token, with a message that says what to send
    r = await fetch(modules, {"Cookie": cookies}, "POST", body)
    assert r.code == 403 and "X-XSRFToken" in r.body.decode()
    r = await fetch(modules, {"Cookie": cookies, "X-XSRFToken": "not-it"}, "POST", body)
    assert r.code == 403
    # a token of another session (signed for another login) is not it either
    other = fake_hub.add_user("someone", (ACCESS, LEARN, AUTHOR))
    r2 = await fetch(page_url(grader), {"Cookie": login_cookie(other)})
    foreign = next(c for c in _set_cookies(r2) if c.startswith("_xsrf=")).split(";")[0]
    r = await fetch(
        modules,
        {"Cookie": f"{cookie}; {foreign}", "X-XSRFToken": foreign.split("=", 1)[1]},
        "POST",
        body,
    )
    assert r.code == 403
    r = await fetch(modules, {"Cookie": cookies, "X-XSRFToken": xsrf_value}, "POST", body)
    assert r.code == 201, r.body
    # a script's fetch() (Sec-Fetch-Mode: cors) must send it even to read
    r = await fetch(modules, {"Cookie": cookie, "Sec-Fetch-Mode": "cors"})
    assert r.code == 403
    r = await fetch(
        modules, {"Cookie": cookies, "Sec-Fetch-Mode": "cors", "X-XSRFToken": xsrf_value}
    )
    assert r.code == 200
    # a token in the header needs no XSRF, as before
    r = await fetch(modules, token_header(token), "POST", b'{"slug": "m2", "title": "M2"}')
    assert r.code == 201, r.body


async def test_a_cookie_signed_with_another_secret_is_not_a_login(grader, fake_hub):
    token = fake_hub.add_user("teacher", (ACCESS, LEARN, AUTHOR))
    # what a replica with a random secret of its own (as before) would have set
    r = await fetch(page_url(grader), {"Cookie": login_cookie(token, "another-token")})
    assert r.code == 302 and "/hub/api/oauth2/authorize" in r.headers["Location"]
    r = await fetch(page_url(grader, "api/v1/modules"), {"Cookie": login_cookie(token, "x")})
    assert r.code == 403


def test_a_login_begun_on_one_replica_ends_on_another():
    """The OAuth state (next page, PKCE verifier) is sealed in the state itself: the
    replica the Hub sends the browser back to reads it; the verifier is not readable
    in it; another service's secret reads nothing."""

    def replica(token):
        return GraderOAuth(
            api_token=token,
            oauth_client_id="service-grader",
            base_url=PAGE,
            state_secret=cookie_secret_from_token(token),
        )

    first, second, stranger = replica("shared"), replica("shared"), replica("other")
    verifier = "v" * 43
    state = first.generate_state("/services/grader/?x=1", code_verifier=verifier)
    assert verifier not in state and "services" not in state
    assert second.get_next_url(state) == "/services/grader/?x=1"
    assert second.get_code_verifier(state) == verifier
    assert stranger.get_code_verifier(state) is None
    assert stranger.get_next_url(state) == PAGE  # the default: the service's own page
    assert second.get_code_verifier(state[:-4] + "AAAA") is None  # tampered


# a real Hub --------------------------------------------------------------------------

ADMIN_PASSWORD = "admin horse battery staple"
LEARNER_PASSWORD = "learner horse battery staple"


@pytest.fixture(scope="module")
def hub():
    env = {
        "COURSEHUB_COURSE_DIR": str(REPO_DIR / "course_content"),
        "COURSEHUB_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    with RunningHub(env=env) as running:
        _wait_for_grader(running)
        yield running


def _wait_for_grader(hub, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        try:
            r = requests.get(f"{hub.url}{PAGE}api/v1/health", timeout=10)
            if r.status_code == 200:
                return
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline, f"grader not healthy:\n{hub.log()[-5000:]}"
        time.sleep(0.5)


class Browser:
    """A person at a browser: a cookie jar, the Hub's forms with their XSRF token."""

    def __init__(self, hub: RunningHub):
        self.hub = hub
        self.session = requests.Session()

    def hub_form(self, path: str, **data) -> requests.Response:
        if self.session.cookies.get("_xsrf", path="/hub/") is None:
            self.session.get(f"{self.hub.url}/hub/login", allow_redirects=False)
        data["_xsrf"] = self.session.cookies.get("_xsrf", path="/hub/")
        return self.session.post(f"{self.hub.url}/hub/{path}", data=data, allow_redirects=False)

    def log_in(self, name: str, password: str):
        r = self.hub_form("login", username=name, password=password)
        assert r.status_code == 302, r.text

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.session.get(f"{self.hub.url}{path}", timeout=30, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.session.post(f"{self.hub.url}{path}", timeout=30, **kwargs)

    @property
    def grader_xsrf(self) -> str | None:
        """The `_xsrf` cookie the grader's OAuth callback set (the Hub has its own)."""
        return self.session.cookies.get("_xsrf", path=PAGE)


def code_in_maildir(hub, address: str) -> str:
    """The code mailed to `address`, from the Hub's maildir (no SMTP server here)."""
    box = mailbox.Maildir(hub.state_dir / "mail", create=False)
    (mail,) = [m for m in box if m["To"] == address]
    text = mail.get_payload()[0].get_payload(decode=True).decode()
    return re.search(r"\b[A-HJKMNP-Z2-9]{6}\b", text).group(0)


@pytest.mark.hub
def test_an_instructor_signs_in_through_the_hub_and_uses_the_api_with_the_cookie(hub):
    r = hub.api("POST", "/groups/instructors/users", json={"users": ["admin"]})
    assert r.status_code == 200, r.text
    admin = Browser(hub)
    admin.log_in("admin", ADMIN_PASSWORD)

    # the Hub's "Services -> grader" link: through the Hub's OAuth, back to the page,
    # which sends the instructor on to the course's dashboard
    r = admin.get("/services/grader")
    assert r.status_code == 200, (r.status_code, r.text[-2000:], hub.log()[-5000:])
    assert urlparse(r.url).path == f"{PAGE}courses/python-foundations/"
    hops = [urlparse(h.url).path for h in r.history]
    assert "/hub/api/oauth2/authorize" in hops and f"{PAGE}oauth_callback" in hops, hops
    assert PAGE in hops
    assert "instructor's dashboard" in r.text
    assert "Python basics" in r.text and "Strings and collections" in r.text
    assert admin.grader_xsrf

    api = f"{PAGE}api/v1/modules"
    r = admin.get(api)
    assert r.status_code == 200 and len(r.json()["modules"]) >= 3, r.text
    module = {"slug": "browser-made", "title": "Made in a browser"}
    r = admin.post(api, json=module)
    assert r.status_code == 403 and "X-XSRFToken" in r.json()["message"], r.text
    r = admin.post(api, json=module, headers={"X-XSRFToken": admin.grader_xsrf})
    assert r.status_code == 201, r.text
    assert "Made in a browser" in admin.get(PAGE).text
    r = admin.get(f"{PAGE}api/v1/gradebook.csv")
    assert r.status_code == 200 and r.text.startswith("user,")

    # signed out of everything: the API answers 403, never a redirect
    r = requests.get(hub.url + api, allow_redirects=False, timeout=30)
    assert r.status_code == 403 and r.json()["status"] == 403


@pytest.mark.hub
def test_a_learner_signs_up_and_the_grader_points_to_their_jupyterlab(hub):
    name, address = "pageslearner", "pageslearner@example.org"
    hub.learners.append(name)
    learner = Browser(hub)
    r = learner.hub_form(
        "signup",
        username=name,
        email=address,
        password=LEARNER_PASSWORD,
        password_confirmation=LEARNER_PASSWORD,
    )
    assert r.status_code == 201, r.text
    r = learner.hub_form("verify", username=name, code=code_in_maildir(hub, address))
    assert r.status_code == 200 and "is verified" in r.text, r.text
    r = hub.api("POST", f"/users/{name}")  # the admin approves
    assert r.status_code == 201, r.text
    learner.log_in(name, LEARNER_PASSWORD)

    r = learner.get(PAGE)
    assert r.status_code == 200 and urlparse(r.url).path == PAGE, r.text[-2000:]
    assert f'href="/user/{name}/lab"' in r.text and 'id="no-course"' in r.text
    # joining the open sample course from the browser (the cookie, with its XSRF token)
    r = learner.post(
        f"{PAGE}api/v1/courses/python-foundations/enrol",
        headers={"X-XSRFToken": learner.grader_xsrf},
    )
    assert r.status_code == 200 and r.json()["role"] == "learner", r.text
    r = learner.get(PAGE)
    assert 'id="progress"' in r.text and 'id="no-course"' not in r.text
    assert "dashboard" not in r.text and "gradebook" not in r.text
    r = learner.get(f"{PAGE}api/v1/progress")
    assert r.status_code == 200 and r.json()["user"] == name
    assert learner.get(f"{PAGE}api/v1/gradebook.csv").status_code == 403
    r = learner.post(
        f"{PAGE}api/v1/modules",
        json={"slug": "nope", "title": "Nope"},
        headers={"X-XSRFToken": learner.grader_xsrf},
    )
    assert r.status_code == 403 and AUTHOR in r.json()["message"]
