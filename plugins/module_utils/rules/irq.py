# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Place a device's IRQs on CPUs: its own NUMA node's, one queue per CPU, never isolated CPUs.

A NIC's or a disk's queue IRQs are spread over the chosen CPUs by queue
number (rx-0 and tx-0 of a queue pair share a CPU); its other IRQs (link,
config, async events) get the whole set. Kernel-managed IRQs (NVMe queues)
are reported and left to the kernel. XPS can follow the same placement, so
a queue's packets are sent from the CPU that takes its interrupts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostperf.tuning.plugins.module_utils.detect.nic import queue_of_irq
from ansible_collections.hostperf.tuning.plugins.module_utils.host.cpulist import format_cpulist, parse_cpulist
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.identity import split_identity

IRQBALANCE_MODES = ("ban", "stop")
IRQBALANCE_UNIT = "irqbalance.service"


def irq_affinity(plan, facts, requests, reason, source="profile"):
    """Plan the IRQs (and XPS, where asked) of each request {interface or device, cpus, xps}."""
    cpu = facts.get("cpu") or {}
    irqs = facts.get("irqs") or {}
    desired = {}
    place_irqs({"irqs": irqs, "nics": facts.get("nics") or {}, "block": facts.get("block") or {},
                "online": cpu.get("online_list") or [], "isolated": parse_cpulist(cpu.get("isolated") or "")},
               requests, desired, plan.notes, plan.errors)
    for identity, value in sorted(desired.items()):
        kind, name = split_identity(identity)
        if kind == "irq":
            plan.add(identity, value, irq_facts(irqs, name).get("affinity"), reason, "low", source)
        else:
            plan.add(identity, value, None, "transmit from the CPU that takes the queue's interrupts", "low", source)


def irqbalance(plan, facts, mode, source="profile"):
    """What irqbalance needs so that it does not move placed IRQs back.

    ban: the IRQ knob's persistence gives irqbalance its policy script, no
    setting of its own; stop: stopped and disabled, where it runs or is enabled.
    """
    if mode not in IRQBALANCE_MODES:
        plan.errors.append("irqbalance %r: must be one of %s" % (mode, ", ".join(IRQBALANCE_MODES)))
        return
    state = (facts.get("environment") or {}).get("irqbalance") or {}
    if mode == "stop":
        if state.get("running"):
            plan.add("service:%s:active" % IRQBALANCE_UNIT, "inactive", "active",
                     "irqbalance would move the placed IRQs back", "medium", source)
        if state.get("enabled"):
            plan.add("service:%s:enabled" % IRQBALANCE_UNIT, "disabled", "enabled",
                     "irqbalance would start again at boot", "medium", source)


def place_irqs(facts, requests, desired, notes, errors):
    """Add irq:N (and nic:IF:xps) settings for each request {interface|device, cpus, xps}.

    facts: {"irqs", "nics", "block", "online", "isolated"}.
    """
    irqs = facts["irqs"]
    for index, request in enumerate(requests):
        interface, device = request.get("interface"), request.get("device")
        where = "irq_affinity[%d]" % index
        if bool(interface) == bool(device):
            errors.append("%s: give exactly one of interface or device" % where)
            continue
        owner = (facts["nics"] if interface else facts["block"]).get(interface or device)
        what = "interface %s" % interface if interface else "disk %s" % device
        if owner is None:
            errors.append("%s: no such %s (hardware interfaces and whole disks only)" % (where, what))
            continue
        numbers = [item["irq"] if isinstance(item, dict) else item for item in owner["irqs"]]
        if not numbers:
            errors.append("%s: %s has no IRQs of its own (virtual, or on a shared legacy IRQ)" % (where, what))
            continue
        cpus = _cpus(facts, request.get("cpus", "local"), owner.get("local_cpus"), where, errors)
        if not cpus:
            continue
        managed = [irq for irq in numbers if irq_facts(irqs, irq).get("managed")]
        if managed:
            notes.append("%s: IRQs %s are kernel-managed (%s) and left to the kernel"
                         % (what, format_cpulist(managed), irq_facts(irqs, managed[0])["name"]))
        placed = {}
        for irq in numbers:
            found = irq_facts(irqs, irq)
            if irq in managed or not found:
                continue
            kind, queue = queue_of_irq(found["name"])
            placed[irq] = [cpus[queue % len(cpus)]] if queue is not None else cpus
            desired["irq:%d" % irq] = format_cpulist(placed[irq])
        if request.get("xps") and interface:
            _xps_follows(interface, list(owner.get("xps_cpus") or {}), irqs, placed, desired)


def irq_facts(irqs, number):
    """Facts of an IRQ, or {}; Ansible's JSON turns the int keys of detect_irqs into strings."""
    text = str(number)
    return irqs.get(text) or (irqs.get(int(text)) if text.isdigit() else None) or {}


def cpus_here(facts):
    """The online CPUs the tuned system runs on: inside a container, those its cpuset allows (for what is its
    own, RPS and XPS; the machine's IRQs, where a container takes them, serve every CPU)."""
    cpu = facts.get("cpu") or {}
    online = cpu.get("online_list") or []
    if not (facts.get("environment") or {}).get("container"):
        return online
    allowed = set(cpu.get("allowed_list") or online)
    return [number for number in online if number in allowed]


def usable_cpus(local, online, isolated):
    """The online CPUs of a device's node (a CPU list; every online CPU when unknown), without isolated ones.

    local_cpulist names the node's offline CPUs too: an affinity that holds only those is refused by the kernel.
    """
    isolated, online = set(isolated), list(online)
    local = [cpu for cpu in parse_cpulist(local or "") if cpu in set(online)]
    return [cpu for cpu in local or online if cpu not in isolated]


def _cpus(facts, value, local, where, errors):
    if value in ("local", "all"):
        cpus = usable_cpus(local if value == "local" else "", facts["online"], facts["isolated"])
        if not cpus:
            errors.append("%s: every %s CPU is isolated" % (where, value))
        return cpus
    try:
        cpus = parse_cpulist(str(value))
    except ValueError as exc:
        errors.append("%s: cpus: %s" % (where, exc))
        return []
    if not cpus:
        errors.append("%s: cpus: the CPU list is empty" % where)
    return cpus


def _xps_follows(interface, queues, irqs, placed, desired):
    """tx-N sends from the CPU that takes queue N's interrupts."""
    by_queue = {}
    for irq, cpus in placed.items():
        kind, queue = queue_of_irq(irq_facts(irqs, irq)["name"])
        if queue is not None and kind in ("tx", "combined"):
            by_queue[queue] = cpus
    if by_queue and queues:
        desired["nic:%s:xps" % interface] = " ".join(
            "%s=%s" % (queue, format_cpulist(by_queue.get(int(queue[3:]), by_queue[min(by_queue)])))
            for queue in sorted(queues, key=lambda name: int(name[3:])))
