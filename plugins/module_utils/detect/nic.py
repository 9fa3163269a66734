# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Network interfaces: hardware NICs in full, virtual ones by kind.

A NIC with a device behind it (PCI, virtio, USB) is "physical" from this
kernel's point of view and gets rings, channels, features, coalescing and
per-queue IRQs. Virtual interfaces (veth, bridge, bond, vlan, tun/tap, ...)
have no hardware queues or IRQs; they are listed in virtual_nics with their
kind, MTU and master only, so a container host with hundreds of veths costs no
ethtool calls.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.hostperf.tuning.plugins.module_utils.detect.pci import pci_function, udev_properties
from ansible_collections.hostperf.tuning.plugins.module_utils.host import ethtool

NET_DIR = "/sys/class/net"
ETHTOOL_QUERIES = (
    ("driver_info", "-i", ethtool.parse_driver_info),
    ("rings", "-g", ethtool.parse_rings),
    ("channels", "-l", ethtool.parse_channels),
    ("coalesce", "-c", ethtool.parse_coalesce),
    ("features", "-k", ethtool.parse_features),
)
_QUEUE_IRQ = re.compile(r"(TxRx|txrx|comp|fp|rx|tx|input|output)[-._]?(\d+)")
_QUEUE_KIND = {"input": "rx", "output": "tx", "rx": "rx", "tx": "tx"}
_TUN_FLAG_TAP = 0x0002
ARPHRD_LOOPBACK = 772


def queue_of_irq(name):
    """('rx'|'tx'|'combined', index) from an IRQ name such as 'eth0-TxRx-3', or (None, None)."""
    match = _QUEUE_IRQ.search(name or "")
    if not match:
        return None, None
    return _QUEUE_KIND.get(match.group(1), "combined"), int(match.group(2))


def _speed(tree, base):
    # Reading speed of a link that is down fails with EINVAL; that is "unknown".
    speed = tree.read_int(base + "/speed")
    return speed if speed is not None and speed > 0 else None


def _queue_masks(tree, base, prefix, attr):
    masks = {}
    for queue in tree.listdir(base + "/queues"):
        if queue.startswith(prefix):
            value = tree.read("%s/queues/%s/%s" % (base, queue, attr))
            if value is not None:
                masks[queue] = value
    return masks


def _virtual_kind(tree, base, uevent):
    if tree.read_int(base + "/type") == ARPHRD_LOOPBACK:
        return "loopback"
    if "DEVTYPE" in uevent:
        return uevent["DEVTYPE"]
    if tree.isdir(base + "/bridge"):
        return "bridge"
    if tree.isdir(base + "/bonding"):
        return "bond"
    flags = tree.read(base + "/tun_flags")
    if flags:
        return "tap" if int(flags, 16) & _TUN_FLAG_TAP else "tun"
    if tree.read(base + "/iflink") != tree.read(base + "/ifindex"):
        return "veth"
    return "virtual"


def _uevent(tree, base):
    values = {}
    for line in (tree.read(base + "/uevent", default="") or "").splitlines():
        key, dummy, value = line.partition("=")
        values[key] = value
    return values


def _master(tree, base):
    link = tree.readlink(base + "/master")
    return link.rsplit("/", 1)[-1] if link else None


def _common(tree, name, base):
    return {
        "name": name,
        "mac": tree.read(base + "/address"),
        # 0: burned into the NIC; 1 random, 3 set by someone: not a stable id
        "mac_assign_type": tree.read_int(base + "/addr_assign_type"),
        "mtu": tree.read_int(base + "/mtu"),
        "txqueuelen": tree.read_int(base + "/tx_queue_len"),
        "operstate": tree.read(base + "/operstate"),
        "master": _master(tree, base),
        "ifindex": tree.read_int(base + "/ifindex"),
    }


def _nic_irqs(pci, irq_names):
    irqs = []
    for irq in pci["msi_irqs"] if pci else []:
        name = irq_names.get(irq)
        kind, queue = queue_of_irq(name)
        irqs.append({"irq": irq, "name": name, "queue_kind": kind, "queue": queue})
    return irqs


def _physical(tree, name, base, devpath, irq_names, ethtool_answers):
    pci = pci_function(tree, devpath)
    queues = tree.listdir(base + "/queues")
    facts = _common(tree, name, base)
    driver = tree.readlink(base + "/device/driver")
    udev = udev_properties(tree, "n", facts["ifindex"]) if facts["ifindex"] is not None else {}
    facts.update({
        "virtual": False,
        "kind": "physical",
        "sysfs_path": devpath,
        "driver": driver.rsplit("/", 1)[-1] if driver else None,
        "pci_address": pci["address"] if pci else None,
        "numa_node": pci["numa_node"] if pci else None,
        "local_cpus": pci["local_cpus"] if pci else None,
        "speed_mbps": _speed(tree, base),
        "duplex": tree.read(base + "/duplex"),
        "carrier": tree.read_int(base + "/carrier"),
        "rx_queues": len([queue for queue in queues if queue.startswith("rx-")]),
        "tx_queues": len([queue for queue in queues if queue.startswith("tx-")]),
        "rps_cpus": _queue_masks(tree, base, "rx-", "rps_cpus"),
        "rps_flow_cnt": _queue_masks(tree, base, "rx-", "rps_flow_cnt"),
        "xps_cpus": _queue_masks(tree, base, "tx-", "xps_cpus"),
        "irqs": _nic_irqs(pci, irq_names),
        "stable_ids": {key: value for key, value in (
            ("mac", facts["mac"]),
            ("pci_address", pci["address"] if pci else None),
            ("id_path", udev.get("ID_PATH")),
            ("id_net_name_path", udev.get("ID_NET_NAME_PATH")),
        ) if value},
    })
    if ethtool_answers is not None:
        for key, flag, parse in ETHTOOL_QUERIES:
            facts[key] = parse(ethtool_answers[(name, flag)])
        info = facts.pop("driver_info")
        facts["driver_version"] = info.get("version")
        facts["firmware"] = info.get("firmware_version")
        facts["ethtool"] = "missing" if info.get("error") == "ethtool is not installed" else "ok"
    else:
        facts["ethtool"] = "not used"
    return facts


def _ask_ethtool(tree, names):
    """Every ethtool answer for these NICs; the calls run side by side.

    A 16-NIC host needs 80 calls of about a millisecond each; in parallel they
    cost a fraction of that.
    """
    questions = [(name, flag) for name in names for dummy, flag, dummy in ETHTOOL_QUERIES]
    if not questions:
        return {}
    with ThreadPoolExecutor(max_workers=min(8, len(questions))) as pool:
        answers = pool.map(lambda question: tree.run(["ethtool", question[1], question[0]]), questions)
        return dict(zip(questions, answers))


def detect_nics(tree, irq_names, use_ethtool=True):
    """({name: NIC facts}, {name: virtual interface facts})."""
    nics, virtual, hardware = {}, {}, []
    for name in tree.listdir(NET_DIR):
        base = "%s/%s" % (NET_DIR, name)
        devpath = tree.resolve(base)
        if devpath is None or not tree.exists(base + "/ifindex"):
            tree.problem(base, "interface vanished during the scan")
            continue
        if tree.exists(base + "/device"):
            hardware.append((name, base, devpath))
        else:
            facts = _common(tree, name, base)
            facts.update({"virtual": True, "kind": _virtual_kind(tree, base, _uevent(tree, base))})
            virtual[name] = facts
    answers = _ask_ethtool(tree, [name for name, dummy, dummy in hardware]) if use_ethtool else None
    for name, base, devpath in hardware:
        nics[name] = _physical(tree, name, base, devpath, irq_names, answers)
    return nics, virtual
