"""The planner: golden plans for every fixture host under every shipped profile, and its rules and checks.

    HOSTPERF_UPDATE_GOLDEN=1 pytest tests/unit/plugins/plugin_utils   (or: make golden)

rewrites the golden files; a change to a profile or a rule then shows up as a
reviewable diff under tests/unit/fixtures/plans/.
"""

import json
import os

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.host.cpulist import parse_cpulist
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.host import detect_host
from ansible_collections.hostperf.tuning.plugins.module_utils.host.hosttree import HostTree
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.planner import plan_for_host
from ansible_collections.hostperf.tuning.plugins.plugin_utils.profiles import (
    ProfileError, available_profiles, load_profile, merge)

from conftest import HOST_NAMES, REPO

PLANS = os.path.join(REPO, "tests", "unit", "fixtures", "plans")
PROFILES = ["datacenter", "edge", "latency", "throughput", "virtual-guest"]
_FACTS = {}


@pytest.fixture
def facts(host_root):
    """Facts as Ansible hands them to a filter: through JSON, so IRQ numbers are string keys."""
    def detect(name):
        if name not in _FACTS:
            _FACTS[name] = json.loads(json.dumps(detect_host(HostTree(host_root(name)))))
        return json.loads(json.dumps(_FACTS[name]))
    return detect


def test_the_collection_ships_the_five_profiles():
    assert set(PROFILES) <= set(available_profiles())


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("host", HOST_NAMES)
def test_golden_plan(facts, host, profile):
    plan = plan_for_host(facts(host), load_profile(profile), host=host, profile_name=profile)
    path = os.path.join(PLANS, "%s.%s.json" % (host, profile))
    text = json.dumps(plan, indent=1, sort_keys=True) + "\n"
    if os.environ.get("HOSTPERF_UPDATE_GOLDEN"):
        with open(path, "w") as handle:
            handle.write(text)
    with open(path) as handle:
        assert json.loads(handle.read()) == json.loads(text), "plan changed: review, then make golden"
    assert plan["errors"] == []
    for entry in plan["entries"]:
        assert entry["reason"] and entry["risk"] in ("low", "medium", "high"), entry


def test_tcp_buffers_follow_link_speed_and_rtt_capped_by_memory(facts):
    edge = plan_for_host(facts("edge-box"), load_profile("edge"))
    assert edge["settings"]["sysctl:net.core.rmem_max"] == str(2 * 1000 * 1000 * 1000 // 8 * 150 // 1000)
    small = facts("edge-box")
    small["memory"]["total_kb"] = 512 * 1024  # a 512 MiB box: 3% is 16 MB, below the 37.5 MB BDP
    capped = plan_for_host(small, load_profile("edge"))
    assert capped["settings"]["sysctl:net.core.rmem_max"] == str(max(int(512 * 1048576 * 0.03), 6291456))
    assert "capped at 3% of 512 MiB memory" in capped["entries"][
        [e["identity"] for e in capped["entries"]].index("sysctl:net.core.rmem_max")]["reason"]


def test_bbr_and_fq_only_where_the_kernel_has_them(facts):
    host = facts("cloud-vm")
    host["kernel"]["tcp_congestion_controls"]["bbr"] = False
    host["kernel"]["qdiscs"]["fq"] = False
    plan = plan_for_host(host, load_profile("throughput"))
    assert "sysctl:net.ipv4.tcp_congestion_control" not in plan["settings"]
    assert "sysctl:net.core.default_qdisc" not in plan["settings"]
    assert any(note.startswith("tcp_congestion_control bbr: not available") for note in plan["notes"])


def test_every_nic_irq_goes_to_the_nics_own_node_and_xps_follows(facts):
    host = facts("dc-2socket")
    plan = plan_for_host(host, load_profile("datacenter"))
    placed = 0
    for nic in host["nics"].values():
        local = set(parse_cpulist(nic["local_cpus"]))
        for irq in nic["irqs"]:
            cpus = set(parse_cpulist(plan["settings"]["irq:%d" % irq["irq"]]))
            assert cpus and cpus <= local
            placed += 1
    assert placed == len([identity for identity in plan["settings"] if identity.startswith("irq:")]) == 71
    assert plan["settings"]["nic:eno1:xps"].startswith("tx-0=0 tx-1=1")


def test_overrides_replace_switch_off_and_are_checked_against_the_host(facts):
    plan = plan_for_host(facts("dc-2socket"), load_profile("datacenter"), overrides={
        "sysctl:vm.swappiness": 5, "cpufreq:scaling_governor": None, "block:sda:scheduler": "cfq",
        "sysctl:vm.dirty_ratio": 150, "gpu:0:clock": 1, "block:sdz:read_ahead_kb": 64, "nic:eth9:mtu": 9000,
        "irq:%d" % 99999: "0"})
    assert plan["settings"]["sysctl:vm.swappiness"] == 5
    assert [e["source"] for e in plan["entries"] if e["identity"] == "sysctl:vm.swappiness"] == ["override"]
    assert "cpufreq:scaling_governor" not in plan["settings"]
    errors = "\n".join(plan["errors"])
    for words in ("block:sda:scheduler: sda does not offer scheduler cfq", "vm.dirty_ratio: 150 is out of the "
                  "kernel's range 0..100", "gpu:0:clock: unknown setting", "no disk sdz", "no interface eth9",
                  "no IRQ 99999"):
        assert words in errors


def test_profiles_extend_and_null_removes(tmp_path):
    (tmp_path / "mine.yml").write_text("extends: virtual-guest\nsysctl:\n  vm.swappiness: {value: 1, reason: r, "
                                       "risk: low}\n  vm.dirty_ratio: null\n")
    profile = load_profile("mine", [str(tmp_path)])
    assert profile["sysctl"]["vm.swappiness"]["value"] == 1
    assert "vm.dirty_ratio" not in profile["sysctl"] and "cpu" not in profile
    assert profile["congestion_control"]["algorithm"] == "bbr"  # from throughput, two levels up
    assert merge({"a": {"b": 1, "c": 2}}, {"a": {"c": None}}) == {"a": {"b": 1}}


@pytest.mark.parametrize("text, words", [
    ("extends: loop\n", "extends itself through loop -> loop"),
    ("sysctl: {}\nturbo: true\n", "unknown section(s) turbo"),
    ("- a list\n", "must be a mapping"),
])
def test_bad_profiles_are_refused_by_name(tmp_path, text, words):
    (tmp_path / "loop.yml").write_text(text)
    with pytest.raises(ProfileError, match=words.replace("(", r"\(").replace(")", r"\)")):
        load_profile("loop", [str(tmp_path)])


@pytest.mark.parametrize("text, words", [
    ("tcp_buffers: {target_rtt_ms: 20ms}\n", "tcp_buffers.target_rtt_ms: '20ms' is not a positive number"),
    ("tcp_buffers: {memory_share: 2}\n", "tcp_buffers.memory_share: 2 is not a fraction between 0 and 1"),
    ("tcp_buffers: {rtt: 20}\n", "tcp_buffers.rtt: unknown key (known: assumed_speed_mbps, memory_share"),
    ("sysctl: {vm.swappiness: {value: 1, reason: r, risk: severe}}\n",
     "sysctl.vm.swappiness.risk: 'severe' must be one of low, medium, high"),
    ("sysctl: {vm.swappiness: 10}\n", "sysctl.vm.swappiness: must be a mapping with value, reason and risk, not 10"),
    ("sysctl: {../../etc/shadow: {value: 1}}\n", "sysctl.../../etc/shadow: "),
    ("block: {floppy: {scheduler: none}}\n", "block.floppy: unknown key (known: emmc, hdd, nvme"),
    ("block: {hdd: {elevator: bfq}}\n", "block.hdd.elevator: unknown key"),
    ("nic: {rings: {rx: [1, 2]}}\n", "nic.rings.rx: [1, 2] is not a number or text"),
    ("nic: {xps: yes please}\n", "nic.xps: 'yes please' is not true or false"),
    ("cpu: {governor: performance}\n", "cpu.governor: 'performance' is not a list of names"),
    ("congestion_control: [bbr]\n", "congestion_control: must be a mapping, not ['bbr']"),
])
def test_mistyped_profiles_name_the_file_the_key_and_what_was_expected(tmp_path, text, words):
    (tmp_path / "mine.yml").write_text(text)
    with pytest.raises(ProfileError) as raised:
        load_profile("mine", [str(tmp_path)])
    assert str(raised.value).startswith("profile mine (%s): " % (tmp_path / "mine.yml")), raised.value
    assert words in str(raised.value)


def test_every_shipped_profile_passes_its_own_checks():
    for name in available_profiles():
        assert load_profile(name)


def test_unknown_and_unsafe_profile_names():
    with pytest.raises(ProfileError, match="not found .available: datacenter"):
        load_profile("nosuch")
    with pytest.raises(ProfileError, match="not a profile name"):
        load_profile("../../etc/passwd")


def test_a_bad_ring_amount_in_a_profile_is_an_error_of_the_plan(facts):
    plan = plan_for_host(facts("dc-2socket"), {"nic": {"rings": {"rx": "lots", "tx": 1.5}}})
    assert "profile nic rings rx: 'lots' is not a number, max, a percentage or a fraction" in plan["errors"]
    assert "profile nic rings tx: 1.5 is not a number, max, a percentage or a fraction" in plan["errors"]
    assert not any(identity.startswith("nic:") for identity in plan["settings"])


def test_a_profile_with_aliases_or_too_large_is_refused_before_it_is_planned(tmp_path):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        "%s: &%s [%s]\n" % (chr(98 + i), chr(98 + i), ", ".join(["*" + chr(97 + i)] * 9)) for i in range(8))
    (tmp_path / "bomb.yml").write_text("summary: nine nested aliases\nsysctl:\n  " + bomb.replace("\n", "\n  "))
    with pytest.raises(ProfileError, match=r"aliases \(\*a\) are not allowed in a profile; use extends"):
        load_profile("bomb", [str(tmp_path)])
    (tmp_path / "huge.yml").write_text("summary: " + "x" * (1024 * 1024) + "\n")
    with pytest.raises(ProfileError, match="larger than 1048576 bytes"):
        load_profile("huge", [str(tmp_path)])


def test_a_null_in_a_section_no_parent_sets_removes_nothing_and_reaches_no_rule(tmp_path, facts):
    """Found by the module fuzzer: {tcp_buffers: {memory_share: null}} without a parent raised TypeError."""
    (tmp_path / "nulls.yml").write_text("tcp_buffers: {memory_share: null, target_rtt_ms: null}\n")
    profile = load_profile("nulls", [str(tmp_path)])
    assert profile == {"tcp_buffers": {}}
    assert plan_for_host(facts("dc-2socket"), profile)["errors"] == []
