# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lines an operator reviews before a change: the host's own check of the request, explained by the plan.

The changes listed are the ones tune's check mode reported, not the planner's
guess, so the review names exactly what apply would write; the plan adds the
reason and risk of every setting it made.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.identity import split_identity
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.irq import irq_facts


def review_lines(check, plan, facts=None):
    """["profile P: N of M settings would change", notes..., "identity (device): before -> after  [risk] reason",
    "files: ...", how the change would be measured]"""
    if (check or {}).get("unreachable"):
        raise ValueError("the host was lost before it answered: %s" % check.get("msg"))
    settings = (check or {}).get("settings") or []
    entries = dict((entry["identity"], entry) for entry in (plan or {}).get("entries") or [])
    changing = [item for item in settings if item.get("changed")]
    lines = ["%s: %d of %d settings would change" % (
        "profile %s" % plan["profile"] if (plan or {}).get("profile") else "overrides only",
        len(changing), len(settings))]
    lines += list((plan or {}).get("notes") or []) + list((check or {}).get("notes") or [])
    irqs = (facts or {}).get("irqs") or {}
    for item in changing:
        entry = entries.get(item["identity"]) or _unplanned(item["identity"])
        lines.append("%s: %s -> %s  [%s] %s" % (
            describe(item["identity"], irqs), _shown(item.get("before")), _shown(item.get("after")), entry["risk"],
            entry["reason"]))
    files = (check or {}).get("files") or []
    if files:
        verbs = {"created": "would create", "updated": "would update", "removed": "would remove"}
        lines.append("files: " + ", ".join("%s %s" % (verbs.get(item.get("action"), "would change"), item["path"])
                                           for item in files))
    pairs = (check or {}).get("pairs")
    if changing and pairs:
        lines.append("can be measured in pairs (before and after switched trial by trial)" if pairs.get("possible")
                     else "can be measured only in blocks (a baseline, then after): %s" % pairs.get("reason"))
    return lines


def _unplanned(identity):
    """What the host added to the plan: a module another setting needs, or a value the kernel couples to one."""
    if split_identity(identity)[0] == "module":
        return dict(risk="low", reason="loaded first: a planned setting needs it")
    return dict(risk="?", reason="the host adds it: the kernel changes it with a planned setting")


def describe(identity, irqs):
    """An IRQ identity with the device and queue its number stands for on this host (numbers change at boot)."""
    kind, number = split_identity(identity)
    if kind != "irq":
        return identity
    facts = irq_facts(irqs, number)
    name = facts.get("name")
    owners = [owner for owner in facts.get("owner") or [] if owner not in (name or "")]
    label = ", ".join([part for part in [name] + owners if part])
    return "%s (%s)" % (identity, label) if label else identity


def _shown(value):
    if value is None:
        return "?"
    if isinstance(value, (list, tuple)):
        return " ".join(str(item) for item in value)
    return value
