"""How often the regression gate is wrong, measured on benchmark samples recorded on the VM lab.

For each recorded series (one configuration, nothing changed, trials in time order):
  A/A          two N-trial runs of the same configuration: any "regressed" is a false rollback;
  10% slower   the same pairs with every after-sample scaled to 90%: "regressed" is a caught slowdown;
  sized        the same at the trial count the baseline's sizing picks for the series' spread (target 10%);
  detectable   the smallest slowdown the rule catches in 95% of the random pairs (N = 5, 10 and the most the series allows).
Pairs are drawn two ways: adjacent time windows (baseline, then the next 5 trials: drift included, as in a real
run) and random disjoint draws (many more pairs, drift averaged out). The gate (Mann-Whitney U, alpha, minimum
effect) is printed beside the naive rule "one run each side, more than 10% worse".

    make perf-gate        (or: PYTHONPATH=.build python tests/perf/gate_rates.py [samples.json ...])
"""

import glob
import json
import os
import random
import sys

from ansible_collections.hostperf.tuning.plugins.module_utils.stats.rank import (
    detectable_slowdown, median, spread, trials_for)
from ansible_collections.hostperf.tuning.plugins.plugin_utils.gate import (
    DEFAULT_ALPHA, DEFAULT_MIN_EFFECT, judge_metric, naive_verdict)

HERE = os.path.dirname(os.path.abspath(__file__))
TRIALS = 5
MAX_TRIALS = 40  # the most trials a side sizing is allowed here; a series of N trials allows at most N // 2
SLOWDOWN = 0.9
DRAWS = 4000
SCAN = [0.05 * step for step in range(1, 13)]  # slowdowns of 5% .. 60%
SCAN_DRAWS = 600


def windows(samples, trials=TRIALS):
    """Adjacent windows: a baseline, then the very next trials."""
    for start in range(0, len(samples) - 2 * trials + 1):
        yield samples[start:start + trials], samples[start + trials:start + 2 * trials]


def draws(samples, rng, trials=TRIALS, count=DRAWS):
    for _draw in range(count):
        chosen = rng.sample(samples, 2 * trials)
        yield chosen[:trials], chosen[trials:]


def worse(values, better, factor=SLOWDOWN):
    """The same trials on a host that got slower by 1 - factor."""
    return [value * factor if better == "higher" else value / factor for value in values]


def detectable(pairs, better, alpha, min_effect):
    """The smallest slowdown of SCAN caught in 95% of pairs, by the gate and by the naive rule."""
    spec = dict(better=better, unit="")
    found = {}
    for slowdown in SCAN:
        gate_hits = naive_hits = 0
        for baseline, after in pairs:
            slow = worse(after, better, 1 - slowdown)
            gate_hits += judge_metric("m", dict(spec, samples=baseline), dict(spec, samples=slow), alpha,
                                      min_effect, estimate=False)["verdict"] == "regressed"
            naive_hits += naive_verdict(baseline[0], slow[0], better) == "regressed"
        for rule, hits in (("gate", gate_hits), ("naive", naive_hits)):
            if rule not in found and hits >= 0.95 * len(pairs):
                found[rule] = slowdown
    return found


def rates(pairs, better, alpha, min_effect):
    counts = dict(pairs=0, gate_aa=0, gate_slow=0, naive_aa=0, naive_slow=0)
    spec = dict(better=better, unit="")
    for baseline, after in pairs:
        counts["pairs"] += 1
        slow = worse(after, better)
        counts["gate_aa"] += judge_metric("m", dict(spec, samples=baseline), dict(spec, samples=after), alpha,
                                          min_effect, estimate=False)["verdict"] == "regressed"
        counts["gate_slow"] += judge_metric("m", dict(spec, samples=baseline), dict(spec, samples=slow), alpha,
                                            min_effect, estimate=False)["verdict"] == "regressed"
        counts["naive_aa"] += naive_verdict(baseline[0], after[0], better) == "regressed"
        counts["naive_slow"] += naive_verdict(baseline[0], slow[0], better) == "regressed"
    return counts


def percent(part, whole):
    return 100.0 * part / whole if whole else float("nan")


def report(path, settings):
    with open(path) as handle:
        series = json.load(handle)
    samples, better = series["samples"], series["better"]
    noise = spread(samples)
    most = min(MAX_TRIALS, len(samples) // 2)  # two disjoint runs must fit in the series
    sized = trials_for(noise, 1 - SLOWDOWN, TRIALS, most)
    print("%s: %s, %d trials of %s s on %s (median %.4g %s, trial-to-trial spread %.1f%%)" % (
        os.path.basename(path), series["metric"], len(samples), series.get("duration", "?"), series["host"],
        median(samples), series["unit"], 100 * noise))
    print("  baseline sizing (target_slowdown 10%%): %s" % (
        "%d trials a side" % sized if sized else "more than %d trials a side; stops at max_trials" % most))
    print("  %-52s %-6s %20s %20s" % ("rule", "pairs", "A/A: said regressed", "10% slower: caught"))
    rng = random.Random(20261123)
    for trials in sorted(set([TRIALS, sized or most])):
        for label, pairs in (("adjacent windows", list(windows(samples, trials))),
                             ("random draws", list(draws(samples, rng, trials)))):
            if not pairs:
                continue
            for alpha, min_effect in settings:
                counts = rates(pairs, better, alpha, min_effect)
                print("  %-52s %-6d %19.1f%% %19.1f%%" % (
                    "gate a=%g min=%g%%, %d trials (%s)" % (alpha, 100 * min_effect, trials, label), counts["pairs"],
                    percent(counts["gate_aa"], counts["pairs"]), percent(counts["gate_slow"], counts["pairs"])))
            if trials == TRIALS:
                print("  %-52s %-6d %19.1f%% %19.1f%%" % (
                    "naive 1 run, >10%% worse (%s)" % label, counts["pairs"],
                    percent(counts["naive_aa"], counts["pairs"]), percent(counts["naive_slow"], counts["pairs"])))
    for trials in sorted(set([TRIALS, min(10, most), most])):
        found = detectable(list(draws(samples, rng, trials, SCAN_DRAWS)), better, DEFAULT_ALPHA, DEFAULT_MIN_EFFECT)
        print("  slowdown caught 95%% of the time with %d trials a side: gate %s (compare estimates %s), naive %s" % (
            trials, _slowdown(found.get("gate")), _slowdown(detectable_slowdown(noise, trials, trials)),
            _slowdown(found.get("naive"))))


def _slowdown(value):
    return "%.0f%%" % (100 * value) if value is not None else "none up to %.0f%%" % (100 * SCAN[-1])


def main(paths):
    settings = [(DEFAULT_ALPHA, DEFAULT_MIN_EFFECT), (0.05, DEFAULT_MIN_EFFECT)]
    print("gate: one-sided Mann-Whitney U over %d trials a side; targets: A/A <= 1%%, 10%% slower >= 95%%" % TRIALS)
    for path in paths or sorted(glob.glob(os.path.join(HERE, "samples", "*.json"))):
        report(path, settings)


if __name__ == "__main__":
    main(sys.argv[1:])
