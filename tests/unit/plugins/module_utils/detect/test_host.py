"""Detection against fixture hosts: captured (this sandbox, the lab VM) and synthetic (real layouts)."""

import json

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.host.capture import RecordingHostTree, materialize
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.host import SUBSETS, detect_host
from ansible_collections.hostperf.tuning.plugins.module_utils.host.hosttree import HostTree

from conftest import HOST_NAMES


@pytest.fixture
def facts(host_root):
    def detect(name, **kwargs):
        return detect_host(HostTree(host_root(name)), **kwargs)
    return detect


@pytest.mark.parametrize("name", HOST_NAMES)
def test_every_host_detects_cleanly_and_serialises(facts, name):
    result = facts(name)
    assert result["problems"] == []
    assert set(SUBSETS) - {"nic", "block", "irq"} <= set(result)
    assert json.loads(json.dumps(result)) == result
    assert result["cpu"]["count"] == len(result["cpu"]["online_list"]) > 0
    covered = sorted(cpu for node in result["numa"]["nodes"] for cpu in node["cpu_list"])
    assert covered == result["cpu"]["online_list"]


def test_datacenter_server(facts):
    result = facts("dc-2socket")
    cpu = result["cpu"]
    assert (cpu["sockets"], cpu["cores"], cpu["threads_per_core"], cpu["count"]) == (2, 32, 2, 64)
    assert [0, 32] in cpu["siblings"]
    assert cpu["cpufreq"]["driver"] == "intel_pstate"
    assert cpu["cpufreq"]["governor"] == {"powersave": "0-63"}
    nodes = result["numa"]["nodes"]
    assert [node["cpus"] for node in nodes] == ["0-15,32-47", "16-31,48-63"]
    assert nodes[0]["distances"] == [10, 21]
    nvme = {name: dev for name, dev in result["block"].items() if dev["class"] == "nvme"}
    assert sorted((name, dev["numa_node"]) for name, dev in nvme.items()) == [
        ("nvme0n1", 0), ("nvme1n1", 0), ("nvme2n1", 1), ("nvme3n1", 1)]
    assert nvme["nvme2n1"]["hw_queues"] == 64 and nvme["nvme2n1"]["scheduler"] == "none"
    assert nvme["nvme2n1"]["hw_tag_depth"] == 1023 and result["block"]["sda"]["hw_tag_depth"] == 32
    assert nvme["nvme2n1"]["stable_ids"]["wwid"].startswith("eui.")
    assert result["block"]["sda"]["class"] == "ssd" and result["block"]["sda"]["transport"] == "sata"
    mlx = result["nics"]["ens1f0np0"]
    assert (mlx["driver"], mlx["numa_node"], mlx["speed_mbps"]) == ("mlx5_core", 1, 100000)
    assert mlx["channels"]["combined"] == {"current": 32, "max": 63}
    assert mlx["rings"]["rx"] == {"current": 1024, "max": 8192}
    queues = [irq for irq in mlx["irqs"] if irq["queue_kind"] == "combined"]
    assert [irq["queue"] for irq in queues] == list(range(32))
    assert result["nics"]["eno1"]["features"]["features"]["large-receive-offload"]["fixed"] is True
    irqs = result["irqs"]
    nvme_queue = [irq for irq in irqs.values() if irq["name"] == "nvme2q5"][0]
    assert nvme_queue["managed"] is True and nvme_queue["owner"] == ["nvme2n1"]
    assert all(not irqs[str(irq["irq"])]["managed"] for irq in mlx["irqs"])
    assert irqs[str(queues[0]["irq"])]["owner"] == ["ens1f0np0"]
    assert result["environment"]["irqbalance"] == {"running": True, "enabled": True, "policy_script": None}
    assert result["kernel"]["modules"]["tcp_bbr"] == "available"
    assert result["kernel"]["tcp_congestion_controls"]["bbr"] is True
    assert {"docker0": "bridge", "bond0": "bond", "lo": "loopback"} == {
        name: nic["kind"] for name, nic in result["virtual_nics"].items()}


def test_edge_box(facts):
    result = facts("edge-box")
    assert result["numa"]["synthetic"] is True
    assert result["numa"]["nodes"][0]["cpus"] == "0-3"
    assert result["block"]["sda"]["class"] == "hdd"
    assert result["block"]["mmcblk0"]["class"] == "emmc"
    assert set(result["block_skipped"]) == {"mmcblk0boot0", "mmcblk0boot1", "mmcblk0rpmb"}
    down = result["nics"]["enp3s0"]
    assert down["operstate"] == "down" and down["speed_mbps"] is None
    assert result["nics"]["enp2s0"]["rings"]["rx"]["max"] == 4096
    assert {name: nic["kind"] for name, nic in result["virtual_nics"].items()} == {
        "br-lan": "bridge", "lo": "loopback", "tap0": "tap", "veth0": "veth", "wg0": "wireguard"}
    assert result["environment"]["virtualization"]["type"] == "none"


def test_cloud_vm(facts):
    result = facts("cloud-vm")
    assert result["cpu"]["cpufreq"] is None
    assert result["cpu"]["idle_driver"] == "haltpoll"
    vda = result["block"]["vda"]
    assert (vda["class"], vda["transport"], vda["driver"]) == ("virtual", "virtio", "virtio_blk")
    eth0 = result["nics"]["eth0"]
    assert eth0["driver"] == "virtio_net"
    assert sorted((irq["queue_kind"], irq["queue"]) for irq in eth0["irqs"] if irq["queue_kind"]) == sorted(
        [("rx", q) for q in range(4)] + [("tx", q) for q in range(4)])
    managed = sorted(irq["name"] for irq in result["irqs"].values() if irq["managed"])
    assert managed == ["virtio1-req.%d" % q for q in range(4)]
    assert result["environment"]["virtualization"]["type"] == "kvm"
    assert result["kernel"]["qdiscs"]["fq"] is True and result["kernel"]["qdiscs"]["netem"] is False


def test_subsets_limit_the_work(facts):
    result = facts("dc-2socket", subsets=["block"], use_ethtool=False)
    assert "nics" not in result and "irqs" not in result and "kernel" not in result
    assert "block" in result and "cpu" in result


def test_without_ethtool_each_nic_says_so(host_root):
    root = host_root("edge-box")
    with open(root + "/.hostperf-commands.json", "w") as handle:
        handle.write("{}")
    nic = detect_host(HostTree(root))["nics"]["enp2s0"]
    assert nic["ethtool"] == "missing"
    assert nic["rings"] == {"supported": False, "error": "ethtool is not installed"}
    assert nic["speed_mbps"] == 1000


@pytest.mark.parametrize("name", HOST_NAMES)
def test_capture_round_trip_is_exact(host_root, tmp_path, name):
    """Capturing a tree and rebuilding it gives detection the same host."""
    first_root = host_root(name)
    recorder = RecordingHostTree(first_root)
    first = detect_host(recorder)
    rebuilt = materialize(recorder.export(), str(tmp_path / "rebuilt"))
    second = detect_host(HostTree(rebuilt))
    for result in (first, second):
        result.pop("root")
    assert first == second


def test_capture_leaves_out_private_process_data(host_root):
    root = host_root("dc-2socket")
    with open(root + "/proc/812/environ", "w") as handle:
        handle.write("SECRET=1\0")
    import os
    os.makedirs(root + "/proc/4242")
    with open(root + "/proc/4242/comm", "w") as handle:
        handle.write("my-private-app\n")
    recorder = RecordingHostTree(root)
    detect_host(recorder)
    capture = recorder.export()
    assert "/proc/812/comm" in capture["files"]
    assert not any(path.startswith("/proc/4242") for path in list(capture["files"]) + capture["dirs"])


def test_live_host_detects_without_problems():
    result = detect_host(HostTree("/"), use_ethtool=False)
    assert result["cpu"]["count"] >= 1
    assert result["numa"]["nodes"]


def test_lab_datacenter_vm_capture(facts):
    """Captured from the lab's QEMU q35 VM: NVMe and e1000e behind a pxb-pcie bridge on NUMA node 1."""
    result = facts("lab-datacenter-vm")
    assert [node["cpus"] for node in result["numa"]["nodes"]] == ["0-1", "2-3"]
    assert result["numa"]["nodes"][0]["distances"] == [10, 20]
    nvme = result["block"]["nvme0n1"]
    assert (nvme["class"], nvme["numa_node"], nvme["stable_ids"]["serial"]) == ("nvme", 1, "hostperf-nvme1")
    assert result["block_skipped"]["sr0"] == "optical drive"
    e1000e = [nic for nic in result["nics"].values() if nic["driver"] == "e1000e"][0]
    assert e1000e["numa_node"] == 1 and e1000e["speed_mbps"] == 1000
    assert e1000e["rings"]["rx"]["max"] == 4096
    assert e1000e["channels"]["supported"] is False and e1000e["channels"]["error"]
    assert sorted(irq["queue_kind"] for irq in e1000e["irqs"] if irq["queue_kind"]) == ["rx", "tx"]
    queues = [irq for irq in result["irqs"].values() if irq["name"] and irq["name"].startswith("nvme0q")]
    assert {irq["name"]: irq["managed"] for irq in queues if irq["name"] == "nvme0q0"} == {"nvme0q0": False}
    assert all(irq["managed"] for irq in queues if irq["name"] != "nvme0q0")
    assert result["kernel"]["modules"]["sch_netem"] == "available"
    assert result["environment"]["virtualization"]["type"] == "kvm"


def test_sandbox_capture_knows_fq_is_absent(facts):
    """This CI machine's kernel has bbr built in, no fq, and no loadable modules."""
    kernel = facts("sandbox-firecracker")["kernel"]
    assert kernel["qdiscs"]["fq"] is False
    assert kernel["tcp_congestion_controls"]["bbr"] is True
    assert kernel["module_loading"]["loadable"] is False
    assert kernel["modules"]["sch_fq"] == "absent"
