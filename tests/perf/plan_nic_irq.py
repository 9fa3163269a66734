"""How long planning NIC and IRQ settings takes on a big host, beside planning sysctls alone.

    make perf-plan     (or: PYTHONPATH=.build .venv/bin/python tests/perf/plan_nic_irq.py)

On the 256-CPU fixture (16 mlx5 ports x 64 queues, 1,000+ IRQs) tune runs in
check mode with: (a) 20 sysctls; (b) the same plus max rings, GRO and local
RPS on every mlx5 port and NUMA-local placement of all their IRQs. ethtool
answers from the capture, so the figures are the module's own work. Prints
medians of interleaved repeats and their ratio; the goal is (b) under 2 s.
"""

import json
import os
import statistics
import sys
import tempfile
import time

from ansible_collections.hostperf.tuning.plugins.module_utils.host.capture import materialize
from ansible_collections.hostperf.tuning.plugins.module_utils.host.hosttree import HostTree
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import Journal
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.module_api import tune

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "unit", "fixtures"))

import synthesize  # noqa: E402  (needs the collection importable first)

REPEATS = int(os.environ.get("HOSTPERF_PERF_REPEATS", "7"))
SYSCTLS = {"net.core.somaxconn": 8192, "net.core.netdev_max_backlog": 16384, "net.core.rmem_max": 67108864,
           "net.core.wmem_max": 67108864, "net.ipv4.tcp_rmem": "4096 87380 67108864",
           "net.ipv4.tcp_wmem": "4096 65536 67108864", "net.ipv4.tcp_mtu_probing": 1,
           "net.ipv4.tcp_slow_start_after_idle": 0, "net.ipv4.tcp_fastopen": 3, "vm.swappiness": 10,
           "vm.dirty_ratio": 10, "vm.dirty_background_ratio": 5, "net.core.busy_poll": 50, "net.core.busy_read": 50,
           "net.ipv4.tcp_max_syn_backlog": 8192, "vm.min_free_kbytes": 131072, "kernel.numa_balancing": 0,
           "net.core.rmem_default": 262144, "net.core.wmem_default": 262144, "vm.zone_reclaim_mode": 0}


def plan(root, params):
    tree = HostTree(root)
    start = time.perf_counter()
    result = tune(tree, Journal(tree, tempfile.mkdtemp()), params, check_mode=True)
    return time.perf_counter() - start, len(result["settings"])


def main():
    with tempfile.TemporaryDirectory() as work:
        capture = json.loads(json.dumps(synthesize.large().export("benchmark")))
        root = materialize(capture, os.path.join(work, "large"))
        ports = sorted(name for name in os.listdir(root + "/sys/class/net") if name.startswith("ens"))
        sysctl_only = {"sysctl": SYSCTLS}
        everything = {"sysctl": SYSCTLS,
                      "nic": [{"driver": "mlx5_core", "rings": {"rx": "max", "tx": "max"},
                               "features": {"gro": "on"}, "rps": "local"}],
                      "irq_affinity": [{"interface": port} for port in ports]}
        times = {"sysctls": [], "with NICs and IRQs": []}
        counts = {}
        for dummy in range(REPEATS):
            for label, params in (("sysctls", sysctl_only), ("with NICs and IRQs", everything)):
                seconds, counts[label] = plan(root, params)
                times[label].append(seconds)
        for label, samples in times.items():
            print("%-20s %4d settings  median %.3f s  (min %.3f, max %.3f)" % (
                label, counts[label], statistics.median(samples), min(samples), max(samples)))
        print("ratio: %.1fx the time for %.0fx the settings" % (
            statistics.median(times["with NICs and IRQs"]) / statistics.median(times["sysctls"]),
            counts["with NICs and IRQs"] / float(counts["sysctls"])))


if __name__ == "__main__":
    main()
