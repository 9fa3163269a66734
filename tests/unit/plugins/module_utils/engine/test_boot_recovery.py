"""A host that dies inside an apply or a rollback boots as before it: the boot recovery unit, run as a boot runs it.

The helper runs as its unit says, in a separate `python -I` (no PYTHONPATH, no collection on sys.path), so it
is the bundled copy that works, not the test's imports.
"""

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.engine import boot_recovery
from ansible_collections.hostperf.tuning.plugins.module_utils.host import bundle
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.boot_recovery import (
    HELPER_PATH, OWN_FILES, UNIT_PATH, WANTS_PATH, unit_text)
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import (
    COMMITTED, DEFAULT_DIRECTORY, PENDING, ROLLED_BACK, ROLLING_BACK, Journal)
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.transaction import Engine
from ansible_collections.hostperf.tuning.plugins.module_utils.host.hosttree import COMMANDS_FILE
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import KnobError
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.block import UDEV_RULES_FILE
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.kernel_module import MODULES_LOAD_FILE
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.sysctl import SYSCTL_FILE

from fakekernel import FakeKernelTree, Killed, apply_killed_at, apply_steps, kill_inside, outside_journal, tree_digest

HOST = "cloud-vm"
REQUEST = {"sysctl:vm.swappiness": 10, "sysctl:net.core.somaxconn": 8192, "block:vda:scheduler": "mq-deadline",
           "block:vda:read_ahead_kb": 1024, "module:tcp_bbr": "loaded"}
HELPER = HELPER_PATH


def persisted(root):
    """What a boot reads: every file outside the journal but the recovery's own, the kernel's live files left out.

    The recovery's files stay until `rollback interrupted` closes the record (the unit and drop-in do nothing
    without each other): they are left out, with directories that hold nothing else.
    """
    found = dict((path, value) for path, value in outside_journal(root).items()
                 if path.split("/")[1] not in ("proc", "sys", "dev", "run") and path not in OWN_FILES)
    for path in sorted(found, reverse=True):
        if found[path][0] == "dir" and not any(other.startswith(path + "/") for other in found):
            del found[path]
    return found


def boot(root, commands_answered=("systemctl daemon-reload",)):
    """Run what the next boot would: the unit's ExecStart, if the drop-in wants it and its condition holds."""
    if not (os.path.exists(root + WANTS_PATH) and os.path.exists(root + UNIT_PATH)):
        return None
    lines = open(root + UNIT_PATH).read().splitlines()
    condition = [line.split("=", 1)[1] for line in lines if line.startswith("ConditionPathExists=")]
    assert condition == [HELPER]
    if not os.path.exists(root + HELPER):
        return None
    argv = [line.split("=", 1)[1] for line in lines if line.startswith("ExecStart=")][0].split()
    assert argv == [sys.executable, "-I", HELPER, "--journal", DEFAULT_DIRECTORY]
    assert "RequiresMountsFor=%s /usr/local/libexec %s" % (DEFAULT_DIRECTORY, sys.executable) in lines
    commands = root + "/" + COMMANDS_FILE  # the host's systemd, as the helper's HostTree replays it
    original = open(commands).read() if os.path.exists(commands) else None
    recorded = json.loads(original) if original else {}
    for command in commands_answered:
        recorded[command] = {"rc": 0, "stdout": "", "stderr": "", "missing": False}
    with open(commands, "w") as handle:
        json.dump(recorded, handle)
    try:
        return subprocess.run([argv[0], "-I", root + HELPER] + argv[3:] + ["--root", root], cwd="/",
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    finally:
        if original is None:
            os.unlink(commands)
        else:
            with open(commands, "w") as handle:
                handle.write(original)


def test_the_apply_arms_the_recovery_before_any_other_file(host_root):
    steps = [step for step in apply_steps(FakeKernelTree(host_root(HOST), loadable={"tcp_bbr"}), REQUEST)
             if step.startswith("file ")]
    assert steps[:3] == ["file " + HELPER, "file " + UNIT_PATH, "file " + WANTS_PATH]
    assert len(steps) > 3


def test_a_crash_at_any_step_of_an_apply_boots_as_before_then_rollback_finds_it_done(host_root, tmp_path):
    reference = str(tmp_path / "reference")
    os.rename(host_root(HOST), reference)
    pristine_files = persisted(reference)
    steps = apply_steps(FakeKernelTree(reference, loadable={"tcp_bbr"}), REQUEST)
    applied_files = persisted(reference)
    assert applied_files != pristine_files
    for index, step in enumerate(steps):
        root = str(tmp_path / ("crash-%d" % index))
        os.rename(host_root(HOST), root)
        tree = FakeKernelTree(root, loadable={"tcp_bbr"})
        pristine = outside_journal(root)
        apply_killed_at(tree, REQUEST, step)
        booted = boot(root)
        assert booted is None or booted.returncode == 0, (step, booted.stderr)
        if step == "committed":
            assert persisted(root) == applied_files, "a committed apply boots as applied"
            assert booted.stdout == "", "a committed transaction is not the recovery's"
            continue
        assert persisted(root) == pristine_files, step
        journal = Journal(tree)
        records = journal.interrupted()
        assert [r["state"] for r in records] == [PENDING], step
        if booted is not None:
            assert records[0]["events"][-1].startswith("boot recovery put back"), step
            assert all(os.path.exists(root + path) for path in (HELPER, UNIT_PATH, WANTS_PATH)), "still armed"
        Engine(tree, journal).rollback("interrupted")
        assert outside_journal(root) == pristine and not os.path.exists(root + HELPER), step


@pytest.mark.parametrize("target, call", [(SYSCTL_FILE, "unlink"), (SYSCTL_FILE, "rename"),
                                          (UDEV_RULES_FILE, "unlink"), (MODULES_LOAD_FILE, "unlink"),
                                          (WANTS_PATH, "unlink"), (UNIT_PATH, "unlink"), (HELPER, "unlink")])
def test_a_crash_inside_a_rollback_boots_as_before_the_apply(host_root, monkeypatch, target, call):
    root = host_root(HOST)
    if call == "rename":  # a file that was there before: the rollback renames its old content back
        os.makedirs(os.path.dirname(root + target))
        with open(root + target, "w") as handle:
            handle.write("# by hand\nvm.swappiness = 1\n")
    tree = FakeKernelTree(root, loadable={"tcp_bbr"})
    pristine, pristine_files = outside_journal(root), persisted(root)
    Engine(tree, Journal(tree)).apply(REQUEST)
    revive = kill_inside(monkeypatch, target, 1, call)
    with pytest.raises(Killed):
        Engine(tree, Journal(tree)).rollback("last")
    revive()
    booted = boot(root)
    assert booted is None or booted.returncode == 0, booted.stderr
    assert persisted(root) == pristine_files, booted.stdout + booted.stderr if booted else "not run"
    journal = Journal(tree)
    assert [r["state"] for r in journal.transactions()] == [ROLLING_BACK]
    Engine(tree, journal).rollback("interrupted")
    assert outside_journal(root) == pristine and not os.path.exists(root + HELPER)
    assert [r["state"] for r in journal.transactions()] == [ROLLED_BACK]


def test_recovery_leaves_committed_transactions_and_later_applies_alone(host_root):
    root = host_root(HOST)
    tree = FakeKernelTree(root, loadable={"tcp_bbr"})
    engine = Engine(tree, Journal(tree))
    engine.apply({"sysctl:vm.swappiness": 10})
    first = persisted(root)

    apply_killed_at(tree, {"sysctl:vm.swappiness": 20, "block:vda:read_ahead_kb": 1024}, "file " + UDEV_RULES_FILE)
    assert persisted(root) != first  # the second apply had written its sysctl.d file already
    booted = boot(root)
    assert booted.returncode == 0 and "put back" in booted.stdout
    assert persisted(root) == first, "the boot is the first apply's, complete"
    states = [r["state"] for r in Journal(tree).transactions()]
    assert states == [COMMITTED, PENDING]


def test_the_files_are_root_only_and_a_second_apply_rewrites_none(host_root):
    root = host_root(HOST)
    tree = FakeKernelTree(root, loadable={"tcp_bbr"})
    Engine(tree, Journal(tree)).apply(REQUEST)
    assert os.stat(root + HELPER).st_mode & 0o7777 == 0o755  # written by root only, like the IRQ helper
    assert os.stat(root + UNIT_PATH).st_mode & 0o7777 == 0o644
    before = tree_digest(root)
    result = Engine(tree, Journal(tree)).apply(REQUEST)
    assert not result["changed"] and tree_digest(root) == before


def test_the_helper_refuses_a_record_that_names_a_file_no_kind_writes(host_root):
    root = host_root(HOST)
    tree = FakeKernelTree(root, loadable={"tcp_bbr"})

    apply_killed_at(tree, REQUEST, "file " + SYSCTL_FILE)
    os.makedirs(root + "/etc/cron.d")
    path = root + "/var/lib/hostperf/transactions/%s.json" % Journal(tree).transactions()[0]["id"]
    record = json.load(open(path))
    record["files"].append({"path": "/etc/cron.d/x", "existed": False, "missing_dirs": []})
    with open(path, "w") as handle:
        json.dump(record, handle)
    with open(root + "/etc/cron.d/x", "w") as handle:
        handle.write("* * * * * root true\n")
    before = tree_digest(root)
    booted = boot(root)
    assert booted.returncode == 1 and "/etc/cron.d/x, which no kind of this collection writes" in booted.stderr
    assert tree_digest(root) == before


def test_a_journal_dir_a_unit_cannot_name_plainly_is_refused_before_anything_changes(host_root):
    root = host_root(HOST)
    tree = FakeKernelTree(root, loadable={"tcp_bbr"})
    before = tree_digest(root)
    with pytest.raises(KnobError, match=r"journal_dir '/var/lib/host perf': the boot recovery unit names it"):
        Engine(tree, Journal(tree, "/var/lib/host perf")).apply(REQUEST)
    assert tree_digest(root) == before and tree.writes == []


def test_the_helper_is_at_a_root_only_path_whatever_the_journal_dir(host_root):
    """A helper in a journal under /tmp: any user could put a program there for the boot to run as root."""
    root = host_root(HOST)
    tree = FakeKernelTree(root, loadable={"tcp_bbr"})
    Engine(tree, Journal(tree, "/tmp/hostperf")).apply({"sysctl:vm.swappiness": 10})
    unit = open(root + UNIT_PATH).read()
    assert "ExecStart=%s -I %s --journal /tmp/hostperf\n" % (sys.executable, HELPER_PATH) in unit
    assert "ConditionPathExists=%s\n" % HELPER_PATH in unit and not os.path.exists(root + "/tmp/hostperf/boot-recovery")


def test_a_stale_helper_is_rewritten_by_the_next_apply_even_when_no_setting_changes(host_root):
    root = host_root(HOST)
    tree = FakeKernelTree(root, loadable={"tcp_bbr"})
    Engine(tree, Journal(tree)).apply({"sysctl:vm.swappiness": 10})
    current = open(root + HELPER).read()
    with open(root + HELPER, "w") as handle:
        handle.write(current.replace("boot-recovery", "older-boot-recovery"))
    result = Engine(tree, Journal(tree)).apply({"sysctl:vm.swappiness": 10})
    assert [item["path"] for item in result["files"]] == [HELPER] and open(root + HELPER).read() == current


def test_a_unit_disabled_by_the_interrupted_apply_is_enabled_again_and_started(host_root):
    """systemctl disable persists without a file of ours: the recovery puts it back and queues this boot's start."""
    root = host_root(HOST)
    units = {"irqbalance.service": {"active": "active", "enabled": "enabled"}}
    tree = FakeKernelTree(root, loadable={"tcp_bbr"}, units=units)
    apply_killed_at(tree, {"service:irqbalance.service:enabled": "disabled", "sysctl:vm.swappiness": 10}, "verify")
    assert tree.units["irqbalance.service"]["enabled"] == "disabled"
    report = Engine(tree, Journal(tree)).recover_at_boot()
    assert tree.units["irqbalance.service"]["enabled"] == "enabled" and report["errors"] == []
    assert tree.writes[-2:] == [("systemctl", "enable", "irqbalance.service"),
                                ("systemctl", "start", "irqbalance.service")]
    assert "service:irqbalance.service:enabled (enabled, start queued)" in report["transactions"][0]["files"]


def test_a_journal_on_its_own_filesystem_orders_the_unit_without_a_cycle():
    """Before udev there, its device could not appear: the unit waits for local-fs.target instead."""
    on_root = unit_text("/var/lib/hostperf", "/usr/bin/python3", on_root=True)
    separate = unit_text("/var/lib/hostperf", "/usr/bin/python3", on_root=False)
    assert "Before=systemd-modules-load.service systemd-sysctl.service" in on_root
    assert "systemd-udevd.service systemd-udev-trigger.service" in on_root
    assert "After=systemd-remount-fs.service" in on_root
    assert "After=local-fs.target" in separate and "systemd-sysctl" not in separate and "udev" not in separate
    for text in (on_root, separate):
        assert "DefaultDependencies=no" in text
        assert "RequiresMountsFor=/var/lib/hostperf /usr/local/libexec /usr/bin/python3\n" in text


def test_ranks_put_the_recovery_first_on_apply_and_last_on_rollback():
    paths = [SYSCTL_FILE, WANTS_PATH, HELPER, UNIT_PATH]
    assert sorted(paths, key=boot_recovery.write_rank) == [HELPER, UNIT_PATH, WANTS_PATH, SYSCTL_FILE]
    assert sorted(paths, key=boot_recovery.restore_rank) == [SYSCTL_FILE, WANTS_PATH, UNIT_PATH, HELPER]


def test_a_rollback_stops_the_recovery_unit_a_boot_left_active(host_root):
    root = host_root(HOST)
    tree = FakeKernelTree(root, loadable={"tcp_bbr"})
    Engine(tree, Journal(tree)).apply({"sysctl:vm.swappiness": 10})
    tree.units[boot_recovery.UNIT_NAME] = {"active": "active"}  # RemainAfterExit, since the boot ran it
    Engine(tree, Journal(tree)).rollback("last")
    assert ("systemctl", "stop", boot_recovery.UNIT_NAME) in tree.writes
    assert tree.units[boot_recovery.UNIT_NAME]["active"] == "inactive"


@pytest.mark.parametrize("module", ["tune", "rollback"])
def test_every_module_the_helper_embeds_is_in_the_zip_of_a_module_that_writes_it(module):
    """AnsiballZ ships the collection modules a module's imports name (at any depth, in functions too): the
    bundle can embed only those, on a host its sources come from that zip. Found missing on the lab's first run.

    The same AST rule on both sides, so this is the fast guard; the real zip is built by every integration test
    that persists a setting (tests/integration), which fails when the bundle cannot be made.
    """
    shipped = bundle.closure("ansible_collections.hostperf.tuning.plugins.modules." + module)
    assert set(bundle.closure(boot_recovery.ENTRY)) <= set(shipped)
