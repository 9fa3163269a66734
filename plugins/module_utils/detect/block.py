# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Block devices: every whole disk, its class, transport and queue settings.

Partitions are never listed: their queue is the disk's. Stacked devices (dm,
md) and attached loop devices are listed with class "virtual" because their
read-ahead and queue limits are tunable and matter; zram, RAM disks, optical
drives, eMMC boot/RPMB areas and detached loop or nbd devices are skipped, each
with its reason in block_skipped.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hostperf.tuning.plugins.module_utils.detect.pci import pci_function, udev_properties
from ansible_collections.hostperf.tuning.plugins.module_utils.host.sysfs import parse_choice

BLOCK_DIR = "/sys/block"
QUEUE_INTS = ("nr_requests", "read_ahead_kb", "rq_affinity", "max_sectors_kb", "max_hw_sectors_kb",
              "nomerges", "logical_block_size", "physical_block_size", "wbt_lat_usec", "iostats", "add_random")
# Paravirtual transports: the guest cannot see the real media, so "virtual".
PARAVIRTUAL_DRIVERS = ("virtio_blk", "virtio_scsi", "xen_blkfront", "hv_storvsc", "vmw_pvscsi")
VIRTIO_DEVICE = re.compile(r"^virtio\d+$")
_EMULATED_MODELS = re.compile(r"QEMU|VBOX|VMware|Virtual disk|Virtual HD", re.I)
_SKIP = (
    (re.compile(r"^zram\d+$"), "zram: compressed RAM, no queue to tune"),
    (re.compile(r"^ram\d+$"), "RAM disk"),
    (re.compile(r"^sr\d+$"), "optical drive"),
    (re.compile(r"^fd\d+$"), "floppy drive"),
    (re.compile(r"^mmcblk\d+(boot\d+|rpmb)$"), "eMMC boot/RPMB area, not a data disk"),
)


def _skip_reason(tree, name):
    for pattern, reason in _SKIP:
        if pattern.match(name):
            return reason
    base = "%s/%s" % (BLOCK_DIR, name)
    if name.startswith("loop") and not tree.exists(base + "/loop/backing_file"):
        return "loop device with no backing file"
    if name.startswith("nbd") and not tree.read_int(base + "/size"):
        return "nbd device not connected"
    return None


def _transport(tree, name, devpath, driver):
    path = devpath or ""
    if name.startswith(("dm-", "md", "loop", "nbd", "rbd")):
        return "virtual"
    if "/nvme/" in path or name.startswith("nvme"):
        return "nvme-" + (tree.read("%s/%s/device/transport" % (BLOCK_DIR, name)) or "pcie")
    if "/usb" in path:
        return "usb"
    if "mmc_host" in path or name.startswith("mmcblk"):
        return "mmc"
    if driver in PARAVIRTUAL_DRIVERS or "/virtio" in path or name.startswith(("vd", "xvd")):
        return "virtio" if "virtio" in (driver or path) else "paravirtual"
    if "/ata" in path:
        return "sata"
    if "/end_device-" in path or "/port-" in path:
        return "sas"
    if "/host" in path:
        return "scsi"
    return None


def _driver(tree, devpath, pci):
    """The controller's driver; for virtio the virtio driver, not 'virtio-pci'."""
    parts = (devpath or "").split("/")
    for index in range(len(parts) - 1, 0, -1):
        if VIRTIO_DEVICE.match(parts[index]):
            link = tree.readlink("/".join(parts[:index + 1]) + "/driver")
            if link:
                return link.rsplit("/", 1)[-1]
    return pci["driver"] if pci else None


def _klass(transport, rotational, removable, mmc_type, driver):
    if transport in ("virtual", "virtio", "paravirtual") or driver in PARAVIRTUAL_DRIVERS:
        return "virtual"
    if transport == "mmc":
        return "emmc" if mmc_type == "MMC" else "sdcard"
    if removable or transport == "usb":
        return "removable"
    if transport and transport.startswith("nvme"):
        return "nvme"
    return "hdd" if rotational else "ssd"


def disk_attribute(tree, base, attr):
    """(value, "ATTR") for an attribute of the disk itself, (value, "ATTRS") of its device, or (None, None).

    The second word is what a udev rule matching it must say.
    """
    for path, level in ((base + "/" + attr, "ATTR"), (base + "/device/" + attr, "ATTRS")):
        value = tree.read(path)
        if value and value.strip():
            return value.strip(), level
    return None, None


def tag_depth(tree, device):
    """The smallest hardware tag depth over the disk's blk-mq queues, or None where the kernel shows none."""
    depths = [tree.read_int("%s/%s/mq/%s/nr_tags" % (BLOCK_DIR, device, queue))
              for queue in tree.listdir("%s/%s/mq" % (BLOCK_DIR, device)) if queue.isdigit()]
    depths = [depth for depth in depths if depth]
    return min(depths) if depths else None


def _stable_ids(tree, base, dev):
    udev = udev_properties(tree, "b", dev) if dev else {}
    ids = {
        "wwid": disk_attribute(tree, base, "wwid")[0],
        "serial": disk_attribute(tree, base, "serial")[0],
        "id_serial": udev.get("ID_SERIAL"),
        "id_wwn": udev.get("ID_WWN"),
        "id_path": udev.get("ID_PATH"),
    }
    return {key: value.strip() for key, value in ids.items() if value and value.strip()}


def _device(tree, name):
    base = "%s/%s" % (BLOCK_DIR, name)
    devpath = tree.resolve(base)
    pci = pci_function(tree, devpath)
    driver = _driver(tree, devpath, pci)
    rotational = tree.read_int(base + "/queue/rotational") == 1
    removable = tree.read_int(base + "/removable") == 1
    model = tree.read(base + "/device/model") or tree.read(base + "/device/name")
    vendor = tree.read(base + "/device/vendor")
    mmc_type = tree.read(base + "/device/type") if name.startswith("mmcblk") else None
    transport = _transport(tree, name, devpath, driver)
    emulated = bool(_EMULATED_MODELS.search("%s %s" % (vendor or "", model or "")))
    scheduler, schedulers = parse_choice(tree.read(base + "/queue/scheduler"))
    queue = {attr: tree.read_int("%s/queue/%s" % (base, attr)) for attr in QUEUE_INTS}
    sectors = tree.read_int(base + "/size")
    dev = tree.read(base + "/dev")
    facts = {
        "name": name,
        "class": _klass(transport, rotational, removable, mmc_type, driver),
        "transport": transport,
        "model": model.strip() if model else None,
        "vendor": vendor.strip() if vendor else None,
        "emulated": emulated,
        "size_bytes": sectors * 512 if sectors is not None else None,
        "rotational": rotational,
        "removable": removable,
        "dev": dev,
        "sysfs_path": devpath,
        "pci_address": pci["address"] if pci else None,
        "driver": driver,
        "numa_node": pci["numa_node"] if pci else None,
        "hw_queues": len([q for q in tree.listdir(base + "/mq") if q.isdigit()]),
        "hw_tag_depth": tag_depth(tree, name),
        "scheduler": scheduler or ("none" if schedulers == ["none"] else None),
        "schedulers": schedulers,
        "write_cache": tree.read(base + "/queue/write_cache"),
        "zoned": tree.read(base + "/queue/zoned"),
        "discard": (tree.read_int(base + "/queue/discard_max_bytes") or 0) > 0,
        "holders": tree.listdir(base + "/holders"),
        "slaves": tree.listdir(base + "/slaves"),
        "stable_ids": _stable_ids(tree, base, dev),
        "irqs": pci["msi_irqs"] if pci else [],
    }
    facts.update(queue)
    if name.startswith("dm-"):
        facts["dm_name"] = tree.read(base + "/dm/name")
    if name.startswith("loop"):
        facts["backing_file"] = tree.read(base + "/loop/backing_file")
    return facts


def detect_block(tree):
    devices, skipped = {}, {}
    for name in tree.listdir(BLOCK_DIR):
        if tree.exists("%s/%s/partition" % (BLOCK_DIR, name)):
            skipped[name] = "partition: its queue is its disk's"
            continue
        reason = _skip_reason(tree, name)
        if reason:
            skipped[name] = reason
            continue
        if not tree.exists("%s/%s/queue" % (BLOCK_DIR, name)):
            tree.problem("%s/%s" % (BLOCK_DIR, name), "device vanished or has no queue directory")
            skipped[name] = "vanished during the scan"
            continue
        devices[name] = _device(tree, name)
    return devices, skipped
