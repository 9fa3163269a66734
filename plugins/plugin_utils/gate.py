# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The regression gate: did a host get faster, slower, or can nobody tell?

Baseline and after samples of each metric are compared with a one-sided
Mann-Whitney U (Wilcoxon rank-sum) test, exact for the small trial counts
benchmarks use, and the size of the change is the Hodges-Lehmann shift (the
median of all after-minus-baseline differences) relative to the baseline's
median. A metric is regressed only when both say so: the test is sure at
level ``alpha`` that after is worse, and it is worse by at least
``min_effect``. A single before/after pair is never enough (docs/gate.md).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import random

DEFAULT_ALPHA = 0.01
DEFAULT_MIN_EFFECT = 0.05
EXACT_LIMIT = 40  # pooled samples up to which the U distribution is counted exactly
MAD_TO_SIGMA = 1.4826  # a normal distribution's standard deviation per median absolute deviation
SLOWDOWNS = [0.05 * step for step in range(1, 13)]  # what detectable_slowdown tries: 5% .. 60%
SIMULATIONS = 200
VERDICTS = ("regressed", "improved", "unchanged", "inconclusive")


class GateError(ValueError):
    """Samples or options the gate cannot judge; the message names which and why."""


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return (ordered[middle - 1] + ordered[middle]) / 2.0


def hodges_lehmann(baseline, after):
    """The shift after - baseline that the two samples agree on best."""
    return median([b - a for a in baseline for b in after])


def rank_sum_tails(baseline, after):
    """P(after's rank sum >= observed) and P(<= observed) when nothing changed.

    Ties get mid-ranks; ranks are doubled so they stay integers and the
    distribution can be counted exactly. Beyond EXACT_LIMIT pooled samples
    the normal approximation with tie and continuity correction is used.
    """
    pooled = sorted([(value, 0) for value in baseline] + [(value, 1) for value in after])
    doubled = []
    start = 0
    while start < len(pooled):
        end = start
        while end + 1 < len(pooled) and pooled[end + 1][0] == pooled[start][0]:
            end += 1
        doubled.extend([start + end + 2] * (end - start + 1))  # 2 x mid-rank of positions start..end (1-based)
        start = end + 1
    observed = sum(rank for rank, (_value, group) in zip(doubled, pooled) if group == 1)
    if len(pooled) <= EXACT_LIMIT:
        return _exact_tails(doubled, len(after), observed)
    return _normal_tails(doubled, len(after), observed)


def _rank_sum_counts(ranks, size):
    """counts[s]: how many ways of choosing `size` of the ranks sum to s."""
    total = sum(ranks)
    ways = [[0] * (total + 1) for _row in range(size + 1)]  # ways[k][s] over the ranks seen so far
    ways[0][0] = 1
    for rank in ranks:
        for k in range(size, 0, -1):
            row, previous = ways[k], ways[k - 1]
            for s in range(total - rank, -1, -1):
                if previous[s]:
                    row[s + rank] += previous[s]
    return ways[size]


def _exact_tails(ranks, size, observed):
    counts = _rank_sum_counts(ranks, size)
    everything = float(sum(counts))
    upper = sum(counts[observed:]) / everything
    lower = sum(counts[:observed + 1]) / everything
    return upper, lower


def _normal_tails(ranks, size, observed):
    count = len(ranks)
    mean = size * sum(ranks) / float(count)
    spread = sum((rank - sum(ranks) / float(count)) ** 2 for rank in ranks) / (count - 1)
    variance = size * (count - size) / float(count) * spread
    if variance == 0:
        return 1.0, 1.0
    deviation = math.sqrt(variance)
    # Doubled ranks move in steps of 1 at the finest (ties): continuity correction of half a step.
    upper = 0.5 * math.erfc((observed - 0.5 - mean) / deviation / math.sqrt(2))
    lower = 0.5 * math.erfc((mean - observed - 0.5) / deviation / math.sqrt(2))
    return min(upper, 1.0), min(lower, 1.0)


def _critical_rank_sum(n_baseline, n_after, alpha):
    """The largest doubled rank sum of the after group that the test calls worse at alpha (no ties), or None."""
    ranks = [2 * (position + 1) for position in range(n_baseline + n_after)]
    if len(ranks) > EXACT_LIMIT:
        lower = [_normal_tails(ranks, n_after, observed)[1] for observed in range(sum(ranks[:n_after]),
                                                                                  sum(ranks[-n_after:]) + 1)]
        below = [index for index, tail in enumerate(lower) if tail < alpha]
        return sum(ranks[:n_after]) + below[-1] if below else None
    counts = _rank_sum_counts(ranks, n_after)
    everything, running, critical = float(sum(counts)), 0, None
    for total, count in enumerate(counts):
        running += count
        if running / everything >= alpha:
            break
        if running:
            critical = total
    return critical


def detectable_slowdown(noise, n_baseline, n_after, alpha=DEFAULT_ALPHA, min_effect=DEFAULT_MIN_EFFECT):
    """The smallest slowdown (of SLOWDOWNS) the gate calls regressed 95% of the time, or None.

    Simulated with trials that scatter normally by the baseline's own robust
    spread: what the gate can see on this host, before anyone relies on it.
    """
    critical = _critical_rank_sum(n_baseline, n_after, alpha)
    if critical is None:
        return None
    sigma = MAD_TO_SIGMA * noise
    rng = random.Random(20261123)
    for slowdown in SLOWDOWNS:
        caught = 0
        for _run in range(SIMULATIONS):
            before = [1.0 + rng.gauss(0, sigma) for _trial in range(n_baseline)]
            after = [(1.0 - slowdown) * (1.0 + rng.gauss(0, sigma)) for _trial in range(n_after)]
            pooled = sorted([(value, 0) for value in before] + [(value, 1) for value in after])
            rank_sum = sum(2 * (position + 1) for position, (_value, group) in enumerate(pooled) if group)
            caught += rank_sum <= critical and hodges_lehmann(before, after) / median(before) <= -min_effect
        if caught >= 0.95 * SIMULATIONS:
            return slowdown
    return None


def judge_metric(name, baseline, after, alpha=DEFAULT_ALPHA, min_effect=DEFAULT_MIN_EFFECT, estimate=True):
    """One metric's verdict with the figures behind it; baseline/after are the benchmark's metric dicts.

    estimate=False skips the detectable-slowdown simulation (tests/perf/gate_rates.py judges thousands of pairs).
    """
    better = baseline.get("better", "higher")
    if better not in ("higher", "lower"):
        raise GateError("metric %s: better must be higher or lower, not %r" % (name, better))
    before_samples = [float(value) for value in baseline.get("samples") or []]
    after_samples = [float(value) for value in after.get("samples") or []]
    result = dict(metric=name, unit=baseline.get("unit", ""), better=better, gate=bool(baseline.get("gate", True)),
                  n_baseline=len(before_samples), n_after=len(after_samples), alpha=alpha, min_effect=min_effect)
    if len(before_samples) < 2 or len(after_samples) < 2:
        result.update(verdict="inconclusive", reason="%s: needs at least 2 samples on each side (have %d and %d)"
                      % (name, len(before_samples), len(after_samples)))
        return result
    reference = median(before_samples)
    shift = hodges_lehmann(before_samples, after_samples)
    upper, lower = rank_sum_tails(before_samples, after_samples)
    p_better, p_worse = (upper, lower) if better == "higher" else (lower, upper)
    sign = 1.0 if better == "higher" else -1.0
    effect = sign * shift / abs(reference) if reference else (0.0 if shift == 0 else sign * math.copysign(1.0, shift))
    noise = spread(before_samples)
    if p_worse < alpha and effect <= -min_effect:
        verdict, p_value = "regressed", p_worse
    elif p_better < alpha and effect >= min_effect:
        verdict, p_value = "improved", p_better
    else:
        verdict, p_value = "unchanged", min(p_worse, p_better)
    change = shift / abs(reference) if reference else 0.0
    result.update(verdict=verdict, baseline_median=reference, after_median=median(after_samples), shift=shift,
                  change=change, effect=effect, p_value=p_value, noise=noise)
    result["reason"] = "%s: %s -> %s %s (%+.1f%%, p=%.3f, %s is better): %s" % (
        name, figure(reference), figure(result["after_median"]), result["unit"], 100 * change + 0.0,
        p_value, better, verdict)
    if result["gate"] and estimate:
        result["detectable"] = detectable_slowdown(noise, len(before_samples), len(after_samples), alpha, min_effect)
    if noise > min_effect and result["gate"] and estimate:
        result["reason"] += "; noisy: baseline trials vary by %.0f%%, so with %d trials a side %s" % (
            100 * noise, len(after_samples), "a slowdown shows only from about %.0f%%" % (100 * result["detectable"])
            if result["detectable"] else "no slowdown up to 60% is sure to show")
    return result


def spread(samples):
    """Median absolute deviation relative to the median: how far one trial strays, robust to one outlier."""
    centre = median(samples)
    if not centre:
        return 0.0
    return median([abs(value - centre) for value in samples]) / abs(centre)


def figure(value):
    return "%.0f" % value if abs(value) >= 100 else "%.3g" % value


def compare(baseline, after, alpha=DEFAULT_ALPHA, min_effect=DEFAULT_MIN_EFFECT, metrics=None):
    """A host's verdict from two runs of hostperf.tuning.benchmark (their registered results).

    regressed: a gating metric regressed, or a suite that ran in the baseline failed after.
    improved: a gating metric improved and none regressed. unchanged: measured, no change.
    inconclusive: nothing gating could be compared (no suites, all skipped, too few samples).
    """
    if not 0 < alpha < 1:
        raise GateError("alpha must be between 0 and 1, not %r" % (alpha,))
    if not 0 <= min_effect < 1:
        raise GateError("min_effect must be a fraction from 0 up to 1, not %r" % (min_effect,))
    before_metrics = (baseline or {}).get("metrics") or {}
    after_metrics = (after or {}).get("metrics") or {}
    unknown = sorted(set(metrics or []) - set(before_metrics))
    if unknown:
        raise GateError("metrics %s were not measured in the baseline (measured: %s)"
                        % (", ".join(unknown), ", ".join(sorted(before_metrics)) or "none"))
    judged = []
    for name in sorted(before_metrics):
        if name not in after_metrics:
            continue
        item = judge_metric(name, before_metrics[name], after_metrics[name], alpha, min_effect)
        if metrics is not None:
            item["gate"] = name in metrics
        judged.append(item)
    reasons = []
    before_status = dict((suite["name"], suite) for suite in (baseline or {}).get("suites") or [])
    for suite in (after or {}).get("suites") or []:
        if suite["status"] == "failed" and before_status.get(suite["name"], {}).get("status") == "ok":
            reasons.append("suite %s ran in the baseline and failed after: %s" % (suite["name"], suite.get("reason")))
    gating = [item for item in judged if item["gate"]]
    verdicts = set(item["verdict"] for item in gating)
    if reasons or "regressed" in verdicts:
        verdict = "regressed"
    elif "improved" in verdicts:
        verdict = "improved"
    elif "unchanged" in verdicts:
        verdict = "unchanged"
    else:
        verdict = "inconclusive"
        reasons.append("no gating metric was measured on both sides")
    reasons.extend(item["reason"] for item in judged)
    return dict(verdict=verdict, reasons=reasons, metrics=judged, alpha=alpha, min_effect=min_effect)


def naive_verdict(baseline, after, better="higher", threshold=0.10):
    """The rule the gate replaces: one run each side, worse by more than threshold means regressed."""
    change = (after - baseline) / abs(baseline) if baseline else 0.0
    if better == "lower":
        change = -change
    if change < -threshold:
        return "regressed"
    if change > threshold:
        return "improved"
    return "unchanged"
