# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CPU frequency rules: the governor and energy-performance preference a profile prefers, where offered."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostperf.tuning.plugins.module_utils.rules.plan import CHOICES, Section


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


CPU = Section("cpu", cpufreq, {"governor": CHOICES, "energy_performance_preference": CHOICES})
