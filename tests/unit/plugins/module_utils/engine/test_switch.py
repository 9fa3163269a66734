"""Switching a committed change between its before and after live values, for trials measured in pairs."""

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import COMMITTED, TRIAL
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.module_api import tune
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.switch import Switch, SwitchError, pairs_possible
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.transaction import Engine
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import KnobError
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.registry import knob_for

from fakekernel import tree_digest

CHEAP = {"sysctl:vm.swappiness": 10, "sysctl:net.core.somaxconn": 8192, "block:nvme0n1:scheduler": "mq-deadline",
         "block:nvme0n1:nr_requests": 512, "sysctl:net.ipv4.tcp_congestion_control": "bbr", "module:tcp_bbr": "loaded"}
LIVE = ("sysctl:vm.swappiness", "sysctl:net.core.somaxconn", "block:nvme0n1:scheduler", "block:nvme0n1:nr_requests",
        "sysctl:net.ipv4.tcp_congestion_control")


def live(tree):
    return dict((identity, knob_for(tree, identity).read()) for identity in LIVE)


def applied(tree, journal, desired=None):
    pristine = live(tree)
    answer = tune(tree, journal, {"settings": desired or CHEAP})
    return answer["transaction"], pristine, live(tree)


def test_pairs_switch_live_values_both_ways_and_end_committed_on_the_after_side(dc_host):
    tree, journal, _root = dc_host
    transaction, pristine, after = applied(tree, journal)
    assert after != pristine
    with Switch(tree, journal, transaction) as switch:
        assert journal.transactions()[-1]["state"] == TRIAL and journal.interrupted()
        switch.to("before")
        assert live(tree) == pristine
        assert knob_for(tree, "module:tcp_bbr").read() == "loaded"  # inert: stays as the change left it
        switch.to("after")
        assert live(tree) == after
        switch.to("before")
    record = journal.transactions()[-1]
    assert record["state"] == COMMITTED and live(tree) == after and journal.interrupted() == []
    assert record["events"][-1] == "pairs measured: 4 switches, ended on the after side"


def test_an_error_inside_the_trials_still_ends_on_the_after_side(dc_host):
    tree, journal, _root = dc_host
    transaction, _pristine, after = applied(tree, journal)
    with pytest.raises(RuntimeError):
        with Switch(tree, journal, transaction) as switch:
            switch.to("before")
            raise RuntimeError("a suite failed")
    assert live(tree) == after and journal.transactions()[-1]["state"] == COMMITTED


def test_killed_on_the_before_side_the_change_is_interrupted_and_rolls_back_exactly(dc_host, host_root):
    tree, journal, root = dc_host
    untouched = tree_digest(root)
    transaction, pristine, _after = applied(tree, journal)
    switch = Switch(tree, journal, transaction)
    switch.__enter__()
    switch.to("before")
    journal.unlock()  # the process died here: the kernel drops its lock, nothing else runs
    assert [record["id"] for record in journal.interrupted()] == [transaction]
    with pytest.raises(Exception, match="interrupted"):
        tune(tree, journal, {"settings": {"sysctl:vm.swappiness": 20}})
    Engine(tree, journal).rollback("interrupted")
    assert live(tree) == pristine and tree_digest(root, ignore=("/var/lib/hostperf",)) == tree_digest(
        host_root("dc-2socket"), ignore=("/var/lib/hostperf",))
    assert untouched != tree_digest(root)  # the journal remembers the rollback


@pytest.mark.parametrize("desired, words", [
    ({"sysctl:vm.swappiness": 10, "nic:eno1:rings:rx": 2048}, "nic:eno1:rings:rx cannot be switched"),
    ({"nic:eno1:mtu": 1400}, "nic:eno1:mtu cannot be switched"),
    ({"sysctl:vm.min_free_kbytes": 131072}, "sysctl:vm.min_free_kbytes cannot be switched"),
    ({"module:tcp_bbr": "loaded"}, "nothing the change made live can be switched"),
])
def test_a_change_with_a_costly_setting_is_not_switched_and_stays_as_it_was(dc_host, desired, words):
    tree, journal, _root = dc_host
    transaction = tune(tree, journal, {"settings": desired})["transaction"]
    before = journal.transactions()[-1]
    with pytest.raises(SwitchError, match=words):
        with Switch(tree, journal, transaction):
            pytest.fail("must not get here")
    assert journal.transactions()[-1] == before
    assert not pairs_possible(tree, before["settings"])[0]


def test_only_the_newest_committed_transaction_is_switched(dc_host):
    tree, journal, _root = dc_host
    first, _pristine, _after = applied(tree, journal, {"sysctl:vm.swappiness": 10})
    applied(tree, journal, {"sysctl:vm.swappiness": 20})
    with pytest.raises(SwitchError, match="is not the host's newest committed one"):
        with Switch(tree, journal, first):
            pass


def test_a_switch_the_kernel_refuses_is_an_error_and_the_exit_puts_the_after_side_back(dc_host):
    tree, journal, _root = dc_host
    transaction, _pristine, after = applied(tree, journal)
    tree.refuse["/proc/sys/net/core/somaxconn"] = 22
    with pytest.raises(SwitchError, match="switching to before failed: sysctl:net.core.somaxconn"):
        with Switch(tree, journal, transaction) as switch:
            switch.to("before")
    del tree.refuse["/proc/sys/net/core/somaxconn"]
    assert journal.transactions()[-1]["state"] == COMMITTED
    assert live(tree) == after


def test_sides_are_named(dc_host):
    tree, journal, _root = dc_host
    transaction = applied(tree, journal)[0]
    with pytest.raises(SwitchError, match="side must be before or after"):
        with Switch(tree, journal, transaction) as switch:
            switch.to("baseline")
    with pytest.raises(KnobError):
        Engine(tree, journal).rollback("nope")


def test_pairs_are_refused_while_a_transaction_is_interrupted(dc_host):
    tree, journal, _root = dc_host
    transaction = applied(tree, journal)[0]
    record = journal.transactions()[-1]
    stale = dict(record, id=record["id"][:-8] + "00000000", state="pending")
    journal.save(stale)
    with pytest.raises(SwitchError, match="were interrupted; roll them back before measuring in pairs"):
        with Switch(tree, journal, transaction):
            pass


def test_check_mode_refuses_what_a_run_would_and_touches_nothing(dc_host):
    tree, journal, root = dc_host
    first = applied(tree, journal, {"sysctl:vm.swappiness": 10})[0]
    newest = applied(tree, journal, {"sysctl:vm.swappiness": 20})[0]
    digest = tree_digest(root)
    with pytest.raises(SwitchError, match="is not the host's newest committed one"):
        Switch(tree, journal, first).check()
    Switch(tree, journal, newest).check()
    costly = tune(tree, journal, {"settings": {"nic:eno1:mtu": 1400}})["transaction"]
    digest = tree_digest(root)
    with pytest.raises(SwitchError, match="nic:eno1:mtu cannot be switched"):
        Switch(tree, journal, costly).check()
    assert tree_digest(root) == digest and journal.transactions()[-1]["state"] == COMMITTED
