"""Benchmark suites: the commands they run, what they read from real tool output, trials and conditions."""

import io
import json
import os

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.disk import TEST_FILE
from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.suite import BenchmarkError
from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.trials import (
    Sizing, check_benchmarks, run_benchmarks)
from ansible_collections.hostperf.tuning.plugins.module_utils.host.hosttree import CommandResult, HostTree

# Trimmed from what the tools printed on Debian 12 (iperf3 3.12, sockperf 3.7, fio 3.33, sysbench 1.0.20).
SOCKPERF = """sockperf: [Total Run] RunTime=2.001 sec; Warm up time=400 msec; SentMessages=31209; ReceivedMessages=31208
sockperf: \x1b[2;35m====> avg-latency=35.831 (std-dev=11.969)\x1b[0m
sockperf: ---> percentile 99.000 =   55.387
sockperf: ---> percentile 90.000 =   40.900
sockperf: ---> percentile 50.000 =   35.392
"""
SYSBENCH_CPU = "CPU speed:\n    events per second:  4637.81\n"
SYSBENCH_MEMORY = "Total operations: 28399 (28367.09 per second)\n\n28399.00 MiB transferred (28367.48 MiB/sec)\n"
STRESS_NG = """stress-ng: metrc: [3485] stressor       bogo ops real time  usr time  sys time   bogo ops/s     bogo ops/s
stress-ng: metrc: [3485] cpu                1943      1.00      1.00      0.00      1941.23        1941.11
"""


def iperf3(mbps, retransmits=3):
    return json.dumps({"end": {"sum_sent": {"bits_per_second": mbps * 1.01e6, "retransmits": retransmits},
                               "sum_received": {"bits_per_second": mbps * 1e6}}})


def fio(iops, bandwidth):
    return json.dumps({"fio version": "fio-3.33", "jobs": [
        {"jobname": "randread", "error": 0,
         "read": {"iops": iops, "bw_bytes": iops * 4096, "clat_ns": {"percentile": {"99.000000": 333824}}}},
        {"jobname": "seqread", "error": 0, "read": {"iops": 99.0, "bw_bytes": bandwidth * 1e6}}]})


class FakeTools:
    """Answers commands from a script and keeps the order they came in."""

    def __init__(self, answers, installed=("iperf3", "sockperf", "fio", "sysbench", "stress-ng", "app-bench",
                                           "taskset")):
        self.answers = answers
        self.installed = installed
        self.calls = []

    def __call__(self, argv):
        self.calls.append(argv)
        answer = self.answers[argv[3] if argv[0] == "taskset" else argv[0]]
        return answer(argv) if callable(answer) else answer

    def find(self, name):
        return name in self.installed


@pytest.fixture
def proc(tmp_path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "loadavg").write_text("0.25 0.30 0.35 1/100 4242\n")
    (tmp_path / "proc" / "stat").write_text("cpu  100 0 100 700 0 0 0 100 0 0\n")
    (tmp_path / "proc" / "cpuinfo").write_text("processor\t: 0\ncpu MHz\t\t: 2400.000\n")
    return tmp_path


def bench(root, tools, specs, **options):
    options.setdefault("trials", 3)
    options.setdefault("duration", 2)
    options.setdefault("pause", 0)
    tree = HostTree(str(root), commands=tools)
    return run_benchmarks(tree, specs, find=tools.find, sleep=lambda seconds: None, **options)


def test_network_samples_are_received_mbits_and_warmup_is_kept_apart(proc):
    values = iter([5.0, 18.0, 18.5, 17.5])
    tools = FakeTools({"iperf3": lambda argv: CommandResult(0, iperf3(next(values)))})
    result = bench(proc, tools, [dict(type="network", name="wan", peer="10.77.0.1")])
    assert result["metrics"]["wan.throughput"]["samples"] == pytest.approx([18.0, 18.5, 17.5])
    assert result["metrics"]["wan.throughput"]["warmup"] == pytest.approx([5.0])
    assert result["metrics"]["wan.throughput"]["better"] == "higher"
    assert result["metrics"]["wan.retransmits"]["gate"] is False
    assert tools.calls[0] == ["iperf3", "--client", "10.77.0.1", "--port", "5201", "--time", "2", "--parallel", "1",
                              "--json", "--connect-timeout", "5000", "--omit", "1"]
    assert [trial["trial"] for trial in result["trials"]] == [0, 1, 2, 3]
    assert result["trials"][0]["load1"] == 0.25 and result["trials"][0]["cpu_mhz"] == 2400.0


def test_trials_are_interleaved_across_suites(proc):
    tools = FakeTools({"iperf3": CommandResult(0, iperf3(10)), "sysbench": CommandResult(0, SYSBENCH_CPU)})
    bench(proc, tools, [dict(type="network", peer="hub"), dict(type="cpu")], warmup=0)
    assert [argv[0] for argv in tools.calls] == ["iperf3", "sysbench"] * 3


def test_every_suite_reads_its_tool(proc, tmp_path):
    tools = FakeTools({"iperf3": CommandResult(0, iperf3(940)), "sockperf": CommandResult(0, SOCKPERF),
                       "fio": CommandResult(0, "note: both iodepth >= 1 and synchronous I/O engine\n" + fio(63255, 1040)),
                       "sysbench": lambda argv: CommandResult(0, SYSBENCH_CPU if argv[1] == "cpu" else SYSBENCH_MEMORY),
                       "app-bench": CommandResult(0, '{"rps": {"value": 1234.5, "unit": "req/s"}, "p99_ms": '
                                                     '{"value": 12, "better": "lower", "gate": false}}')})
    result = bench(proc, tools, [dict(type="network", peer="hub"), dict(type="latency", peer="hub"),
                                 dict(type="disk", directory=str(tmp_path)), dict(type="cpu"), dict(type="memory"),
                                 dict(type="custom", name="app", command=["app-bench", "--seconds", "{duration}"])])
    metrics = {name: (spec["samples"][0], spec["unit"], spec["better"], spec["gate"])
               for name, spec in result["metrics"].items()}
    assert metrics == {
        "network.throughput": (940.0, "Mbit/s", "higher", True), "network.retransmits": (3, "segments", "lower", False),
        "latency.p50": (35.392, "us", "lower", True), "latency.p99": (55.387, "us", "lower", False),
        "latency.average": (35.831, "us", "lower", False),
        "disk.randread_iops": (63255.0, "IOPS", "higher", True), "disk.seqread_bandwidth": (1040.0, "MB/s", "higher", True),
        "disk.randread_p99": (333.824, "us", "lower", False),
        "cpu.events_per_second": (4637.81, "events/s", "higher", True),
        "memory.bandwidth": (28367.48, "MiB/s", "higher", True),
        "app.rps": (1234.5, "req/s", "higher", True), "app.p99_ms": (12.0, "", "lower", False)}
    assert ["app-bench", "--seconds", "2"] in tools.calls
    assert all(suite["status"] == "ok" for suite in result["suites"])


def test_cpu_falls_back_to_stress_ng(proc):
    tools = FakeTools({"stress-ng": CommandResult(0, "", STRESS_NG)}, installed=("stress-ng",))
    result = bench(proc, tools, [dict(type="cpu", threads=2)])
    assert result["metrics"]["cpu.events_per_second"]["samples"] == [1941.23] * 3
    assert tools.calls[0] == ["stress-ng", "--cpu", "2", "--timeout", "2s", "--metrics-brief"]


def test_custom_single_number(proc):
    tools = FakeTools({"/opt/bench": CommandResult(0, "warming up\n812.5\n")}, installed=("/opt/bench",))
    result = bench(proc, tools, [dict(type="custom", command=["/opt/bench"], unit="ops/s")])
    assert result["metrics"]["custom.value"]["samples"] == [812.5] * 3
    assert result["metrics"]["custom.value"]["unit"] == "ops/s"


def test_missing_tool_is_skipped_with_the_reason(proc):
    tools = FakeTools({}, installed=())
    result = bench(proc, tools, [dict(type="latency", peer="hub")])
    assert result["suites"][0]["status"] == "skipped"
    assert result["suites"][0]["reason"] == "sockperf not installed"
    assert result["metrics"] == {} and tools.calls == []


def test_a_failed_trial_fails_the_suite_and_stops_it(proc):
    refused = json.dumps({"error": "unable to connect to server: Connection refused"})
    tools = FakeTools({"iperf3": CommandResult(1, refused), "sysbench": CommandResult(0, SYSBENCH_CPU)})
    result = bench(proc, tools, [dict(type="network", peer="hub"), dict(type="cpu")])
    network = result["suites"][0]
    assert network["status"] == "failed"
    assert network["reason"] == "iperf3 to hub:5201: unable to connect to server: Connection refused"
    assert [argv[0] for argv in tools.calls].count("iperf3") == 1
    assert "network.throughput" not in result["metrics"] and "cpu.events_per_second" in result["metrics"]


def test_a_busy_iperf3_server_is_retried(proc):
    answers = iter([CommandResult(1, json.dumps({"error": "the server is busy running a test. try again later"})),
                    CommandResult(0, iperf3(20))] + [CommandResult(0, iperf3(20))] * 10)
    tools = FakeTools({"iperf3": lambda argv: next(answers)})
    result = bench(proc, tools, [dict(type="network", peer="hub")], warmup=0)
    assert result["metrics"]["network.throughput"]["samples"] == [20.0] * 3
    assert len(tools.calls) == 4


def test_disk_test_file_is_removed_and_device_needs_permission(proc):
    made = []

    def fio_run(argv):
        made.append(str(proc) + argv[argv.index("--filename") + 1])  # the tree's root stands for /
        open(made[-1], "w").close()
        return CommandResult(0, fio(100, 150))
    (proc / "var" / "tmp").mkdir(parents=True)
    bench(proc, FakeTools({"fio": fio_run}), [dict(type="disk", directory="/var/tmp")])
    assert made[0] == os.path.join(str(proc), "var", "tmp", TEST_FILE)
    assert not os.path.exists(made[0])
    tools = FakeTools({"fio": CommandResult(0, fio(100, 150))})
    bench(proc, tools, [dict(type="disk", device="/dev/sdb", allow_device=True)])
    assert "--readonly" in tools.calls[0] and "--filename" in tools.calls[0]


@pytest.mark.parametrize("specs,options,words", [
    ([dict(type="ping")], {}, "type must be one of cpu, custom, disk, latency, memory, network"),
    ([dict(type="network")], {}, "suite network (network): option peer is required"),
    ([dict(type="network", peer="hub; rm -rf /")], {}, "is not a host name or address"),
    ([dict(type="network", peer="hub", port=70000)], {}, "port 70000 is not a TCP port"),
    ([dict(type="network", peer="hub", bandwidth=1)], {}, "unknown option(s) bandwidth"),
    ([dict(type="network", peer="hub", streams=0)], {}, "streams must be at least 1"),
    ([dict(type="network", peer="hub", reverse="yes")], {}, "reverse must be true or false"),
    ([dict(type="network", peer="hub", omit=5)], dict(duration=5), "omit (5 s) must be shorter"),
    ([dict(type="disk", device="/dev/sda")], {}, "read directly only with allow_device: true"),
    ([dict(type="disk")], {}, "give exactly one of directory"),
    ([dict(type="disk", directory="tmp")], {}, "must be an absolute path"),
    ([dict(type="disk", directory="/srv/a:/etc/passwd")], {}, "which fio reads as a list of files"),
    ([dict(type="disk", directory="/tmp", size="lots")], {}, "size 'lots' must be a number"),
    ([dict(type="disk", device="/etc/passwd", allow_device=True)], {}, "is not a /dev path"),
    ([dict(type="latency", peer="hub", protocol="sctp")], {}, "protocol must be one of tcp, udp"),
    ([dict(type="custom", command="app-bench --fast")], {}, "command must be a non-empty list"),
    ([dict(type="cpu"), dict(type="cpu")], {}, "suite name cpu is used twice"),
    ([dict(type="cpu", name="cpu/../x")], {}, "letters, digits"),
    ([dict(type="cpu")], dict(trials=1), "trials must be a whole number of at least 2"),
    ([dict(type="cpu")], dict(duration=0), "duration must be a whole number of at least 1"),
    ("cpu", {}, "suites must be a list"),
    ([dict(type="cpu", cpus="0-x")], {}, "suite cpu (cpu): cpus:"),
    ([dict(type="network", peer="hub", cpus=",")], {}, "names no CPU"),
    ([dict(type="cpu")], dict(sizing=Sizing(1.5, 20, 0.01, 0.05)), "target_slowdown must be a fraction"),
    ([dict(type="cpu")], dict(sizing=Sizing(0.1, 2, 0.01, 0.05)), "max_trials must be a whole number of at least"),
    ([dict(type="cpu")], dict(sizing=Sizing(0.1, 20, 0.01, 0.2)), "min_effect must be at least 0 and below target_slowdown"),
    ([dict(type="cpu")], dict(sizing=Sizing(0.1, 20, 1.0, 0.05)), "alpha must be between 0 and 1"),
])
def test_bad_input_is_refused_before_anything_runs(proc, specs, options, words):
    tools = FakeTools({})
    with pytest.raises(BenchmarkError) as raised:
        bench(proc, tools, specs, **options)
    assert words in str(raised.value)
    assert tools.calls == []


def cpu_series(values):
    """sysbench printing values in turn; app-bench, a steady custom benchmark, grows with it."""
    series = iter(values)
    return FakeTools({"sysbench": lambda argv: CommandResult(0, "events per second:  %.2f\n" % next(series)),
                      "app-bench": CommandResult(0, "1234.5\n")})


def test_sizing_on_a_quiet_host_stops_where_one_stray_trial_cannot_hide_a_slowdown(proc):
    tools = cpu_series([4500.0] + [4600.0 + step for step in (0, 20, -20, 10, -10, 0, 20, -20)])  # 0.2% spread
    result = bench(proc, tools, [dict(type="cpu")], trials=5, sizing=Sizing(0.10, 20, 0.01, 0.05))
    assert len(result["metrics"]["cpu.events_per_second"]["samples"]) == 8
    assert result["settings"]["trials"] == 8
    assert result["sizing"] == dict(target_slowdown=0.10, max_trials=20, trials=8, reached=True,
                                    limited_by="cpu.events_per_second", noise=pytest.approx(15 / 4600.0, abs=1e-4))


def test_sizing_adds_rounds_until_the_slowdown_shows(proc):
    # 3.5% spread: 5 trials a side see 15%, not 10% (rank_test.trials_for says how many do).
    wobble = [1.0, 1.035, 0.965, 1.0, 1.035, 0.965, 1.02, 0.98]
    tools = cpu_series([4000.0] + [4000.0 * wobble[i % len(wobble)] for i in range(40)])
    result = bench(proc, tools, [dict(type="cpu"), dict(type="custom", name="app", command=["app-bench"])],
                   trials=5, sizing=Sizing(0.10, 20, 0.01, 0.05))
    grown = result["settings"]["trials"]
    assert 8 < grown < 20 and result["sizing"]["reached"] is True
    assert len(result["metrics"]["cpu.events_per_second"]["samples"]) == grown
    assert len(result["metrics"]["app.value"]["samples"]) == grown  # every suite, so the after run repeats one count
    assert [record["trial"] for record in result["trials"] if record["suite"] == "cpu"] == list(range(0, grown + 1))


def test_sizing_stops_at_max_trials_and_says_the_target_is_out_of_reach(proc):
    tools = cpu_series([600.0] + [600.0 * (1.15 if i % 3 == 0 else 0.9 if i % 3 == 1 else 1.0) for i in range(40)])
    result = bench(proc, tools, [dict(type="cpu")], trials=5, sizing=Sizing(0.10, 12, 0.01, 0.05))
    assert result["settings"]["trials"] == 12
    assert result["sizing"]["reached"] is False and result["sizing"]["limited_by"] == "cpu.events_per_second"
    assert result["sizing"]["noise"] > 0.05


def test_no_sizing_runs_exactly_the_trials_and_says_nothing_of_it(proc):
    tools = cpu_series([600.0] + [600.0 * (1.15 if i % 3 == 0 else 0.9) for i in range(40)])
    result = bench(proc, tools, [dict(type="cpu")], trials=5)
    assert result["settings"]["trials"] == 5 and "sizing" not in result


def test_cpus_pins_every_trial_with_taskset(proc):
    tools = cpu_series([900.0] * 4)
    result = bench(proc, tools, [dict(type="cpu", cpus="2,0-1")])
    assert tools.calls[0][:3] == ["taskset", "--cpu-list", "0-2"] and tools.calls[0][3] == "sysbench"
    assert len(tools.calls) == 4 and all(call[:3] == ["taskset", "--cpu-list", "0-2"] for call in tools.calls)
    assert result["suites"][0]["command"][:3] == ["taskset", "--cpu-list", "0-2"]


def test_cpus_without_taskset_skips_the_suite(proc):
    tools = FakeTools({}, installed=("sysbench",))
    result = bench(proc, tools, [dict(type="cpu", cpus="1")])
    assert result["suites"][0]["status"] == "skipped" and "taskset not installed" in result["suites"][0]["reason"]
    assert tools.calls == []


def test_check_mode_runs_nothing_and_names_what_would_stop_a_suite(proc):
    tools = FakeTools({}, installed=("iperf3",))
    asked = []

    def connect(address, timeout):
        asked.append((address, timeout))
        if address[1] == 5999:
            raise OSError("Connection refused")
        return io.BytesIO()

    specs = [dict(type="network", name="up", peer="hub", port=5201),
             dict(type="network", name="down", peer="hub", port=5999),
             dict(type="latency", name="rpc", peer="hub"),
             dict(type="latency", name="udp", peer="hub", protocol="udp")]
    result = check_benchmarks(HostTree(str(proc), commands=tools), specs, find=tools.find, connect=connect)
    assert tools.calls == [] and result["metrics"] == {} and result["trials"] == []
    # TCP peers are asked once each, a tool still to be installed notwithstanding; a UDP peer cannot be asked
    assert asked == [(("hub", 5201), 5), (("hub", 5999), 5), (("hub", 11111), 5)]
    assert [suite["status"] for suite in result["suites"]] == ["ok", "unreachable", "skipped", "skipped"]
    assert result["problems"] == [
        dict(suite="down", missing_tool=None,
             message="suite down (network): peer hub:5999 does not answer: Connection refused"),
        dict(suite="rpc", missing_tool="sockperf", message="suite rpc (latency): sockperf not installed"),
        dict(suite="udp", missing_tool="sockperf", message="suite udp (latency): sockperf not installed")]


def test_check_mode_refuses_bad_options_as_a_run_would(proc):
    tools = FakeTools({}, installed=("iperf3",))
    with pytest.raises(BenchmarkError, match="trials must be a whole number"):
        check_benchmarks(HostTree(str(proc), commands=tools), [dict(type="network", peer="hub")], trials="five",
                         find=tools.find)


def test_sizing_sizes_the_metrics_the_gate_will_judge_sharing_its_alpha(proc):
    """A metric made gating by the comparison (gate_metrics) is sized; the suite's own flag is not what counts."""
    wobble = [1.0, 1.035, 0.965, 1.0, 1.035, 0.965, 1.02, 0.98]
    noisy = iter([4000.0 * wobble[i % len(wobble)] for i in range(60)])
    steady = iter([4600.0 + step for step in [0, 0] + [0, 20, -20, 10, -10, 0, 20, -20] * 6])

    def tools():
        return FakeTools({
            "sysbench": lambda argv: CommandResult(0, "events per second:  %.2f\n" % next(steady)),
            "app-bench": lambda argv: CommandResult(0, json.dumps({"latency": dict(value=next(noisy), gate=False)}))})
    suites = [dict(type="cpu"), dict(type="custom", name="app", command=["app-bench"])]
    own = bench(proc, tools(), suites, trials=5, sizing=Sizing(0.10, 20, 0.01, 0.05))
    assert own["sizing"]["limited_by"] == "cpu.events_per_second" and own["settings"]["trials"] == 8
    noisy, steady = iter([4000.0 * wobble[i % len(wobble)] for i in range(60)]), iter([4600.0] * 60)
    judged = bench(proc, tools(), suites, trials=5, sizing=Sizing(0.10, 20, 0.01, 0.05, ["app.latency"]))
    assert judged["sizing"]["limited_by"] == "app.latency" and judged["settings"]["trials"] > 8
    noisy, steady = iter([4000.0 * wobble[i % len(wobble)] for i in range(60)]), iter([4600.0] * 60)
    both = bench(proc, tools(), suites, trials=5,
                 sizing=Sizing(0.10, 20, 0.01, 0.05, ["app.latency", "cpu.events_per_second"]))
    assert both["settings"]["trials"] >= judged["settings"]["trials"]  # two metrics share alpha: 0.5% each


def test_sizing_refuses_gate_metrics_that_no_suite_measures(proc):
    with pytest.raises(BenchmarkError, match="gate_metrics cpu.latency were not measured .measured: cpu.events"):
        bench(proc, cpu_series([900.0] * 10), [dict(type="cpu")], trials=5,
              sizing=Sizing(0.10, 20, 0.01, 0.05, ["cpu.latency"]))


@pytest.mark.parametrize("printed", ["nan\n", "inf\n", '{"rps": NaN}', '{"rps": {"value": "-Infinity"}}', "Infinity"])
def test_a_benchmark_that_prints_no_finite_number_fails_its_trial(proc, printed):
    tools = FakeTools({"app-bench": CommandResult(0, printed)})
    result = bench(proc, tools, [dict(type="custom", name="app", command=["app-bench"])])
    assert result["suites"][0]["status"] == "failed"
    assert "not a finite number" in result["suites"][0]["reason"]
    assert len(tools.calls) == 1  # the warm-up trial failed: the rest of the suite does not run
