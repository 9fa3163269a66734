# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Overrides by identity: what the facts can tell about them before the host is asked."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostperf.tuning.plugins.module_utils.host.names import InvalidName, sysctl_key
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import KnobError
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.block import ATTRIBUTES, SCHEDULER_MODULES
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.identity import IdentityError, split_identity
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.registry import KINDS, canonical
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.sysctl import LIMITS
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.irq import irq_facts
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.plan import sysctl_current


def override(plan, facts, identity, value):
    """An exact identity from the inventory: replaces what was planned, null switches it off."""
    try:
        kind, name = split_identity(identity) if isinstance(identity, str) else (None, None)
    except IdentityError:
        kind, name = None, None
    if kind not in KINDS:
        plan.errors.append("override %s: unknown setting (kinds: %s)" % (identity, ", ".join(sorted(KINDS))))
        return
    try:
        # The planner spells every identity one way; an override in another spelling must replace it, not join it.
        identity = canonical(identity)
    except KnobError as exc:
        plan.errors.append("override %s: %s" % (identity, exc))
        return
    if value is None:
        if plan.entries.pop(identity, None) is None:
            plan.notes.append("override %s: switched off, but the profile did not plan it" % identity)
        else:
            plan.notes.append("override %s: switched off" % identity)
        return
    try:
        current = _check_override(facts, kind, KINDS[kind].fields_of(name), value)
    except (KnobError, InvalidName, ValueError, TypeError) as exc:
        plan.errors.append("override %s: %s" % (identity, exc))
        return
    plan.add(identity, value, current, "override from the inventory", "medium", source="override")


def _check_override(facts, kind, fields, value):
    """What the facts can tell before the host is asked; the host's own validation still runs in tune."""
    if kind == "sysctl":
        key = sysctl_key(fields["key"])
        limits = LIMITS.get(key)
        if limits and str(value).lstrip("-").isdigit() and not limits[0] <= int(value) <= limits[1]:
            raise ValueError("%s is out of the kernel's range %d..%d" % (value, limits[0], limits[1]))
        return sysctl_current(facts, key)
    if kind == "block":
        device, attribute = fields["device"], fields["attribute"]
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
        interface = fields["interface"]
        if interface not in (facts.get("nics") or {}) and interface not in (facts.get("virtual_nics") or {}):
            raise ValueError("no interface %s on this host" % interface)
    if kind == "irq":
        irq = irq_facts(facts.get("irqs") or {}, fields["irq"])
        if not irq:
            raise ValueError("no IRQ %s on this host" % fields["irq"])
        if irq.get("managed"):
            raise ValueError("IRQ %s (%s) is kernel-managed" % (fields["irq"], irq.get("name")))
        return irq.get("affinity")
    return None
