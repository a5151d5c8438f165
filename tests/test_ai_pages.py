"""The instructor's page of a course's AI help: `/services/grader/courses/<slug>/ai`
(the settings, never the key; every exchange, newest first, a page at a time, by
question, learner or kind).

Service tests: the grader in-process, a real grading in the sandbox, the exchanges
made through the API against the fake OpenAI-compatible model on loopback
(tests/ai_support.py); people signed in with a Hub token holding their courses'
filtered scopes, as the Hub grants them.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from grader.handlers import course_pages
from tests.conftest import fake_hub_course
from tests.test_ai_grounding import MARKERS
from tests.test_ai_service import KEY, ai, model, stream, submit, turn_on  # noqa: F401
from tests.test_grader_pages import PAGE, fetch, page_url, token_header
from tests.test_practice_pages import no_script_nothing_foreign, row, section
from tests.test_watch_pages import learns, teaches

pytestmark = pytest.mark.sandbox

# what a learner may type to the tutor, to be shown as text
HOSTILE = '<img src=x onerror="alert(1)"> how do I cube?'
HOSTILE_ESCAPED = "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; how do I cube?"


@pytest.fixture
async def logged(ai, grader, fake_hub):  # noqa: F811
    """AI help on in demo (the marked question, cube); ann asks for a hint on her wrong
    submission and sends the tutor a message with HTML in it; bob sends the tutor one.
    Course other (instructor olga) exists."""
    await turn_on(ai)
    ann = grader.client_for("ann", learns("demo"))
    bob = grader.client_for("bob", learns("demo"))
    qid = ai["question"]
    graded = await submit(ann, qid)
    code, events, _ = await stream(ann, f"submissions/{graded['id']}/hint")
    assert code == 200 and events[-1][0] == "done", events
    code, events, _ = await stream(ann, f"tutor/{qid}/messages", {"text": HOSTILE})
    assert code == 200 and events[-1][0] == "done", events
    code, events, _ = await stream(bob, f"tutor/{qid}/messages", {"text": "bob asks"})
    assert code == 200 and events[-1][0] == "done", events
    await fake_hub_course(grader, fake_hub, "other")
    olga = grader.client_for("olga", teaches("other"))
    return SimpleNamespace(
        grader=grader,
        teacher=ai["teacher"],
        ann=ann,
        bob=bob,
        olga=olga,
        question=qid,
        submission=graded["id"],
        model=ai["model"],
    )


async def get_page(world, path: str, client=None):
    client = client or world.teacher
    return await fetch(page_url(world.grader, path), token_header(client.token))


def exchange_ids(html: str) -> list[int]:
    ids, start = [], 0
    while (start := html.find('data-exchange="', start)) != -1:
        start += len('data-exchange="')
        ids.append(int(html[start : html.index('"', start)]))
    return ids


async def test_the_instructor_reads_every_exchange_newest_first_and_the_settings(logged):
    r = await get_page(logged, "courses/demo/ai")
    assert r.code == 200, r.body
    assert r.headers["Content-Security-Policy"].startswith("default-src 'none'")
    html = r.body.decode()
    # the model's URL is loopback http: nothing else foreign, and no script
    no_script_nothing_foreign(html.replace(logged.model.base_url, ""))
    assert f'aria-current="page" href="{PAGE}courses/demo/ai">AI<' in html
    assert f'href="{PAGE}courses/demo/practice">Practice<' in html

    settings = section(html, 'id="ai-settings"')
    assert 'class="col-sm-9 enabled">on<' in settings and 'class="col-sm-9 tutor">on<' in settings
    assert f"<code>{logged.model.base_url}</code>" in settings
    assert "<code>fake-1</code>" in settings
    assert "<code>COURSEHUB_AI_KEY_TESTS</code>" in settings and ">not set<" not in settings
    assert 'class="col-sm-9 budget">10<' in settings
    assert "25% of the question" in settings
    assert "updated" in settings and "by teacher" in settings
    # the key itself: nowhere
    assert KEY not in html and "SECRETKEY" not in html

    log = section(html, 'id="ai-exchanges"')
    ids = exchange_ids(log)
    assert len(ids) == 3 and ids == sorted(ids, reverse=True), ids
    bob_turn, ann_turn, ann_hint = (row(log, f'data-exchange="{i}"') for i in ids)
    reply = "Look at your loop&#39;s last step."
    assert 'class="kind">hint' in ann_hint
    assert f'href="{PAGE}courses/demo/submissions/{logged.submission}">#' in ann_hint
    assert f'href="{PAGE}courses/demo/learners/ann">ann<' in ann_hint
    assert f'href="{PAGE}courses/demo/questions/{logged.question}/submissions"' in ann_hint
    assert ">cube<" in ann_hint and 'class="status">ok' in ann_hint
    assert reply in ann_hint and 'class="xp-cost">25%<' in ann_hint
    assert "return x * 3" in ann_hint  # what was sent: her code, for the instructor
    assert 'class="kind">tutor' in ann_turn and HOSTILE_ESCAPED in ann_turn
    assert reply in ann_turn and 'class="xp-cost">—<' in ann_turn
    assert 'learners/bob">bob<' in bob_turn and "bob asks" in bob_turn
    assert "<time datetime=" in bob_turn


async def test_hidden_tests_and_the_solution_never_appear(logged):
    html = (await get_page(logged, "courses/demo/ai")).body.decode()
    assert len(exchange_ids(html)) == 3
    for marker in MARKERS:
        assert marker not in html


async def test_the_log_is_filtered_and_paged_with_the_filters_kept(logged, monkeypatch):
    all_ids = exchange_ids((await get_page(logged, "courses/demo/ai")).body.decode())
    bob_turn, ann_turn, ann_hint = all_ids

    async def ids_of(query):
        r = await get_page(logged, "courses/demo/ai" + query)
        assert r.code == 200, (query, r.body)
        return exchange_ids(r.body.decode()), r.body.decode()

    assert (await ids_of("?kind=hint"))[0] == [ann_hint]
    assert (await ids_of("?kind=tutor"))[0] == [bob_turn, ann_turn]
    assert (await ids_of("?learner=ann"))[0] == [ann_turn, ann_hint]
    ids, html = await ids_of("?learner=ann&kind=tutor")
    assert ids == [ann_turn]
    assert 'name="learner" value="ann"' in html and '<option value="tutor" selected>' in html
    assert (await ids_of(f"?question={logged.question}"))[0] == all_ids
    ids, html = await ids_of("?learner=nobody")
    assert ids == [] and 'id="no-exchanges"' in html

    # a page at a time, the filters kept in the link to the next one
    monkeypatch.setattr(course_pages, "AI_PAGE", 1)
    ids, html = await ids_of("?kind=tutor")
    assert ids == [bob_turn]
    assert f'id="older" href="?kind=tutor&amp;before={bob_turn}"' in html
    ids, html = await ids_of(f"?kind=tutor&before={bob_turn}")
    assert ids == [ann_turn] and 'id="newest" href="?kind=tutor"' in html
    assert 'id="older"' not in html  # the last tutor exchange
    ids, html = await ids_of(f"?before={ann_turn}")
    assert ids == [ann_hint]

    # what is not a filter
    for query, code in (
        ("?kind=secret", 400),
        ("?before=abc", 400),
        ("?question=999999", 404),
        (f"?question={2**64}", 404),
    ):
        r = await get_page(logged, "courses/demo/ai" + query)
        assert r.code == code, (query, r.code)


async def test_learners_get_403_other_instructors_404(logged):
    for learner in (logged.ann, logged.bob):
        r = await get_page(logged, "courses/demo/ai", learner)
        assert r.code == 403, r.code
        body = r.body.decode()
        assert "bob asks" not in body and "Look at your loop" not in body
    r = await get_page(logged, "courses/demo/ai", logged.olga)
    assert r.code == 404
    assert "bob asks" not in r.body.decode()
    # another course's page does not read demo's log, nor filter by its question
    r = await get_page(logged, f"courses/other/ai?question={logged.question}", logged.olga)
    assert r.code == 404
    r = await get_page(logged, "courses/other/ai", logged.olga)
    assert r.code == 200 and 'id="no-exchanges"' in r.body.decode()
    assert "bob asks" not in r.body.decode()
    # signed out: to the Hub's login
    r = await fetch(page_url(logged.grader, "courses/demo/ai"))
    assert r.code == 302 and "/hub/api/oauth2/authorize" in r.headers["Location"]


async def test_a_course_without_ai_says_it_is_off(grader, fake_hub):
    prof = grader.client_for("prof", teaches("demo"))
    r = await fetch(page_url(grader, "courses/demo/ai"), token_header(prof.token))
    assert r.code == 200, r.body
    html = r.body.decode()
    assert 'class="col-sm-9 enabled">off<' in html and 'id="no-exchanges"' in html
    assert "No exchanges yet" in html
