"""Trials run with their CPUs stolen or the host crowded: re-run, normalised, or kept marked, and the gate says so."""

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.paired import run_pairs
from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.suite import BenchmarkError
from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.trials import check_benchmarks, run_benchmarks
from ansible_collections.hostperf.tuning.plugins.module_utils.host.hosttree import CommandResult, HostTree
from ansible_collections.hostperf.tuning.plugins.plugin_utils.gate import compare
from ansible_collections.hostperf.tuning.plugins.plugin_utils.rollout import outcome_of

from test_trials import FakeTools, iperf3


class NoisyHost:
    """A two-CPU host whose trials are each given a stolen share (per CPU) and a load at their end.

    Every tool call advances /proc/stat by 1000 ticks per CPU, ``steal`` of them stolen, and writes the load the
    next reading sees, as the kernel would have while the trial ran.
    """

    def __init__(self, root, steal=(), load=(), value=100.0):
        self.root, self.steal, self.load, self.value = root, list(steal), list(load), value
        self.ticks = [[0] * 8, [0] * 8]
        self.calls = 0
        (root / "proc").mkdir(exist_ok=True)
        (root / "sys/devices/system/cpu").mkdir(parents=True, exist_ok=True)
        (root / "sys/devices/system/cpu/online").write_text("0-1\n")
        (root / "proc/cpuinfo").write_text("processor\t: 0\ncpu MHz\t\t: 2400.000\n")
        self._write(1.0)

    def _write(self, load):
        total = [sum(values) for values in zip(*self.ticks)]
        lines = ["cpu  " + " ".join(map(str, total))]
        lines += ["cpu%d %s" % (cpu, " ".join(map(str, ticks))) for cpu, ticks in enumerate(self.ticks)]
        (self.root / "proc/stat").write_text("\n".join(lines) + "\nintr 0\n")
        (self.root / "proc/loadavg").write_text("%.2f 0.50 0.40 1/100 4242\n" % load)

    def trial(self, steal):
        """steal: percent stolen, the same on both CPUs, or a (cpu0, cpu1) pair."""
        per_cpu = steal if isinstance(steal, tuple) else (steal, steal)
        for cpu, share in enumerate(per_cpu):
            stolen = int(10 * share)
            self.ticks[cpu][0] += 500
            self.ticks[cpu][3] += 500 - stolen
            self.ticks[cpu][7] += stolen
        self.calls += 1
        self._write(self.load.pop(0) if self.load else 1.0)

    def sysbench(self, argv):
        steal = self.steal.pop(0) if self.steal else 0
        self.trial(steal)
        # a CPU-bound score loses what the hypervisor took
        share = (steal if not isinstance(steal, tuple) else steal[0]) / 100.0
        return CommandResult(0, "events per second:  %.2f\n" % (self.value * (1 - share)))

    def iperf3(self, argv):
        self.trial(self.steal.pop(0) if self.steal else 0)
        return CommandResult(0, iperf3(self.value))


def bench(host, specs, **options):
    tools = FakeTools({"sysbench": host.sysbench, "iperf3": host.iperf3})
    options.setdefault("trials", 3)
    options.setdefault("warmup", 0)
    sleeps = []
    result = run_benchmarks(HostTree(str(host.root), commands=tools), specs, duration=2, pause=0, find=tools.find,
                            sleep=sleeps.append, **options)
    return result, sleeps


def test_a_trial_with_its_cpu_stolen_is_run_again_after_a_wait(tmp_path):
    host = NoisyHost(tmp_path, steal=[0, 30, 0, 0])
    result, sleeps = bench(host, [dict(type="network", peer="hub")])
    assert host.calls == 4 and len(result["metrics"]["network.throughput"]["samples"]) == 3
    discarded = [record for record in result["trials"] if record.get("discarded")]
    assert len(discarded) == 1 and discarded[0]["trial"] == 2
    assert discarded[0]["discarded"] == "re-run: 30.0% of its CPU time was stolen (limit 5.0%)"
    assert sleeps == [2]  # a trial's length, so the neighbour's burst can pass
    assert result["conditions"] == dict(max_steal_pct=5.0, max_load=2.0, reruns=2, discarded=1, disturbed=0,
                                        normalised=0)
    assert result["metrics"]["network.throughput"]["disturbed"] == 0


def test_a_trial_still_disturbed_after_its_reruns_counts_marked(tmp_path):
    host = NoisyHost(tmp_path, steal=[0, 30, 30, 30, 0])
    result, _sleeps = bench(host, [dict(type="network", peer="hub")])
    counted = [record for record in result["trials"] if not record.get("discarded")]
    assert [record.get("disturbed") for record in counted] == [
        None, "30.0% of its CPU time was stolen (limit 5.0%), after 2 re-runs", None]
    assert result["metrics"]["network.throughput"]["disturbed"] == 1
    assert result["conditions"]["discarded"] == 2 and result["conditions"]["disturbed"] == 1


def test_reruns_zero_keeps_every_trial_as_it_ran(tmp_path):
    host = NoisyHost(tmp_path, steal=[0, 30, 0])
    result, sleeps = bench(host, [dict(type="network", peer="hub")], conditions=dict(reruns=0))
    assert host.calls == 3 and sleeps == []
    assert result["trials"][1]["disturbed"].endswith("after 0 re-runs")


def test_a_cpu_bound_metric_is_normalised_for_stolen_time_not_rerun(tmp_path):
    host = NoisyHost(tmp_path, steal=[0, 20, 0])
    result, _sleeps = bench(host, [dict(type="cpu")])
    assert host.calls == 3
    assert result["metrics"]["cpu.events_per_second"]["samples"] == pytest.approx([100.0, 100.0, 100.0])
    assert result["trials"][1]["normalised"] == {"events_per_second": 1.25}
    assert result["conditions"]["normalised"] == 1 and result["conditions"]["discarded"] == 0


def test_a_cpu_bound_metric_with_most_of_its_cpu_stolen_is_rerun(tmp_path):
    host = NoisyHost(tmp_path, steal=[0, 60, 0, 0])
    result, _sleeps = bench(host, [dict(type="cpu")])
    assert host.calls == 4 and result["conditions"]["discarded"] == 1
    assert "60.0% of its CPU time was stolen (limit 50.0%)" in result["trials"][1]["discarded"]


def test_a_custom_metric_declared_cpu_bound_is_normalised(tmp_path):
    host = NoisyHost(tmp_path, steal=[0, 20, 0])
    tools = FakeTools({"app-bench": lambda argv: (host.trial(host.steal.pop(0)), CommandResult(0, "80\n"))[1]})
    result = run_benchmarks(HostTree(str(tmp_path), commands=tools),
                            [dict(type="custom", name="app", command=["app-bench"], cpu_bound=True, better="lower")],
                            trials=3, warmup=0, duration=2, pause=0, find=tools.find, sleep=lambda seconds: None)
    # lower is better: a duration that had a fifth of its CPU taken would have been a fifth shorter
    assert result["metrics"]["app.value"]["samples"] == pytest.approx([80.0, 64.0, 80.0])
    assert result["metrics"]["app.value"]["cpu_bound"] is True


def test_steal_counts_on_the_cpus_the_trial_is_pinned_to(tmp_path):
    host = NoisyHost(tmp_path, steal=[(0, 40), (0, 40), (0, 40)])
    result, _sleeps = bench(host, [dict(type="network", peer="hub", cpus="0")])
    assert host.calls == 3 and [record["steal_pct"] for record in result["trials"]] == [0.0] * 3
    host = NoisyHost(tmp_path, steal=[(40, 0), (0, 0), (0, 0), (0, 0)])
    result, _sleeps = bench(host, [dict(type="network", peer="hub", cpus="0")])
    assert host.calls == 4 and result["trials"][0]["steal_pct"] == 40.0


def test_a_crowded_host_is_judged_against_the_runs_own_load(tmp_path):
    # two CPUs: the margin is one CPU's worth of work above the median the benchmark itself makes
    host = NoisyHost(tmp_path, load=[1.1, 0.9, 3.5, 1.0, 1.0])
    result, _sleeps = bench(host, [dict(type="network", peer="hub")], trials=4)
    assert host.calls == 5
    assert result["trials"][2]["discarded"] == "re-run: load 3.50 at its end, above 2.00"
    assert result["settings"]["conditions"] == dict(max_steal_pct=5.0, max_load=2.0, reruns=2)


def test_the_run_after_is_held_to_the_baselines_load(tmp_path):
    host = NoisyHost(tmp_path, load=[2.5, 2.5, 2.5, 1.0, 1.0, 1.0])
    result, _sleeps = bench(host, [dict(type="network", peer="hub")], conditions=dict(max_load=2.0, reruns=1))
    # on its own the run's median would have risen with the crowd; the baseline's limit re-runs the first trials
    assert [record.get("discarded") is not None for record in result["trials"]] == [True, False, True, False, False]
    assert [record.get("disturbed") is not None for record in result["trials"]] == [False, True, False, False, False]


@pytest.mark.parametrize("conditions, words", [
    (dict(max_steal_pct=150), "conditions: max_steal_pct must be a percentage from 0 up to 100, not 150"),
    (dict(max_load=0), "conditions: max_load must be a load average above 0, not 0"),
    (dict(reruns=-1), "conditions: reruns must be a whole number from 0 to 10, not -1"),
    (dict(reruns=True), "conditions: reruns must be a whole number from 0 to 10, not True"),
    (dict(steal=5), "conditions: unknown option.s. steal; it takes max_load, max_steal_pct, reruns"),
])
def test_bad_conditions_are_refused_before_anything_runs(tmp_path, conditions, words):
    host = NoisyHost(tmp_path)
    with pytest.raises(BenchmarkError, match=words):
        bench(host, [dict(type="network", peer="hub")], conditions=conditions)
    assert host.calls == 0
    with pytest.raises(BenchmarkError, match=words):
        check_benchmarks(HostTree(str(tmp_path)), [dict(type="cpu")], find=lambda name: True, conditions=conditions)


class Sides:
    def __init__(self):
        self.side = "after"

    def to(self, side):
        self.side = side


def test_pairs_hold_both_sides_to_one_load_and_report_each_sides_trials(tmp_path):
    host = NoisyHost(tmp_path, steal=[0] * 3 + [30] + [0] * 40)
    tools = FakeTools({"sysbench": host.sysbench, "iperf3": host.iperf3})
    result = run_pairs(HostTree(str(tmp_path), commands=tools), [dict(type="network", peer="hub")], Sides(),
                       first=8, last=8, duration=2, pause=0, warmup=0, seed=3, find=tools.find,
                       sleep=lambda seconds: None)
    assert result["pairs"] == 8 and host.calls == 17
    assert result["conditions"]["discarded"] == 1
    sides = [result[name]["conditions"]["discarded"] for name in ("baseline", "after")]
    assert sorted(sides) == [0, 1]
    assert result["baseline"]["settings"]["conditions"]["max_load"] == result["conditions"]["max_load"] == 2.0


def metric(samples, disturbed=0):
    return dict(unit="Mbit/s", better="higher", gate=True, samples=samples, disturbed=disturbed)


def run(**metrics):
    return dict(metrics=metrics, suites=[dict(name=name.split(".")[0], status="ok") for name in metrics])


def test_the_gate_gives_no_verdict_on_a_metric_measured_on_a_crowded_host():
    steady = [100.0, 101.0, 99.0, 100.5, 99.5, 100.0, 100.2, 99.8]
    slower = [value * 0.8 for value in steady]
    crowded = compare(run(a=metric(steady), b=metric(steady)), run(a=metric(slower, disturbed=3), b=metric(steady)))
    assert crowded["verdict"] == "inconclusive"
    item = [item for item in crowded["metrics"] if item["metric"] == "a"][0]
    assert item["verdict"] == "inconclusive" and item["reason"] == (
        "a: 3 of 8 after trials ran with the host crowded or its CPU stolen even after re-runs (see the trials' "
        "disturbed): no verdict on the change")
    # b unchanged does not make the host unchanged: a might have regressed
    assert "no gating metric was measured" not in " ".join(crowded["reasons"])
    outcome = outcome_of(dict(changed=True, transaction="t1", settings=[]), crowded)
    assert outcome["outcome"] == "rolled_back" and outcome["reason"].startswith(
        "rolled back: the change is unproven (hostperf_tune_unproven: rollback): a: 3 of 8 after trials ran")
    # two of eight is within a quarter: judged as measured
    judged = compare(run(a=metric(steady), b=metric(steady)), run(a=metric(slower, disturbed=2), b=metric(steady)))
    assert judged["verdict"] == "regressed"


def test_a_regression_elsewhere_still_rolls_back_a_crowded_host():
    steady = [100.0, 101.0, 99.0, 100.5, 99.5, 100.0, 100.2, 99.8]
    result = compare(run(a=metric(steady, disturbed=4), b=metric(steady)),
                     run(a=metric(steady), b=metric([value * 0.8 for value in steady])))
    assert result["verdict"] == "regressed"


def test_a_confirming_baseline_adds_its_disturbed_trials():
    steady = [100.0, 101.0, 99.0, 100.5, 99.5, 100.0, 100.2, 99.8]
    within = compare(run(a=metric(steady, disturbed=2)), run(a=metric(steady)), confirm=run(a=metric(steady, disturbed=2)))
    assert within["verdict"] == "unchanged"  # 4 of 16 pooled: a quarter
    beyond = compare(run(a=metric(steady, disturbed=2)), run(a=metric(steady)), confirm=run(a=metric(steady, disturbed=3)))
    assert beyond["verdict"] == "inconclusive" and "5 of 16 baseline trials" in beyond["metrics"][0]["reason"]
