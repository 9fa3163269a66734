"""Kernel command-line parameters (issue 17, part): written through GRUB's drop-in and update-grub, verified in
the generated grub.cfg, in effect from the next boot, rolled back to a byte-identical grub.cfg; refused by name
where they could not take effect or would double what the host passes already."""

import os
import stat

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import Journal, JournalError
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.module_api import diff_of, tune
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.transaction import Engine, TransactionError
from ansible_collections.hostperf.tuning.plugins.module_utils.host.bootloader import parse_cmdline
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.cmdline import GRUB_DROPIN, GRUB_SCRIPT
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.registry import canonical

from fakegrub import KERNEL, GrubHost, grub_root
from fakekernel import apply_killed_at, assert_refused_unchanged, outside_journal, tree_digest, write_file

CFG = "/boot/grub/grub.cfg"
BOOT_ID = "/proc/sys/kernel/random/boot_id"
ISOLATE = {"cmdline:isolcpus": "2-3", "cmdline:nohz_full": "2-3", "cmdline:nosmt": True}


@pytest.fixture
def root(host_root):
    return grub_root(host_root("dc-2socket"))


def normal_and_recovery(tree):
    lines = [line.split(None, 1)[1] for line in tree.read(CFG).splitlines() if line.strip().startswith("linux")]
    return lines[0], lines[1]


def test_parameters_reach_the_next_boot_through_grub_and_come_back_byte_for_byte(root):
    tree = GrubHost(root)
    journal = Journal(tree)
    pristine, config = outside_journal(root), tree.read(CFG)
    result = tune(tree, journal, {"settings": ISOLATE})
    assert [(item["identity"], item["before"], item["after"]) for item in result["settings"]] == [
        ("cmdline:isolcpus", "absent", "2-3"), ("cmdline:nohz_full", "absent", "2-3"),
        ("cmdline:nosmt", "absent", "(flag)")]
    assert "export HOSTPERF_TUNING_CMDLINE='isolcpus=2-3 nohz_full=2-3 nosmt'" in tree.read(GRUB_DROPIN)
    assert stat.S_IMODE(os.stat(root + GRUB_SCRIPT).st_mode) == 0o755
    assert "set hostperf_args='isolcpus=2-3 nohz_full=2-3 nosmt'" in tree.read(CFG)
    normal, recovery = normal_and_recovery(tree)
    assert normal.endswith("ro  quiet ${hostperf_args}") and "hostperf" not in recovery, \
        "the recovery entry boots without our parameters"
    assert "update-grub" in [hook["command"] for hook in result["hooks"]]
    assert result["reboot"]["required"] is True
    assert "cmdline:isolcpus is 2-3 from the next boot; the running kernel has absent" in result["reboot"]["reasons"]
    assert all(item["disruption"] == "takes effect at the next boot" for item in result["settings"])
    assert tune(tree, journal, {"settings": ISOLATE})["changed"] is False

    tree.boot()
    assert ("isolcpus", "2-3") in parse_cmdline(tree.read("/proc/cmdline"))
    again = tune(tree, journal, {"settings": ISOLATE})
    assert again["changed"] is False and again["reboot"] == {"required": False, "reasons": []}

    rolled = Engine(tree, journal).rollback("last")
    assert [item["status"] for item in rolled["settings"]] == ["restored"] * 3
    assert tree.read(CFG) == config, "grub.cfg is regenerated to the very bytes it had"
    assert not os.path.exists(root + GRUB_DROPIN) and not os.path.exists(root + GRUB_SCRIPT)
    tree.boot()
    booted = outside_journal(root)
    assert booted.pop(BOOT_ID) != pristine.pop(BOOT_ID) and booted == pristine, "a new boot, the old host"


def test_check_mode_shows_the_drop_in_and_changes_nothing(root):
    tree = GrubHost(root)
    before = tree_digest(root)
    result = tune(tree, Journal(tree), {"settings": {"cmdline:intel_idle.max_cstate": 1}}, check_mode=True)
    assert result["changed"] is True and tree.generated == 0 and tree_digest(root) == before
    assert result["reboot"]["reasons"] == [
        "cmdline:intel_idle.max_cstate is 1 from the next boot; the running kernel has absent"]
    shown = dict((item["after_header"], item["after"]) for item in diff_of(result, verbose=True))
    assert "export HOSTPERF_TUNING_CMDLINE='intel_idle.max_cstate=1'" in shown[GRUB_DROPIN]
    assert shown["live settings"] == "cmdline:intel_idle.max_cstate = 1\n"


def test_a_second_change_and_its_rollback_keep_the_first(root):
    tree = GrubHost(root)
    journal = Journal(tree)
    tune(tree, journal, {"settings": {"cmdline:isolcpus": "2-3"}})
    first = tree.read(CFG)
    tune(tree, journal, {"settings": {"cmdline:isolcpus": "2-5", "cmdline:rcu_nocbs": "2-5"}})
    assert "set hostperf_args='isolcpus=2-5 rcu_nocbs=2-5'" in tree.read(CFG)
    Engine(tree, journal).rollback("last")
    assert tree.read(CFG) == first
    tune(tree, journal, {"settings": {"cmdline:isolcpus": "absent"}})
    assert "hostperf_args" not in tree.read(CFG) and not os.path.exists(root + GRUB_DROPIN)


@pytest.mark.parametrize("settings, words", [
    ({"cmdline:root": "/dev/sda1"}, ["cmdline:root", "never changes it"]),
    ({"cmdline:init": "/bin/sh"}, ["cmdline:init", "never changes it"]),
    ({"cmdline:isolcpus": "2-3 init=/bin/sh"}, ["cmdline:isolcpus", "unquoted"]),
    ({"cmdline:isolcpus": "$(reboot)"}, ["cmdline:isolcpus", "unquoted"]),
    ({"cmdline:isolcpus": "2'3"}, ["cmdline:isolcpus", "unquoted"]),
    ({"cmdline:nosmt": False}, ["cmdline:nosmt", "not a value"]),
    ({"cmdline:quiet": True}, ["cmdline:quiet", "already passes quiet", "twice"]),
    ({"cmdline:x;y": "1"}, ["not a kernel parameter name"]),
    ({"cmdline:isolcpus": "1," * 1000 + "2"}, ["cmdline:isolcpus", "unquoted"]),
])
def test_bad_parameters_are_refused_by_name_and_change_nothing(root, settings, words):
    assert_refused_unchanged(GrubHost(root), {"settings": settings}, words)


def test_a_host_grub_does_not_boot_is_refused(host_root):
    root = grub_root(host_root("dc-2socket"), running="root=/dev/vda rw console=ttyS0\n")
    assert_refused_unchanged(GrubHost(root), {"settings": {"cmdline:isolcpus": "2"}},
                             ["cmdline:isolcpus", "not started by GRUB", "no BOOT_IMAGE="])


def test_a_host_without_grub_or_with_bls_entries_is_refused(root, host_root):
    bare = host_root("edge-box")
    write_file(bare, "/proc/cmdline", "BOOT_IMAGE=/vmlinuz ro\n")
    assert_refused_unchanged(GrubHost(bare), {"settings": {"cmdline:isolcpus": "2"}},
                             ["no boot loader configuration", "update-grub"])
    write_file(root, "/boot/loader/entries/0123-6.1.0.conf", "title Fedora\noptions root=/dev/vda ro\n")
    assert_refused_unchanged(GrubHost(root), {"settings": {"cmdline:isolcpus": "2"}}, ["BLS", "grubby"])


def test_an_edit_not_yet_regenerated_is_refused_so_it_cannot_slip_into_our_change(root):
    write_file(root, "/etc/default/grub", open(root + "/etc/default/grub").read().replace(
        'GRUB_CMDLINE_LINUX=""', 'GRUB_CMDLINE_LINUX="mitigations=off"'))
    assert_refused_unchanged(GrubHost(root), {"settings": {"cmdline:isolcpus": "2"}},
                             ["not what grub-mkconfig makes", "run update-grub and review it first"])


def test_persist_false_is_refused(root):
    assert_refused_unchanged(GrubHost(root), {"settings": {"cmdline:isolcpus": "2"}, "persist": False},
                             ["cmdline:isolcpus", "persist=false"])


def test_update_grub_failing_rolls_the_change_back(root):
    tree = GrubHost(root, update_grub_fails="grub-probe: error: failed to get canonical path of `/dev/root'.")
    pristine = outside_journal(root)
    with pytest.raises(TransactionError, match="every change was rolled back.*update-grub left") as failed:
        tune(tree, Journal(tree), {"settings": {"cmdline:isolcpus": "2", "sysctl:vm.swappiness": 10}})
    hooks = dict((hook["command"], hook) for hook in failed.value.result["hooks"])
    assert "canonical path" in hooks["update-grub"]["error"]
    assert outside_journal(root) == pristine and tree.read("/proc/sys/vm/swappiness") == "60"


def test_a_kill_inside_the_apply_boots_old_files_and_rollback_interrupted_regenerates(root):
    tree = GrubHost(root)
    config = tree.read(CFG)
    apply_killed_at(tree, {"cmdline:isolcpus": "2"}, "write cmdline:isolcpus")
    assert "isolcpus=2" in tree.read(CFG)
    report = Engine(tree, Journal(tree)).recover_at_boot()
    assert not os.path.exists(root + GRUB_DROPIN)
    assert any("update-grub: not run at boot" in warning for warning in report["warnings"])
    assert "isolcpus=2" in tree.read(CFG), "the boot recovery leaves /boot alone"
    Engine(tree, Journal(tree)).rollback("interrupted")
    assert tree.read(CFG) == config


def test_identities_are_spelled_the_kernels_way():
    assert canonical("cmdline:nohz-full") == "cmdline:nohz_full"
    assert canonical("cmdline:intel_idle.max_cstate") == "cmdline:intel_idle.max_cstate"


def test_the_running_command_line_is_split_as_the_kernel_does():
    assert parse_cmdline('BOOT_IMAGE=%s ro  dyndbg="file x.c +p" nosmt\n' % KERNEL) == [
        ("BOOT_IMAGE", KERNEL), ("ro", None), ("dyndbg", "file x.c +p"), ("nosmt", None)]


def test_a_run_killed_before_its_verify_is_rolled_back_by_the_next_one_that_asks(root):
    tree = GrubHost(root)
    config = tree.read(CFG)
    apply_killed_at(tree, {"cmdline:isolcpus": "2"}, "verify")
    with pytest.raises(JournalError, match="interrupted"):
        tune(tree, Journal(tree), {"settings": {"cmdline:isolcpus": "3"}})
    result = tune(tree, Journal(tree), {"settings": {"cmdline:isolcpus": "3"}, "interrupted": "rollback"})
    assert len(result["recovered"]) == 1 and result["settings"][0]["before"] == "absent"
    Engine(tree, Journal(tree)).rollback("last")
    assert tree.read(CFG) == config
