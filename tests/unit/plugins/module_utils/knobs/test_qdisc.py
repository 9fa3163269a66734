"""Root qdiscs follow net.core.default_qdisc live, as a boot makes them; rollback and pairs put them back exactly.

Measured on the lab's Debian 12 VMs (kernel 6.1): writing default_qdisc fq left ens4 on fq_codel 0:; a root with
handle 0: cannot be deleted ("Cannot delete qdisc with handle of zero"); replacing it and deleting the replacement
attached fq; sch_fq's refcnt was 2 (the default and the root) and 0 once both were fq_codel again.
"""

import os

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import Journal
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.module_api import requested_settings, tune
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.switch import Switch
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.transaction import Engine
from ansible_collections.hostperf.tuning.plugins.module_utils.host import tc
from ansible_collections.hostperf.tuning.plugins.module_utils.host.hosttree import CommandResult
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.kernel_module import MODULES_LOAD_FILE
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.registry import knob_for

from fakekernel import assert_refused_unchanged, outside_journal

NICS = ("eno1", "ens1f0np0", "ens1f1np1")  # dc-2socket's physical NICs, all up; bond0, docker0 and lo have no queue
FQ = {"module:sch_fq": "loaded", "sysctl:net.core.default_qdisc": "fq"}


def roots(tree):
    return tc.roots(tree)


def nic_roots(tree):
    return dict((nic, roots(tree)[nic]) for nic in NICS)


def test_default_qdisc_puts_the_interfaces_already_up_on_it_and_rollback_puts_them_back(dc_host):
    tree, journal, root = dc_host
    pristine, before = outside_journal(root), roots(tree)
    assert nic_roots(tree) == dict.fromkeys(NICS, "fq_codel")
    result = tune(tree, journal, {"settings": FQ})
    assert nic_roots(tree) == dict.fromkeys(NICS, "fq")
    assert dict((item["identity"], item["before"]) for item in result["settings"] if item["changed"]) == dict(
        {"module:sch_fq": "absent", "sysctl:net.core.default_qdisc": "fq_codel"},
        **dict(("qdisc:" + nic, "fq_codel") for nic in NICS))
    assert roots(tree)["lo"] == roots(tree)["docker0"] == "noqueue"
    outcome = Engine(tree, journal).rollback("pristine")
    assert [item["status"] for item in outcome["settings"]] == ["restored"] * 5
    # the roots held sch_fq during the first pass; the second unloaded it
    assert roots(tree) == before and knob_for(tree, "module:sch_fq").read() == "absent"
    assert outside_journal(root) == pristine


def test_the_plan_lists_each_reattached_root_and_leaves_configured_ones_alone(dc_host):
    tree, dummy, dummy = dc_host
    assert tree.run(["tc", "qdisc", "replace", "dev", "eno1", "root", "netem"]).ok  # a WAN emulation, say
    desired, notes = requested_settings(tree, {"default_qdisc": "fq"})
    assert sorted(identity for identity in desired if identity.startswith("qdisc:")) == ["qdisc:ens1f0np0",
                                                                                         "qdisc:ens1f1np1"]
    assert any("qdisc:eno1: its root was configured by someone (netem 8001:)" in note for note in notes), notes
    Engine(tree, Journal(tree)).apply(desired)
    assert roots(tree)["eno1"] == "configured: netem 8001:"


def test_a_host_whose_default_was_set_live_gets_its_old_roots_back(dc_host):
    """default_qdisc already fq but the NICs on fq_codel (set after they came up): the sysctl is unchanged, the
    roots change, and rollback re-attaches fq_codel under a default set for the moment."""
    tree, journal, root = dc_host
    with open(root + tc.DEFAULT_SYSCTL, "w") as handle:
        handle.write("fq\n")
    pristine = outside_journal(root)
    result = tune(tree, journal, {"settings": {"sysctl:net.core.default_qdisc": "fq"}})
    assert sorted(item["identity"] for item in result["settings"] if item["changed"]) == [
        "qdisc:" + nic for nic in NICS]
    assert nic_roots(tree) == dict.fromkeys(NICS, "fq")
    Engine(tree, journal).rollback("pristine")
    assert nic_roots(tree) == dict.fromkeys(NICS, "fq_codel")
    assert tree.read(tc.DEFAULT_SYSCTL) == "fq"
    assert outside_journal(root) == pristine


def test_pairs_switch_the_roots_with_the_default(dc_host):
    tree, journal, dummy = dc_host
    transaction = tune(tree, journal, {"settings": FQ})["transaction"]
    with Switch(tree, journal, transaction) as switch:
        switch.to("before")
        assert nic_roots(tree) == dict.fromkeys(NICS, "fq_codel")
        assert tree.read(tc.DEFAULT_SYSCTL) == "fq_codel"
        switch.to("after")
        assert nic_roots(tree) == dict.fromkeys(NICS, "fq")


@pytest.mark.parametrize("request_, words", [
    ({"qdisc:eno1": "pfifo_fast"}, ["qdisc:eno1: pfifo_fast", "net.core.default_qdisc names (fq_codel)"]),
    ({"qdisc:lo": "fq_codel"}, ["qdisc:lo", "no transmit queue"]),
    ({"qdisc:eth9": "fq_codel"}, ["qdisc:eth9: no such interface"]),
    ({"qdisc:eno1": "fq codel"}, ["qdisc:eno1", "is not a qdisc name"]),
    ({"qdisc:eno1/..": "fq"}, ["not a valid interface name"]),
    ({"sysctl:net.core.default_qdisc": "fq;x"}, ["net.core.default_qdisc", "is not a qdisc name"]),
])
def test_bad_root_qdisc_requests_are_refused_and_change_nothing(dc_host, request_, words):
    tree, dummy, dummy = dc_host
    assert_refused_unchanged(tree, {"settings": request_}, words)


def test_without_tc_the_default_qdisc_is_refused_rather_than_left_unlike_a_boot(dc_host):
    tree, dummy, dummy = dc_host
    commands = tree._commands
    tree._commands = lambda argv: CommandResult(127, stderr="tc not found", missing=True) if argv[0] == "tc" \
        else commands(argv)
    assert_refused_unchanged(tree, {"settings": {"sysctl:net.core.default_qdisc": "fq"}},
                             ["tc (iproute2) is not installed", "as a boot would"])


def test_a_module_still_in_use_is_deferred_and_the_rollback_complete(dc_host):
    """Every connection made while bbr was the default holds tcp_bbr: modprobe -r answers "in use"."""
    tree, journal, root = dc_host
    tune(tree, journal, {"settings": {"module:tcp_bbr": "loaded", "sysctl:net.ipv4.tcp_congestion_control": "bbr"}})
    os.makedirs(root + "/sys/module/tcp_bbr")
    with open(root + "/sys/module/tcp_bbr/refcnt", "w") as handle:
        handle.write("3\n")
    outcome = Engine(tree, journal).rollback("last")
    status = dict((item["identity"], item) for item in outcome["settings"])
    assert status["module:tcp_bbr"]["status"] == "deferred"
    assert "in use (3 user(s)" in status["module:tcp_bbr"]["reason"]
    assert status["sysctl:net.ipv4.tcp_congestion_control"]["status"] == "restored"
    assert journal.transactions()[-1]["state"] == "rolled_back" and not os.path.exists(root + MODULES_LOAD_FILE)
    assert knob_for(tree, "module:tcp_bbr").read() == "loaded"
    # nothing blocks the next tune
    assert tune(tree, journal, {"settings": {"sysctl:vm.swappiness": 5}})["transaction"]


def test_a_module_that_fails_to_unload_for_another_reason_still_fails(dc_host):
    tree, journal, dummy = dc_host
    tune(tree, journal, {"settings": {"module:tcp_bbr": "loaded"}})
    commands = tree._commands
    tree._commands = lambda argv: CommandResult(1, stderr="modprobe: ERROR: could not remove") \
        if argv[:2] == ["modprobe", "-r"] else commands(argv)
    with pytest.raises(Exception, match="incomplete"):
        Engine(tree, journal).rollback("last")
