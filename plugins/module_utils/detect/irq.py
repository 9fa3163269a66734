# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IRQs: name, owner device, affinity, and whether the kernel manages it.

Four reads per IRQ, no more: a big host has thousands. The NUMA node of an
IRQ is its owner device's (see that device's numa_node).

A kernel-managed IRQ (NVMe and virtio-blk queues, some SAS HBAs) refuses
affinity writes with EPERM/EIO. debugfs says so exactly when it is mounted;
otherwise the answer comes from the drivers known to request managed vectors,
and "managed_source" says which of the two was used.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

PROC_IRQ = "/proc/irq"
SYS_IRQ = "/sys/kernel/irq"
DEBUGFS_IRQS = "/sys/kernel/debug/irq/irqs"
# Queue vectors these drivers allocate with PCI_IRQ_AFFINITY (kernel-managed).
MANAGED_NAMES = re.compile(r"^(nvme\d+q[1-9]\d*|virtio\d+-req\.\d+|mpt[23]sas\d+-msix\d+|megasas\d+-msix\d+)$")
_PROC_IRQ_FILES = frozenset(("affinity_hint", "effective_affinity", "effective_affinity_list", "node",
                             "smp_affinity", "smp_affinity_list", "spurious"))


def action_names(tree, irq):
    """The names of an IRQ's handlers ('eth0-TxRx-0'); the first is the IRQ's name."""
    actions = tree.read("%s/%d/actions" % (SYS_IRQ, irq))
    if actions is not None:
        return [name for name in actions.split(",") if name]
    return [entry for entry in tree.listdir("%s/%d" % (PROC_IRQ, irq)) if entry not in _PROC_IRQ_FILES]


def is_managed(tree, irq, name, debugfs):
    """(managed, 'debugfs' | 'driver'): whether the kernel owns this IRQ's affinity, and how we know."""
    if debugfs:
        state = tree.read("%s/%d" % (DEBUGFS_IRQS, irq))
        if state is not None:
            return "AFFINITY_MANAGED" in state, "debugfs"
    return bool(MANAGED_NAMES.match(name or "")), "driver"


def detect_irqs(tree):
    """{irq: facts}; "owner" is filled in by whoever knows the devices behind them."""
    debugfs = tree.isdir(DEBUGFS_IRQS)
    irqs = {}
    for entry in tree.listdir(PROC_IRQ):
        if not entry.isdigit():
            continue
        irq = int(entry)
        base = "%s/%d" % (PROC_IRQ, irq)
        names = action_names(tree, irq)
        name = names[0] if names else None
        managed, source = is_managed(tree, irq, name, debugfs)
        irqs[irq] = {
            "irq": irq,
            "name": name,
            "actions": names,
            "owner": [],
            "affinity": tree.read(base + "/smp_affinity_list"),
            "effective_affinity": tree.read(base + "/effective_affinity_list"),
            "affinity_hint": tree.read(base + "/affinity_hint"),
            "managed": managed,
            "managed_source": source,
        }
    return irqs
