# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the host runs: hypervisor, container, and the daemons that also tune it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import configparser
import re

from ansible_collections.hostperf.tuning.plugins.module_utils.detect.network_manager import connection_settings
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.scope import INITIAL, IPC, NET, PRIVATE, USER, UTS

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
# The inode numbers of the initial IPC, UTS, user and PID namespaces, fixed by the kernel (include/linux/proc_ns.h).
_INITIAL_INODES = ((IPC, 0xEFFFFFFF), (UTS, 0xEFFFFFFE), (USER, 0xEFFFFFFD))
_INITIAL_PID_NAMESPACE = 0xEFFFFFFC
_NAMESPACE_LINK = re.compile(r"^([a-z]+):\[([0-9]+)\]\Z")


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


def container(tree):
    """The container engine this runs under (podman, docker, lxc, ...), or None on a host.

    A marker file is where the system came from, not where it runs: a VM booted from a container image keeps
    /.dockerenv. A container has a PID namespace of its own (without a marker: "unknown", as containerd's), or
    (one given the host's) a mount namespace other than init's; a marker in the machine's initial namespaces is
    ignored.
    """
    engine, pid_namespace = _container_marker(tree), _namespace_inode(tree, "pid")
    if not engine and pid_namespace is not None and pid_namespace != _INITIAL_PID_NAMESPACE:
        return "unknown"  # containerd and other runtimes leave no marker; a PID namespace of its own is one
    if engine and pid_namespace == _INITIAL_PID_NAMESPACE:
        own_mounts, init_mounts = tree.readlink("/proc/self/ns/mnt"), tree.readlink("/proc/1/ns/mnt", quiet=True)
        if not (own_mounts and init_mounts and own_mounts != init_mounts):
            return None
    return engine


def _container_marker(tree):
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


def network_namespace(tree):
    """INITIAL or PRIVATE, or None without /proc/sys/net: only the machine's own network namespace registers
    netdev_max_backlog, so a container's (or any other) network namespace does not show it."""
    if not tree.isdir("/proc/sys/net/core"):
        return None
    return INITIAL if tree.exists("/proc/sys/net/core/netdev_max_backlog") else PRIVATE


def namespaces(tree):
    """{net, ipc, uts, user: INITIAL, PRIVATE or None} of the process that detects (a container's, inside one)."""
    found = {NET: network_namespace(tree)}
    for kind, initial in _INITIAL_INODES:
        inode = _namespace_inode(tree, kind)
        found[kind] = None if inode is None else INITIAL if inode == initial else PRIVATE
    return found


def _namespace_inode(tree, kind):
    match = _NAMESPACE_LINK.match(tree.readlink("/proc/self/ns/" + kind) or "")
    return int(match.group(2)) if match and match.group(1) == kind else None


def running_processes(tree):
    """Names of WATCHED_PROCESSES that are running."""
    running = set()
    for entry in tree.listdir("/proc"):
        if entry.isdigit():
            comm = tree.read("/proc/%s/comm" % entry)
            if comm in WATCHED_PROCESSES:
                running.add(comm)
    return running


def irqbalance_policy_script(tree):
    """The --policyscript of the running irqbalance (the one of the first found), or None.

    It asks that script about every IRQ it discovers; without ours it moves IRQs we placed."""
    for entry in tree.listdir("/proc"):
        if entry.isdigit() and tree.read("/proc/%s/comm" % entry) == "irqbalance":
            argv = (tree.read("/proc/%s/cmdline" % entry) or "").split("\0")
            for position, argument in enumerate(argv):
                if argument.startswith("--policyscript="):
                    return argument[len("--policyscript="):]
                if argument in ("--policyscript", "-l") and position + 1 < len(argv):
                    return argv[position + 1]
                if argument.startswith("-l") and not argument.startswith("--"):
                    return argument[2:]
            return None
    return None


def unit_enabled(tree, unit):
    for target in ("multi-user.target.wants", "graphical.target.wants", "sysinit.target.wants"):
        if tree.exists("/etc/systemd/system/%s/%s" % (target, unit)):
            return True
    return False


def _tuned_main(tree):
    """(reapply_sysctl, reapply_sysctl_exclude) of tuned-main.conf, read as tuned reads it (a section-less
    ConfigParser file, # comments inline, the last duplicate winning). With reapply_sysctl (default on) tuned
    applies the sysctl.d files again after its profile's sysctls, except the excluded patterns."""
    parser = configparser.ConfigParser(inline_comment_prefixes=("#",), strict=False, interpolation=None)
    text = tree.read("/etc/tuned/tuned-main.conf") or ""
    try:
        parser.read_string("[main]\n" + text, source="/etc/tuned/tuned-main.conf")
    except configparser.Error as exc:
        tree.problem("/etc/tuned/tuned-main.conf", str(exc).splitlines()[0])
    reapply = parser.get("main", "reapply_sysctl", fallback="1").strip().lower() in ("1", "true", "yes", "y", "on")
    excluded = parser.get("main", "reapply_sysctl_exclude", fallback="")
    exclude = [pattern for pattern in re.split(r"[\s,]+", excluded) if pattern]
    return reapply, exclude


def detect_environment(tree, hypervisor_flag):
    running = running_processes(tree)
    reapply, exclude = _tuned_main(tree)
    return {
        "virtualization": _virtualization(tree, hypervisor_flag),
        "container": container(tree),
        "namespaces": namespaces(tree),
        "init": "systemd" if tree.runs_systemd() else None,
        "irqbalance": {"running": "irqbalance" in running, "enabled": unit_enabled(tree, "irqbalance.service"),
                       "policy_script": irqbalance_policy_script(tree) if "irqbalance" in running else None},
        "tuned": {"running": "tuned" in running, "enabled": unit_enabled(tree, "tuned.service"),
                  "profile": tree.read("/etc/tuned/active_profile"), "reapply_sysctl": reapply,
                  "reapply_sysctl_exclude": exclude},
        "bpftune": {"running": "bpftune" in running, "enabled": unit_enabled(tree, "bpftune.service")},
        "network_manager": {"running": "NetworkManager" in running,
                            "enabled": unit_enabled(tree, "NetworkManager.service"),
                            "connections": connection_settings(tree)},
        "systemd_networkd": "systemd-network" in running,
    }
