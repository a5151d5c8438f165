"""LTI 1.3, the grader's side: launches forwarded by the Hub, linking LMS courses to
coursehub courses, grade passback (AGS) through the outbox, roster sync (NRPS).

The platform is real HTTP on loopback (tests/lti_services.py): its token endpoint
verifies the tool's client assertion against the key set the grader serves; its AGS
endpoint records every score. Grading is real (bubblewrap)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import stat
from dataclasses import dataclass
from datetime import timedelta

import nbformat
import pytest
from sqlalchemy import select, update

from grader import orm
from grader.lti import outbox
from grader.scopes import HUB_SCOPE
from tests.conftest import ACCESS, AUTHOR, LEARN, Client, answer, fake_hub_course
from tests.lti_services import (
    AGS_LINEITEM,
    AGS_SCORE,
    CLIENT_ID,
    ISSUER,
    FakePlatformServices,
)

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
TA = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"
CORRECT = "def square(x):\n    return x * x"  # 3 points
PARTIAL = "def square(x):\n    return x + 2"  # 1 point
WRONG = "def square(x):\n    return 0"  # 0 points
MAPPED = "cs101-fall"  # linked to `demo` by the platforms file
UNLINKED = "cs202-spring"


@pytest.fixture
async def platform():
    services = FakePlatformServices()
    yield services
    services.stop()


@pytest.fixture
def lti_env(tmp_path, monkeypatch, platform):
    path = tmp_path / "platforms.json"
    path.write_text(json.dumps([platform.platform_entry(courses={MAPPED: "demo"})]))
    monkeypatch.setenv("COURSEHUB_LTI_PLATFORMS", str(path))
    monkeypatch.setenv("COURSEHUB_LTI_KEY_FILE", str(tmp_path / "keys" / "tool.pem"))
    return tmp_path / "keys" / "tool.pem"


@dataclass
class World:
    grader: object
    hub: object
    platform: FakePlatformServices
    the_hub: Client  # the Hub's own calls (HUB_SCOPE)
    key_file: object

    def user(self, name: str, scopes=()) -> Client:
        return Client(self.grader.base_url, self.hub.add_user(name, (ACCESS, *scopes)))

    def body(self, user, sub, roles, context=MAPPED, ags=True, nrps=True) -> dict:
        p = self.platform
        return {
            "user": user,
            "issuer": ISSUER,
            "client_id": CLIENT_ID,
            "deployment_id": "1",
            "sub": sub,
            "name": user.title(),
            "email": f"{user}@uni.test",
            "roles": roles,
            "context": {"id": context, "label": context.upper(), "title": f"LMS {context}"},
            "resource_link": {"id": "rl-1", "title": "coursehub"},
            "custom": {},
            "ags": {
                "scope": [AGS_LINEITEM, AGS_SCORE],
                "lineitems": p.lineitems_url(context),
                "lineitem": None,
            }
            if ags
            else None,
            "nrps": {"context_memberships_url": p.memberships_url(context)} if nrps else None,
        }

    async def launch(self, user, sub, roles, context=MAPPED, **kw) -> dict:
        if f"token-{user}" not in self.hub.tokens:  # the Hub made the user at its login
            self.hub.add_user(user, (ACCESS,))
        code, data = await self.the_hub.post(
            "lti/launches", self.body(user, sub, roles, context, **kw)
        )
        assert code == 200, data
        return data

    def teach(self, name: str, slug: str = "demo") -> Client:
        """A coursehub instructor of ``slug`` (in its instructors group)."""
        client = self.user(name)
        self.hub.groups[f"course-{slug}-instructors"].add(name)
        self.hub.grant(name)
        return client

    def db(self):
        return self.grader.session_factory()

    def posts(self) -> list[orm.LTIScorePost]:
        with self.db() as db:
            return list(db.scalars(select(orm.LTIScorePost).order_by(orm.LTIScorePost.id)))


@pytest.fixture
async def world(lti_env, grader, fake_hub, platform, course) -> World:
    platform.jwks_url = grader.base_url + "lti/jwks"
    fake_hub.tokens["hub-calls"] = {
        "kind": "service",
        "name": "coursehub-hub",
        "scopes": [ACCESS, HUB_SCOPE],
    }
    return World(grader, fake_hub, platform, Client(grader.base_url, "hub-calls"), lti_env)


async def submit(client: Client, question_id: int, source: str) -> dict:
    code, model = await client.get(f"questions/{question_id}")
    assert code == 200, model
    nb = answer(nbformat.from_dict(model["notebook"]), source)
    code, data = await client.post("submissions", {"question": question_id, "notebook": nb})
    assert code == 202, data
    graded = await client.wait_graded(data["id"])
    assert graded["status"] == "graded", graded
    return graded


def context_id(world: World, context: str = MAPPED) -> int:
    with world.db() as db:
        return db.scalar(select(orm.LTIContext.id).where(orm.LTIContext.context_id == context))


# launches -----------------------------------------------------------------------------


async def test_a_launch_enrols_learners_and_instructors_of_a_linked_context(world):
    data = await world.launch("ann", "sub-ann", [LEARNER])
    assert data["course"] == "demo" and data["role"] == "learner" and data["linked"], data
    assert "ann" in world.hub.groups["course-demo"]
    assert "ann" not in world.hub.groups["course-demo-instructors"]
    # she learns there now: her token carries the course's scope
    ann = Client(world.grader.base_url, "token-ann")
    code, courses = await ann.get("courses")
    assert code == 200 and [c["slug"] for c in courses["courses"] if c["enrolled"]] == ["demo"]

    data = await world.launch("tia", "sub-tia", [TA])
    assert data["role"] == "instructor" and data["linked"], data
    assert "tia" in world.hub.groups["course-demo-instructors"]

    # the same launch again changes nothing
    await world.launch("ann", "sub-ann", [LEARNER])
    with world.db() as db:
        member = db.scalar(select(orm.LTIMember).where(orm.LTIMember.sub == "sub-ann"))
        assert member.enrolled_as == "learner" and member.launched
        enrolment = db.scalar(select(orm.Enrolment).where(orm.Enrolment.user_id == member.user_id))
        assert enrolment.role == "learner"
        account = db.scalar(select(orm.LTIAccount).where(orm.LTIAccount.sub == "sub-ann"))
        assert account.email == "ann@uni.test"
        # one entry for each launch that changed a membership, none for the repeat
        enrolled = db.execute(
            select(orm.AuditEntry.actor, orm.AuditEntry.target)
            .where(orm.AuditEntry.action == "lti.launch_enrol")
            .order_by(orm.AuditEntry.id)
        ).all()
        assert [tuple(e) for e in enrolled] == [("ann", "user ann"), ("tia", "user tia")]


async def test_an_unlinked_context_is_recorded_and_its_instructor_sent_to_link_it(world):
    data = await world.launch("lea", "sub-lea", [LEARNER], context=UNLINKED)
    assert data["linked"] is False and data["course"] is None and data["link_url"] is None
    assert "lea" not in world.hub.groups["course-demo"]
    data = await world.launch("ivo", "sub-ivo", [INSTRUCTOR], context=UNLINKED)
    assert data["linked"] is False and data["role"] == "instructor"
    assert data["link_url"] == f"/services/grader/lti/link?context={data['context']}"


async def test_only_the_hub_forwards_launches(world):
    body = world.body("mallory", "sub-m", [INSTRUCTOR])
    for client in (
        world.user("mallory", (LEARN,)),
        world.user("prof", (LEARN, AUTHOR)),
        Client(world.grader.base_url, None),
    ):
        code, data = await client.post("lti/launches", body)
        assert code == 403, data
    assert "mallory" not in world.hub.groups["course-demo-instructors"]
    with world.db() as db:
        assert db.scalar(select(orm.LTIAccount).where(orm.LTIAccount.sub == "sub-m")) is None


@pytest.mark.parametrize(
    "change, field",
    [
        ({"sub": ""}, "sub"),
        ({"user": None}, "user"),
        ({"roles": "Instructor"}, "roles"),
        ({"context": {"label": "x"}}, "context.id"),
        ({"ags": {"scope": "all", "lineitems": None}}, "ags.scope"),
        (
            {"nrps": {"context_memberships_url": "file:///etc/passwd"}},
            "nrps.context_memberships_url",
        ),
        ({"issuer": "https://evil.example"}, "issuer"),
        ({"client_id": "another-tool"}, "issuer"),
        ({"deployment_id": "99"}, "deployment_id"),
    ],
)
async def test_a_malformed_launch_is_refused_naming_the_field(world, change, field):
    body = {**world.body("ann", "sub-ann", [LEARNER]), **change}
    code, data = await world.the_hub.post("lti/launches", body)
    assert code == 400 and data["message"].startswith(field), data
    assert "ann" not in world.hub.groups["course-demo"]


# the key set ---------------------------------------------------------------------------


async def test_the_key_set_is_public_and_holds_no_private_part(world):
    code, jwks = await Client(world.grader.base_url, None).get("lti/jwks")
    assert code == 200, jwks
    (key,) = jwks["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["kid"]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
    assert stat.S_IMODE(os.stat(world.key_file).st_mode) == 0o600
    # the same key on the next request (and after a restart: it is the file's)
    code, again = await Client(world.grader.base_url, None).get("lti/jwks")
    assert again == jwks


# linking ------------------------------------------------------------------------------


async def test_who_may_link_a_context(world):
    await fake_hub_course(world.grader, world.hub, "other")
    tina = world.teach("tina")  # teaches demo, launches as the LMS course's instructor
    olga = world.teach("olga", "other")  # teaches another course, launched too
    tom = world.teach("tom")  # teaches demo, never launched from the LMS course
    tess = world.teach("tess")  # teaches demo, launched as a learner there
    await world.launch("tina", "sub-tina", [INSTRUCTOR], context=UNLINKED)
    await world.launch("olga", "sub-olga", [INSTRUCTOR], context=UNLINKED)
    await world.launch("tess", "sub-tess", [LEARNER], context=UNLINKED)
    leo = world.user("leo")
    await world.launch("leo", "sub-leo", [LEARNER])  # a learner of demo
    await world.launch("leo", "sub-leo", [LEARNER], context=UNLINKED)
    cid = context_id(world, UNLINKED)
    path = f"courses/demo/lti/contexts/{cid}"

    code, data = await leo.request("PUT", path, {"grain": "module"})
    assert code == 403 and "instructors of demo" in data["message"], data
    code, data = await olga.request("PUT", path, {})
    assert code == 404, data  # demo is not hers to see
    code, data = await tom.request("PUT", path, {})
    assert code == 403 and "never launched" in data["message"], data
    code, data = await tess.request("PUT", path, {})
    assert code == 403 and "without an instructor role" in data["message"], data
    code, data = await tina.request("PUT", path, {"grain": "weekly"})
    assert code == 400 and "grain" in data["message"], data

    code, data = await tina.request("PUT", path, {"grain": "question"})
    assert code == 200 and data["course"] == "demo" and data["grain"] == "question", data
    assert data["linked_by"] == "tina"
    code, data = await olga.request("PUT", f"courses/other/lti/contexts/{cid}", {})
    assert code == 409, data  # linked elsewhere: unlink first
    code, listed = await tina.get("lti/contexts")
    # hers to link or linked (and the one the platforms file linked to her course)
    assert code == 200 and cid in [c["id"] for c in listed["contexts"]], listed
    code, listed = await olga.get("lti/contexts")
    assert code == 200 and [c["id"] for c in listed["contexts"]] == [cid], listed

    code, data = await tom.request("DELETE", path)
    assert code == 403, data
    code, data = await tina.request("DELETE", path)
    assert code == 204, data
    with world.db() as db:
        assert db.get(orm.LTIContext, cid).course_id is None
        entries = [
            (e.actor, e.action)
            for e in db.scalars(
                select(orm.AuditEntry)
                .where(orm.AuditEntry.target == f"lti context {cid}")
                .order_by(orm.AuditEntry.id)
            )
        ]
    assert entries == [("tina", "lti.link"), ("tina", "lti.unlink")]


async def test_the_link_page_links_a_context(world):
    tina = world.teach("tina")
    await world.launch("tina", "sub-tina", [INSTRUCTOR], context=UNLINKED)
    cid = context_id(world, UNLINKED)
    pages = world.grader.base_url.replace("api/v1/", "")
    page = Client(pages, tina.token)
    code, html = await page.get(f"lti/link?context={cid}")
    assert code == 200 and 'id="link-form"' in html and "LMS cs202-spring" in html
    code, html = await page.request(
        "POST", "lti/link", raw=f"context={cid}&course=demo&grain=course".encode()
    )
    assert code == 200 and "LMS cs202-spring" in html  # followed to the course's LTI page
    with world.db() as db:
        context = db.get(orm.LTIContext, cid)
        assert context.course_id is not None and context.grain == "course"
    code, html = await page.get("courses/demo/lti")
    assert code == 200 and f'data-context="{cid}"' in html


# passback -----------------------------------------------------------------------------


async def enrolled_learner(world, name="ann") -> Client:
    await world.launch(name, f"sub-{name}", [LEARNER])
    return Client(world.grader.base_url, f"token-{name}")


async def test_a_graded_submission_posts_the_module_total(world, course):
    ann = await enrolled_learner(world)
    await submit(ann, course["question"]["id"], PARTIAL)
    assert await world.grader.lti_sender.send_due() == 1
    (score,) = world.platform.scores
    assert score["userId"] == "sub-ann"
    assert (score["scoreGiven"], score["scoreMaximum"]) == (1.0, 3.0)
    assert score["gradingProgress"] == "FullyGraded" and score["activityProgress"] == "InProgress"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", score["timestamp"])
    (item,) = world.platform.lineitems[MAPPED]
    assert item["resourceId"] == f"module-{course['module']['id']}" and item["label"] == "Basics"
    assert item["scoreMaximum"] == 3.0 and item["tag"] == "coursehub"
    # the token endpoint verified a correctly signed assertion (and no bad one came)
    assert world.platform.assertions and not world.platform.token_failures
    claims = world.platform.assertions[0]
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert claims["aud"] == world.platform.token_url
    assert claims["exp"] - claims["iat"] <= 300

    await submit(ann, course["question"]["id"], CORRECT)
    assert await world.grader.lti_sender.send_due() == 1
    assert [s["scoreGiven"] for s in world.platform.scores] == [1.0, 3.0]
    assert world.platform.scores[-1]["activityProgress"] == "Completed"
    assert world.platform.lineitem_posts == 1  # the line item is made once
    assert len(world.platform.assertions) <= 2  # the tokens are cached
    assert await world.grader.lti_sender.send_due() == 0
    (post,) = world.posts()
    assert post.status == "sent" and post.version == 2


async def test_a_learner_not_from_the_lms_and_an_unlinked_course_post_nothing(world, course):
    bob = world.user("bob", (LEARN,))  # learns in every course, never launched
    await submit(bob, course["question"]["id"], CORRECT)
    assert world.posts() == []
    assert await world.grader.lti_sender.send_due() == 0


async def test_a_platform_down_then_up_gets_the_latest_score_once(world, course):
    ann = await enrolled_learner(world)
    sender = world.grader.lti_sender
    qid = course["question"]["id"]
    world.platform.stop()  # refuses connections
    await submit(ann, qid, WRONG)
    assert await sender.send_due() == 0
    (post,) = world.posts()
    assert post.status == "pending" and post.attempts == 1 and "connect" in post.last_error
    assert post.next_attempt > orm.utcnow()  # backed off
    world.platform.start()
    world.platform.down = True  # now it answers, 503
    await submit(ann, qid, PARTIAL)
    assert await sender.send_due() == 0
    (post,) = world.posts()
    assert post.attempts == 2 and "503" in post.last_error
    await submit(ann, qid, CORRECT)  # the second improvement while down
    world.platform.down = False
    later = orm.utcnow() + timedelta(hours=2)  # past any backoff
    assert await sender.send_due(later) == 1
    assert await sender.send_due(later) == 0
    assert [(s["userId"], s["scoreGiven"]) for s in world.platform.scores] == [("sub-ann", 3.0)]
    (post,) = world.posts()
    assert post.status == "sent" and post.version == 3


async def test_a_sender_that_crashed_after_its_claim_is_taken_over(world, course):
    ann = await enrolled_learner(world)
    await submit(ann, course["question"]["id"], CORRECT)
    with world.grader.writer_factory() as db:  # a replica claims it, then dies
        (claim,) = outbox.claim_due(db, now=orm.utcnow(), limit=10, lease=120)
    assert await world.grader.lti_sender.send_due() == 0  # its lease holds
    with world.grader.writer_factory() as db:
        db.execute(
            update(orm.LTIScorePost).values(claimed_until=orm.utcnow() - timedelta(seconds=1))
        )
        db.commit()
    assert await world.grader.lti_sender.send_due() == 1
    assert [s["scoreGiven"] for s in world.platform.scores] == [3.0]
    # the dead replica's late answer marks nothing: it was taken over and sent
    with world.grader.writer_factory() as db:
        outbox.mark_failed(db, claim, "late", orm.utcnow())
    (post,) = world.posts()
    assert post.status == "sent"


async def test_two_senders_never_send_one_score_twice(world, course):
    for name in ("ann", "ben", "cat"):
        client = await enrolled_learner(world, name)
        await submit(client, course["question"]["id"], CORRECT)
    sender = world.grader.lti_sender
    sent = await asyncio.gather(sender.send_due(), sender.send_due(), sender.send_due())
    assert sum(sent) == 3
    assert sorted(s["userId"] for s in world.platform.scores) == ["sub-ann", "sub-ben", "sub-cat"]
    assert world.platform.lineitem_posts == 1  # one line item for the module


async def test_a_refused_score_fails_and_the_instructor_retries_it(world, course):
    tina = world.teach("tina")
    ann = await enrolled_learner(world)
    world.platform.score_status = 400
    await submit(ann, course["question"]["id"], CORRECT)
    assert await world.grader.lti_sender.send_due() == 0
    (post,) = world.posts()
    assert post.status == "failed" and "400" in post.last_error
    assert await world.grader.lti_sender.send_due(orm.utcnow() + timedelta(days=1)) == 0

    code, model = await tina.get("courses/demo/lti")
    assert code == 200, model
    (linked,) = model["contexts"]
    assert linked["outbox"] == {"pending": 0, "sent": 0, "failed": 1}
    assert model["problems"][0]["user"] == "ann" and "400" in model["problems"][0]["error"]
    pages = Client(world.grader.base_url.replace("api/v1/", ""), tina.token)
    code, html = await pages.get("courses/demo/lti")
    assert code == 200 and 'data-post="' in html and "Retry" in html

    world.platform.score_status = None
    code, data = await tina.post("courses/demo/lti/retry", {"ids": [post.id]})
    assert code == 200 and data == {"retried": 1}, data
    assert await world.grader.lti_sender.send_due() == 1
    assert [s["scoreGiven"] for s in world.platform.scores] == [3.0]


async def test_question_grain_posts_the_question_best(world, course):
    tina = world.teach("tina")
    await world.launch("tina", "sub-tina", [INSTRUCTOR])
    cid = context_id(world)
    code, data = await tina.request(
        "PUT", f"courses/demo/lti/contexts/{cid}", {"grain": "question"}
    )
    assert code == 200 and data["grain"] == "question", data
    ann = await enrolled_learner(world)
    await submit(ann, course["question"]["id"], CORRECT)
    assert await world.grader.lti_sender.send_due() == 1
    (item,) = world.platform.lineitems[MAPPED]
    assert item["resourceId"] == f"question-{course['question']['id']}"
    assert world.platform.scores[0]["scoreGiven"] == 3.0


# roster sync --------------------------------------------------------------------------


def member(sub, roles=(LEARNER,), status="Active"):
    return {"user_id": sub, "roles": list(roles), "status": status, "name": sub}


async def wait_for_roster(client, path):
    for _ in range(200):
        code, data = await client.get(path)
        assert code == 200, data
        if data["status"] != "running":
            return data
        await asyncio.sleep(0.05)
    raise AssertionError(f"roster sync did not end: {data}")


async def test_a_roster_sync_enrols_and_removes_only_what_lti_made(world):
    tina = world.teach("tina")
    await world.launch("tina", "sub-tina", [INSTRUCTOR])
    for name in ("ann", "dan", "fay"):  # enrolled by their launches
        await world.launch(name, f"sub-{name}", [LEARNER])
    await world.launch("bob", "sub-bob", [LEARNER], context=UNLINKED)  # an account, not enrolled
    # eve was added by hand, then launched: her membership is not LTI's
    code, data = await tina.post("courses/demo/members", {"user": "eve"})
    assert code == 201, data
    await world.launch("eve", "sub-eve", [LEARNER])
    # gil never launched, but has a Hub account of the name his launch would give him
    gil = world.user("gil@uni.test")
    code, data = await gil.get("courses")
    assert code == 200, data
    world.platform.members[MAPPED] = [
        {**member("sub-gil"), "email": "Gil@uni.test"},
        member("sub-tina", [INSTRUCTOR]),
        member("sub-ann"),
        member("sub-bob"),  # has an account: enrolled now
        member("sub-carl"),  # no account yet: recorded, enrolled at his first launch
        member("sub-dan", status="Inactive"),  # removed
        member("sub-eve", status="Inactive"),  # kept: not LTI's doing
        member("sub-ivy", [TA]),  # no account
    ]  # fay is no longer listed: removed
    cid = context_id(world)
    path = f"courses/demo/lti/contexts/{cid}/roster"
    code, data = await tina.post(path)
    assert code == 202 and data["status"] == "running", data
    result = await wait_for_roster(tina, path)
    assert result["status"] == "done", result
    counts = result["counts"]
    assert (counts["listed"], counts["added"], counts["removed"]) == (8, 2, 2), counts
    assert counts["without_account"] == 2, counts
    learners = world.hub.groups["course-demo"]
    assert {"ann", "bob", "eve", "gil@uni.test"} <= learners and not {"dan", "fay"} & learners
    assert "tina" in world.hub.groups["course-demo-instructors"]
    with world.db() as db:
        carl = db.scalar(select(orm.LTIMember).where(orm.LTIMember.sub == "sub-carl"))
        assert carl.user_id is None and carl.enrolled_as is None
        (sync,) = db.scalars(
            select(orm.AuditEntry).where(orm.AuditEntry.action == "lti.roster_sync")
        ).all()
        assert sync.actor == "tina" and sync.detail["removed"] == 2
    # carl's first launch enrols him
    data = await world.launch("carl", "sub-carl", [LEARNER])
    assert data["linked"] and "carl" in world.hub.groups["course-demo"]


async def test_a_roster_is_read_page_by_page(world):
    tina = world.teach("tina")
    await world.launch("tina", "sub-tina", [INSTRUCTOR])
    world.platform.page_size = 2
    world.platform.members[MAPPED] = [member(f"sub-{i}") for i in range(5)]
    path = f"courses/demo/lti/contexts/{context_id(world)}/roster"
    code, data = await tina.post(path)
    assert code == 202, data
    result = await wait_for_roster(tina, path)
    assert result["status"] == "done" and result["counts"]["listed"] == 5, result


# what a learner reaches ---------------------------------------------------------------


async def test_a_learner_reads_nothing_of_lti(world, course):
    ann = await enrolled_learner(world)
    await world.launch("ann", "sub-ann", [LEARNER], context=UNLINKED)
    cid = context_id(world)
    other = context_id(world, UNLINKED)
    for method, path, body in [
        ("GET", "lti/contexts", None),
        ("GET", "courses/demo/lti", None),
        ("PUT", f"courses/demo/lti/contexts/{other}", {}),
        ("DELETE", f"courses/demo/lti/contexts/{cid}", None),
        ("POST", "courses/demo/lti/retry", {}),
        ("POST", f"courses/demo/lti/contexts/{cid}/roster", {}),
        ("GET", f"courses/demo/lti/contexts/{cid}/roster", None),
    ]:
        code, data = await ann.request(method, path, body)
        assert code in (403, 404), (method, path, code, data)
    pages = Client(world.grader.base_url.replace("api/v1/", ""), ann.token)
    for path in ("courses/demo/lti", f"lti/link?context={cid}", f"lti/link?context={other}"):
        code, html = await pages.get(path)
        assert code in (403, 404), (path, code)
    code, html = await pages.request("POST", "courses/demo/lti", raw=b"action=retry")
    assert code in (403, 404)
    with world.db() as db:
        assert db.get(orm.LTIContext, other).course_id is None


async def test_a_line_item_another_replica_is_making_is_waited_for(world, course):
    ann = await enrolled_learner(world)
    key = f"module-{course['module']['id']}"
    with world.grader.writer_factory() as db:  # another replica's reservation, just made
        db.add(orm.LTILineItem(context_id=context_id(world), key=key, url="", label=""))
        db.commit()
    await submit(ann, course["question"]["id"], CORRECT)
    sender = world.grader.lti_sender
    assert await sender.send_due() == 0
    (post,) = world.posts()
    assert post.status == "pending" and "another sender" in post.last_error
    assert world.platform.lineitem_posts == 0
    # that replica died: its reservation, older than a claim's lease, is taken over
    with world.grader.writer_factory() as db:
        db.execute(update(orm.LTILineItem).values(created=orm.utcnow() - timedelta(hours=1)))
        db.commit()
    assert await sender.send_due(orm.utcnow() + timedelta(hours=2)) == 1
    assert world.platform.lineitem_posts == 1 and len(world.platform.scores) == 1
