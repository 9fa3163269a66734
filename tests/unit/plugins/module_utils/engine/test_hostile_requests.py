"""Requests an adversarial review found wrong-footing tune or the planner: each is refused clearly, or means one thing."""

import errno
import json
import os

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.detect.host import detect_host
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import Journal
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.module_api import tune
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.planner import plan_for_host
from ansible_collections.hostperf.tuning.plugins.plugin_utils.profiles import load_profile

from ansible_collections.hostperf.tuning.plugins.module_utils.engine.transaction import TransactionError

from fakekernel import FakeKernelTree, assert_refused_unchanged, outside_journal


@pytest.fixture
def dc(host_root):
    return FakeKernelTree(host_root("dc-2socket"))


@pytest.fixture
def facts(dc):
    return json.loads(json.dumps(detect_host(dc)))


@pytest.mark.parametrize("settings, words", [
    # a name the kernel allows but a udev rule would read as a pattern, or as the end of a string
    ({'nic:eth*:mtu': 1400}, ["interface 'eth*'", "udev rule cannot match this name literally"]),
    ({'nic:x",RUN+="rm:mtu': 1400}, ["udev rule cannot match"]),
    ({"sysctl:vm.swappiness": 10, "sysctl:vm/swappiness": 20},
     ["sysctl:vm.swappiness and sysctl:vm/swappiness name the same setting with different values"]),
    ({"nic:eno1:rps": "rx-0=1"}, ["nic eno1: rps", "names 1 of 4 queues", "nic:eno1:rps:rx-1"]),
    ({"nic:eno1:rps": "rx-0=0 junk"}, ["nic eno1: rps", "part=value for each part once"]),
    ({"nic:eno1:rps": "rx-0=0 rx-0=1 rx-1=0 rx-2=0"}, ["part=value for each part once"]),
    ({"sysctl:vm.swappiness": "\u0661\u0660"}, ["vm.swappiness", "not an integer"]),
    ({"irq:\u00b2": "0"}, ["not an IRQ number"]),
    ({"block:nvme0n1:read_ahead_kb": "\u00b2"}, ["read_ahead_kb", "non-negative integer"]),
    ({"nic:eno1:rings:rx": "inf%"}, ["rings rx", "a number, max, a percentage or a fraction"]),
    ({"sysctl:": 1}, ["setting 'sysctl:': expected sysctl:KEY"]),
    # an int key without known limits holds an int, not a long
    ({"sysctl:vm.min_free_kbytes": 2 ** 40}, ["vm.min_free_kbytes", "out of the kernel's range -2147483648..2147483647"]),
    ({"sysctl:vm.swappiness": True}, ["vm.swappiness", "YAML reads yes/no/true/false as booleans"]),
    ({"sysctl:vm.swappiness": {"a": 1}}, ["vm.swappiness", "is not a number or a string"]),
    ({"sysctl:vm.swappiness": 10.5}, ["vm.swappiness", "is not a number or a string"]),
    ({"sysctl:net.ipv4.tcp_congestion_control": ["bbr\x00"]}, ["tcp_congestion_control", "newline or NUL"]),
    ({"sysctl:net.ipv4.tcp_rmem": ["4096", "87380\n", "6291456"]}, ["tcp_rmem", "newline or NUL"]),
    # ranges are bounded before they are expanded
    ({"nic:eno1:rps": "0-4294967295"}, ["nic eno1: rps", "CPU 4294967295", "beyond any kernel's CPU numbers"]),
])
def test_refused_with_the_setting_named_and_nothing_changed(dc, settings, words):
    assert_refused_unchanged(dc, {"settings": settings}, words)


def test_two_spellings_of_one_value_are_one_setting(dc):
    answer = tune(dc, Journal(dc), {"settings": {"sysctl:vm.swappiness": 10, "sysctl:vm/swappiness": "10"}},
                  check_mode=True)
    assert [item["identity"] for item in answer["settings"]] == ["sysctl:vm.swappiness"]


def test_an_override_in_another_spelling_replaces_the_planned_value(facts):
    profile = load_profile("datacenter")
    plan = plan_for_host(facts, profile, {"sysctl:net/core/somaxconn": 1024})
    assert plan["errors"] == [] and plan["settings"]["sysctl:net.core.somaxconn"] == 1024
    assert "sysctl:net/core/somaxconn" not in plan["settings"]
    plan = plan_for_host(facts, profile, {"sysctl:net/core/somaxconn": None})
    assert "sysctl:net.core.somaxconn" not in plan["settings"]
    assert "override sysctl:net.core.somaxconn: switched off" in plan["notes"]


@pytest.mark.parametrize("selectors, overrides, words", [
    ({"nic": [{"interface": "eno1", "rings": {1: "max"}}]}, None, "nic[0]: rings must map parameter names"),
    ({"nic": [{"driver": "igb", "rings": {"rx": "1e400%"}}]}, None, "is not a number, max, a percentage"),
    ({"irq_affinity": [{"interface": "eno1", "cpus": ""}]}, None, "irq_affinity[0]: cpus: the CPU list is empty"),
    ({}, {1: 2, "sysctl:vm.swappiness": 1}, "override 1: unknown setting"),
    ({}, {"block:nvme0n1:scheduler": ["none"]}, "override block:nvme0n1:scheduler:"),
])
def test_the_planner_reports_bad_requests_as_errors_instead_of_crashing(facts, selectors, overrides, words):
    plan = plan_for_host(facts, selectors=selectors, overrides=overrides)
    assert any(words in error for error in plan["errors"]), plan["errors"]


@pytest.mark.parametrize("request_, words", [
    ({"block": {"class": "nvme"}}, ["selectors: ", "block"]),
    ({"nic": [{"interface": "eno1", "driver": "igb", "mtu": 1400}]}, ["mutually exclusive", "interface", "driver"]),
    ({"block": [{"class": "floppy", "scheduler": "none"}]}, ["class", "floppy"]),
    ({"irqbalance": "sometimes", "irq_affinity": [{"interface": "eno1"}]}, ["irqbalance", "sometimes"]),
    ({"nic": [{"interface": "eno1", "mtu": "big"}]}, ["mtu", "big"]),
])
def test_a_direct_call_with_selectors_of_the_wrong_shape_is_refused_by_name(dc, request_, words):
    """The module validates its options; module_api.tune() is also called directly (tests, other modules)."""
    assert_refused_unchanged(dc, request_, words)


@pytest.mark.parametrize("request_, words", [
    ({"block": [{"device": "nvme0n1", "nr_requests": 64}, {"device": "nvme0n1", "nr_requests": 128}]},
     ["block:nvme0n1:nr_requests is asked for twice with different values: 64 (block[0]", "128 (block[1]"]),
    ({"nic": [{"interface": "eno1", "mtu": 1400}, {"driver": "igb", "mtu": 9000}]},
     ["nic:eno1:mtu is asked for twice with different values: 1400 (nic[0]", "9000 (nic[1]"]),
])
def test_two_selectors_that_disagree_on_one_setting_are_refused(dc, request_, words):
    assert_refused_unchanged(dc, request_, words)


def test_a_write_only_key_is_an_action_not_a_setting(dc):
    flush = dc.path("/proc/sys/net/ipv4/route/flush")
    os.makedirs(os.path.dirname(flush))
    with open(flush, "w") as handle:
        handle.write("")
    os.chmod(flush, 0o200)
    assert_refused_unchanged(dc, {"settings": {"sysctl:net.ipv4.route.flush": 1}},
                             ["net.ipv4.route.flush", "write-only key", "cannot be read back, verified or restored"])


def test_a_disk_id_udev_would_not_read_literally_is_passed_over_not_escaped(dc):
    """A serial holding a quote, a glob or a newline would match other disks or end the rule: the next id is used."""
    dev = dc.read("/sys/block/sda/dev")
    data = dc.path("/run/udev/data/b%s" % dev)
    with open(data) as handle:
        lines = [line for line in handle.read().splitlines() if line.startswith("E:")]
    with open(data, "w") as handle:
        handle.write("".join('%s"*,NAME="x\n' % line for line in lines))
    for attr in ("wwid", "serial"):
        for path in ("/sys/block/sda/" + attr, "/sys/block/sda/device/" + attr):
            if dc.exists(path):
                with open(dc.path(path), "w") as handle:
                    handle.write("abc\nACTION==\"add\", RUN+=\"/bin/sh\"\n")
    result = tune(dc, Journal(dc), {"settings": {"block:sda:read_ahead_kb": 256}}, check_mode=True)
    rules = [item["after"] for item in result["files"] if item["path"].endswith("-block.rules")][0]
    assert 'KERNEL=="sda", ATTR{queue/read_ahead_kb}="256"' in rules
    assert "RUN" not in rules and "NAME" not in rules and len(rules.splitlines()) == 3


def test_one_function_decides_what_a_udev_rule_may_hold():
    from ansible_collections.hostperf.tuning.plugins.module_utils.host import udev
    assert udev.literal("t10.ATA  SAMSUNG 123", "wwid") == "t10.ATA  SAMSUNG 123"
    for text in ['a"b', "a\\b", "a*", "a?", "[a]", "a|b", "$name", "%k", "{x}", "a\nb", "\x00", "\u00e9", ""]:
        with pytest.raises(udev.UdevValueError, match="cannot be written into a udev rule literally"):
            udev.literal(text, "value")
    with pytest.raises(udev.UdevValueError, match="a space"):
        udev.literal("rx 4096", "argument", spaces=False)


@pytest.mark.parametrize("settings, words", [
    # no scheduler: the hardware tag depth (mq/*/nr_tags: 1023 on these NVMe drives) is the limit
    ({"block:nvme0n1:nr_requests": 2000}, ["block nvme0n1: nr_requests=2000", "1023", "hardware tag depth",
                                           "the collection's own range is 4..65536"]),
    # with a scheduler, blk-mq's MAX_SCHED_RQ
    ({"block:sda:nr_requests": 4096}, ["block sda: nr_requests=4096", "2048", "scheduler (mq-deadline)"]),
    # the limit of the scheduler the request leaves active, not of today's
    ({"block:sda:scheduler": "none", "block:sda:nr_requests": 64}, ["nr_requests=64", ": 32,", "no scheduler"]),
    ({"block:nvme0n1:nr_requests": 70000}, ["nr_requests=70000 is out of range 4..65536"]),
])
def test_nr_requests_above_the_kernels_limit_is_refused_saying_whose_limit(dc, settings, words):
    assert_refused_unchanged(dc, {"settings": settings}, words)


def test_nr_requests_takes_the_limit_of_the_scheduler_the_request_sets(dc):
    answer = tune(dc, Journal(dc), {"settings": {"block:nvme0n1:scheduler": "mq-deadline",
                                                 "block:nvme0n1:nr_requests": 2048}})
    assert answer["changed"] and dc.read("/sys/block/nvme0n1/queue/nr_requests") == "2048"


def test_where_the_tag_depth_is_not_shown_the_kernel_decides_and_the_message_says_so(dc):
    for queue in dc.listdir("/sys/block/nvme0n1/mq"):
        os.unlink(dc.path("/sys/block/nvme0n1/mq/%s/nr_tags" % queue))
    dc.refuse["/sys/block/nvme0n1/queue/nr_requests"] = errno.EINVAL
    tune(dc, Journal(dc), {"settings": {"block:nvme0n1:nr_requests": 2000}}, check_mode=True)
    before = outside_journal(dc.root)
    with pytest.raises(TransactionError, match="rolled back: block:nvme0n1:nr_requests: the kernel refused '2000'"):
        tune(dc, Journal(dc), {"settings": {"block:nvme0n1:nr_requests": 2000}})
    assert outside_journal(dc.root) == before


def test_a_class_selector_notes_a_disk_whose_kernel_limit_is_below_the_value(facts):
    plan = plan_for_host(facts, selectors={"block": [{"class": "nvme", "nr_requests": 1500}]})
    assert plan["errors"] == [] and not [key for key in plan["settings"] if key.endswith(":nr_requests")]
    assert "nvme0n1: nr_requests 1500 is above what the kernel takes, 1023, the device's hardware tag depth " \
           "(mq/*/nr_tags) with no scheduler; left as 1023" in plan["notes"]
    plan = plan_for_host(facts, selectors={"block": [{"class": "nvme", "scheduler": "mq-deadline",
                                                      "nr_requests": 1500}]})
    assert plan["settings"]["block:nvme0n1:nr_requests"] == "1500"
