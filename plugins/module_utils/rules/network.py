# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Network stack rules: socket buffers and backlog from link speed, congestion control and the default qdisc."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostperf.tuning.plugins.module_utils.host.tc import CONFIGURED
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.qdisc import why_not_reattached
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.sysctl import INT_MAX
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.plan import (
    FLAG, POSITIVE, SHARE, TEXT, Section, sysctl_current)

KERNEL_DEFAULT_TCP_MAX = 6291456  # tcp_rmem's default maximum: never plan below it
TCP_OVERHEAD = 2  # tcp_adv_win_scale=1: half of a socket buffer is window, so twice the BDP
MTU_PACKET = 1500
MODULE_PRESENT = ("loaded", "builtin")
QDISC_FALLBACKS = ("keep", "fail")  # or the name of another qdisc
# BBR paces packets itself since Linux 4.13, so it does not need fq to work.
SELF_PACING = ("bbr",)
REASONS = {
    "bbr": "BBR models the path's bandwidth and RTT instead of reacting to loss, so random loss on a link does "
           "not collapse throughput",
    "fq": "fq paces each flow, which BBR relies on for steady sending",
}


def link_speed(facts, assumed):
    speeds = [nic.get("speed_mbps") for nic in (facts.get("nics") or {}).values()
              if nic.get("operstate") == "up" and nic.get("speed_mbps")]
    if speeds:
        return max(speeds), "the fastest link is up at %s" % rate(max(speeds))
    return assumed, "no link reports its speed (virtual NICs), so %s is assumed" % rate(assumed)


def rate(mbps):
    return "%g Gbit/s" % (mbps / 1000.0) if mbps >= 1000 else "%d Mbit/s" % mbps


def mib(size):
    return "%.0f MiB" % (size / 1048576.0) if size >= 1048576 else "%.0f KiB" % (size / 1024.0)


def tcp_buffers(plan, facts, spec):
    """Socket buffer maxima from bandwidth x RTT, never below the kernel's default, capped by memory."""
    speed, why = link_speed(facts, spec.get("assumed_speed_mbps", 10000))
    rtt = spec.get("target_rtt_ms", 20)
    bdp = int(speed * 1e6 / 8 * rtt / 1000.0)
    memory = (facts.get("memory") or {}).get("total_kb", 0) * 1024
    cap = int(memory * spec.get("memory_share", 0.02)) if memory else INT_MAX
    size = min(max(bdp * TCP_OVERHEAD, KERNEL_DEFAULT_TCP_MAX), cap, INT_MAX)
    reason = "%s; BDP %s x %g ms = %s, x%d for TCP overhead" % (why, rate(speed), rtt, mib(bdp), TCP_OVERHEAD)
    if size == cap and cap < bdp * TCP_OVERHEAD:
        reason += ", capped at %g%% of %s memory" % (spec.get("memory_share", 0.02) * 100, mib(memory))
    risk = "medium" if size > 64 * 1048576 else "low"
    for key, value, why in (("net.core.rmem_max", str(size), reason), ("net.core.wmem_max", str(size), reason),
                            ("net.ipv4.tcp_rmem", "4096 131072 %d" % size,
                             reason + "; autotuning may grow a receive window that far"),
                            ("net.ipv4.tcp_wmem", "4096 16384 %d" % size, reason + "; the send side likewise")):
        current = sysctl_current(facts, key)
        if current and int(current.split()[-1]) > size and not spec.get("shrink"):
            # A larger maximum someone chose costs nothing unused; shrinking it is the profile's call.
            plan.notes.append("%s: %s is already above the planned %d; kept (set tcp_buffers.shrink to lower it)"
                              % (key, current.split()[-1], size))
            continue
        plan.add("sysctl:" + key, value, current, why, risk)


def backlog(plan, facts, spec):
    """Packets a core's backlog must hold to absorb a burst of burst_ms at line rate."""
    speed, why = link_speed(facts, spec.get("assumed_speed_mbps", 10000))
    burst = spec.get("burst_ms", 4)
    packets = int(speed * 1e6 / 8 / MTU_PACKET * burst / 1000.0)
    value = min(max(packets, 1000), 262144)
    plan.add("sysctl:net.core.netdev_max_backlog", str(value), sysctl_current(facts, "net.core.netdev_max_backlog"),
             "%s; a %g ms burst of %d-byte packets is %d packets (at least the default 1000)"
             % (why, burst, MTU_PACKET, packets), "low")


def congestion_control(plan, facts, algorithm=None, qdisc=None, fallback="keep", source="profile"):
    """The algorithm and the qdisc where this kernel has them (loading their modules); a note where it has not.

    A selector is fleet-wide, so a kernel without the algorithm keeps its own
    and says so; naming sysctl:net.ipv4.tcp_congestion_control exactly is the
    way to fail instead.
    """
    kernel = facts.get("kernel") or {}
    if algorithm and not _algorithm(plan, kernel, algorithm, source) and algorithm in SELF_PACING and qdisc == "fq":
        qdisc = None  # fq was asked for BBR's sake
    if qdisc:
        _qdisc(plan, kernel, qdisc, fallback, algorithm, source)


def _algorithm(plan, kernel, algorithm, source):
    module = "tcp_" + algorithm
    state = (kernel.get("modules") or {}).get(module)
    stays = "congestion control stays %s" % kernel.get("tcp_congestion_control")
    if not (kernel.get("tcp_congestion_controls") or {}).get(algorithm):
        plan.notes.append("tcp_congestion_control %s: not available on kernel %s (available: %s; module %s: %s); %s"
                          % (algorithm, kernel.get("release"),
                             ", ".join(kernel.get("tcp_congestion_controls_available") or ()) or "unknown",
                             module, state or "unknown", stays))
        return False
    allowed = kernel.get("tcp_congestion_controls_allowed") or ()
    if kernel.get("initial_network_namespace") is False and algorithm not in allowed:
        # The kernel answers EPERM outside the initial namespace for these.
        plan.notes.append("tcp_congestion_control %s: not allowed in this network namespace (allowed: %s); %s"
                          % (algorithm, ", ".join(allowed), stays))
        return False
    if state not in MODULE_PRESENT and algorithm not in (kernel.get("tcp_congestion_controls_available") or ()) \
            and not plan.add("module:" + module, "loaded", state, "%s is built as a module; load it now and at boot"
                             % algorithm, "low", source):
        plan.notes.append("tcp_congestion_control %s: its module %s is not loaded, and loading one is the "
                          "machine's; %s" % (algorithm, module, stays))
        return False
    return plan.add("sysctl:net.ipv4.tcp_congestion_control", algorithm, kernel.get("tcp_congestion_control"),
                    REASONS.get(algorithm, "asked for by the %s" % source), "medium", source)


def _qdisc(plan, kernel, qdisc, fallback, algorithm, source):
    if kernel.get("initial_network_namespace") is False:
        plan.notes.append("default_qdisc %s: net.core.default_qdisc is the machine's, registered only in its initial "
                          "network namespace, not in this one; left as the host has it" % qdisc)
        return
    qdiscs = kernel.get("qdiscs") or {}
    chosen = qdisc
    if not qdiscs.get(qdisc):
        why = "qdisc %s does not exist on kernel %s" % (qdisc, kernel.get("release"))
        if fallback == "fail":
            plan.errors.append("default_qdisc %s: %s (default_qdisc_fallback is fail)" % (qdisc, why))
            return
        if fallback == "keep" or not qdiscs.get(fallback):
            plan.notes.append("%s%s: default_qdisc stays %s%s" % (
                why, "" if fallback == "keep" else ", nor does the fallback %s" % fallback, kernel.get("default_qdisc"),
                " (BBR paces by itself since 4.13)" if algorithm in SELF_PACING else ""))
            return
        plan.notes.append("%s: default_qdisc set to the fallback %s" % (why, fallback))
        chosen = fallback
    state = (kernel.get("modules") or {}).get("sch_" + chosen)
    if state == "available" and not plan.add("module:sch_" + chosen, "loaded", state,
                                             "%s is built as a module; load it now and at boot" % chosen, "low",
                                             source):
        return
    if plan.add("sysctl:net.core.default_qdisc", chosen, kernel.get("default_qdisc"),
                REASONS.get(chosen, "asked for by the %s" % source), "low", source):
        _root_qdiscs(plan, kernel, chosen, source)


def _root_qdiscs(plan, kernel, chosen, source):
    """Interfaces already up keep the root they got when they came up; re-attach them, as a boot would."""
    roots = kernel.get("root_qdiscs")
    if roots is None:
        plan.notes.append("root qdiscs: unknown (tc did not answer when the host was detected); tune re-attaches "
                          "the interfaces already up to %s on the host, and refuses the default there without tc"
                          % chosen)
        return
    for device, state in sorted(roots.items()):
        if state == chosen:
            continue
        why = why_not_reattached(state)
        if why is None:
            plan.add("qdisc:" + device, chosen, state, "its root is the %s it got when it came up; re-attached to "
                     "%s now, as the next boot would have it" % (state, chosen), "low", source)
        elif state.startswith(CONFIGURED):
            plan.notes.append("qdisc:%s: %s" % (device, why))


def _profile_congestion_control(plan, facts, spec):
    congestion_control(plan, facts, spec.get("algorithm"), spec.get("qdisc"))


TCP_BUFFERS = Section("tcp_buffers", tcp_buffers, {"target_rtt_ms": POSITIVE, "assumed_speed_mbps": POSITIVE,
                                                   "memory_share": SHARE, "shrink": FLAG})
BACKLOG = Section("backlog", backlog, {"burst_ms": POSITIVE, "assumed_speed_mbps": POSITIVE})
CONGESTION_CONTROL = Section("congestion_control", _profile_congestion_control, {"algorithm": TEXT, "qdisc": TEXT})
