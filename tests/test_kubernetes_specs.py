"""Kubernetes: the pure manifest builders, the shipped YAML, the grading pod run for real.

No cluster runs here (docs/deploy-kubernetes.md says what was not run); these tests
check what can be checked without one: every security field of a grading Job, limits,
names, that hidden tests live only in the Secret, how the API server's reports are read,
that the YAML parses and agrees with the code, and, on a real Docker engine, that the
pod's exact command, run as a container with the pod's user, capabilities, read-only
root, memory-backed /tmp and the Secret's files mounted as the kubelet would, grades a
job with the learner's process unable to read the job or write the pod log.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from traitlets.config import Config

from grader.app import GraderApp
from grader.executors.base import (
    SANDBOX_MODULES,
    CellSpec,
    SandboxFailure,
    SandboxUnavailable,
    sandbox_sources,
)
from grader.executors.docker import DockerExecutor
from grader.executors.kubernetes import (
    BUNDLE_KEY,
    GRADING_LABELS,
    INPUT_MOUNT,
    JOB_KEY,
    TERMINATION_LOG,
    JobTooLarge,
    KubernetesExecutor,
    container_started,
    cpu_quantity,
    is_dns1123_label,
    job_finished,
    make_grading_network_policy,
    make_job,
    make_job_input,
    make_job_name,
    make_owner_reference,
    pod_command,
    pod_problem,
    run_end,
)
from tests.docker_support import TEST_PREFIX, container_logs

K8S_DIR = Path(__file__).resolve().parent.parent / "images" / "kubernetes"
SWARM_STACK = K8S_DIR.parent / "swarm" / "stack.yml"
MARKER = "HIDDEN-TEST-MARKER"
HIDDEN = f"### BEGIN HIDDEN TESTS\nassert add(2, 2) == 4, '{MARKER}'\n### END HIDDEN TESTS"
HIDDEN_CELL = CellSpec(HIDDEN, test=True, hidden_lines=((1, 3),))
ADD = "def add(a, b):\n    return a + b"


def build(**traits):
    executor = KubernetesExecutor(namespace="coursehub", image="reg/learner:1", **traits)
    cells = [CellSpec("x = 1"), HIDDEN_CELL]
    return executor, *executor.make_objects("coursehub-grade-0123456789abcdef", cells, "nonce-abc")


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
    # root with nothing but the right to become the two sandbox uids
    security = container(job)["securityContext"]
    assert security["runAsUser"] == 0 and security["runAsGroup"] == 0
    assert security["runAsNonRoot"] is False
    assert security["capabilities"] == {"drop": ["ALL"], "add": ["SETUID", "SETGID"]}
    assert security["allowPrivilegeEscalation"] is False
    assert security["privileged"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["runAsUser"] == 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    # the pause process is pid 1 and reaps the learner's orphans
    assert pod["shareProcessNamespace"] is True
    for labels in (job["metadata"]["labels"], spec["template"]["metadata"]["labels"]):
        assert labels["app.kubernetes.io/component"] == "grading"


def test_secret_files_are_root_only_and_tmp_is_in_memory():
    _, secret, job = build(tmp_size=32 * 1024 * 1024)
    pod = job["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["job"]["secret"] == {
        "secretName": secret["metadata"]["name"],
        "defaultMode": 0o400,
    }
    # an fsGroup would make the kubelet add group read to the Secret's files
    assert "fsGroup" not in pod["securityContext"]
    assert "supplementalGroups" not in pod["securityContext"]
    assert volumes["tmp"]["emptyDir"] == {"medium": "Memory", "sizeLimit": str(32 * 1024 * 1024)}
    mounts = {m["mountPath"]: m for m in container(job)["volumeMounts"]}
    assert mounts[INPUT_MOUNT] == {"name": "job", "mountPath": INPUT_MOUNT, "readOnly": True}
    assert mounts["/tmp"]["name"] == "tmp"
    assert container(job)["terminationMessagePath"] == TERMINATION_LOG
    assert container(job)["terminationMessagePolicy"] == "File"


def test_limits_are_mapped():
    executor, secret, job = build(
        cpu_limit=0.5,
        cpu_request=0.1,
        memory_limit=256 * 1024 * 1024,
        tmp_size=16 * 1024 * 1024,
        time_limit=30,
        startup_grace=20.5,
        ttl_seconds_after_finished=120,
        file_size_limit=2**20,
        open_files_limit=64,
    )
    resources = container(job)["resources"]
    memory = str((256 + 16) * 1024 * 1024)  # /tmp in memory counts against the limit
    assert resources["limits"] == {"cpu": "500m", "memory": memory}
    assert resources["requests"] == {"cpu": "100m", "memory": memory}
    assert job["spec"]["activeDeadlineSeconds"] == 51
    assert job["spec"]["ttlSecondsAfterFinished"] == 120
    assert cpu_quantity(0.0001) == "1m"
    # Kubernetes has no rlimits: the launcher sets Docker's
    settings = json.loads(secret["stringData"][BUNDLE_KEY])["settings"]
    assert settings["rlimits"] == {"data": 256 * 2**20, "fsize": 2**20, "nofile": 64, "core": 0}
    assert "memory" in executor.limits_in_force() and "podPidsLimit" in str(
        executor.limits_in_force()
    )


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
    assert MARKER not in text and "nonce-abc" not in text
    c = container(job)
    # a constant command: the launcher, the bundle's path, the termination log
    assert c["command"] == pod_command("python3")
    assert c["command"][:3] == ["python3", "-I", "-c"]
    assert c["command"][4:] == [f"{INPUT_MOUNT}/{BUNDLE_KEY}", TERMINATION_LOG]
    assert {e["name"]: e["value"] for e in c["env"]} == executor.environment()
    assert "PATH" not in executor.environment()  # the image's PATH finds its Python
    assert secret["immutable"] is True and secret["kind"] == "Secret"
    assert set(secret["stringData"]) == {BUNDLE_KEY, JOB_KEY}
    document = json.loads(secret["stringData"][JOB_KEY])
    assert document["cells"][1]["source"] == HIDDEN and document["cells"][1]["test"] is True
    assert document["cells"][1]["hidden_lines"] == [[1, 3]]
    assert document["nonce"] == "nonce-abc"
    # the programs, in load order, and the launcher's settings: no hidden test there
    bundle = json.loads(secret["stringData"][BUNDLE_KEY])
    sources = sandbox_sources()
    assert bundle["modules"] == [[name, sources[name]] for name in SANDBOX_MODULES]
    assert MARKER not in json.dumps(bundle["settings"])
    assert bundle["settings"]["job_path"] == f"{INPUT_MOUNT}/{JOB_KEY}"
    assert (bundle["settings"]["learner_uid"], bundle["settings"]["trusted_uid"]) == (65534, 65533)


@pytest.mark.parametrize("uids", [(1000, 1000), (0, 1000), (1000, 0)])
def test_sandbox_uids_must_differ_and_not_be_root(uids):
    executor = KubernetesExecutor(learner_uid=uids[0], trusted_uid=uids[1])
    with pytest.raises(SandboxUnavailable, match="must differ"):
        executor.make_objects("coursehub-grade-x", ["1"], "n")


def test_a_job_too_large_for_a_secret_is_refused():
    with pytest.raises(JobTooLarge, match="Secret holds at most"):
        make_job_input("coursehub-grade-x", "ns", "{}", "x" * (1024 * 1024))
    executor = KubernetesExecutor()
    with pytest.raises(JobTooLarge):
        executor.make_objects("coursehub-grade-x", ["x = 1\n" * 200_000], "n")


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


# -- what the API server reports -----------------------------------------------------------


def job_status(kind=None, reason=None):
    if kind is None:
        return {"status": {"active": 1}}
    condition = {"type": kind, "status": "True"}
    if reason:
        condition["reason"] = reason
    return {"status": {"conditions": [condition]}}


def pod(state):
    return {"status": {"containerStatuses": [{"name": "sandbox", "state": state}]}}


def test_job_and_pod_status_are_read_like_kubernetes_reports_them():
    complete = job_status("Complete")
    deadline = job_status("Failed", "DeadlineExceeded")
    failed = job_status("Failed", "BackoffLimitExceeded")
    running = job_status()
    done = pod({"terminated": {"exitCode": 0, "reason": "Completed", "message": ""}})
    oom = pod({"terminated": {"exitCode": 137, "reason": "OOMKilled", "message": "Trace"}})
    pending = pod({"waiting": {"reason": "ContainerCreating"}})
    assert job_finished(complete) and job_finished(deadline) and not job_finished(running)
    # a Failed condition that is not True does not count
    assert not job_finished({"status": {"conditions": [{"type": "Failed", "status": "False"}]}})
    assert container_started([done]) and container_started([pod({"running": {}})])
    assert not container_started([pending]) and not container_started([])

    assert run_end(complete, [done]) == (False, "exit 0", b"")
    # an OOM-killed container: not a deadline, the description says why, with its stderr
    assert run_end(failed, [oom]) == (False, "exit 137, OOM, Job BackoffLimitExceeded", b"Trace")
    # the Job's deadline deletes the pod: the run was stopped
    killed, info, _ = run_end(deadline, [])
    assert killed and info == "Job DeadlineExceeded"
    # our own wait ran out while the Job still ran
    killed, info, _ = run_end(running, [pod({"running": {}})])
    assert killed and info == "Job still running"

    pull = pod({"waiting": {"reason": "ImagePullBackOff", "message": "no"}})
    assert pod_problem(pull).startswith("ImagePullBackOff")
    assert pod_problem(pending) is None and pod_problem({"status": {}}) is None


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


async def test_check_without_the_client_says_what_to_install(monkeypatch):
    # as on a grader installed without the `kubernetes` extra: the import fails
    for name in [m for m in sys.modules if m.startswith("kubernetes_asyncio")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "kubernetes_asyncio", None)
    with pytest.raises(SandboxUnavailable, match="pip install kubernetes_asyncio"):
        await KubernetesExecutor().check()


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
    env = {e["name"]: e for e in grader["env"]}
    assert env["COURSEHUB_EXECUTOR"]["value"].endswith("KubernetesExecutor")
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


def selects(selector: dict, labels: dict) -> bool:
    """Whether a label selector (`matchLabels`, or a Service's selector) picks `labels`."""
    return all(labels.get(key) == value for key, value in selector.items())


def test_grader_api_and_workers_are_deployments_in_step_with_the_swarm_stack(monkeypatch):
    """The API and the workers as two Deployments, like the Swarm stack's two services
    (run for real by tests/test_swarm.py): the same commands, one configuration."""
    docs = {(d["kind"], d["metadata"]["name"]): d for d in load_all("grader.yaml")}
    api = docs["Deployment", "coursehub-grader"]
    worker = docs["Deployment", "coursehub-grader-worker"]
    stack = yaml.safe_load(SWARM_STACK.read_text())["services"]
    api_container, worker_container = container(api), container(worker)

    # the same command lines as the stack's `grader` and `grader-worker` services
    assert api_container["command"] == stack["grader"]["command"]
    assert worker_container["command"] == stack["grader-worker"]["command"]
    assert worker_container["command"] == ["python", "-m", "grader.cli", "worker"]
    assert "--GraderApp.api_only=True" in api_container["command"]
    # one configuration for both, on each platform
    assert worker_container["env"] == api_container["env"]
    assert stack["grader-worker"]["environment"] == stack["grader"]["environment"]
    k8s_env = {e["name"]: e.get("value") for e in api_container["env"]}
    swarm_env = stack["grader"]["environment"]
    # only where they must differ: the password (a Secret), the executor's namespace and
    # image (the stack's COURSEHUB_LEARNER_IMAGE)
    assert set(k8s_env) - set(swarm_env) == {
        "PGPASSWORD",
        "POD_NAMESPACE",
        "COURSEHUB_SANDBOX_IMAGE",
    }
    assert set(swarm_env) - set(k8s_env) == {"COURSEHUB_LEARNER_IMAGE"}
    for name in swarm_env:
        if name.startswith("JUPYTERHUB_") and name != "JUPYTERHUB_API_TOKEN":
            assert k8s_env[name] == swarm_env[name], name
    # each environment picks its own executor
    monkeypatch.setenv("COURSEHUB_EXECUTOR", k8s_env["COURSEHUB_EXECUTOR"])
    assert GraderApp().executor_class is KubernetesExecutor
    monkeypatch.setenv("COURSEHUB_EXECUTOR", swarm_env["COURSEHUB_EXECUTOR"])
    assert GraderApp().executor_class is DockerExecutor

    # same image, account and lock-down; both replicated
    api_pod, worker_pod = api["spec"]["template"], worker["spec"]["template"]
    assert worker_container["image"] == api_container["image"]
    for key in ("serviceAccountName", "securityContext", "volumes"):
        assert worker_pod["spec"][key] == api_pod["spec"][key], key
    for key in ("securityContext", "volumeMounts", "resources"):
        assert worker_container[key] == api_container[key], key
    assert api["spec"]["replicas"] >= 2 and worker["spec"]["replicas"] >= 2
    assert "ports" not in worker_container  # nothing to serve

    # each Deployment owns only its pods; the Service and the API's ingress policy pick
    # the API's; no policy of grading pods applies to either; nothing reaches a worker
    api_labels, worker_labels = api_pod["metadata"]["labels"], worker_pod["metadata"]["labels"]
    for deployment, own, other in (
        (api, api_labels, worker_labels),
        (worker, worker_labels, api_labels),
    ):
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selects(selector, own) and not selects(selector, other)
    service = docs["Service", "coursehub-grader"]["spec"]["selector"]
    assert selects(service, api_labels) and not selects(service, worker_labels)
    grader_policy = docs["NetworkPolicy", "coursehub-grader"]["spec"]["podSelector"]["matchLabels"]
    assert selects(grader_policy, api_labels) and not selects(grader_policy, worker_labels)
    grading = docs["NetworkPolicy", "coursehub-grading-deny-all"]["spec"]["podSelector"]
    assert not selects(grading["matchLabels"], api_labels)
    assert not selects(grading["matchLabels"], worker_labels)
    worker_policy = docs["NetworkPolicy", "coursehub-grader-worker"]["spec"]
    assert selects(worker_policy["podSelector"]["matchLabels"], worker_labels)
    assert worker_policy["policyTypes"] == ["Ingress"] and worker_policy["ingress"] == []


async def test_shipped_manifests_are_valid_kubernetes_objects():
    """Every object of grader.yaml read into the Kubernetes client's own models and
    written back unchanged: a misspelt or misplaced field would be dropped, a missing
    required one refused."""
    from kubernetes_asyncio import client  # a test dependency

    api = client.ApiClient()
    try:
        for doc in load_all("grader.yaml"):
            version = doc["apiVersion"].rsplit("/", 1)[-1].capitalize()
            model = api._ApiClient__deserialize(doc, f"{version}{doc['kind']}")
            assert api.sanitize_for_serialization(model) == doc, doc["metadata"]["name"]
    finally:
        await api.close()


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
    assert {"user", "coursehub-grader"} <= set(names)
    grader_role = next(r for r in c.JupyterHub.load_roles if r["name"] == "coursehub-grader")
    assert grader_role["services"] == ["grader"]  # the service named in hub.services
    assert "custom:coursehub:learn" in c.JupyterHub.custom_scopes
    assert c.JupyterHub.authenticator_class.__name__ == "CoursehubAuthenticator"
    learner = SimpleNamespace(user=SimpleNamespace(admin=False))
    assert c.Spawner.server_token_scopes(learner) == ["inherit"]
    # instructors' servers get nbgrader's Create Assignment sidebar, learners' nothing
    # .update() on the chart's config is a lazy merge into what the chart set
    choose = c.KubeSpawner.environment.get_value({})["JUPYTER_CONFIG_PATH"]
    instructor = SimpleNamespace(user=SimpleNamespace(groups=[SimpleNamespace(name="instructors")]))
    learner = SimpleNamespace(user=SimpleNamespace(groups=[]))
    assert choose(instructor).endswith("coursehub-instructor") and choose(learner) == ""


# -- the grading pod, run as a Docker container with the pod's settings ---------------------


def run_pod_in_docker(client, job: dict, secret: dict, folder: Path) -> dict:
    """Run a grading Job's pod as the kubelet would, as far as Docker can: the container's
    exact command, env and working directory; its user, capabilities, no-new-privileges,
    read-only root, cpu and memory limits; ``/tmp`` a tmpfs of the emptyDir's size whose
    mode the bootstrap must fix (``0777`` here); the Secret's files root-owned with its
    ``defaultMode`` in a read-only mount; a world-writable termination log, as the
    kubelet makes it. The deny-all NetworkPolicy becomes ``network_mode=none``,
    ``shareProcessNamespace`` (the pause process as pid 1) Docker's ``init``, and the
    kubelet's ``podPidsLimit`` a pids limit.

    Returns the exit code, the container's stdout and stderr (both would go to the pod
    log), the termination log's bytes and mode, and whether it was OOM-killed.
    """
    pod_spec = job["spec"]["template"]["spec"]
    c = pod_spec["containers"][0]
    security = c["securityContext"]
    volumes = {v["name"]: v for v in pod_spec["volumes"]}
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert pod_spec["shareProcessNamespace"] is True

    secret_dir = folder / "secret"
    secret_dir.mkdir(parents=True)
    os.chmod(secret_dir, 0o755)  # a Secret volume's directory is world-searchable
    for key, text in secret["stringData"].items():
        path = secret_dir / key
        path.write_text(text)
        os.chown(path, 0, 0)
        os.chmod(path, volumes["job"]["secret"]["defaultMode"])
    termination_log = folder / "termination-log"
    termination_log.write_bytes(b"")
    os.chmod(termination_log, 0o666)

    memory = int(c["resources"]["limits"]["memory"])
    name = f"{TEST_PREFIX}k8s-pod-{job['metadata']['name'][-16:]}"
    docker_container = client.containers.run(
        image=c["image"],
        name=name,
        command=c["command"],
        environment={e["name"]: e["value"] for e in c["env"]},
        working_dir=c["workingDir"],
        user=f"{security['runAsUser']}:{security['runAsGroup']}",
        cap_drop=security["capabilities"]["drop"],
        cap_add=security["capabilities"]["add"],
        security_opt=[] if security["allowPrivilegeEscalation"] else ["no-new-privileges"],
        privileged=security["privileged"],
        read_only=security["readOnlyRootFilesystem"],
        network_mode="none",
        init=True,
        pids_limit=128,
        mem_limit=memory,
        memswap_limit=memory,
        nano_cpus=int(c["resources"]["limits"]["cpu"].rstrip("m")) * 1_000_000,
        tmpfs={
            mounts["tmp"]["mountPath"]: f"size={volumes['tmp']['emptyDir']['sizeLimit']},mode=0777"
        },
        volumes={
            str(secret_dir): {"bind": mounts["job"]["mountPath"], "mode": "ro"},
            str(termination_log): {"bind": c["terminationMessagePath"], "mode": "rw"},
        },
        detach=True,
    )
    try:
        exit_code = docker_container.wait(timeout=120)["StatusCode"]
        docker_container.reload()
        result = {
            "exit": exit_code,
            "stdout": docker_container.logs(stdout=True, stderr=False),
            "stderr": docker_container.logs(stdout=False, stderr=True),
            "oom": docker_container.attrs["State"].get("OOMKilled", False),
            "message": termination_log.read_bytes(),
            "message_mode": stat.S_IMODE(termination_log.stat().st_mode),
        }
        if exit_code != 0:
            print(f"--- {name} exited {exit_code}:\n{container_logs(docker_container)}")
        return result
    finally:
        docker_container.remove(force=True, v=True)


@pytest.fixture
def pod_runner(docker_engine, learner_image, tmp_path):  # noqa: F811
    """Run a Job's pod in Docker (skipped with the reason where no engine answers)."""
    if os.geteuid() != 0:
        pytest.skip("the Secret's files must be made root-owned, as the kubelet does")

    def run(job, secret):
        job = json.loads(json.dumps(job))
        container(job)["image"] = learner_image
        return run_pod_in_docker(docker_engine, job, secret, tmp_path / job["metadata"]["name"])

    return run


READ_JOB = f"open('{INPUT_MOUNT}/{JOB_KEY}', 'rb').read()"
READ_PROGRAMS = f"open('{INPUT_MOUNT}/{BUNDLE_KEY}', 'rb').read()"
WRITE_TERMINATION_LOG = f"open('{TERMINATION_LOG}', 'ab').write(b'forged')"
IDENTITY = (
    "import os\n"
    "status = open('/proc/self/status').read()\n"
    "(os.getuid(), os.getgid(), os.getgroups(), status.split('CapEff:')[1].split()[0])"
)


@pytest.mark.docker
def test_the_pod_grades_with_the_job_out_of_the_learners_reach(pod_runner):
    executor = KubernetesExecutor(
        memory_limit=256 * 2**20, time_limit=60, cell_time_limit=5, output_limit=4096
    )
    cells = [
        CellSpec(ADD + "\nprint('learner stdout')"),
        CellSpec("import os; os.write(1, b'raw fd1\\n'); os.write(2, b'raw fd2\\n'); 6 * 7"),
        CellSpec(IDENTITY),
        CellSpec(READ_JOB),
        CellSpec(READ_PROGRAMS),
        CellSpec(WRITE_TERMINATION_LOG),
        CellSpec("oct(os.stat('/tmp').st_mode & 0o7777)"),
        CellSpec("big = bytearray(400 * 2**20)"),  # past the data rlimit, within the cgroup
        CellSpec("assert add(1, 2) == 3, 'visible message'", test=True),
        HIDDEN_CELL,
        CellSpec(HIDDEN.replace("== 4", "== 5"), test=True, hidden_lines=((1, 3),)),
        CellSpec("os._exit(0)"),
        CellSpec("add(1, 1)"),
    ]
    nonce = "k" * 32
    secret, job = executor.make_objects("coursehub-grade-0123456789abcdef", cells, nonce)
    run = pod_runner(job, secret)

    assert run["exit"] == 0, run
    # the pod log: result lines only, no learner output, no hidden test
    assert run["stderr"] == b""
    assert all(json.loads(line)["nonce"] == nonce for line in run["stdout"].splitlines())
    assert MARKER.encode() not in run["stdout"]
    outcomes = executor.outcomes_from((run["stdout"], False), len(cells), nonce, False)
    add, raw, identity, job_file, programs, termination, tmp, big, *rest = outcomes
    visible, hidden, hidden_failing, exits, after_exit = rest
    assert add.status == "ok" and add.stdout == "learner stdout\n"
    assert raw.status == "ok" and raw.result == "42"
    # the learner's uid, no groups, no capabilities left
    assert identity.result == "(65534, 65534, [], '0000000000000000')"
    # neither the job nor the programs can be read, the termination message not written
    for outcome in (job_file, programs, termination):
        assert (outcome.status, outcome.ename) == ("error", "PermissionError"), outcome
    assert tmp.result == "'0o1777'"  # the sticky bit: no removing the tests' files
    assert (big.status, big.ename, big.reason) == ("error", "MemoryError", "memory_limit")
    assert visible.status == "ok" and hidden.status == "ok"
    assert hidden_failing.status == "error" and hidden_failing.hidden_failure is True
    assert MARKER not in json.dumps(hidden_failing.to_dict())
    # the learner's process ended: the trusted process says so, and still reports all
    assert after_exit.status == "error" and after_exit.reason == "learner_exit"
    # the termination message: the trusted process's stderr (empty), its owner's alone
    assert run["message"] == b"" and run["message_mode"] == 0o600


# -- the executor's orchestration, against a stand-in API ------------------------------------


class FakeCluster:
    """Just enough of kubernetes_asyncio to run one Job's pod, for the executor's steps.

    There is no cluster here: this checks the executor's own steps (Secret before Job,
    owner reference, reading the log, how a run's end is judged, deleting both in every
    case), not Kubernetes. ``pod(job, secret)`` runs the pod (in Docker, or canned) and
    returns its log and a timeline of (Job status, pod statuses), one per look.
    """

    def __init__(self):
        self.secrets, self.jobs, self.logs, self.calls = {}, {}, {}, []
        self.timeline, self.step = [], 0
        self.pod = None
        self.log_error = None
        cluster = self

        class ApiException(Exception):
            def __init__(self, status=None, reason=None):
                self.status, self.reason = status, reason

        self.ApiException = ApiException

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
                _, pods = cluster.timeline[cluster.step]
                return {
                    "items": [{"metadata": {"name": f"{name}-pod"}, **p} for p in pods],
                }

            async def read_namespaced_pod_log(self, name, namespace, container, limit_bytes):
                cluster.calls.append("read log")
                if cluster.log_error:
                    raise ApiException(cluster.log_error, "log unavailable")
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
                secret = cluster.secrets[
                    body["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"]
                ]
                log, cluster.timeline = await cluster.pod(body, secret)
                cluster.step = -1
                cluster.logs[f"{name}-pod"] = log
                return {**body, "metadata": {**body["metadata"], "uid": "uid-1"}}

            async def read_namespaced_job_status(self, name, namespace):
                # each look at the Job moves time on; the last state stays
                cluster.step = min(cluster.step + 1, len(cluster.timeline) - 1)
                return cluster.timeline[cluster.step][0]

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

    def canned(self, log_for, *timeline):
        """A pod that runs nothing: its log from ``log_for(job_document)``."""

        async def pod(job, secret):
            return log_for(json.loads(secret["stringData"][JOB_KEY])), list(timeline)

        self.pod = pod


@pytest.fixture
def fake_cluster(monkeypatch):
    cluster = FakeCluster()
    monkeypatch.setitem(sys.modules, "kubernetes_asyncio", cluster.module)
    monkeypatch.setitem(sys.modules, "kubernetes_asyncio.client", cluster.module.client)
    monkeypatch.setitem(sys.modules, "kubernetes_asyncio.config", cluster.module.config)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return cluster


def make_executor(**traits):
    traits.setdefault("time_limit", 30)
    traits.setdefault("startup_grace", 0)
    return KubernetesExecutor(namespace="coursehub", poll_interval=0.01, **traits)


@pytest.mark.docker
async def test_executor_grades_through_a_job_and_leaves_nothing(fake_cluster, pod_runner):
    async def run_in_docker(job, secret):
        run = await asyncio.to_thread(pod_runner, job, secret)
        state = {"terminated": {"exitCode": run["exit"], "message": run["message"].decode()}}
        condition = "Complete" if run["exit"] == 0 else "Failed"
        # both streams go to the pod log
        return (run["stdout"] + run["stderr"]).decode(), [(job_status(condition), [pod(state)])]

    fake_cluster.pod = run_in_docker
    executor = make_executor()
    cells = [CellSpec(ADD), HIDDEN_CELL, CellSpec("add(1, 1)")]
    outcomes = await executor.run(cells)
    assert [o.status for o in outcomes] == ["ok", "ok", "ok"]
    assert outcomes[2].result == "2"
    assert fake_cluster.calls == [
        "create secret",
        "create job",
        "patch secret",
        "read log",
        "delete job",
        "delete secret",
    ]
    assert fake_cluster.jobs == {} and fake_cluster.secrets == {}


def result_lines(document, n):
    """What a trusted process that reported ``n`` cells (all ok) would have logged."""
    nonce = document["nonce"]
    return "".join(
        json.dumps({"index": i, "status": "ok", "nonce": nonce}) + "\n" for i in range(n)
    )


def complete_log(document):
    return (
        result_lines(document, len(document["cells"]))
        + json.dumps({"done": True, "nonce": document["nonce"]})
        + "\n"
    )


RUNNING = pod({"running": {}})


async def test_complete_results_are_a_grade_whatever_the_exit(fake_cluster):
    crashed_late = pod({"terminated": {"exitCode": 1, "message": "late"}})
    fake_cluster.canned(
        complete_log, (job_status("Failed", "BackoffLimitExceeded"), [crashed_late])
    )
    outcomes = await make_executor().run(["1", "2"])
    assert [o.status for o in outcomes] == ["ok", "ok"]


async def test_a_passed_deadline_is_a_failure_not_a_grade(fake_cluster):
    # seen running, then the Job's deadline passed and the controller deleted the pod
    fake_cluster.canned(
        lambda d: result_lines(d, 1),
        (job_status(), [RUNNING]),
        (job_status("Failed", "DeadlineExceeded"), []),
    )
    with pytest.raises(SandboxFailure, match="did not end"):
        await make_executor().run(["1", "2"])
    assert "read log" not in fake_cluster.calls  # no pod, no log to read
    assert fake_cluster.jobs == {} and fake_cluster.secrets == {}


async def test_an_oom_killed_pod_is_a_failure_with_what_it_said(fake_cluster, caplog):
    oom = pod({"terminated": {"exitCode": 137, "reason": "OOMKilled", "message": "Traceback"}})
    fake_cluster.canned(lambda d: result_lines(d, 1), (job_status("Failed", "X"), [oom]))
    executor = make_executor()
    with pytest.raises(SandboxFailure, match="ended early.*exit 137, OOM"):
        await executor.run(["1", "2"])
    assert "Traceback" in caplog.text  # the termination message is logged, as diagnostics
    assert fake_cluster.jobs == {} and fake_cluster.secrets == {}


async def test_a_lost_log_is_a_failure_and_a_log_api_error_unavailable(fake_cluster):
    done = pod({"terminated": {"exitCode": 0}})
    fake_cluster.canned(complete_log, (job_status("Complete"), [done]))
    fake_cluster.log_error = 404
    with pytest.raises(SandboxFailure):
        await make_executor().run(["1"])
    fake_cluster.log_error = 500
    with pytest.raises(SandboxUnavailable, match="500"):
        await make_executor().run(["1"])
    assert fake_cluster.jobs == {} and fake_cluster.secrets == {}


async def test_a_pod_that_cannot_start_leaves_the_submission_waiting(fake_cluster):
    pull = pod({"waiting": {"reason": "ImagePullBackOff", "message": "no such image"}})
    fake_cluster.canned(complete_log, (job_status(), [pull]))
    with pytest.raises(SandboxUnavailable, match="ImagePullBackOff"):
        await make_executor().run(["1"])
    # never scheduled until the Job's deadline: nothing ran, no sandbox was had
    pending = pod({"waiting": {"reason": "ContainerCreating"}})
    fake_cluster.canned(
        complete_log, (job_status(), [pending]), (job_status("Failed", "DeadlineExceeded"), [])
    )
    with pytest.raises(SandboxUnavailable, match="did not start"):
        await make_executor().run(["1"])
    assert fake_cluster.jobs == {} and fake_cluster.secrets == {}
