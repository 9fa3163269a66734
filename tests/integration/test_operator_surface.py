"""What an SRE drives: plan.yml, tune.yml --check and a real tune on one inventory, against this machine.

Everything here is check mode or fails in preflight, so the kernel is never changed; each test says what must
not exist afterwards (the journal directory, a measured baseline). The benchmark peer is a TCP listener on
loopback that this test opens.
"""

import json
import os
import socket
import sqlite3
import subprocess
import sys

import pytest
import yaml

from conftest import REPO, ansible_env

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="detection and tune's checks need root")
PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
# docs/profiles.md's override example: one sysctl changed, one switched off
OVERRIDES = {"sysctl:vm.swappiness": 1, "sysctl:vm.dirty_ratio": None}


@pytest.fixture
def peer():
    """A port on loopback that accepts connections, as an iperf3 server would."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def write_inventory(tmp_path, peer_port, **host):
    variables = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                 "hostperf_journal_dir": str(tmp_path / "journal"),
                 "hostperf_history": str(tmp_path / "history" / "hostperf.sqlite"),
                 "hostperf_output_dir": str(tmp_path / "out"),
                 "hostperf_profile": "throughput", "hostperf_overrides": OVERRIDES,
                 "hostperf_baseline_suites": [{"type": "network", "name": "lo", "peer": "127.0.0.1",
                                               "port": peer_port}],
                 "hostperf_tune_waves": [1]}
    variables.update(host.pop("all_vars", {}))
    hosts = {"localhost": host}
    hosts.update(host.pop("more_hosts", {}))
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump({"all": {"vars": variables, "hosts": hosts}}))
    return str(path)


def run(tmp_path, inventory, playbook, *args, callback=None, result_format=None):
    env = ansible_env(tmp_path, ANSIBLE_HOST_KEY_CHECKING="0")
    if callback:
        env["ANSIBLE_STDOUT_CALLBACK"] = callback
    if result_format:
        env["ANSIBLE_CALLBACK_RESULT_FORMAT"] = result_format
    return subprocess.run([PLAYBOOK, "-i", inventory, "hostperf.tuning." + playbook] + list(args), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False,
                          cwd=str(tmp_path))


def task_results(output, name):
    """The per-host results of every task whose name holds name, from the json callback."""
    report = json.loads(output[output.index("{"):])
    return [task["hosts"] for play in report["plays"] for task in play["tasks"] if name in task["task"]["name"]]


def changes(settings):
    return dict((item["identity"], " ".join(str(item["after"]).split())) for item in settings if item["changed"])


def test_plan_and_tune_check_name_the_same_identities_and_values(tmp_path, peer):
    inventory = write_inventory(tmp_path, peer)
    planned = run(tmp_path, inventory, "plan")
    assert planned.returncode == 0, planned.stdout[-4000:]
    assert "changed=0" in planned.stdout.split("PLAY RECAP")[1], "plan.yml is read-only"
    plan = json.load(open(str(tmp_path / "out" / "plans" / "localhost.throughput.json")))
    assert plan["settings"]["sysctl:vm.swappiness"] == 1 and "sysctl:vm.dirty_ratio" not in plan["settings"]

    checked = run(tmp_path, inventory, "tune", "--check", "--diff", callback="json")
    assert checked.returncode == 0, checked.stdout[-4000:]
    [tune_check] = task_results(checked.stdout, "Check the plan on the host")
    assert changes(tune_check["localhost"]["settings"]) == changes(plan["check"]["settings"])
    assert changes(plan["check"]["settings"]).get("sysctl:vm.swappiness") == "1"
    assert "sysctl:vm.dirty_ratio" not in changes(tune_check["localhost"]["settings"])
    # the one request both sent: the plan's settings, unchanged
    assert tune_check["localhost"]["invocation"]["module_args"]["settings"] == plan["request"]["settings"]
    assert not (tmp_path / "journal").exists(), "check mode wrote the journal directory"
    assert not (tmp_path / "history").exists(), "check mode wrote the history"
    assert not os.path.exists(os.path.join(REPO, "plans")), "plans landed inside the collection"


def test_a_misspelled_profile_fails_before_anything_is_measured(tmp_path, peer):
    inventory = write_inventory(tmp_path, peer)
    for mode in ([], ["--check"]):
        proc = run(tmp_path, inventory, "tune", "-e", "hostperf_profile=thruput", *mode)
        assert proc.returncode == 2, proc.stdout[-4000:]
        assert "profile thruput: not found (available: datacenter, edge, latency, throughput" in proc.stdout
        assert "TASK [hostperf.tuning.baseline" not in proc.stdout, "the baseline ran before the profile loaded"
        assert "nothing was changed" in proc.stdout and "was rolled back" not in proc.stdout
        assert "(item=localhost" in proc.stdout and "failed" in proc.stdout.split("(item=localhost")[1].split("\n")[0]
    assert not (tmp_path / "journal").exists()
    db = sqlite3.connect(str(tmp_path / "history" / "hostperf.sqlite"))
    assert db.execute("SELECT outcome FROM hosts").fetchall() == [("failed",)]
    assert db.execute("SELECT status FROM runs").fetchall() == [("stopped",)]  # the preflight stopped the rollout


@pytest.mark.parametrize("variables, words", [
    ({"hostperf_baseline_suites": []}, "no benchmark suite gates this host"),
    ({"hostperf_baseline_suites": [{"type": "latency", "name": "rpc", "peer": "127.0.0.1"}]},
     "suite rpc (latency): sockperf not installed"),
    ({"hostperf_baseline_trials": "five"}, "hostperf_baseline_trials"),
    ({"hostperf_history": "/etc/hostname/history.sqlite"},
     "history /etc/hostname/history.sqlite: /etc/hostname is not a directory"),
    ({"hostperf_overrides": {"sysctl:net.core.no_such_key": 1}}, "net.core.no_such_key"),
    ({"hostperf_apply_sysctl": {"vm.swappiness": 1}}, "hostperf_apply_sysctl: no longer read; name single settings"),
])
def test_check_mode_is_a_preflight_that_fails_in_seconds_with_the_setting(tmp_path, peer, variables, words):
    if "sockperf" in words and any(os.access(os.path.join(d, "sockperf"), os.X_OK)
                                   for d in os.environ["PATH"].split(os.pathsep)):
        pytest.fail("sockperf is installed here; this case needs a tool the machine lacks")
    inventory = write_inventory(tmp_path, peer, all_vars=variables)
    proc = run(tmp_path, inventory, "tune", "--check")
    assert proc.returncode != 0, proc.stdout[-4000:]
    assert words in proc.stdout, proc.stdout[-4000:]
    assert not (tmp_path / "journal").exists()


def test_a_peer_that_does_not_answer_fails_the_preflight(tmp_path):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    proc = run(tmp_path, write_inventory(tmp_path, port), "tune", "--check")
    assert proc.returncode == 2, proc.stdout[-4000:]
    assert "suite lo (network): peer 127.0.0.1:%d does not answer" % port in proc.stdout


def test_an_unreachable_canary_is_counted_lost_and_the_summary_still_runs(tmp_path, peer):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    ghost = {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": port,
             "ansible_user": "nobody", "ansible_ssh_common_args": "-o ConnectTimeout=3 -o BatchMode=yes"}
    inventory = write_inventory(tmp_path, peer, more_hosts={"ghost": ghost})
    with open(inventory) as handle:
        data = yaml.safe_load(handle)
    data["all"]["hosts"] = {"ghost": ghost, "localhost": data["all"]["hosts"]["localhost"]}  # ghost is the canary
    with open(inventory, "w") as handle:
        yaml.safe_dump(data, handle, sort_keys=False)
    proc = run(tmp_path, inventory, "tune", result_format="yaml")
    assert proc.returncode == 2, proc.stdout[-4000:]
    rows = [line.split("(item=", 1)[1][:-1] for line in proc.stdout.splitlines() if "(item=" in line]
    assert rows[0].split()[:6] == ["host", "wave", "profile", "outcome", "changed", "gate"], rows
    ghost_row, local_row = rows[1], rows[2]
    assert ghost_row.split()[:4] == ["ghost", "0", "throughput", "lost"], rows  # wave 0: lost at the preflight
    assert local_row.split()[:4] == ["localhost", "-", "-", "not_reached"], rows
    assert ghost_row.index("lost") == rows[0].index("outcome"), "the columns hold under the yaml result format"
    assert rows[-1].startswith("rollout stopped: wave 1: 1 of 1 hosts regressed, failed or were lost"), rows
    db = sqlite3.connect(str(tmp_path / "history" / "hostperf.sqlite"))
    assert db.execute("SELECT host, outcome FROM hosts").fetchall() == [("ghost", "lost")]
    assert db.execute("SELECT status FROM runs").fetchall() == [("stopped",)]
    assert not (tmp_path / "journal").exists(), "localhost was never reached"


def quickstart():
    """The README's quick start: its inventory and its ansible-playbook commands, as written."""
    with open(os.path.join(REPO, "README.md")) as handle:
        text = handle.read()
    block = [line[4:] for line in text.split("<!-- quickstart -->")[1].split("<!-- /quickstart -->")[0].splitlines()
             if line.startswith("    ")]
    start = block.index("cat > hosts.yml <<'EOF'")
    inventory = yaml.safe_load("\n".join(block[start + 1:block.index("EOF")]))
    commands = [line.split("#")[0].split() for line in block if line.startswith("ansible-playbook")]
    return inventory, commands


def test_the_readme_quick_start_works_as_written_against_localhost_in_check_mode(tmp_path, peer):
    inventory, commands = quickstart()
    assert [command[3] for command in commands] == ["hostperf.tuning.plan", "hostperf.tuning.tune",
                                                    "hostperf.tuning.tune", "hostperf.tuning.drift",
                                                    "hostperf.tuning.rollback"]
    # the same fleet file, with localhost standing in for its host and its peer
    variables = inventory["all"]["vars"]
    variables["hostperf_baseline_suites"][0].update(peer="127.0.0.1", port=peer)
    variables.update(ansible_python_interpreter=sys.executable, hostperf_journal_dir=str(tmp_path / "journal"),
                     hostperf_history=str(tmp_path / "history.sqlite"))
    inventory["all"]["hosts"] = {"localhost": {"ansible_connection": "local"}}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
    env = ansible_env(tmp_path)
    for command in commands:
        argv = [PLAYBOOK] + command[1:] + ([] if "--check" in command or command[3].endswith(".plan") else ["--check"])
        proc = subprocess.run(argv, env=env, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, check=False)
        assert proc.returncode == 0, (command, proc.stdout[-4000:])
    assert (tmp_path / "hostperf-output" / "plans" / "localhost.throughput.json").is_file()
    assert not (tmp_path / "journal").exists() and not (tmp_path / "history.sqlite").exists()


def test_a_mistake_in_the_last_wave_stops_the_rollout_before_the_canary_is_touched(tmp_path, peer):
    later = {"ansible_connection": "local", "hostperf_profile": "thruput",
             "hostperf_journal_dir": str(tmp_path / "journal-later")}
    inventory = write_inventory(tmp_path, peer, more_hosts={"second": later})
    proc = run(tmp_path, inventory, "tune")  # a real run: waves [1], localhost first (the inventory sorts by name)
    assert proc.returncode == 2, proc.stdout[-4000:]
    assert "Tune hosts wave by wave" in proc.stdout and "TASK [Number this wave" not in proc.stdout, "a wave ran"
    rows = [line.split("(item=", 1)[1][:-1] for line in proc.stdout.splitlines() if "(item=" in line]
    assert rows[1].split()[:4] == ["localhost", "-", "-", "not_reached"], rows
    assert rows[2].split()[:4] == ["second", "0", "thruput", "failed"] and "profile thruput: not found" in rows[2]
    assert rows[-1] == "rollout stopped: preflight: 1 of 2 hosts refused (second); nothing was measured or changed"
    assert not (tmp_path / "journal").exists() and not (tmp_path / "journal-later").exists()
    db = sqlite3.connect(str(tmp_path / "history" / "hostperf.sqlite"))
    assert db.execute("SELECT host, outcome, wave FROM hosts").fetchall() == [("second", "failed", 0)]
    assert db.execute("SELECT count(*) FROM samples").fetchone() == (0,)


def test_recommend_names_a_profile_with_its_evidence_and_auto_plans_it(tmp_path, peer):
    """This machine's own facts: whichever profile recommend.yml prints is the one plan.yml with auto plans."""
    inventory = write_inventory(tmp_path, peer, hostperf_profile="auto")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "house.yml").write_text("summary: our own house profile\nextends: throughput\n")
    proc = run(tmp_path, inventory, "recommend", "-e", json.dumps({"hostperf_profile_paths": [str(mine)]}),
               callback="json", result_format="json")
    assert proc.returncode == 0, proc.stdout[-4000:]
    said = task_results(proc.stdout, "Say which profile and why")[0]["localhost"]["msg"]
    profile, _sep, reason = said.partition(": ")
    assert profile in ("datacenter", "virtual-guest", "edge", "throughput") and reason
    listing = task_results(proc.stdout, "List the profiles")[0]["localhost"]["msg"]
    assert "house: our own house profile [by name only]" in listing and len(listing) == 6
    proc = run(tmp_path, inventory, "plan", callback="json", result_format="json")
    assert proc.returncode == 0, proc.stdout[-4000:]
    with open(str(tmp_path / "out" / "plans" / ("localhost.%s.json" % profile))) as handle:
        planned = json.load(handle)
    assert planned["profile"] == profile and planned["request"]["label"] == profile
    assert planned["notes"][0] == "profile auto chose %s for %s" % (profile, reason)
    assert not (tmp_path / "journal").exists()
