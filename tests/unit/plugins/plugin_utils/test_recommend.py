"""profile: auto on every fixture host and on the edges of each rule; the listing of profiles."""

import copy
import json

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.hostperf.tuning.plugins.filter.plan import plan as plan_filter
from ansible_collections.hostperf.tuning.plugins.filter.recommend import recommend as recommend_filter
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.host import detect_host
from ansible_collections.hostperf.tuning.plugins.module_utils.host.hosttree import HostTree
from ansible_collections.hostperf.tuning.plugins.plugin_utils.profiles import profile_listing
from ansible_collections.hostperf.tuning.plugins.plugin_utils.recommend import recommend

EXPECTED = {
    "dc-2socket": ("datacenter", ["2 NUMA nodes", "4 nvme", "ens1f1np1 at 100000 Mbit/s"]),
    "lab-datacenter-vm": ("datacenter", ["2 NUMA nodes", "1 nvme"]),
    "edge-box": ("edge", ["only slow disks (1 hdd, 1 emmc)", "4 CPUs"]),
    "cloud-vm": ("virtual-guest", ["a kvm guest"]),
    "sandbox-firecracker": ("virtual-guest", ["a kvm guest"]),
}


@pytest.fixture(scope="module")
def fixture_facts(tmp_path_factory):
    from conftest import load_capture
    from ansible_collections.hostperf.tuning.plugins.module_utils.host.capture import materialize
    found = {}
    for name in EXPECTED:
        root = materialize(load_capture(name), str(tmp_path_factory.mktemp(name)))
        found[name] = json.loads(json.dumps(detect_host(HostTree(root))))
    return found


@pytest.mark.parametrize("host", sorted(EXPECTED))
def test_each_fixture_host_gets_its_profile_with_the_evidence(fixture_facts, host):
    chosen = recommend(fixture_facts[host])
    assert (chosen["profile"], chosen["evidence"]) == EXPECTED[host]
    assert chosen["reason"].startswith(", ".join(EXPECTED[host][1]) + " (")
    assert [rule["profile"] for rule in chosen["rules"]] == ["datacenter", "virtual-guest", "edge", "throughput",
                                                             "latency"]
    assert not any(rule["matches"] for rule in chosen["rules"] if rule["profile"] == "latency")


def _edited(facts, **changes):
    facts = copy.deepcopy(facts)
    for path, value in changes.items():
        target = facts
        keys = path.split("__")
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return facts


def test_the_rules_at_their_edges(fixture_facts):
    dc = fixture_facts["dc-2socket"]
    one_node = _edited(dc, numa__nodes=dc["numa"]["nodes"][:1], cpu__sockets=1)
    assert recommend(one_node)["profile"] == "datacenter", "a 100 Gbit/s NIC alone makes a datacenter host"
    slow_nics = dict((name, dict(nic, speed_mbps=10000)) for name, nic in one_node["nics"].items())
    assert recommend(_edited(one_node, nics=slow_nics))["profile"] == "throughput"
    assert recommend(_edited(one_node, nics=slow_nics, environment__virtualization={"type": "kvm"}))[
        "profile"] == "virtual-guest"
    synthetic = _edited(dc, numa__synthetic=True, cpu__sockets=1, nics={})
    assert recommend(synthetic)["profile"] == "throughput", "a synthetic node list is no NUMA evidence"
    edge = fixture_facts["edge-box"]
    with_ssd = _edited(edge, block=dict(edge["block"], sdb=dict(edge["block"]["sda"], **{"class": "ssd"})))
    small = recommend(with_ssd)
    assert small["profile"] == "edge" and small["evidence"] == ["4 CPUs", "8.0 GiB of memory"]
    assert recommend(_edited(with_ssd, memory__total_kb=16 * 1048576))["profile"] == "throughput"
    in_a_cpuset = _edited(dc, cpu__allowed_list=[0, 1], nics={}, numa__nodes=dc["numa"]["nodes"][:1],
                          cpu__sockets=1, block={"vda": {"class": "ssd"}}, memory__total_kb=4 * 1048576)
    assert recommend(in_a_cpuset)["evidence"] == ["2 CPUs", "4.0 GiB of memory"], "the cpuset's CPUs, not the 64"


def test_what_a_review_found_surprising(fixture_facts):
    """A storage server full of HDDs, a cloud VM whose virtual NIC says 50 Gbit/s, a guest with vCPUs as sockets."""
    dc = fixture_facts["dc-2socket"]
    hdds = dict(("sd%s" % chr(97 + index), {"class": "hdd"}) for index in range(24))
    storage = _edited(dc, block=hdds, nics={"eno1": dc["nics"]["eno1"]})
    assert recommend(storage)["profile"] == "throughput" and recommend(storage)["evidence"][0] == "24 hdd"
    one_hdd = _edited(dc, block={"sda": {"class": "hdd"}}, nics={}, numa__nodes=dc["numa"]["nodes"][:1])
    assert recommend(one_hdd)["profile"] == "throughput", "64 CPUs and a disk are no edge box"
    cloud = fixture_facts["cloud-vm"]
    netvsc = _edited(cloud, nics={"eth0": dict(cloud["nics"]["eth0"], speed_mbps=50000)})
    assert recommend(netvsc)["profile"] == "virtual-guest"
    nova = _edited(cloud, cpu__sockets=4, block=dict(cloud["block"], nvme0n1={"class": "nvme"}))
    assert recommend(nova)["profile"] == "virtual-guest", "a guest's sockets are the hypervisor's choice"
    assert recommend(fixture_facts["lab-datacenter-vm"])["profile"] == "datacenter", "its 2 nodes are real"


def test_recommend_wants_host_facts():
    with pytest.raises(AnsibleFilterError, match="hostperf facts"):
        recommend_filter({"cpu": {}})


def test_profile_auto_plans_the_recommended_profile_and_says_why(fixture_facts):
    facts = fixture_facts["dc-2socket"]
    auto = plan_filter(facts, "auto", host="db-01")
    named = plan_filter(facts, "datacenter", host="db-01")
    assert auto["profile"] == "datacenter" and auto["settings"] == named["settings"]
    assert auto["notes"][0] == "profile auto chose datacenter for 2 NUMA nodes, 4 nvme, ens1f1np1 at 100000 Mbit/s " \
                               "(a NUMA server with NVMe or fast NICs)"
    assert auto["notes"][1:] == named["notes"]
    overridden = plan_filter(facts, "auto", overrides={"sysctl:vm.swappiness": 7})
    assert overridden["settings"]["sysctl:vm.swappiness"] == 7


def test_the_listing_names_every_profile_and_which_auto_may_choose(tmp_path):
    (tmp_path / "mine.yml").write_text("summary: my own\nextends: throughput\n")
    (tmp_path / "broken.yml").write_text("sysctl: [not, a, mapping]\n")
    (tmp_path / "auto.yml").write_text("summary: shadows nothing\n")
    listing = dict((entry["name"], entry) for entry in profile_listing([str(tmp_path)]))
    assert sorted(listing) == ["auto", "broken", "datacenter", "edge", "latency", "mine", "throughput",
                               "virtual-guest"]
    assert listing["mine"]["extends"] == "throughput" and listing["mine"]["path"] == str(tmp_path / "mine.yml")
    assert listing["mine"]["line"] == "mine: my own [by name only]"
    assert "sysctl" in listing["broken"]["error"] and listing["broken"]["line"].startswith("broken: profile broken")
    assert "never read" in listing["auto"]["error"] and listing["auto"]["summary"] is None
    assert listing["latency"]["automatic"] is False and "tail latency" in listing["latency"]["line"]
    assert all(listing[name]["automatic"] for name in ("datacenter", "edge", "throughput", "virtual-guest"))
    assert listing["edge"]["summary"].startswith("WAN-facing small boxes")


def test_the_listing_passes_over_what_is_no_profile_file_and_auto_cannot_be_extended(tmp_path):
    (tmp_path / "dir.yml").mkdir()
    (tmp_path / "dangling.yml").symlink_to(tmp_path / "nowhere")
    (tmp_path / "child.yml").write_text("extends: auto\n")
    (tmp_path / "nested").mkdir()
    listing = dict((entry["name"], entry) for entry in profile_listing([str(tmp_path), str(tmp_path / "missing")]))
    assert "dir" not in listing and "dangling" not in listing
    assert "chooses a profile from the host's facts" in listing["child"]["error"]
    with pytest.raises(AnsibleFilterError, match="cannot extend it"):
        plan_filter({"schema": 1}, "child", profile_paths=[str(tmp_path)])
