"""drift_info's report on fixture hosts: in sync after a tune, and each way a host drifts told apart by who did it;
the repair is a tune of the report's own request, a new transaction a rollback undoes."""

import json
import os

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.engine.drift import DriftReport
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import BOOT_ID, Journal, JournalError
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.module_api import tune
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.transaction import Engine
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.irq import HELPER_PATH
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.irq_helper import CONFIG_PATH
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.sysctl import SYSCTL_FILE

from fakekernel import FakeKernelTree, irqs_named, swap_names, write_file

SOMAXCONN = "/proc/sys/net/core/somaxconn"
REQUEST = {"settings": {"sysctl:net.core.somaxconn": 8192, "sysctl:vm.swappiness": 10}}
FIRST_BOOT, SECOND_BOOT = "0b6e1c57-1111-4a4e-9b53-6f0d4c1e0001", "0b6e1c57-2222-4a4e-9b53-6f0d4c1e0002"


@pytest.fixture
def host(host_root):
    root = host_root("dc-2socket")
    write_file(root, BOOT_ID, FIRST_BOOT + "\n")
    tree = FakeKernelTree(root, loadable={"tcp_bbr", "sch_fq"},
                          units={"irqbalance.service": {"active": "active", "enabled": "enabled"}})
    return tree, Journal(tree), root


def report(tree, journal, coexistence="refuse"):
    return DriftReport(tree, journal, coexistence).build()


def by_identity(result):
    return dict((entry["identity"], entry) for entry in result["settings"])


def reboot(root, keep=()):
    """A new boot id; live values the boot would not set back (keep: {path: value}) as the test says."""
    write_file(root, BOOT_ID, SECOND_BOOT + "\n")
    for path, value in dict(keep).items():
        write_file(root, path, value + "\n")


def repair(tree, journal, result):
    """What roles/drift does: the persisted values (and files), then the live-only ones, each a transaction."""
    done = tune(tree, journal, {"settings": result["repair"], "reassert_files": result["repair_files"],
                                "label": "drift repair"})
    if result["repair_live"]:
        tune(tree, journal, {"settings": result["repair_live"], "persist": False, "label": "drift repair (live)"})
    return done


def _irqbalance(root, argv, pid=812):
    """The fixture's irqbalance (pid 812) with this command line."""
    write_file(root, "/proc/%d/comm" % pid, "irqbalance\n")
    write_file(root, "/proc/%d/cmdline" % pid, "\0".join(argv) + "\0")


def test_a_host_as_tuned_is_in_sync_and_each_record_knows_its_boot(host):
    tree, journal, _root = host
    tune(tree, journal, REQUEST)
    result = report(tree, journal)
    assert result["drifted"] is False and result["summary"] == [] and result["files"] == []
    assert [(e["identity"], e["status"], e["persisted"]) for e in result["settings"]] == [
        ("sysctl:net.core.somaxconn", "in_sync", True), ("sysctl:vm.swappiness", "in_sync", True)]
    assert journal.transactions()[-1]["boot"] == FIRST_BOOT == result["boot"]
    assert result["repair"] == {} and result["repair_files"] is False


def test_nothing_managed_is_no_drift_and_makes_no_journal(host):
    tree, journal, root = host
    result = report(tree, journal)
    assert result["drifted"] is False and result["settings"] == []
    assert not os.path.exists(root + "/var/lib/hostperf")


def test_a_value_changed_behind_our_back_is_drifted_and_the_repair_is_a_transaction_rollback_undoes(host):
    tree, journal, root = host
    first = tune(tree, journal, REQUEST)["transaction"]
    write_file(root, SOMAXCONN, "1024\n")  # sysctl -w by hand
    result = report(tree, journal)
    entry = by_identity(result)["sysctl:net.core.somaxconn"]
    assert result["drifted"] and entry["status"] == "drifted" and entry["live"] == "1024"
    assert entry["who"] == "unknown" and first in entry["cause"]
    assert by_identity(result)["sysctl:vm.swappiness"]["status"] == "in_sync"
    assert result["repair"] == {"sysctl:net.core.somaxconn": "8192"} and result["repair_files"] is False
    assert any("sysctl:net.core.somaxconn" in line and "1024" in line for line in result["summary"])
    fixed = repair(tree, journal, result)
    assert fixed["transaction"] and tree.read(SOMAXCONN) == "8192"
    assert journal.transactions()[-1]["label"] == "drift repair"
    assert report(tree, journal)["drifted"] is False
    Engine(tree, journal).rollback("last")
    assert tree.read(SOMAXCONN) == "1024", "rolling the repair back puts back what it found"


def test_a_later_sysctl_d_line_is_named_and_left_out_of_the_repair(host):
    tree, journal, root = host
    tune(tree, journal, REQUEST)
    write_file(root, "/etc/sysctl.d/99-local.conf", "# ours\nnet.core.somaxconn = 2048\n")
    reboot(root, {SOMAXCONN: "2048", "/proc/sys/vm/swappiness": "10"})  # the boot read both files, theirs last
    entry = by_identity(report(tree, journal))["sysctl:net.core.somaxconn"]
    assert entry["who"] == "/etc/sysctl.d/99-local.conf" and "line 2" in entry["cause"]
    assert report(tree, journal)["repair"] == {}, "re-asserting it would be undone at the next boot"


def test_a_live_only_value_lost_in_a_reboot_is_told_by_the_boot_id_not_the_clock(host):
    tree, journal, root = host
    tx = tune(tree, journal, dict(REQUEST, persist=False))["transaction"]
    record_path = "%s/transactions/%s.json" % (root + journal.directory, tx)
    with open(record_path) as handle:
        record = json.load(handle)
    record["created"] = "2099-01-01T00:00:00+00:00"  # a clock that stepped: no reason to believe or doubt it
    with open(record_path, "w") as handle:
        json.dump(record, handle)
    assert report(tree, journal)["drifted"] is False
    reboot(root, {SOMAXCONN: "4096", "/proc/sys/vm/swappiness": "60"})
    result = by_identity(report(tree, journal))
    assert result["sysctl:net.core.somaxconn"]["who"] == "reboot"
    assert "live only" in result["sysctl:net.core.somaxconn"]["cause"]
    assert result["sysctl:net.core.somaxconn"]["persisted"] is False


def test_an_edited_persistence_file_is_reported_and_the_repair_rewrites_it(host):
    tree, journal, root = host
    tune(tree, journal, REQUEST)
    ours = open(root + SYSCTL_FILE).read()
    write_file(root, SYSCTL_FILE, ours.replace("net.core.somaxconn = 8192", "net.core.somaxconn = 512"))
    result = report(tree, journal)
    assert result["files"] == [{"path": SYSCTL_FILE, "status": "edited", "cause": "edited since the collection wrote it"}]
    assert result["drifted"] and result["repair_files"] and result["repair"] == {}
    reboot(root, {SOMAXCONN: "512", "/proc/sys/vm/swappiness": "10"})
    entry = by_identity(report(tree, journal))["sysctl:net.core.somaxconn"]
    assert entry["who"] == "file" and SYSCTL_FILE in entry["cause"] and "reboot" in entry["cause"]
    fixed = repair(tree, journal, report(tree, journal))
    assert [item["path"] for item in fixed["files"]] == [SYSCTL_FILE]
    assert open(root + SYSCTL_FILE).read() == ours and tree.read(SOMAXCONN) == "8192"
    assert report(tree, journal)["drifted"] is False
    Engine(tree, journal).rollback("last")
    assert "net.core.somaxconn = 512" in open(root + SYSCTL_FILE).read()


def test_a_removed_persistence_file_and_a_boot_that_did_not_apply_it(host):
    tree, journal, root = host
    tune(tree, journal, REQUEST)
    os.unlink(root + SYSCTL_FILE)
    assert report(tree, journal)["files"][0]["status"] == "removed"
    repair(tree, journal, report(tree, journal))
    assert os.path.exists(root + SYSCTL_FILE)
    reboot(root, {SOMAXCONN: "4096"})  # the file is back, yet the boot did not set it
    entry = by_identity(report(tree, journal))["sysctl:net.core.somaxconn"]
    assert entry["who"] == "reboot" and "persistence file holds it" in entry["cause"]


def test_a_check_mode_reassert_shows_the_file_and_writes_nothing(host):
    tree, journal, root = host
    tune(tree, journal, REQUEST)
    os.unlink(root + SYSCTL_FILE)
    planned = tune(tree, journal, {"settings": {}, "reassert_files": True}, check_mode=True)
    assert [(item["path"], item["action"]) for item in planned["files"]] == [(SYSCTL_FILE, "created")]
    assert not os.path.exists(root + SYSCTL_FILE)
    assert tune(tree, journal, {"settings": {}}, check_mode=True)["files"] == [], "only a reassert rewrites it"


@pytest.mark.parametrize("argv, who", [
    (["/usr/sbin/irqbalance", "--foreground"], "irqbalance"),
    (["/usr/sbin/irqbalance", "--foreground", "--policyscript=" + HELPER_PATH], "unknown"),
    (["/usr/sbin/irqbalance", "-l", HELPER_PATH], "unknown"),
    (["/usr/sbin/irqbalance", "-l" + HELPER_PATH], "unknown"),
])
def test_a_moved_irq_names_irqbalance_unless_it_runs_with_our_policy_script(host, argv, who):
    tree, journal, root = host
    irq = irqs_named(tree, "eno1-TxRx-0")["eno1-TxRx-0"]
    tune(tree, journal, {"settings": {"irq:%d" % irq: "0"}})
    _irqbalance(root, argv)
    write_file(root, "/proc/irq/%d/smp_affinity_list" % irq, "5\n")
    entry = by_identity(report(tree, journal))["irq:%d" % irq]
    assert entry["status"] == "drifted" and entry["who"] == who


def test_an_irq_a_boot_renumbered_is_found_by_name_and_repaired_under_its_new_number(host):
    tree, journal, root = host
    names = irqs_named(tree, "eno1-TxRx-")
    ours, theirs = names["eno1-TxRx-0"], names["eno1-TxRx-1"]
    tune(tree, journal, {"settings": {"irq:%d" % ours: "0", "irq:%d" % theirs: "1"}})
    swap_names(tree, ours, theirs)
    reboot(root, {"/proc/irq/%d/smp_affinity_list" % theirs: "0", "/proc/irq/%d/smp_affinity_list" % ours: "7"})
    _irqbalance(root, ["/usr/sbin/irqbalance", "--policyscript=" + HELPER_PATH])  # as the drop-in starts it
    result = by_identity(report(tree, journal))
    assert result["irq:%d" % ours]["status"] == "in_sync" and result["irq:%d" % ours]["now"] == "irq:%d" % theirs
    entry = result["irq:%d" % theirs]
    assert entry["status"] == "drifted" and entry["live"] == "7" and entry["now"] == "irq:%d" % ours
    full = report(tree, journal)
    assert full["repair"] == {"irq:%d" % ours: "1"}, "the repair names the IRQ as it is numbered now"
    repair(tree, journal, full)
    config = open(root + CONFIG_PATH).read()
    assert config.count("eno1-TxRx-1") == 1 and "1\teno1-TxRx-1" in config, config
    assert "0\teno1-TxRx-0" in config, "the IRQ in sync under the other's old number stays placed at boot"
    again = report(tree, journal)
    assert again["drifted"] is False and len(again["settings"]) == 2


def test_an_unfinished_transaction_makes_its_settings_unsettled_and_offers_no_repair(host):
    tree, journal, _root = host
    tune(tree, journal, REQUEST)
    record = journal.new("killed")
    record["settings"] = [{"identity": "sysctl:vm.swappiness", "before": "10", "after": "30"}]
    journal.save(record)
    result = report(tree, journal)
    assert result["drifted"] and result["interrupted"] == ["%s (pending)" % record["id"]]
    assert by_identity(result)["sysctl:vm.swappiness"]["status"] == "unsettled"
    assert by_identity(result)["sysctl:net.core.somaxconn"]["status"] == "in_sync"
    assert result["repair"] == {} and result["repair_files"] is False


def test_a_device_that_is_gone_is_drifted_and_not_repairable(host):
    tree, journal, root = host
    tune(tree, journal, {"settings": {"block:sda:read_ahead_kb": 1024}})
    os.unlink(root + "/sys/block/sda")
    entry = by_identity(report(tree, journal))["block:sda:read_ahead_kb"]
    assert entry["status"] == "gone" and entry["who"] == "device"
    assert report(tree, journal)["repair"] == {}


def test_tuned_holds_a_drifted_disk_setting_and_take_puts_it_in_the_repair(host):
    tree, journal, root = host
    tune(tree, journal, {"settings": {"block:nvme0n1:read_ahead_kb": 1024}})
    write_file(root, "/proc/4711/comm", "tuned\n")
    write_file(root, "/etc/tuned/active_profile", "throughput-performance\n")
    queue = "/sys/devices/pci0000:17/0000:18:00.0/nvme/nvme0/nvme0n1/queue/read_ahead_kb"
    write_file(root, queue, "4096\n")
    entry = by_identity(report(tree, journal))["block:nvme0n1:read_ahead_kb"]
    assert entry["who"] == "tuned" and "throughput-performance" in entry["cause"]
    assert report(tree, journal)["repair"] == {}
    assert report(tree, journal, "take")["repair"] == {"block:nvme0n1:read_ahead_kb": "1024"}


def test_a_rolled_back_transaction_is_not_managed_any_more(host):
    tree, journal, root = host
    tune(tree, journal, REQUEST)
    tune(tree, journal, {"settings": {"sysctl:net.core.somaxconn": 16384}})
    Engine(tree, journal).rollback("last")
    result = by_identity(report(tree, journal))
    assert result["sysctl:net.core.somaxconn"]["managed"] == "8192"
    assert result["sysctl:net.core.somaxconn"]["status"] == "in_sync"
    Engine(tree, journal).rollback("pristine")
    assert report(tree, journal) == dict(report(tree, journal), drifted=False, settings=[], files=[])


def test_a_record_with_a_boot_of_the_wrong_type_is_refused(host):
    tree, journal, root = host
    tx = tune(tree, journal, REQUEST)["transaction"]
    path = "%s/transactions/%s.json" % (root + journal.directory, tx)
    with open(path) as handle:
        record = json.load(handle)
    record["boot"] = ["not", "an", "id"]
    with open(path, "w") as handle:
        json.dump(record, handle)
    with pytest.raises(JournalError, match="boot"):
        report(tree, journal)


def test_irqbalance_running_without_the_ban_is_not_repaired_until_it_restarts(host):
    tree, journal, root = host
    irq = irqs_named(tree, "eno1-TxRx-0")["eno1-TxRx-0"]
    tune(tree, journal, {"settings": {"irq:%d" % irq: "0"}})
    _irqbalance(root, ["/usr/sbin/irqbalance", "--foreground"])
    write_file(root, "/proc/irq/%d/smp_affinity_list" % irq, "5\n")
    result = report(tree, journal)
    entry = by_identity(result)["irq:%d" % irq]
    assert result["repair"] == {} and "restart irqbalance" in entry["not_repaired"]
    assert any("not repaired: irqbalance would move it again" in line for line in result["summary"])


def test_a_live_only_value_is_repaired_live_only(host):
    tree, journal, root = host
    tune(tree, journal, REQUEST)
    tune(tree, journal, {"settings": {"sysctl:net.core.somaxconn": 16384}, "persist": False})
    reboot(root, {SOMAXCONN: "8192", "/proc/sys/vm/swappiness": "10"})  # the boot set the persisted value
    result = report(tree, journal)
    assert result["repair"] == {} and result["repair_live"] == {"sysctl:net.core.somaxconn": "16384"}
    before = open(root + SYSCTL_FILE).read()
    repair(tree, journal, result)
    assert tree.read(SOMAXCONN) == "16384" and open(root + SYSCTL_FILE).read() == before, "8192 stays persisted"
    assert report(tree, journal)["drifted"] is False


def test_a_live_only_repair_on_a_host_with_nothing_persisted_writes_no_file(host):
    tree, journal, root = host
    tune(tree, journal, {"settings": {"sysctl:net.core.somaxconn": 16384}, "persist": False})
    write_file(root, SOMAXCONN, "100\n")
    repair(tree, journal, report(tree, journal))
    assert tree.read(SOMAXCONN) == "16384" and not os.path.exists(root + SYSCTL_FILE)
    assert not os.path.exists(root + journal.state_path)


@pytest.mark.parametrize("first, second, reset", [
    ({"block:sda:scheduler": "mq-deadline", "block:sda:nr_requests": 32}, {"block:sda:scheduler": "bfq"},
     "block:sda:nr_requests"),
    ({"block:sda:scheduler": "mq-deadline", "block:sda:iosched/fifo_batch": 8}, {"block:sda:scheduler": "bfq"},
     "block:sda:iosched/fifo_batch"),
])
def test_a_value_our_own_later_switch_reset_is_the_kernels_not_drift_and_not_persisted(host, first, second, reset):
    from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.block import UDEV_RULES_FILE
    tree, journal, root = host
    tune(tree, journal, {"settings": first})
    tune(tree, journal, {"settings": second})
    result = report(tree, journal)
    assert result["drifted"] is False and reset not in by_identity(result), result["summary"]
    assert reset not in journal.load_state(), "the boot would set it under the new scheduler"
    assert reset.rsplit(":", 1)[1] not in open(root + UDEV_RULES_FILE).read()
    Engine(tree, journal).rollback("last")
    assert by_identity(report(tree, journal))[reset]["status"] == "in_sync"


def test_an_enabled_tuned_is_not_blamed_for_a_change_since_the_last_boot(host):
    tree, journal, root = host
    tune(tree, journal, {"settings": {"sysctl:vm.dirty_ratio": 5}})
    os.makedirs(root + "/run/systemd/system", exist_ok=True)
    write_file(root, "/etc/tuned/active_profile", "throughput-performance\n")
    os.makedirs(root + "/etc/systemd/system/multi-user.target.wants", exist_ok=True)
    os.symlink("/usr/lib/systemd/system/tuned.service", root + "/etc/systemd/system/multi-user.target.wants/tuned.service")
    write_file(root, "/proc/sys/vm/dirty_ratio", "33\n")
    entry = by_identity(report(tree, journal))["sysctl:vm.dirty_ratio"]
    assert entry["who"] == "unknown", "tuned is not running: it changed nothing since the boot"
    assert "tuned" in entry["not_repaired"], "but a persisted repair meets it at tune, which refuses"
    reboot(root, {})
    assert by_identity(report(tree, journal))["sysctl:vm.dirty_ratio"]["who"] == "tuned"
