"""How fast detection is: module-side on this machine and on a 256-CPU fixture,
and whole ad-hoc runs of host_facts beside `ansible -m setup` on the same host.

    make perf          (or: PYTHONPATH=.build .venv/bin/python tests/perf/detect_speed.py)

Prints medians of interleaved repeats; the goal is each module-side figure
well under 0.25 s. Figures are for comparing side by side in one run, not
absolute: these machines are shared and noisy.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from ansible_collections.hostperf.tuning.plugins.module_utils.host.capture import materialize
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.host import detect_host
from ansible_collections.hostperf.tuning.plugins.module_utils.host.hosttree import HostTree

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "unit", "fixtures"))

import synthesize  # noqa: E402  (needs the collection importable first)

REPEATS = int(os.environ.get("HOSTPERF_PERF_REPEATS", "15"))
ADHOC_REPEATS = int(os.environ.get("HOSTPERF_PERF_ADHOC_REPEATS", "5"))


def timed(func):
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def adhoc(module, args=""):
    command = [os.path.join(os.path.dirname(sys.executable), "ansible"), "localhost", "-c", "local",
               "-e", "ansible_python_interpreter=%s" % sys.executable, "-m", module]
    if args:
        command += ["-a", args]
    return lambda: subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)


def main():
    large_root = tempfile.mkdtemp(prefix="hostperf-large-")
    materialize(synthesize.large().export("benchmark"), large_root)
    facts = detect_host(HostTree(large_root))
    shape = "%d CPUs, %d nodes, %d NICs, %d IRQs" % (facts["cpu"]["count"], facts["numa"]["node_count"],
                                                     len(facts["nics"]), len(facts["irqs"]))
    cases = {
        "module-side, this machine": lambda: detect_host(HostTree("/")),
        "module-side, this machine, no ethtool": lambda: detect_host(HostTree("/"), use_ethtool=False),
        "module-side, large fixture (%s)" % shape: lambda: detect_host(HostTree(large_root)),
    }
    samples = {name: [] for name in cases}
    for dummy in range(REPEATS):
        for name, func in cases.items():
            samples[name].append(timed(func))
    adhoc_cases = {
        "ansible -m hostperf.tuning.host_facts": adhoc("hostperf.tuning.host_facts"),
        "ansible -m ansible.builtin.setup": adhoc("ansible.builtin.setup"),
    }
    adhoc_samples = {name: [] for name in adhoc_cases}
    for dummy in range(ADHOC_REPEATS):
        for name, func in adhoc_cases.items():
            adhoc_samples[name].append(timed(func))
    print("detection speed (median of %d, interleaved; goal: module-side < 0.250 s)" % REPEATS)
    for name, values in samples.items():
        print("  %-70s %8.4f s  (min %.4f, max %.4f)" % (name, statistics.median(values), min(values), max(values)))
    print("whole ad-hoc run on localhost (median of %d, interleaved)" % ADHOC_REPEATS)
    medians = {name: statistics.median(values) for name, values in adhoc_samples.items()}
    for name, value in medians.items():
        print("  %-70s %8.3f s" % (name, value))
    ours, setup = medians.values()
    print("  ratio host_facts / setup: %.2f" % (ours / setup))
    print(json.dumps({"module_side": {k: statistics.median(v) for k, v in samples.items()}, "adhoc": medians}))


if __name__ == "__main__":
    main()
