"""playbooks/tune.yml on the real kernel, in a network namespace with /etc in an overlay.

Three inventory hosts share the namespace's kernel and take turns, one per wave: 'good' changes a setting that
does not slow loopback TCP (kept), 'harmful' shrinks TCP buffers to 4 KiB (the gate must roll it back), and
'spare' must never be touched because the rollout stops after the harmful wave. The benchmark is iperf3 over the
namespace's loopback.
"""

import json
import os
import sqlite3
import subprocess
import sys

import pytest
import yaml

from conftest import REPO, ansible_env

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="namespaces, sysctls and /etc overlays need root")
NAMESPACE = "hp-tune-%d" % os.getpid()
PORT = 5311


def in_namespace(*argv):
    return ["ip", "netns", "exec", NAMESPACE] + list(argv)


def sysctl(key):
    return subprocess.run(in_namespace("cat", "/proc/sys/" + key.replace(".", "/")), stdout=subprocess.PIPE,
                          universal_newlines=True, check=True).stdout.split()


@pytest.fixture
def namespace(tmp_path):
    subprocess.run(["ip", "netns", "add", NAMESPACE], check=True)
    server = None
    try:
        subprocess.run(["ip", "-n", NAMESPACE, "link", "set", "lo", "up"], check=True)
        server = subprocess.Popen(in_namespace("iperf3", "--server", "--bind", "127.0.0.1", "--port", str(PORT)),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        yield
    finally:
        if server is not None:
            server.kill()
            server.wait()
        subprocess.run(["ip", "netns", "del", NAMESPACE], check=False)


# Every trial counts as it ran. The test machines are VMs whose hypervisor steals 10-40% of the CPU for minutes at
# a time (measured: 4 of 8 loopback trials still over 5% after two re-runs, so the gate rightly said "no verdict");
# these tests are about the gate and the rollout, the conditions have their own unit tests.
COUNTED_AS_RUN = {"reruns": 0, "max_load": 1000, "max_steal_pct": 99}


def inventory(tmp_path):
    def host(name, sysctls):
        return {"hostperf_journal_dir": str(tmp_path / ("journal-" + name)),
                "hostperf_overrides": dict(("sysctl:" + key, value) for key, value in sysctls.items())}
    return {"all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                 "hostperf_history": str(tmp_path / "history" / "hostperf.sqlite"), "hostperf_tune_waves": [1],
                 "hostperf_baseline_suites": [{"type": "network", "name": "lo", "peer": "127.0.0.1", "port": PORT}],
                 "hostperf_baseline_trials": 5, "hostperf_baseline_duration": 2, "hostperf_baseline_pause": 0.2,
                 "hostperf_validate_settle": 0, "hostperf_baseline_conditions": COUNTED_AS_RUN,
                 # loopback throughput wanders by 10-15% between trials on a shared machine; a 4 KiB buffer costs far more
                 "hostperf_validate_min_effect": 0.3},
        "hosts": {"good": host("good", {"net.core.somaxconn": 2048}),
                  "harmful": host("harmful", {"net.ipv4.tcp_wmem": [4096, 4096, 4096],
                                              "net.ipv4.tcp_rmem": [4096, 4096, 4096]}),
                  "spare": host("spare", {"net.core.somaxconn": 4096})}}}


def tune_playbook(tmp_path, hosts):
    """playbooks/tune.yml on hosts (an inventory dict), in the test's namespace and /etc overlay: its output."""
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(hosts))
    proc = subprocess.run(
        ["bash", os.path.join(REPO, "tests", "integration", "isolated-etc.sh"), str(tmp_path / "etc")]
        + in_namespace(os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i",
                       str(tmp_path / "inventory.yml"), os.path.join(REPO, "playbooks", "tune.yml")),
        env=ansible_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
        check=False)
    return proc.returncode, proc.stdout


def test_harmful_change_is_rolled_back_and_stops_the_rollout(tmp_path, namespace):
    pristine = {key: sysctl(key) for key in ("net.core.somaxconn", "net.ipv4.tcp_wmem", "net.ipv4.tcp_rmem")}
    returncode, output = tune_playbook(tmp_path, inventory(tmp_path))
    assert returncode == 2, output[-6000:]  # a stopped rollout that left a host untouched fails the run
    assert "lo.throughput" in output and "regressed, rolled back" in output, output[-6000:]
    # sysctls switch cheaply: both hosts were measured in pairs, judged at the looks (docs/gate.md)
    assert "Measure the change in pairs" in output and " pairs, shift " in output

    # good kept its change, harmful is exactly as before, spare was never touched
    assert sysctl("net.core.somaxconn") == ["2048"]
    assert sysctl("net.ipv4.tcp_wmem") == pristine["net.ipv4.tcp_wmem"]
    assert sysctl("net.ipv4.tcp_rmem") == pristine["net.ipv4.tcp_rmem"]
    assert not (tmp_path / "journal-spare").exists()
    assert (tmp_path / "journal-harmful").exists()

    db = sqlite3.connect(str(tmp_path / "history" / "hostperf.sqlite"))
    outcomes = dict(db.execute("SELECT host, outcome FROM hosts").fetchall())
    assert outcomes == {"good": "kept", "harmful": "rolled_back"}
    assert db.execute("SELECT status FROM runs").fetchall() == [("stopped",)]
    verdict, after, before = db.execute(
        "SELECT verdict, after_median, baseline_median FROM verdicts WHERE host = 'harmful' AND gate = 1").fetchone()
    # 4 KiB buffers cost loopback 82-99% on a quiet machine, 32% with the other core busy: far beyond the noise
    assert verdict == "regressed" and after < 0.8 * before, (after, before)
    summary = json.loads(db.execute("SELECT summary FROM runs").fetchone()[0])
    assert summary[-1].startswith("rollout stopped: wave 2: 1 of 1 hosts") and "spare" in summary[-1]
    # pairs look first at 8 pairs (one stray trial cannot hide a slowdown), and both sides hold the same count
    counts = db.execute("SELECT phase, metric, count(*) FROM samples WHERE host = 'harmful' GROUP BY phase, metric")
    counts = {(phase, metric): count for phase, metric, count in counts}
    assert len(counts) == 4 and len(set(counts.values())) == 1 and 8 <= min(counts.values()) <= 10, counts


DRIFTING_BENCHMARK = """import sys
count_file = sys.argv[1]
try:
    count = int(open(count_file).read())
except (OSError, ValueError):
    count = 0
open(count_file, "w").write(str(count + 1))
# the first 6 calls (a warm-up round and 5 trials: the first baseline) on a fast host, every later one 20% slower,
# whatever is applied: the host drifted between the baseline and the after run
print((100.0 if count < 6 else 80.0) + (count % 5) * 0.1)
"""


def test_blocks_tell_a_host_that_drifted_from_a_change_that_slowed_it(tmp_path, namespace):
    """A-B-A: regressed against the first baseline, not against both: the change is applied again and kept."""
    script = tmp_path / "drifting.py"
    script.write_text(DRIFTING_BENCHMARK)
    hosts = inventory(tmp_path)
    hosts["all"]["vars"].update(
        hostperf_tune_design="blocks", hostperf_baseline_target_slowdown=0, hostperf_validate_min_effect=0.05,
        hostperf_baseline_suites=[{"type": "custom", "name": "app", "command": [
            sys.executable, str(script), str(tmp_path / "count")]}])
    hosts["all"]["hosts"] = {"good": hosts["all"]["hosts"]["good"]}
    returncode, output = tune_playbook(tmp_path, hosts)
    assert returncode == 0, output[-6000:]
    assert "can be measured in pairs" in output  # it could; hostperf_tune_design: blocks chose blocks
    assert "against both baselines: unchanged" in output
    assert "so the host drifted, not the change; applied again" in output
    assert sysctl("net.core.somaxconn") == ["2048"]
    assert int((tmp_path / "count").read_text()) == 18  # A1, B and A2: a warm-up round and 5 trials each
    db = sqlite3.connect(str(tmp_path / "history" / "hostperf.sqlite"))
    assert dict(db.execute("SELECT host, outcome FROM hosts").fetchall()) == {"good": "kept"}


def test_a_confirmation_that_fails_leaves_the_rollback_and_says_so(tmp_path, namespace):
    """The second baseline cannot be measured: the change stays rolled back, once, and the outcome says it is."""
    script = tmp_path / "drifting.py"
    # the first baseline and the after run as above; every trial of the second baseline fails
    script.write_text(DRIFTING_BENCHMARK.replace("print(", "sys.exit('benchmark broke') if count >= 12 else print("))
    hosts = inventory(tmp_path)
    hosts["all"]["vars"].update(
        hostperf_tune_design="blocks", hostperf_baseline_target_slowdown=0, hostperf_validate_min_effect=0.05,
        hostperf_tune_fail_host=False, hostperf_baseline_suites=[{"type": "custom", "name": "app", "command": [
            sys.executable, str(script), str(tmp_path / "count")]}])
    hosts["all"]["hosts"] = {"good": hosts["all"]["hosts"]["good"]}
    before = sysctl("net.core.somaxconn")
    _returncode, output = tune_playbook(tmp_path, hosts)
    assert sysctl("net.core.somaxconn") == before
    db = sqlite3.connect(str(tmp_path / "history" / "hostperf.sqlite"))
    outcome, reason = db.execute("SELECT outcome, reason FROM hosts WHERE host = 'good'").fetchone()
    assert outcome == "failed" and "what this run changed was rolled back" in reason, (outcome, reason)
    assert "already rolled back" not in output
