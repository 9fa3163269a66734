# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CPU sets as settings take them: a list ("2-3,6"), numbers, or [2, 3]; checked against online CPUs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostperf.tuning.plugins.module_utils.detect.cpu import CPU_DIR, read_cpulist
from ansible_collections.hostperf.tuning.plugins.module_utils.host.cpulist import CpuListError, format_cpulist, parse_cpulist
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import KnobError


def online_cpus(tree):
    return read_cpulist(tree, CPU_DIR + "/online") or []


def possible_cpu_count(tree):
    """Width of the kernel's CPU masks (nr_cpu_ids)."""
    possible = read_cpulist(tree, CPU_DIR + "/possible") or online_cpus(tree)
    return (max(possible) + 1) if possible else 1


def cpu_set(tree, setting, value, allow_empty=False):
    """The CPUs value names, as a list; raises KnobError naming setting when they are not all online."""
    try:
        if isinstance(value, (list, tuple)):
            cpus = parse_cpulist(",".join(str(item) for item in value))
        elif isinstance(value, int) and not isinstance(value, bool):
            cpus = parse_cpulist(str(value))
        elif isinstance(value, str):
            cpus = parse_cpulist(value)
        else:
            raise CpuListError("%r is not a CPU list" % (value,))
    except CpuListError as exc:
        raise KnobError("%s: %s" % (setting, exc))
    if not cpus and not allow_empty:
        raise KnobError("%s: the CPU list is empty" % setting)
    online = online_cpus(tree)
    outside = [cpu for cpu in cpus if cpu not in online]
    if outside:
        raise KnobError("%s: CPU(s) %s are not online (online: %s)"
                        % (setting, format_cpulist(outside), format_cpulist(online)))
    return cpus
