# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One call that describes a host: the facts every later step plans from."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostperf.tuning.plugins.module_utils.detect.block import detect_block
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.cpu import detect_cpu
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.environment import detect_environment
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.irq import detect_irqs
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.kernel import detect_kernel
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.memory import detect_memory
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.nic import detect_nics
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.numa import detect_numa

FACTS_SCHEMA = 1
SUBSETS = ("cpu", "numa", "memory", "block", "nic", "irq", "kernel", "environment")


def _link_owners(irqs, devices):
    for name, device in devices.items():
        for irq in device.get("irqs", []):
            number = irq["irq"] if isinstance(irq, dict) else irq
            if number in irqs:
                irqs[number]["owner"].append(name)


def detect_host(tree, subsets=SUBSETS, use_ethtool=True, extra_sysctls=()):
    """Facts of the host behind tree, for the requested subsets.

    cpu and memory are always gathered: numa, irq and nic facts are
    expressed in their terms.
    """
    subsets = set(subsets)
    facts = {"schema": FACTS_SCHEMA, "root": tree.root, "subsets": sorted(subsets | {"cpu", "memory"})}
    facts["cpu"] = detect_cpu(tree)
    facts["memory"] = detect_memory(tree)
    if "numa" in subsets:
        facts["numa"] = detect_numa(tree, facts["cpu"], facts["memory"])
    irqs = detect_irqs(tree) if {"irq", "nic", "block"} & subsets else {}
    if "block" in subsets:
        facts["block"], facts["block_skipped"] = detect_block(tree)
        _link_owners(irqs, facts["block"])
    if "nic" in subsets:
        names = {number: irq["name"] for number, irq in irqs.items()}
        facts["nics"], facts["virtual_nics"] = detect_nics(tree, names, use_ethtool)
        _link_owners(irqs, facts["nics"])
    if "irq" in subsets:
        facts["irqs"] = {str(number): irq for number, irq in sorted(irqs.items())}
    if "kernel" in subsets:
        facts["kernel"] = detect_kernel(tree, extra_sysctls)
    if "environment" in subsets:
        facts["environment"] = detect_environment(tree, facts["cpu"]["hypervisor_flag"])
    facts["problems"] = tree.problems
    return facts
