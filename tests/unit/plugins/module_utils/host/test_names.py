import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.host.names import (
    InvalidName, block_device, interface, irq_number, sysctl_key, sysctl_path)


@pytest.mark.parametrize("key, path", [
    ("net.core.somaxconn", "/proc/sys/net/core/somaxconn"),
    ("net/core/somaxconn", "/proc/sys/net/core/somaxconn"),
    ("net.ipv4.conf.eth0/100.rp_filter", "/proc/sys/net/ipv4/conf/eth0.100/rp_filter"),
])
def test_sysctl_path(key, path):
    assert sysctl_path(key) == path


@pytest.mark.parametrize("key", ["", "..", "net..core", "net/../../etc/passwd", "/etc/passwd", "net.core.",
                                 ".net", "net.core.x y", "net.ipv4/../../x", "a./..", None, 5])
def test_sysctl_path_rejects_tricks(key):
    with pytest.raises(InvalidName) as err:
        sysctl_path(key)
    assert "sysctl key" in str(err.value)


def test_sysctl_key_is_canonical():
    assert sysctl_key("net/ipv4/conf/eth0.100/rp_filter") == "net.ipv4.conf.eth0/100.rp_filter"


@pytest.mark.parametrize("check, bad", [
    (block_device, "../sda"), (block_device, "sda/queue"), (block_device, ""), (block_device, ".."),
    (interface, "eth0/../../x"), (interface, "a" * 16), (interface, "eth 0"), (interface, ".."),
    (irq_number, "12a"), (irq_number, "-1"), (irq_number, "../1"),
])
def test_names_reject_path_tricks(check, bad):
    with pytest.raises(InvalidName):
        check(bad)


def test_names_accept_real_names():
    assert block_device("nvme0n1") == "nvme0n1"
    assert block_device("dm-0") == "dm-0"
    assert interface("ens1f0np0") == "ens1f0np0"
    assert irq_number("45") == 45
