"""A boot-once trial of kernel parameters (issue 17): armed in GRUB's environment block, passed to one boot and
unset by GRUB itself, made the default only by a later tune; disarmed and undone byte for byte by a rollback;
refused by name where GRUB could not unset it as it boots."""

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.engine.drift import DriftReport
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import Journal
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.module_api import reboot_needed, tune
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.transaction import Engine
from ansible_collections.hostperf.tuning.plugins.module_utils.host.bootloader import grub_environment
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.cmdline import GRUB_SCRIPT, TRIAL

from fakegrub import GrubHost, grub_root
from fakekernel import apply_killed_at, assert_refused_unchanged, outside_journal, write_file

CFG = "/boot/grub/grub.cfg"
ISOLATE = {"cmdline:isolcpus": "2-3", "cmdline:nohz_full": "2-3", "cmdline:nosmt": True}
WORDS = "isolcpus=2-3 nohz_full=2-3 nosmt"


@pytest.fixture
def root(host_root):
    return grub_root(host_root("dc-2socket"))


def ours(tree):
    """Our parameters on the running command line."""
    return [word for word in tree.read("/proc/cmdline").split()
            if word.split("=")[0] in ("isolcpus", "nohz_full", "nosmt", "skew_tick")]


def trial_entry(tree, journal):
    return [item for item in DriftReport(tree, journal).build()["settings"] if item["identity"] == TRIAL]


def test_a_trial_reaches_one_boot_and_the_next_boots_the_default(root):
    tree = GrubHost(root)
    journal = Journal(tree)
    config = tree.read(CFG)
    checked = tune(tree, journal, {"settings": ISOLATE, "boot_trial": True}, check_mode=True)
    armed = tune(tree, journal, {"settings": ISOLATE, "boot_trial": True})
    assert [(item["identity"], item["before"], item["after"]) for item in armed["settings"]] == [
        (TRIAL, "absent", WORDS)]
    assert [dict(item, status=None) for item in checked["settings"]] == [
        dict(item, status=None) for item in armed["settings"]] and checked["files"] == armed["files"], \
        "check mode shows what the apply does"
    assert grub_environment(tree)["hostperf_trial"] == WORDS
    assert "set hostperf_args=''" in tree.read(CFG), "the default passes none of them"
    assert armed["reboot"] == {"required": True, "reasons": [
        "the next boot only passes %s (a boot-once trial)" % WORDS]}
    assert tune(tree, journal, {"settings": ISOLATE, "boot_trial": True})["changed"] is False

    tree.boot()
    assert ours(tree) == WORDS.split()
    assert grub_environment(tree)["hostperf_trial"] == "", "GRUB unset it as it booted it"
    entry = trial_entry(tree, journal)
    assert entry[0]["status"] == "in_sync" and "GRUB passed it to this boot" in entry[0]["spent"]

    tree.boot()  # a power cycle after the trial boot: the default again
    assert ours(tree) == []
    entry = trial_entry(tree, journal)[0]
    assert (entry["status"], entry["who"]) == ("drifted", "reboot") and "booted its default" in entry["cause"]
    assert "repair" not in entry and "arm it again" in entry["not_repaired"]

    # the trial's rollback: files and grub.cfg byte for byte, nothing armed
    rolled = Engine(tree, journal).rollback("last")
    assert [item["status"] for item in rolled["settings"]] == ["restored"]
    assert tree.read(CFG) == config and not tree.exists(GRUB_SCRIPT)


def test_a_trial_that_passed_becomes_the_default_and_ends(root):
    tree = GrubHost(root)
    journal = Journal(tree)
    tune(tree, journal, {"settings": dict(ISOLATE, **{"sysctl:vm.swappiness": 10}), "boot_trial": True})
    tree.boot()
    committed = tune(tree, journal, {"settings": ISOLATE})
    changed = dict((item["identity"], (item["before"], item["after"])) for item in committed["settings"]
                   if item["changed"])
    assert changed == {"cmdline:isolcpus": ("absent", "2-3"), "cmdline:nohz_full": ("absent", "2-3"),
                       "cmdline:nosmt": ("absent", "(flag)")}
    assert "hostperf_trial" not in tree.read(GRUB_SCRIPT), "no trial clause once the trial ended"
    assert "set hostperf_args='%s'" % WORDS in tree.read(CFG)
    assert committed["reboot"]["required"] is False, "this boot runs them already"
    undone = Engine(tree, journal).rollback("pristine")
    assert reboot_needed(tree, undone["settings"])["required"] is True
    tune(tree, journal, {"settings": dict(ISOLATE, **{"sysctl:vm.swappiness": 10}), "boot_trial": True})
    tree.boot()
    tune(tree, journal, {"settings": ISOLATE})
    tree.boot()
    assert ours(tree) == WORDS.split()
    report = DriftReport(tree, journal).build()
    assert not report["drifted"], report["summary"]


def test_rolling_back_an_armed_trial_disarms_it_and_the_next_boot_is_the_default(root):
    tree = GrubHost(root)
    journal = Journal(tree)
    pristine = outside_journal(root)
    tune(tree, journal, {"settings": ISOLATE, "boot_trial": True})
    Engine(tree, journal).rollback("last")
    assert outside_journal(root) == pristine, "grubenv, the files and grub.cfg byte for byte"
    tree.boot()
    assert ours(tree) == []


def test_a_regressed_trial_is_rolled_back_and_the_next_boot_leaves_it(root):
    tree = GrubHost(root)
    journal = Journal(tree)
    tune(tree, journal, {"settings": ISOLATE, "boot_trial": True})
    tree.boot()
    rolled = Engine(tree, journal).rollback("last")
    assert [item["status"] for item in rolled["settings"]] == ["restored"]
    assert reboot_needed(tree, rolled["settings"]) == {"required": True, "reasons": [
        "the running kernel has the trial's parameters (%s) until the next boot" % WORDS]}
    tree.boot()
    assert ours(tree) == []
    assert not tree.exists(GRUB_SCRIPT) and "hostperf" not in tree.read(CFG)


def test_a_trial_starts_from_the_default_parameters(root):
    tree = GrubHost(root)
    journal = Journal(tree)
    tune(tree, journal, {"settings": {"cmdline:nosmt": True, "cmdline:skew_tick": "1"}})
    tune(tree, journal, {"settings": {"cmdline:isolcpus": "2-3", "cmdline:skew_tick": "absent"}, "boot_trial": True})
    assert grub_environment(tree)["hostperf_trial"] == "isolcpus=2-3 nosmt"
    assert "set hostperf_args='nosmt skew_tick=1'" in tree.read(CFG), "the default is unchanged"
    tree.boot()
    assert sorted(ours(tree)) == ["isolcpus=2-3", "nosmt"]
    # the same request is no trial when the default boots it already
    again = tune(tree, journal, {"settings": {"cmdline:nosmt": True}, "boot_trial": True})
    assert again["changed"] is False


@pytest.mark.parametrize("probe, words", [
    (("btrfs", ""), ["cmdline_trial:grub", "btrfs", "environment block"]),
    (("ext2", "lvm"), ["lvm", "environment block"]),
])
def test_a_host_where_grub_cannot_unset_the_trial_is_refused(root, probe, words):
    assert_refused_unchanged(GrubHost(root, probe=probe), {"settings": ISOLATE, "boot_trial": True}, words)


def test_a_trial_on_a_host_without_grub_is_refused_by_the_settings_name(host_root):
    assert_refused_unchanged(GrubHost(host_root("dc-2socket")), {"settings": ISOLATE, "boot_trial": True},
                             ["cmdline:isolcpus", "no boot loader configuration", "GRUB needs"])


def test_a_host_without_an_environment_block_is_refused(root):
    write_file(root, "/boot/grub/grubenv", "")
    assert_refused_unchanged(GrubHost(root), {"settings": ISOLATE, "boot_trial": True},
                             ["/boot/grub/grubenv", "grub-editenv"])


@pytest.mark.parametrize("request_, words", [
    ({"settings": ISOLATE, "boot_trial": True, "persist": False}, ["cmdline_trial:grub", "persist=false"]),
    ({"settings": {TRIAL: "root=/dev/sdb1"}}, ["cmdline_trial:grub", "names root"]),
    ({"settings": {TRIAL: "a;reboot"}}, ["cmdline_trial:grub", "unquoted"]),
    ({"settings": {TRIAL: "nosmt quiet"}}, ["cmdline_trial:grub", "already passes quiet"]),
])
def test_bad_trials_are_refused_by_name_and_change_nothing(root, request_, words):
    assert_refused_unchanged(GrubHost(root), request_, words)


def test_a_trial_of_no_parameters_is_refused(root):
    tree = GrubHost(root)
    tune(tree, Journal(tree), {"settings": {"cmdline:nosmt": True}})
    assert_refused_unchanged(tree, {"settings": {"cmdline:nosmt": "absent"}, "boot_trial": True},
                             ["cmdline:nosmt", "no parameters", "boot_trial: false"])


@pytest.mark.parametrize("step", ["file " + GRUB_SCRIPT, "write " + TRIAL, "verify"])
def test_a_run_killed_while_arming_is_rolled_back_exactly(root, step):
    tree = GrubHost(root)
    pristine = outside_journal(root)
    apply_killed_at(tree, {TRIAL: WORDS}, step)
    Engine(tree, Journal(tree)).rollback("interrupted")
    assert outside_journal(root) == pristine
    tree.boot()
    assert ours(tree) == []
