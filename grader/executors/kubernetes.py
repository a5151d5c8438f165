"""KubernetesExecutor: each grading run as a single-use Kubernetes Job (past one machine).

NOT RUN AGAINST A CLUSTER: the machine coursehub is built on has no Kubernetes. The
manifest builders below are pure functions, unit-tested in
``tests/test_kubernetes_specs.py``; the executor's API calls follow kubernetes_asyncio's
documented signatures but have never talked to a real API server. Try it on a test
cluster before trusting it with submissions (docs/deploy-kubernetes.md).

How one run goes, like :class:`~grader.executors.bubblewrap.BubblewrapExecutor` but with
the cluster as the sandbox:

1. The job document (cells, hidden tests included, and the run's nonce) and the stdlib
   runner go into a **Secret** (:func:`make_job_input`), never into the Job's env or
   args, which anyone allowed to read Jobs or Pods could see.
2. A ``batch/v1`` **Job** (:func:`make_job`) runs one pod, never restarted: non-root,
   read-only root file system, no capabilities, no service-account token, a memory-backed
   ``/tmp``, cpu/memory limits, ``activeDeadlineSeconds`` as the time limit. The
   :func:`make_grading_network_policy` (applied once by the operator) cuts all traffic.
3. In the pod, a constant shell line feeds the Secret's ``job.json`` to the runner and
   points its result channel (fd 3) at the container's stdout, while the learner's own
   stdout and stderr go to ``/dev/null``: the **pod log holds only result lines**, which
   are validated by :func:`~grader.executors.base.parse_results` like every executor's.
4. Job and Secret are deleted in ``finally``; the Secret is also owned by the Job, and the
   Job has ``ttlSecondsAfterFinished``, so a grader that dies mid-run leaves nothing
   behind for long.

Kubernetes has no per-pod process limit: ``process_limit`` is not applied here; set the
kubelet's ``podPidsLimit`` on grading nodes (see the docs).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import secrets

from traitlets import Dict, Float, Integer, Unicode, default

from .base import CellOutcome, Executor, SandboxUnavailable, parse_results, runner_source

#: labels on every object a grading run creates; the NetworkPolicy selects the pods by them
GRADING_LABELS = {
    "app.kubernetes.io/name": "coursehub",
    "app.kubernetes.io/component": "grading",
    "app.kubernetes.io/managed-by": "coursehub-grader",
}
CONTAINER_NAME = "runner"
INPUT_MOUNT = "/coursehub/job"
RESULT_FD = 3
#: The pod's command. Constant (no input is ever put in it): the Python to run is "$0".
#: Results (fd 3) go to stdout, which becomes the pod log; the learner's stdout and
#: stderr are discarded so they cannot mix with result lines.
LAUNCH_SCRIPT = (
    f'exec "$0" -I {INPUT_MOUNT}/runner.py <{INPUT_MOUNT}/job.json '
    f"{RESULT_FD}>&1 1>/dev/null 2>/dev/null"
)
#: Kubernetes refuses Secrets over 1 MiB; keep room for metadata
SECRET_DATA_LIMIT = 1024 * 1024 - 16 * 1024
NOBODY = 65534
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# container states that will not fix themselves: the sandbox is unavailable, not the job
_STUCK_REASONS = {
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
}


class JobTooLarge(ValueError):
    """The job document does not fit in a Kubernetes Secret."""


# -- pure manifest builders --------------------------------------------------------------


def is_dns1123_label(name: str) -> bool:
    """Whether ``name`` is a valid Kubernetes object name usable as a label value."""
    return len(name) <= 63 and bool(_DNS1123_LABEL.match(name))


def make_job_name(prefix: str = "coursehub-grade") -> str:
    """A fresh name for one run's Job and Secret (the Job controller puts it in a label,
    so it must stay a DNS-1123 label of at most 63 characters)."""
    name = f"{prefix}-{secrets.token_hex(8)}"
    if not is_dns1123_label(name):
        raise ValueError(f"job name {name!r} is not a DNS-1123 label of at most 63 characters")
    return name


def _check_name(name: str) -> None:
    if not is_dns1123_label(name):
        raise ValueError(f"{name!r} is not a DNS-1123 label of at most 63 characters")


def cpu_quantity(cores: float) -> str:
    """Cores as a Kubernetes quantity in millicores (0.5 -> "500m")."""
    return f"{max(1, round(cores * 1000))}m"


def make_job_input(
    name: str, namespace: str, job_document_json: str, runner: str, labels: dict | None = None
) -> dict:
    """The Secret holding one run's job document and the runner program.

    A Secret, not a ConfigMap: the document holds hidden tests, and RBAC usually lets far
    fewer people read Secrets. ``immutable``: nothing may change it while the pod reads it.
    """
    _check_name(name)
    size = len(job_document_json.encode()) + len(runner.encode())
    if size > SECRET_DATA_LIMIT:
        raise JobTooLarge(
            f"the grading job is {size} bytes; a Kubernetes Secret holds at most "
            f"{SECRET_DATA_LIMIT} (shorten the notebook's code cells)"
        )
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {**GRADING_LABELS, **(labels or {})},
        },
        "type": "Opaque",
        "immutable": True,
        "stringData": {"job.json": job_document_json, "runner.py": runner},
    }


def make_owner_reference(job: dict) -> dict:
    """An ownerReference to a *created* Job (it needs the uid the API server gave it), so
    that deleting the Job, by hand or by its TTL, deletes the Secret too."""
    meta = job["metadata"]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": meta["name"],
        "uid": meta["uid"],
        "blockOwnerDeletion": False,
    }


def make_job(
    name: str,
    namespace: str,
    image: str,
    *,
    input_secret: str,
    python: str = "python3",
    time_limit: float = 60.0,
    startup_grace: float = 60.0,
    cpu_limit: float = 1.0,
    cpu_request: float = 0.25,
    memory_limit: int = 512 * 1024 * 1024,
    tmp_size: int = 64 * 1024 * 1024,
    ttl_seconds_after_finished: int = 300,
    env: dict[str, str] | None = None,
    image_pull_policy: str = "IfNotPresent",
    runtime_class: str = "",
    node_selector: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> dict:
    """A ``batch/v1`` Job running the runner once in a locked-down pod.

    The job's input comes only from ``input_secret`` (see :func:`make_job_input`),
    mounted read-only; nothing of the job document is in this manifest.
    """
    _check_name(name)
    _check_name(input_secret)
    all_labels = {**GRADING_LABELS, **(labels or {})}
    # a memory-backed emptyDir counts against the container's memory: add its size, so a
    # full /tmp does not eat into what the learner's program may use
    memory = str(memory_limit + tmp_size)
    container = {
        "name": CONTAINER_NAME,
        "image": image,
        "imagePullPolicy": image_pull_policy,
        "command": ["/bin/sh", "-c", LAUNCH_SCRIPT, python],
        "workingDir": "/tmp",
        "env": [{"name": k, "value": v} for k, v in sorted((env or {}).items())],
        "resources": {
            "requests": {"cpu": cpu_quantity(cpu_request), "memory": memory},
            "limits": {"cpu": cpu_quantity(cpu_limit), "memory": memory},
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": NOBODY,
            "runAsGroup": NOBODY,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [
            {"name": "job", "mountPath": INPUT_MOUNT, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
        "terminationMessagePolicy": "File",
    }
    pod_spec = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        # no $SERVICE_HOST variables describing the cluster's services
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 1,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": NOBODY,
            "runAsGroup": NOBODY,
            "fsGroup": NOBODY,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [
            {
                "name": "job",
                # 0440 + fsGroup: readable by the sandbox user only
                "secret": {"secretName": input_secret, "defaultMode": 0o440},
            },
            {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": str(tmp_size)}},
        ],
    }
    if runtime_class:
        pod_spec["runtimeClassName"] = runtime_class
    if node_selector:
        pod_spec["nodeSelector"] = dict(node_selector)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": all_labels},
        "spec": {
            "backoffLimit": 0,
            "completions": 1,
            "parallelism": 1,
            # counts from the Job's start: scheduling and image pull included
            "activeDeadlineSeconds": math.ceil(time_limit + startup_grace),
            "ttlSecondsAfterFinished": ttl_seconds_after_finished,
            "template": {"metadata": {"labels": all_labels}, "spec": pod_spec},
        },
    }


def make_grading_network_policy(namespace: str) -> dict:
    """Deny all ingress and egress for grading pods (needs a CNI that enforces policies)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": "coursehub-grading-deny-all",
            "namespace": namespace,
            "labels": {"app.kubernetes.io/name": "coursehub"},
        },
        "spec": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/component": "grading"}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [],
        },
    }


def job_finished(job: dict) -> bool:
    """Whether a Job (as a dict from the API) has completed or failed."""
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return True
    return False


def pod_problem(pod: dict) -> str | None:
    """A reason the pod will never start (bad image, missing config), or None."""
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        waiting = (status.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in _STUCK_REASONS:
            return f"{waiting['reason']}: {waiting.get('message', '')}".strip()
    return None


def failure_reason(job: dict, pods: list[dict]) -> str | None:
    """Why a run ended early, in CellOutcome's terms; None if the Job completed."""
    for pod in pods:
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            terminated = (status.get("state") or {}).get("terminated") or {}
            if terminated.get("reason") == "OOMKilled":
                return "memory_limit"
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("status") != "True":
            continue
        if condition.get("type") == "Complete":
            return None
        if condition.get("type") == "Failed":
            return (
                "time_limit" if condition.get("reason") == "DeadlineExceeded" else "sandbox_error"
            )
    return "time_limit"  # not finished: our own wait ran out


# -- the executor --------------------------------------------------------------------------


class KubernetesExecutor(Executor):
    """Run grading jobs as single-use Kubernetes Jobs (NOT run against a cluster here).

    Needs ``pip install kubernetes_asyncio`` and, in the grader's namespace or
    ``namespace``, a Role allowing create/get/list/delete of Jobs, Secrets and Pods and get
    of pods/log (images/kubernetes/grader.yaml).
    """

    namespace = Unicode(help="Namespace the grading Jobs run in.").tag(config=True)

    @default("namespace")
    def _default_namespace(self):
        # POD_NAMESPACE: set from the downward API in images/kubernetes/grader.yaml
        return os.environ.get(
            "COURSEHUB_GRADING_NAMESPACE", os.environ.get("POD_NAMESPACE", "default")
        )

    image = Unicode(
        help="Image of the grading pods: the learner image, so grading runs in the "
        "learners' environment. Must be pullable by the cluster's nodes."
    ).tag(config=True)

    @default("image")
    def _default_image(self):
        return os.environ.get("COURSEHUB_SANDBOX_IMAGE", "coursehub/learner:latest")

    python = Unicode(
        "python3", help="The Python inside the image that runs the cells (name on PATH or path)."
    ).tag(config=True)
    cpu_limit = Float(1.0, help="Cores a grading pod may use.").tag(config=True)
    cpu_request = Float(0.25, help="Cores reserved for a grading pod when it is scheduled.").tag(
        config=True
    )
    startup_grace = Float(
        60.0,
        help="Seconds added to time_limit for scheduling and pulling the image: the Job's "
        "activeDeadlineSeconds counts from its creation.",
    ).tag(config=True)
    ttl_seconds_after_finished = Integer(
        300,
        help="Kubernetes deletes a finished Job (and its Secret) after this long, in case "
        "the grader died before deleting it.",
    ).tag(config=True)
    poll_interval = Float(1.0, help="Seconds between looks at a running Job's status.").tag(
        config=True
    )
    image_pull_policy = Unicode(
        "IfNotPresent", help="imagePullPolicy of grading pods (Always, IfNotPresent, Never)."
    ).tag(config=True)
    runtime_class = Unicode(
        "",
        help="RuntimeClass of grading pods, e.g. 'gvisor' where the cluster offers gVisor "
        "for a stronger sandbox. Empty: the cluster's default runtime.",
    ).tag(config=True)
    node_selector = Dict(
        help="nodeSelector of grading pods, e.g. nodes set aside for grading."
    ).tag(config=True)

    _kube_config_loaded = False

    def _client(self):
        """The kubernetes_asyncio module, imported only when the executor is used."""
        try:
            import kubernetes_asyncio
            import kubernetes_asyncio.client
            import kubernetes_asyncio.config
        except ImportError:
            raise SandboxUnavailable(
                "the Kubernetes executor needs its client: pip install kubernetes_asyncio"
            ) from None
        return kubernetes_asyncio

    async def _load_kube_config(self, k8s) -> None:
        if self._kube_config_loaded:
            return
        try:
            if os.environ.get("KUBERNETES_SERVICE_HOST"):
                k8s.config.load_incluster_config()  # the grader's ServiceAccount
            else:
                await k8s.config.load_kube_config()
        except Exception as e:  # the loaders raise ConfigException, OSError, ...
            raise SandboxUnavailable(f"no Kubernetes configuration: {e}") from e
        self._kube_config_loaded = True

    def make_objects(self, name: str, job_document_json: str) -> tuple[dict, dict]:
        """The Secret and the Job of one run."""
        secret = make_job_input(name, self.namespace, job_document_json, runner_source())
        job = make_job(
            name,
            self.namespace,
            self.image,
            input_secret=name,
            python=self.python,
            time_limit=self.time_limit,
            startup_grace=self.startup_grace,
            cpu_limit=self.cpu_limit,
            cpu_request=self.cpu_request,
            memory_limit=self.memory_limit,
            tmp_size=self.tmp_size,
            ttl_seconds_after_finished=self.ttl_seconds_after_finished,
            env=self.environment(),
            image_pull_policy=self.image_pull_policy,
            runtime_class=self.runtime_class,
            node_selector=self.node_selector,
        )
        return secret, job

    def _unavailable(self, e) -> SandboxUnavailable:
        return SandboxUnavailable(
            f"Kubernetes API error {getattr(e, 'status', '')} {getattr(e, 'reason', e)}"
        )

    async def check(self) -> str:
        k8s = self._client()
        await self._load_kube_config(k8s)
        try:
            async with k8s.client.ApiClient() as api:
                await k8s.client.BatchV1Api(api).list_namespaced_job(self.namespace, limit=1)
        except (k8s.client.ApiException, OSError, TimeoutError) as e:
            raise self._unavailable(e) from e
        return "ok"

    async def run(self, cells: list[str]) -> list[CellOutcome]:
        if not self._checked:
            await self.check()
            self._checked = True
        k8s = self._client()
        nonce = secrets.token_hex(16)
        name = make_job_name()
        secret, job = self.make_objects(
            name, json.dumps(self.job_document(cells, RESULT_FD, nonce))
        )
        max_line = 12 * self.output_limit + 256 * 1024
        result_cap = min(64 * 1024 * 1024, max_line * (len(cells) + 1))
        async with k8s.client.ApiClient() as api:
            core, batch = k8s.client.CoreV1Api(api), k8s.client.BatchV1Api(api)
            try:
                await core.create_namespaced_secret(self.namespace, secret)
                created = await batch.create_namespaced_job(self.namespace, job)
                owner = make_owner_reference(api.sanitize_for_serialization(created))
                await core.patch_namespaced_secret(
                    name, self.namespace, {"metadata": {"ownerReferences": [owner]}}
                )
                status, pods = await self._wait(api, core, batch, name)
                data = await self._read_log(core, pods, result_cap)
            except k8s.client.ApiException as e:
                if e.status is not None and 400 <= e.status < 500 and e.status not in (401, 403):
                    raise  # a bad manifest: a bug, not an outage
                raise self._unavailable(e) from e
            except (OSError, TimeoutError) as e:
                raise self._unavailable(e) from e
            finally:
                # if this is interrupted, ttlSecondsAfterFinished and the Secret's owner
                # reference still remove both
                await self._delete(k8s, core, batch, name)
        outcomes, complete = parse_results(data, len(cells), nonce, max_line, self.output_limit)
        if not complete:
            reason = failure_reason(status, pods) or "sandbox_error"
            for outcome in outcomes:
                if outcome.status == "not_run" and outcome.reason is None:
                    outcome.reason = reason
        return outcomes

    async def _wait(self, api, core, batch, name) -> tuple[dict, list[dict]]:
        """Poll the Job until it ends (or our own backstop passes); return it and its pods."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.time_limit + self.startup_grace + 10
        selector = f"job-name={name}"
        while True:
            status = api.sanitize_for_serialization(
                await batch.read_namespaced_job_status(name, self.namespace)
            )
            pods = api.sanitize_for_serialization(
                await core.list_namespaced_pod(self.namespace, label_selector=selector)
            ).get("items", [])
            problem = next((p for p in map(pod_problem, pods) if p), None)
            if problem:
                raise SandboxUnavailable(f"grading pod cannot start: {problem}")
            if job_finished(status) or loop.time() >= deadline:
                return status, pods
            await asyncio.sleep(self.poll_interval)

    async def _read_log(self, core, pods: list[dict], cap: int) -> bytes:
        """The runner's result lines: the pod log (see LAUNCH_SCRIPT)."""
        if not pods:
            return b""
        text = await core.read_namespaced_pod_log(
            pods[0]["metadata"]["name"],
            self.namespace,
            container=CONTAINER_NAME,
            limit_bytes=cap,
        )
        return (text or "").encode("utf-8", "replace")

    async def _delete(self, k8s, core, batch, name) -> None:
        """Delete the run's Job (with its pod) and Secret; a missing one is fine."""
        for delete in (
            # batch/v1 Jobs orphan their pods unless told otherwise
            lambda: batch.delete_namespaced_job(
                name, self.namespace, propagation_policy="Background"
            ),
            lambda: core.delete_namespaced_secret(name, self.namespace),
        ):
            try:
                await delete()
            except k8s.client.ApiException as e:
                if e.status != 404:
                    self.log.warning("could not delete grading %s: %s", name, e.reason)
            except OSError as e:
                self.log.warning("could not delete grading %s: %s", name, e)
