"""The transaction engine on fixture hosts whose kernel answers like a real one."""

import errno
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.hostperf.tuning.plugins.module_utils.host.capture import materialize
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import (
    COMMITTED, PENDING, ROLLED_BACK, Journal, JournalError)
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import KnobError
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.block import tag_depth
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.block import UDEV_RULES_FILE, nr_requests_limit
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.kernel_module import MODULES_LOAD_FILE
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.sysctl import SYSCTL_FILE
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.module_api import diff_of, requested_settings, tune
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.transaction import Engine, TransactionError

from conftest import load_capture
from fakekernel import FakeKernelTree, apply_killed_at, apply_steps, outside_journal, tree_digest

NVME_QUEUE = "/sys/devices/pci0000:17/0000:18:00.0/nvme/nvme0/nvme0n1/queue"
DESIRED = {
    "sysctl:net.core.somaxconn": 8192,
    "sysctl:net.ipv4.tcp_rmem": [4096, 87380, 33554432],
    "sysctl:vm.swappiness": 10,
    "block:nvme0n1:scheduler": "mq-deadline",
    "block:nvme0n1:nr_requests": 512,
    "block:sda:read_ahead_kb": 1024,
    "module:tcp_bbr": "loaded",
}


# The same kinds of change on the small cloud VM fixture, for tests that rebuild many trees.
SMALL_HOST = "cloud-vm"
SMALL_DESIRED = {
    "sysctl:net.core.somaxconn": 8192,
    "sysctl:net.ipv4.tcp_rmem": [4096, 87380, 33554432],
    "sysctl:vm.swappiness": 10,
    "block:vda:scheduler": "mq-deadline",
    "block:vda:nr_requests": 512,
    "block:vda:read_ahead_kb": 1024,
    "module:tcp_bbr": "loaded",
}


def test_apply_changes_values_files_and_journals_first(dc_host):
    tree, journal, root = dc_host
    before = tree_digest(root)
    result = Engine(tree, journal).apply(DESIRED, label="test")
    assert result["changed"] and result["transaction"]
    assert tree.read("/proc/sys/net/ipv4/tcp_rmem").split() == ["4096", "87380", "33554432"]
    assert tree.read(NVME_QUEUE + "/scheduler") == "none [mq-deadline] kyber bfq"
    assert tree.read(NVME_QUEUE + "/nr_requests") == "512", "nr_requests must be written after the scheduler"
    sysctl_conf = open(root + SYSCTL_FILE).read()
    assert "net.ipv4.tcp_rmem = 4096 87380 33554432" in sysctl_conf
    rules = open(root + UDEV_RULES_FILE).read()
    assert 'ENV{ID_WWN}=="0x5002538e4095a1b2", ATTR{queue/read_ahead_kb}="1024"' in rules
    assert 'ATTR{wwid}=="eui.' in rules and 'ATTR{queue/scheduler}="mq-deadline", ATTR{queue/nr_requests}="512"' in rules
    assert "sda" not in rules.split("ENV{DEVTYPE}")[1].split(",")[1], "matched by a stable id, not by name"
    assert open(root + MODULES_LOAD_FILE).read().splitlines()[-1] == "tcp_bbr"
    record = journal.transactions()[-1]
    assert record["state"] == COMMITTED and record["label"] == "test"
    assert {s["identity"]: s["before"] for s in record["settings"]}["sysctl:net.ipv4.tcp_rmem"] == "4096 131072 6291456"
    journal_file = root + "/var/lib/hostperf/transactions/%s.json" % record["id"]
    assert os.stat(journal_file).st_mode & 0o777 == 0o600
    assert os.stat(root + "/var/lib/hostperf").st_mode & 0o777 == 0o700
    assert before != tree_digest(root)


def test_second_run_changes_nothing(dc_host):
    tree, journal, root = dc_host
    Engine(tree, journal).apply(DESIRED)
    digest = tree_digest(root)
    again = Engine(tree, journal).apply(dict(DESIRED, **{"sysctl:net.ipv4.tcp_rmem": "4096   87380\t33554432"}))
    assert again["changed"] is False and again["transaction"] is None
    assert tree_digest(root) == digest
    assert len(journal.transactions()) == 1


def test_check_mode_reports_and_changes_nothing(dc_host):
    tree, journal, root = dc_host
    digest = tree_digest(root)
    result = Engine(tree, journal).apply(DESIRED, check_mode=True)
    assert result["changed"]
    assert {f["path"] for f in result["files"]} >= {SYSCTL_FILE, UDEV_RULES_FILE, MODULES_LOAD_FILE}
    assert [s for s in result["settings"] if s["identity"] == "sysctl:vm.swappiness"][0]["before"] == "60"
    assert tree_digest(root) == digest


def test_kernel_refusal_midway_restores_everything(dc_host):
    tree, journal, root = dc_host
    digest = tree_digest(root)
    tree.refuse["/proc/sys/vm/swappiness"] = errno.EINVAL
    with pytest.raises(TransactionError) as failure:
        Engine(tree, journal).apply(DESIRED)
    assert "Invalid argument" in str(failure.value)
    assert outside_journal(root) == digest
    assert journal.transactions()[-1]["state"] == ROLLED_BACK
    statuses = {s["identity"]: s["status"] for s in failure.value.result["settings"]}
    assert statuses["sysctl:net.core.somaxconn"] == "restored"


def test_value_the_kernel_silently_changes_fails_verification(dc_host):
    tree, journal, root = dc_host
    digest = tree_digest(root)
    original = tree.write

    def clamp(path, value):
        original(path, "128" if path.endswith("nr_requests") and value == "512" else value)
    tree.write = clamp
    with pytest.raises(TransactionError) as failure:
        Engine(tree, journal).apply({"block:nvme0n1:nr_requests": 512})
    assert "kept '128' instead of '512'" in str(failure.value)
    assert outside_journal(root) == digest


def test_rollback_last_named_and_pristine(dc_host):
    tree, journal, root = dc_host
    pristine = tree_digest(root)
    engine = Engine(tree, journal)
    first = engine.apply({"sysctl:vm.swappiness": 10, "block:sda:scheduler": "none"})["transaction"]
    after_first = outside_journal(root)
    engine.apply({"sysctl:vm.swappiness": 20, "sysctl:net.core.somaxconn": 1024})
    engine.apply({"block:sda:nr_requests": 16})
    engine.rollback("last")
    assert tree.read("/sys/devices/pci0000:17/0000:17:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda/queue/"
                     "nr_requests") == "32", "the value before the last transaction (the switch to none reset it)"
    assert tree.read("/proc/sys/vm/swappiness") == "20"
    engine.rollback(journal.transactions()[1]["id"])
    assert outside_journal(root) == after_first
    engine.rollback("pristine")
    assert outside_journal(root) == \
        {p: v for p, v in pristine.items() if "/var/lib/hostperf/" not in p}
    assert [r["state"] for r in journal.transactions()] == [ROLLED_BACK] * 3
    assert engine.rollback("pristine")["changed"] is False
    with pytest.raises(KnobError, match="already rolled back"):
        engine.rollback(first)


def test_rollback_restores_nr_requests_that_a_scheduler_switch_resets(dc_host):
    tree, journal, root = dc_host
    digest = tree_digest(root)
    engine = Engine(tree, journal)
    engine.apply({"block:nvme0n1:scheduler": "kyber", "block:nvme0n1:nr_requests": 200})
    engine.rollback("last")
    assert tree.read(NVME_QUEUE + "/nr_requests") == "1023"
    assert outside_journal(root) == digest


def test_crash_at_every_step_is_recovered_exactly(host_root):
    """Kill the apply at each step in turn; the next run finds the journal and rollback restores the host."""
    steps = apply_steps(FakeKernelTree(host_root(SMALL_HOST), loadable={"tcp_bbr"}), SMALL_DESIRED)
    assert len(steps) >= 10
    for index, step in enumerate(steps):
        root = host_root(SMALL_HOST) + "-crash-%d" % index
        os.rename(host_root(SMALL_HOST), root)
        tree = FakeKernelTree(root, loadable={"tcp_bbr"})
        pristine = outside_journal(root)
        apply_killed_at(tree, SMALL_DESIRED, step)
        journal = Journal(tree)
        if step == "committed":
            assert journal.interrupted() == []
            Engine(tree, journal).rollback("last")
        else:
            assert [r["state"] for r in journal.interrupted()] == [PENDING], step
            Engine(tree, journal).rollback("interrupted")
            assert journal.interrupted() == []
        assert outside_journal(root) == pristine, step


SYSCTL_CHOICES = {
    "vm.swappiness": st.integers(0, 200),
    "net.core.somaxconn": st.integers(0, 65535),
    "vm.dirty_ratio": st.integers(0, 100),
    "net.ipv4.tcp_rmem": st.tuples(st.integers(1, 8192), st.integers(8192, 1 << 20), st.integers(1 << 20, 1 << 28)),
}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(initial=st.fixed_dictionaries(SYSCTL_CHOICES), targets=st.fixed_dictionaries(SYSCTL_CHOICES),
       keys=st.sets(st.sampled_from(sorted(SYSCTL_CHOICES)), min_size=1),
       scheduler=st.sampled_from(["none", "mq-deadline", "kyber", "bfq"]),
       nr_requests=st.integers(4, 2048), with_file=st.booleans())
def test_apply_then_rollback_is_identity(host_root, tmp_path_factory, initial, targets, keys, scheduler, nr_requests,
                                         with_file):
    """Random initial state (values and a pre-existing persistence file) -> apply -> rollback == initial tree."""
    root = str(tmp_path_factory.mktemp("prop"))
    materialize(load_capture(SMALL_HOST), root)
    tree = FakeKernelTree(root)
    for key, value in initial.items():
        tree.write("/proc/sys/" + key.replace(".", "/"), " ".join(map(str, value)) if isinstance(value, tuple)
                   else str(value))
    if with_file:
        os.makedirs(root + "/etc/sysctl.d")
        with open(root + SYSCTL_FILE, "w") as handle:
            handle.write("# written by hand\nvm.swappiness = 1\n")
        os.chmod(root + SYSCTL_FILE, 0o640)
    pristine = tree_digest(root)
    request = {"sysctl:" + key: list(targets[key]) if isinstance(targets[key], tuple) else targets[key]
               for key in keys}
    request["block:vda:scheduler"] = scheduler
    # within what blk-mq takes under that scheduler (the limit's refusal is test_hostile_requests')
    request["block:vda:nr_requests"] = min(nr_requests, nr_requests_limit(scheduler, tag_depth(tree, "vda"))[0])
    engine = Engine(tree, Journal(tree))
    engine.apply(request)
    engine.rollback("pristine")
    assert outside_journal(root) == pristine


def test_congestion_control_bbr_loads_module_and_sets_fq_where_it_exists(dc_host):
    tree, journal, root = dc_host
    desired, notes = requested_settings(tree, {"tcp_congestion_control": "bbr", "default_qdisc": "fq"})
    # the NICs already up are re-attached to fq, as a boot would have them; a virtual interface has no queue
    assert desired == {"module:tcp_bbr": "loaded", "module:sch_fq": "loaded",
                       "sysctl:net.ipv4.tcp_congestion_control": "bbr", "sysctl:net.core.default_qdisc": "fq",
                       "qdisc:eno1": "fq", "qdisc:ens1f0np0": "fq", "qdisc:ens1f1np1": "fq"}
    assert notes == []
    Engine(tree, journal).apply(desired)
    assert tree.read("/proc/sys/net/ipv4/tcp_congestion_control") == "bbr"
    assert "tcp_bbr" in open(root + MODULES_LOAD_FILE).read()


def test_where_fq_is_absent_the_qdisc_is_kept_and_said(host_root):
    root = host_root("sandbox-firecracker")
    tree = FakeKernelTree(root)
    desired, notes = requested_settings(tree, {"tcp_congestion_control": "bbr", "default_qdisc": "fq"})
    assert desired == {"sysctl:net.ipv4.tcp_congestion_control": "bbr"}
    assert "qdisc fq does not exist" in notes[0] and "stays pfifo_fast" in notes[0] and "BBR paces" in notes[0]
    with pytest.raises(KnobError, match="default_qdisc fq: qdisc fq does not exist"):
        requested_settings(tree, {"default_qdisc": "fq", "default_qdisc_fallback": "fail"})


def test_journal_records_are_json_with_before_values(dc_host):
    tree, journal, root = dc_host
    Engine(tree, journal).apply({"sysctl:vm.swappiness": 5})
    record = json.load(open(root + "/var/lib/hostperf/transactions/%s.json" % journal.transactions()[0]["id"]))
    assert record["settings"] == [{"identity": "sysctl:vm.swappiness", "before": "60", "after": "5"}]
    assert [(snap["path"], snap["existed"]) for snap in record["files"]] == [
        ("/usr/local/libexec/hostperf-tuning-boot-recovery", False),
        ("/etc/systemd/system/hostperf-tuning-boot-recovery.service", False),
        ("/etc/systemd/system/sysinit.target.d/90-hostperf-tuning-boot-recovery.conf", False), (SYSCTL_FILE, False),
        ("/var/lib/hostperf/state.json", False)]


def test_a_scheduler_built_as_a_module_is_loaded_first_and_unloaded_by_rollback(host_root):
    """Debian builds bfq as a module: /sys offers it only once loaded (found on the lab's edge VM)."""
    root = host_root("edge-box")
    queue = "/sys/devices/pci0000:00/0000:00:13.0/ata1/host0/target0:0:0/0:0:0:0/block/sda/queue/scheduler"
    tree = FakeKernelTree(root, loadable={"bfq"})
    for disk in ("sda", "mmcblk0"):
        with open(root + "/sys/block/%s/queue/scheduler" % disk, "w") as handle:
            handle.write("none [mq-deadline]\n")
    pristine = outside_journal(root)
    engine = Engine(tree, Journal(tree))
    result = engine.apply({"block:sda:scheduler": "bfq"})
    assert [s["identity"] for s in result["settings"]] == ["module:bfq", "block:sda:scheduler"]
    assert tree.read(queue) == "none mq-deadline [bfq]"
    assert open(root + MODULES_LOAD_FILE).read().splitlines()[-1] == "bfq"
    engine.rollback("last")
    assert "bfq" not in tree.read("/proc/modules")
    assert outside_journal(root) == pristine
    with pytest.raises(KnobError, match="no module provides it"):
        Engine(FakeKernelTree(root), Journal(tree)).apply({"block:sda:scheduler": "bfq"})


def test_rollback_removes_directories_the_apply_created(dc_host):
    """A host without udev has no /etc/udev/rules.d: the apply makes it, the rollback removes it again."""
    tree, journal, root = dc_host
    assert not os.path.exists(root + "/etc/udev")
    engine = Engine(tree, journal)
    engine.apply({"block:sda:read_ahead_kb": 512})
    assert os.path.isfile(root + UDEV_RULES_FILE)
    engine.rollback("last")
    assert not os.path.exists(root + "/etc/udev")
    assert engine.rollback("pristine")["changed"] is False


def test_check_mode_creates_no_journal_directory_and_no_lock(dc_host):
    tree, journal, root = dc_host
    assert not os.path.exists(root + "/var/lib/hostperf")
    result = tune(tree, journal, dict(settings=DESIRED), check_mode=True)
    assert result["changed"] and not os.path.exists(root + "/var/lib/hostperf")
    rollback_check = Engine(tree, journal.lock(create=False)).rollback("pristine", True)
    assert rollback_check["settings"] == [] and not os.path.exists(root + "/var/lib/hostperf")
    # once a journal exists, check mode still writes nothing into it
    tune(tree, journal, dict(settings={"sysctl:vm.swappiness": 10}))
    listing = sorted(os.listdir(root + "/var/lib/hostperf/transactions"))
    tune(tree, journal, dict(settings=DESIRED), check_mode=True)
    assert sorted(os.listdir(root + "/var/lib/hostperf/transactions")) == listing


def test_a_journal_directory_this_process_cannot_write_fails_before_any_change(dc_host, monkeypatch):
    tree, journal, root = dc_host
    digest = tree_digest(root)
    real_access = os.access
    denied = root + "/var/lib/hostperf"  # as for a user without root: no ancestor of the journal is writable
    monkeypatch.setattr(os, "access", lambda path, mode: not denied.startswith(path) and real_access(path, mode))
    for check_mode in (True, False):
        with pytest.raises(JournalError, match=r"journal_dir /var/lib/hostperf: \S+ is not writable by uid \d+; "
                                               r"tuning needs root \(become: true\)"):
            tune(tree, journal, dict(settings=DESIRED), check_mode=check_mode)
    assert tree_digest(root) == digest


def test_diff_shows_generated_files_as_a_line_count_unless_verbose(dc_host):
    tree, journal, root = dc_host
    result = tune(tree, journal, dict(settings=DESIRED), check_mode=True)
    state = [item for item in result["files"] if item["path"] == journal.state_path][0]
    assert state["generated"] and not [item for item in result["files"] if item["path"] == SYSCTL_FILE][0]["generated"]
    brief = dict((item["before_header"], item) for item in diff_of(result))
    assert brief[journal.state_path]["after"].endswith("lines, generated by the collection (-v shows them)\n")
    assert "net.ipv4.tcp_rmem = 4096 87380 33554432" in brief[SYSCTL_FILE]["after"]
    assert dict((item["before_header"], item) for item in diff_of(result, verbose=True))[
        journal.state_path]["after"] == state["after"]
