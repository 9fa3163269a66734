"""CPU and NUMA topology on the machines issue 16's 45 real sysfs snapshots found detection wrong on, rebuilt here
file by file: core ids that repeat per die or are missing, files ending in NUL, kernels without cpu/online or
without the list forms, firmware that does not say or contradicts itself, and no /sys at all."""

import os

from ansible_collections.hostperf.tuning.plugins.module_utils.detect.cpu import CPU_DIR, detect_cpu
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.numa import NODE_DIR, detect_numa
from ansible_collections.hostperf.tuning.plugins.module_utils.host.hosttree import HostTree
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.irq import usable_cpus


def sysfs(tmp_path, files):
    for path, text in files.items():
        os.makedirs(os.path.dirname(str(tmp_path) + path), exist_ok=True)
        with open(str(tmp_path) + path, "w") as handle:
            handle.write(text)
    return HostTree(str(tmp_path))


def cpus(count, online=True, **topology):
    """cpuN/topology files for CPUs 0..count-1; each keyword maps a file name to f(cpu) -> its text."""
    files = {CPU_DIR + "/online": "0-%d\n" % (count - 1)} if online else {}
    for cpu in range(count):
        for name, value in topology.items():
            files["%s/cpu%d/topology/%s" % (CPU_DIR, cpu, name)] = value(cpu)
    return files


def facts(tree):
    cpu = detect_cpu(tree)
    return cpu, detect_numa(tree, cpu, {})


def test_a_core_id_that_repeats_per_die_without_die_id_counts_every_core(tmp_path):
    """A 4-package Magny-Cours: two dies of six cores a package, core_id 0-5 on each die, no die_id file."""
    tree = sysfs(tmp_path, cpus(48, physical_package_id=lambda cpu: "%d\n" % (cpu // 12),
                                core_id=lambda cpu: "%d\n" % (cpu % 6),
                                thread_siblings_list=lambda cpu: "%d\n" % cpu))
    cpu, _numa = facts(tree)
    assert (cpu["sockets"], cpu["cores"], cpu["threads_per_core"]) == (4, 48, 1)  # was 24 cores
    assert not tree.problems


def test_threads_without_core_id_files_are_one_core(tmp_path):
    """A PPC guest: no core_id files, two SMT threads."""
    tree = sysfs(tmp_path, cpus(2, thread_siblings_list=lambda cpu: "0-1\n"))
    cpu, _numa = facts(tree)
    assert (cpu["cores"], cpu["threads_per_core"], cpu["smt_active"]) == (1, 2, True)  # was 2 cores


def test_files_that_end_in_nul_read_as_their_text(tmp_path):
    """arm64 5.15 ends new-style cpulists with "\\n\\0"; RHEL 7 prints "\\0\\n" for an empty nohz_full."""
    files = cpus(4, thread_siblings_list=lambda cpu: "%d\n\0" % cpu)
    files.update({CPU_DIR + "/online": "0-3\n\0", CPU_DIR + "/nohz_full": "\0\n",
                  NODE_DIR + "/node0/cpulist": "0-1\n\0", NODE_DIR + "/node1/cpulist": "2-3\n\0"})
    tree = sysfs(tmp_path, files)
    cpu, numa = facts(tree)
    assert [node["cpu_list"] for node in numa["nodes"]] == [[0, 1], [2, 3]]  # was no CPUs and 128 problems
    assert (cpu["count"], cpu["nohz_full"], cpu["cores"]) == (4, "", 4)
    assert not tree.problems


def test_without_cpu_online_the_cpus_that_say_offline_are_left_out(tmp_path):
    files = cpus(16, online=False, thread_siblings_list=lambda cpu: "%d\n" % cpu)
    files.update(dict(("%s/cpu%d/online" % (CPU_DIR, cpu), "0\n") for cpu in range(12, 16)))
    files[CPU_DIR + "/cpu1/online"] = "1\n"
    cpu, numa = facts(sysfs(tmp_path, files))
    assert (cpu["count"], cpu["online"], cpu["cores"]) == (12, "0-11", 12)  # was 16
    assert numa["nodes"][0]["cpu_list"] == list(range(12))


def test_a_package_the_firmware_does_not_name_is_one_socket(tmp_path):
    tree = sysfs(tmp_path, cpus(4, physical_package_id=lambda cpu: "-1\n", thread_siblings_list=lambda cpu: "%d\n" % cpu))
    cpu, _numa = facts(tree)
    assert (cpu["sockets"], sorted(cpu["packages"])) == (1, ["0"])  # was a socket named "-1"


def test_a_node_lists_only_online_cpus_and_overlapping_nodes_are_a_problem(tmp_path):
    files = cpus(8, thread_siblings_list=lambda cpu: "%d\n" % cpu)
    files.update({CPU_DIR + "/online": "0-5\n", NODE_DIR + "/node0/cpulist": "0-3\n",
                  NODE_DIR + "/node1/cpulist": "2-7\n"})
    tree = sysfs(tmp_path, files)
    cpu, numa = facts(tree)
    assert [node["cpu_list"] for node in numa["nodes"]] == [[0, 1, 2, 3], [4, 5]]
    assert [problem["error"] for problem in tree.problems] == [
        "node 1 claims CPUs 2-3 of node 0: the firmware's NUMA table contradicts itself; they are counted in node 0 "
        "only"]


def test_old_kernels_masks_stand_in_for_the_lists(tmp_path):
    """Before the _list files: node N's cpumap and each CPU's thread_siblings are hex masks."""
    files = cpus(8, thread_siblings=lambda cpu: "%x\n" % (3 << (cpu // 2 * 2)))
    files.update({NODE_DIR + "/node0/cpumap": "0f\n", NODE_DIR + "/node1/cpumap": "00000000,000000f0\n"})
    tree = sysfs(tmp_path, files)
    cpu, numa = facts(tree)
    assert (cpu["cores"], cpu["threads_per_core"]) == (4, 2)
    assert [node["cpus"] for node in numa["nodes"]] == ["0-3", "4-7"]
    assert not tree.problems


def test_a_root_without_sys_is_a_problem_not_a_host_without_cpus(tmp_path):
    tree = sysfs(tmp_path, {"/etc/hostname": "empty\n"})
    cpu, _numa = facts(tree)
    assert cpu["count"] == 0
    assert [problem["path"] for problem in tree.problems] == [CPU_DIR]


def test_a_devices_local_cpus_are_its_nodes_online_ones():
    """local_cpulist names offline CPUs too; with none of its own online, a device takes any online CPU."""
    assert usable_cpus("0-7", [0, 1, 2, 3, 8, 9], [1]) == [0, 2, 3]
    assert usable_cpus("4-7", [0, 1, 2, 3], []) == [0, 1, 2, 3]
