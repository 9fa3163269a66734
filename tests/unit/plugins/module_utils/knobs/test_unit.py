"""Pinning a systemd service: its running threads re-pinned live, a CPUAffinity= drop-in, exact rollback."""

import os

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import Journal
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.unit import DROPIN
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.module_api import tune
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.transaction import Engine

from fakekernel import FakeKernelTree, assert_refused_unchanged, outside_journal, tree_digest

THREADS = ("4001", "4002", "4003")


@pytest.fixture
def dc(host_root):
    """dc-2socket running nginx (three threads, one pinned by the application itself) and a stopped redis."""
    root = host_root("dc-2socket")
    cgroup = root + "/sys/fs/cgroup/system.slice/nginx.service"
    os.makedirs(cgroup)
    with open(cgroup + "/cgroup.threads", "w") as handle:
        handle.write("".join(task + "\n" for task in THREADS))
    for task in THREADS:
        os.makedirs(root + "/proc/" + task)
        with open(root + "/proc/%s/status" % task, "w") as handle:
            handle.write("Name:\tnginx\nCpus_allowed_list:\t%s\n" % ("7" if task == "4003" else "0-63"))
    return FakeKernelTree(root, units={
        "nginx.service": {"active": "active", "enabled": "enabled", "ControlGroup": "/system.slice/nginx.service"},
        "redis-server.service": {"active": "inactive", "enabled": "disabled", "ControlGroup": ""}})


def affinities(tree):
    return [tree.read("/proc/%s/status" % task).split("\t")[-1] for task in THREADS]


def test_running_service_is_repinned_live_and_persisted_then_rolled_back_thread_by_thread(dc):
    before = tree_digest(dc.root)
    journal = Journal(dc)
    result = tune(dc, journal, {"settings": {"unit:nginx.service:cpu_affinity": "16-17"}})
    assert result["settings"][0]["before"] == "4001=0-63 4002=0-63 4003=7"
    assert affinities(dc) == ["16-17"] * 3
    assert dc.read(DROPIN % "nginx.service").endswith("[Service]\nCPUAffinity=16-17")
    assert dc.systemctl == ["daemon-reload"]
    assert tune(dc, journal, {"settings": {"unit:nginx.service:cpu_affinity": "16,17"}})["changed"] is False
    Engine(dc, journal).rollback("last")
    assert affinities(dc) == ["0-63", "0-63", "7"]
    assert not os.path.exists(dc.path("/etc/systemd/system/nginx.service.d"))
    assert outside_journal(dc.root) == before


def test_a_stopped_service_only_gets_its_drop_in(dc):
    result = tune(dc, Journal(dc), {"settings": {"unit:redis-server.service:cpu_affinity": "2"}})
    assert result["changed"] is True and result["settings"][0]["changed"] is False
    assert dc.read(DROPIN % "redis-server.service").endswith("CPUAffinity=2")
    assert [write for write in dc.writes if write[0] == "set_affinity"] == []


@pytest.mark.parametrize("request_, words", [
    ({"settings": {"unit:nginx.service:cpu_affinity": "64"}}, ["unit nginx.service: cpu_affinity", "not online"]),
    ({"settings": {"unit:nginx.service:cpu_affinity": ""}}, ["unit nginx.service: cpu_affinity", "the CPU list is empty"]),
    ({"settings": {"unit:postgresql.service:cpu_affinity": "1"}}, ["unit postgresql.service: no such unit"]),
    ({"settings": {"unit:../../etc/x:cpu_affinity": "1"}}, ["expected SERVICE.service:cpu_affinity"]),
    ({"settings": {"unit:nginx.socket:cpu_affinity": "1"}}, ["expected SERVICE.service:cpu_affinity"]),
])
def test_bad_service_requests_change_nothing(dc, request_, words):
    assert_refused_unchanged(dc, request_, words)
