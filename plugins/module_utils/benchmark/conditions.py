# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a trial ran under, and when that makes it a measurement of something other than the host.

A trial during which the hypervisor took the CPUs away (stolen time) or
other work crowded the host (load far above the run's usual) measured the
neighbours, not the change. Such a trial is re-run; a metric that only
scales with the CPU time it got (``cpu_bound``) is instead normalised by the
share that was not stolen, which needs no second trial. A trial still
disturbed after its re-runs is kept and marked, so the gate can say the host
was too busy to judge rather than blame the change.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.suite import BenchmarkError, finite
from ansible_collections.hostperf.tuning.plugins.module_utils.host.cpulist import CpuListError, parse_cpulist
from ansible_collections.hostperf.tuning.plugins.module_utils.stats.rank import median

# Past this share stolen, scaling a CPU-bound figure back up guesses more than it corrects: re-run instead.
NORMALISE_LIMIT_PCT = 50.0
DEFAULTS = dict(max_steal_pct=5.0, max_load=None, reruns=2)


class Conditions:
    """Load, CPU frequency and stolen time around a trial, read from /proc and /sys."""

    def __init__(self, tree):
        self.tree = tree

    def cpu_times(self, cpus=None):
        """user nice system idle iowait irq softirq steal, summed over cpus (None: the whole host)."""
        wanted = None if cpus is None else set("cpu%d" % cpu for cpu in cpus)
        total = None
        for line in (self.tree.read("/proc/stat", "") or "").splitlines():
            fields = line.split()
            if not fields or not fields[0].startswith("cpu"):
                continue
            if (fields[0] == "cpu") != (wanted is None) or wanted is not None and fields[0] not in wanted:
                continue
            values = [int(value) for value in fields[1:9]] + [0] * (8 - len(fields[1:9]))
            total = values if total is None else [a + b for a, b in zip(total, values)]
        return total

    def online(self):
        """How many CPUs are online (1 when the host does not say)."""
        try:
            cpus = parse_cpulist(self.tree.read("/sys/devices/system/cpu/online", "") or "")
        except CpuListError:
            cpus = []
        if not cpus:
            cpus = [line for line in (self.tree.read("/proc/stat", "") or "").splitlines()
                    if line.startswith("cpu") and line[3:4].isdigit()]
        return max(1, len(cpus))

    def cpu_mhz(self):
        speeds = []
        for cpu in self.tree.listdir("/sys/devices/system/cpu"):
            khz = self.tree.read_int("/sys/devices/system/cpu/%s/cpufreq/scaling_cur_freq" % cpu)
            if cpu.startswith("cpu") and cpu[3:].isdigit() and khz:
                speeds.append(khz / 1000.0)
        if not speeds:
            for line in (self.tree.read("/proc/cpuinfo", "") or "").splitlines():
                if line.startswith("cpu MHz"):
                    speeds.append(float(line.split(":")[1]))
        return round(sum(speeds) / len(speeds), 1) if speeds else None

    def load1(self):
        text = self.tree.read("/proc/loadavg", "") or ""
        return float(text.split()[0]) if text.split() else None

    @staticmethod
    def shares(before, after):
        """Busy and stolen CPU time during the trial, in percent of all CPU time."""
        if not before or not after:
            return None, None
        delta = [b - a for a, b in zip(before, after)]
        total = sum(delta)
        if total <= 0:
            return None, None
        idle = delta[3] + delta[4]
        return round(100.0 * (total - idle) / total, 1), round(100.0 * delta[7] / total, 1)


class Disturbance:
    """The limits a trial's conditions must stay within to count, and what happens to one that does not.

    The load limit is max_load when given (the run after a change gets its
    baseline's, so both blocks are held to one standard); otherwise the
    median load at the end of the run's earlier trials plus a margin of half
    the CPUs (at least one whole CPU's worth of work): the benchmark's own
    load is in the median, so only load beyond it counts.
    """

    def __init__(self, max_steal_pct=5.0, max_load=None, reruns=2, cpus=1):
        self.max_steal_pct, self.max_load, self.reruns = max_steal_pct, max_load, reruns
        self.margin = max(1.0, cpus / 2.0)

    @classmethod
    def from_options(cls, options, cpus):
        options = dict(DEFAULTS, **dict((key, value) for key, value in (options or {}).items() if value is not None))
        unknown = sorted(set(options) - set(DEFAULTS))
        if unknown:
            raise BenchmarkError("conditions: unknown option(s) %s; it takes %s" % (
                ", ".join(unknown), ", ".join(sorted(DEFAULTS))))
        steal, load, reruns = options["max_steal_pct"], options["max_load"], options["reruns"]
        if not finite(steal) or not 0 <= steal < 100:
            raise BenchmarkError("conditions: max_steal_pct must be a percentage from 0 up to 100, not %r" % (steal,))
        if load is not None and (not finite(load) or load <= 0):
            raise BenchmarkError("conditions: max_load must be a load average above 0, not %r" % (load,))
        if isinstance(reruns, bool) or not isinstance(reruns, int) or not 0 <= reruns <= 10:
            raise BenchmarkError("conditions: reruns must be a whole number from 0 to 10, not %r" % (reruns,))
        return cls(float(steal), None if load is None else float(load), reruns, cpus)

    def load_limit(self, records):
        if self.max_load is not None:
            return self.max_load
        loads = [record["load1_end"] for record in records
                 if record.get("load1_end") is not None and not record.get("discarded")]
        return round(median(loads) + self.margin, 2) if loads else None

    def reason(self, suite, record, records):
        """Why this trial measured the neighbours (None when it counts); records are the run's earlier trials."""
        steal, load, limit = record.get("steal_pct"), record.get("load1_end"), self.load_limit(records)
        ceiling = NORMALISE_LIMIT_PCT if _cpu_bound(suite) else self.max_steal_pct
        if steal is not None and steal > ceiling:
            return "%.1f%% of its CPU time was stolen (limit %.1f%%)" % (steal, ceiling)
        if load is not None and limit is not None and load > limit:
            return "load %.2f at its end, above %.2f" % (load, limit)
        return None

    @staticmethod
    def normalise(suite, values, record):
        """CPU-bound values scaled to the CPU time the trial was given; {metric: factor} of what was scaled."""
        steal = record.get("steal_pct") or 0.0
        if steal <= 0:
            return {}
        factors = {}
        for name, spec in suite.metric_specs().items():
            if spec.get("cpu_bound") and name in values:
                factor = 1.0 / (1.0 - steal / 100.0) if spec["better"] == "higher" else 1.0 - steal / 100.0
                values[name] *= factor
                factors[name] = round(factor, 4)
        return factors

    def summary(self, records, side=None):
        """The limits the run held its trials to, and how many it re-ran, kept disturbed, normalised (on side)."""
        counted = [record for record in records if side is None or record.get("side") == side]
        return dict(max_steal_pct=self.max_steal_pct, max_load=self.load_limit(records), reruns=self.reruns,
                    discarded=sum(1 for record in counted if record.get("discarded")),
                    disturbed=sum(1 for record in counted if record.get("disturbed")),
                    normalised=sum(1 for record in counted if record.get("normalised")))

    def settings(self, records):
        """The options a later run repeats: the load limit this run reached, so both are held to one standard."""
        return dict(max_steal_pct=self.max_steal_pct, max_load=self.load_limit(records), reruns=self.reruns)


def _cpu_bound(suite):
    specs = suite.metric_specs()
    return bool(specs) and all(spec.get("cpu_bound") for spec in specs.values())
