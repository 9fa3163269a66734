"""One way into tune: a request through tune's selectors, the plan role's selectors or a profile plans the same.

The rules are pure functions of the facts; tune detects the facts on the host
and runs the same planner the plan filter runs on the controller, so the same
request gives the same identities and the same values on every fixture host.
"""

import json

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.detect.host import detect_host
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import Journal
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.planner import checked_selectors, plan_for_host
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.module_api import tune

from conftest import HOST_NAMES
from fakekernel import FakeKernelTree, tree_digest

BLOCK = {"nvme": {"scheduler": "none", "read_ahead_kb": 128},
         "hdd": {"scheduler": "mq-deadline", "read_ahead_kb": 4096},
         "ssd": {"scheduler": "kyber", "nr_requests": 256}, "virtual": {"scheduler": "none"}}
NIC = {"rings": {"rx": "max", "tx": "50%"}, "coalesce": {"rx-usecs": 50, "adaptive-rx": "off"}}
PROFILE = {"block": BLOCK, "congestion_control": {"algorithm": "bbr", "qdisc": "fq"},
           "nic": dict(NIC, channels="local", irq_affinity="local", xps=True)}


def _selectors(facts):
    """PROFILE written as selectors: each class, each driver of this host, each NIC that has IRQs."""
    drivers = sorted(set(nic["driver"] for nic in facts["nics"].values() if nic["driver"]))
    return {"block": [dict(wanted, **{"class": klass}) for klass, wanted in sorted(BLOCK.items())],
            "nic": [dict(NIC, driver=driver, channels={"combined": "local"}) for driver in drivers],
            "irq_affinity": [{"interface": name, "cpus": "local", "xps": True}
                             for name, nic in sorted(facts["nics"].items()) if nic["irqs"]],
            "tcp_congestion_control": "bbr", "default_qdisc": "fq"}


@pytest.mark.parametrize("host", HOST_NAMES)
def test_a_profile_and_the_same_selectors_plan_the_same_on_every_host(host_root, host):
    facts = json.loads(json.dumps(detect_host(FakeKernelTree(host_root(host)))))
    by_profile = plan_for_host(facts, PROFILE)
    by_selectors = plan_for_host(facts, selectors=_selectors(facts))
    assert by_profile["errors"] == by_selectors["errors"] == []
    assert by_selectors["settings"] == by_profile["settings"]
    assert any(identity.startswith("block:") for identity in by_profile["settings"]), "the request must reach disks"


@pytest.mark.parametrize("host", HOST_NAMES)
def test_tune_expands_its_typed_options_on_the_host_exactly_as_the_planner_does(host_root, host):
    tree = FakeKernelTree(host_root(host), loadable={"tcp_bbr", "sch_fq"})
    facts = json.loads(json.dumps(detect_host(tree)))
    planned = plan_for_host(facts, PROFILE)["settings"]
    before = tree_digest(tree.root)
    answer = tune(tree, Journal(tree), _selectors(facts), check_mode=True)
    assert tree.writes == [] and tree_digest(tree.root) == before
    assert dict((item["identity"], item["after"]) for item in answer["settings"]) == dict(
        (identity, str(value)) for identity, value in planned.items())


def test_a_kernel_without_the_algorithm_keeps_its_own_either_way(host_root):
    """A selector is fleet-wide, so a missing algorithm is a note in tune as in a profile; an identity is exact."""
    tree = FakeKernelTree(host_root("dc-2socket"))
    answer = tune(tree, Journal(tree), {"tcp_congestion_control": "vegas"})
    assert not answer["changed"] and tree.writes == []
    assert answer["notes"] == ["tcp_congestion_control vegas: not available on kernel 6.1.0-27-amd64 "
                               "(available: reno, cubic; module tcp_vegas: unknown); congestion control stays cubic"]
    facts = json.loads(json.dumps(detect_host(tree)))
    assert plan_for_host(facts, {"congestion_control": {"algorithm": "vegas"}})["notes"] == answer["notes"]


@pytest.mark.parametrize("host", HOST_NAMES)
def test_an_interface_by_name_and_by_its_driver_plan_the_same_values_of_the_same_types(host_root, host):
    facts = json.loads(json.dumps(detect_host(FakeKernelTree(host_root(host)))))
    request = dict(NIC, mtu=1500, features={"gro": True})
    for name, nic in sorted((name, nic) for name, nic in facts["nics"].items() if nic["driver"]):
        by_name = plan_for_host(facts, selectors={"nic": [dict(request, interface=name)]})["settings"]
        by_driver = plan_for_host(facts, selectors={"nic": [dict(request, driver=nic["driver"])]})["settings"]
        mine = dict((key, value) for key, value in by_driver.items() if key.startswith("nic:%s:" % name))
        assert mine and json.dumps(mine, sort_keys=True) == json.dumps(
            dict((key, by_name[key]) for key in mine), sort_keys=True)


def test_selectors_the_module_validated_validate_again_to_the_same():
    """AnsibleModule hands tune every unset option as None; checking them again must not read None as given."""
    raw = {"nic": [{"interface": "eno1", "mtu": 1500}], "block": [{"class": "nvme", "scheduler": "none"}],
           "irq_affinity": [{"device": "nvme0n1"}], "tcp_congestion_control": "bbr"}
    once = checked_selectors(raw)
    assert once["nic"][0]["driver"] is None and once["irqbalance"] == "ban"
    assert checked_selectors(once) == once
