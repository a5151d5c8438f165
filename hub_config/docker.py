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

import errno
import fcntl
import ipaddress
import socket
import struct
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

from dockerspawner import DockerSpawner
from traitlets import Integer

from .settings import Settings
from .spawner import front_end_environment

DOCKER_MODE_MESSAGE = "coursehub runs with Docker: one container per learner"

#: Where the learner's server starts, and where their named volume is mounted.
WORK_DIR = "/home/jovyan/work"

#: Docker's bridge driver option that stops containers on one network reaching each other.
ICC_OPTION = "com.docker.network.bridge.enable_icc"

#: Docker's bridge driver option naming the network's Linux bridge interface.
BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"

#: ioctl asking for an interface's address (linux/sockios.h).
SIOCGIFADDR = 0x8915

#: Label on the short-lived containers that ask the engine for a network's gateway.
PROBE_LABEL = "org.coursehub.gateway-probe"

#: Their image when none is given: the learner image, which has ``sleep``.
DEFAULT_PROBE_IMAGE = Settings.learner_image

#: Their name prefix when none is given.
GATEWAY_PROBE_PREFIX = "coursehub-gateway-probe-"


class CoursehubDockerSpawner(DockerSpawner):
    """DockerSpawner whose calls to the engine run on a pool of threads.

    DockerSpawner sends every engine call of every learner through one thread, so 40
    learners starting at the start of a class, or the Hub stopping 40 servers, wait
    for each other one container after another (about a second each to stop). The
    engine handles calls concurrently; so do these.
    """

    docker_threads = Integer(
        8,
        help="""Threads calling the Docker engine for all learners' servers at once
        (DockerSpawner's own: 1).""",
    ).tag(config=True)

    # one pool for every server of this class, as DockerSpawner's single executor
    _pool: ThreadPoolExecutor | None = None

    @property
    def executor(self) -> ThreadPoolExecutor:
        cls = type(self)
        if cls._pool is None:
            cls._pool = ThreadPoolExecutor(self.docker_threads, thread_name_prefix="docker")
        return cls._pool


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


class GatewayNotFound(RuntimeError):
    """No way of finding a Docker network's gateway address worked."""


def network_gateway(attrs: dict) -> str:
    """The gateway address in the IPAM config of ``docker network inspect`` (``attrs``).

    Pure, and the first place :func:`find_gateway` looks. Engines do not always put it
    there: an engine that creates ``docker0`` itself lists only the default bridge's
    subnet (Docker 20.10 records a gateway only for an address it found on an existing
    interface, or for ``--bip``).
    """
    for config in (attrs.get("IPAM") or {}).get("Config") or []:
        gateway = config.get("Gateway")
        if gateway:
            return gateway.split("/")[0]
    raise GatewayNotFound(
        f"Docker network {attrs.get('Name')!r} has no gateway address in its IPAM config"
    )


def bridge_interface_name(attrs: dict) -> str | None:
    """The Linux bridge interface of a bridge network on the engine's machine, or None.

    Docker's own rule: the ``com.docker.network.bridge.name`` option when set,
    ``docker0`` for the default ``bridge`` network, else ``br-`` and the first 12
    characters of the network's id. Other drivers (overlay, macvlan, ...) have none.
    """
    if attrs.get("Driver") != "bridge":
        return None
    name = (attrs.get("Options") or {}).get(BRIDGE_NAME_OPTION)
    if name:
        return name
    if attrs.get("Name") == "bridge":
        return "docker0"
    return f"br-{attrs.get('Id', '')[:12]}"


def network_subnets(attrs: dict) -> list[ipaddress.IPv4Network]:
    """The IPv4 subnets in a network's IPAM config."""
    subnets = []
    for config in (attrs.get("IPAM") or {}).get("Config") or []:
        try:
            subnet = ipaddress.ip_network(config.get("Subnet") or "", strict=False)
        except ValueError:
            continue
        if subnet.version == 4:
            subnets.append(subnet)
    return subnets


def interface_ipv4_address(name: str) -> str:
    """The IPv4 address of the network interface ``name`` on this machine.

    Read with the SIOCGIFADDR ioctl rather than ``ip -j addr``: the standard library
    only, no iproute2 needed in whatever image or host the Hub runs on, no output
    format to parse. Raises OSError (ENODEV: no such interface, EADDRNOTAVAIL: no
    IPv4 address).
    """
    encoded = name.encode()
    if not encoded or len(encoded) > 15 or b"/" in encoded or b"\0" in encoded:
        raise OSError(errno.ENODEV, f"not an interface name: {name!r}")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        # struct ifreq: the name (IFNAMSIZ = 16 bytes), then a sockaddr_in whose
        # address is at bytes 4-8 (after family and port)
        answer = fcntl.ioctl(s.fileno(), SIOCGIFADDR, struct.pack("256s", encoded))
    return socket.inet_ntoa(answer[20:24])


def interface_gateway(attrs: dict) -> str:
    """The address of a bridge network's interface on this machine: its gateway.

    The address counts only if it lies in one of the network's subnets: with an engine
    on another machine (``DOCKER_HOST``) an interface of the same name here is not
    that network's.
    """
    name = bridge_interface_name(attrs)
    if name is None:
        raise GatewayNotFound(f"{attrs.get('Driver')!r} networks have no bridge interface")
    try:
        address = interface_ipv4_address(name)
    except OSError as e:
        raise GatewayNotFound(f"interface {name}: {e.strerror or e}") from None
    subnets = network_subnets(attrs)
    if not any(ipaddress.ip_address(address) in subnet for subnet in subnets):
        shown = ", ".join(map(str, subnets)) or "none listed"
        raise GatewayNotFound(
            f"interface {name} has {address}, outside the network's subnets ({shown})"
        )
    return address


def probe_gateway(client, network: str, image: str, name_prefix: str) -> str:
    """The gateway a short-lived container on ``network`` is given, asked of the engine.

    The container (named ``<name_prefix><random>``, of ``image``, which needs
    ``sleep``) is removed before this returns, also when anything failed. It only
    sleeps, with tight limits, and stops by itself should removal ever fail.
    """
    import docker.errors

    name = f"{name_prefix}{uuid.uuid4().hex[:8]}"
    try:
        container = client.containers.create(
            image,
            ["sleep", "60"],
            name=name,
            network=network,
            labels={PROBE_LABEL: network},
            mem_limit="64m",
            pids_limit=8,
        )
        container.start()
        container.reload()
        settings = container.attrs["NetworkSettings"]["Networks"].get(network) or {}
    except docker.errors.DockerException as e:
        raise GatewayNotFound(f"probe container of {image}: {e}") from None
    finally:
        try:
            client.api.remove_container(name, force=True, v=True)
        except docker.errors.NotFound:
            pass  # never created
    if not settings.get("Gateway"):
        raise GatewayNotFound(f"probe container of {image}: no gateway in its network settings")
    return settings["Gateway"]


def find_gateway(
    client,
    attrs: dict,
    probe_image: str = DEFAULT_PROBE_IMAGE,
    probe_prefix: str = GATEWAY_PROBE_PREFIX,
) -> str:
    """A Docker network's gateway address (``attrs``: its ``docker network inspect``).

    Where the engine lists it (the IPAM config); else the address of the network's
    bridge interface on this machine; else what a probe container on the network is
    given (:func:`probe_gateway`). Raises :class:`GatewayNotFound`, saying what was
    tried, when none answers.
    """
    tried = []
    for attempt in (
        lambda: network_gateway(attrs),
        lambda: interface_gateway(attrs),
        lambda: probe_gateway(client, attrs["Name"], probe_image, probe_prefix),
    ):
        try:
            return attempt()
        except GatewayNotFound as e:
            tried.append(str(e))
    raise GatewayNotFound(
        f"cannot find the gateway address of Docker network {attrs.get('Name')!r}; tried: "
        + "; ".join(tried)
    )


def ensure_learner_network(name: str, client=None, probe_image: str = DEFAULT_PROBE_IMAGE) -> str:
    """Create the learners' network if missing; return its gateway address.

    Blocking: called once while the Hub reads its configuration, before its event loop
    runs. A network that exists is used as it is (an operator may have made it).
    A probe container, if one is needed, is named after the network
    (``<name>-gateway-probe-...``), so whatever sweeps the network's prefix sweeps it too.
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
    return find_gateway(client, network.attrs, probe_image, f"{name}-gateway-probe-")


def grader_url_for_containers(settings: Settings, connect_host: str) -> str:
    """The grader as learners' containers reach it: through the Hub's proxy."""
    return f"http://{connect_host}:{settings.port}/services/grader/"


def apply_docker_spawner(c, settings: Settings, connect_host: str) -> None:
    """DockerSpawner for every learner; `connect_host` is where containers reach the Hub.

    On one machine `connect_host` is the learners' network gateway: the Hub's API binds
    there only, and the proxy binds every interface (a loopback-only proxy is out of
    containers' reach). With docker-compose it is the Hub container's name.
    """
    c.JupyterHub.spawner_class = CoursehubDockerSpawner
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
