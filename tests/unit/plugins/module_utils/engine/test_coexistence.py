"""Settings someone else would undo: a sysctl.d line a boot reads after ours (refused, never taken), tuned and
bpftune (refused, or taken by stopping and disabling them in the same transaction, which the rollback undoes)."""

import os

from ansible_collections.hostperf.tuning.plugins.module_utils.detect.host import detect_host
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.sysctl_files import boot_files, overriding, set_after
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import Journal
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.module_api import tune
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.transaction import Engine
from ansible_collections.hostperf.tuning.plugins.module_utils.host.hosttree import HostTree
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.sysctl import SYSCTL_FILE
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.planner import plan_for_host
from ansible_collections.hostperf.tuning.plugins.plugin_utils.profiles import load_profile

from fakekernel import FakeKernelTree, assert_refused_unchanged, outside_journal, write_file as _write

TUNED_UNIT = "tuned.service"


def _debian_sysctl_conf(root, text):
    """Debian's /etc/sysctl.conf, which systemd-sysctl reads as /etc/sysctl.d/99-sysctl.conf."""
    _write(root, "/etc/sysctl.conf", text)
    os.makedirs(root + "/etc/sysctl.d", exist_ok=True)
    os.symlink("../sysctl.conf", root + "/etc/sysctl.d/99-sysctl.conf")


def _daemon(root, name, pid=4711, systemd=True, enabled=True):
    _write(root, "/proc/%d/comm" % pid, name + "\n")
    if systemd:
        os.makedirs(root + "/run/systemd/system", exist_ok=True)
    if enabled:
        os.makedirs(root + "/etc/systemd/system/multi-user.target.wants", exist_ok=True)
        os.symlink("/usr/lib/systemd/system/%s.service" % name,
                   root + "/etc/systemd/system/multi-user.target.wants/%s.service" % name)


def test_the_files_a_boot_reads_after_ours_in_its_order(tmp_path):
    root = str(tmp_path)
    _write(root, "/usr/lib/sysctl.d/50-default.conf", "vm.swappiness = 30\n")  # before ours: ours wins
    _write(root, "/usr/lib/sysctl.d/99-vendor.conf", "net.core.somaxconn = 1\n")  # masked below
    os.makedirs(root + "/etc/sysctl.d")
    os.symlink("/dev/null", root + "/etc/sysctl.d/99-vendor.conf")
    _write(root, "/run/sysctl.d/95-run.conf", "; comment\n-net/ipv4/tcp_rmem = 4096\t87380  6291456\n"
                                              "net.ipv4.conf.*.rp_filter = 2\nnot a line\n")
    _debian_sysctl_conf(root, "# admin\nvm.swappiness=60\nnet.ipv4.conf.eth0.rp_filter = 1\nvm.swappiness = 61\n")
    tree = HostTree(root)
    assert [name for name, _path in boot_files(tree)] == ["50-default.conf", "95-run.conf", "99-sysctl.conf",
                                                          "99-vendor.conf"]
    after = set_after(tree, SYSCTL_FILE)
    assert overriding(after, "vm.swappiness") == {"file": "/etc/sysctl.d/99-sysctl.conf", "line": 4,
                                                  "value": "61", "order": 5}
    assert overriding(after, "net.ipv4.tcp_rmem")["value"] == "4096 87380 6291456"
    assert overriding(after, "net.ipv4.conf.lo.rp_filter") is None  # sysctl.d(5): a key named exactly is no glob's
    assert overriding(after, "net.ipv4.conf.eth0.rp_filter")["value"] == "1"  # named later than the glob
    assert overriding(after, "net.core.somaxconn") is None  # the vendor file is masked
    assert not tree.problems


def test_a_later_boot_line_leaves_the_setting_out_of_the_plan_and_tune_refuses_it(host_root):
    root = host_root("cloud-vm")
    _debian_sysctl_conf(root, "vm.swappiness = 60\n")
    facts = detect_host(HostTree(root))
    plan = plan_for_host(facts, load_profile("datacenter", ()))
    assert "sysctl:vm.swappiness" not in plan["settings"] and "sysctl:vm.dirty_ratio" in plan["settings"]
    assert plan["notes"][-1] == ("left out: sysctl:vm.swappiness: /etc/sysctl.d/99-sysctl.conf line 1 sets "
                                 "vm.swappiness = 60 after ours at boot; change it there")
    # live only, nothing persisted: the boot line does not undo what the run changes
    assert "sysctl:vm.swappiness" in plan_for_host(facts, load_profile("datacenter", ()), persist=False)["settings"]
    # named directly, refused, also with coexistence=take: another file's line is never taken
    tree = FakeKernelTree(root)
    for mode in ("refuse", "take"):
        assert_refused_unchanged(tree, {"settings": {"sysctl:vm.swappiness": 10}, "coexistence": mode},
                                 ["sysctl:vm.swappiness: /etc/sysctl.d/99-sysctl.conf line 1", "change it there"])
    assert tune(tree, Journal(tree), {"settings": {"sysctl:vm.swappiness": 10}, "persist": False})["changed"]


def test_tuned_claims_what_its_plugins_set_and_sysctls_only_without_reapply(host_root):
    root = host_root("dc-2socket")
    _daemon(root, "tuned")
    _write(root, "/etc/tuned/active_profile", "throughput-performance\n")
    profile = load_profile("datacenter", ())
    plan = plan_for_host(detect_host(HostTree(root)), profile)
    kinds = set(identity.split(":")[0] for identity in plan["settings"])
    assert "sysctl" in kinds and not kinds & {"block", "cpufreq", "thp", "nic", "irq"}
    note = plan["notes"][-1]
    assert "tuned (running, profile throughput-performance) sets these when it starts" in note
    assert "coexistence=take stops and disables tuned" in note and "block:nvme0n1:scheduler" in note

    _write(root, "/etc/tuned/tuned-main.conf", "daemon = 1\nreapply_sysctl = 0\n")
    assert not any(identity.startswith("sysctl:") for identity in
                   plan_for_host(detect_host(HostTree(root)), profile)["settings"])

    taken = plan_for_host(detect_host(HostTree(root)), profile, coexistence="take")
    assert {"block", "sysctl", "service"} <= set(identity.split(":")[0] for identity in taken["settings"])
    assert taken["settings"]["service:tuned.service:active"] == "inactive"
    assert taken["settings"]["service:tuned.service:enabled"] == "disabled"
    assert not [note for note in taken["notes"] if note.startswith("left out")]


def test_an_enabled_unit_where_systemd_is_not_init_claims_nothing(host_root):
    root = host_root("sandbox-firecracker")  # a sandbox booted from an image: units enabled, nothing starts them
    assert not os.path.isdir(root + "/run/systemd/system")
    _daemon(root, "bpftune", systemd=False)
    os.unlink(root + "/proc/4711/comm")
    assert plan_for_host(detect_host(HostTree(root)), overrides={"sysctl:net.core.somaxconn": 8192})["settings"] == {
        "sysctl:net.core.somaxconn": 8192}
    os.makedirs(root + "/run/systemd/system")  # the same with systemd as init: bpftune starts at the next boot
    plan = plan_for_host(detect_host(HostTree(root)), overrides={"sysctl:net.core.somaxconn": 8192})
    assert plan["settings"] == {} and "bpftune (enabled)" in plan["notes"][-1]


def test_bpftune_claims_net_sysctls_only(host_root):
    root = host_root("cloud-vm")
    _daemon(root, "bpftune", enabled=False)
    plan = plan_for_host(detect_host(HostTree(root)), overrides={"sysctl:net.core.somaxconn": 8192,
                                                                 "sysctl:vm.swappiness": 10})
    assert plan["settings"] == {"sysctl:vm.swappiness": 10}
    assert "bpftune (running) auto-tunes net.* sysctls" in plan["notes"][-1]
    taken = plan_for_host(detect_host(HostTree(root)), overrides={"sysctl:net.core.somaxconn": 8192},
                          coexistence="take")
    assert taken["settings"] == {"sysctl:net.core.somaxconn": 8192, "service:bpftune.service:active": "inactive"}


def test_tune_takes_tuneds_settings_by_stopping_it_and_its_rollback_starts_it(host_root):
    root = host_root("dc-2socket")
    _daemon(root, "tuned")
    tree = FakeKernelTree(root, units={TUNED_UNIT: {"active": "active", "enabled": "enabled"}})
    request = {"settings": {"block:nvme0n1:read_ahead_kb": 1024}}
    assert_refused_unchanged(tree, request, ["block:nvme0n1:read_ahead_kb: tuned (running", "coexistence=take"])
    journal = Journal(tree)
    before = outside_journal(root)
    result = tune(tree, journal, dict(request, coexistence="take"))
    assert tree.units[TUNED_UNIT] == {"active": "inactive", "enabled": "disabled"}
    assert tree.writes.index(("systemctl", "stop", TUNED_UNIT)) < [
        index for index, write in enumerate(tree.writes) if "read_ahead_kb" in str(write)][0], "stopped first"
    record = journal.transactions()[-1]
    assert record["events"][0] == ("took from tuned (coexistence=take), stopped and disabled in this transaction: "
                                   "block:nvme0n1:read_ahead_kb")
    assert result["notes"][-1] == record["events"][0]
    released = {"service:tuned.service:active", "service:tuned.service:enabled"}
    assert {item["identity"] for item in result["settings"]} >= released
    Engine(tree, journal).rollback("last")
    assert tree.units[TUNED_UNIT] == {"active": "active", "enabled": "enabled"}
    assert outside_journal(root) == before


def test_networkmanager_profiles_claim_the_nic_values_they_set(host_root):
    root = host_root("dc-2socket")
    mac = open(root + "/sys/class/net/ens1f0np0/address").read().strip()
    _write(root, "/etc/NetworkManager/system-connections/eno1.nmconnection",
           "[connection]\nid=eno1\ntype=ethernet\ninterface-name=eno1\n\n[ethtool]\nring-rx=256\nfeature-gro=false\n")
    _write(root, "/etc/NetworkManager/system-connections/by-mac.nmconnection",
           "[connection]\nid=data\ntype=ethernet\n\n[ethernet]\nmac-address=%s\nmtu=9000\n" % mac.upper())
    _write(root, "/etc/NetworkManager/system-connections/off.nmconnection",
           "[connection]\nid=off\ninterface-name=eno1\nautoconnect=false\n\n[ethtool]\nring-tx=512\n")
    _write(root, "/etc/NetworkManager/system-connections/broken.nmconnection", "ring-rx=1\n[")
    overrides = {"nic:eno1:rings:rx": 1024, "nic:eno1:rings:tx": 1024, "nic:eno1:features:gro": False,
                 "nic:ens1f0np0:mtu": 1500}
    assert len(plan_for_host(detect_host(HostTree(root)), overrides=overrides)["settings"]) == 4  # not running
    _daemon(root, "NetworkManager", enabled=False)
    tree = HostTree(root)
    plan = plan_for_host(detect_host(tree), overrides=overrides)
    assert plan["settings"] == {"nic:eno1:rings:tx": 1024}
    note = plan["notes"][-1]
    assert "nic:eno1:features:generic-receive-offload: NetworkManager's connection " \
           "/etc/NetworkManager/system-connections/eno1.nmconnection sets features:gro false" in note
    assert "nic:eno1:rings:rx: NetworkManager's connection /etc/NetworkManager/system-connections/eno1.nmconnection " \
           "sets rings:rx 256" in note
    assert "nic:ens1f0np0:mtu: NetworkManager's connection /etc/NetworkManager/system-connections/by-mac.nmconnection " \
           "sets mtu 9000 on every activation of the link; change it there" in note
    assert [problem["path"] for problem in tree.problems] == [
        "/etc/NetworkManager/system-connections/broken.nmconnection"]
    assert_refused_unchanged(FakeKernelTree(root), {"settings": {"nic:eno1:rings:rx": 1024}, "coexistence": "take"},
                             ["nic:eno1:rings:rx: NetworkManager's connection", "eno1.nmconnection"])
