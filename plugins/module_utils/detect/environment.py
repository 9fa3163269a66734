# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the host runs: hypervisor, container, and the daemons that also tune it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Daemons that change the same settings we do (comm is cut at 15 characters).
WATCHED_PROCESSES = ("irqbalance", "tuned", "bpftune", "NetworkManager", "systemd-network")
_DMI = "/sys/class/dmi/id"
_DMI_VENDORS = (
    ("VMware", "vmware"),
    ("Microsoft Corporation", "hyper-v"),
    ("Xen", "xen"),
    ("innotek", "oracle"),
    ("QEMU", "kvm"),
    ("KVM", "kvm"),
    ("Amazon EC2", "kvm"),
    ("Google", "kvm"),
    ("Firecracker", "kvm"),
    ("OpenStack", "kvm"),
)
_CLOCKSOURCES = (("kvm-clock", "kvm"), ("xen", "xen"), ("hyperv", "hyper-v"))


def _virtualization(tree, hypervisor_flag):
    dmi = " ".join(filter(None, (tree.read(_DMI + "/sys_vendor"), tree.read(_DMI + "/product_name"),
                                 tree.read(_DMI + "/bios_vendor"))))
    for marker, kind in _DMI_VENDORS:
        if marker in dmi:
            return {"type": kind, "evidence": "dmi: " + dmi}
    xen = tree.read("/sys/hypervisor/type")
    if xen:
        return {"type": xen, "evidence": "/sys/hypervisor/type"}
    clocks = tree.read("/sys/devices/system/clocksource/clocksource0/available_clocksource") or ""
    for marker, kind in _CLOCKSOURCES:
        if marker in clocks:
            return {"type": kind, "evidence": "clocksource: " + clocks.strip()}
    if hypervisor_flag:
        return {"type": "other", "evidence": "cpu flag 'hypervisor'"}
    return {"type": "none", "evidence": "no hypervisor marker in dmi, clocksource or cpu flags"}


def _container(tree):
    if tree.exists("/run/.containerenv"):
        return "podman"
    if tree.exists("/.dockerenv"):
        return "docker"
    marker = tree.read("/run/systemd/container")
    if marker:
        return marker.strip()
    environ = tree.read("/proc/1/environ", default="") or ""
    for item in environ.split("\0"):
        if item.startswith("container="):
            return item[len("container="):] or "unknown"
    return None


def running_processes(tree):
    """Names of WATCHED_PROCESSES that are running."""
    running = set()
    for entry in tree.listdir("/proc"):
        if entry.isdigit():
            comm = tree.read("/proc/%s/comm" % entry)
            if comm in WATCHED_PROCESSES:
                running.add(comm)
    return running


def unit_enabled(tree, unit):
    for target in ("multi-user.target.wants", "graphical.target.wants", "sysinit.target.wants"):
        if tree.exists("/etc/systemd/system/%s/%s" % (target, unit)):
            return True
    return False


def detect_environment(tree, hypervisor_flag):
    running = running_processes(tree)
    return {
        "virtualization": _virtualization(tree, hypervisor_flag),
        "container": _container(tree),
        "init": "systemd" if tree.runs_systemd() else None,
        "irqbalance": {"running": "irqbalance" in running, "enabled": unit_enabled(tree, "irqbalance.service")},
        "tuned": {"running": "tuned" in running, "enabled": unit_enabled(tree, "tuned.service"),
                  "profile": tree.read("/etc/tuned/active_profile")},
        "bpftune": {"running": "bpftune" in running},
        "network_manager": "NetworkManager" in running,
        "systemd_networkd": "systemd-network" in running,
    }
