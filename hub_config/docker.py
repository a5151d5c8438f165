"""Docker mode: one container per learner, with DockerSpawner.

Each learner's server runs in a container of the learner image, with their work on a
named volume (``<prefix>-user-<name>`` at ``/home/jovyan/work``) that outlives the
container: containers are removed when the server stops, the volume stays.

Where containers sit on the network decides what a learner can reach:

- On one machine (``run.sh``), learners' containers join a network of their own whose
  bridge has container-to-container traffic turned off (learners cannot reach each
  other). The Hub's API listens on that network's gateway address, the proxy on all
  interfaces, so a container reaches the Hub and, through the proxy, the grader
  (``/services/grader/``). The grader itself and PostgreSQL listen on 127.0.0.1, which
  a container cannot reach; grading containers have no network at all.
- With docker-compose the Hub is a container too: learners' containers join the
  ``coursehub-learners`` network with the Hub, and reach it by name (``hub``). The
  grader and PostgreSQL sit on another network, which learners' containers are not on.

The functions that decide the configuration are pure (tested on a bare ``Config()``);
the few that ask the engine take a client and run at configuration time, before the
Hub's event loop starts.
"""

from __future__ import annotations

import sys

from .settings import Settings
from .spawner import front_end_environment

DOCKER_MODE_MESSAGE = "coursehub runs with Docker: one container per learner"

#: Where the learner's server starts, and where their named volume is mounted.
WORK_DIR = "/home/jovyan/work"

#: Docker's bridge driver option that stops containers on one network reaching each other.
ICC_OPTION = "com.docker.network.bridge.enable_icc"


def container_prefix(settings: Settings) -> str:
    """DockerSpawner's ``prefix``: containers are named ``<prefix>-<username>``."""
    return f"{settings.docker_prefix}-learner"


def volume_name_template(settings: Settings) -> str:
    """The learner's named volume, with DockerSpawner's (escaped) ``{username}``."""
    return f"{settings.docker_prefix}-user-{{username}}"


def learner_network_spec(name: str) -> dict:
    """``client.networks.create`` arguments of the learners' network.

    A bridge of its own, with inter-container traffic off: a learner's container
    reaches this machine (the Hub, the proxy) through the gateway, never another
    learner's container.
    """
    return {
        "name": name,
        "driver": "bridge",
        "options": {ICC_OPTION: "false"},
        "labels": {"org.coursehub.role": "learners"},
    }


def network_gateway(attrs: dict) -> str:
    """The gateway address in ``docker network inspect`` output (``attrs``)."""
    for config in (attrs.get("IPAM") or {}).get("Config") or []:
        gateway = config.get("Gateway")
        if gateway:
            return gateway.split("/")[0]
    raise RuntimeError(f"Docker network {attrs.get('Name')!r} has no gateway address")


def ensure_learner_network(name: str, client=None) -> str:
    """Create the learners' network if missing; return its gateway address.

    Blocking: called once while the Hub reads its configuration, before its event loop
    runs. A network that exists is used as it is (an operator may have made it).
    """
    import docker
    import docker.errors

    client = client or docker.from_env()
    try:
        network = client.networks.get(name)
    except docker.errors.NotFound:
        try:
            network = client.networks.create(**learner_network_spec(name))
        except docker.errors.APIError:
            # created by another Hub starting at the same time
            network = client.networks.get(name)
    network.reload()
    return network_gateway(network.attrs)


def grader_url_for_containers(settings: Settings, connect_host: str) -> str:
    """The grader as learners' containers reach it: through the Hub's proxy."""
    return f"http://{connect_host}:{settings.port}/services/grader/"


def apply_docker_spawner(c, settings: Settings, connect_host: str) -> None:
    """DockerSpawner for every learner; `connect_host` is where containers reach the Hub.

    On one machine `connect_host` is the learners' network gateway: the Hub's API binds
    there only, and the proxy binds every interface (a loopback-only proxy is out of
    containers' reach). With docker-compose it is the Hub container's name.
    """
    c.JupyterHub.spawner_class = "dockerspawner.DockerSpawner"
    c.DockerSpawner.image = settings.learner_image
    c.DockerSpawner.prefix = container_prefix(settings)
    c.DockerSpawner.remove = True
    c.DockerSpawner.volumes = {volume_name_template(settings): WORK_DIR}
    c.DockerSpawner.notebook_dir = WORK_DIR
    c.DockerSpawner.cmd = ["jupyterhub-singleuser"]
    c.DockerSpawner.mem_limit = settings.learner_mem_limit
    c.DockerSpawner.cpu_limit = settings.learner_cpu_limit
    c.DockerSpawner.extra_host_config = {"pids_limit": settings.learner_pids_limit}
    c.DockerSpawner.network_name = settings.docker_network
    # the proxy reaches containers at their address on the learners' network
    c.DockerSpawner.use_internal_ip = True
    c.DockerSpawner.environment = {
        "COURSEHUB_GRADER_URL": grader_url_for_containers(settings, connect_host),
        **front_end_environment(settings.learner_python_prefix),
    }

    if settings.hub_connect_host:
        # the Hub is a container (docker-compose): its own network namespace, so every
        # interface is one the learners' network or the published port leads to
        c.JupyterHub.hub_ip = "0.0.0.0"
        c.JupyterHub.hub_connect_ip = settings.hub_connect_host
        c.JupyterHub.bind_url = f"http://0.0.0.0:{settings.port}"
    else:
        c.JupyterHub.hub_ip = connect_host
        c.JupyterHub.hub_connect_ip = connect_host
        if settings.ip in ("127.0.0.1", "localhost", "::1"):
            c.JupyterHub.bind_url = f"http://0.0.0.0:{settings.port}"
    print(
        f"{DOCKER_MODE_MESSAGE} (image {settings.learner_image}, "
        f"network {settings.docker_network}, Hub reached at {connect_host})",
        file=sys.stderr,
        flush=True,
    )
