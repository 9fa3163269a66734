# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A profile's sysctls: constants with their reasons, tuned's ">N" kept where the host already has more."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostperf.tuning.plugins.module_utils.rules.plan import at_least, sysctl_current


def profile_sysctl(plan, facts, key, spec):
    """A profile's constant {value, reason, risk}; ">N" only raises."""
    if not isinstance(spec, dict) or "value" not in spec:
        plan.errors.append("profile sysctl %s: needs value, reason and risk" % key)
        return
    value = spec["value"]
    if isinstance(value, (list, tuple)):
        value = " ".join(str(item) for item in value)
    current = sysctl_current(facts, key)
    value, keep = at_least(value, current)
    if keep:
        plan.notes.append("sysctl %s: already %s, at least %s asked; kept" % (key, current, value))
        return
    plan.add("sysctl:%s" % key, value, current, spec.get("reason") or "set by the profile", spec.get("risk", "low"))
