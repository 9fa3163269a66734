"""Which measuring design gives a verdict about the change, not about the host's drift: replayed in time order.

Three designs, the same gate test (one-sided rank sum, alpha, min_effect):
  blocks      N baseline trials, then N after: what tune did until issue 14;
  blocks+ABA  blocks, and a "regressed" host measured again after the rollback: rolled back only when the after
              trials are also worse than both baselines pooled (what tune does for changes pairs cannot switch);
  pairs       N pairs of consecutive trials, each pair in random order (AB or BA);
  sequential  pairs, judged at 8, 10, ... 20 pairs with a per-look level calibrated so that all looks together
              are wrong at most alpha; stops at the first look that decides (sequential-30: up to 30 pairs).
Each is replayed on the lab's recorded series in the order the trials were run (windows slid over the series,
many random pair orders per window), and on simulated series with the drifts real hosts have. "A/A" is a window
of an unchanged host said to be regressed; "10% caught" the same window with every after-trial 10% worse. A host
gating m metrics shares alpha over them (alpha/m each): printed for m = 1 and m = 5 (the datacenter inventory).

    make perf-gate        (or: PYTHONPATH=.build python tests/perf/gate_designs.py [samples.json ...])
"""

import glob
import json
import os
import random
import sys

from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.compute import CpuSuite
from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.conditions import Disturbance
from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.network import NetworkSuite
from ansible_collections.hostperf.tuning.plugins.module_utils.stats.rank import median, spread
from ansible_collections.hostperf.tuning.plugins.module_utils.stats.sequential import judge_sequence, schedule
from ansible_collections.hostperf.tuning.plugins.plugin_utils.gate import judge_metric

HERE = os.path.dirname(os.path.abspath(__file__))
ALPHA = 0.01
MIN_EFFECT = 0.05
FIXED = 10  # trials a side of the fixed designs: the role's default max_trials
ORDERS = 40  # random pair orders per window of a recorded series
RUNS = 1500  # simulated series per model
SCAN = [0.05 * step for step in range(1, 9)]
DESIGNS = ("blocks", "blocks+ABA", "pairs", "sequential", "sequential-30")


def slower(values, better, slowdown):
    factor = 1 - slowdown
    return [value * factor if better == "higher" else value / factor for value in values]


def fixed_verdict(before, after, better, alpha):
    spec = dict(better=better, unit="")
    return judge_metric("m", dict(spec, samples=before), dict(spec, samples=after), alpha, MIN_EFFECT,
                        estimate=False)["verdict"]


def blocks(series, pairs):
    """Baseline first, then the change: (before, after) of one window."""
    return series[:pairs], series[pairs:2 * pairs]


def paired(series, pairs, rng):
    """Consecutive trials as pairs, each in random order."""
    before, after = [], []
    for index in range(pairs):
        first, second = series[2 * index], series[2 * index + 1]
        if rng.random() < 0.5:
            first, second = second, first
        before.append(first)
        after.append(second)
    return before, after


def run_design(design, series, better, slowdown, alpha, rng):
    """(verdict, trials a side) of one run of a design on one stretch of an unchanged host's trials.

    The change's slowdown is applied to the trials the design gives to "after", where in time they fall.
    """
    if design in ("blocks", "blocks+ABA"):
        before, after = blocks(series, FIXED)
        after = slower(after, better, slowdown)
        verdict = fixed_verdict(before, after, better, alpha)
        if verdict == "regressed" and design == "blocks+ABA":
            again = series[2 * FIXED:3 * FIXED]  # rolled back: the host as it is now, unchanged
            verdict = fixed_verdict(before + again, after, better, alpha)
            return verdict, 3 * FIXED / 2.0
        return verdict, len(before)
    else:
        before, after = paired(series, FIXED if design == "pairs" else len(series) // 2, rng)
    after = slower(after, better, slowdown)
    if design.startswith("sequential"):
        last = 30 if design == "sequential-30" else 20
        judged = judge_sequence(before, after, better, alpha, MIN_EFFECT, schedule(last=min(last, len(before))))
        return judged["verdict"], judged["look"]
    return fixed_verdict(before, after, better, alpha), len(before)


def rates(design, stretches, better, alpha, rng, slowdowns=(0.0, 0.10, 0.20)):
    """{slowdown: share said regressed}, and the mean trials a side used."""
    found, used = {}, []
    for slowdown in slowdowns:
        hits = 0
        for stretch in stretches:
            verdict, trials = run_design(design, stretch, better, slowdown, alpha, rng)
            hits += verdict == "regressed"
            used.append(trials or 0)
        found[slowdown] = hits / float(len(stretches))
    return found, sum(used) / float(len(used))


def smallest_caught(design, stretches, better, alpha, rng):
    for slowdown in SCAN:
        if rates(design, stretches, better, alpha, rng, (slowdown,))[0][slowdown] >= 0.95:
            return slowdown
    return None


def recorded_stretches(samples, design, rng):
    """Windows slid over the series in time order; a paired design sees each window in ORDERS random orders."""
    length = {"blocks": 2 * FIXED, "blocks+ABA": 3 * FIXED, "pairs": 2 * FIXED, "sequential": 40,
              "sequential-30": 60}[design]
    if length > len(samples):
        return []
    starts = range(0, len(samples) - length + 1)
    repeats = 1 if design.startswith("blocks") else ORDERS
    return [samples[start:start + length] for start in starts for _repeat in range(repeats)]


def print_rows(label, rows):
    print("  %-44s %8s %8s %8s %8s %8s %10s" % (label, "A/A", "10%", "20%", "A/A m=5", "10% m=5", "trials/side"))
    for name, one, five, used, extra in rows:
        print("  %-44s %7.1f%% %7.1f%% %7.1f%% %7.1f%% %7.1f%% %10.1f%s" % (
            name, 100 * one[0.0], 100 * one[0.10], 100 * one[0.20], 100 * five[0.0], 100 * five[0.10], used,
            extra))


def report_series(path, rng):
    with open(path) as handle:
        series = json.load(handle)
    samples, better = series["samples"], series["better"]
    print("%s: %s, %d trials of %s s on %s (median %.4g %s, spread %.1f%%), in time order" % (
        os.path.basename(path), series["metric"], len(samples), series.get("duration", "?"), series["host"],
        median(samples), series["unit"], 100 * spread(samples)))
    rows = []
    for design in DESIGNS:
        stretches = recorded_stretches(samples, design, rng)
        if not stretches:
            continue
        one, used = rates(design, stretches, better, ALPHA, rng)
        five = rates(design, stretches, better, ALPHA / 5, rng)[0]
        least = smallest_caught(design, stretches, better, ALPHA, rng)
        windows = len(stretches) // (1 if design.startswith("blocks") else ORDERS)
        rows.append(("%s (%d windows)" % (design, windows), one, five, used,
                     "  95%% caught from %s" % ("%.0f%%" % (100 * least) if least else "none <= 40%")))
    print_rows("design", rows)


def model(kind, rng, length=40, noise=0.03):
    """An unchanged host's trials under one kind of drift (relative to 1.0)."""
    if kind == "independent":
        return [1 + rng.gauss(0, noise) for _trial in range(length)]
    if kind == "random walk":
        level, values = 0.0, []
        for _trial in range(length):
            level += rng.gauss(0, 0.015)
            values.append((1 + level) * (1 + rng.gauss(0, 0.04)))
        return values
    if kind == "level step":
        moment, step = rng.randrange(1, length), rng.choice((-0.06, 0.06))
        return [(1 + (step if trial >= moment else 0)) * (1 + rng.gauss(0, noise)) for trial in range(length)]
    if kind == "loss bursts":
        return [(1 + rng.gauss(0, noise)) * (rng.uniform(0.45, 0.6) if rng.random() < 0.15 else 1)
                for _trial in range(length)]
    raise ValueError(kind)


def stolen_trial(rng, noise=0.03):
    """One trial of a CPU-bound figure on a VM whose neighbours take 20-50% of its CPU in 15% of trials."""
    steal = rng.uniform(20, 50) if rng.random() < 0.15 else 0.0
    return (1 + rng.gauss(0, noise)) * (1 - steal / 100.0), steal


def with_conditions(suite, rng, length=40):
    """A series as the benchmark module keeps it: its conditions code re-runs or normalises each stolen trial."""
    disturbance, values, runs = Disturbance(cpus=2), [], 0
    for _trial in range(length):
        for attempt in range(disturbance.reruns + 1):
            runs += 1
            value, steal = stolen_trial(rng)
            record = dict(steal_pct=steal, load1_end=1.0)
            if not disturbance.reason(suite, record, []) or attempt == disturbance.reruns:
                break
        figures = dict(events_per_second=value, throughput=value)
        disturbance.normalise(suite, figures, record)
        values.append(figures[list(suite.metric_specs())[0]])
    return values, runs - length


def report_conditions(rng):
    print("stolen CPU time (15%% of trials lose 20-50%%), %d series of 40 trials; the benchmark's conditions "
          "(benchmark/conditions.py) normalise a CPU-bound metric and re-run others" % RUNS)
    rows = []
    raw = [[stolen_trial(rng)[0] for _trial in range(40)] for _run in range(RUNS)]
    cpu = CpuSuite(dict(type="cpu"), 10)
    network = NetworkSuite(dict(type="network", peer="hub"), 10)
    for label, runs in (("as measured", [(series, 0) for series in raw]),
                        ("cpu: normalised", [with_conditions(cpu, rng) for _run in range(RUNS)]),
                        ("network: re-run", [with_conditions(network, rng) for _run in range(RUNS)])):
        stretches = [series for series, _reruns in runs]
        extra = "  %.1f re-runs per 40 trials" % (sum(reruns for _series, reruns in runs) / float(RUNS))
        for design in ("blocks", "sequential"):
            one, used = rates(design, stretches, "higher", ALPHA, rng)
            five = rates(design, stretches, "higher", ALPHA / 5, rng)[0]
            rows.append(("%s, %s" % (label, design), one, five, used, extra))
    print_rows("trials", rows)


def report_models(rng):
    print("simulated hosts, %d series of 40 trials each per model" % RUNS)
    for kind in ("independent", "random walk", "level step", "loss bursts"):
        stretches = [model(kind, rng) for _run in range(RUNS)]
        rows = []
        for design in DESIGNS[:-1]:
            one, used = rates(design, stretches, "higher", ALPHA, rng)
            five = rates(design, stretches, "higher", ALPHA / 5, rng)[0]
            rows.append((design, one, five, used, ""))
        print_rows(kind, rows)


def main(paths):
    rng = random.Random(20261202)
    print("gate: one-sided rank sum, alpha %g, min_effect %g%%; fixed designs %d trials a side; looks %s pairs"
          % (ALPHA, 100 * MIN_EFFECT, FIXED, schedule()))
    for path in paths or sorted(glob.glob(os.path.join(HERE, "samples", "*.json"))):
        report_series(path, rng)
    if not paths:
        report_models(rng)
        report_conditions(rng)


if __name__ == "__main__":
    main(sys.argv[1:])
