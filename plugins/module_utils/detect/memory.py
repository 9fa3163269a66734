# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Memory: totals, swap, huge pages per size, transparent huge pages."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostperf.tuning.plugins.module_utils.host.sysfs import parse_choice

HUGEPAGES_DIR = "/sys/kernel/mm/hugepages"
THP_DIR = "/sys/kernel/mm/transparent_hugepage"


def parse_meminfo(text, prefix=""):
    """{'MemTotal': kB, ...} from /proc/meminfo or a node's meminfo."""
    values = {}
    for line in (text or "").splitlines():
        if prefix and line.startswith(prefix):
            line = line[len(prefix):]
        key, dummy, rest = line.partition(":")
        fields = rest.split()
        if fields and fields[0].isdigit():
            values[key.strip()] = int(fields[0])
    return values


def detect_memory(tree):
    info = parse_meminfo(tree.read("/proc/meminfo", default=""))
    hugepages = {}
    for entry in tree.listdir(HUGEPAGES_DIR):
        if not entry.startswith("hugepages-"):
            continue
        path = "%s/%s" % (HUGEPAGES_DIR, entry)
        hugepages[entry[len("hugepages-"):]] = {
            "total": tree.read_int(path + "/nr_hugepages"),
            "free": tree.read_int(path + "/free_hugepages"),
            "reserved": tree.read_int(path + "/resv_hugepages"),
            "surplus": tree.read_int(path + "/surplus_hugepages"),
        }
    thp_enabled, thp_enabled_options = parse_choice(tree.read(THP_DIR + "/enabled"))
    thp_defrag, thp_defrag_options = parse_choice(tree.read(THP_DIR + "/defrag"))
    return {
        "total_kb": info.get("MemTotal"),
        "free_kb": info.get("MemFree"),
        "available_kb": info.get("MemAvailable"),
        "swap_total_kb": info.get("SwapTotal"),
        "swap_free_kb": info.get("SwapFree"),
        "hugepage_size_kb": info.get("Hugepagesize"),
        "hugepages": hugepages,
        "thp": {
            "enabled": thp_enabled,
            "enabled_options": thp_enabled_options,
            "defrag": thp_defrag,
            "defrag_options": thp_defrag_options,
        } if thp_enabled_options else None,
    }
