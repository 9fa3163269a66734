"""How deep a CPU may sleep (issue 17, part): PM QoS resume latency and idle states per CPU, detected, planned by
the latency profile, set, persisted for boot and rolled back exactly."""

import json

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.detect.host import detect_host
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import Journal
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.module_api import tune
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.transaction import Engine
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.cpu_power import TMPFILES_PATH
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.planner import plan_for_host
from ansible_collections.hostperf.tuning.plugins.plugin_utils.profiles import load_profile

from fakekernel import FakeKernelTree, assert_refused_unchanged, outside_journal, write_file

CPU = "/sys/devices/system/cpu"
# intel_idle on a Skylake server: POLL, C1, C1E, C6
STATES = (("POLL", 0), ("C1", 2), ("C1E", 10), ("C6", 133))


@pytest.fixture
def root(host_root):
    root = host_root("dc-2socket")
    for cpu in range(64):
        write_file(root, "%s/cpu%d/power/pm_qos_resume_latency_us" % (CPU, cpu), "0\n")
        for index, (name, latency) in enumerate(STATES):
            state = "%s/cpu%d/cpuidle/state%d" % (CPU, cpu, index)
            write_file(root, state + "/name", name + "\n")
            write_file(root, state + "/latency", "%d\n" % latency)
            write_file(root, state + "/disable", "0\n")
    return root


def test_a_wakeup_latency_and_a_disabled_state_set_persisted_and_back_exactly(root):
    tree = FakeKernelTree(root)
    journal = Journal(tree)
    before = outside_journal(root)
    request = {"settings": {"cpu:3:pm_qos_resume_latency_us": 3, "cpu:3:cpuidle/state3/disable": 1,
                            "cpu:4:pm_qos_resume_latency_us": "n/a"}}
    result = tune(tree, journal, request)
    assert sorted((item["identity"], item["before"], item["after"]) for item in result["settings"]) == [
        ("cpu:3:cpuidle/state3/disable", "0", "1"), ("cpu:3:pm_qos_resume_latency_us", "0", "3"),
        ("cpu:4:pm_qos_resume_latency_us", "0", "n/a")]
    assert tree.read(CPU + "/cpu3/power/pm_qos_resume_latency_us") == "3"
    assert tree.read(CPU + "/cpu3/cpuidle/state3/disable") == "1"
    assert sorted(tree.read(TMPFILES_PATH).splitlines()[1:]) == [
        "w %s/cpu3/cpuidle/state3/disable - - - - 1" % CPU, "w %s/cpu3/power/pm_qos_resume_latency_us - - - - 3" % CPU,
        "w %s/cpu4/power/pm_qos_resume_latency_us - - - - n/a" % CPU]
    assert tune(tree, journal, request)["changed"] is False
    Engine(tree, journal).rollback("last")
    assert outside_journal(root) == before


@pytest.mark.parametrize("settings, words", [
    ({"cpu:64:pm_qos_resume_latency_us": 3}, "no CPU 64"),
    ({"cpu:3:cpuidle/state9/disable": 1}, "no such idle state for CPU 3"),
    ({"cpu:3:pm_qos_resume_latency_us": "fast"}, "neither microseconds"),
    ({"cpu:3:pm_qos_resume_latency_us": -1}, "neither microseconds"),
    ({"cpu:3:pm_qos_resume_latency_us": 2147483648}, "neither microseconds"),
    ({"cpu:3:pm_qos_resume_latency_us": True}, "neither microseconds"),
    ({"cpu:3:cpuidle/state1/disable": 2}, "neither 1 (state disabled) nor 0"),
    ({"cpu:03:pm_qos_resume_latency_us": 3}, "expected cpu:N:pm_qos_resume_latency_us"),
    ({"cpu:3:cpuidle/state1/../../../../x": 1}, "expected cpu:N"),
    ({"cpu:3:power/control": "on"}, "expected cpu:N"),
])
def test_bad_requests_change_nothing_and_name_the_setting(root, settings, words):
    assert_refused_unchanged(FakeKernelTree(root), {"settings": settings}, [words])


def _facts(root):
    return json.loads(json.dumps(detect_host(FakeKernelTree(root))))


def test_the_idle_states_and_resume_latencies_are_facts(root):
    write_file(root, CPU + "/cpu0/cpuidle/state3/disable", "1\n")
    write_file(root, CPU + "/cpu5/power/pm_qos_resume_latency_us", "n/a\n")
    cpu = _facts(root)["cpu"]
    assert cpu["idle_states"] == [{"state": index, "name": name, "latency_us": latency, "disabled": index == 3}
                                  for index, (name, latency) in enumerate(STATES)]
    assert cpu["resume_latency_us"] == {"0": "0-4,6-63", "n/a": "5"}


def test_the_latency_profile_keeps_every_cpu_out_of_states_slower_than_3_us(root):
    facts = _facts(root)
    plan = plan_for_host(facts, load_profile("latency"), profile_name="latency")
    planned = dict((identity, value) for identity, value in plan["settings"].items() if identity.startswith("cpu:"))
    assert planned == dict(("cpu:%d:pm_qos_resume_latency_us" % cpu, 3) for cpu in range(64))
    entry = [entry for entry in plan["entries"] if entry["identity"] == "cpu:0:pm_qos_resume_latency_us"][0]
    assert entry["current"] == "0" and "C1E, C6" in entry["reason"] and entry["risk"] == "medium"
    tree = FakeKernelTree(root)
    tune(tree, Journal(tree), {"settings": plan["settings"]}, check_mode=True)


def test_a_host_without_idle_states_is_left_alone_with_a_note(host_root):
    facts = json.loads(json.dumps(detect_host(FakeKernelTree(host_root("dc-2socket")))))
    plan = plan_for_host(facts, load_profile("latency"), profile_name="latency")
    assert not [identity for identity in plan["settings"] if identity.startswith("cpu:")]
    assert "no cpuidle states or PM QoS here (intel_idle): wakeup latency left alone" in plan["notes"]
