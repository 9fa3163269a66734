# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CPU rules: the governor and energy-performance preference a profile prefers, where offered, and how long a
CPU may take to wake up (its PM QoS resume latency, which keeps the idle governor out of deeper states)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostperf.tuning.plugins.module_utils.host.cpulist import parse_cpulist
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.plan import CHOICES, POSITIVE, Section


def cpu(plan, facts, spec):
    cpufreq(plan, facts, spec)
    if spec.get("wakeup_latency_us"):
        wakeup_latency(plan, facts, spec["wakeup_latency_us"])


def wakeup_latency(plan, facts, microseconds):
    """Every CPU the host may use gets this resume latency, the daemon-free form of tuned's force_latency."""
    facts_cpu = facts.get("cpu") or {}
    current = facts_cpu.get("resume_latency_us")
    states = facts_cpu.get("idle_states") or []
    if current is None or not states:
        plan.notes.append("no cpuidle states or PM QoS here (%s): wakeup latency left alone"
                          % (facts_cpu.get("idle_driver") or "no idle driver"))
        return
    deeper = [state["name"] for state in states if (state.get("latency_us") or 0) > microseconds]
    for number in facts_cpu.get("allowed_list") or []:
        now = current if not isinstance(current, dict) else next(
            (value for value, cpus in current.items() if number in parse_cpulist(cpus)), None)
        plan.add("cpu:%d:pm_qos_resume_latency_us" % number, microseconds, now,
                 "wake up within %d us: the idle governor keeps out of %s; costs power and the turbo headroom "
                 "idle siblings give" % (microseconds, ", ".join(deeper) or "no state here (all are shallower)"),
                 "medium")


def cpufreq(plan, facts, spec):
    """The first governor and energy-performance preference of the profile's lists that every policy offers."""
    clock = (facts.get("cpu") or {}).get("cpufreq")
    if not clock:
        plan.notes.append("no cpufreq here (a VM, or firmware owns the clock): governor left alone")
        return
    for setting, offered_key, current_key, identity in (
            ("governor", "governors_available", "governor", "cpufreq:scaling_governor"),
            ("energy_performance_preference", "energy_performance_available", "energy_performance_preference",
             "cpufreq:energy_performance_preference")):
        choices = spec.get(setting) or []
        offered = clock.get(offered_key) or []
        chosen = [choice for choice in choices if choice in offered]
        if choices and not chosen:
            plan.notes.append("cpufreq %s: none of %s is offered (%s)"
                              % (setting, ", ".join(choices), ", ".join(offered) or "none"))
        if chosen:
            current = clock.get(current_key) or {}
            plan.add(identity, chosen[0], list(current)[0] if len(current) == 1 else None,
                     "%s: %s" % (setting, "full clock for throughput and latency; costs power" if chosen[0] ==
                                 "performance" else "scales with load, first of %s offered" % ", ".join(choices)),
                     "medium" if chosen[0] == "performance" else "low")


CPU = Section("cpu", cpu, {"governor": CHOICES, "energy_performance_preference": CHOICES,
                           "wakeup_latency_us": POSITIVE})
