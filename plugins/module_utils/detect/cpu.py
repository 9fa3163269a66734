# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CPUs: topology, SMT siblings, isolation, frequency scaling and idle driver."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hostperf.tuning.plugins.module_utils.host.cpulist import (
    CpuListError, format_cpulist, parse_cpulist, parse_cpumask)

CPU_DIR = "/sys/devices/system/cpu"
_CPU_NAME = re.compile(r"^cpu(\d+)$")


def read_cpulist(tree, path, parse=parse_cpulist):
    """A CPU list (or, with parse_cpumask, mask) file as numbers; a malformed one is a problem, not a crash."""
    text = tree.read(path)
    if text is None:
        return None
    # Some kernels end these files with a NUL: arm64 5.15 cpulists with "\n\0", RHEL 7's nohz_full with "\0\n".
    text = text.strip("\0 \t\n")
    if text == "(null)":
        # nohz_full reads "(null)" when the feature is built but not enabled.
        return []
    try:
        return parse(text)
    except CpuListError as exc:
        tree.problem(path, str(exc))
        return None


def online_cpus(tree):
    """The online CPUs: cpu/online, or on kernels without it every cpuN whose own online file does not say 0."""
    online = read_cpulist(tree, CPU_DIR + "/online")
    if online is not None:
        return online
    present = sorted(int(m.group(1)) for m in map(_CPU_NAME.match, tree.listdir(CPU_DIR)) if m)
    if not present:
        tree.problem(CPU_DIR, "no CPUs: %s is missing or empty (is /sys mounted?)" % CPU_DIR)
    return [cpu for cpu in present if (tree.read("%s/cpu%d/online" % (CPU_DIR, cpu)) or "1").strip("\0 \n") != "0"]


def allowed_cpus(tree):
    """(the CPUs init's cgroup may run on, the file that says so), or (None, None) without a cpuset.

    Init's cgroup is the container's own inside one (its cpuset: docker --cpuset-cpus, a pod's CPU manager) and
    the root, every CPU, on a host. The deepest cpuset file that can be read from there up is the one that holds.
    """
    for text in (tree.read("/proc/1/cgroup"), tree.read("/proc/self/cgroup")):
        for line in (text or "").splitlines():
            fields = line.split(":", 2)
            if len(fields) != 3:
                continue
            if fields[0] == "0" and not fields[1]:
                base, name = "/sys/fs/cgroup", "cpuset.cpus.effective"
            elif "cpuset" in fields[1].split(","):
                base, name = "/sys/fs/cgroup/cpuset", "cpuset.effective_cpus"
            else:
                continue
            parts = fields[2].split("/")
            # ".." is a cgroup outside this cgroup namespace's view: its root is the closest one can read.
            parts = [] if ".." in parts else [part for part in parts if part and part != "."]
            for depth in range(len(parts), -1, -1):
                path = "/".join([base] + parts[:depth] + [name])
                cpus = read_cpulist(tree, path)
                if cpus:
                    return cpus, path
        if text:
            break
    return None, None


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


def _idle(tree, online):
    """The first online CPU's idle states ({state, name, latency_us, disabled}) and every online CPU's PM QoS
    resume latency, as one value when they agree ({"0": "0-63"} otherwise: value to CPUs)."""
    first = online[0] if online else 0
    states = []
    for entry in sorted(tree.listdir("%s/cpu%d/cpuidle" % (CPU_DIR, first)),
                        key=lambda name: int(name[5:]) if name[5:].isdigit() else -1):
        if entry.startswith("state") and entry[5:].isdigit():
            path = "%s/cpu%d/cpuidle/%s" % (CPU_DIR, first, entry)
            states.append({"state": int(entry[5:]), "name": tree.read(path + "/name"),
                           "latency_us": tree.read_int(path + "/latency"),
                           "disabled": tree.read(path + "/disable") == "1"})
    latencies = {}
    for cpu in online:
        value = tree.read("%s/cpu%d/power/pm_qos_resume_latency_us" % (CPU_DIR, cpu))
        if value is not None:
            latencies.setdefault(value.strip(), []).append(cpu)
    resume = None
    if len(latencies) == 1:
        resume = list(latencies)[0]
    elif latencies:
        resume = dict((value, format_cpulist(cpus)) for value, cpus in sorted(latencies.items()))
    return states, resume


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
    online = online_cpus(tree)
    available = set(online)
    packages = {}
    sibling_groups = set()
    for cpu in online:
        topo = "%s/cpu%d/topology" % (CPU_DIR, cpu)
        # -1: the firmware does not say (some VMs and s390x); one unknown package, counted once
        package = max(0, tree.read_int(topo + "/physical_package_id", 0))
        packages.setdefault(package, []).append(cpu)
        siblings = read_cpulist(tree, topo + "/thread_siblings_list")
        if siblings is None:  # kernels before 2.6.27 have only the mask
            siblings = read_cpulist(tree, topo + "/thread_siblings", parse_cpumask)
        sibling_groups.add(tuple(sorted((set(siblings or []) & available) | {cpu})))
    params = kernel_cmdline(tree)
    isolated = read_cpulist(tree, CPU_DIR + "/isolated") or _cmdline_cpus(tree, params, "isolcpus")
    nohz_full = read_cpulist(tree, CPU_DIR + "/nohz_full") or _cmdline_cpus(tree, params, "nohz_full")
    info = _cpuinfo(tree)
    smt_control = tree.read(CPU_DIR + "/smt/control")
    threads = max((len(group) for group in sibling_groups), default=1)
    cpuset, allowed_source = allowed_cpus(tree)
    allowed = [cpu for cpu in online if cpu in set(cpuset or online)]
    idle_states, resume_latency = _idle(tree, online)
    if cpuset and online and not allowed:
        tree.problem(allowed_source, "the cpuset allows CPUs %s, none of them online (%s)"
                     % (format_cpulist(cpuset), format_cpulist(online)))
        allowed = online
    return {
        "online": format_cpulist(online),
        "online_list": online,
        "count": len(online),
        "allowed": format_cpulist(allowed),
        "allowed_list": allowed,
        "allowed_source": allowed_source,
        "possible": tree.read(CPU_DIR + "/possible"),
        "sockets": len(packages),
        "packages": {str(package): format_cpulist(cpus) for package, cpus in sorted(packages.items())},
        # a core is a set of SMT siblings: core_id repeats per die (Magny-Cours), is absent (PPC) or means
        # something else (s390x), but the sibling sets are right on every machine the 45 snapshots held
        "cores": len(sibling_groups),
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
        "idle_states": idle_states,
        "resume_latency_us": resume_latency,
        "idle_governor": tree.read(CPU_DIR + "/cpuidle/current_governor")
        or tree.read(CPU_DIR + "/cpuidle/current_governor_ro"),
    }
