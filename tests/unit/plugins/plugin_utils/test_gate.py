"""The regression gate: exact rank-sum tails, effect size, and the host verdict rules."""

import itertools
import random

import pytest

from ansible_collections.hostperf.tuning.plugins.plugin_utils import gate
from ansible_collections.hostperf.tuning.plugins.plugin_utils.gate import (
    GateError, compare, detectable_slowdown, judge_metric, naive_verdict)


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
    fast = gate.rank_sum_tails(baseline, after)
    slow = brute_force_tails(baseline, after)
    assert fast == pytest.approx(slow)


def test_complete_separation_of_five_and_five_is_one_in_252():
    upper, lower = gate.rank_sum_tails([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    assert upper == pytest.approx(1 / 252.0)
    assert lower == 1.0


def test_normal_approximation_is_close_to_exact_where_both_apply():
    rng = random.Random(7)
    baseline = [rng.gauss(100, 5) for _trial in range(20)]
    after = [rng.gauss(97, 5) for _trial in range(20)]
    exact = gate._exact_tails(*_doubled(baseline, after))
    approx = gate._normal_tails(*_doubled(baseline, after))
    assert approx[0] == pytest.approx(exact[0], abs=0.01)
    assert approx[1] == pytest.approx(exact[1], abs=0.01)


def _doubled(baseline, after):
    pooled = sorted([(v, 0) for v in baseline] + [(v, 1) for v in after])
    ranks = [2 * (i + 1) for i in range(len(pooled))]  # no ties in gaussian samples
    return ranks, len(after), sum(r for r, (_v, g) in zip(ranks, pooled) if g)


def test_large_samples_use_the_normal_approximation():
    baseline = [100.0 + i % 7 for i in range(30)]
    after = [90.0 + i % 7 for i in range(30)]
    upper, lower = gate.rank_sum_tails(baseline, after)
    assert lower < 1e-6 and upper > 0.99


def metric(samples, better="higher", gate_it=True):
    return dict(unit="Mbit/s", better=better, gate=gate_it, samples=samples)


def run(**metrics):
    suites = sorted(set(name.split(".")[0] for name in metrics))
    return dict(metrics=metrics, suites=[dict(name=s, status="ok") for s in suites])


def test_a_clear_slowdown_is_regressed_with_its_figures():
    result = judge_metric("wan.throughput", metric([18.0, 18.2, 17.9, 18.1, 18.0]), metric([15.9, 16.1, 16.0, 15.8, 16.2]))
    assert result["verdict"] == "regressed"
    assert result["effect"] == pytest.approx(-0.111, abs=0.01)
    assert result["p_value"] == pytest.approx(1 / 252.0)
    assert "18 -> 16 Mbit/s (-11.1%" in result["reason"]


def test_lower_is_better_turns_the_direction_round():
    result = judge_metric("rpc.p50", metric([50, 51, 49, 50, 50], "lower"), metric([40, 41, 39, 40, 40], "lower"))
    assert result["verdict"] == "improved" and result["effect"] > 0


def test_significant_but_smaller_than_min_effect_is_unchanged():
    result = judge_metric("cpu.events", metric([100.0, 100.1, 100.2, 100.1, 100.0]),
                          metric([99.0, 99.1, 99.0, 99.2, 99.1]), min_effect=0.05)
    assert result["p_value"] < 0.01
    assert result["verdict"] == "unchanged"


def test_large_but_noisy_change_is_unchanged_and_says_noisy():
    result = judge_metric("wan.throughput", metric([10.0, 20.0, 12.0, 18.0, 15.0]), metric([9.0, 19.0, 11.0, 17.0, 14.0]))
    assert result["verdict"] == "unchanged"
    assert "noisy" in result["reason"]


def test_too_few_samples_is_inconclusive():
    result = judge_metric("x.y", metric([1.0]), metric([1.0, 2.0]))
    assert result["verdict"] == "inconclusive"


def test_host_regressed_when_a_gating_metric_regressed_even_if_another_improved():
    baseline = run(**{"wan.throughput": metric([10, 10.1, 10.2, 9.9, 10]),
                      "disk.iops": metric([1000, 1001, 1002, 999, 1000])})
    after = run(**{"wan.throughput": metric([20, 20.1, 20.2, 19.9, 20]),
                   "disk.iops": metric([800, 801, 802, 799, 800])})
    assert compare(baseline, after)["verdict"] == "regressed"


def test_informational_metrics_do_not_gate():
    baseline = run(**{"wan.throughput": metric([10, 10.1, 10.2, 9.9, 10]),
                      "wan.retransmits": metric([5, 6, 5, 6, 5], "lower", gate_it=False)})
    after = run(**{"wan.throughput": metric([20, 20.1, 20.2, 19.9, 20]),
                   "wan.retransmits": metric([50, 60, 55, 52, 58], "lower", gate_it=False)})
    result = compare(baseline, after)
    assert result["verdict"] == "improved"
    assert [m["verdict"] for m in result["metrics"] if m["metric"] == "wan.retransmits"] == ["regressed"]


def test_metrics_option_chooses_what_gates():
    baseline = run(**{"wan.throughput": metric([10, 10.1, 10.2, 9.9, 10]),
                      "wan.retransmits": metric([5, 6, 5, 6, 5], "lower", gate_it=False)})
    after = run(**{"wan.throughput": metric([20, 20.1, 20.2, 19.9, 20]),
                   "wan.retransmits": metric([50, 60, 55, 52, 58], "lower", gate_it=False)})
    assert compare(baseline, after, metrics=["wan.retransmits"])["verdict"] == "regressed"
    with pytest.raises(GateError, match="wan.latency were not measured"):
        compare(baseline, after, metrics=["wan.latency"])


def test_a_suite_that_worked_before_and_fails_after_is_a_regression():
    baseline = run(**{"wan.throughput": metric([10, 10.1, 10.2, 9.9, 10])})
    after = dict(metrics={}, suites=[dict(name="wan", status="failed", reason="unable to connect to server")])
    result = compare(baseline, after)
    assert result["verdict"] == "regressed"
    assert "failed after: unable to connect" in result["reasons"][0]


def test_nothing_measured_is_inconclusive():
    skipped = dict(metrics={}, suites=[dict(name="wan", status="skipped", reason="iperf3 not installed")])
    assert compare(skipped, skipped)["verdict"] == "inconclusive"


@pytest.mark.parametrize("options,words", [
    (dict(alpha=0), "alpha must be between 0 and 1"),
    (dict(alpha=1.5), "alpha must be between 0 and 1"),
    (dict(min_effect=-0.1), "min_effect must be a fraction"),
])
def test_bad_options_are_refused(options, words):
    with pytest.raises(GateError, match=words):
        compare(run(), run(), **options)


def test_bad_direction_is_refused():
    with pytest.raises(GateError, match="better must be higher or lower"):
        judge_metric("x.y", metric([1, 2], better="up"), metric([1, 2], better="up"))


def test_naive_rule_is_one_pair():
    assert naive_verdict(100, 85) == "regressed"
    assert naive_verdict(100, 95) == "unchanged"
    assert naive_verdict(50, 40, better="lower") == "improved"


def test_critical_rank_sum_is_what_the_exact_test_allows():
    assert gate._critical_rank_sum(5, 5, 0.01) == 33  # doubled ranks: U = 0 (30) and U = 1 (32) are below 0.01
    assert gate._critical_rank_sum(3, 3, 0.01) is None  # the best 3 vs 3 can do is p = 0.05
    assert gate._critical_rank_sum(25, 25, 0.01) is not None  # normal approximation beyond EXACT_LIMIT


@pytest.mark.parametrize("noise,trials,expected", [
    (0.0, 5, 0.05),  # no noise: exactly the minimum effect
    (0.017, 5, 0.10),  # like sysbench on bare metal: 10% slowdowns show
])
def test_detectable_slowdown_on_steady_metrics(noise, trials, expected):
    assert detectable_slowdown(noise, trials, trials) == pytest.approx(expected)


def test_noise_and_trials_move_what_is_detectable():
    noisy = detectable_slowdown(0.12, 5, 5)
    assert noisy > 0.3
    assert detectable_slowdown(0.12, 10, 10) < noisy
    assert detectable_slowdown(0.05, 3, 3) is None


def test_noisy_metric_says_what_it_can_see():
    result = judge_metric("wan.throughput", metric([4.2, 3.3, 4.7, 3.8, 6.0]), metric([4.5, 4.2, 9.6, 4.5, 3.6]))
    assert result["detectable"] is not None and result["detectable"] >= 0.3
    assert "a slowdown shows only from about" in result["reason"]
