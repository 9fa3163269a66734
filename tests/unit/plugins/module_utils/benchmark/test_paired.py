"""Paired trials: a coin orders each pair, the looks stop the run, drift lands on both sides alike."""

import random

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.paired import run_pairs
from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.suite import BenchmarkError
from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.trials import run_benchmarks
from ansible_collections.hostperf.tuning.plugins.module_utils.host.hosttree import CommandResult, HostTree
from ansible_collections.hostperf.tuning.plugins.plugin_utils.gate import compare

from test_trials import FakeTools, proc  # noqa: F401 pylint: disable=unused-import


class FakeSwitch:
    """A host whose sysbench score depends on the side, times a drift that grows with every trial run."""

    def __init__(self, after_factor=1.0, drift=0.0, noise=0.005, fail_after_at=None):
        self.side, self.after_factor, self.drift, self.noise = "after", after_factor, drift, noise
        self.trials, self.sides, self.fail_after_at = 0, [], fail_after_at
        self.rng = random.Random(11)

    def to(self, side):
        self.side = side
        self.sides.append(side)

    def sysbench(self, argv):
        self.trials += 1
        if self.fail_after_at and self.side == "after" and self.trials >= self.fail_after_at:
            return CommandResult(1, stderr="sysbench: killed")
        value = 1000.0 * (1 - self.drift * self.trials) * (self.after_factor if self.side == "after" else 1.0)
        return CommandResult(0, "events per second:  %.2f\n" % (value * (1 + self.rng.gauss(0, self.noise))))


def pairs(root, switch, **options):
    tools = FakeTools({"sysbench": switch.sysbench})
    options.setdefault("seed", 7)
    return run_pairs(HostTree(str(root), commands=tools), [dict(type="cpu")], switch, duration=2, pause=0,
                     find=tools.find, sleep=lambda seconds: None, **options)


def test_a_clear_slowdown_stops_at_the_first_look_with_both_sides_in_random_order(proc):  # noqa: F811
    switch = FakeSwitch(after_factor=0.8)
    result = pairs(proc, switch)
    assert result["pairs"] == 8 and result["stopped"] == dict(look=8, verdict="regressed", early=True)
    assert sorted(set(result["order"])) == ["AB", "BA"] and len(result["order"]) == 8
    assert len(result["baseline"]["metrics"]["cpu.events_per_second"]["samples"]) == 8
    assert [record["side"] for record in result["after"]["trials"]] == ["after"] * 9  # one warm-up round
    assert result["baseline"]["settings"]["design"] == "pairs"
    verdict = compare(result["baseline"], result["after"])
    assert (verdict["verdict"], verdict["design"], verdict["look"], verdict["stopped_early"]) == (
        "regressed", "pairs", 8, True)
    assert "at 8 pairs, shift -2" in verdict["reasons"][0] and verdict["reasons"][0].endswith("regressed")


def test_drift_during_the_run_is_not_read_as_the_change(proc):  # noqa: F811
    """The host loses 0.5% per trial: blocks call an unchanged host regressed, pairs do not."""
    blocked = FakeSwitch(drift=0.005)
    tools = FakeTools({"sysbench": blocked.sysbench})
    tree = HostTree(str(proc), commands=tools)
    before = run_benchmarks(tree, [dict(type="cpu")], trials=10, duration=2, pause=0, find=tools.find,
                            sleep=lambda seconds: None)
    after = run_benchmarks(tree, [dict(type="cpu")], trials=10, duration=2, pause=0, find=tools.find,
                           sleep=lambda seconds: None)
    assert compare(before, after)["verdict"] == "regressed"
    result = pairs(proc, FakeSwitch(drift=0.005))
    verdict = compare(result["baseline"], result["after"])
    assert verdict["verdict"] == result["stopped"]["verdict"] == "unchanged"
    assert verdict["look"] == result["pairs"] < 20  # shown within +/- 5% before the last look


def test_a_suite_that_fails_on_the_after_side_is_the_changes_regression(proc):  # noqa: F811
    result = pairs(proc, FakeSwitch(fail_after_at=6))
    statuses = dict((name, result[name]["suites"][0]["status"]) for name in ("baseline", "after"))
    assert statuses == {"baseline": "ok", "after": "failed"}
    assert "on the after side" in result["after"]["suites"][0]["reason"]
    verdict = compare(result["baseline"], result["after"])
    assert verdict["verdict"] == "regressed" and "failed after" in verdict["reasons"][0]


def test_looks_are_validated(proc):  # noqa: F811
    with pytest.raises(BenchmarkError, match="pairs: looks need"):
        pairs(proc, FakeSwitch(), first=10, last=8)


def test_a_run_cut_short_before_the_first_look_is_inconclusive_not_unchanged(proc):  # noqa: F811
    """A suite that fails on the before side at pair 3 leaves no look: the change was not measured."""
    switch = FakeSwitch()
    calls = {"n": 0}

    def flaky(argv):
        calls["n"] += 1
        if switch.side == "before" and calls["n"] > 6:
            return CommandResult(1, stderr="sysbench: peer gone")
        return switch.sysbench(argv)
    tools = FakeTools({"sysbench": flaky})
    result = run_pairs(HostTree(str(proc), commands=tools), [dict(type="cpu")], switch, duration=2, pause=0,
                       find=tools.find, sleep=lambda seconds: None, seed=7)
    assert result["pairs"] < 8 and result["baseline"]["suites"][0]["status"] == "failed"
    verdict = compare(result["baseline"], result["after"])
    assert verdict["verdict"] == "inconclusive"
    assert "fewer than the first look (8): inconclusive" in verdict["reasons"][-1]
