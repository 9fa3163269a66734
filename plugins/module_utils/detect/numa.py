# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""NUMA nodes: their CPUs, memory and distances; no NUMA directory means one node."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hostperf.tuning.plugins.module_utils.detect.cpu import read_cpulist
from ansible_collections.hostperf.tuning.plugins.module_utils.host.cpulist import parse_cpumask
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.memory import parse_meminfo
from ansible_collections.hostperf.tuning.plugins.module_utils.host.cpulist import format_cpulist

NODE_DIR = "/sys/devices/system/node"
_NODE_NAME = re.compile(r"^node(\d+)$")


def detect_numa(tree, cpu_facts, memory_facts):
    ids = sorted(int(m.group(1)) for m in map(_NODE_NAME.match, tree.listdir(NODE_DIR)) if m)
    if not ids:
        return {
            "node_count": 1,
            "synthetic": True,
            "nodes": [{
                "id": 0,
                "cpus": cpu_facts["online"],
                "cpu_list": cpu_facts["online_list"],
                "memory_total_kb": memory_facts.get("total_kb"),
                "memory_free_kb": memory_facts.get("free_kb"),
                "distances": [10],
            }],
        }
    nodes = []
    online, owner = set(cpu_facts["online_list"]), {}
    for node in ids:
        path = "%s/node%d" % (NODE_DIR, node)
        cpus = read_cpulist(tree, path + "/cpulist")
        if cpus is None:  # old kernels have only the mask
            cpus = read_cpulist(tree, path + "/cpumap", parse_cpumask) or []
        cpus = [cpu for cpu in cpus if cpu in online]  # a node lists its offline CPUs too
        claimed = sorted(set(cpu for cpu in cpus if cpu in owner))
        if claimed:
            tree.problem(path + "/cpulist", "node %d claims CPUs %s of node %d: the firmware's NUMA table contradicts "
                         "itself; they are counted in node %d only" % (
                             node, format_cpulist(claimed), owner[claimed[0]], owner[claimed[0]]))
            cpus = [cpu for cpu in cpus if cpu not in owner]
        owner.update((cpu, node) for cpu in cpus)
        meminfo = parse_meminfo(tree.read(path + "/meminfo", default=""), prefix="Node %d " % node)
        distances = [int(value) for value in (tree.read(path + "/distance") or "").split() if value.isdigit()]
        nodes.append({
            "id": node,
            "cpus": format_cpulist(cpus),
            "cpu_list": cpus,
            "memory_total_kb": meminfo.get("MemTotal"),
            "memory_free_kb": meminfo.get("MemFree"),
            "distances": distances,
        })
    return {"node_count": len(nodes), "synthetic": False, "nodes": nodes}


def node_of_cpu(numa_facts):
    """{cpu: node} for quick lookups by the other detectors."""
    owner = {}
    for node in numa_facts["nodes"]:
        for cpu in node["cpu_list"]:
            owner[cpu] = node["id"]
    return owner
