# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Judging a change while it is measured: looks at a schedule, one error rate for all of them.

Baseline and after trials come in pairs (docs/gate.md). After 8, 10, ... 20
pairs the rank-sum test is asked again; asking more often would raise the
chance that one look calls an unchanged host worse, so every look uses the
same smaller level, calibrated once so that all looks together are wrong at
most ``alpha`` of the time (a Pocock boundary; the rank-sum test's null
distribution is the same for every continuous distribution, so simulating
uniform trials calibrates it for all). A look also stops when the shift's
interval lies inside +/- min_effect: the change is then shown to be smaller
than anything worth a verdict.

Standard library only: the benchmark module stops on the host with it, the
controller judges the same samples with it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import random

from ansible_collections.hostperf.tuning.plugins.module_utils.stats.rank import (
    critical_rank_sum, hodges_lehmann, median, rank_sum_counts, rank_sum_tails)

FIRST_LOOK = 8  # pairs: below stray_proof_trials one stalled trial can hide a slowdown on its own
LAST_LOOK = 20
STEP = 2
CALIBRATION_RUNS = 20000
_LEVELS = {}  # (looks, alpha) -> level
_LOWER = {}  # n -> cumulative lower tail of the doubled rank sum, n against n, no ties


def schedule(first=FIRST_LOOK, last=LAST_LOOK, step=STEP):
    """The pair counts at which the test looks: first, first + step, ... up to last (always included)."""
    if first < 2 or last < first or step < 1:
        raise ValueError("looks need 2 <= first <= last and step >= 1, not %r, %r, %r" % (first, last, step))
    looks = list(range(first, last + 1, step))
    return looks if looks[-1] == last else looks + [last]


def look_level(looks, alpha):
    """The level every look uses so that all of them together call an unchanged host worse at most alpha.

    The alpha-quantile of the smallest one-sided p-value over the looks, on
    CALIBRATION_RUNS simulated unchanged runs (seeded: one answer per schedule).
    """
    key = (tuple(looks), float(alpha))
    if key not in _LEVELS:
        rng = random.Random(20261202)
        last = max(looks)
        smallest = []
        for _run in range(CALIBRATION_RUNS):
            before = [rng.random() for _trial in range(last)]
            after = [rng.random() for _trial in range(last)]
            smallest.append(min(_lower_tail(before[:n], after[:n]) for n in looks))
        smallest.sort()
        # a level no larger than the k-th smallest minimum lets at most k of the runs through
        _LEVELS[key] = smallest[int(alpha * CALIBRATION_RUNS)]
    return _LEVELS[key]


def _lower_tail(before, after):
    """P(after's rank sum <= observed) for n against n trials without ties, from a cached table."""
    n = len(after)
    if n not in _LOWER:
        counts = rank_sum_counts([2 * (position + 1) for position in range(2 * n)], n)
        total, running, table = float(sum(counts)), 0, []
        for count in counts:
            running += count
            table.append(running / total)
        _LOWER[n] = table
    pooled = sorted([(value, 0) for value in before] + [(value, 1) for value in after])
    observed = sum(2 * (position + 1) for position, (_value, group) in enumerate(pooled) if group)
    return _LOWER[n][observed]


def shift_interval(before, after, level):
    """(low, high): the shift after - before, with each bound wrong at most `level` (Moses' interval).

    (None, None) when the trials are too few for any bound at that level.
    """
    critical = critical_rank_sum(len(before), len(after), level)
    if critical is None:
        return None, None
    below = critical // 2 - len(after) * (len(after) + 1) // 2 + 1  # the k-th smallest difference bounds it
    if below < 1:
        return None, None
    differences = sorted(b - a for a in before for b in after)
    return differences[below - 1], differences[-below]


def judge_look(before, after, better, level, min_effect):
    """One look: regressed, improved or unchanged (shown within +/- min_effect), or None to go on.

    Returns (verdict or None, figures) with p-values, the relative effect and its interval.
    """
    reference = median(before)
    sign = 1.0 if better == "higher" else -1.0
    upper, lower = rank_sum_tails(before, after)
    p_better, p_worse = (upper, lower) if better == "higher" else (lower, upper)
    scale = abs(reference) or 1.0
    effect = sign * hodges_lehmann(before, after) / scale
    low, high = shift_interval(before, after, level)
    interval = None if low is None else tuple(sorted((sign * low / scale, sign * high / scale)))
    figures = dict(n=len(after), p_worse=p_worse, p_better=p_better, effect=effect, interval=interval, level=level)
    if p_worse < level and effect <= -min_effect:
        return "regressed", figures
    if p_better < level and effect >= min_effect:
        return "improved", figures
    if interval is not None and -min_effect < interval[0] and interval[1] < min_effect:
        return "unchanged", figures
    return None, figures


def judge_sequence(before, after, better, alpha, min_effect, looks):
    """The verdict the looks reach on paired trials in the order they were run.

    Stops at the first look that decides; after the last look an undecided
    metric is unchanged (not shown worse), its interval saying how much worse
    it could still be. Looks beyond the trials there are are not taken.
    """
    level = look_level(looks, alpha)
    taken = [n for n in looks if n <= min(len(before), len(after))]
    if not taken:
        return dict(verdict="inconclusive", look=None, level=level, looks=[], figures=None)
    history = []
    for n in taken:
        verdict, figures = judge_look(before[:n], after[:n], better, level, min_effect)
        history.append(figures)
        if verdict:
            return dict(verdict=verdict, look=n, level=level, looks=history, figures=figures)
    return dict(verdict="unchanged", look=taken[-1], level=level, looks=history, figures=history[-1])


def judge_pairs(before_metrics, after_metrics, alpha, min_effect, looks, gate_metrics=None):
    """A host's verdict on paired trials: every gating metric looked at together, sharing alpha.

    Stops at the first look where a gating metric regressed, or where every
    gating metric is decided. before/after_metrics are the benchmark's
    {name: {samples, better, gate, ...}}. Returns {verdict, look, level,
    alpha_per_metric, stopped, metrics: {name: dict(verdict, **figures)}}; stopped is False when the looks
    ran out undecided (then undecided metrics are unchanged: not shown worse).
    """
    names = sorted(name for name in before_metrics if name in after_metrics and (
        name in gate_metrics if gate_metrics else before_metrics[name].get("gate", True)))
    each = alpha / max(1, len(names))
    level = look_level(looks, each)
    result = dict(verdict="inconclusive", look=None, level=level, alpha_per_metric=each, stopped=False, metrics={})
    if not names:
        return result
    most = min(min(len(before_metrics[name]["samples"]), len(after_metrics[name]["samples"])) for name in names)
    for n in [look for look in looks if look <= most]:
        judged = {}
        for name in names:
            verdict, figures = judge_look(before_metrics[name]["samples"][:n], after_metrics[name]["samples"][:n],
                                          before_metrics[name].get("better", "higher"), level, min_effect)
            judged[name] = dict(figures, verdict=verdict)
        result.update(look=n, metrics=judged)
        verdicts = set(item["verdict"] for item in judged.values())
        if "regressed" in verdicts:
            result.update(verdict="regressed", stopped=True)
            return result
        if None not in verdicts:
            result.update(verdict="improved" if "improved" in verdicts else "unchanged", stopped=True)
            return result
    for item in result["metrics"].values():
        item["verdict"] = item["verdict"] or "unchanged"
    if result["look"] is not None:
        result["verdict"] = "improved" if any(item["verdict"] == "improved" for item in result["metrics"].values()) \
            else "unchanged"
    return result
