"""KubernetesExecutor: each grading run as a single-use Kubernetes Job (past one machine).

NOT RUN AGAINST A CLUSTER: the machine coursehub is built on has no Kubernetes. The
manifest builders below are pure functions, unit-tested in
``tests/test_kubernetes_specs.py``, and the pod they describe has been run, with the
same command, user, capabilities and read-only files, as a local Docker container (the
closest this machine has); the executor's API calls follow kubernetes_asyncio's
documented signatures but have never talked to a real API server. Try it on a test
cluster before trusting it with submissions (docs/deploy-kubernetes.md).

A run is the Docker executor's two-process sandbox
(:func:`grader.sandbox.launch.container_main`) with the cluster as the engine:

1. One **Secret** per run (:func:`make_job_input`) holds two files: ``sandbox.json``,
   the stdlib sandbox programs and their settings (the same bundle the Docker executor
   sends on stdin), and ``job.json``, the job document (cells, hidden tests included,
   and the run's nonce). Nothing of either is in the Job's env or args, which anyone
   allowed to read Jobs or Pods could see. The programs are not secret and could live
   in a ConfigMap; they share the run's Secret instead so that one object is created
   and deleted per run and the programs always match the grader that made the job (a
   shared ConfigMap would need versioned names and a sweeper across grader replicas of
   different versions). They take about 90 KiB of the Secret's 1 MiB.
2. A ``batch/v1`` **Job** (:func:`make_job`) runs one pod, never restarted, with a
   constant command (:data:`BOOTSTRAP`, no input in it) that loads the programs from
   ``sandbox.json`` and calls ``container_main``. It forks the learner's process, which
   drops to ``learner_uid`` at once with nothing open but its socket; only then does
   the first process open ``job.json``, drop to ``trusted_uid`` and read it.
3. **Why the pod starts as root.** The sandbox needs two uids in one container and
   Kubernetes runs a container as one uid; changing uid needs CAP_SETUID/CAP_SETGID,
   which a non-root container cannot use (Kubernetes gives no ambient capabilities). So
   the container runs as uid 0 (``runAsNonRoot: false``) with every capability dropped
   but SETUID and SETGID, ``allowPrivilegeEscalation: false`` (no-new-privileges: no
   setuid binary or file capability can give anything back), a read-only root file
   system and the ``RuntimeDefault`` seccomp profile; each sandbox process adds
   coursehub's own seccomp filter. Root only reads the programs, forks, opens a file
   and drops privileges: no cell, learner's or test, ever runs as root. Pod Security
   admission: this is the ``baseline`` level (which allows SETUID/SETGID), not
   ``restricted``.
4. **Who can read the job.** The Secret's files are mounted with mode 0400 and no
   ``fsGroup`` (the kubelet would make them readable by that group), so they belong to
   root and only root may read them: with CAP_DAC_OVERRIDE dropped, root reads them as
   their owner; neither sandbox uid can. The trusted process reads the job through the
   descriptor root opened for it.
5. **Results.** The trusted process writes result lines on its private copy of the
   container's stdout, which becomes the pod log; the learner's process has fds 0, 1
   and 2 on ``/dev/null``, so nothing the learner's code writes reaches the log. The
   trusted process's stderr goes to the termination message (``/dev/termination-log``,
   at most 4 KiB): a diagnostic, logged when a run fails, never a grade.
6. **How a run ends.** Results for every cell (validated like every executor's by
   :meth:`~grader.executors.base.Executor.outcomes_from`) are a grade; the trusted
   process itself reports a learner's process that died (``learner_exit``) or ran out
   of time. Anything less is :class:`~grader.executors.base.SandboxFailure` (retried,
   never a grade): the Job's deadline passed, the container was OOM-killed or crashed,
   the log is gone. A pod that cannot start (bad image, never scheduled) is
   :class:`~grader.executors.base.SandboxUnavailable`: the submission waits.
7. Job and Secret are deleted in ``finally``; the Secret is also owned by the Job and the
   Job has ``ttlSecondsAfterFinished``, so a grader that dies mid-run leaves nothing
   behind for long.

Limits: cpu and memory (the memory-backed ``/tmp`` included) are the container's;
Kubernetes has no rlimits, so the launcher sets the data, file size, open files and core
rlimits itself (a big allocation fails with MemoryError and the next cell runs, as in
the other executors); Kubernetes has no per-pod process limit either: set the kubelet's
``podPidsLimit`` on grading nodes (see the docs). ``shareProcessNamespace`` makes the
pod's pause process pid 1, which reaps the learner's orphans (Docker's ``--init``).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import secrets

from traitlets import Dict, Float, Integer, Unicode, default

from .base import (
    CellOutcome,
    CellSpec,
    SandboxUnavailable,
)
from .container import START_BUNDLE, ContainerExecutor, sandbox_bundle

#: labels on every object a grading run creates; the NetworkPolicy selects the pods by them
GRADING_LABELS = {
    "app.kubernetes.io/name": "coursehub",
    "app.kubernetes.io/component": "grading",
    "app.kubernetes.io/managed-by": "coursehub-grader",
}
CONTAINER_NAME = "sandbox"
INPUT_MOUNT = "/coursehub/job"
#: the Secret's keys, which are the mounted files' names
BUNDLE_KEY = "sandbox.json"
JOB_KEY = "job.json"
TERMINATION_LOG = "/dev/termination-log"
#: Secret files: read by their owner (root) only
SECRET_FILE_MODE = 0o400
#: The pod's program (``python -I -c BOOTSTRAP BUNDLE TERMINATION_LOG``), constant: no
#: input is ever put in the command. Runs as root with only SETUID/SETGID: sends its
#: own stderr (the trusted process's, later) to the termination message, made its
#: owner's alone; gives /tmp the sticky bit (so the learner's uid cannot remove the
#: trusted process's files there); loads the sandbox programs as top-level modules and
#: starts both processes (``container_main`` reads the job).
BOOTSTRAP = (
    """import json, os, sys, types
try:
    fd = os.open(sys.argv[2], os.O_WRONLY | os.O_TRUNC)
    try:
        os.fchmod(fd, 0o600)
    except OSError:
        pass
except OSError:
    fd = os.open(os.devnull, os.O_WRONLY)
os.dup2(fd, 2)
os.close(fd)
try:
    os.chmod("/tmp", 0o1777)
except OSError:
    pass
with open(sys.argv[1], "rb") as f:
    bundle = json.load(f)
"""
    + START_BUNDLE
)
#: Kubernetes refuses Secrets over 1 MiB; keep room for metadata
SECRET_DATA_LIMIT = 1024 * 1024 - 16 * 1024
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


def make_sandbox_bundle(settings: dict, sources: dict[str, str] | None = None) -> str:
    """``sandbox.json``: the sandbox programs, in load order, and the launcher's settings
    (the bundle :data:`BOOTSTRAP` loads; the Docker executor sends the same on stdin)."""
    return json.dumps(sandbox_bundle(settings, sources))


def make_job_input(
    name: str,
    namespace: str,
    bundle_json: str,
    job_document_json: str,
    labels: dict | None = None,
) -> dict:
    """The Secret holding one run's sandbox programs and job document.

    A Secret, not a ConfigMap: the document holds hidden tests, and RBAC usually lets far
    fewer people read Secrets. ``immutable``: nothing may change it while the pod reads it.
    """
    _check_name(name)
    size = len(job_document_json.encode()) + len(bundle_json.encode())
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
        "stringData": {BUNDLE_KEY: bundle_json, JOB_KEY: job_document_json},
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


def pod_command(python: str = "python3") -> list[str]:
    """The grading container's command: constant but for the image's Python."""
    return [python, "-I", "-c", BOOTSTRAP, f"{INPUT_MOUNT}/{BUNDLE_KEY}", TERMINATION_LOG]


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
    """A ``batch/v1`` Job running one grading sandbox in a locked-down pod.

    The run's input comes only from ``input_secret`` (see :func:`make_job_input`),
    mounted read-only and readable by root alone; nothing of the job document is in this
    manifest. Root here means uid 0 with only SETUID and SETGID, which the launcher uses
    once, to become the two sandbox uids (see the module's doc).
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
        "command": pod_command(python),
        "workingDir": "/tmp",
        "env": [{"name": k, "value": v} for k, v in sorted((env or {}).items())],
        "resources": {
            "requests": {"cpu": cpu_quantity(cpu_request), "memory": memory},
            "limits": {"cpu": cpu_quantity(cpu_limit), "memory": memory},
        },
        "securityContext": {
            # root with nothing but the right to become the two sandbox uids, which the
            # launcher does before any cell runs (see the module's doc)
            "runAsNonRoot": False,
            "runAsUser": 0,
            "runAsGroup": 0,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "capabilities": {"drop": ["ALL"], "add": ["SETUID", "SETGID"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [
            {"name": "job", "mountPath": INPUT_MOUNT, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
        # the trusted process's stderr: a diagnostic read back when a run fails
        "terminationMessagePath": TERMINATION_LOG,
        "terminationMessagePolicy": "File",
    }
    pod_spec = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        # no $SERVICE_HOST variables describing the cluster's services
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 1,
        # the pause process becomes pid 1 and reaps the learner's orphans (what
        # Docker's --init does); the pod has no other container to share with
        "shareProcessNamespace": True,
        # no fsGroup: the kubelet would make the Secret's files readable by that group
        "securityContext": {
            "runAsNonRoot": False,
            "runAsUser": 0,
            "runAsGroup": 0,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [
            {
                "name": "job",
                # root-owned, 0400: the launcher (root) reads it, neither sandbox uid can
                "secret": {"secretName": input_secret, "defaultMode": SECRET_FILE_MODE},
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


# -- reading what the API server reports (pure) ------------------------------------------


def _conditions(job: dict) -> list[dict]:
    return [
        c for c in (job.get("status") or {}).get("conditions") or [] if c.get("status") == "True"
    ]


def _container_states(pods: list[dict]) -> list[dict]:
    return [
        status.get("state") or {}
        for pod in pods
        for status in (pod.get("status") or {}).get("containerStatuses") or []
    ]


def job_finished(job: dict) -> bool:
    """Whether a Job (as a dict from the API) has completed or failed."""
    return any(c.get("type") in ("Complete", "Failed") for c in _conditions(job))


def pod_problem(pod: dict) -> str | None:
    """A reason the pod will never start (bad image, missing config), or None."""
    for state in _container_states([pod]):
        waiting = state.get("waiting") or {}
        if waiting.get("reason") in _STUCK_REASONS:
            return f"{waiting['reason']}: {waiting.get('message', '')}".strip()
    return None


def container_started(pods: list[dict]) -> bool:
    """Whether the grading container has run (it is running or has ended)."""
    return any("running" in s or "terminated" in s for s in _container_states(pods))


def run_end(job: dict, pods: list[dict]) -> tuple[bool, str, bytes]:
    """How a run's Job ended, as :meth:`Executor.outcomes_from` takes it: whether it was
    stopped before it finished (its deadline passed, or it never finished while we
    watched), a short description (exit code, OOM, the Job's failure reason), and the
    termination message (the trusted process's stderr, learner-writable at worst:
    diagnostics only, never a grade)."""
    killed = not job_finished(job)
    parts = []
    message = b""
    for state in _container_states(pods):
        terminated = state.get("terminated")
        if terminated:
            parts.append(f"exit {terminated.get('exitCode')}")
            if terminated.get("reason") == "OOMKilled":
                parts.append("OOM")
            message = (terminated.get("message") or "").encode("utf-8", "replace")
    for condition in _conditions(job):
        if condition.get("type") == "Failed":
            reason = condition.get("reason") or "Failed"
            parts.append(f"Job {reason}")
            killed = killed or reason == "DeadlineExceeded"
    if not job_finished(job):
        parts.append("Job still running")
    return killed, ", ".join(parts) or "no container status", message


# -- the executor --------------------------------------------------------------------------


class KubernetesExecutor(ContainerExecutor):
    """Run grading jobs as single-use Kubernetes Jobs (NOT run against a cluster here).

    Needs ``pip install kubernetes_asyncio`` and, in the grader's namespace or
    ``namespace``, a Role allowing create/get/list/delete of Jobs, Secrets and Pods and get
    of pods/log (images/kubernetes/grader.yaml). The namespace's Pod Security level must
    allow ``baseline`` pods (root with SETUID/SETGID, see the module's doc).
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
    learner_uid = Integer(
        65534,
        help="uid (and gid) of the learner's process in the pod; never 0, and not the "
        "uid of the pod's pause process (65535 in the upstream pause image).",
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

    def sandbox_settings(self) -> dict:
        """The launcher's settings (``container_main``): the uids, the output limit,
        where the job is, and the rlimits Docker would set for a container."""
        return {
            **super().sandbox_settings(),
            "job_path": f"{INPUT_MOUNT}/{JOB_KEY}",
            "rlimits": {
                "data": self.memory_limit,
                "fsize": self.file_size_limit,
                "nofile": self.open_files_limit,
                "core": 0,
            },
        }

    def make_objects(
        self, name: str, cells: list[CellSpec], nonce: str, language: dict | None = None
    ) -> tuple[dict, dict]:
        """The Secret and the Job of one run."""
        # the launcher sets the job's result_fd (its private copy of stdout)
        document = json.dumps(self.job_document(cells, -1, nonce, language))
        secret = make_job_input(
            name, self.namespace, make_sandbox_bundle(self.sandbox_settings()), document
        )
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

    def limits_in_force(self) -> dict:
        return {
            "isolation": "a fresh pod per run: no service account token, read-only root, "
            "NetworkPolicy coursehub-grading-deny-all (where the CNI enforces it)",
            "uids": f"learner {self.learner_uid}, tests {self.trusted_uid}",
            "memory": f"container limit {(self.memory_limit + self.tmp_size) >> 20} MiB, "
            f"data rlimit {self.memory_limit >> 20} MiB per process",
            "cpu": f"container limit {cpu_quantity(self.cpu_limit)}",
            "pids": "the kubelet's podPidsLimit on the node (not set by coursehub)",
            "seccomp": "the runtime's default profile, and coursehub's filter in each process",
        }

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

    async def run(self, cells: list[CellSpec], language: dict | None = None) -> list[CellOutcome]:
        """Run ``cells`` in a fresh Job; delete it and its Secret whatever happens."""
        if not self._checked:
            await self.check()
            self._checked = True
        k8s = self._client()
        nonce = secrets.token_hex(16)
        name = make_job_name()
        secret, job = self.make_objects(name, cells, nonce, language)
        _, result_cap = self.result_limits(len(cells))
        async with k8s.client.ApiClient() as api:
            core, batch = k8s.client.CoreV1Api(api), k8s.client.BatchV1Api(api)
            try:
                await core.create_namespaced_secret(self.namespace, secret)
                created = await batch.create_namespaced_job(self.namespace, job)
                owner = make_owner_reference(api.sanitize_for_serialization(created))
                await core.patch_namespaced_secret(
                    name, self.namespace, {"metadata": {"ownerReferences": [owner]}}
                )
                status, pods, started = await self._wait(api, core, batch, name)
                if not started:  # nothing ran: the cluster had no sandbox for us
                    raise SandboxUnavailable(
                        "the grading pod did not start within "
                        f"{self.time_limit + self.startup_grace:g} s (no room on the "
                        "cluster, or the image is slow to pull)"
                    )
                data = await self._read_log(k8s, core, pods, result_cap)
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
        killed, exit_info, diagnostics = run_end(status, pods)
        return self.outcomes_from(data, len(cells), nonce, killed, exit_info, diagnostics)

    async def _wait(self, api, core, batch, name) -> tuple[dict, list[dict], bool]:
        """Poll the Job until it ends (or our own backstop passes): the Job, its pods, and
        whether its container ever started."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.time_limit + self.startup_grace + 10
        selector = f"job-name={name}"
        started = False
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
            started = started or container_started(pods)
            if job_finished(status) or loop.time() >= deadline:
                return status, pods, started
            await asyncio.sleep(self.poll_interval)

    async def _read_log(self, k8s, core, pods: list[dict], cap: int) -> tuple[bytes, bool]:
        """The trusted process's result lines (the pod log) and whether they overflowed
        ``cap``. A pod already gone (its Job's deadline deletes it) left no results."""
        if not pods:
            return b"", False
        try:
            text = await core.read_namespaced_pod_log(
                pods[0]["metadata"]["name"],
                self.namespace,
                container=CONTAINER_NAME,
                limit_bytes=cap + 1,
            )
        except k8s.client.ApiException as e:
            if e.status in (400, 404):  # the pod, or its container's log, is gone
                self.log.warning("no log from grading pod: %s %s", e.status, e.reason)
                return b"", False
            raise
        data = (text or "").encode("utf-8", "replace")
        return data[:cap], len(data) > cap

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
