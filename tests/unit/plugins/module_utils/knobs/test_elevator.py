"""The elevator's state beyond its name: its tunables (queue/iosched) go with it on a switch, and bfq turns writeback
throttling off. Rollback must give back what the host had, not the new elevator's defaults; the tunables are
settings of their own, checked against the scheduler the request leaves active."""

import os

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import Journal
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.module_api import diff_of, tune
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.transaction import Engine
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import KnobError
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.block import UDEV_RULES_FILE

from fakekernel import ELEVATOR_DEFAULTS, FakeKernelTree, outside_journal

QUEUE = "/sys/devices/pci0000:00/0000:00:13.0/ata1/host0/target0:0:0/0:0:0:0/block/sda/queue"
# What an operator (or another tool) set on the HDD's mq-deadline before this collection came along.
SET_BY_HAND = {"fifo_batch": "32", "read_expire": "250", "async_depth": "48"}


@pytest.fixture
def edge(host_root):
    root = host_root("edge-box")
    os.makedirs(root + QUEUE + "/iosched")
    for name, default in ELEVATOR_DEFAULTS["mq-deadline"].items():
        with open(root + QUEUE + "/iosched/" + name, "w") as handle:
            handle.write(SET_BY_HAND.get(name, default) + "\n")
    tree = FakeKernelTree(root, loadable={"bfq"})
    return tree, Engine(tree, Journal(tree)), root


def test_rollback_of_a_scheduler_switch_gives_back_the_old_elevators_tunables_and_wbt(edge):
    tree, engine, root = edge
    pristine = outside_journal(root)
    engine.apply({"block:sda:scheduler": "bfq"})
    assert tree.read(QUEUE + "/iosched/slice_idle") == "8" and not tree.exists(QUEUE + "/iosched/fifo_batch")
    assert tree.read(QUEUE + "/wbt_lat_usec") == "0"  # bfq turned writeback throttling off
    record = engine.journal.transactions()[-1]
    side_effects = sorted(s["identity"] for s in record["settings"] if s["after"] is None)
    assert "block:sda:iosched/fifo_batch" in side_effects and "block:sda:wbt_lat_usec" in side_effects
    engine.rollback("last")
    assert dict((name, tree.read(QUEUE + "/iosched/" + name)) for name in SET_BY_HAND) == SET_BY_HAND
    assert tree.read(QUEUE + "/wbt_lat_usec") == "75000"
    assert outside_journal(root) == pristine


def test_an_elevator_tunable_is_a_setting_persisted_after_the_scheduler(edge):
    tree, engine, root = edge
    pristine = outside_journal(root)
    engine.apply({"block:sda:scheduler": "bfq", "block:sda:iosched/slice_idle": 0})
    assert tree.read(QUEUE + "/iosched/slice_idle") == "0"
    rule = [line for line in open(root + UDEV_RULES_FILE) if "ATTR{queue/" in line][0]
    assert rule.index('ATTR{queue/scheduler}="bfq"') < rule.index('ATTR{queue/iosched/slice_idle}="0"')
    engine.rollback("last")
    assert outside_journal(root) == pristine


def test_the_diff_shows_a_tunable_of_the_scheduler_to_come_as_absent(edge):
    tree, engine, root = edge
    result = tune(tree, engine.journal, {"settings": {"block:sda:scheduler": "bfq", "block:sda:iosched/slice_idle": 0}},
                  check_mode=True)
    assert "block:sda:iosched/slice_idle = (absent)\n" in diff_of(result)[0]["before"]


def test_nr_requests_resets_mq_deadlines_async_depth_and_rollback_gives_it_back(edge):
    tree, engine, root = edge
    pristine = outside_journal(root)
    engine.apply({"block:sda:nr_requests": 32})
    assert tree.read(QUEUE + "/iosched/async_depth") == "32"
    engine.rollback("last")
    assert tree.read(QUEUE + "/iosched/async_depth") == "48"
    assert outside_journal(root) == pristine


@pytest.mark.parametrize("request_, message", [
    ({"block:sda:iosched/slice_idle": 0}, "slice_idle is not a tunable of the mq-deadline scheduler"),
    ({"block:sda:scheduler": "none", "block:sda:iosched/fifo_batch": 8},
     "not a tunable of the none scheduler this request leaves active \\(none has none\\)"),
    ({"block:sda:scheduler": "bfq", "block:sda:iosched/fifo_batch": 8}, "bfq has: back_seek_max"),
    ({"block:sda:iosched/../../../etc/x": 1}, "unknown queue setting"),
    ({"block:sda:iosched/FIFO": 1}, "unknown queue setting"),
    ({"block:sda:iosched/fifo_batch": -1}, "must be a non-negative integer"),
    ({"block:sda:wbt_lat_usec": 75000}, "wbt_lat_usec cannot be set: once written it stays the operator's"),
])
def test_tunables_the_active_scheduler_does_not_have_are_refused_before_any_change(edge, request_, message):
    tree, engine, root = edge
    pristine = outside_journal(root)
    with pytest.raises(KnobError, match=message):
        engine.apply(request_)
    assert outside_journal(root) == pristine
