# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""From what a host is (host_facts) and a profile to what it should be set to, with reasons.

A pure function on the controller: no round trip to the host. Every planned
setting carries the identity tune takes, the current value the facts show,
a one-line reason with the numbers it came from, and a risk level. Overrides
by identity come last: a value replaces the plan's, null switches a setting
off, and an override the host cannot take is an error of that host's plan.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostperf.tuning.plugins.module_utils.cpulist import parse_cpulist
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import KnobError
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.block import ATTRIBUTES, SCHEDULER_MODULES
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.nic import amount_of
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.registry import KINDS
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.sysctl import INT_MAX, LIMITS
from ansible_collections.hostperf.tuning.plugins.module_utils.names import InvalidName, sysctl_key
from ansible_collections.hostperf.tuning.plugins.module_utils.placement import irq_facts, plan_irqs

RISKS = ("low", "medium", "high")
KERNEL_DEFAULT_TCP_MAX = 6291456  # tcp_rmem's default maximum: never plan below it
TCP_OVERHEAD = 2  # tcp_adv_win_scale=1: half of a socket buffer is window, so twice the BDP
MTU_PACKET = 1500
MODULE_PRESENT = ("loaded", "builtin")


class Plan:
    """The settings planned for one host, in the order the rules made them."""

    def __init__(self, host, profile):
        self.host = host
        self.profile = profile
        self.entries = {}
        self.notes = []
        self.errors = []

    def add(self, identity, value, current, reason, risk="low", source="profile"):
        self.entries[identity] = {"identity": identity, "value": value, "current": current, "reason": reason,
                                  "risk": risk, "source": source}

    def result(self):
        entries = sorted(self.entries.values(), key=lambda entry: entry["identity"])
        for entry in entries:
            entry["changes"] = entry["current"] is None or str(entry["current"]) != str(entry["value"])
        return {"host": self.host, "profile": self.profile, "settings": dict(
            (entry["identity"], entry["value"]) for entry in entries), "entries": entries, "notes": self.notes,
            "errors": self.errors}


def plan_for_host(facts, profile, overrides=None, host=None, profile_name=None):
    """{"settings": {identity: value}, "entries": [...], "notes": [...], "errors": [...]} for one host."""
    plan = Plan(host, profile_name)
    for key, spec in sorted((profile.get("sysctl") or {}).items()):
        _sysctl(plan, facts, key, spec)
    # Later rules win where two plan the same identity (tcp_buffers over a constant rmem_max, say).
    for section, rule in (("tcp_buffers", _tcp_buffers), ("backlog", _backlog),
                          ("congestion_control", _congestion_control), ("block", _block), ("nic", _nic),
                          ("cpu", _cpu)):
        if profile.get(section):
            rule(plan, facts, profile[section])
    for identity, value in sorted((overrides or {}).items()):
        _override(plan, facts, identity, value)
    return plan.result()


# -- rules -------------------------------------------------------------------
def _sysctl_current(facts, key):
    value = (facts.get("kernel", {}).get("sysctl") or {}).get(key)
    return " ".join(str(value).split()) if value is not None else None


def _sysctl(plan, facts, key, spec):
    if not isinstance(spec, dict) or "value" not in spec:
        plan.errors.append("profile sysctl %s: needs value, reason and risk" % key)
        return
    value = spec["value"]
    if isinstance(value, (list, tuple)):
        value = " ".join(str(item) for item in value)
    current = _sysctl_current(facts, key)
    value, keep = _at_least(value, current)
    if keep:
        plan.notes.append("sysctl %s: already %s, at least %s asked; kept" % (key, current, value))
        return
    plan.add("sysctl:%s" % key, value, current, spec.get("reason") or "set by the profile", spec.get("risk", "low"))


def _at_least(value, current):
    """tuned's ">N": N, unless the current value is already at least N. -> (value, keep the current one)"""
    text = str(value).strip()
    if not text.startswith(">"):
        return value, False
    number = text[1:].strip()
    try:
        return number, current is not None and int(str(current).split()[-1]) >= int(number)
    except ValueError:
        return number, False


def _link_speed(facts, assumed):
    speeds = [nic.get("speed_mbps") for nic in (facts.get("nics") or {}).values()
              if nic.get("operstate") == "up" and nic.get("speed_mbps")]
    if speeds:
        return max(speeds), "the fastest link is up at %s" % _rate(max(speeds))
    return assumed, "no link reports its speed (virtual NICs), so %s is assumed" % _rate(assumed)


def _rate(mbps):
    return "%g Gbit/s" % (mbps / 1000.0) if mbps >= 1000 else "%d Mbit/s" % mbps


def _mib(size):
    return "%.0f MiB" % (size / 1048576.0) if size >= 1048576 else "%.0f KiB" % (size / 1024.0)


def _tcp_buffers(plan, facts, spec):
    """Socket buffer maxima from bandwidth x RTT, never below the kernel's default, capped by memory."""
    speed, why = _link_speed(facts, spec.get("assumed_speed_mbps", 10000))
    rtt = spec.get("target_rtt_ms", 20)
    bdp = int(speed * 1e6 / 8 * rtt / 1000.0)
    memory = (facts.get("memory") or {}).get("total_kb", 0) * 1024
    cap = int(memory * spec.get("memory_share", 0.02)) if memory else INT_MAX
    size = min(max(bdp * TCP_OVERHEAD, KERNEL_DEFAULT_TCP_MAX), cap, INT_MAX)
    reason = "%s; BDP %s x %g ms = %s, x%d for TCP overhead" % (why, _rate(speed), rtt, _mib(bdp), TCP_OVERHEAD)
    if size == cap and cap < bdp * TCP_OVERHEAD:
        reason += ", capped at %g%% of %s memory" % (spec.get("memory_share", 0.02) * 100, _mib(memory))
    risk = "medium" if size > 64 * 1048576 else "low"
    for key, value, why in (("net.core.rmem_max", str(size), reason), ("net.core.wmem_max", str(size), reason),
                            ("net.ipv4.tcp_rmem", "4096 131072 %d" % size,
                             reason + "; autotuning may grow a receive window that far"),
                            ("net.ipv4.tcp_wmem", "4096 16384 %d" % size, reason + "; the send side likewise")):
        current = _sysctl_current(facts, key)
        if current and int(current.split()[-1]) > size and not spec.get("shrink"):
            # A larger maximum someone chose costs nothing unused; shrinking it is the profile's call.
            plan.notes.append("%s: %s is already above the planned %d; kept (set tcp_buffers.shrink to lower it)"
                              % (key, current.split()[-1], size))
            continue
        plan.add("sysctl:" + key, value, current, why, risk)


def _backlog(plan, facts, spec):
    """Packets a core's backlog must hold to absorb a burst of burst_ms at line rate."""
    speed, why = _link_speed(facts, spec.get("assumed_speed_mbps", 10000))
    burst = spec.get("burst_ms", 4)
    packets = int(speed * 1e6 / 8 / MTU_PACKET * burst / 1000.0)
    value = min(max(packets, 1000), 262144)
    plan.add("sysctl:net.core.netdev_max_backlog", str(value), _sysctl_current(facts, "net.core.netdev_max_backlog"),
             "%s; a %g ms burst of %d-byte packets is %d packets (at least the default 1000)"
             % (why, burst, MTU_PACKET, packets), "low")


def _congestion_control(plan, facts, spec):
    kernel = facts.get("kernel") or {}
    algorithm, qdisc = spec.get("algorithm"), spec.get("qdisc")
    if algorithm:
        module = "tcp_" + algorithm
        if not (kernel.get("tcp_congestion_controls") or {}).get(algorithm):
            plan.notes.append("%s is not available on kernel %s: congestion control stays %s"
                              % (algorithm, kernel.get("release"), kernel.get("tcp_congestion_control")))
            qdisc = None if algorithm == "bbr" and qdisc == "fq" else qdisc
        else:
            state = (kernel.get("modules") or {}).get(module)
            if state not in MODULE_PRESENT and algorithm not in (kernel.get("tcp_congestion_controls_available") or ()):
                plan.add("module:" + module, "loaded", state, "%s is built as a module; load it now and at boot"
                         % algorithm, "low")
            plan.add("sysctl:net.ipv4.tcp_congestion_control", algorithm, kernel.get("tcp_congestion_control"),
                     "BBR models the path's bandwidth and RTT instead of reacting to loss, so random loss on a "
                     "link does not collapse throughput" if algorithm == "bbr" else "set by the profile", "medium")
    if qdisc:
        if not (kernel.get("qdiscs") or {}).get(qdisc):
            plan.notes.append("qdisc %s does not exist on kernel %s: default_qdisc stays %s%s" % (
                qdisc, kernel.get("release"), kernel.get("default_qdisc"),
                " (BBR paces by itself since 4.13)" if algorithm == "bbr" else ""))
            return
        state = (kernel.get("modules") or {}).get("sch_" + qdisc)
        if state == "available":
            plan.add("module:sch_" + qdisc, "loaded", state, "%s is built as a module; load it now and at boot"
                     % qdisc, "low")
        plan.add("sysctl:net.core.default_qdisc", qdisc, kernel.get("default_qdisc"),
                 "fq paces each flow, which BBR relies on for steady sending" if qdisc == "fq" else
                 "set by the profile", "low")


def _block(plan, facts, by_class):
    loadable = ((facts.get("kernel") or {}).get("module_loading") or {}).get("loadable")
    for name, disk in sorted((facts.get("block") or {}).items()):
        wanted = by_class.get(disk.get("class")) or {}
        for attribute, value in sorted(wanted.items(), key=lambda item: item[0] != "scheduler"):
            identity = "block:%s:%s" % (name, attribute)
            reason = "%s disk (%s)" % (disk.get("class"), disk.get("model") or disk.get("transport") or "?")
            if attribute == "scheduler":
                offered = disk.get("schedulers") or []
                if value not in offered and not (loadable and value in SCHEDULER_MODULES):
                    plan.notes.append("%s: scheduler %s is not offered (offered: %s); left as %s"
                                      % (name, value, ", ".join(offered), disk.get("scheduler")))
                    continue
                reason += {"none": ": the device reorders itself; a scheduler only adds CPU work",
                           "mq-deadline": ": bounded latency, merges sequential I/O",
                           "bfq": ": fair shares keep a slow disk responsive under mixed load",
                           "kyber": ": latency targets for fast devices"}.get(value, "")
                if value not in offered:
                    reason += " (module %s is loaded first)" % SCHEDULER_MODULES[value]
            value, keep = _at_least(value, disk.get(attribute))
            if keep:
                plan.notes.append("%s: %s is already %s, at least %s asked; kept"
                                  % (name, attribute, disk.get(attribute), value))
                continue
            if attribute == "read_ahead_kb":
                pattern = "sequential streams on a seek-bound disk" if disk.get("class") == "hdd" else "its access pattern"
                reason += ": read-ahead sized for %s" % pattern
            plan.add(identity, str(value), disk.get(attribute), reason, "low")


def _nic(plan, facts, spec):
    for name, nic in sorted((facts.get("nics") or {}).items()):
        for parameter, amount in sorted((spec.get("rings") or {}).items()):
            ring = (nic.get("rings") or {}).get(parameter.replace("-", "_"))
            if not (nic.get("rings") or {}).get("supported") or not ring or not ring.get("max"):
                continue
            value = _share(plan, "nic rings %s" % parameter, amount, ring["max"])
            if value is None:
                continue
            plan.add("nic:%s:ring:%s" % (name, parameter), str(value), ring.get("current"),
                     "%s ring at %s of the driver's maximum %d: fewer drops in bursts; resets the link when changed"
                     % (parameter, "all" if str(amount) == "max" else amount, ring["max"]), "medium")
        if spec.get("channels"):
            _channels(plan, name, nic, spec["channels"])
        coalesce = nic.get("coalesce") or {}
        for parameter, value in sorted((spec.get("coalesce") or {}).items()):
            current = coalesce.get(parameter.replace("-", "_"))
            if not coalesce.get("supported") or current is None:
                continue
            if isinstance(current, bool):
                current = "on" if current else "off"
            plan.add("nic:%s:coalesce:%s" % (name, parameter), str(value), current,
                     "interrupt per packet instead of per batch: lower latency, more interrupts", "medium")
    placement = spec.get("irq_affinity")
    if placement:
        requests = [{"interface": name, "cpus": placement, "xps": bool(spec.get("xps"))}
                    for name, nic in sorted((facts.get("nics") or {}).items()) if nic.get("irqs")]
        _irqs(plan, facts, requests, "the NIC's IRQs on %s CPUs, one queue per CPU" % placement)


def _share(plan, what, amount, maximum):
    """A profile's amount of a driver maximum (number, max, %, fraction), never above it; None and an error if bad."""
    try:
        return min(amount_of(amount, maximum), maximum)
    except ValueError:
        plan.errors.append("profile %s: %r is not a number, max, a percentage or a fraction" % (what, amount))
        return None


def _channels(plan, name, nic, amount):
    """Combined channels: one per CPU of the NIC's own node ("local"), or an amount of the driver's maximum."""
    combined = (nic.get("channels") or {}).get("combined") or {}
    if not (nic.get("channels") or {}).get("supported") or not combined.get("max"):
        return
    if amount == "local":
        local = len(parse_cpulist(nic.get("local_cpus") or "")) or combined["max"]
        value = min(local, combined["max"])
        reason = "one queue per CPU of the NIC's node (%d CPUs, driver maximum %d)" % (local, combined["max"])
    else:
        value = _share(plan, "nic channels", amount, combined["max"])
        if value is None:
            return
        reason = "%s of the driver's maximum %d" % (amount, combined["max"])
    plan.add("nic:%s:channels:combined" % name, str(value), combined.get("current"),
             reason + "; re-creates queues and resets the link when changed", "medium")


def _irqs(plan, facts, requests, reason):
    cpu = facts.get("cpu") or {}
    desired, errors = {}, []
    plan_irqs({"irqs": facts.get("irqs") or {}, "nics": facts.get("nics") or {}, "block": facts.get("block") or {},
               "online": cpu.get("online_list") or [], "isolated": parse_cpulist(cpu.get("isolated") or "")},
              requests, desired, plan.notes, errors)
    plan.errors.extend(errors)
    irqs = facts.get("irqs") or {}
    for identity, value in sorted(desired.items()):
        if identity.startswith("irq:"):
            plan.add(identity, value, irq_facts(irqs, identity.split(":")[1]).get("affinity"), reason, "low")
        else:
            plan.add(identity, value, None, "transmit from the CPU that takes the queue's interrupts", "low")


def _cpu(plan, facts, spec):
    cpufreq = (facts.get("cpu") or {}).get("cpufreq")
    if not cpufreq:
        plan.notes.append("no cpufreq here (a VM, or firmware owns the clock): governor left alone")
        return
    for setting, offered_key, current_key, identity in (
            ("governor", "governors_available", "governor", "cpufreq:scaling_governor"),
            ("energy_performance_preference", "energy_performance_available", "energy_performance_preference",
             "cpufreq:energy_performance_preference")):
        choices = spec.get(setting) or []
        offered = cpufreq.get(offered_key) or []
        chosen = [choice for choice in choices if choice in offered]
        if choices and not chosen:
            plan.notes.append("cpufreq %s: none of %s is offered (%s)"
                              % (setting, ", ".join(choices), ", ".join(offered) or "none"))
        if chosen:
            current = cpufreq.get(current_key) or {}
            plan.add(identity, chosen[0], list(current)[0] if len(current) == 1 else None,
                     "%s: %s" % (setting, "full clock for throughput and latency; costs power" if chosen[0] ==
                                 "performance" else "scales with load, first of %s offered" % ", ".join(choices)),
                     "medium" if chosen[0] == "performance" else "low")


# -- overrides -----------------------------------------------------------------
def _override(plan, facts, identity, value):
    kind, sep, name = str(identity).partition(":")
    if kind not in KINDS or not sep:
        plan.errors.append("override %s: unknown setting (kinds: %s)" % (identity, ", ".join(sorted(KINDS))))
        return
    if value is None:
        if plan.entries.pop(identity, None) is None:
            plan.notes.append("override %s: switched off, but the profile did not plan it" % identity)
        else:
            plan.notes.append("override %s: switched off" % identity)
        return
    try:
        current = _check_override(facts, kind, name, value)
    except (KnobError, InvalidName, ValueError) as exc:
        plan.errors.append("override %s: %s" % (identity, exc))
        return
    plan.add(identity, value, current, "override from the inventory", "medium", source="override")


def _check_override(facts, kind, name, value):
    """What the facts can tell before the host is asked; the host's own validation still runs in tune."""
    if kind == "sysctl":
        key = sysctl_key(name)
        limits = LIMITS.get(key)
        if limits and str(value).lstrip("-").isdigit() and not limits[0] <= int(value) <= limits[1]:
            raise ValueError("%s is out of the kernel's range %d..%d" % (value, limits[0], limits[1]))
        return _sysctl_current(facts, key)
    if kind == "block":
        device, dummy, attribute = name.partition(":")
        disk = (facts.get("block") or {}).get(device)
        if disk is None:
            raise ValueError("no disk %s on this host" % device)
        if attribute not in ATTRIBUTES:
            raise ValueError("unknown queue setting %r" % attribute)
        if attribute == "scheduler" and value not in (disk.get("schedulers") or []) and value not in SCHEDULER_MODULES:
            raise ValueError("%s does not offer scheduler %s (offered: %s)"
                             % (device, value, ", ".join(disk.get("schedulers") or [])))
        return disk.get(attribute)
    if kind == "nic":
        interface = name.split(":")[0]
        if interface not in (facts.get("nics") or {}) and interface not in (facts.get("virtual_nics") or {}):
            raise ValueError("no interface %s on this host" % interface)
    if kind == "irq":
        irq = irq_facts(facts.get("irqs") or {}, name)
        if not irq:
            raise ValueError("no IRQ %s on this host" % name)
        if irq.get("managed"):
            raise ValueError("IRQ %s (%s) is kernel-managed" % (name, irq.get("name")))
        return irq.get("affinity")
    return None
