"""The sequential judge: looks at a schedule share one error rate; stops early only on evidence."""

import random

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.stats import sequential
from ansible_collections.hostperf.tuning.plugins.module_utils.stats.rank import critical_rank_sum


def test_the_schedule_looks_every_step_and_always_at_the_last():
    assert sequential.schedule() == [8, 10, 12, 14, 16, 18, 20]
    assert sequential.schedule(8, 15, 3) == [8, 11, 14, 15]
    assert sequential.schedule(8, 8) == [8]
    for bad in ((1, 10, 2), (10, 8, 2), (8, 20, 0)):
        with pytest.raises(ValueError):
            sequential.schedule(*bad)


def test_one_look_gets_the_plain_level_and_more_looks_a_smaller_one():
    one = sequential.look_level([10], 0.01)
    seven = sequential.look_level(sequential.schedule(), 0.01)
    # one look: the same trials are called worse as by the plain test at 1% (p-values of 10 against 10 are discrete)
    assert critical_rank_sum(10, 10, one) == critical_rank_sum(10, 10, 0.01)
    assert 0.01 / 7 < seven < 0.01  # better than splitting alpha evenly, never the unadjusted level


@pytest.mark.parametrize("alpha", [0.01, 0.002])
def test_all_looks_together_call_an_unchanged_host_worse_at_most_alpha(alpha):
    """Checked on fresh unchanged runs (another seed, normal trials) without the minimum effect."""
    rng = random.Random(99)
    looks = sequential.schedule()
    runs, worse = 3000, 0
    for _run in range(runs):
        before = [rng.gauss(100, 3) for _trial in range(20)]
        after = [rng.gauss(100, 3) for _trial in range(20)]
        worse += sequential.judge_sequence(before, after, "higher", alpha, 0.0, looks)["verdict"] == "regressed"
    assert worse / float(runs) <= alpha + 3 * (alpha / runs) ** 0.5


def test_the_interval_is_moses_bounds_and_holds_the_true_shift():
    rng = random.Random(5)
    before = [rng.gauss(100, 2) for _trial in range(12)]
    after = [value - 10 + rng.gauss(0, 2) for value in before]
    low, high = sequential.shift_interval(before, after, 0.01)
    assert low < -10 < high and high - low < 8
    differences = sorted(b - a for a in before for b in after)
    k = critical_rank_sum(12, 12, 0.01) // 2 - 12 * 13 // 2 + 1
    assert (low, high) == (differences[k - 1], differences[-k])
    assert sequential.shift_interval([1.0, 2.0], [1.5, 2.5], 0.01) == (None, None)  # too few for any bound


def test_a_clear_slowdown_stops_at_the_first_look():
    rng = random.Random(1)
    before = [rng.gauss(1000, 10) for _trial in range(20)]
    after = [rng.gauss(800, 10) for _trial in range(20)]
    judged = sequential.judge_sequence(before, after, "higher", 0.01, 0.05, sequential.schedule())
    assert (judged["verdict"], judged["look"]) == ("regressed", 8)
    assert judged["figures"]["effect"] == pytest.approx(-0.2, abs=0.03)
    lower_is_better = sequential.judge_sequence(before, after, "lower", 0.01, 0.05, sequential.schedule())
    assert (lower_is_better["verdict"], lower_is_better["look"]) == ("improved", 8)


def test_a_quiet_unchanged_host_is_shown_unchanged_early_and_a_noisy_one_only_at_the_end():
    rng = random.Random(2)
    quiet = [[rng.gauss(1000, 5) for _trial in range(20)] for _side in range(2)]
    judged = sequential.judge_sequence(quiet[0], quiet[1], "higher", 0.01, 0.05, sequential.schedule())
    assert judged["verdict"] == "unchanged" and judged["look"] == 8
    low, high = judged["figures"]["interval"]
    assert -0.05 < low < high < 0.05
    noisy = [[rng.gauss(1000, 150) for _trial in range(20)] for _side in range(2)]
    judged = sequential.judge_sequence(noisy[0], noisy[1], "higher", 0.01, 0.05, sequential.schedule())
    assert judged["look"] == 20 and judged["verdict"] == "unchanged"
    assert judged["figures"]["interval"][0] < -0.05  # said unchanged, but a slowdown beyond 5% is not excluded
    assert [figures["n"] for figures in judged["looks"]] == sequential.schedule()


def test_looks_beyond_the_trials_are_not_taken_and_none_at_all_is_inconclusive():
    before, after = [10.0, 11, 12, 13, 14, 15, 16, 17, 18, 19], [10.5, 11, 12, 13, 14, 15, 16, 17, 18, 19]
    judged = sequential.judge_sequence(before, after, "higher", 0.01, 0.05, sequential.schedule())
    assert [figures["n"] for figures in judged["looks"]] == [8, 10][:len(judged["looks"])]
    assert sequential.judge_sequence(before[:5], after[:5], "higher", 0.01, 0.05,
                                     sequential.schedule())["verdict"] == "inconclusive"


def _metric(samples, better="higher", gate=True):
    return dict(samples=samples, better=better, gate=gate, unit="")


def test_a_host_stops_at_the_first_look_where_one_gating_metric_regressed():
    rng = random.Random(3)
    before = dict(fast=_metric([rng.gauss(100, 1) for _t in range(20)]),
                  noisy=_metric([rng.gauss(100, 30) for _t in range(20)]))
    after = dict(fast=_metric([rng.gauss(80, 1) for _t in range(20)]),
                 noisy=_metric([rng.gauss(100, 30) for _t in range(20)]))
    judged = sequential.judge_pairs(before, after, 0.01, 0.05, sequential.schedule())
    assert (judged["verdict"], judged["look"]) == ("regressed", 8)
    assert judged["metrics"]["fast"]["verdict"] == "regressed" and judged["metrics"]["noisy"]["verdict"] is None
    assert judged["alpha_per_metric"] == 0.005
    assert judged["level"] == sequential.look_level(sequential.schedule(), 0.005)


def test_a_host_goes_on_until_every_gating_metric_is_decided_and_ignores_informational_ones():
    rng = random.Random(4)
    before = dict(quiet=_metric([rng.gauss(100, 0.5) for _t in range(20)]),
                  noisy=_metric([rng.gauss(100, 30) for _t in range(20)]),
                  info=_metric([rng.gauss(100, 1) for _t in range(20)], gate=False))
    after = dict(quiet=_metric([rng.gauss(100, 0.5) for _t in range(20)]),
                 noisy=_metric([rng.gauss(100, 30) for _t in range(20)]),
                 info=_metric([rng.gauss(50, 1) for _t in range(20)], gate=False))
    judged = sequential.judge_pairs(before, after, 0.01, 0.05, sequential.schedule())
    assert (judged["verdict"], judged["look"]) == ("unchanged", 20)
    assert sorted(judged["metrics"]) == ["noisy", "quiet"]
    only_quiet = sequential.judge_pairs(before, after, 0.01, 0.05, sequential.schedule(), gate_metrics=["quiet"])
    assert (only_quiet["verdict"], only_quiet["look"]) == ("unchanged", 8)
    assert sequential.judge_pairs(before, after, 0.01, 0.05, sequential.schedule(),
                                  gate_metrics=["info"])["verdict"] == "regressed"
    assert sequential.judge_pairs({}, {}, 0.01, 0.05, sequential.schedule())["verdict"] == "inconclusive"
