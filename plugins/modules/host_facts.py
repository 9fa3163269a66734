#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: host_facts
short_description: Describe what a Linux host is, for tuning it
version_added: 0.1.0
description:
  - Reads C(/sys) and C(/proc) (and C(ethtool) where only it can tell) and returns one JSON picture of the host
    that planning, apply and rollback work from, CPUs and SMT siblings, NUMA nodes, memory and huge pages, block
    devices with their class and queue settings, NICs with rings, channels, offloads, coalescing and per-queue
    IRQs, every IRQ with its affinity and whether the kernel manages it, what the kernel offers (congestion
    controls, qdiscs, modules, sysctls), virtualization, containers and the daemons that also tune (irqbalance,
    tuned, bpftune).
  - Changes nothing on the host. Needs only the Python standard library on the target.
  - Anything that cannot be read (a missing file, an unreadable attribute, a device that vanishes mid-scan) is
    listed in RV(hostperf.problems) instead of failing the task.
  - Optionally records everything it read into one JSON capture file, which rebuilds the same host as a fixture
    tree for tests and bug reports.
author:
  - hostperf.tuning engineers (@hostperf)
options:
  root:
    description:
      - Directory to read the host from. C(/) is the live host; any other directory is a fixture tree (for example
        one rebuilt from a capture), and C(ethtool) answers are then replayed from the tree's recorded commands.
    type: path
    default: /
  gather_subset:
    description:
      - Which parts to gather. C(cpu) and C(memory) are always gathered because the other parts refer to them.
    type: list
    elements: str
    choices: [all, cpu, numa, memory, block, nic, irq, kernel, environment]
    default: [all]
  sysctls:
    description:
      - Sysctl keys to read in addition to the ones the shipped profiles use, in dotted (C(net.core.somaxconn))
        or slash form. A key that is not valid is reported in RV(hostperf.problems).
    type: list
    elements: str
    default: []
  use_ethtool:
    description:
      - Ask C(ethtool) for driver, ring, channel, coalescing and offload settings of every hardware NIC.
      - When C(ethtool) is not installed each of those is reported as not supported with the reason.
    type: bool
    default: true
  set_facts:
    description:
      - Also set the result as C(ansible_facts.hostperf).
    type: bool
    default: true
  capture:
    description:
      - Path on the target where a capture of everything detection read is written (JSON, mode 0600).
      - Fetch it with M(ansible.builtin.fetch) or use C(playbooks/capture.yml); the test suite rebuilds a host
        from such a file.
    type: path
notes:
  - Supports check mode fully; the module never changes the host. A capture file is written in check mode too,
    because it is the requested output rather than a change to the host's settings.
  - Kernel-managed IRQs (NVMe and virtio-blk queues, some SAS HBAs) are recognised from debugfs when it is mounted,
    otherwise from the drivers known to request managed vectors; RV(hostperf.irqs) says which in C(managed_source).
seealso:
  - name: Facts reference
    description: Every key this module returns, in docs/facts.md of the collection.
    link: https://docs.ansible.com/ansible/latest/collections/index.html
attributes:
  check_mode:
    description: Can run in check mode and return the same facts.
    support: full
  diff_mode:
    description: Would return a diff of changes.
    support: none
    details: Nothing is changed, so there is nothing to diff.
  facts:
    description: Sets C(ansible_facts.hostperf) when O(set_facts=true).
    support: full
"""

EXAMPLES = r"""
- name: Detect the host
  hostperf.tuning.host_facts:

- name: Only block devices and the kernel, without ethtool
  hostperf.tuning.host_facts:
    gather_subset: [block, kernel]
    use_ethtool: false

- name: Record the host for a bug report
  hostperf.tuning.host_facts:
    capture: /root/hostperf-capture.json

- name: Show the NVMe devices behind NUMA node 1
  ansible.builtin.debug:
    msg: "{{ ansible_facts.hostperf.block | dict2items | selectattr('value.class', 'eq', 'nvme')
             | selectattr('value.numa_node', 'eq', 1) | map(attribute='key') | list }}"
"""

RETURN = r"""
hostperf:
  description: The host's facts. Also in C(ansible_facts.hostperf) when O(set_facts=true). docs/facts.md lists every key.
  returned: always
  type: dict
  contains:
    schema:
      description: Version of this structure.
      type: int
      sample: 1
    cpu:
      description: Online CPUs (list and C(online_list)), sockets, cores, C(threads_per_core), SMT C(siblings),
        model, C(isolated), C(nohz_full), C(cpufreq) (driver, governors available and per CPU, energy performance
        preference; null without cpufreq), C(idle_driver).
      type: dict
    numa:
      description: C(nodes) with C(cpus), C(memory_total_kb), C(memory_free_kb) and C(distances); C(synthetic) is
        true when the host has no NUMA directory and is described as one node.
      type: dict
    memory:
      description: C(total_kb), C(available_kb), swap, C(hugepages) per page size, C(thp) mode and defrag.
      type: dict
    block:
      description: Whole disks by name, each with C(class) (nvme, ssd, hdd, virtual, emmc, sdcard, removable),
        C(transport), model, size, C(rotational), C(numa_node), C(hw_queues), C(hw_tag_depth), C(scheduler) and
        C(schedulers), C(nr_requests), C(read_ahead_kb), C(rq_affinity), C(max_sectors_kb), C(nomerges), C(write_cache),
        C(stable_ids) and C(irqs).
      type: dict
    block_skipped:
      description: Block devices not described, each with the reason (partitions, zram, detached loop devices, ...).
      type: dict
    nics:
      description: Interfaces with a device behind them, by name, each with driver, firmware, C(pci_address),
        C(numa_node), speed, MTU, C(rings), C(channels), C(features), C(coalesce) (each with C(supported) and the
        driver's own C(error) when it cannot), queue counts, RPS/XPS masks, per-queue C(irqs) and C(stable_ids).
      type: dict
    virtual_nics:
      description: Virtual interfaces (veth, bridge, bond, vlan, tun, tap, loopback) by name with their C(kind),
        MTU, operstate and master; they have no rings or IRQs to tune.
      type: dict
    irqs:
      description: Every IRQ by number with C(name), C(owner) devices, C(affinity), C(effective_affinity), C(affinity_hint),
        C(managed) and C(managed_source).
      type: dict
    kernel:
      description: C(release), C(tcp_congestion_control) and which controls exist, C(default_qdisc), C(qdiscs)
        (true, false or null for unknown), C(modules) of interest and their state, C(module_loading), C(sysctl)
        values.
      type: dict
    environment:
      description: C(virtualization), C(container), and whether irqbalance, tuned and bpftune run or are enabled.
      type: dict
    problems:
      description: What could not be read, each with C(path) and C(error).
      type: list
      elements: dict
capture:
  description: Path of the capture file written, when O(capture) was given.
  returned: when O(capture) is set
  type: str
  sample: /root/hostperf-capture.json
"""

import datetime
import platform

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostperf.tuning.plugins.module_utils.host.capture import RecordingHostTree, write_capture
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.host import SUBSETS, detect_host
from ansible_collections.hostperf.tuning.plugins.module_utils.host.hosttree import HostTree


def main():
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type="path", default="/"),
            gather_subset=dict(type="list", elements="str", default=["all"], choices=["all"] + list(SUBSETS)),
            sysctls=dict(type="list", elements="str", default=[]),
            use_ethtool=dict(type="bool", default=True),
            set_facts=dict(type="bool", default=True),
            capture=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    subsets = SUBSETS if "all" in params["gather_subset"] else params["gather_subset"]
    tree = (RecordingHostTree if params["capture"] else HostTree)(params["root"])
    facts = detect_host(tree, subsets, params["use_ethtool"], params["sysctls"])
    result = dict(changed=False, hostperf=facts)
    if params["set_facts"]:
        result["ansible_facts"] = dict(hostperf=facts)
    if params["capture"]:
        meta = dict(hostname=platform.node(), captured_at=datetime.datetime.now(datetime.timezone.utc).isoformat(),
                    root=tree.root, subsets=sorted(subsets))
        try:
            write_capture(tree.export(meta), params["capture"])
        except OSError as exc:
            module.fail_json(msg="capture %s: cannot write: %s" % (params["capture"], exc), **result)
        result["capture"] = params["capture"]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
