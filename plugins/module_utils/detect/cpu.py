# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CPUs: topology, SMT siblings, isolation, frequency scaling and idle driver."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hostperf.tuning.plugins.module_utils.host.cpulist import (
    CpuListError, format_cpulist, parse_cpulist)

CPU_DIR = "/sys/devices/system/cpu"
_CPU_NAME = re.compile(r"^cpu(\d+)$")


def read_cpulist(tree, path):
    """A CPU list file as numbers; a malformed one is a problem, not a crash."""
    text = tree.read(path)
    if text is None:
        return None
    if text.strip() == "(null)":
        # nohz_full reads "(null)" when the feature is built but not enabled.
        return []
    try:
        return parse_cpulist(text)
    except CpuListError as exc:
        tree.problem(path, str(exc))
        return None


def kernel_cmdline(tree):
    """/proc/cmdline as {name: value}; flags without '=' map to ''."""
    params = {}
    for token in (tree.read("/proc/cmdline") or "").split():
        if token == "--":
            break
        name, dummy, value = token.partition("=")
        params[name] = value
    return params


def _cmdline_cpus(tree, params, name):
    """CPUs named by a boot parameter such as isolcpus=managed_irq,domain,2-5."""
    value = params.get(name)
    if not value:
        return []
    flags = [item for item in value.split(",") if item and not item[0].isdigit()]
    cpus = ",".join(item for item in value.split(",") if item and item[0].isdigit())
    try:
        return parse_cpulist(cpus)
    except CpuListError as exc:
        tree.problem("/proc/cmdline", "%s: %s (flags %s)" % (name, exc, flags))
        return []


def _cpuinfo(tree):
    # Only the first CPU's block: on big hosts the whole file costs IPIs per CPU.
    info = {}
    for line in (tree.read("/proc/cpuinfo", default="", limit=8192) or "").splitlines():
        if not line.strip():
            if info:
                break
            continue
        key, dummy, value = line.partition(":")
        info.setdefault(key.strip(), value.strip())
    return info


def _cpufreq(tree):
    base = CPU_DIR + "/cpufreq"
    policies = [name for name in tree.listdir(base) if name.startswith("policy")]
    if not policies:
        return None
    drivers = set()
    governors = {}
    available = set()
    epp = {}
    epp_available = set()
    for policy in policies:
        path = "%s/%s" % (base, policy)
        cpus = read_cpulist(tree, path + "/affected_cpus") or []
        driver = tree.read(path + "/scaling_driver")
        if driver:
            drivers.add(driver)
        governor = tree.read(path + "/scaling_governor")
        if governor:
            governors.setdefault(governor, []).extend(cpus)
        available.update((tree.read(path + "/scaling_available_governors") or "").split())
        pref = tree.read(path + "/energy_performance_preference")
        if pref:
            epp.setdefault(pref, []).extend(cpus)
            epp_available.update((tree.read(path + "/energy_performance_available_preferences") or "").split())
    return {
        "driver": ",".join(sorted(drivers)) or None,
        "governors_available": sorted(available),
        "governor": {name: format_cpulist(cpus) for name, cpus in governors.items()},
        "energy_performance_preference": {name: format_cpulist(cpus) for name, cpus in epp.items()},
        "energy_performance_available": sorted(epp_available),
        "policies": len(policies),
    }


def detect_cpu(tree):
    online = read_cpulist(tree, CPU_DIR + "/online")
    if online is None:
        online = sorted(int(m.group(1)) for m in map(_CPU_NAME.match, tree.listdir(CPU_DIR)) if m)
    packages = {}
    cores = set()
    sibling_groups = set()
    for cpu in online:
        topo = "%s/cpu%d/topology" % (CPU_DIR, cpu)
        package = tree.read_int(topo + "/physical_package_id", 0)
        core = tree.read_int(topo + "/core_id", cpu)
        die = tree.read_int(topo + "/die_id", 0)
        packages.setdefault(package, []).append(cpu)
        cores.add((package, die, core))
        siblings = read_cpulist(tree, topo + "/thread_siblings_list") or [cpu]
        sibling_groups.add(tuple(sibling for sibling in siblings if sibling in online) or (cpu,))
    params = kernel_cmdline(tree)
    isolated = read_cpulist(tree, CPU_DIR + "/isolated") or _cmdline_cpus(tree, params, "isolcpus")
    nohz_full = read_cpulist(tree, CPU_DIR + "/nohz_full") or _cmdline_cpus(tree, params, "nohz_full")
    info = _cpuinfo(tree)
    smt_control = tree.read(CPU_DIR + "/smt/control")
    threads = max((len(group) for group in sibling_groups), default=1)
    return {
        "online": format_cpulist(online),
        "online_list": online,
        "count": len(online),
        "possible": tree.read(CPU_DIR + "/possible"),
        "sockets": len(packages),
        "packages": {str(package): format_cpulist(cpus) for package, cpus in sorted(packages.items())},
        "cores": len(cores),
        "threads_per_core": threads,
        "smt_active": threads > 1,
        "smt_control": smt_control,
        "siblings": sorted(list(group) for group in sibling_groups),
        "model": info.get("model name") or info.get("cpu model") or info.get("Hardware"),
        "vendor": info.get("vendor_id") or info.get("CPU implementer"),
        "hypervisor_flag": "hypervisor" in info.get("flags", "").split(),
        "isolated": format_cpulist(isolated),
        "nohz_full": format_cpulist(nohz_full),
        "rcu_nocbs": format_cpulist(_cmdline_cpus(tree, params, "rcu_nocbs")),
        "irqaffinity": format_cpulist(_cmdline_cpus(tree, params, "irqaffinity")),
        "cpufreq": _cpufreq(tree),
        "idle_driver": tree.read(CPU_DIR + "/cpuidle/current_driver"),
        "idle_governor": tree.read(CPU_DIR + "/cpuidle/current_governor")
        or tree.read(CPU_DIR + "/cpuidle/current_governor_ro"),
    }
