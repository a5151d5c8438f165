"""Watching a course: its instructors' pages at `/services/grader/courses/<slug>/...`
(dashboard, submissions per question and per learner, one submission, gradebook,
analytics with SVG charts) and `GET analytics`.

Service tests: the grader in-process, submissions graded by the real sandbox, people
signed in with a Hub token (or the grader's login cookie, for the hand-grading form's
request). Course instructors have the course's filtered scopes, as the Hub grants them.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import struct
import zlib
from types import SimpleNamespace
from xml.etree import ElementTree

import nbformat
import pytest

from grader.handlers import course_pages
from grader.instructors import charts, submission_lists
from tests.conftest import (
    AUTHOR,
    LEARN,
    answer,
    fake_hub_course,
    square_question,
)
from tests.test_grader_pages import PAGE, fetch, login_cookie, page_url, token_header

pytestmark = pytest.mark.sandbox

CORRECT = "def square(x):\n    return x * x"
PARTIAL = "def square(x):\n    return x + 2"  # square(2) passes, the hidden square(-3) fails
WRONG = "def square(x):\n    return 0"  # both fail
SECRET = "SECRET_HIDDEN_ASSERT"  # in the square question's hidden test


def teaches(slug: str) -> tuple[str, str]:
    """The scopes the Hub grants an instructor of one course."""
    return (f"{LEARN}!group=course-{slug}", f"{AUTHOR}!group=course-{slug}")


def learns(slug: str) -> tuple[str]:
    return (f"{LEARN}!group=course-{slug}",)


async def submit(client, question_id: int, source: str, notebook=None) -> int:
    """A submission (the student version answered with ``source``), not waited for."""
    if notebook is None:
        code, model = await client.get(f"questions/{question_id}")
        assert code == 200, model
        notebook = answer(model["notebook"], source)
    code, data = await client.post("submissions", {"question": question_id, "notebook": notebook})
    assert code == 202, data
    return data["id"]


@pytest.fixture
async def watched(grader, fake_hub):
    """Course demo, its instructor prof, and a small class whose figures are worked out
    by hand in test_analytics_match_a_dataset_worked_out_by_hand:

    ann: PARTIAL then CORRECT (passes at attempt 2); bob: CORRECT (attempt 1); cat:
    WRONG then PARTIAL (never passes); prof tries the question too (not counted).
    Course other and its instructor olga, who must see nothing of demo."""
    prof = grader.client_for("prof", teaches("demo"))
    code, module = await prof.post("modules", {"slug": "basics", "title": "Basics"})
    assert code == 201, module
    code, question = await prof.post(
        "questions",
        {
            "module": "basics",
            "slug": "square",
            "title": "Square a number",
            "notebook": square_question(),
        },
    )
    assert code == 201, question
    qid = question["id"]
    people = {name: grader.client_for(name, learns("demo")) for name in ("ann", "bob", "cat")}
    order = [("ann", PARTIAL), ("bob", CORRECT), ("cat", WRONG), ("ann", CORRECT), ("cat", PARTIAL)]
    ids = []
    for name, source in order:
        ids.append((name, await submit(people[name], qid, source)))
    ids.append(("prof", await submit(prof, qid, CORRECT)))
    graded = {}
    for name, submission_id in ids:
        client = prof if name == "prof" else people[name]
        graded[submission_id] = await client.wait_graded(submission_id)
        assert graded[submission_id]["status"] == "graded", graded[submission_id]
    await fake_hub_course(grader, fake_hub, "other")
    return SimpleNamespace(
        grader=grader,
        prof=prof,
        olga=grader.client_for("olga", teaches("other")),
        people=people,
        qid=qid,
        ids=[submission_id for _, submission_id in ids],
        graded=graded,
    )


async def get_page(watched, path: str, client=None):
    client = client or watched.prof
    return await fetch(page_url(watched.grader, path), token_header(client.token))


def _row(html: str, marker: str) -> str:
    start = html.index(marker)
    return html[start : html.index("</tr>", start)]


# the dashboard ------------------------------------------------------------------------


async def test_an_instructor_is_sent_to_the_course_dashboard(watched, fake_hub):
    r = await get_page(watched, "")
    assert (r.code, r.headers["Location"]) == (302, f"{PAGE}courses/demo/")
    r = await get_page(watched, "courses/demo")  # no slash: one is added
    assert (r.code, r.headers["Location"]) == (301, f"{PAGE}courses/demo/")

    r = await get_page(watched, "courses/demo/")
    assert r.code == 200, r.body
    assert r.headers["Content-Security-Policy"].startswith("default-src 'none'")
    html = r.body.decode()
    assert "instructor's dashboard" in html and "Basics" in html
    assert "3 learners enrolled" in html
    row = _row(html, f'data-question="{watched.qid}"')
    assert "Square a number" in row and 'class="status">released<' in row
    assert 'class="submissions">6<' in row  # prof's try included: these are all of them
    assert 'class="solved">3 learners<' in row
    for link in (
        f"{PAGE}courses/demo/questions/{watched.qid}/submissions",
        f"{PAGE}courses/demo/questions/{watched.qid}/analytics",
        f"{PAGE}courses/demo/gradebook",
        f"{PAGE}courses/demo/analytics",
        f"{PAGE}api/v1/gradebook.csv?course=demo",
    ):
        assert f'href="{link}"' in html
    assert "<script" not in html and "http://" not in html and "https://" not in html

    # an instructor of two courses gets the list, and each course's dashboard from it
    both = watched.grader.client_for("duo", (*teaches("demo"), *teaches("other")))
    r = await get_page(watched, "", both)
    assert r.code == 200, r.body
    html = r.body.decode()
    assert 'data-course="demo"' in html and 'data-course="other"' in html
    assert f'href="{PAGE}courses/other/"' in html
    r = await fetch(page_url(watched.grader, "?course=other"), token_header(both.token))
    assert (r.code, r.headers["Location"]) == (302, f"{PAGE}courses/other/")
    r = await get_page(watched, "courses/other/", both)
    assert r.code == 200 and "No modules yet" in r.body.decode()


# submissions ----------------------------------------------------------------------------


async def test_a_questions_submissions_come_newest_first_a_page_at_a_time(watched, monkeypatch):
    monkeypatch.setattr(submission_lists, "PAGE_SIZE", 4)
    path = f"courses/demo/questions/{watched.qid}/submissions"
    r = await get_page(watched, path)
    assert r.code == 200, r.body
    html = r.body.decode()
    assert "6 submissions" in html
    first = [int(i) for i in re.findall(r'data-submission="(\d+)"', html)]
    assert first == sorted(watched.ids, reverse=True)[:4]
    (older,) = re.findall(r'id="older" href="\?before=(\d+)"', html)
    row = _row(html, f'data-submission="{watched.ids[2]}"')  # cat's WRONG
    assert 'href="/services/grader/courses/demo/learners/cat"' in row
    assert 'class="score">0 / 3<' in row and 'class="status">graded<' in row
    assert f'href="{PAGE}courses/demo/submissions/{watched.ids[2]}"' in row

    r = await get_page(watched, f"{path}?before={older}")
    html = r.body.decode()
    rest = [int(i) for i in re.findall(r'data-submission="(\d+)"', html)]
    assert first + rest == sorted(watched.ids, reverse=True)
    assert 'id="older"' not in html and 'href="?">Newest<' in html
    assert (await get_page(watched, f"{path}?before=x")).code == 400


async def test_a_learners_page_has_their_best_scores_and_submissions(watched):
    r = await get_page(watched, "courses/demo/learners/ann")
    assert r.code == 200, r.body
    html = r.body.decode()
    assert "enrolled as learner" in html and "3 / 3 points" in html and "2 submissions" in html
    assert 'class="best">3 / 3<' in _row(html, f'data-question="{watched.qid}"')
    shown = [int(i) for i in re.findall(r'data-submission="(\d+)"', html)]
    assert shown == [watched.ids[3], watched.ids[0]]
    assert (await get_page(watched, "courses/demo/learners/nobody")).code == 404


async def test_a_submission_shows_the_learners_notebook_and_the_feedback(watched):
    wrong = watched.ids[2]  # cat's
    r = await get_page(watched, f"courses/demo/submissions/{wrong}")
    assert r.code == 200, r.body
    html = r.body.decode()
    assert 'id="submission-score">0 / 3<' in html
    visible = _row(html, 'data-test="visible"')
    assert "failed" in visible and "square(2) should be 4" in visible
    hidden = _row(html, 'data-test="hidden"')
    assert "hidden test failed: AssertionError" in hidden
    # the learner's notebook as sent: their answer; never the question's hidden tests
    assert "return 0" in html and "answer" in html and SECRET not in html
    # no hand grading here: no form, no script, the strict policy
    assert 'id="manual-grading"' not in html and "<script" not in html
    assert "script-src" not in r.headers["Content-Security-Policy"]
    # a submission of another course's question, or none: not found
    assert (await get_page(watched, "courses/demo/submissions/999999")).code == 404


def tiny_png() -> bytes:
    """A 1x1 PNG, made here."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


async def test_a_learners_html_and_script_outputs_are_shown_as_text(watched):
    """An attacker's notebook: HTML, script, SVG and a fake image in its outputs and
    markdown. The instructor's page shows every bit as text; only a real PNG becomes
    an image, served by the grader from its own origin with a sandboxing policy."""
    ann = watched.people["ann"]
    code, model = await ann.get(f"questions/{watched.qid}")
    nb = answer(model["notebook"], CORRECT)
    attack = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'
    solution = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
    solution.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=attack),
        nbformat.v4.new_output(
            "display_data", data={"text/html": attack, "text/plain": "<IPython.HTML>"}
        ),
        nbformat.v4.new_output("display_data", data={"text/html": attack}),
        nbformat.v4.new_output(
            "display_data",
            data={"image/svg+xml": '<svg onload="alert(2)"><script>alert(3)</script></svg>'},
        ),
        nbformat.v4.new_output(
            "display_data", data={"image/png": base64.b64encode(tiny_png()).decode()}
        ),
        # HTML that says it is a PNG
        nbformat.v4.new_output(
            "display_data", data={"image/png": base64.b64encode(attack.encode()).decode()}
        ),
        nbformat.v4.new_output(
            "error", ename="ValueError", evalue=attack, traceback=[f"\x1b[31m{attack}\x1b[0m"]
        ),
    ]
    nb.cells.append(nbformat.v4.new_markdown_cell(f"[click](javascript:alert(4)) {attack}"))
    submission_id = await submit(ann, watched.qid, "", notebook=nb)
    assert (await ann.wait_graded(submission_id))["score"] == 3

    r = await get_page(watched, f"courses/demo/submissions/{submission_id}")
    assert r.code == 200, r.body
    assert r.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "script-src" not in r.headers["Content-Security-Policy"]
    html = r.body.decode()
    # no element of the learner's: no script, no svg, no img or link of theirs
    assert "<script" not in html and "<svg" not in html and "<img src=x" not in html
    assert 'href="javascript' not in html
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "text/html, shown as its source" in html and "\x1b[" not in html
    # one image: the real PNG, at the grader's own URL
    images = re.findall(r"<img [^>]*>", html.split("<main", 1)[1])
    solution_index = next(
        i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("solution")
    )
    url = f"{PAGE}courses/demo/submissions/{submission_id}/outputs/{solution_index}/4"
    assert images == [f'<img src="{url}" alt="image output (image/png)" class="img-fluid">']
    r = await fetch(
        page_url(watched.grader, url.removeprefix(PAGE)), token_header(watched.prof.token)
    )
    assert r.code == 200 and r.body == tiny_png()
    assert r.headers["Content-Type"] == "image/png"
    assert "sandbox" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    # the fake one is no image, and the learner gets none of it
    fake = url[:-1] + "5"
    r = await fetch(
        page_url(watched.grader, fake.removeprefix(PAGE)), token_header(watched.prof.token)
    )
    assert r.code == 404
    r = await fetch(page_url(watched.grader, url.removeprefix(PAGE)), token_header(ann.token))
    assert r.code == 403


# the gradebook ----------------------------------------------------------------------------


async def test_the_gradebook_flags_a_best_score_from_a_late_submission(watched, monkeypatch):
    prof, cat = watched.prof, watched.people["cat"]
    # the due date passes; late work is accepted, flagged: cat's best comes from one
    code, data = await prof.request(
        "PUT", f"questions/{watched.qid}", {"due": "2020-01-01T00:00:00Z", "late_policy": "accept"}
    )
    assert code == 200, data
    late = await cat.wait_graded(await submit(cat, watched.qid, CORRECT))
    assert late["late"] is True and late["score"] == 3

    monkeypatch.setattr(course_pages, "GRADEBOOK_PAGE", 2)
    r = await get_page(watched, "courses/demo/gradebook")
    assert r.code == 200, r.body
    html = r.body.decode()
    assert re.findall(r'data-learner="([^"]+)"', html) == ["ann", "bob"]
    assert "late</span>" not in _row(html, 'data-learner="ann"')
    (after,) = re.findall(r'id="next-page" href="\?after=([^"]+)"', html)
    html = (await get_page(watched, f"courses/demo/gradebook?after={after}")).body.decode()
    assert re.findall(r'data-learner="([^"]+)"', html) == ["cat"]
    cat_row = _row(html, 'data-learner="cat"')
    assert '3 <span class="badge text-bg-warning">late</span>' in cat_row
    assert 'href="/services/grader/courses/demo/learners/cat"' in cat_row

    # the CSV: scores stay numbers, the late ones are named in the last column
    r = await fetch(
        page_url(watched.grader, "api/v1/gradebook.csv?course=demo"), token_header(prof.token)
    )
    rows = list(csv.reader(io.StringIO(r.body.decode())))
    assert rows == [
        ["user", "basics/square", "total", "late"],
        ["ann", "3.0", "3.0", ""],
        ["bob", "3.0", "3.0", ""],
        ["cat", "3.0", "3.0", "basics/square"],
    ]
    code, book = await prof.get("gradebook?course=demo")
    late_of = {row["user"]: row["late"] for row in book["learners"]}
    assert late_of == {"ann": [], "bob": [], "cat": [str(watched.qid)]}


# analytics ----------------------------------------------------------------------------------


async def test_analytics_match_a_dataset_worked_out_by_hand(watched):
    """ann passes at attempt 2, bob at 1, cat never (best 1 of 3); five graded learner
    submissions; the hidden test failed in three (ann's and cat's PARTIAL, cat's
    WRONG), the visible one in one (cat's WRONG); prof's try does not count."""
    code, data = await watched.prof.get("analytics?course=demo")
    assert code == 200, data
    (square,) = data["questions"]
    assert {k: square[k] for k in ("slug", "status", "submissions", "learners", "solved")} == {
        "slug": "basics/square",
        "status": "released",
        "submissions": 5,
        "learners": 3,
        "solved": 2,
    }
    assert square["pass_rate"] == round(2 / 3, 4) and square["median_attempts"] == 1.5
    assert square["median_hours_to_pass"] < 1
    attempts = {a["attempts"]: a["learners"] for a in data["attempts"]}
    assert attempts == {"1": 1, "2": 1, **{str(n): 0 for n in range(3, 10)}, "10+": 0}
    # course totals over the released question's 3 points: ann and bob 3, cat 1
    totals = {s["bin"]: s["learners"] for s in data["scores"] if s["learners"]}
    assert totals == {"100%": 2, "30–40%": 1}
    passed_in = {t["bin"]: t["learners"] for t in data["time_to_pass"] if t["learners"]}
    assert passed_in == {"under 1 hour": 2}
    failing = {t["test"]: t for t in data["failing_tests"]}
    assert set(failing) == {"hidden", "visible"}
    assert (failing["hidden"]["failures"], failing["hidden"]["failure_rate"]) == (3, 0.6)
    assert failing["hidden"]["messages"] == [
        {"message": "hidden test failed: AssertionError", "count": 3}
    ]
    assert (failing["visible"]["failures"], failing["visible"]["failure_rate"]) == (1, 0.2)
    (message,) = failing["visible"]["messages"]
    assert "square(2) should be 4" in message["message"] and message["count"] == 1
    assert data["failing_tests"][0]["test"] == "hidden"  # the most failed first
    (today,) = data["activity"]
    assert (today["submissions"], today["learners"]) == (5, 3)

    # one question: its learners' best scores (ann, bob 3 of 3; cat 1 of 3)
    code, one = await watched.prof.get(f"analytics?course=demo&question={watched.qid}")
    assert code == 200, one
    assert one["question"] == watched.qid and one["questions"] == data["questions"]
    best = {s["bin"]: s["learners"] for s in one["scores"] if s["learners"]}
    assert best == {"100%": 2, "30–40%": 1}


async def test_each_plots_data_is_a_csv(watched):
    expected = {
        "pass_rate": (["id", "slug", "title", "status", "learners", "solved", "pass_rate"], 1),
        "attempts": (["attempts", "learners"], 10),
        "scores": (["bin", "low", "high", "learners"], 11),
        "time_to_pass": (["bin", "from_hours", "learners"], 7),
        "activity": (["day", "submissions", "learners"], 1),
        "failing_tests": (
            [
                "question",
                "slug",
                "test",
                "failures",
                "submissions",
                "failure_rate",
                "most_common_message",
                "its_count",
            ],
            2,
        ),
    }
    for plot, (header, count) in expected.items():
        url = f"api/v1/analytics?course=demo&plot={plot}&format=csv"
        r = await fetch(page_url(watched.grader, url), token_header(watched.prof.token))
        assert r.code == 200, (plot, r.body)
        assert r.headers["Content-Type"].startswith("text/csv")
        assert f'filename="analytics-demo-{plot}.csv"' in r.headers["Content-Disposition"]
        rows = list(csv.DictReader(io.StringIO(r.body.decode())))
        assert list(rows[0]) == header and len(rows) == count, (plot, rows)
    rows = list(
        csv.DictReader(
            io.StringIO(
                (
                    await fetch(
                        page_url(
                            watched.grader, "api/v1/analytics?course=demo&plot=pass_rate&format=csv"
                        ),
                        token_header(watched.prof.token),
                    )
                ).body.decode()
            )
        )
    )
    assert rows[0]["slug"] == "basics/square" and float(rows[0]["pass_rate"]) == round(2 / 3, 4)
    # one plot as JSON; unknown plots and formats are 400s that say what there is
    code, data = await watched.prof.get("analytics?course=demo&plot=attempts")
    assert code == 200 and data["attempts"][1] == {"attempts": "2", "learners": 1}
    code, data = await watched.prof.get("analytics?course=demo&plot=nope")
    assert code == 400 and "activity" in data["message"]
    code, data = await watched.prof.get("analytics?course=demo&format=csv")
    assert code == 400 and "plot" in data["message"]


async def test_the_analytics_pages_draw_their_charts_as_svg(watched):
    r = await get_page(watched, "courses/demo/analytics")
    assert r.code == 200, r.body
    assert r.headers["Content-Security-Policy"].startswith("default-src 'none'")
    html = r.body.decode()
    assert "<script" not in html and "style=" not in html
    svgs = re.findall(r"<svg .*?</svg>", html, re.S)
    assert len(svgs) == 5
    for svg in svgs:
        ElementTree.fromstring(svg)  # well-formed
    assert "basics/square (Square a number): 2 of 3 learners who submitted passed" in html
    assert "1 passed at attempt 2" in html and "5 submissions by 3 learners" in html
    row = _row(html, f'data-question="{watched.qid}"')
    assert 'class="pass-rate">67%<' in row and 'class="median-attempts">1.5<' in row
    assert 'data-test="hidden"' in html and "hidden test failed: AssertionError" in html
    assert f'href="{PAGE}api/v1/analytics?course=demo&amp;format=csv&amp;plot=activity"' in html

    r = await get_page(watched, f"courses/demo/questions/{watched.qid}/analytics")
    assert r.code == 200, r.body
    html = r.body.decode()
    assert len(re.findall(r"<svg ", html)) == 4  # no pass rate per question for one
    assert "Best scores" in html
    assert f"question={watched.qid}&amp;format=csv&amp;plot=scores" in html


def test_charts_escape_their_text_and_scale_their_axes():
    evil = '<script>alert("x")</script> & "q"'
    svg = charts.bar_chart(
        [charts.Point(evil, 3, tooltip=evil), charts.Point("b", 7)],
        title=evil,
        x_label=evil,
        y_label="learners",
        integer=True,
    )
    root = ElementTree.fromstring(str(svg))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "<script" not in svg and "&lt;script&gt;" in svg
    titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert titles[0] == evil and evil in titles and "b: 7" in titles
    assert charts.nice_ticks(7, integer=True) == [0, 2, 4, 6, 8]
    assert charts.nice_ticks(100) == [0, 20, 40, 60, 80, 100]
    assert charts.nice_ticks(0.3)[-1] >= 0.3
    line = charts.line_chart(
        [charts.Point(f"day {i}", i) for i in range(40)], title="t", x_label="x", y_label="y"
    )
    root = ElementTree.fromstring(str(line))
    assert len(list(root.iter("{http://www.w3.org/2000/svg}circle"))) == 40
    empty = charts.histogram([], title="t", x_label="x", y_label="y")
    assert "No data yet" in empty


# who sees what -----------------------------------------------------------------------------


async def test_only_the_courses_instructors_see_its_pages(watched):
    paths = [
        "courses/demo/",
        f"courses/demo/questions/{watched.qid}/submissions",
        f"courses/demo/questions/{watched.qid}/analytics",
        "courses/demo/learners/ann",
        f"courses/demo/submissions/{watched.ids[0]}",
        "courses/demo/gradebook",
        "courses/demo/analytics",
    ]
    ann, olga = watched.people["ann"], watched.olga
    for path in paths:
        assert (await get_page(watched, path)).code == 200, path
        r = await get_page(watched, path, ann)  # a learner of the course
        assert r.code == 403, path
        assert r.headers["Content-Type"].startswith("text/html")
        assert "only instructors of demo" in r.body.decode()
        r = await get_page(watched, path, olga)  # an instructor of another course
        assert r.code == 404, path
        assert "demo" not in r.body.decode().split("<main", 1)[1].replace(
            "no such course: demo", ""
        )
        r = await fetch(page_url(watched.grader, path))  # signed out: to the Hub's login
        assert r.code == 302 and "/hub/api/oauth2/authorize" in r.headers["Location"]
    # olga's own course is hers; a question of demo is not one of it
    assert (await get_page(watched, "courses/other/", olga)).code == 200
    r = await get_page(watched, "courses/other/analytics", olga)  # nothing to count yet
    assert r.code == 200 and "No data yet" in r.body.decode()
    r = await fetch(
        page_url(watched.grader, "api/v1/analytics?course=other&plot=activity&format=csv"),
        token_header(olga.token),
    )
    assert r.code == 200 and r.body.decode().splitlines() == ["day,submissions,learners"]
    r = await get_page(watched, f"courses/other/questions/{watched.qid}/submissions", olga)
    assert r.code == 404
    assert (await get_page(watched, "courses/nope/", olga)).code == 404

    # the API answers the same
    code, data = await ann.get("analytics?course=demo")
    assert code == 403 and "demo" in data["message"]
    code, data = await ann.get(f"analytics?question={watched.qid}")
    assert code == 403
    code, data = await olga.get("analytics?course=demo")
    assert code == 404
    code, data = await olga.get(f"analytics?course=other&question={watched.qid}")
    assert code == 404
    code, data = await olga.get("analytics")
    assert code == 200 and data["course"] == "other" and data["questions"] == []


# hand grading ------------------------------------------------------------------------------


def essay_question():
    """The square question and a markdown answer graded by hand (2 points)."""
    nb = square_question()
    nb.cells.append(
        nbformat.v4.new_markdown_cell(
            "YOUR ANSWER HERE",
            metadata={
                "nbgrader": {
                    "grade_id": "explain",
                    "schema_version": 3,
                    "solution": True,
                    "grade": True,
                    "locked": False,
                    "points": 2,
                }
            },
        )
    )
    return nb


async def test_the_hand_grading_form_saves_a_grade_with_the_pages_xsrf_token(watched, fake_hub):
    prof, ann = watched.prof, watched.people["ann"]
    code, question = await prof.post(
        "questions",
        {"module": "basics", "slug": "essay", "title": "Explain", "notebook": essay_question()},
    )
    assert code == 201, question
    code, model = await ann.get(f"questions/{question['id']}")
    nb = answer(model["notebook"], CORRECT)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "explain":
            cell.source = "x * x is <b>the</b> square"
    submission_id = await submit(ann, question["id"], "", notebook=nb)
    graded = await ann.wait_graded(submission_id)
    assert graded["manual_pending"] and graded["score"] == 3 and graded["max_score"] == 5

    # the page, signed in with the grader's login cookie as a browser is
    cookie = login_cookie(prof.token)
    url = page_url(watched.grader, f"courses/demo/submissions/{submission_id}")
    r = await fetch(url, {"Cookie": cookie})
    assert r.code == 200, r.body
    policy = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert "default-src 'none'" in policy and "unsafe-inline" not in policy
    html = r.body.decode()
    assert f'<script src="{PAGE}static/manual_grading.js" defer></script>' in html
    assert "x * x is &lt;b&gt;the&lt;/b&gt; square" in html and "answer graded by hand" in html
    (form,) = re.findall(r'<form class="manual-grade[^>]*>', html)
    action = re.search(r'data-url="([^"]+)"', form).group(1)
    token = re.search(r'data-xsrf="([^"]+)"', form).group(1)
    assert action == f"{PAGE}api/v1/submissions/{submission_id}/grades/explain"
    xsrf_cookie = next(
        c.split(";")[0] for c in r.headers.get_list("Set-Cookie") if c.startswith("_xsrf=")
    )

    # the script the page loads is the grader's, and does what follows
    r = await fetch(page_url(watched.grader, "static/manual_grading.js"))
    assert r.code == 200 and r.headers["Content-Type"].startswith(
        ("application/javascript", "text/javascript")
    )
    script = r.body.decode()
    assert '"X-XSRFToken": form.dataset.xsrf' in script and 'method: "PUT"' in script

    # what the form's script sends: the cookie, and the page's token in the header
    body = json.dumps({"points": 1.5, "comment": "good <i>start</i>"}).encode()
    headers = {"Cookie": f"{cookie}; {xsrf_cookie}", "Content-Type": "application/json"}
    r = await fetch(page_url(watched.grader, action.removeprefix(PAGE)), headers, "PUT", body)
    assert r.code == 403  # without the token: refused
    headers |= {"X-XSRFToken": token, "Sec-Fetch-Mode": "cors"}
    r = await fetch(page_url(watched.grader, action.removeprefix(PAGE)), headers, "PUT", body)
    assert r.code == 200, r.body
    saved = json.loads(r.body)
    assert saved["manual"][0]["points"] == 1.5

    html = (await fetch(url, {"Cookie": cookie})).body.decode()
    assert 'id="submission-score">4.5 / 5<' in html
    assert (
        'value="1.5"' in html and "good &lt;i&gt;start&lt;/i&gt;" in html and "last by prof" in html
    )
