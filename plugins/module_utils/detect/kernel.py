# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel: release, TCP congestion controls, qdiscs, modules, sysctls profiles read.

Which qdiscs and congestion controls exist is not listed anywhere in /proc:
the answer combines /proc/modules, /sys/module, the kernel config
(/proc/config.gz or /boot/config-*) and the modules directory, and says
"unknown" when none of them can tell.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gzip
import re

from ansible_collections.hostperf.tuning.plugins.module_utils.detect.environment import network_namespace
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.sysctl_files import set_after, sysctl_conf
from ansible_collections.hostperf.tuning.plugins.module_utils.host import tc
from ansible_collections.hostperf.tuning.plugins.module_utils.host.names import InvalidName, sysctl_path
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.scope import INITIAL
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.sysctl import SYSCTL_FILE

# module -> CONFIG_ option that builds it
MODULES_OF_INTEREST = {
    "tcp_bbr": "CONFIG_TCP_CONG_BBR",
    "tcp_cubic": "CONFIG_TCP_CONG_CUBIC",
    "tcp_htcp": "CONFIG_TCP_CONG_HTCP",
    "tcp_dctcp": "CONFIG_TCP_CONG_DCTCP",
    "sch_fq": "CONFIG_NET_SCH_FQ",
    "sch_fq_codel": "CONFIG_NET_SCH_FQ_CODEL",
    "sch_cake": "CONFIG_NET_SCH_CAKE",
    "sch_netem": "CONFIG_NET_SCH_NETEM",
    "sch_htb": "CONFIG_NET_SCH_HTB",
    "sch_tbf": "CONFIG_NET_SCH_TBF",
    "null_blk": "CONFIG_BLK_DEV_NULL_BLK",
}
PROFILE_SYSCTLS = (
    "kernel.numa_balancing", "kernel.sched_autogroup_enabled",
    "net.core.busy_poll", "net.core.busy_read", "net.core.default_qdisc",
    "net.core.netdev_budget", "net.core.netdev_budget_usecs", "net.core.netdev_max_backlog",
    "net.core.optmem_max", "net.core.rmem_default", "net.core.rmem_max", "net.core.somaxconn",
    "net.core.wmem_default", "net.core.wmem_max",
    "net.ipv4.ip_local_port_range", "net.ipv4.tcp_congestion_control", "net.ipv4.tcp_ecn",
    "net.ipv4.tcp_fastopen", "net.ipv4.tcp_max_syn_backlog", "net.ipv4.tcp_mem", "net.ipv4.tcp_mtu_probing",
    "net.ipv4.tcp_no_metrics_save", "net.ipv4.tcp_notsent_lowat", "net.ipv4.tcp_rmem", "net.ipv4.tcp_sack",
    "net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_timestamps", "net.ipv4.tcp_tw_reuse",
    "net.ipv4.tcp_window_scaling", "net.ipv4.tcp_wmem", "net.ipv4.udp_mem",
    "vm.dirty_background_bytes", "vm.dirty_background_ratio", "vm.dirty_bytes", "vm.dirty_expire_centisecs",
    "vm.dirty_ratio", "vm.dirty_writeback_centisecs", "vm.min_free_kbytes", "vm.overcommit_memory",
    "vm.stat_interval", "vm.swappiness", "vm.vfs_cache_pressure", "vm.zone_reclaim_mode",
)
QDISCS = ("fq", "fq_codel", "cake", "netem", "htb", "tbf")
# Every congestion control the modules directory ships (tcp_vegas, tcp_westwood...), not only those above.
_CONGESTION_MODULE = re.compile(r"^tcp_(?!diag$)[a-z0-9]+$")
_CONFIG_LINE = re.compile(r"^(CONFIG_\w+)=(\S+)|^# (CONFIG_\w+) is not set")


def _kernel_config(tree, release):
    wanted = set(MODULES_OF_INTEREST.values())
    text = None
    source = None
    compressed = tree.read_bytes("/proc/config.gz")
    if compressed is not None:
        try:
            text = gzip.decompress(compressed).decode("utf-8", "replace")
            source = "/proc/config.gz"
        except (OSError, EOFError) as exc:
            tree.problem("/proc/config.gz", "cannot decompress: %s" % exc)
    if text is None and release:
        path = "/boot/config-%s" % release
        text = tree.read(path)
        source = path if text is not None else None
    config = {}
    for line in (text or "").splitlines():
        match = _CONFIG_LINE.match(line)
        if match:
            option = match.group(1) or match.group(3)
            if option in wanted:
                config[option] = match.group(2) or "n"
    return config, source


def module_name(line):
    """'tcp_bbr' from a modules.dep or modules.builtin line such as 'kernel/net/ipv4/tcp_bbr.ko.xz: ...'."""
    path = line.split(":", 1)[0].strip()
    return path.rsplit("/", 1)[-1].split(".ko", 1)[0].replace("-", "_") if path else None


def _module_names(text):
    return set(filter(None, (module_name(line) for line in (text or "").splitlines())))


def _module_states(tree, release, cmdline):
    loaded = set(line.split(" ", 1)[0] for line in (tree.read("/proc/modules", default="") or "").splitlines())
    moddir = "/lib/modules/%s" % release
    has_moddir = bool(release) and tree.isdir(moddir)
    builtin = _module_names(tree.read(moddir + "/modules.builtin")) if has_moddir else set()
    available = _module_names(tree.read(moddir + "/modules.dep")) if has_moddir else set()
    loadable = (has_moddir and tree.read_int("/proc/sys/kernel/modules_disabled", 0) == 0
                and "nomodule" not in cmdline)
    config, config_source = _kernel_config(tree, release)

    def state_of(module, setting):
        if module in loaded:
            return "loaded"
        if module in builtin or setting == "y" or (tree.isdir("/sys/module/" + module) and module not in available):
            return "builtin"
        if module in available:
            return "available" if loadable else "unloadable"
        if setting == "m" and not has_moddir:
            return "unloadable"
        if setting == "n" or has_moddir:
            return "absent"
        return "unknown"

    states = dict((module, state_of(module, config.get(option))) for module, option in MODULES_OF_INTEREST.items())
    for module in sorted(builtin | available | loaded):
        if _CONGESTION_MODULE.match(module) and module not in states:
            states[module] = state_of(module, None)
    return states, {"loadable": loadable, "modules_dir": moddir if has_moddir else None,
                    "config_source": config_source, "loaded_count": len(loaded)}


def _present(state):
    if state in ("loaded", "builtin", "available"):
        return True
    return None if state == "unknown" else False


def read_sysctls(tree, keys):
    values = {}
    for key in keys:
        try:
            path = sysctl_path(key)
        except InvalidName as exc:
            tree.problem(str(key), str(exc))
            continue
        value = tree.read(path)
        if value is not None:
            values[key] = " ".join(value.split())
    return values


def _root_qdiscs(tree):
    """{interface: its root as host/tc.py reads it}, or None when tc cannot tell."""
    try:
        return tc.roots(tree)
    except OSError:
        return None


def detect_kernel(tree, extra_sysctls=()):
    release = tree.read("/proc/sys/kernel/osrelease")
    cmdline = tree.read("/proc/cmdline", default="") or ""
    modules, module_info = _module_states(tree, release, cmdline.split())
    ipv4 = "/proc/sys/net/ipv4/"
    available_cc = (tree.read(ipv4 + "tcp_available_congestion_control") or "").split()
    qdiscs = {name: _present(modules.get("sch_" + name, "unknown")) for name in QDISCS}
    qdiscs["pfifo_fast"] = True
    default_qdisc = tree.read("/proc/sys/net/core/default_qdisc")
    if default_qdisc:
        qdiscs[default_qdisc] = True
    congestion = {name: True for name in available_cc}
    for module, state in modules.items():
        if _CONGESTION_MODULE.match(module):
            congestion.setdefault(module[len("tcp_"):], _present(state))
    return {
        "release": release,
        "version": tree.read("/proc/sys/kernel/version"),
        "cmdline": cmdline,
        "tcp_congestion_control": tree.read(ipv4 + "tcp_congestion_control"),
        "tcp_congestion_controls_available": available_cc,
        "tcp_congestion_controls_allowed": (tree.read(ipv4 + "tcp_allowed_congestion_control") or "").split(),
        "tcp_congestion_controls": congestion,
        "initial_network_namespace": network_namespace(tree) == INITIAL,
        "default_qdisc": default_qdisc,
        "root_qdiscs": _root_qdiscs(tree),
        "qdiscs": qdiscs,
        "modules": modules,
        "module_loading": module_info,
        "sysctl": read_sysctls(tree, tuple(PROFILE_SYSCTLS) + tuple(extra_sysctls)),
        "sysctl_set_after_ours": set_after(tree, SYSCTL_FILE),
        "sysctl_conf": sysctl_conf(tree),
    }
