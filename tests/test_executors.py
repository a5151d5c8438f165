"""Executors against a real bubblewrap sandbox (no mocks).

Skipped, with the reason shown, only where bubblewrap is not installed.
"""

import asyncio
import os
import shutil
import socket
import sys

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from grader.executors.base import (
    BACKSTOP_GRACE,
    SandboxFailure,
    SandboxUnavailable,
    parse_results,
)
from grader.executors.bubblewrap import BubblewrapExecutor
from grader.executors.unsandboxed import UnsandboxedExecutor
from grader.grading.run import grade

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed (apt-get install bubblewrap)"
)
pytestmark = [pytest.mark.sandbox, needs_bwrap]


@pytest.fixture
def executor():
    return BubblewrapExecutor(time_limit=30, cell_time_limit=2)


@pytest.fixture
def roomy_executor():
    """For runs that must reach a memory or process limit before the time limit, even on
    a loaded machine."""
    return BubblewrapExecutor(time_limit=60, cell_time_limit=20)


def meta(gid, **kw):
    base = {"grade": False, "solution": False, "locked": False, "grade_id": gid}
    base.update(kw, schema_version=3)
    return {"nbgrader": base}


def question():
    return new_notebook(
        cells=[
            new_code_cell(
                "def mean(xs):\n    ### BEGIN SOLUTION\n    return sum(xs) / len(xs)\n"
                "    ### END SOLUTION",
                metadata=meta("mean", solution=True),
            ),
            new_code_cell(
                "assert mean([1, 2, 3]) == 2", metadata=meta("test_basic", grade=True, points=1)
            ),
            new_code_cell(
                "### BEGIN HIDDEN TESTS\nassert mean([-1, 1]) == 0\nassert mean([2.5]) == 2.5\n"
                "### END HIDDEN TESTS",
                metadata=meta("test_hidden", grade=True, points=2),
            ),
            new_code_cell(
                "score = 0\nfor xs in ([4], [1, 3], [0, 10]):\n    try:\n"
                "        score += mean(xs) == sum(xs) / len(xs)\n    except Exception:\n"
                "        pass\nscore",
                metadata=meta("test_partial", grade=True, points=3),
            ),
        ]
    )


def answer(source):
    nb = question()
    nb.cells[0].source = source
    return nb


async def graded(executor, source):
    report = await grade(executor, question(), answer(source))
    return report, {t["name"]: t for t in report.tests}


async def test_check_works(executor):
    assert await executor.check() == "ok"


async def test_correct_answer_gets_full_marks(executor):
    report, tests = await graded(executor, "def mean(xs):\n    return sum(xs) / len(xs)")
    assert (report.score, report.max_score) == (6.0, 6.0)
    assert all(t["passed"] for t in tests.values())


async def test_partial_answer_gets_partial_credit(executor):
    # right for one-element lists only
    report, tests = await graded(executor, "def mean(xs):\n    return xs[0]")
    assert tests["test_basic"]["points"] == 0
    assert tests["test_basic"]["message"].startswith("AssertionError")
    assert "assert mean([1, 2, 3]) == 2" in tests["test_basic"]["message"]
    assert tests["test_hidden"]["message"] == "hidden test failed: AssertionError"
    assert tests["test_partial"]["points"] == 1.0
    assert report.score == 1.0


async def test_wrong_answer_and_stub_get_zero(executor):
    report, tests = await graded(executor, "def mean(xs):\n    return 0")
    assert report.score == 0
    report, tests = await graded(
        executor, "def mean(xs):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    )
    assert report.score == 0
    assert tests["test_basic"]["message"].startswith("NotImplementedError")
    assert tests["test_hidden"]["message"] == "hidden test failed: NotImplementedError"


async def test_infinite_loop_hits_the_cell_time_limit_and_the_run_finishes(executor):
    report, tests = await graded(executor, "def mean(xs):\n    while True:\n        pass")
    assert tests["test_basic"]["message"].startswith("time_limit")
    assert tests["test_hidden"]["message"] == "hidden test failed: time_limit"
    assert report.score == 0


async def test_swallowed_interrupt_still_times_out(executor):
    outcomes = await executor.run(
        [
            "while True:\n    try:\n        while True: pass\n    except BaseException:\n        pass",
            "'next'",
        ]
    )
    assert outcomes[0].reason == "time_limit"
    assert outcomes[1].result == "'next'"


async def test_whole_run_time_limit_marks_remaining_cells():
    executor = BubblewrapExecutor(time_limit=3, cell_time_limit=100)
    outcomes = await executor.run(["x = 1", "import time\ntime.sleep(60)", "x"])
    assert outcomes[0].status == "ok"
    # the cell running when the time is up is interrupted; the rest never start
    assert [o.status for o in outcomes[1:]] == ["error", "not_run"]
    assert {o.reason for o in outcomes[1:]} == {"time_limit"}


async def test_memory_limit(roomy_executor):
    outcomes = await roomy_executor.run(
        ["x = [0] * 10**10", "xs = []\nwhile True:\n    xs.append(' ' * 10**6)", "del xs\n'alive'"]
    )
    assert [o.reason for o in outcomes[:2]] == ["memory_limit", "memory_limit"]
    assert outcomes[0].ename == "MemoryError"
    assert outcomes[2].result == "'alive'"


async def test_fork_bomb_is_contained(roomy_executor):
    outcomes = await roomy_executor.run(["import os\nwhile True:\n    os.fork()", "'alive'"])
    assert outcomes[0].status == "error"
    assert outcomes[0].reason == "process_limit"
    assert outcomes[1].result == "'alive'"


async def test_endless_print_hits_the_output_limit(executor):
    outcomes = await executor.run(["while True:\n    print('spam')", "print('ok')"])
    assert outcomes[0].reason == "output_limit"
    assert len(outcomes[0].stdout.encode()) <= executor.output_limit
    assert outcomes[1].stdout == "ok\n"


async def test_no_network(executor):
    # a service listening on the host's loopback (as the grader and PostgreSQL do)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        outcomes = await executor.run(
            [
                f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3)",
                "import socket\nsocket.getaddrinfo('pypi.org', 443)",
            ]
        )
    assert all(o.status == "error" for o in outcomes)
    assert outcomes[0].ename in ("OSError", "ConnectionRefusedError", "TimeoutError")


async def test_filesystem_is_confined(executor):
    marker = "/root" if os.path.isdir("/root") else "/etc/shadow"
    outcomes = await executor.run(
        [
            f"import os\nos.listdir({marker!r})",
            "open('/usr/evil', 'w')",
            "open('/etc/evil', 'w')",
            "open('/evil', 'w')",
            "open('/tmp/fine', 'w').write('ok')\nopen('/tmp/fine').read()",
            "import os\nos.getuid() != 0",
            f"open({__file__!r}).read()",
        ]
    )
    assert [o.status for o in outcomes] == ["error", "error", "error", "error", "ok", "ok", "error"]
    assert outcomes[4].result == "'ok'"
    assert outcomes[5].result == "True"
    assert not os.path.exists("/usr/evil") and not os.path.exists("/etc/evil")


async def test_fake_json_on_stdout_cannot_change_the_score(executor):
    fake = (
        '{"index": 1, "status": "ok", "reason": null, "result": null, "stdout": "", '
        '"stderr": "", "nonce": ""}\\n{"done": true}\\n'
    )
    source = (
        "import os, sys\n"
        f"print({fake!r} * 5)\n"
        f"os.write(1, {fake!r}.encode() * 5)\n"
        f"os.write(2, {fake!r}.encode())\n"
        "def mean(xs):\n    return 0"
    )
    report, tests = await graded(executor, source)
    assert report.score == 0


async def test_the_learners_process_cannot_reach_the_result_channel(executor):
    outcomes = await executor.run(
        [
            # every descriptor the learner's process holds: the result channel is not one
            "import os\nfor fd in map(int, os.listdir('/proc/self/fd')):\n    try:\n"
            '        os.write(fd, b\'{"index": 1, "status": "ok"}\\n\')\n'
            "    except OSError:\n        pass",
            "assert False",
        ]
    )
    # garbage on its socket to the trusted process: the learner's process is dropped
    assert [o.status for o in outcomes] == ["error", "error"]
    assert {o.reason for o in outcomes} == {"learner_exit"}


async def test_sys_exit_and_os_exit(executor):
    outcomes = await executor.run(
        ["import sys\nsys.exit(3)", "'after'", "import os\nos._exit(0)", "1"]
    )
    assert outcomes[0].ename == "SystemExit"
    assert outcomes[1].result == "'after'"
    assert outcomes[2].reason == "learner_exit"
    assert outcomes[3].status == "error" and outcomes[3].reason == "learner_exit"


async def test_tracebacks_name_cells_and_hide_the_runner(executor):
    outcomes = await executor.run(["def f():\n    return 1 / 0", "f()", "def broken(:"])
    tb = "\n".join(outcomes[1].traceback)
    assert '<cell 2>", line 1' in tb and '<cell 1>", line 2' in tb
    assert "runner" not in tb
    assert outcomes[2].ename == "SyntaxError"


async def test_missing_bwrap_is_reported():
    executor = BubblewrapExecutor(bwrap="/nonexistent/bwrap")
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        await executor.check()


async def test_unsandboxed_refuses_unless_allowed():
    with pytest.raises(SandboxUnavailable, match="allow_unsandboxed = True"):
        await UnsandboxedExecutor().run(["1"])
    outcomes = await UnsandboxedExecutor(allow_unsandboxed=True).run(["x = 2", "x * 21"])
    assert outcomes[1].result == "42"


def test_parse_results_rejects_out_of_order_and_foreign_lines():
    good = b'{"index": 0, "status": "ok", "nonce": "n"}\n'
    outcomes, complete = parse_results(good + b'{"done": true, "nonce": "n"}\n', 1, "n", 10**6, 100)
    assert complete and outcomes[0].status == "ok"
    outcomes, complete = parse_results(good + good, 2, "n", 10**6, 100)
    assert not complete and [o.status for o in outcomes] == ["ok", "not_run"]
    outcomes, complete = parse_results(good.replace(b'"n"', b'"x"'), 1, "n", 10**6, 100)
    assert outcomes[0].status == "not_run"
    outcomes, complete = parse_results(good + b'{"index": 1, "sta', 2, "n", 10**6, 100)
    assert not complete and [o.status for o in outcomes] == ["ok", "not_run"]


async def test_fork_bomb_does_not_starve_a_concurrent_sandbox():
    executor = BubblewrapExecutor(time_limit=30, cell_time_limit=10)
    await check_neighbours(executor)


async def check_neighbours(executor):
    bomb = (
        "import os, time\ntry:\n    while True:\n        if os.fork() == 0:\n"
        "            time.sleep(30)\n            os._exit(0)\nexcept BlockingIOError:\n"
        "    pass\ntime.sleep(3)\n'bomb held'"
    )

    async def neighbour():
        await asyncio.sleep(1)  # while the bomb holds every process it could get
        return await executor.run(
            ["import subprocess\nsubprocess.run(['/usr/bin/true']).returncode"]
        )

    bombed, other = await asyncio.gather(executor.run([bomb]), neighbour())
    assert bombed[0].result == "'bomb held'"
    assert other[0].status == "ok" and other[0].result == "0"


async def test_a_fork_bomb_in_another_grader_process_does_not_starve_this_one(tmp_path):
    # two grader processes on one host (replicas, or a restart overlapping the old one)
    # lease sandbox uids from one host-wide pool: process limits count per uid
    script = tmp_path / "other_grader.py"
    script.write_text(
        "import asyncio, sys\n"
        "from grader.executors.bubblewrap import BubblewrapExecutor\n"
        "bomb = sys.argv[1]\n"
        "outcomes = asyncio.run(BubblewrapExecutor(time_limit=30, cell_time_limit=10).run([bomb]))\n"
        "print(outcomes[0].result)\n"
    )
    bomb = (
        "import os, time\ntry:\n    while True:\n        if os.fork() == 0:\n"
        "            time.sleep(30)\n            os._exit(0)\nexcept BlockingIOError:\n"
        "    pass\ntime.sleep(4)\n'bomb held'"
    )
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    other = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        bomb,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": repo},
    )
    await asyncio.sleep(2)  # while the other grader's sandbox holds every process it can
    outcomes = await BubblewrapExecutor(time_limit=30, cell_time_limit=10).run(
        ["import subprocess\nsubprocess.run(['/usr/bin/true']).returncode"]
    )
    out, _ = await other.communicate()
    assert out.decode().strip() == "'bomb held'"
    assert outcomes[0].status == "ok" and outcomes[0].result == "0"


async def test_a_trusted_process_lost_mid_run_is_a_sandbox_failure_not_a_grade():
    executor = BubblewrapExecutor(time_limit=30, cell_time_limit=10)

    async def lose_it():
        await asyncio.sleep(1.0)  # while the learner's cell sleeps
        await executor.zygote().stop()  # the warm trusted process and its children die

    run = executor.run(["import time\ntime.sleep(3)", "1"])
    with pytest.raises(SandboxFailure, match="ended early"):
        await asyncio.gather(run, lose_it())
    # the next run starts a new warm trusted process and is graded as usual
    outcomes = await executor.run(["x = 2", "x * 21"])
    assert outcomes[1].result == "42"
    await executor.close()


async def test_a_learner_sandbox_started_ahead_may_wait_longer_than_a_run_lasts():
    executor = BubblewrapExecutor(time_limit=1.5, cell_time_limit=1, warm_learners=1)
    assert (await executor.run(["1"]))[0].result == "1"  # starts the next one ahead
    await asyncio.sleep(1.5 + BACKSTOP_GRACE + 0.5)  # longer than a run may last
    outcomes = await executor.run(["x = 2", "x * 21"])
    assert outcomes[1].result == "42"


def test_the_environment_allows_running_unsandboxed(monkeypatch):
    monkeypatch.delenv("COURSEHUB_ALLOW_UNSANDBOXED", raising=False)
    assert UnsandboxedExecutor().allow_unsandboxed is False
    monkeypatch.setenv("COURSEHUB_ALLOW_UNSANDBOXED", "1")
    assert UnsandboxedExecutor().allow_unsandboxed is True
    monkeypatch.setenv("COURSEHUB_ALLOW_UNSANDBOXED", "0")
    assert UnsandboxedExecutor().allow_unsandboxed is False
