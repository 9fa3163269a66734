"""The regression gate: effect size, verdicts per metric, and the host verdict rules."""

import pytest

from ansible_collections.hostperf.tuning.plugins.plugin_utils.gate import GateError, compare, judge_metric, naive_verdict


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


def test_noisy_metric_says_what_it_can_see():
    result = judge_metric("wan.throughput", metric([4.2, 3.3, 4.7, 3.8, 6.0]), metric([4.5, 4.2, 9.6, 4.5, 3.6]))
    assert result["detectable"] is not None and result["detectable"] >= 0.3
    assert "a slowdown shows only from about" in result["reason"]


def test_a_change_from_zero_has_no_percentage():
    result = judge_metric("hub.retransmits", metric([0, 0, 0, 0, 0], "lower"), metric([1, 1, 2, 1, 1], "lower"))
    assert result["verdict"] == "regressed"
    assert "0 -> 1 Mbit/s (from zero, p=0.004" in result["reason"]


def test_alpha_is_the_hosts_and_its_gating_metrics_share_it():
    """p = 0.0035 is sure at 1% for a host gating one metric, not for one gating five (0.2% each)."""
    before = [100, 101, 102, 103, 104, 105, 106, 107]
    slower = [90, 91, 92, 93, 94, 95, 96, 106.5]
    alone = compare(run(**{"hub.throughput": metric(before)}), run(**{"hub.throughput": metric(slower)}))
    assert alone["verdict"] == "regressed" and alone["alpha_per_metric"] == 0.01
    quiet = dict(("disk.m%d" % index, metric(before)) for index in range(4))
    five = compare(run(**dict(quiet, **{"hub.throughput": metric(before)})),
                   run(**dict(quiet, **{"hub.throughput": metric(slower)})))
    assert five["verdict"] == "unchanged" and five["alpha_per_metric"] == pytest.approx(0.002)
    informational = dict(("disk.m%d" % index, metric(before, gate_it=False)) for index in range(4))
    assert compare(run(**dict(informational, **{"hub.throughput": metric(before)})),
                   run(**dict(informational, **{"hub.throughput": metric(slower)})))["verdict"] == "regressed"


def test_a_second_baseline_tells_drift_from_the_change():
    """A-B-A: the host slowed between the first baseline and the after run; the second baseline shows it did."""
    first = run(**{"hub.throughput": metric([100, 101, 102, 99, 100, 101, 100, 99])})
    after = run(**{"hub.throughput": metric([80, 81, 79, 80, 82, 80, 79, 81])})
    drifted = run(**{"hub.throughput": metric([80, 79, 81, 80, 80, 82, 79, 80])})
    assert compare(first, after)["verdict"] == "regressed"
    judged = compare(first, after, confirm=drifted)
    assert judged["verdict"] == "unchanged" and judged["confirmed"] is True
    assert judged["metrics"][0]["n_baseline"] == 16
    recovered = run(**{"hub.throughput": metric([100, 99, 101, 100, 102, 100, 99, 101])})
    assert compare(first, after, confirm=recovered)["verdict"] == "regressed"
    with pytest.raises(GateError, match="not in the confirming baseline"):
        compare(first, after, confirm=run(**{"disk.iops": metric([1, 2, 3])}))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), "12", True, None])
def test_a_sample_that_is_not_a_finite_number_is_refused_not_judged(bad):
    """nan compares false with everything: the rank test called it unchanged (p=0.004), inf improved."""
    good = [100.0, 101.0, 99.0, 100.5, 99.5, 100.0, 100.2, 99.8]
    for baseline, after, side in ((good, good[:-1] + [bad], "after"), (good[:-1] + [bad], good, "baseline")):
        with pytest.raises(GateError, match="metric lo.throughput: %s sample .* is not a finite number" % side):
            compare(run(**{"lo.throughput": metric(baseline)}), run(**{"lo.throughput": metric(after)}))
    paired = dict(run(**{"lo.throughput": metric(good)}), settings=dict(design="pairs", looks=[8]))
    with pytest.raises(GateError, match="after sample"):
        compare(paired, run(**{"lo.throughput": metric(good[:-1] + [bad])}))


@pytest.mark.parametrize("baseline, after, message", [
    ({"metrics": {}, "settings": {"design": "pairs"}}, {"metrics": {}}, "pairs are judged at looks"),
    ({"metrics": [None]}, {"metrics": {}}, "baseline metrics must be a mapping, not list"),
    ({"metrics": {"cpu.ops": 5}}, {"metrics": {}}, "baseline metric cpu.ops must be a mapping"),
    ({"metrics": {"cpu.ops": {"samples": [1, 2], "disturbed": "x"}}}, {"metrics": {}}, "disturbed must be a count"),
    ({"metrics": {}, "suites": [{"status": "ok"}]}, {"metrics": {}}, "each is a mapping with a name and a status"),
])
def test_results_of_the_wrong_shape_are_refused_by_the_part_that_is_wrong(baseline, after, message):
    """Found by the controller fuzzer: KeyError and AttributeError from the compare filter."""
    with pytest.raises(GateError, match=message):
        compare(baseline, after)
