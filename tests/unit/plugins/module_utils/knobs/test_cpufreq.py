"""cpufreq governor and energy-performance preference across policies, persisted for systemd-tmpfiles."""

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import Journal
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.cpufreq import TMPFILES_PATH, CpufreqKnob
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.module_api import tune
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.transaction import Engine

from fakekernel import FakeKernelTree, assert_refused_unchanged, outside_journal, tree_digest

POLICIES = "/sys/devices/system/cpu/cpufreq/policy%d/scaling_governor"


@pytest.fixture
def edge(host_root):
    return FakeKernelTree(host_root("edge-box"))


def test_governor_for_every_policy_persisted_and_rolled_back(edge):
    before = tree_digest(edge.root)
    journal = Journal(edge)
    result = tune(edge, journal, {"settings": {"cpufreq:scaling_governor": "performance"}})
    assert result["settings"][0]["before"] == "ondemand"
    assert [edge.read(POLICIES % cpu) for cpu in range(4)] == ["performance"] * 4
    assert edge.read(TMPFILES_PATH).splitlines()[-1] == \
        "w /sys/devices/system/cpu/cpufreq/policy*/scaling_governor - - - - performance"
    Engine(edge, journal).rollback("last")
    assert outside_journal(edge.root) == before


def test_policies_that_differ_are_journaled_and_restored_one_by_one(edge):
    with open(edge.path(POLICIES % 2), "w") as handle:
        handle.write("powersave\n")
    knob = CpufreqKnob(edge, "scaling_governor")
    assert knob.read() == "policy0=ondemand policy1=ondemand policy2=powersave policy3=ondemand"
    journal = Journal(edge)
    tune(edge, journal, {"settings": {"cpufreq:scaling_governor": "schedutil"}})
    Engine(edge, journal).rollback("last")
    assert edge.read(POLICIES % 2) == "powersave" and edge.read(POLICIES % 3) == "ondemand"


def test_preference_goes_after_the_governor(host_root):
    tree = FakeKernelTree(host_root("dc-2socket"))
    result = tune(tree, Journal(tree), {"settings": {"cpufreq:scaling_governor": "performance", "cpufreq:energy_performance_preference": "performance"}})
    assert [item["identity"] for item in result["settings"]] == [
        "cpufreq:scaling_governor", "cpufreq:energy_performance_preference"]


@pytest.mark.parametrize("host, request_, words", [
    ("edge-box", {"settings": {"cpufreq:scaling_governor": "turbo"}},
     ["cpufreq scaling_governor", "'turbo' is not offered by policy0", "conservative, ondemand"]),
    ("edge-box", {"settings": {"cpufreq:energy_performance_preference": "performance"}},
     ["policy0 has no energy_performance_preference"]),
    ("cloud-vm", {"settings": {"cpufreq:scaling_governor": "performance"}}, ["no cpufreq policies"]),
    ("edge-box", {"settings": {"cpufreq:max_freq": "1"}}, ["cpufreq 'max_freq': unknown setting"]),
])
def test_bad_cpufreq_requests_change_nothing(host_root, host, request_, words):
    assert_refused_unchanged(FakeKernelTree(host_root(host)), request_, words)
