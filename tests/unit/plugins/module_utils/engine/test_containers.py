"""Inside a container: what is the machine's is left out of the plan and refused by tune unless taken on purpose,
journaled; what its namespaces and cpuset give it is planned as on a host. Detection tells a container by its
namespaces, not by a marker file a VM built from a container image keeps."""

import os
import shutil

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.detect.cpu import detect_cpu
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.environment import container, namespaces
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.host import detect_host
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import Journal
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.module_api import tune
from ansible_collections.hostperf.tuning.plugins.module_utils.host.capture import materialize
from ansible_collections.hostperf.tuning.plugins.module_utils.host.hosttree import HostTree
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.registry import scope_of
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.scope import IPC, MACHINE, NET, OWN, USER, UTS
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.planner import plan_for_host
from ansible_collections.hostperf.tuning.plugins.plugin_utils.profiles import load_profile

from conftest import load_capture
from fakekernel import (
    INITIAL_NAMESPACES as INITIAL, FakeKernelTree, assert_refused_unchanged, containerize, outside_journal,
    tree_digest, write_file as _write)


@pytest.fixture
def dc_container(host_root):
    """(root, facts) of dc-2socket seen from a podman container with network, IPC and UTS namespaces of its own."""
    root = containerize(host_root("dc-2socket"))
    return root, detect_host(HostTree(root))


def test_every_kind_says_whose_it_is():
    assert [scope_of(identity) for identity in (
        "sysctl:vm.swappiness", "sysctl:kernel.sched_autogroup_enabled", "sysctl:fs.file-max", "sysctl:net.core.somaxconn",
        "sysctl:net/ipv4/tcp_rmem", "sysctl:kernel.shmmax", "sysctl:fs.mqueue.msg_max", "sysctl:kernel.hostname",
        "sysctl:user.max_user_namespaces", "block:sda:scheduler", "irq:24", "module:tcp_bbr",
        "cpufreq:scaling_governor", "thp:enabled", "nic:eth0:rings:rx", "qdisc:eth0",
        "service:irqbalance.service:active", "unit:sshd.service:cpu_affinity")] == [
        MACHINE, MACHINE, MACHINE, NET, NET, IPC, IPC, UTS, USER, MACHINE, MACHINE, MACHINE, MACHINE, MACHINE, NET, NET,
        OWN, OWN]


def test_a_container_is_told_by_its_namespaces_not_by_a_marker_file(host_root):
    vm = host_root("sandbox-firecracker")  # a Firecracker VM booted from a docker image: /.dockerenv, initial ns
    assert os.path.exists(vm + "/.dockerenv")
    assert container(HostTree(vm)) is None
    assert namespaces(HostTree(vm)) == {"net": "initial", "ipc": "initial", "uts": "initial", "user": "initial"}

    podman = containerize(host_root("cloud-vm"))
    assert container(HostTree(podman)) == "podman"
    assert namespaces(HostTree(podman)) == {"net": "own", "ipc": "own", "uts": "own", "user": "initial"}

    # docker run --pid=host --network=host: init is the host's, but its mounts are not this process's
    host_pid = containerize(host_root("edge-box"), "/.dockerenv", dict(INITIAL, mnt=4026532999), netns=False)
    os.makedirs(host_pid + "/proc/1/ns", exist_ok=True)
    os.symlink("mnt:[%d]" % INITIAL["mnt"], host_pid + "/proc/1/ns/mnt")
    tree = HostTree(host_pid)
    assert container(tree) == "docker" and namespaces(tree)["net"] == "initial"
    assert not tree.problems


def test_the_cpus_a_container_may_use_are_its_cpusets(tmp_path):
    root = str(tmp_path)
    _write(root, "/sys/devices/system/cpu/online", "0-7\n")
    # cgroup v1 without a cgroup namespace: init's path names the host's hierarchy, the container sees its own dir
    _write(root, "/proc/1/cgroup", "3:cpuset:/libpod_parent/libpod-62b4\n0::/libpod_parent/libpod-62b4\n")
    _write(root, "/sys/fs/cgroup/cpuset/cpuset.effective_cpus", "2-3,6\n")
    cpu = detect_cpu(HostTree(root))
    assert (cpu["allowed"], cpu["allowed_list"]) == ("2-3,6", [2, 3, 6])
    assert cpu["allowed_source"] == "/sys/fs/cgroup/cpuset/cpuset.effective_cpus"

    # cgroup v2, the deepest readable file holds; a path outside the cgroup namespace's view reads its root
    shutil.rmtree(root + "/sys/fs/cgroup")
    _write(root, "/proc/1/cgroup", "0::/kubepods/pod1/ctr\n")
    _write(root, "/sys/fs/cgroup/cpuset.cpus.effective", "0-7\n")
    _write(root, "/sys/fs/cgroup/kubepods/pod1/cpuset.cpus.effective", "4-5\n")
    assert detect_cpu(HostTree(root))["allowed"] == "4-5"
    _write(root, "/proc/1/cgroup", "0::/../../kubepods/pod1/ctr\n")
    assert detect_cpu(HostTree(root))["allowed"] == "0-7"

    # a cpuset of offline CPUs contradicts the kernel: a problem, and every online CPU
    _write(root, "/proc/1/cgroup", "0::/kubepods/pod1/ctr\n")
    _write(root, "/sys/fs/cgroup/kubepods/pod1/cpuset.cpus.effective", "12-15\n")
    tree = HostTree(root)
    assert detect_cpu(tree)["allowed"] == "0-7"
    assert [problem["path"] for problem in tree.problems] == ["/sys/fs/cgroup/kubepods/pod1/cpuset.cpus.effective"]


def _kinds(plan):
    """'block', 'nic', ... and 'sysctl:vm', 'sysctl:net', ... of a plan's settings."""
    kinds = set()
    for identity in plan["settings"]:
        kind, name = identity.split(":", 1)
        kinds.add(kind + (":" + name.split(".")[0] if kind == "sysctl" else ""))
    return sorted(kinds)


def test_a_container_plans_only_its_own_settings_and_names_the_rest(tmp_path, dc_container):
    _root, facts = dc_container
    profile = load_profile("datacenter", ())
    on_host = plan_for_host(detect_host(HostTree(materialize(load_capture("dc-2socket"), str(tmp_path / "host")))),
                            profile)
    inside = plan_for_host(facts, profile)
    assert {"sysctl:vm", "block"} <= set(_kinds(on_host))
    assert _kinds(inside) == ["nic", "sysctl:net"]  # the NICs its network namespace holds are its own
    left_out = [note for note in inside["notes"] if note.startswith("left out: ")]
    assert len(left_out) == 1 and "sysctl:vm.swappiness" in left_out[0] and "podman container" in left_out[0]
    assert "container_owns_machine" in left_out[0]
    assert not inside["errors"]
    # every net.* key the host plan has and the container's namespace registers is planned with the same value
    shared = dict((identity, value) for identity, value in on_host["settings"].items()
                  if identity.startswith("sysctl:net.") and identity in inside["settings"])
    assert shared and all(inside["settings"][identity] == value for identity, value in shared.items())

    taken = plan_for_host(facts, profile, owns_machine=True)
    assert {"sysctl:vm", "block"} <= set(_kinds(taken))
    assert not [note for note in taken["notes"] if note.startswith("left out: ")]


def test_a_container_sharing_the_hosts_network_namespace_owns_no_net_key(host_root):
    root = containerize(host_root("dc-2socket"), netns=False)
    plan = plan_for_host(detect_host(HostTree(root)), overrides={"sysctl:net.core.somaxconn": 8192,
                                                                 "sysctl:kernel.shmmax": 1 << 32})
    assert plan["settings"] == {"sysctl:kernel.shmmax": 1 << 32}  # its IPC namespace is its own
    assert "sysctl:net.core.somaxconn" in plan["notes"][-1] and "its net/user namespaces" in plan["notes"][-1]


def test_bbr_whose_module_is_not_loaded_is_not_a_containers_to_load(dc_container):
    root, facts = dc_container
    assert facts["kernel"]["modules"]["tcp_bbr"] == "available"
    plan = plan_for_host(facts, selectors={"tcp_congestion_control": "bbr", "default_qdisc": "fq"})
    assert plan["settings"] == {} and "not allowed in this network namespace" in plan["notes"][0]
    # allowed by the host (tcp_allowed_congestion_control is the machine's), still a module the machine would load
    _write(root, "/proc/sys/net/ipv4/tcp_allowed_congestion_control", "reno cubic bbr\n")
    plan = plan_for_host(detect_host(HostTree(root)), selectors={"tcp_congestion_control": "bbr", "default_qdisc": "fq"})
    assert plan["settings"] == {}
    assert plan["notes"][0].startswith("tcp_congestion_control bbr: its module tcp_bbr is not loaded")
    assert "module:tcp_bbr" in plan["notes"][-1]
    # the default qdisc is the initial namespace's key: not one a container's namespace has
    plan = plan_for_host(facts, selectors={"default_qdisc": "fq"})
    assert plan["settings"] == {} and "registered only in its initial network namespace" in plan["notes"][0]


def test_local_cpus_inside_a_container_are_its_cpusets(dc_container):
    root, _facts = dc_container
    _write(root, "/proc/1/cgroup", "0::/\n")
    _write(root, "/sys/fs/cgroup/cpuset.cpus.effective", "2-3\n")
    facts = detect_host(HostTree(root))
    nic = sorted(facts["nics"])[0]
    plan = plan_for_host(facts, selectors={"nic": [{"interface": nic, "rps": "local"}]})
    assert plan["settings"] == {"nic:%s:rps" % nic: "2-3"}


def test_tune_refuses_the_machines_settings_inside_a_container_and_changes_nothing(dc_container):
    root, _facts = dc_container
    tree = FakeKernelTree(root, loadable={"tcp_bbr"})
    assert_refused_unchanged(tree, {"settings": {"sysctl:vm.swappiness": 10, "sysctl:net.core.somaxconn": 8192}},
                             ["sysctl:vm.swappiness:", "podman container", "container_owns_machine"])
    assert not os.path.exists(root + "/var/lib/hostperf")
    # loading a module loads it into the host's kernel
    assert_refused_unchanged(tree, {"settings": {"module:tcp_bbr": "loaded"}}, ["module:tcp_bbr:"])
    # a selector is fleet-wide, as on a host without the device: the host's disks are left out with a note
    before = outside_journal(root)
    result = tune(tree, Journal(tree), {"block": [{"class": "nvme", "read_ahead_kb": 1024}]})
    assert not result["changed"] and result["settings"] == [] and outside_journal(root) == before
    assert result["notes"][-1].startswith("left out: block:nvme0n1:read_ahead_kb, block:nvme1n1:read_ahead_kb")
    assert "read_ahead_kb: the whole machine's, not this podman container's" in result["notes"][-1]


def test_tune_takes_the_machines_settings_when_told_and_journals_it(dc_container):
    root, _facts = dc_container
    tree = FakeKernelTree(root)
    journal = Journal(tree)
    request = {"settings": {"sysctl:vm.swappiness": 10, "sysctl:net.core.somaxconn": 8192},
               "container_owns_machine": True}
    checked = tune(tree, journal, request, check_mode=True)
    assert any("took the whole machine's settings" in note for note in checked["notes"])
    before = tree_digest(root)
    result = tune(tree, journal, request)
    assert tree.read("/proc/sys/vm/swappiness") == "10" and tree.read("/proc/sys/net/core/somaxconn") == "8192"
    events = journal.transactions()[-1]["events"]
    assert events[0] == ("container podman took the whole machine's settings (container_owns_machine): "
                         "sysctl:vm.swappiness")
    assert result["notes"][-1] == events[0]
    assert before != tree_digest(root)
