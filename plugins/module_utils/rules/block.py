# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Block queue settings for one disk by name, or for every disk of a class.

A disk named exactly gets exactly what was asked (tune's knob refuses what it
cannot take). A class is fleet-wide: a scheduler the disk does not offer, an
nr_requests above what the kernel takes for the disk under the scheduler it
will have, or a ">N" value it already exceeds, is a note, not an error.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.block import ATTRIBUTES, SCHEDULER_MODULES, nr_requests_limit
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.plan import AMOUNT, Section, at_least

BLOCK_CLASSES = ("nvme", "ssd", "hdd", "virtual", "emmc", "sdcard", "removable")
SCHEDULER_REASONS = {
    "none": ": the device reorders itself; a scheduler only adds CPU work",
    "mq-deadline": ": bounded latency, merges sequential I/O",
    "bfq": ": fair shares keep a slow disk responsive under mixed load",
    "kyber": ": latency targets for fast devices",
}


def block_queues(plan, facts, request, where, source="profile"):
    """Plan request {device or class, queue setting: value, ...}; where names it in notes and errors."""
    request = dict((key, value) for key, value in request.items() if value is not None)
    device, klass = request.pop("device", None), request.pop("class", None)
    if bool(device) == bool(klass):
        plan.errors.append("%s: give exactly one of device or class" % where)
        return
    unknown = sorted(set(request) - set(ATTRIBUTES))
    if unknown:
        plan.errors.append("%s: unknown queue setting(s) %s (known: %s)"
                           % (where, ", ".join(unknown), ", ".join(sorted(ATTRIBUTES))))
        return
    disks = facts.get("block") or {}
    if device:
        for attribute, value in sorted(request.items()):
            plan.add("block:%s:%s" % (device, attribute), value, (disks.get(device) or {}).get(attribute),
                     "%s names disk %s" % (where, device), "low", source)
        return
    if klass not in BLOCK_CLASSES:
        plan.errors.append("%s: unknown class %r (known: %s)" % (where, klass, ", ".join(BLOCK_CLASSES)))
        return
    if not by_class(plan, facts, klass, request, source, where):
        plan.notes.append("%s: no %s disk on this host; nothing to do" % (where, klass))


def by_class(plan, facts, klass, wanted, source="profile", where=None):
    """Plan wanted {queue setting: value} on every disk of class klass; the number of such disks.

    where names the selector in each reason (a profile's class speaks for itself).
    """
    loadable = ((facts.get("kernel") or {}).get("module_loading") or {}).get("loadable")
    disks = sorted((name, disk) for name, disk in (facts.get("block") or {}).items() if disk.get("class") == klass)
    for name, disk in disks:
        _disk(plan, name, disk, wanted, loadable, source, where)
    return len(disks)


def _disk(plan, name, disk, wanted, loadable, source, where):
    scheduler = disk.get("scheduler")
    for attribute, value in sorted(wanted.items(), key=lambda item: (item[0] != "scheduler", item[0])):
        reason = "%s%s disk (%s)" % (where + ": " if where else "", disk.get("class"),
                                     disk.get("model") or disk.get("transport") or "?")
        if attribute == "scheduler":
            offered = disk.get("schedulers") or []
            if value not in offered and not (loadable and value in SCHEDULER_MODULES):
                plan.notes.append("%s: scheduler %s is not offered (offered: %s); left as %s"
                                  % (name, value, ", ".join(offered), disk.get("scheduler")))
                continue
            reason += SCHEDULER_REASONS.get(value, "")
            if value not in offered:
                reason += " (module %s is loaded first)" % SCHEDULER_MODULES[value]
            scheduler = value
        value, keep = at_least(value, disk.get(attribute))
        if keep:
            plan.notes.append("%s: %s is already %s, at least %s asked; kept"
                              % (name, attribute, disk.get(attribute), value))
            continue
        limit, why = nr_requests_limit(scheduler, disk.get("hw_tag_depth"))
        if attribute == "nr_requests" and limit is not None and re.match(r"[0-9]+\Z", str(value)) \
                and int(value) > limit:
            plan.notes.append("%s: nr_requests %s is above what the kernel takes, %d, %s; left as %s"
                              % (name, value, limit, why, disk.get(attribute)))
            continue
        if attribute == "read_ahead_kb":
            pattern = "sequential streams on a seek-bound disk" if disk.get("class") == "hdd" else "its access pattern"
            reason += ": read-ahead sized for %s" % pattern
        plan.add("block:%s:%s" % (name, attribute), str(value), disk.get(attribute), reason, "low", source)


def _profile_block(plan, facts, classes):
    for klass, wanted in sorted(classes.items()):
        by_class(plan, facts, klass, wanted or {})


BLOCK = Section("block", _profile_block, dict((klass, dict((attribute, AMOUNT) for attribute in ATTRIBUTES))
                                              for klass in BLOCK_CLASSES))
