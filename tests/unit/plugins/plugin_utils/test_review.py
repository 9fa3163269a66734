"""The review lines: the host's answer to the request, explained by the plan, IRQs named by device and queue."""

import pytest

from ansible_collections.hostperf.tuning.plugins.plugin_utils.review import review_lines

PLAN = {"profile": "edge", "notes": ["no cpufreq here"], "entries": [
    {"identity": "sysctl:vm.swappiness", "risk": "low", "reason": "keep the page cache"},
    {"identity": "irq:26", "risk": "low", "reason": "the NIC's IRQs on local CPUs"}]}
CHECK = {"notes": ["qdisc fq does not exist"], "files": [
    {"path": "/etc/sysctl.d/90-hostperf-tuning.conf", "action": "created"},
    {"path": "/etc/udev/rules.d/90-hostperf-tuning-net.rules", "action": "updated"}], "settings": [
    {"identity": "sysctl:vm.swappiness", "before": "60", "after": 10, "changed": True},
    {"identity": "sysctl:vm.dirty_ratio", "before": "20", "after": 20, "changed": False},
    {"identity": "irq:26", "before": "2-3", "after": "2", "changed": True},
    {"identity": "module:bfq", "before": "absent", "after": "loaded", "changed": True},
    {"identity": "nic:eth1:rings:rx", "before": 256, "after": [1024], "changed": True}]}
FACTS = {"irqs": {"26": {"name": "enp130s0-rx-0", "owner": ["enp130s0"]}}}


def test_what_the_host_reported_is_listed_with_the_plan_s_reason_and_risk():
    assert review_lines(CHECK, PLAN, FACTS) == [
        "profile edge: 4 of 5 settings would change",
        "no cpufreq here",
        "qdisc fq does not exist",
        "sysctl:vm.swappiness: 60 -> 10  [low] keep the page cache",
        "irq:26 (enp130s0-rx-0): 2-3 -> 2  [low] the NIC's IRQs on local CPUs",
        "module:bfq: absent -> loaded  [low] loaded first: a planned setting needs it",
        "nic:eth1:rings:rx: 256 -> 1024  [?] the host adds it: the kernel changes it with a planned setting",
        "files: would create /etc/sysctl.d/90-hostperf-tuning.conf, "
        "would update /etc/udev/rules.d/90-hostperf-tuning-net.rules"]


def test_overrides_alone_and_an_irq_the_facts_do_not_name():
    lines = review_lines({"settings": [{"identity": "irq:99", "before": None, "after": "1", "changed": True}]},
                         {"profile": None, "entries": []}, {})
    assert lines[0] == "overrides only: 1 of 1 settings would change"
    assert lines[1].startswith("irq:99: ? -> 1  [?]")


def test_a_lost_host_is_said_not_reviewed():
    with pytest.raises(ValueError, match="lost before it answered: Connection timed out"):
        review_lines({"unreachable": True, "msg": "Connection timed out"}, PLAN)


def test_the_review_says_how_the_change_would_be_measured():
    pairs = dict(CHECK, pairs={"possible": True, "reason": None})
    assert review_lines(pairs, PLAN, FACTS)[-1] == "can be measured in pairs (before and after switched trial by trial)"
    blocks = dict(CHECK, pairs={"possible": False, "reason": "nic:eth1:rings:rx cannot be switched between trials"})
    assert review_lines(blocks, PLAN, FACTS)[-1] == (
        "can be measured only in blocks (a baseline, then after): nic:eth1:rings:rx cannot be switched between trials")
