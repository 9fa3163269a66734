"""Huge pages per NUMA node (issue 17, part): reserved, retried when the kernel gives fewer, refused by name,
persisted for boot, rolled back exactly."""

import os

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import Journal
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.module_api import tune
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.switch import pairs_possible
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.transaction import Engine, TransactionError
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs import hugepages
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.hugepages import TMPFILES_PATH

from fakekernel import FakeKernelTree, assert_refused_unchanged, outside_journal, write_file

NODE = "/sys/devices/system/node"


def pool(node, size=2048):
    return "%s/node%d/hugepages/hugepages-%dkB/nr_hugepages" % (NODE, node, size)


class Fragmented(FakeKernelTree):
    """A kernel that finds at most `free` pages on node 1, more on each try as it compacts."""

    def __init__(self, root, free, gain=0):
        FakeKernelTree.__init__(self, root)
        self.free, self.gain, self.tries = free, gain, 0

    def write(self, path, value):
        if path == pool(1) and int(value) > self.free:
            self.tries += 1
            self.writes.append((path, value))
            self._put(path, str(self.free))
            self.free += self.gain
            return
        FakeKernelTree.write(self, path, value)


@pytest.fixture
def root(host_root, monkeypatch):
    root = host_root("dc-2socket")
    for node in (0, 1):
        write_file(root, "%s/node%d/meminfo" % (NODE, node), "Node %d MemTotal:       268435456 kB\n" % node)
        for size in (2048, 1048576):
            write_file(root, pool(node, size), "0\n")
    write_file(root, "/proc/sys/vm/nr_hugepages", "0\n")
    monkeypatch.setattr(hugepages, "RETRY_PAUSE", 0)
    return root


def test_a_node_gets_its_pages_persisted_for_boot_and_back_exactly(root):
    tree = FakeKernelTree(root)
    journal = Journal(tree)
    before = outside_journal(root)
    result = tune(tree, journal, {"settings": {"hugepages:node1:2048kB": 1024, "hugepages:node0:1048576kB": "4"}})
    assert [(item["identity"], item["before"], item["after"]) for item in result["settings"]] == [
        ("hugepages:node0:1048576kB", "0", "4"), ("hugepages:node1:2048kB", "0", "1024")]
    assert tree.read(pool(1)) == "1024" and tree.read(pool(0, 1048576)) == "4" and tree.read(pool(0)) == "0"
    assert sorted(tree.read(TMPFILES_PATH).splitlines()[1:]) == sorted([
        "w %s - - - - 4" % pool(0, 1048576), "w %s - - - - 1024" % pool(1)])
    assert all("reserves node" in item["disruption"] for item in result["settings"])
    assert pairs_possible(tree, result["settings"])[0] is False, "a reservation is no cheap switch"
    assert tune(tree, journal, {"settings": {"hugepages:node1:2048kB": "1024"}})["changed"] is False
    Engine(tree, journal).rollback("last")
    assert tree.read(pool(1)) == "0" and not os.path.exists(root + TMPFILES_PATH)
    assert outside_journal(root) == before


def test_fewer_pages_than_asked_are_tried_again_and_then_fail_with_the_count_obtained(root):
    tree = Fragmented(root, free=900)
    with pytest.raises(TransactionError, match=r"hugepages:node1:2048kB: the kernel gave 900 of 1024 pages after 3 "
                                               r"tries") as failed:
        tune(tree, Journal(tree), {"settings": {"hugepages:node1:2048kB": 1024, "sysctl:vm.swappiness": 10}})
    assert tree.tries == 3
    assert tree.read(pool(1)) == "0" and tree.read("/proc/sys/vm/swappiness") == "60", "everything rolled back"
    assert "every change was rolled back" in str(failed.value)


def test_a_kernel_that_frees_enough_by_the_second_try_is_enough(root):
    tree = Fragmented(root, free=1000, gain=100)
    tune(tree, Journal(tree), {"settings": {"hugepages:node1:2048kB": 1024}})
    assert tree.read(pool(1)) == "1024" and tree.tries == 1


@pytest.mark.parametrize("request_, words", [
    ({"hugepages:node7:2048kB": 8}, "no NUMA node 7"),
    ({"hugepages:node0:4096kB": 8}, "no 4096 kB pages on node 0"),
    ({"hugepages:node0:2048kB": -1}, "not a count of pages"),
    ({"hugepages:node0:2048kB": True}, "not a count of pages"),
    ({"hugepages:node0:2048kB": "1 2"}, "not a count of pages"),
    ({"hugepages:node0:2048kB": 200000}, "more than node 0 has (262144 MiB)"),
    ({"hugepages:0:2048kB": 8}, "expected hugepages:nodeN:SIZEkB"),
    ({"hugepages:node0:2M": 8}, "expected hugepages:nodeN:SIZEkB"),
    ({"hugepages:node0:../../x": 8}, "expected"),
    ({"hugepages:node0:2048kB": 8, "sysctl:vm.nr_hugepages": 16}, "per node or in total, not both"),
])
def test_bad_requests_change_nothing_and_name_the_setting(root, request_, words):
    assert_refused_unchanged(FakeKernelTree(root), {"settings": request_}, [words])
