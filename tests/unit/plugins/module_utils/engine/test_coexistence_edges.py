"""Containers and coexistence at their edges, as an adversarial review of both found them (session 15): a daemon
that reverts on stop, tuned's other plugins and its main config, globs and equal values in later files, runtimes
without a marker, global conftrack limits, several daemons on one key, a run that persists nothing."""

import os

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.detect.environment import container, detect_environment
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.host import detect_host
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.sysctl_files import overriding, set_after
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import Journal
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.module_api import tune
from ansible_collections.hostperf.tuning.plugins.module_utils.host.hosttree import HostTree
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import KnobError
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.scope import Ownership, sysctl_scope
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.sysctl import SYSCTL_FILE
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.planner import plan_for_host
from ansible_collections.hostperf.tuning.plugins.plugin_utils.profiles import load_profile

from fakekernel import INITIAL_NAMESPACES as INITIAL, FakeKernelTree, containerize as _containerize, write_file as _write

TUNED = "tuned.service"


def _tuned(root, pid=4711, enabled=True):
    _write(root, "/proc/%d/comm" % pid, "tuned\n")
    os.makedirs(root + "/run/systemd/system", exist_ok=True)
    if enabled:
        os.makedirs(root + "/etc/systemd/system/multi-user.target.wants", exist_ok=True)
        os.symlink("/usr/lib/systemd/system/tuned.service",
                   root + "/etc/systemd/system/multi-user.target.wants/tuned.service")
    _write(root, "/etc/tuned/active_profile", "throughput-performance\n")


# ---------------------------------------------------------------------------------------------------------------
# coexistence=take: stopping tuned makes it roll its profile back (tuned-main.conf rollback=auto, the
# default). A requested value equal to what tuned had set is "unchanged" before the stop, is never written, and
# is the pre-tuned value after it: the verify then fails the whole transaction (or, for a kind without a verify
# that rereads, the host ends with a value the plan never showed).
class _TunedRollsBackOnStop(FakeKernelTree):
    def __init__(self, root, restores, **kwargs):
        FakeKernelTree.__init__(self, root, **kwargs)
        self.restores = restores  # {path: value tuned had found before its profile}

    def _systemctl(self, args):
        result = FakeKernelTree._systemctl(self, args)
        if args[:2] == ["stop", TUNED]:
            for path, value in self.restores.items():
                self._put(path, value)
        return result


def test_take_writes_again_a_value_tuned_had_set_and_reverts_on_stop(host_root):
    root = host_root("dc-2socket")
    _tuned(root)
    ra = "/sys/block/nvme0n1/queue/read_ahead_kb"
    _write(root, ra, "4096\n")  # tuned's throughput-performance: readahead=>4096
    tree = _TunedRollsBackOnStop(root, {ra: "128"}, units={TUNED: {"active": "active", "enabled": "enabled"}})
    request = {"settings": {"block:nvme0n1:read_ahead_kb": 4096, "block:nvme0n1:nr_requests": 64},
               "coexistence": "take"}
    result = tune(tree, Journal(tree), request)  # today: TransactionError "the kernel kept '128' instead of 4096"
    assert tree.read(ra).strip() == "4096"
    assert result["changed"]


# ---------------------------------------------------------------------------------------------------------------
# tuned sets sysctls through plugins other than [sysctl], which reapply_sysctl does not re-apply after them:
# [vm] dirty_bytes/dirty_ratio/dirty_background_* (throughput-performance: dirty_bytes = 40%, written to
# vm.dirty_ratio) and [scheduler] kernel.sched_*. With reapply_sysctl on (default) the plan keeps them and tuned
# overwrites them at every start.
def test_tuneds_vm_plugin_claims_dirty_sysctls_even_with_reapply_sysctl(host_root):
    root = host_root("cloud-vm")
    dirty = {"sysctl:vm.dirty_ratio", "sysctl:vm.dirty_background_ratio"}
    assert dirty <= set(plan_for_host(detect_host(HostTree(root)), load_profile("datacenter", ()))["settings"])
    _tuned(root)
    plan = plan_for_host(detect_host(HostTree(root)), load_profile("datacenter", ()))
    planned = set(plan["settings"])
    assert not planned & {"sysctl:vm.dirty_ratio", "sysctl:vm.dirty_background_ratio", "sysctl:vm.dirty_bytes",
                          "sysctl:vm.dirty_background_bytes"}, sorted(planned)


# ---------------------------------------------------------------------------------------------------------------
# tuned-main.conf is parsed by tuned with configparser(inline_comment_prefixes='#', strict=False): an inline
# comment is not part of the value and the last duplicate wins. The collection reads "0  # ..." as on, and takes
# the first duplicate, so it lets tune persist sysctls tuned will override.
@pytest.mark.parametrize("text", ["reapply_sysctl = 0  # tuned's values win\n",
                                  "reapply_sysctl = 1\nreapply_sysctl = 0\n"])
def test_tuned_main_conf_is_read_as_tuned_reads_it(tmp_path, text):
    root = str(tmp_path)
    _write(root, "/etc/tuned/tuned-main.conf", text)
    assert detect_environment(HostTree(root), False)["tuned"]["reapply_sysctl"] is False


def test_reapply_sysctl_exclude_leaves_tuned_the_key(host_root):
    # tuned >= 2.27: reapply_sysctl_exclude = patterns not re-applied, so tuned's profile value wins for them
    root = host_root("cloud-vm")
    _tuned(root)
    _write(root, "/etc/tuned/tuned-main.conf", "reapply_sysctl = 1\nreapply_sysctl_exclude = vm.*\n")
    plan = plan_for_host(detect_host(HostTree(root)), overrides={"sysctl:vm.swappiness": 5})
    assert "sysctl:vm.swappiness" not in plan["settings"]


# ---------------------------------------------------------------------------------------------------------------
# sysctl.d(5): "Keys for which an explicit pattern exists will be excluded from any glob matching." Our file
# names every key explicitly, so a glob in a later file never sets it at boot; the collection refuses it anyway.
def test_a_later_glob_never_overrides_our_explicit_key(host_root):
    root = host_root("cloud-vm")
    _write(root, "/etc/sysctl.d/99-rp.conf", "net.ipv4.conf.*.rp_filter = 2\n")
    assert overriding(set_after(HostTree(root), SYSCTL_FILE), "net.ipv4.conf.all.rp_filter") is None
    plan = plan_for_host(detect_host(HostTree(root)), overrides={"sysctl:net.ipv4.conf.all.rp_filter": 1})
    assert plan["settings"] == {"sysctl:net.ipv4.conf.all.rp_filter": 1}, plan["notes"]


# A later line that sets the very value we ask for undoes nothing, yet it is refused.
def test_a_later_line_with_our_value_is_no_conflict(host_root):
    root = host_root("cloud-vm")
    _write(root, "/etc/sysctl.d/99-admin.conf", "vm.swappiness = 10\n")
    tree = FakeKernelTree(root)
    result = tune(tree, Journal(tree), {"settings": {"sysctl:vm.swappiness": 10}})
    assert result["changed"]


# ---------------------------------------------------------------------------------------------------------------
# A container without a marker file is taken for a host: containerd (Kubernetes' default runtime) creates
# neither /.dockerenv nor /run/.containerenv and sets no container= for PID 1. Its own PID namespace (which
# systemd-detect-virt also counts as "container-other") is ignored unless a marker is there too.
def test_an_own_pid_namespace_without_a_marker_is_a_container(host_root):
    root = _containerize(host_root("dc-2socket"), marker=None)
    tree = HostTree(root)
    assert container(tree) is not None
    plan = plan_for_host(detect_host(tree), overrides={"sysctl:vm.swappiness": 10})
    assert plan["settings"] == {}


# docker run --pid=host: /proc/1/ns/mnt is the host init's, readable only with CAP_SYS_PTRACE. Unreadable, the
# evidence is that of a VM booted from a container image (this project's CI sandbox: /.dockerenv, the initial PID
# namespace, init's links unreadable), which must stay a host; a --pid=host container is a node agent that means
# to tune its machine. A readable, different mount namespace still makes it a container (test_containers.py).
def test_unreadable_init_mount_namespace_is_a_host_like_the_ci_sandbox(host_root):
    root = _containerize(host_root("edge-box"), "/.dockerenv", dict(INITIAL, mnt=4026532999), netns=False)
    assert not os.path.lexists(root + "/proc/1/ns/mnt")  # EACCES on a real host looks the same: None
    assert container(HostTree(root)) is None


# ---------------------------------------------------------------------------------------------------------------
# Not every net.* key a non-initial namespace registers is the namespace's: nf_conntrack_max,
# nf_conntrack_expect_max and nf_conntrack_buckets are registered in every netns but read-only (0444) outside
# init_net and global (net/netfilter/nf_conntrack_standalone.c: "Don't allow non-init_net ns to alter global
# sysctls"). They are planned in a container and tune then fails on the write instead of refusing up front.
# (nf_conntrack_expect_max on every kernel; nf_conntrack_max and _buckets until recent kernels made them per-netns)
@pytest.mark.parametrize("key", ["net.netfilter.nf_conntrack_max", "net.netfilter.nf_conntrack_buckets",
                                 "net.netfilter.nf_conntrack_expect_max"])
def test_global_conntrack_limits_are_the_machines(key):
    ownership = Ownership({"container": "podman", "namespaces": {"net": "own", "ipc": "own", "uts": "own"}})
    assert not ownership.owns(sysctl_scope(key))


# ---------------------------------------------------------------------------------------------------------------
# With container_owns_machine, the host's IRQs are placed on the agent container's cpuset: every device IRQ
# of the machine ends up on the one or two CPUs a DaemonSet pod was given.
def test_machine_irqs_taken_from_a_container_serve_every_cpu(host_root):
    root = _containerize(host_root("dc-2socket"))
    _write(root, "/proc/1/cgroup", "0::/\n")
    _write(root, "/sys/fs/cgroup/cpuset.cpus.effective", "2-3\n")
    facts = detect_host(HostTree(root))
    nic = sorted(name for name, info in facts["nics"].items() if info.get("irqs"))[0]
    plan = plan_for_host(facts, selectors={"irq_affinity": [{"interface": nic, "cpus": "local"}]},
                         owns_machine=True)
    irqs = dict((k, v) for k, v in plan["settings"].items() if k.startswith("irq:"))
    assert irqs
    assert not all(value in ("2", "3", "2-3") for value in irqs.values()), irqs


# ---------------------------------------------------------------------------------------------------------------
# coexistence=take overrides what the operator asked for: an explicit service:tuned.service:active=active
# (keep tuned running) is silently replaced by inactive instead of being reported as a contradiction.
def test_take_refuses_to_override_an_explicit_service_setting(host_root):
    root = host_root("dc-2socket")
    _tuned(root)
    tree = FakeKernelTree(root, units={TUNED: {"active": "active", "enabled": "enabled"}})
    request = {"settings": {"block:nvme0n1:read_ahead_kb": 1024, "service:tuned.service:active": "active"},
               "coexistence": "take"}
    with pytest.raises(KnobError):
        tune(tree, Journal(tree), request)
    assert tree.units[TUNED]["active"] == "active"


# The operator stops and disables tuned in the same request (coexistence=refuse, the default): nothing is
# left to undo the block setting, yet it is refused as tuned's.
def test_stopping_tuned_in_the_same_request_releases_its_claim(host_root):
    root = host_root("dc-2socket")
    _tuned(root)
    tree = FakeKernelTree(root, units={TUNED: {"active": "active", "enabled": "enabled"}})
    result = tune(tree, Journal(tree), {"settings": {
        "block:nvme0n1:read_ahead_kb": 1024, "service:tuned.service:active": "inactive",
        "service:tuned.service:enabled": "disabled"}})
    assert result["changed"]


# persist=false and a daemon that is only enabled (not running): it starts at the next boot, when nothing of
# this run is left (nothing persisted), so it undoes nothing; still refused.
def test_an_enabled_only_daemon_does_not_claim_a_live_only_run(host_root):
    root = host_root("cloud-vm")
    os.makedirs(root + "/run/systemd/system", exist_ok=True)
    os.makedirs(root + "/etc/systemd/system/multi-user.target.wants", exist_ok=True)
    os.symlink("/usr/lib/systemd/system/bpftune.service",
               root + "/etc/systemd/system/multi-user.target.wants/bpftune.service")
    plan = plan_for_host(detect_host(HostTree(root)), overrides={"sysctl:net.core.somaxconn": 8192}, persist=False)
    assert plan["settings"] == {"sysctl:net.core.somaxconn": 8192}, plan["notes"]


# Two daemons claim one setting: with reapply_sysctl off, tuned and bpftune both claim net.* sysctls, but
# claim() returns the first daemon only, so coexistence=take stops tuned and leaves bpftune running to tune the
# key away.
def test_take_releases_every_daemon_that_claims_the_setting(host_root):
    root = host_root("cloud-vm")
    _tuned(root)
    _write(root, "/etc/tuned/tuned-main.conf", "reapply_sysctl = 0\n")
    _write(root, "/proc/4712/comm", "bpftune\n")
    plan = plan_for_host(detect_host(HostTree(root)), overrides={"sysctl:net.core.somaxconn": 8192},
                         coexistence="take")
    assert plan["settings"].get("service:bpftune.service:active") == "inactive", plan["settings"]


# tuned's reapply (plugin_sysctl._apply_system_sysctl) reads /run/sysctl.d and /etc/sysctl.d and then
# /etc/sysctl.conf itself, last, whether or not a 99-sysctl.conf link makes systemd-sysctl read it. On a host with
# no such link, a key in /etc/sysctl.conf is set after ours at every tuned start, and nothing claims it.
def test_tuned_reapplies_etc_sysctl_conf_after_ours(host_root):
    root = host_root("cloud-vm")
    _tuned(root)
    _write(root, "/etc/sysctl.conf", "vm.swappiness = 60\n")
    assert not os.path.lexists(root + "/etc/sysctl.d/99-sysctl.conf")
    plan = plan_for_host(detect_host(HostTree(root)), overrides={"sysctl:vm.swappiness": 10})
    assert "sysctl:vm.swappiness" not in plan["settings"]
