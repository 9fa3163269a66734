# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one-sided Mann-Whitney U test the regression gate uses, and its power.

Lives in module_utils, standard library only, because both sides need it: the
controller judges with it (plugin_utils/gate.py), and the benchmark module
sizes its trial count with it before the host is changed, so that the gate can
see the slowdown the user cares about on this host's noise.
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
POWER = 0.95  # "caught almost always": the share of simulated runs a slowdown must be caught in

_CRITICAL = {}  # (n_baseline, n_after, alpha) -> critical_rank_sum: counting 20 against 20 takes a second
_COUNTS = {}  # (ranks, size) -> rank_sum_counts; without ties every n-against-m test has the same ranks


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return (ordered[middle - 1] + ordered[middle]) / 2.0


def spread(samples):
    """Median absolute deviation relative to the median: how far one trial strays, robust to one outlier."""
    centre = median(samples)
    if not centre:
        return 0.0
    return median([abs(value - centre) for value in samples]) / abs(centre)


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
        return exact_tails(doubled, len(after), observed)
    return normal_tails(doubled, len(after), observed)


def rank_sum_counts(ranks, size):
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


def exact_tails(ranks, size, observed):
    key = (tuple(ranks), size)
    if key not in _COUNTS:
        if len(_COUNTS) >= 64:
            _COUNTS.clear()
        _COUNTS[key] = rank_sum_counts(ranks, size)
    counts = _COUNTS[key]
    everything = float(sum(counts))
    upper = sum(counts[observed:]) / everything
    lower = sum(counts[:observed + 1]) / everything
    return upper, lower


def normal_tails(ranks, size, observed):
    count = len(ranks)
    mean = size * sum(ranks) / float(count)
    scatter = sum((rank - sum(ranks) / float(count)) ** 2 for rank in ranks) / (count - 1)
    variance = size * (count - size) / float(count) * scatter
    if variance == 0:
        return 1.0, 1.0
    deviation = math.sqrt(variance)
    # Doubled ranks move in steps of 1 at the finest (ties): continuity correction of half a step.
    upper = 0.5 * math.erfc((observed - 0.5 - mean) / deviation / math.sqrt(2))
    lower = 0.5 * math.erfc((mean - observed - 0.5) / deviation / math.sqrt(2))
    return min(upper, 1.0), min(lower, 1.0)


def critical_rank_sum(n_baseline, n_after, alpha):
    """The largest doubled rank sum of the after group that the test calls worse at alpha (no ties), or None."""
    key = (n_baseline, n_after, alpha)
    if key not in _CRITICAL:
        _CRITICAL[key] = _count_critical_rank_sum(n_baseline, n_after, alpha)
    return _CRITICAL[key]


def _count_critical_rank_sum(n_baseline, n_after, alpha):
    ranks = [2 * (position + 1) for position in range(n_baseline + n_after)]
    if len(ranks) > EXACT_LIMIT:
        lower = [normal_tails(ranks, n_after, observed)[1] for observed in range(sum(ranks[:n_after]),
                                                                                 sum(ranks[-n_after:]) + 1)]
        below = [index for index, tail in enumerate(lower) if tail < alpha]
        return sum(ranks[:n_after]) + below[-1] if below else None
    counts = rank_sum_counts(ranks, n_after)
    everything, running, critical = float(sum(counts)), 0, None
    for total, count in enumerate(counts):
        running += count
        if running / everything >= alpha:
            break
        if running:
            critical = total
    return critical


def power(noise, n_baseline, n_after, slowdown, alpha=DEFAULT_ALPHA, min_effect=DEFAULT_MIN_EFFECT,
          simulations=SIMULATIONS):
    """The share of runs in which the gate calls a true `slowdown` regressed.

    Simulated with trials that scatter normally by `noise` (a robust relative
    spread, see spread()); the seed is fixed so the same question always gets
    the same answer and more trials never look worse by chance.
    """
    critical = critical_rank_sum(n_baseline, n_after, alpha)
    if critical is None:
        return 0.0
    sigma = MAD_TO_SIGMA * noise
    rng = random.Random(20261123)
    caught = 0
    for _run in range(simulations):
        before = [1.0 + rng.gauss(0, sigma) for _trial in range(n_baseline)]
        after = [(1.0 - slowdown) * (1.0 + rng.gauss(0, sigma)) for _trial in range(n_after)]
        pooled = sorted([(value, 0) for value in before] + [(value, 1) for value in after])
        rank_sum = sum(2 * (position + 1) for position, (_value, group) in enumerate(pooled) if group)
        caught += rank_sum <= critical and hodges_lehmann(before, after) / median(before) <= -min_effect
    return caught / float(simulations)


def detectable_slowdown(noise, n_baseline, n_after, alpha=DEFAULT_ALPHA, min_effect=DEFAULT_MIN_EFFECT):
    """The smallest slowdown (of SLOWDOWNS) the gate calls regressed 95% of the time, or None."""
    for slowdown in SLOWDOWNS:
        if power(noise, n_baseline, n_after, slowdown, alpha, min_effect) >= POWER:
            return slowdown
    return None


def stray_proof_trials(alpha=DEFAULT_ALPHA):
    """The fewest trials a side at which one stray trial cannot hide a slowdown on its own.

    A trial that stalls (a cron job, a stolen CPU) beats or trails every
    trial of the other side: n of the n x n pairs turn round. With 5 a side
    at alpha 0.01 the test allows one such pair and a single stray trial
    voids a clear 10% slowdown (seen on the lab: 22% of pairs missed at a
    1.2% spread); from 8 a side at 0.01 it allows 9.
    """
    trials = 2
    while True:
        critical = critical_rank_sum(trials, trials, alpha)
        if critical is not None and critical // 2 - trials * (trials + 1) // 2 >= trials:
            return trials
        trials += 1


def trials_for(noise, slowdown, least, most, alpha=DEFAULT_ALPHA, min_effect=DEFAULT_MIN_EFFECT):
    """The fewest trials a side, from least up to most, that catch `slowdown` 95% of the time; None if none can.

    Never fewer than stray_proof_trials: the simulation's normal trials have
    no stray ones, real hosts do. Counted up one at a time: the rank test's
    critical values move in steps, so power is not monotone in the count
    (0.96 at 9 a side, 0.945 at 10 for a 3.4% spread) and a bisection could
    answer None where a smaller count works.
    """
    least = max(least, min(stray_proof_trials(alpha), most))
    for trials in range(least, most + 1):
        if power(noise, trials, trials, slowdown, alpha, min_effect) >= POWER:
            return trials
    return None
