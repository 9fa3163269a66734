# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn what an operator asks tune for into desired values per knob identity.

Block settings by device class expand to every disk of that class; NIC
settings by driver expand to every hardware interface of that driver;
congestion control expands to the module it needs, the sysctl, and the
default qdisc where that qdisc exists, with a note when it does not.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostperf.tuning.plugins.module_utils.cpulist import format_cpulist
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.block import detect_block
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.cpu import CPU_DIR, read_cpulist
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.environment import running_processes, unit_enabled
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.kernel import detect_kernel
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.nic import detect_nics
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import KnobError
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.block import ATTRIBUTES
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.cpus import online_cpus
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.module import LOADED
from ansible_collections.hostperf.tuning.plugins.module_utils.placement import (
    IRQBALANCE_MODES, IRQBALANCE_UNIT, irqbalance_settings, place_irqs, usable_cpus)

BLOCK_CLASSES = ("nvme", "ssd", "hdd", "virtual", "emmc", "sdcard", "removable")
# tune's nic option: per-parameter groups, and single values, by knob group.
NIC_GROUPS = {"rings": "ring", "channels": "channels", "features": "feature", "coalesce": "coalesce"}
NIC_VALUES = {"mtu": "mtu", "txqueuelen": "txqueuelen"}
NIC_QUEUE_MASKS = ("rps", "xps")
# BBR paces packets itself since Linux 4.13, so it does not need fq to work.
SELF_PACING = ("bbr",)


def desired_state(tree, sysctl=None, block=None, kernel_modules=None, tcp_congestion_control=None,
                  default_qdisc=None, default_qdisc_fallback="keep", nic=None, irq_affinity=None, irqbalance="ban",
                  cpu_governor=None, energy_performance_preference=None, service_cpus=None):
    """({identity: value}, [notes]); raises KnobError naming every bad request at once."""
    desired, notes, errors = {}, [], []
    for key, value in (sysctl or {}).items():
        desired["sysctl:%s" % key] = value
    if cpu_governor:
        desired["cpufreq:scaling_governor"] = cpu_governor
    if energy_performance_preference:
        desired["cpufreq:energy_performance_preference"] = energy_performance_preference
    for index, item in enumerate(service_cpus or ()):
        if not item.get("unit") or item.get("cpus") in (None, ""):
            errors.append("service_cpus[%d]: give unit and cpus" % index)
            continue
        unit = item["unit"] if "." in item["unit"] else item["unit"] + ".service"
        desired["unit:%s:cpu_affinity" % unit] = item["cpus"]
    for name in kernel_modules or ():
        desired["module:%s" % name] = LOADED
    if block:
        _block(tree, block, desired, notes, errors)
    if nic:
        _nic(tree, nic, desired, notes, errors)
        if "NetworkManager" in running_processes(tree):
            notes.append("NetworkManager runs here: a connection profile that sets the same ethtool.*, mtu or "
                         "txqueuelen overrides the udev rule whenever NetworkManager activates the link")
    if irq_affinity:
        place_irqs(tree, irq_affinity, desired, notes, errors)
        if irqbalance not in IRQBALANCE_MODES:
            errors.append("irqbalance %r: must be one of %s" % (irqbalance, ", ".join(IRQBALANCE_MODES)))
        else:
            desired.update(irqbalance_settings(irqbalance, "irqbalance" in running_processes(tree),
                                               unit_enabled(tree, IRQBALANCE_UNIT)))
    if tcp_congestion_control or default_qdisc:
        kernel = detect_kernel(tree)
        if tcp_congestion_control:
            _congestion_control(tree, kernel, tcp_congestion_control, desired, errors)
        if default_qdisc:
            _qdisc(kernel, default_qdisc, default_qdisc_fallback, tcp_congestion_control, desired, notes, errors)
    if errors:
        raise KnobError("; ".join(errors))
    return desired, notes


def _block(tree, requests, desired, notes, errors):
    disks = None
    for index, request in enumerate(requests):
        request = dict(request)
        device, klass = request.pop("device", None), request.pop("class", None)
        if bool(device) == bool(klass):
            errors.append("block[%d]: give exactly one of device or class" % index)
            continue
        unknown = sorted(set(request) - set(ATTRIBUTES))
        if unknown:
            errors.append("block[%d]: unknown queue setting(s) %s (known: %s)"
                          % (index, ", ".join(unknown), ", ".join(sorted(ATTRIBUTES))))
            continue
        if klass:
            if klass not in BLOCK_CLASSES:
                errors.append("block[%d]: unknown class %r (known: %s)" % (index, klass, ", ".join(BLOCK_CLASSES)))
                continue
            if disks is None:
                disks = detect_block(tree)[0]
            devices = sorted(name for name, disk in disks.items() if disk["class"] == klass)
            if not devices:
                notes.append("block[%d]: no %s disk on this host; nothing to do" % (index, klass))
        else:
            devices = [device]
        for name in devices:
            for attribute, value in request.items():
                if value is not None:
                    desired["block:%s:%s" % (name, attribute)] = value


def _nic(tree, requests, desired, notes, errors):
    nics = None
    for index, request in enumerate(requests):
        request = dict((key, value) for key, value in request.items() if value not in (None, {}))
        name, driver = request.pop("interface", None), request.pop("driver", None)
        if bool(name) == bool(driver):
            errors.append("nic[%d]: give exactly one of interface or driver" % index)
            continue
        unknown = sorted(set(request) - set(NIC_GROUPS) - set(NIC_VALUES) - set(NIC_QUEUE_MASKS))
        if unknown:
            errors.append("nic[%d]: unknown setting(s) %s (known: %s)" % (index, ", ".join(unknown), ", ".join(
                sorted(list(NIC_GROUPS) + list(NIC_VALUES) + list(NIC_QUEUE_MASKS)))))
            continue
        if nics is None:
            nics = detect_nics(tree, {}, use_ethtool=False)[0]
        if driver:
            names = sorted(nic for nic, facts in nics.items() if facts["driver"] == driver)
            if not names:
                # A selector is fleet-wide: a host without that hardware has nothing to do, like a profile's class.
                notes.append("nic[%d]: no interface uses driver %r here (drivers: %s); nothing to do" % (
                    index, driver, ", ".join(sorted(set(str(facts["driver"]) for facts in nics.values()))) or "none"))
        else:
            names = [name]
        for interface in names:
            for option, group in NIC_GROUPS.items():
                for parameter, value in sorted((request.get(option) or {}).items()):
                    desired["nic:%s:%s:%s" % (interface, group, parameter)] = value
            for option, group in NIC_VALUES.items():
                if option in request:
                    desired["nic:%s:%s" % (interface, group)] = request[option]
            for option in NIC_QUEUE_MASKS:
                if option in request:
                    desired["nic:%s:%s" % (interface, option)] = _queue_cpus(tree, nics.get(interface), request[option])


def _queue_cpus(tree, facts, value):
    """'local' means the CPUs of the NIC's own NUMA node, without isolated CPUs (with them if nothing else is left)."""
    if value != "local":
        return value
    local, online = (facts or {}).get("local_cpus"), online_cpus(tree)
    return format_cpulist(usable_cpus(local, online, read_cpulist(tree, CPU_DIR + "/isolated") or [])
                          or usable_cpus(local, online, ()))


def in_initial_netns(tree):
    """Whether this process runs in the host's own network namespace.

    The kernel registers net.core.netdev_max_backlog for the initial namespace
    only. Comparing /proc/self/ns/net with PID 1's would be wrong inside a
    container, whose PID 1 shares the container's namespace.
    """
    return tree.exists("/proc/sys/net/core/netdev_max_backlog")


def _congestion_control(tree, kernel, algorithm, desired, errors):
    offered = kernel["tcp_congestion_controls"]
    module = "tcp_" + algorithm
    allowed = kernel["tcp_congestion_controls_allowed"]
    if algorithm not in allowed and not in_initial_netns(tree):
        # The kernel answers EPERM outside the initial namespace for these.
        errors.append("tcp_congestion_control %r: not allowed in this network namespace (allowed: %s)"
                      % (algorithm, ", ".join(allowed)))
        return
    if algorithm not in kernel["tcp_congestion_controls_available"]:
        if offered.get(algorithm) is False or kernel["modules"].get(module) in (None, "absent", "unloadable"):
            errors.append("tcp_congestion_control %r: not available on kernel %s (available: %s; module %s: %s)"
                          % (algorithm, kernel["release"], ", ".join(kernel["tcp_congestion_controls_available"]),
                             module, kernel["modules"].get(module, "unknown")))
            return
        desired["module:" + module] = LOADED
    desired["sysctl:net.ipv4.tcp_congestion_control"] = algorithm


def _qdisc(kernel, qdisc, fallback, algorithm, desired, notes, errors):
    present = kernel["qdiscs"].get(qdisc)
    if present:
        if kernel["modules"].get("sch_" + qdisc) == "available":
            desired["module:sch_" + qdisc] = LOADED
        desired["sysctl:net.core.default_qdisc"] = qdisc
        return
    why = "qdisc %s does not exist on kernel %s" % (qdisc, kernel["release"])
    if fallback == "fail":
        errors.append("default_qdisc %r: %s" % (qdisc, why))
    elif fallback == "keep":
        pacing = " (BBR paces by itself since 4.13)" if algorithm in SELF_PACING else ""
        notes.append("%s: default_qdisc stays %s%s" % (why, kernel["default_qdisc"], pacing))
    elif kernel["qdiscs"].get(fallback):
        notes.append("%s: default_qdisc set to the fallback %s" % (why, fallback))
        desired["sysctl:net.core.default_qdisc"] = fallback
    else:
        notes.append("%s, nor does the fallback %s: default_qdisc stays %s" % (why, fallback, kernel["default_qdisc"]))
