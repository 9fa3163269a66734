# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which of the collection's profiles fits a host, from its facts, and why (hostperf_profile: auto).

The first rule whose evidence the facts show wins, in this order: a NUMA server with NVMe or fast NICs is a
datacenter host even as a VM (its nodes and devices are passed through, as in the lab); any other guest leaves the
clock, IRQs and rings to its hypervisor; a small box with only slow disks, or little of everything, is an edge
box; the rest (a storage server full of HDDs among them) gets the general throughput profile. latency is never
chosen: it trades throughput and power for tail latency, which only its owner can decide.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

FAST_NIC_MBPS = 10000
DATACENTER_NIC_MBPS = 25000
SLOW_DISKS = ("hdd", "emmc", "sdcard", "removable")
FAST_DISKS = ("nvme", "ssd")
SMALL_CPUS = 4
EDGE_CPUS = 8  # more, with only slow disks, is a storage server, not an edge box
SMALL_MEMORY_KB = 8 * 1024 * 1024
NEVER_AUTOMATIC = {"latency": "chosen only by name: it trades throughput and power for tail latency"}


class Evidence:
    """What the facts say about the host, counted once for every rule."""

    def __init__(self, facts):
        numa = facts.get("numa") or {}
        cpu = facts.get("cpu") or {}
        self.nodes = 0 if numa.get("synthetic") else len(numa.get("nodes") or ())
        self.sockets = cpu.get("sockets") or 0
        self.cpus = len(cpu.get("allowed_list") or ()) or cpu.get("count") or 0  # a cpuset's, inside a container
        self.memory_kb = (facts.get("memory") or {}).get("total_kb") or 0
        self.disks = {}
        for name, disk in sorted((facts.get("block") or {}).items()):
            self.disks.setdefault(disk.get("class"), []).append(name)
        speeds = [(nic.get("speed_mbps") or 0, name) for name, nic in (facts.get("nics") or {}).items()]
        self.fastest = max(speeds) if speeds else (0, None)
        virtualization = (facts.get("environment") or {}).get("virtualization") or {}
        self.guest = virtualization.get("type") not in (None, "none")
        self.hypervisor = virtualization.get("type")

    def count(self, classes):
        return sum(len(self.disks.get(name, ())) for name in classes)

    def disks_text(self, classes):
        return ", ".join("%d %s" % (len(self.disks[name]), name) for name in classes if self.disks.get(name))

    def nic_text(self):
        speed, name = self.fastest
        return "%s at %d Mbit/s" % (name, speed) if name and speed else None


def _datacenter(evidence):
    # a guest's sockets are the hypervisor's choice (OpenStack gives each vCPU one); its NUMA nodes are real
    sockets = 0 if evidence.guest else evidence.sockets
    fast_nic = evidence.fastest[0] >= FAST_NIC_MBPS
    if max(evidence.nodes, sockets) >= 2 and (evidence.count(("nvme",)) or fast_nic):
        found = ["%d NUMA nodes" % evidence.nodes if evidence.nodes >= 2 else "%d sockets" % sockets]
        found.extend(filter(None, [evidence.disks_text(("nvme",)), evidence.nic_text() if fast_nic else None]))
        return found
    # a virtual NIC's speed is what the hypervisor says (Azure's netvsc: 50 Gbit/s), not a datacenter port
    if evidence.fastest[0] >= DATACENTER_NIC_MBPS and not evidence.guest:
        return [evidence.nic_text()]
    return None


def _virtual_guest(evidence):
    return ["a %s guest" % evidence.hypervisor] if evidence.guest else None


def _edge(evidence):
    slow, fast = evidence.count(SLOW_DISKS), evidence.count(FAST_DISKS)
    if slow and not fast and evidence.cpus <= EDGE_CPUS:
        return ["only slow disks (%s)" % evidence.disks_text(SLOW_DISKS), "%d CPUs" % evidence.cpus]
    if evidence.cpus and evidence.cpus <= SMALL_CPUS and evidence.memory_kb and evidence.memory_kb <= SMALL_MEMORY_KB:
        return ["%d CPUs" % evidence.cpus, "%.1f GiB of memory" % (evidence.memory_kb / 1048576.0)]
    return None


def _throughput(evidence):
    disks = evidence.disks_text(sorted(name for name in evidence.disks if name)) or "no disks"
    return [disks, "%d CPUs" % evidence.cpus] + ([evidence.nic_text()] if evidence.nic_text() else [])


RULES = (
    ("datacenter", _datacenter, "a NUMA server with NVMe or fast NICs"),
    ("virtual-guest", _virtual_guest, "a virtual machine without a NUMA server's devices"),
    ("edge", _edge, "a small box, or a box of at most 8 CPUs with slow disks only"),
    ("throughput", _throughput, "a server that is none of the above"),
)


def recommend(facts):
    """{profile, reason, evidence, rules}: the profile for these facts and each rule's answer, for the operator."""
    evidence = Evidence(facts)
    chosen, answers = None, []
    for name, rule, meaning in RULES:
        found = rule(evidence)
        answers.append({"profile": name, "matches": bool(found), "meaning": meaning, "evidence": found or []})
        if found and chosen is None:
            chosen = answers[-1]
    reason = "%s (%s)" % (", ".join(chosen["evidence"]), chosen["meaning"])
    answers.extend({"profile": name, "matches": False, "meaning": why, "evidence": []}
                   for name, why in sorted(NEVER_AUTOMATIC.items()))
    return {"profile": chosen["profile"], "reason": reason, "evidence": chosen["evidence"], "rules": answers}
