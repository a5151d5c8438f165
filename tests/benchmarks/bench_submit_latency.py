"""Submit -> graded latency through the whole stack, as a learner sees it.

Starts a real Hub (proxy, grader, a learner's server with the extension), opens a
sample-course question through the extension, and submits it N times through the
extension, timing each from the POST to the moment `GET submissions/{id}` says graded
(polled every 10 ms). Prints p50, p95 and max.

    python tests/benchmarks/bench_submit_latency.py [--submissions 20] [--docker]

With --docker the learner's server is a container (DockerSpawner) and every submission
is graded in a fresh container (DockerExecutor); the learner image must be built
(images/build.sh).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hub_config.settings import REPO_DIR  # noqa: E402
from hub_config.testing import RunningHub  # noqa: E402

LEARNER = "bench-learner"


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--docker", action="store_true", help="Docker spawner and executor")
    args = parser.parse_args()

    env = {"COURSEHUB_COURSE_DIR": str(REPO_DIR / "course_content")}
    if args.docker:
        env |= {
            "COURSEHUB_SPAWNER": "docker",
            "COURSEHUB_EXECUTOR": "docker",
            "COURSEHUB_DOCKER_PREFIX": "coursehub-bench",
        }
    t0 = time.monotonic()
    hub = RunningHub(env=env)
    try:
        hub.start()
        print(f"hub ready: {time.monotonic() - t0:.1f} s")
        hub.api("POST", f"/users/{LEARNER}").raise_for_status()
        hub.learners.append(LEARNER)
        token = hub.api("POST", f"/users/{LEARNER}/tokens", json={}).json()["token"]
        session = requests.Session()
        session.headers["Authorization"] = f"token {token}"
        t1 = time.monotonic()
        hub.api("POST", f"/users/{LEARNER}/server").raise_for_status()
        while not hub.api("GET", f"/users/{LEARNER}").json()["servers"].get("", {}).get("ready"):
            time.sleep(0.1)
        print(f"learner server ready: {time.monotonic() - t1:.1f} s")
        api = f"{hub.url}/user/{LEARNER}/coursehub/api/"
        while session.get(api + "modules").status_code != 200:
            time.sleep(0.2)
        question = session.get(api + "questions").json()["questions"][0]
        path = session.post(api + f"questions/{question['id']}/open").json()["path"]

        latencies = []
        for _ in range(args.submissions):
            start = time.monotonic()
            r = session.post(api + f"questions/{question['id']}/submit", json={"path": path})
            r.raise_for_status()
            submission = r.json()["id"]
            while session.get(api + f"submissions/{submission}").json()["status"] not in (
                "graded",
                "error",
            ):
                time.sleep(0.01)
            latencies.append(time.monotonic() - start)
        ms = [1000 * v for v in latencies]
        mode = "Docker spawner + executor" if args.docker else "local spawner + bubblewrap"
        print(
            f"{mode}: submit -> graded over {len(ms)} submissions: p50 {percentile(ms, 50):.0f} ms, "
            f"p95 {percentile(ms, 95):.0f} ms, max {max(ms):.0f} ms, "
            f"mean {statistics.mean(ms):.0f} ms"
        )
    finally:
        hub.cleanup()
        if args.docker:
            import docker

            client = docker.from_env()
            for container in client.containers.list(all=True, filters={"name": "coursehub-bench"}):
                container.remove(force=True)
            for volume in client.volumes.list(filters={"name": "coursehub-bench"}):
                volume.remove(force=True)
            for network in client.networks.list(names=["coursehub-bench-learners"]):
                network.remove()


if __name__ == "__main__":
    main()
