# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Memory rules: the transparent huge page mode a profile asks for, where the kernel offers it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostperf.tuning.plugins.module_utils.rules.plan import TEXT, Section

REASONS = {
    ("enabled", "never"): "no huge-page faults or khugepaged scans: no compaction stalls in latency-bound work",
    ("enabled", "madvise"): "huge pages only where an application asks for them (madvise), no stalls elsewhere",
    ("enabled", "always"): "huge pages everywhere: fewer TLB misses for large, long-lived heaps",
    ("defrag", "never"): "a fault never waits for compaction; it takes a small page instead",
    ("defrag", "defer"): "compaction in the background (kcompactd), never in the faulting thread",
}


def transparent_hugepages(plan, facts, spec):
    """thp: {enabled: MODE, defrag: MODE} where /sys/kernel/mm/transparent_hugepage offers MODE."""
    thp = (facts.get("memory") or {}).get("thp")
    if not thp:
        plan.notes.append("no transparent huge pages on this kernel: thp left alone")
        return
    for attribute in ("enabled", "defrag"):
        wanted = spec.get(attribute)
        if not wanted:
            continue
        offered = thp.get(attribute + "_options") or []
        if wanted not in offered:
            plan.notes.append("thp %s: %s is not offered (offered: %s); left as %s"
                              % (attribute, wanted, ", ".join(offered), thp.get(attribute)))
            continue
        plan.add("thp:" + attribute, wanted, thp.get(attribute),
                 REASONS.get((attribute, wanted), "asked for by the profile"), "medium")


THP = Section("thp", transparent_hugepages, {"enabled": TEXT, "defrag": TEXT})
