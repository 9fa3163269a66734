# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PCI function behind a block device or NIC: address, driver, NUMA node, MSI IRQs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

PCI_ADDRESS = re.compile(r"^[0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")


def pci_function(tree, devpath):
    """Facts of the nearest PCI function above a /sys/devices path, or None."""
    if not devpath:
        return None
    parts = devpath.split("/")
    for index in range(len(parts) - 1, 0, -1):
        if PCI_ADDRESS.match(parts[index]):
            path = "/".join(parts[:index + 1])
            node = tree.read_int(path + "/numa_node")
            driver = tree.readlink(path + "/driver")
            return {
                "address": parts[index],
                "path": path,
                "driver": os.path.basename(driver) if driver else None,
                "numa_node": node if node is not None and node >= 0 else None,
                "local_cpus": tree.read(path + "/local_cpulist"),
                "vendor": tree.read(path + "/vendor"),
                "device": tree.read(path + "/device"),
                "msi_irqs": sorted(int(irq) for irq in tree.listdir(path + "/msi_irqs") if irq.isdigit()),
            }
    return None


def udev_properties(tree, kind, major_minor):
    """Properties udev stored for a device ('b8:0' for a disk, 'n2' for a NIC)."""
    props = {}
    for line in (tree.read("/run/udev/data/%s%s" % (kind, major_minor), default="") or "").splitlines():
        if line.startswith("E:"):
            key, dummy, value = line[2:].partition("=")
            props[key] = value
    return props
