"""Broken, partial and changing trees give facts that say what is wrong, never a traceback."""

import errno
import os
import shutil

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.detect.host import detect_host
from ansible_collections.hostperf.tuning.plugins.module_utils.host.hosttree import HostTree

from conftest import HOST_NAMES


def test_empty_root_gives_a_minimal_host(tmp_path):
    result = detect_host(HostTree(str(tmp_path)))
    assert result["cpu"]["count"] == 0
    assert result["numa"]["node_count"] == 1 and result["numa"]["synthetic"]
    assert result["block"] == {} and result["nics"] == {}


def test_garbage_values_are_problems(host_root):
    root = host_root("dc-2socket")
    with open(root + "/sys/devices/system/cpu/online", "w") as handle:
        handle.write("zero-to-three\n")
    with open(root + "/sys/devices/pci0000:17/0000:18:00.0/nvme/nvme0/nvme0n1/queue/nr_requests", "w") as handle:
        handle.write("lots\n")
    result = detect_host(HostTree(root))
    paths = [problem["path"] for problem in result["problems"]]
    assert "/sys/devices/system/cpu/online" in paths
    assert any(path.endswith("nvme0n1/queue/nr_requests") for path in paths)
    assert result["block"]["nvme0n1"]["nr_requests"] is None
    assert result["cpu"]["count"] == 64


def test_unreadable_attribute_is_reported(host_root):
    root = host_root("edge-box")
    speed = root + "/sys/devices/pci0000:00/0000:02:00.0/net/enp2s0/speed"
    os.remove(speed)
    os.mkdir(speed)
    result = detect_host(HostTree(root))
    assert result["nics"]["enp2s0"]["speed_mbps"] is None
    assert any(problem["path"].endswith("enp2s0/speed") and "IsADirectory" in problem["error"]
               for problem in result["problems"])


def test_link_down_speed_einval_is_unknown(host_root, monkeypatch):
    """The kernel answers EINVAL when reading the speed of a link that is down."""
    root = host_root("edge-box")
    real_open = os.open

    def einval_on_speed(path, *args, **kwargs):
        if str(path).endswith("enp2s0/speed"):
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", einval_on_speed)
    result = detect_host(HostTree(root))
    assert result["nics"]["enp2s0"]["speed_mbps"] is None


def test_devices_vanishing_mid_scan(host_root):
    root = host_root("dc-2socket")
    shutil.rmtree(root + "/sys/devices/pci0000:57/0000:58:01.0/nvme/nvme3/nvme3n1/queue")
    os.remove(root + "/sys/devices/pci0000:57/0000:77:00.1/net/ens1f1np1/ifindex")
    os.remove(root + "/sys/block/nvme2n1")
    os.symlink("../devices/gone/nvme2n1", root + "/sys/block/nvme2n1")
    result = detect_host(HostTree(root))
    assert result["block_skipped"]["nvme3n1"] == "vanished during the scan"
    assert result["block_skipped"]["nvme2n1"] == "vanished during the scan"
    assert "ens1f1np1" not in result["nics"] and "ens1f0np0" in result["nics"]
    assert any("vanished" in problem["error"] for problem in result["problems"])


@pytest.mark.parametrize("name", HOST_NAMES)
def test_every_single_missing_directory_is_survived(host_root, name):
    """Remove each top-level area in turn: detection still answers."""
    root = host_root(name)
    for area in ("sys/devices/system/node", "sys/class/net", "sys/block", "proc/irq", "sys/kernel", "proc/sys"):
        path = os.path.join(root, area)
        if os.path.isdir(path):
            shutil.rmtree(path)
        result = detect_host(HostTree(root))
        assert result["cpu"]["count"] >= 0
