"""The one-sided rank-sum test: exact tails against brute force, its critical values, and its power."""

import itertools
import random

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.stats import rank


def brute_force_tails(baseline, after):
    """Every way of labelling the pooled samples, counted: the definition the fast version must match."""
    pooled = baseline + after
    ranks = {}
    for value in set(pooled):
        below = sum(1 for other in pooled if other < value)
        equal = sum(1 for other in pooled if other == value)
        ranks[value] = below + (equal + 1) / 2.0
    observed = sum(ranks[value] for value in after)
    sums = [sum(ranks[pooled[i]] for i in chosen) for chosen in itertools.combinations(range(len(pooled)), len(after))]
    return (sum(1 for s in sums if s >= observed - 1e-9) / float(len(sums)),
            sum(1 for s in sums if s <= observed + 1e-9) / float(len(sums)))


@pytest.mark.parametrize("baseline,after", [
    ([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]),
    ([10.0, 10.2, 9.9, 10.1, 10.0], [9.0, 9.1, 10.0, 8.9, 9.2]),
    ([3, 3, 3, 4, 4], [3, 4, 4, 4, 5]),  # ties across groups
    ([1, 2, 3], [1, 2, 3, 4, 5, 6]),  # unequal sizes
])
def test_exact_tails_match_brute_force(baseline, after):
    fast = rank.rank_sum_tails(baseline, after)
    slow = brute_force_tails(baseline, after)
    assert fast == pytest.approx(slow)


def test_complete_separation_of_five_and_five_is_one_in_252():
    upper, lower = rank.rank_sum_tails([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    assert upper == pytest.approx(1 / 252.0)
    assert lower == 1.0


def test_normal_approximation_is_close_to_exact_where_both_apply():
    rng = random.Random(7)
    baseline = [rng.gauss(100, 5) for _trial in range(20)]
    after = [rng.gauss(97, 5) for _trial in range(20)]
    exact = rank.exact_tails(*_doubled(baseline, after))
    approx = rank.normal_tails(*_doubled(baseline, after))
    assert approx[0] == pytest.approx(exact[0], abs=0.01)
    assert approx[1] == pytest.approx(exact[1], abs=0.01)


def _doubled(baseline, after):
    pooled = sorted([(v, 0) for v in baseline] + [(v, 1) for v in after])
    ranks = [2 * (i + 1) for i in range(len(pooled))]  # no ties in gaussian samples
    return ranks, len(after), sum(r for r, (_v, g) in zip(ranks, pooled) if g)


def test_large_samples_use_the_normal_approximation():
    baseline = [100.0 + i % 7 for i in range(30)]
    after = [90.0 + i % 7 for i in range(30)]
    upper, lower = rank.rank_sum_tails(baseline, after)
    assert lower < 1e-6 and upper > 0.99


def test_critical_rank_sum_is_what_the_exact_test_allows():
    assert rank.critical_rank_sum(5, 5, 0.01) == 33  # doubled ranks: U = 0 (30) and U = 1 (32) are below 0.01
    assert rank.critical_rank_sum(3, 3, 0.01) is None  # the best 3 vs 3 can do is p = 0.05
    assert rank.critical_rank_sum(25, 25, 0.01) is not None  # normal approximation beyond EXACT_LIMIT


@pytest.mark.parametrize("noise,trials,expected", [
    (0.0, 5, 0.05),  # no noise: exactly the minimum effect
    (0.017, 5, 0.10),  # like sysbench on bare metal: 10% slowdowns show
])
def test_detectable_slowdown_on_steady_metrics(noise, trials, expected):
    assert rank.detectable_slowdown(noise, trials, trials) == pytest.approx(expected)


def test_noise_and_trials_move_what_is_detectable():
    noisy = rank.detectable_slowdown(0.12, 5, 5)
    assert noisy > 0.3
    assert rank.detectable_slowdown(0.12, 10, 10) < noisy
    assert rank.detectable_slowdown(0.05, 3, 3) is None


def test_power_without_a_change_is_the_false_rollback_rate():
    # At most alpha = 0.01, plus three standard errors of 1000 simulated runs.
    for noise, trials in ((0.02, 5), (0.05, 12), (0.12, 20)):
        assert rank.power(noise, trials, trials, 0.0, simulations=1000) <= 0.01 + 3 * (0.01 * 0.99 / 1000) ** 0.5


def test_power_grows_with_trials_and_falls_with_noise():
    assert rank.power(0.05, 5, 5, 0.10) < rank.power(0.05, 10, 10, 0.10) < rank.power(0.05, 20, 20, 0.10)
    assert rank.power(0.02, 5, 5, 0.10) >= rank.POWER > rank.power(0.08, 5, 5, 0.10)
    assert rank.power(0.02, 3, 3, 0.50) == 0.0  # 3 against 3 can never reach alpha = 0.01


@pytest.mark.parametrize("noise", [0.025, 0.035, 0.045])
def test_trials_for_is_the_fewest_that_reach_the_power(noise):
    needed = rank.trials_for(noise, 0.10, 5, 20)
    assert needed is not None and 5 < needed <= 20
    assert rank.power(noise, needed, needed, 0.10) >= rank.POWER
    assert needed == rank.stray_proof_trials() or rank.power(noise, needed - 1, needed - 1, 0.10) < rank.POWER


def test_one_stray_trial_cannot_hide_a_slowdown_at_the_stray_proof_count():
    trials = rank.stray_proof_trials(0.01)
    assert trials == 8 and rank.stray_proof_trials(0.05) == 6
    baseline = [100.0 + step for step in range(trials)]
    after = [90.0 + step for step in range(trials)]
    after[0] = 150.0  # one stalled baseline-like trial on the slow side beats all of the baseline
    assert rank.rank_sum_tails(baseline, after)[1] < 0.01
    short = trials - 1
    after_short = [90.0 + step for step in range(short)]
    after_short[0] = 150.0
    assert rank.rank_sum_tails(baseline[:short], after_short)[1] >= 0.01  # one fewer: the stray trial wins


def test_trials_for_on_quiet_and_hopeless_hosts():
    assert rank.trials_for(0.01, 0.10, 5, 20) == 8  # quiet, but never below the stray-proof count
    assert rank.trials_for(0.01, 0.10, 5, 6) == 6  # ... unless max_trials says fewer
    assert rank.trials_for(0.12, 0.10, 5, 20) is None
    assert rank.trials_for(0.12, 0.40, 5, 20) is not None


def test_trials_for_finds_a_count_that_works_even_where_power_dips_after_it():
    """Power is 0.96 at 9 a side and 0.945 at 10 for a 3.4% spread: raising the most allowed must not lose 9."""
    assert rank.power(0.034, 9, 9, 0.10) >= rank.POWER > rank.power(0.034, 10, 10, 0.10)
    assert rank.trials_for(0.034, 0.10, 5, 10) == rank.trials_for(0.034, 0.10, 5, 9) == 9
