"""Every bad request fails before any change, with a message that names the setting and the reason."""

import json

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.detect.host import detect_host
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import Journal
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.module_api import tune
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.planner import plan_for_host
from fakekernel import FakeKernelTree, assert_refused_unchanged, outside_journal, tree_digest

BAD = [
    # (request, words the message must contain)
    ({"settings": {"sysctl:net.core.no_such_key": 1}}, ["net.core.no_such_key", "unknown key"]),
    ({"settings": {"sysctl:net..core": 1}}, ["sysctl key", "not a valid component"]),
    ({"settings": {"sysctl:net/../../etc/passwd": 1}}, ["sysctl key", "'..'"]),
    ({"settings": {"sysctl:/etc/shadow": 1}}, ["sysctl key"]),
    ({"settings": {"sysctl:net.ipv4.conf.all.x/../../y": 1}}, ["sysctl key"]),
    ({"settings": {"sysctl:net.core": 1}}, ["net.core", "directory of keys"]),
    ({"settings": {"sysctl:net.core.somaxconn": "lots"}}, ["net.core.somaxconn", "not an integer"]),
    ({"settings": {"sysctl:net.core.somaxconn": 2 ** 40}}, ["net.core.somaxconn", "out of the kernel's range"]),
    ({"settings": {"sysctl:net.core.somaxconn": -1}}, ["net.core.somaxconn", "out of the kernel's range"]),
    ({"settings": {"sysctl:vm.swappiness": 201}}, ["vm.swappiness", "0..200"]),
    ({"settings": {"sysctl:vm.dirty_ratio": 101}}, ["vm.dirty_ratio", "0..100"]),
    ({"settings": {"sysctl:net.ipv4.tcp_rmem": "4096 87380"}}, ["net.ipv4.tcp_rmem", "2 field(s)", "has 3"]),
    ({"settings": {"sysctl:net.ipv4.tcp_rmem": [4096, 87380, 6291456, 1]}}, ["net.ipv4.tcp_rmem", "4 field(s)"]),
    ({"settings": {"sysctl:net.ipv4.tcp_rmem": [0, 87380, 6291456]}}, ["net.ipv4.tcp_rmem", "out of the kernel's range"]),
    ({"settings": {"sysctl:vm.swappiness": ""}}, ["vm.swappiness", "empty value"]),
    ({"settings": {"sysctl:vm.swappiness": "1\nvm.dirty_ratio=1"}}, ["vm.swappiness"]),
    ({"settings": {"sysctl:kernel.osrelease": "6.6.6"}}, ["kernel.osrelease", "read-only"]),
    ({"block": [{"device": "sdz", "scheduler": "none"}]}, ["sdz", "no such disk"]),
    ({"block": [{"device": "../sda", "scheduler": "none"}]}, ["'../sda'", "not a kernel block device name"]),
    ({"block": [{"device": "sda/queue", "read_ahead_kb": 1}]}, ["sda/queue", "not a kernel block device name"]),
    ({"block": [{"device": "nvme0n1", "scheduler": "cfq"}]}, ["nvme0n1", "'cfq' is not offered",
                                                              "none, mq-deadline, kyber, bfq"]),
    ({"block": [{"device": "nvme0n1", "nr_requests": 2}]}, ["nvme0n1", "nr_requests=2", "out of range"]),
    ({"block": [{"device": "nvme0n1", "nr_requests": "deep"}]}, ["nr_requests", "'deep'", "cannot be converted to an int"]),
    ({"block": [{"device": "nvme0n1", "read_ahead_kb": -8}]}, ["nvme0n1", "read_ahead_kb", "non-negative integer"]),
    ({"block": [{"device": "nvme0n1", "rq_affinity": 3}]}, ["rq_affinity must be one of: 0, 1, 2, got: 3"]),
    ({"block": [{"device": "nvme0n1", "max_sectors_kb": 4096}]}, ["nvme0n1", "max_sectors_kb=4096", "4..128"]),
    ({"block": [{"device": "nvme0n1", "queue_depth": 64}]}, ["unsupported parameter block.queue_depth"]),
    ({"block": [{"class": "floppy", "scheduler": "none"}]}, ["class must be one of", "got: floppy"]),
    ({"block": [{"device": "sda", "class": "ssd", "scheduler": "none"}]}, ["mutually exclusive: device|class"]),
    ({"block": [{"scheduler": "none"}]}, ["one of the following is required: device, class"]),
    ({"default_qdisc": "fq", "default_qdisc_fallback": "fail", "root": "sandbox-firecracker"},
     ["default_qdisc fq", "does not exist"]),
    ({"settings": {"module:no_such_module": "loaded"}},
     ["kernel module no_such_module", "cannot be loaded", "Module no_such_module not found"]),
    ({"settings": {"module:../../evil": "loaded"}}, ["kernel module '../../evil'", "not a module name"]),
    ({"settings": {"nic:eth0:ring.rx": 4096}}, ["nic eth0", "unknown setting 'ring.rx'"]),
    ({"settings": {"gpu:0:clock": 1}}, ["'gpu:0:clock'", "unknown kind 'gpu'"]),
    ({"nic": [{"interface": "eth9", "mtu": 9000}]}, ["nic eth9", "no such interface"]),
    ({"nic": [{"interface": "../../etc", "mtu": 9000}]}, ["interface '../../etc'", "not a valid interface name"]),
    ({"nic": [{"interface": "eno1", "rings": {"rx": 8192}}]}, ["nic eno1: rings rx", "above the driver's maximum 4096"]),
    ({"nic": [{"interface": "eno1", "rings": {"rx/../x": 1}}]}, ["nic eno1", "rings needs a valid parameter"]),
    ({"nic": [{"interface": "eno1", "features": {"hyperdrive": "on"}}]}, ["hyperdrive", "no such feature"]),
    ({"nic": [{"interface": "eno1", "features": {"lro": "on"}}]}, ["large-receive-offload", "fixed by the driver"]),
    ({"nic": [{"interface": "eno1", "coalesce": {"tx-frames": 8}}]}, ["coalesce tx-frames", "does not support"]),
    ({"nic": [{"interface": "eno1", "channels": {"combined": 9}}]}, ["channels combined", "maximum 8"]),
    ({"nic": [{"interface": "eno1", "mtu": 20}]}, ["nic eno1: mtu", "out of range 68..65535"]),
    ({"nic": [{"interface": "eno1", "rps": "0-99"}]}, ["nic eno1: rps", "not online"]),
    ({"nic": [{"interface": "eno1", "xps": "two"}]}, ["nic eno1: xps", "not a CPU number"]),
    ({"nic": [{"interface": "eno1", "speed": 10}]}, ["unsupported parameter nic.speed"]),
    ({"nic": [{"mtu": 9000}]}, ["one of the following is required: interface, driver"]),
    ({"nic": [{"interface": "enx0c5b8f279a64", "rings": {"rx": "max"}}], "root": "edge-box"},
     ["rings rx: the driver does not support it", "Operation not supported"]),
    ({"settings": {"block:nvme0n1:iosched_quantum": 1}}, ["nvme0n1", "unknown queue setting 'iosched_quantum'"]),
    ({"settings": {"module:tcp_bbr": "sometimes"}}, ["kernel module tcp_bbr", "loaded or absent"]),
    # several mistakes at once are all reported, and the good settings beside them are not applied either
    ({"settings": {"sysctl:vm.swappiness": 10, "sysctl:vm.dirty_ratio": 500}, "block": [{"device": "sdz", "nomerges": 1}]},
     ["vm.dirty_ratio", "sdz"]),
]


@pytest.mark.parametrize("request_, words", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input_is_refused_with_a_clear_message_and_changes_nothing(host_root, request_, words):
    request_ = dict(request_)
    root = host_root(request_.pop("root", "dc-2socket"))
    assert_refused_unchanged(FakeKernelTree(root, loadable={"tcp_bbr"}), request_, words)


# Selectors of the wrong shape: tune refuses them with Ansible's own words (above); a profile or the planner called
# directly reaches the rule, which says the same by where the request sits.
RULE_SHAPES = [
    ({"block": [{"device": "nvme0n1", "queue_depth": 64}]}, "block[0]: unknown queue setting(s) queue_depth"),
    ({"block": [{"class": "floppy", "scheduler": "none"}]}, "block[0]: unknown class 'floppy'"),
    ({"block": [{"device": "sda", "class": "ssd", "scheduler": "none"}]}, "block[0]: give exactly one of device"),
    ({"block": [{"scheduler": "none"}]}, "block[0]: give exactly one of device or class"),
    ({"nic": [{"interface": "eno1", "speed": 10}]}, "nic[0]: unknown setting(s) speed"),
    ({"nic": [{"mtu": 9000}]}, "nic[0]: give exactly one of interface or driver"),
    ({"irq_affinity": [{"interface": "eno1", "device": "sda"}]}, "exactly one of interface or device"),
]


@pytest.mark.parametrize("selectors, words", RULE_SHAPES)
def test_the_rules_name_a_request_of_the_wrong_shape_by_where_it_sits(host_root, selectors, words):
    facts = json.loads(json.dumps(detect_host(FakeKernelTree(host_root("dc-2socket")))))
    errors = plan_for_host(facts, selectors=selectors)["errors"]
    assert any(error.startswith(words) or words in error for error in errors), errors


def test_a_selector_that_matches_nothing_here_is_a_note_on_every_host(host_root):
    """Selectors are fleet-wide (group_vars): a host without that hardware has nothing to do, as with a profile."""
    tree = FakeKernelTree(host_root("dc-2socket"))
    before = tree_digest(tree.root)
    result = tune(tree, Journal(tree), {"nic": [{"driver": "e1000", "mtu": 9000}],
                                        "block": [{"class": "emmc", "scheduler": "bfq"}]})
    # the journal directory and its lock are made: two runs must not decide at once
    assert not result["changed"] and tree.writes == [] and outside_journal(tree.root) == before
    assert "nic[0]: no interface uses driver 'e1000' here (drivers: igb, mlx5_core); nothing to do" in result["notes"]
    assert "block[0]: no emmc disk on this host; nothing to do" in result["notes"]


def test_there_are_at_least_thirty():
    assert len(BAD) >= 30
