"""Each kind of knob: read, validate, write, compare, persist."""

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import KnobError
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.block import BlockQueueKnob, render_udev
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.kernel_module import KernelModuleKnob, render_modules
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.registry import KINDS, knob_for
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.sysctl import SysctlKnob, normalise, render_sysctl
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.module_api import diff_of

from fakekernel import FakeKernelTree


@pytest.fixture
def tree(host_root):
    return FakeKernelTree(host_root("dc-2socket"), loadable={"tcp_bbr"})


def test_sysctl_compares_by_value_not_whitespace(tree):
    knob = SysctlKnob(tree, "net/ipv4/tcp_rmem")
    assert knob.identity == "sysctl:net.ipv4.tcp_rmem"
    assert knob.read() == "4096 131072 6291456"
    assert knob.validate([4096, "87380", 6291456]) == "4096 87380 6291456"
    knob.write("4096 87380 6291456")
    assert knob.equal(knob.read(), normalise("4096\t87380   6291456"))
    assert render_sysctl([(knob, "4096 87380 6291456", {})]).splitlines()[1] == "net.ipv4.tcp_rmem = 4096 87380 6291456"
    assert render_sysctl([]) is None


def test_sysctl_strings_are_kept_as_strings(tree):
    knob = SysctlKnob(tree, "net.core.default_qdisc")
    assert knob.validate("fq") == "fq"
    assert normalise(True) == "1"


def test_block_scheduler_reads_the_bracketed_choice_and_orders_first(tree):
    scheduler = BlockQueueKnob(tree, "nvme0n1:scheduler")
    depth = BlockQueueKnob(tree, "nvme0n1:nr_requests")
    assert scheduler.read() == "none" and depth.read() == "1023"
    assert scheduler.order < depth.order
    assert scheduler.coupled() == ["block:nvme0n1:nr_requests", "block:nvme0n1:wbt_lat_usec"]
    assert depth.coupled() == []  # no scheduler: nothing resets with the depth
    scheduler.write("kyber")
    assert scheduler.read() == "kyber"
    with pytest.raises(KnobError, match="not offered"):
        scheduler.validate("cfq")


def test_block_udev_rule_matches_stable_ids(tree):
    sda = BlockQueueKnob(tree, "sda:read_ahead_kb")
    nvme = BlockQueueKnob(tree, "nvme0n1:scheduler")
    assert sda.persist_data() == {"match": 'ENV{ID_WWN}=="0x5002538e4095a1b2"'}
    assert nvme.persist_data()["match"].startswith('ATTR{wwid}=="eui.')
    rules = render_udev([(sda, "1024", sda.persist_data()), (nvme, "none", nvme.persist_data())])
    assert 'ENV{ID_WWN}=="0x5002538e4095a1b2", ATTR{queue/read_ahead_kb}="1024"' in rules
    assert "KERNEL==" not in rules


def test_block_without_wwn_or_serial_is_matched_by_its_pci_path(host_root):
    tree = FakeKernelTree(host_root("lab-datacenter-vm"))
    data = BlockQueueKnob(tree, "vda:read_ahead_kb").persist_data()
    assert data["match"] == 'ENV{ID_PATH}=="pci-0000:00:02.0"'


def test_kernel_module_load_unload_and_builtin(tree):
    bbr = KernelModuleKnob(tree, "tcp-bbr")
    assert bbr.identity == "module:tcp_bbr" and bbr.read() == "absent"
    assert bbr.validate("loaded") == "loaded"
    bbr.write("loaded")
    assert bbr.read() == "loaded"
    assert "bbr" in tree.read("/proc/sys/net/ipv4/tcp_available_congestion_control")
    bbr.write("absent")
    assert bbr.read() == "absent"
    assert bbr.equal("builtin", "loaded") and not bbr.equal("absent", "loaded")
    assert render_modules([(bbr, "loaded", {})]).endswith("tcp_bbr\n")
    with pytest.raises(KnobError, match="cannot be loaded here"):
        KernelModuleKnob(tree, "zzz").validate("loaded")


def test_registry_knows_every_kind(tree):
    assert sorted(KINDS) == ["block", "cmdline", "cmdline_trial", "cpu", "cpufreq", "hugepages", "irq", "module", "nic", "qdisc",
                             "service", "sysctl", "thp", "unit"]
    assert knob_for(tree, "block:sda:nomerges").attribute == "nomerges"
    with pytest.raises(KnobError, match="unknown kind"):
        knob_for(tree, "gpu:0:clock")


def test_diff_shows_values_and_files():
    diff = diff_of({"settings": [{"identity": "sysctl:vm.swappiness", "before": "60", "after": "10", "changed": True},
                                 {"identity": "sysctl:vm.dirty_ratio", "before": "20", "after": "20",
                                  "changed": False}],
                    "files": [{"path": "/etc/x", "before": "", "after": "a\n"}]})
    assert diff[0]["before"] == "sysctl:vm.swappiness = 60\n" and diff[0]["after"] == "sysctl:vm.swappiness = 10\n"
    assert diff[1] == {"before_header": "/etc/x", "after_header": "/etc/x", "before": "", "after": "a\n"}
