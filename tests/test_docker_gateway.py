"""Finding a Docker network's gateway address (hub_config.docker.find_gateway).

Engines do not always list it in ``docker network inspect``: Docker 20.10 leaves the
default ``bridge`` network's IPAM config without a ``Gateway`` when it created
``docker0`` itself (a fresh engine), and lists one when it started over an existing
``docker0``. Each way of finding it must give the address the engine really uses: the
IPAM one, on a network the test makes.
"""

from __future__ import annotations

import copy

import pytest

from hub_config.docker import (
    BRIDGE_NAME_OPTION,
    GatewayNotFound,
    bridge_interface_name,
    ensure_learner_network,
    find_gateway,
    interface_gateway,
    interface_ipv4_address,
    network_gateway,
    network_subnets,
    probe_gateway,
)
from tests.docker_support import remove_test_objects, unique_prefix

#: an interface name no engine makes (at most 15 characters, Linux's limit)
NO_SUCH_BRIDGE = "chub-no-bridge"
NO_SUCH_IMAGE = "coursehub-test-no-such-image:none"


def without_ipam_gateway(attrs: dict) -> dict:
    """``attrs`` as an engine that did not record the gateway would answer."""
    stripped = copy.deepcopy(attrs)
    for config in stripped["IPAM"]["Config"]:
        config.pop("Gateway", None)
    return stripped


def with_bridge_name(attrs: dict, name: str) -> dict:
    changed = copy.deepcopy(attrs)
    changed["Options"] = {**(changed.get("Options") or {}), BRIDGE_NAME_OPTION: name}
    return changed


def our_containers(client, prefix: str) -> list[str]:
    return [
        c.name
        for c in client.containers.list(all=True, filters={"name": prefix})
        if c.name.startswith(prefix)
    ]


# -- pure parts, and this machine's own interfaces ------------------------------------


def test_bridge_interface_name_follows_dockers_rule():
    network_id = "0123456789abcdef" * 4
    assert bridge_interface_name({"Name": "bridge", "Driver": "bridge", "Id": network_id}) == (
        "docker0"
    )
    assert bridge_interface_name({"Name": "mine", "Driver": "bridge", "Id": network_id}) == (
        "br-0123456789ab"
    )
    named = {"Name": "mine", "Driver": "bridge", "Options": {BRIDGE_NAME_OPTION: "learners0"}}
    assert bridge_interface_name(named) == "learners0"
    assert bridge_interface_name({"Name": "o", "Driver": "overlay", "Id": network_id}) is None


def test_network_subnets_and_ipam_gateway():
    attrs = {
        "Name": "n",
        "IPAM": {"Config": [{"Subnet": "fd00::/64"}, {"Subnet": "172.30.0.0/16"}]},
    }
    assert [str(s) for s in network_subnets(attrs)] == ["172.30.0.0/16"]
    with pytest.raises(GatewayNotFound, match="'n' has no gateway address in its IPAM"):
        network_gateway(attrs)


def test_interface_address_counts_only_inside_the_networks_subnets():
    # the loopback interface stands in for a bridge: every machine has it
    attrs = {"Name": "n", "Driver": "bridge", "Options": {BRIDGE_NAME_OPTION: "lo"}}
    inside = {**attrs, "IPAM": {"Config": [{"Subnet": "127.0.0.0/8"}]}}
    assert interface_gateway(inside) == "127.0.0.1"
    # an interface of the same name whose address is not the network's (an engine
    # on another machine): not taken for the gateway
    outside = {**attrs, "IPAM": {"Config": [{"Subnet": "172.30.0.0/16"}]}}
    with pytest.raises(GatewayNotFound, match=r"interface lo has 127\.0\.0\.1, outside"):
        interface_gateway(outside)
    with pytest.raises(GatewayNotFound, match=f"interface {NO_SUCH_BRIDGE}: No such device"):
        interface_gateway(with_bridge_name(inside, NO_SUCH_BRIDGE))
    with pytest.raises(OSError):
        interface_ipv4_address("x" * 16)  # longer than any interface name


# -- against the real engine ----------------------------------------------------------


@pytest.fixture
def prefix(docker_engine):
    """This test's name prefix; its containers and networks are removed afterwards."""
    prefix = unique_prefix("gateway")
    yield prefix
    remove_test_objects(docker_engine, prefix)


@pytest.fixture
def network(docker_engine, prefix):
    """A bridge network made by the test: the engine lists its gateway in IPAM."""
    network = docker_engine.networks.create(f"{prefix}net", driver="bridge")
    network.reload()
    return network


@pytest.mark.docker
def test_ipam_gateway_first(docker_engine, network):
    gateway = network_gateway(network.attrs)
    assert gateway.count(".") == 3
    # no probe image needed: IPAM answers
    assert find_gateway(docker_engine, network.attrs, probe_image=NO_SUCH_IMAGE) == gateway


@pytest.mark.docker
def test_bridge_interface_when_ipam_has_none(docker_engine, network):
    expected = network_gateway(network.attrs)
    stripped = without_ipam_gateway(network.attrs)
    assert interface_gateway(stripped) == expected
    # the probe could not run (no such image): the interface answered
    assert find_gateway(docker_engine, stripped, probe_image=NO_SUCH_IMAGE) == expected


@pytest.mark.docker
def test_probe_container_when_ipam_and_interface_have_none(
    docker_engine, learner_image, network, prefix
):
    expected = network_gateway(network.attrs)
    unknown = with_bridge_name(without_ipam_gateway(network.attrs), NO_SUCH_BRIDGE)
    probe_prefix = f"{prefix}probe-"
    assert find_gateway(docker_engine, unknown, learner_image, probe_prefix) == expected
    assert our_containers(docker_engine, probe_prefix) == []


@pytest.mark.docker
def test_probe_container_is_removed_when_it_finds_no_gateway(docker_engine, learner_image, prefix):
    # a container on the "none" network starts, but has no gateway
    probe_prefix = f"{prefix}probe-"
    with pytest.raises(GatewayNotFound, match="no gateway in its network settings"):
        probe_gateway(docker_engine, "none", learner_image, probe_prefix)
    assert our_containers(docker_engine, probe_prefix) == []


@pytest.mark.docker
def test_no_gateway_anywhere_is_a_clear_error(docker_engine, network, prefix):
    unknown = with_bridge_name(without_ipam_gateway(network.attrs), NO_SUCH_BRIDGE)
    probe_prefix = f"{prefix}probe-"
    with pytest.raises(GatewayNotFound) as error:
        find_gateway(docker_engine, unknown, NO_SUCH_IMAGE, probe_prefix)
    message = str(error.value)
    assert f"Docker network {network.name!r}" in message
    assert "no gateway address in its IPAM config" in message
    assert f"interface {NO_SUCH_BRIDGE}: No such device" in message
    assert f"probe container of {NO_SUCH_IMAGE}" in message
    assert our_containers(docker_engine, probe_prefix) == []


@pytest.mark.docker
def test_default_bridge_gateway_is_what_containers_use(docker_engine, learner_image, prefix):
    """The real condition: this engine's own ``bridge`` network, IPAM gateway or not.

    On a fresh Docker 20.10 engine its IPAM config lists only the subnet, and the
    address comes from ``docker0``; either way it is the one a container is given.
    """
    attrs = docker_engine.networks.get("bridge").attrs
    seen_by_a_container = probe_gateway(docker_engine, "bridge", learner_image, f"{prefix}p-")
    assert find_gateway(docker_engine, attrs, probe_image=NO_SUCH_IMAGE) == seen_by_a_container


@pytest.mark.docker
def test_ensure_learner_network_returns_its_gateway(docker_engine, learner_image, prefix):
    name = f"{prefix}learners"
    gateway = ensure_learner_network(name, docker_engine, probe_image=learner_image)
    network = docker_engine.networks.get(name)
    assert gateway == network_gateway(network.attrs)
    # a second Hub finds the same network and address
    assert ensure_learner_network(name, docker_engine, probe_image=learner_image) == gateway
