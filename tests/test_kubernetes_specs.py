"""Kubernetes: the pure manifest builders, the shipped YAML, the pod's result channel.

No cluster runs here (docs/deploy-kubernetes.md says what was not run); these tests
check what can be checked without one: every security field of a grading Job, limits,
names, that hidden tests live only in the Secret, that the YAML parses and agrees with
the code, and that the pod's constant launch line really leaves only result lines on
stdout (run with the real runner under /bin/sh).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from traitlets.config import Config

from grader.executors.base import SandboxUnavailable, parse_results, runner_source
from grader.executors.kubernetes import (
    GRADING_LABELS,
    INPUT_MOUNT,
    LAUNCH_SCRIPT,
    RESULT_FD,
    JobTooLarge,
    KubernetesExecutor,
    cpu_quantity,
    failure_reason,
    is_dns1123_label,
    job_finished,
    make_grading_network_policy,
    make_job,
    make_job_input,
    make_job_name,
    make_owner_reference,
    pod_problem,
)

K8S_DIR = Path(__file__).resolve().parent.parent / "images" / "kubernetes"
HIDDEN = "assert add(2, 2) == 4, 'HIDDEN-TEST-MARKER'"


def build(**traits):
    executor = KubernetesExecutor(namespace="coursehub", image="reg/learner:1", **traits)
    document = json.dumps(executor.job_document(["x = 1", HIDDEN], RESULT_FD, "nonce-abc123"))
    return executor, *executor.make_objects("coursehub-grade-0123456789abcdef", document)


def container(job):
    return job["spec"]["template"]["spec"]["containers"][0]


# -- the Job -------------------------------------------------------------------------------


def test_job_is_single_use_and_locked_down():
    _, _, job = build()
    spec = job["spec"]
    pod = spec["template"]["spec"]
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    assert spec["backoffLimit"] == 0 and pod["restartPolicy"] == "Never"
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    security = container(job)["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == 65534
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["privileged"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    for labels in (job["metadata"]["labels"], spec["template"]["metadata"]["labels"]):
        assert labels["app.kubernetes.io/component"] == "grading"


def test_job_input_is_a_read_only_secret_and_tmp_is_in_memory():
    _, secret, job = build(tmp_size=32 * 1024 * 1024)
    pod = job["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["job"]["secret"]["secretName"] == secret["metadata"]["name"]
    assert volumes["tmp"]["emptyDir"] == {"medium": "Memory", "sizeLimit": str(32 * 1024 * 1024)}
    mounts = {m["mountPath"]: m for m in container(job)["volumeMounts"]}
    assert mounts[INPUT_MOUNT]["readOnly"] is True
    assert mounts["/tmp"]["name"] == "tmp"


def test_limits_are_mapped():
    _, _, job = build(
        cpu_limit=0.5,
        cpu_request=0.1,
        memory_limit=256 * 1024 * 1024,
        tmp_size=16 * 1024 * 1024,
        time_limit=30,
        startup_grace=20.5,
        ttl_seconds_after_finished=120,
    )
    resources = container(job)["resources"]
    memory = str((256 + 16) * 1024 * 1024)  # /tmp in memory counts against the limit
    assert resources["limits"] == {"cpu": "500m", "memory": memory}
    assert resources["requests"] == {"cpu": "100m", "memory": memory}
    assert job["spec"]["activeDeadlineSeconds"] == 51
    assert job["spec"]["ttlSecondsAfterFinished"] == 120
    assert cpu_quantity(0.0001) == "1m"


def test_optional_runtime_class_and_node_selector():
    _, _, plain = build()
    assert "runtimeClassName" not in plain["spec"]["template"]["spec"]
    _, _, job = build(runtime_class="gvisor", node_selector={"pool": "grading"})
    pod = job["spec"]["template"]["spec"]
    assert pod["runtimeClassName"] == "gvisor"
    assert pod["nodeSelector"] == {"pool": "grading"}


def test_hidden_tests_and_nonce_only_in_the_secret():
    executor, secret, job = build()
    text = json.dumps(job)
    assert "HIDDEN-TEST-MARKER" not in text and "nonce-abc123" not in text
    c = container(job)
    assert c["command"] == ["/bin/sh", "-c", LAUNCH_SCRIPT, "python3"]
    assert {e["name"]: e["value"] for e in c["env"]} == executor.environment()
    document = json.loads(secret["stringData"]["job.json"])
    assert HIDDEN in document["cells"] and document["nonce"] == "nonce-abc123"
    assert secret["stringData"]["runner.py"] == runner_source()
    assert secret["immutable"] is True and secret["kind"] == "Secret"


def test_a_job_too_large_for_a_secret_is_refused():
    with pytest.raises(JobTooLarge, match="Secret holds at most"):
        make_job_input("coursehub-grade-x", "ns", "x" * (1024 * 1024), "runner")


# -- names -----------------------------------------------------------------------------


def test_names_are_dns1123_labels():
    names = {make_job_name() for _ in range(50)}
    assert len(names) == 50
    assert all(is_dns1123_label(n) and len(n) <= 63 for n in names)
    for bad in ("Upper", "-start", "end-", "a_b", "a" * 64, ""):
        assert not is_dns1123_label(bad)
        with pytest.raises(ValueError):
            make_job(bad, "ns", "img", input_secret="ok")
    with pytest.raises(ValueError):
        make_job_name("x" * 50)


# -- status interpretation ---------------------------------------------------------------


def test_job_status_is_read_like_kubernetes_reports_it():
    complete = {"status": {"conditions": [{"type": "Complete", "status": "True"}]}}
    deadline = {
        "status": {
            "conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}]
        }
    }
    failed = {"status": {"conditions": [{"type": "Failed", "status": "True", "reason": "X"}]}}
    running = {"status": {"active": 1}}
    oom = {"status": {"containerStatuses": [{"state": {"terminated": {"reason": "OOMKilled"}}}]}}
    assert job_finished(complete) and job_finished(deadline) and not job_finished(running)
    assert failure_reason(complete, []) is None
    assert failure_reason(deadline, []) == "time_limit"
    assert failure_reason(failed, [oom]) == "memory_limit"
    assert failure_reason(failed, []) == "sandbox_error"
    assert failure_reason(running, []) == "time_limit"
    pull = {
        "status": {
            "containerStatuses": [
                {"state": {"waiting": {"reason": "ImagePullBackOff", "message": "no"}}}
            ]
        }
    }
    assert pod_problem(pull).startswith("ImagePullBackOff")
    assert pod_problem({"status": {}}) is None


def test_owner_reference_points_at_the_created_job():
    ref = make_owner_reference({"metadata": {"name": "coursehub-grade-1", "uid": "u-1"}})
    assert ref == {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": "coursehub-grade-1",
        "uid": "u-1",
        "blockOwnerDeletion": False,
    }


def test_network_policy_denies_everything_to_grading_pods():
    policy = make_grading_network_policy("coursehub")
    assert policy["metadata"]["namespace"] == "coursehub"
    spec = policy["spec"]
    assert set(spec["policyTypes"]) == {"Ingress", "Egress"}
    assert spec["ingress"] == [] and spec["egress"] == []
    selected = spec["podSelector"]["matchLabels"]
    assert selected.items() <= GRADING_LABELS.items()


@pytest.mark.skipif(
    importlib.util.find_spec("kubernetes_asyncio") is not None,
    reason="kubernetes_asyncio is installed here",
)
async def test_check_without_the_client_says_what_to_install():
    with pytest.raises(SandboxUnavailable, match="pip install kubernetes_asyncio"):
        await KubernetesExecutor().check()


# -- the pod's result channel, run for real with /bin/sh and the runner ----------------


def test_launch_line_leaves_only_result_lines_on_stdout(tmp_path):
    """What the pod log will hold: results, even when learner code writes to fds 1 and 2."""
    cells = [
        "print('learner stdout')",
        "import os, sys; os.write(1, b'raw fd1\\n'); os.write(2, b'raw fd2\\n'); 6 * 7",
        "1 / 0",
    ]
    nonce = "n" * 32
    executor = KubernetesExecutor()
    document = executor.job_document(cells, RESULT_FD, nonce)
    (tmp_path / "job.json").write_text(json.dumps(document))
    (tmp_path / "runner.py").write_text(runner_source())
    script = LAUNCH_SCRIPT.replace(INPUT_MOUNT, str(tmp_path))
    proc = subprocess.run(
        ["/bin/sh", "-c", script, sys.executable],
        capture_output=True,
        timeout=60,
        env=executor.environment(),
    )
    assert proc.returncode == 0
    assert proc.stderr == b""
    outcomes, complete = parse_results(proc.stdout, len(cells), nonce, 1 << 20, 65536)
    assert complete, proc.stdout[-2000:]
    assert outcomes[0].stdout == "learner stdout\n"
    assert outcomes[1].result == "42"
    assert outcomes[2].ename == "ZeroDivisionError"
    assert b"raw fd1" not in proc.stdout


# -- the shipped YAML ---------------------------------------------------------------------


def load_all(name):
    return [d for d in yaml.safe_load_all((K8S_DIR / name).read_text()) if d]


def test_grader_manifests_parse_and_agree_with_the_executor():
    docs = {(d["kind"], d["metadata"]["name"]): d for d in load_all("grader.yaml")}
    deployment = docs["Deployment", "coursehub-grader"]
    assert deployment["spec"]["replicas"] >= 2
    pod = deployment["spec"]["template"]
    # the grader's own pods must not fall under the grading deny-all policy
    assert pod["metadata"]["labels"]["app.kubernetes.io/component"] != "grading"
    grader = pod["spec"]["containers"][0]
    assert any("KubernetesExecutor" in arg for arg in grader["command"])
    env = {e["name"]: e for e in grader["env"]}
    assert env["COURSEHUB_GRADER_DB_URL"]["value"].startswith("postgresql")
    assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "coursehub-postgresql"
    token = env["JUPYTERHUB_API_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert token == {"name": "hub", "key": "hub.services.grader.apiToken"}
    assert docs["Service", "coursehub-grader"]["spec"]["ports"][0]["port"] == 10101
    # the Role grants what the executor calls, in its namespace
    rules = docs["Role", "coursehub-grader-jobs"]["rules"]
    granted = {(r, v) for rule in rules for r in rule["resources"] for v in rule["verbs"]}
    needed = {
        ("jobs", "create"),
        ("jobs", "get"),
        ("jobs", "list"),
        ("jobs", "delete"),
        ("secrets", "create"),
        ("secrets", "patch"),
        ("secrets", "delete"),
        ("pods", "list"),
        ("pods/log", "get"),
    }
    assert needed <= granted
    assert (
        docs["RoleBinding", "coursehub-grader-jobs"]["subjects"][0]["name"]
        == (pod["spec"]["serviceAccountName"])
    )
    shipped = docs["NetworkPolicy", "coursehub-grading-deny-all"]
    assert shipped == make_grading_network_policy("coursehub")


def test_z2jh_values_parse_and_point_at_the_grader():
    values = load_all("values.yaml")[0]
    grader = values["hub"]["services"]["grader"]
    assert grader["url"] == "http://coursehub-grader:10101"
    assert "apiToken" not in grader  # generated by the chart, read from its Secret
    assert values["hub"]["db"]["type"] == "postgres"
    assert values["cull"]["enabled"] is True
    assert values["singleuser"]["image"]["name"].endswith("coursehub/learner")
    assert values["hub"]["image"]["name"].endswith("coursehub/hub")


def test_z2jh_extra_config_adds_coursehub_without_dropping_the_charts_roles(tmp_path, monkeypatch):
    """Run the values' extraConfig the way the chart does: on a `c` already configured."""
    values = load_all("values.yaml")[0]
    code = values["hub"]["extraConfig"]["coursehub"]
    monkeypatch.setenv("COURSEHUB_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("COURSEHUB_ADMIN_TOKEN", raising=False)
    c = Config()
    culler = {"name": "jupyterhub-idle-culler", "scopes": ["list:users"], "services": ["c"]}
    c.JupyterHub.load_roles = [culler]
    exec(compile(code, "values.yaml:extraConfig", "exec"), {"c": c})
    names = [r["name"] for r in c.JupyterHub.load_roles]
    assert names[0] == "jupyterhub-idle-culler"
    assert {"user", "instructor", "coursehub-grader"} <= set(names)
    grader_role = next(r for r in c.JupyterHub.load_roles if r["name"] == "coursehub-grader")
    assert grader_role["services"] == ["grader"]  # the service named in hub.services
    assert "custom:coursehub:learn" in c.JupyterHub.custom_scopes
    assert c.JupyterHub.authenticator_class.__name__ == "CoursehubAuthenticator"
    assert "custom:coursehub:learn" in c.Spawner.server_token_scopes


# -- the executor's orchestration, against a stand-in API that runs the pod locally --------


class FakeCluster:
    """Just enough of kubernetes_asyncio to run one Job's pod with /bin/sh, locally.

    There is no cluster here: this checks the executor's own steps (Secret before Job,
    owner reference, reading the log, deleting both in every case), not Kubernetes.
    """

    def __init__(self, tmp_path, fail_log=False):
        self.tmp_path, self.fail_log = tmp_path, fail_log
        self.secrets, self.jobs, self.logs, self.calls = {}, {}, {}, []
        cluster = self

        class ApiException(Exception):
            def __init__(self, status=None, reason=None):
                self.status, self.reason = status, reason

        class ApiClient:
            async def __aenter__(self):
                return self

            async def __aexit__(self, *exc):
                return False

            def sanitize_for_serialization(self, obj):
                return obj

        class CoreV1Api:
            def __init__(self, api):
                pass

            async def create_namespaced_secret(self, namespace, body):
                cluster.calls.append("create secret")
                cluster.secrets[body["metadata"]["name"]] = body

            async def patch_namespaced_secret(self, name, namespace, body):
                cluster.calls.append("patch secret")
                cluster.secrets[name]["metadata"].update(body["metadata"])

            async def list_namespaced_pod(self, namespace, label_selector):
                name = label_selector.split("=", 1)[1]
                return {"items": [{"metadata": {"name": f"{name}-pod"}, "status": {}}]}

            async def read_namespaced_pod_log(self, name, namespace, container, limit_bytes):
                if cluster.fail_log:
                    raise ApiException(500, "log unavailable")
                return cluster.logs[name][:limit_bytes]

            async def delete_namespaced_secret(self, name, namespace):
                cluster.calls.append("delete secret")
                del cluster.secrets[name]

        class BatchV1Api:
            def __init__(self, api):
                pass

            async def list_namespaced_job(self, namespace, limit):
                return {"items": []}

            async def create_namespaced_job(self, namespace, body):
                cluster.calls.append("create job")
                name = body["metadata"]["name"]
                cluster.jobs[name] = body
                cluster.run_pod(body)
                return {**body, "metadata": {**body["metadata"], "uid": "uid-1"}}

            async def read_namespaced_job_status(self, name, namespace):
                return {"status": {"conditions": [{"type": "Complete", "status": "True"}]}}

            async def delete_namespaced_job(self, name, namespace, propagation_policy):
                assert propagation_policy == "Background"
                cluster.calls.append("delete job")
                del cluster.jobs[name]

        client = type(sys)("kubernetes_asyncio.client")
        client.ApiException, client.ApiClient = ApiException, ApiClient
        client.CoreV1Api, client.BatchV1Api = CoreV1Api, BatchV1Api
        config = type(sys)("kubernetes_asyncio.config")

        async def load_kube_config():
            pass

        config.load_kube_config = load_kube_config
        config.load_incluster_config = lambda: None
        self.module = type(sys)("kubernetes_asyncio")
        self.module.client, self.module.config = client, config

    def run_pod(self, job):
        pod = job["spec"]["template"]["spec"]
        secret = self.secrets[pod["volumes"][0]["secret"]["secretName"]]
        folder = self.tmp_path / job["metadata"]["name"]
        folder.mkdir()
        for key, text in secret["stringData"].items():
            (folder / key).write_text(text)
        c = pod["containers"][0]
        command = [*c["command"][:2], c["command"][2].replace(INPUT_MOUNT, str(folder))]
        proc = subprocess.run(
            [*command, sys.executable],
            capture_output=True,
            timeout=60,
            env={e["name"]: e["value"] for e in c["env"]},
        )
        self.logs[f"{job['metadata']['name']}-pod"] = proc.stdout.decode()


@pytest.fixture
def fake_cluster(tmp_path, monkeypatch):
    cluster = FakeCluster(tmp_path)
    monkeypatch.setitem(sys.modules, "kubernetes_asyncio", cluster.module)
    monkeypatch.setitem(sys.modules, "kubernetes_asyncio.client", cluster.module.client)
    monkeypatch.setitem(sys.modules, "kubernetes_asyncio.config", cluster.module.config)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return cluster


async def test_executor_grades_through_a_job_and_leaves_nothing(fake_cluster):
    executor = KubernetesExecutor(namespace="coursehub", poll_interval=0.01)
    outcomes = await executor.run(["def add(a, b):\n    return a + b", HIDDEN, "add(1, 1)"])
    assert [o.status for o in outcomes] == ["ok", "ok", "ok"]
    assert outcomes[2].result == "2"
    assert fake_cluster.calls == [
        "create secret",
        "create job",
        "patch secret",
        "delete job",
        "delete secret",
    ]
    assert fake_cluster.jobs == {} and fake_cluster.secrets == {}


async def test_executor_cleans_up_when_the_cluster_fails(fake_cluster):
    fake_cluster.fail_log = True
    executor = KubernetesExecutor(namespace="coursehub", poll_interval=0.01)
    with pytest.raises(SandboxUnavailable, match="500"):
        await executor.run(["1"])
    assert fake_cluster.jobs == {} and fake_cluster.secrets == {}
