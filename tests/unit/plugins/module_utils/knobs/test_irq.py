"""IRQ placement and affinity on the fixture hosts; the boot helper; irqbalance ban or stop; exact rollback."""

import os
import subprocess
import sys
import zipfile

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.irq import HELPER_PATH
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.irq_helper import CONFIG_PATH
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import Journal
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import KnobError
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.irq import (
    IRQBALANCE_DROPIN, UNIT_PATH, WANTS_PATH, IrqAffinityKnob)
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.module_api import tune
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.transaction import Engine

from conftest import REPO
from fakekernel import FakeKernelTree, assert_refused_unchanged, irqs_named, outside_journal, swap_names, tree_digest

IRQBALANCE_UNIT = "[Service]\nEnvironmentFile=-/etc/default/irqbalance\nExecStart=/usr/sbin/irqbalance --foreground " \
                  "$IRQBALANCE_ARGS\n"


@pytest.fixture
def dc(host_root):
    root = host_root("dc-2socket")
    os.makedirs(root + "/lib/systemd/system")
    with open(root + "/lib/systemd/system/irqbalance.service", "w") as handle:
        handle.write(IRQBALANCE_UNIT)
    return FakeKernelTree(root, units={"irqbalance.service": {"active": "active", "enabled": "enabled"},
                                       "tuned.service": {"active": "inactive", "enabled": "masked",
                                                         "LoadState": "masked"}})


def affinity(tree, irq):
    return tree.read("/proc/irq/%d/smp_affinity_list" % irq)


def test_nic_queues_spread_over_its_own_node_one_per_cpu_link_irq_gets_the_node(dc):
    tune(dc, Journal(dc), {"irq_affinity": [{"interface": "eno1"}, {"interface": "ens1f0np0"}]})
    eno1 = irqs_named(dc, "eno1")
    assert [affinity(dc, eno1["eno1-TxRx-%d" % q]) for q in range(4)] == ["0", "1", "2", "3"]
    assert affinity(dc, eno1["eno1"]) == "0-15,32-47"
    mlx = irqs_named(dc, "mlx5_comp")
    node1 = list(range(16, 32)) + list(range(48, 64))
    assert [affinity(dc, mlx["mlx5_comp%d@pci:0000:77:00.0" % q]) for q in (0, 15, 16, 31)] == [
        str(node1[0]), str(node1[15]), str(node1[16]), str(node1[31])]


def test_isolated_cpus_are_skipped(dc):
    with open(dc.path("/sys/devices/system/cpu/isolated"), "w") as handle:
        handle.write("0-1\n")
    tune(dc, Journal(dc), {"irq_affinity": [{"interface": "eno1"}]})
    eno1 = irqs_named(dc, "eno1")
    assert affinity(dc, eno1["eno1-TxRx-0"]) == "2" and affinity(dc, eno1["eno1"]) == "2-15,32-47"


def test_managed_nvme_queues_are_reported_and_left_alone(dc):
    before = tree_digest(dc.root)
    result = tune(dc, Journal(dc), {"irq_affinity": [{"device": "nvme0n1", "cpus": "0-3"}]})
    assert any("kernel-managed (nvme0q1)" in note for note in result["notes"])
    assert [item["identity"] for item in result["settings"]] == ["irq:%d" % irqs_named(dc, "nvme0q0")["nvme0q0"]]
    changed = [path for path, value in tree_digest(dc.root).items() if before.get(path) != value]
    assert not any("/proc/irq/" in path and "nvme0q0" not in path for path in changed
                   if path.endswith("smp_affinity_list") and path != "/proc/irq/%d/smp_affinity_list"
                   % irqs_named(dc, "nvme0q0")["nvme0q0"])
    with pytest.raises(KnobError, match=r"irq \d+ \(nvme0q1\): kernel-managed \(by its driver\)"):
        IrqAffinityKnob(dc, str(irqs_named(dc, "nvme0q1")["nvme0q1"])).validate("0")


def test_xps_follows_the_irq_placement(dc):
    tune(dc, Journal(dc), {"irq_affinity": [{"interface": "eno1", "xps": True}]})
    assert [dc.read("/sys/class/net/eno1/queues/tx-%d/xps_cpus" % q) for q in range(4)] == [
        "00000000,00000001", "00000000,00000002", "00000000,00000004", "00000000,00000008"]


def test_persisted_by_name_with_helper_unit_and_irqbalance_ban_then_rolled_back_exactly(dc):
    before = tree_digest(dc.root)
    journal = Journal(dc)
    result = tune(dc, journal, {"irq_affinity": [{"interface": "eno1"}]})
    config = dc.read(CONFIG_PATH)
    assert "0\teno1-TxRx-0\n" in config and "0-15,32-47\teno1\n" in config
    assert os.stat(dc.path(HELPER_PATH)).st_mode & 0o777 == 0o755
    assert "ExecStart=%s apply" % HELPER_PATH in dc.read(UNIT_PATH)
    assert dc.read(WANTS_PATH).endswith("Wants=hostperf-tuning-irq-affinity.service")
    assert dc.read(IRQBALANCE_DROPIN).endswith(
        "ExecStart=\nExecStart=/usr/sbin/irqbalance --foreground $IRQBALANCE_ARGS --policyscript=%s" % HELPER_PATH)
    assert dc.systemctl == ["daemon-reload", "try-restart irqbalance.service"]
    assert [hook["command"] for hook in result["hooks"]] == ["systemctl " + call for call in dc.systemctl]
    assert dc.units["irqbalance.service"] == {"active": "active", "enabled": "enabled"}
    Engine(dc, journal).rollback("last")
    assert dc.systemctl[2:] == ["daemon-reload", "try-restart irqbalance.service"]
    assert outside_journal(dc.root) == before


def test_irqbalance_stop_mode_stops_and_disables_and_rollback_starts_it_again(dc):
    journal = Journal(dc)
    tune(dc, journal, {"irq_affinity": [{"interface": "eno1"}], "irqbalance": "stop"})
    assert dc.units["irqbalance.service"] == {"active": "inactive", "enabled": "disabled"}
    Engine(dc, journal).rollback("last")
    assert dc.units["irqbalance.service"] == {"active": "active", "enabled": "enabled"}


def test_the_boot_helper_applies_by_name_and_bans_only_ours(dc, tmp_path):
    tune(dc, Journal(dc), {"irq_affinity": [{"interface": "eno1"}]})
    eno1 = irqs_named(dc, "eno1")
    for irq in eno1.values():  # a reboot: every IRQ back on every CPU
        with open(dc.path("/proc/irq/%d/smp_affinity_list" % irq), "w") as handle:
            handle.write("0-63\n")
    helper = dc.path(HELPER_PATH)
    run = subprocess.run([sys.executable, helper, "apply", "--root", dc.root], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, universal_newlines=True, check=False)
    assert run.returncode == 0, run.stderr
    assert [affinity(dc, eno1["eno1-TxRx-%d" % q]) for q in range(4)] == ["0", "1", "2", "3"]
    ours = subprocess.run([sys.executable, helper, "/sys/devices/x", str(eno1["eno1-TxRx-2"]), "--root", dc.root],
                          stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    other = irqs_named(dc, "nvme0q0")["nvme0q0"]
    theirs = subprocess.run([sys.executable, helper, "/sys/devices/x", str(other), "--root", dc.root],
                            stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    assert (ours, theirs) == ("ban=true\n", "")


@pytest.mark.parametrize("request_, words", [
    ({"irq_affinity": [{"interface": "eno1", "cpus": "64-65"}]}, ["irq", "(eno1", "not online"]),
    ({"irq_affinity": [{"interface": "eno1", "cpus": "x"}]}, ["irq_affinity[0]: cpus", "not a CPU number"]),
    ({"irq_affinity": [{"interface": "docker0"}]}, ["irq_affinity[0]", "no such interface docker0"]),
    ({"irq_affinity": [{"interface": "eno1", "device": "sda"}]}, ["mutually exclusive: interface|device"]),
    ({"irq_affinity": [{"device": "sdz"}]}, ["no such disk sdz"]),
    ({"irq_affinity": [{"interface": "eno1"}], "irqbalance": "pause"}, ["irqbalance must be one of: ban, stop"]),
    ({"settings": {"irq:../1": "0"}}, ["IRQ '../1'", "not an IRQ number"]),
    ({"settings": {"irq:99999": "0"}}, ["irq 99999: no such IRQ"]),
    ({"settings": {"irq:24": ""}}, ["irq 24", "the CPU list is empty"]),
    ({"settings": {"service:irqbalance.service:active": "paused"}}, ["active must be active or inactive"]),
    ({"settings": {"service:../x.service:active": "inactive"}}, ["expected UNIT:active"]),
    ({"settings": {"service:nope.service:enabled": "disabled"}}, ["service nope.service: no such unit"]),
    ({"settings": {"service:tuned.service:enabled": "enabled"}}, ["service tuned.service: is masked"]),
])
def test_bad_irq_requests_change_nothing(dc, request_, words):
    assert_refused_unchanged(dc, request_, words)


def test_an_irq_moved_right_after_placement_is_placed_once_more(dc, monkeypatch):
    """irqbalance's last pass before its restart can move an IRQ we just placed: verify sets it again, once."""
    from ansible_collections.hostperf.tuning.plugins.module_utils.engine import transaction
    monkeypatch.setattr(transaction, "DRIFT_SETTLE", 0)
    irq = irqs_named(dc, "eno1")["eno1-TxRx-1"]
    original_write, moved = IrqAffinityKnob.write, []

    def write_then_daemon_moves_it(knob, value):
        original_write(knob, value)
        if not moved:
            moved.append(value)
            with open(dc.path("/proc/irq/%d/smp_affinity_list" % irq), "w") as handle:
                handle.write("3\n")
    monkeypatch.setattr(IrqAffinityKnob, "write", write_then_daemon_moves_it)
    result = tune(dc, Journal(dc), {"settings": {"irq:%d" % irq: "1"}})
    assert result["changed"] and affinity(dc, irq) == "1"


def test_an_irq_that_keeps_moving_fails_the_transaction(dc, monkeypatch):
    from ansible_collections.hostperf.tuning.plugins.module_utils.engine import transaction
    from ansible_collections.hostperf.tuning.plugins.module_utils.engine.transaction import TransactionError
    monkeypatch.setattr(transaction, "DRIFT_SETTLE", 0)
    irq = irqs_named(dc, "eno1")["eno1-TxRx-1"]
    monkeypatch.setattr(IrqAffinityKnob, "read", lambda knob: "3" if knob.name == str(irq) else "0")
    with pytest.raises(TransactionError, match="the kernel kept '3' instead of '1'"):
        tune(dc, Journal(dc), {"settings": {"irq:%d" % irq: "1"}})


def test_the_helper_installed_is_its_module_read_from_a_zip_as_on_a_host(tmp_path):
    """AnsiballZ ships module_utils to a host in a zip on sys.path; the helper's text must come out of it whole."""
    archive = str(tmp_path / "modlib.zip")
    repo = REPO
    with zipfile.ZipFile(archive, "w") as modlib:
        for package in ("ansible_collections", "ansible_collections/hostperf", "ansible_collections/hostperf/tuning",
                        "ansible_collections/hostperf/tuning/plugins"):
            modlib.writestr(package + "/__init__.py", "")
        for top, _dirs, files in os.walk(os.path.join(repo, "plugins", "module_utils")):
            inside = "ansible_collections/hostperf/tuning/" + os.path.relpath(top, repo)
            if "__init__.py" not in files:
                modlib.writestr(inside + "/__init__.py", "")
            for name in files:
                if name.endswith(".py"):
                    modlib.write(os.path.join(top, name), inside + "/" + name)
    program = ("import sys; sys.path.insert(0, sys.argv[1]); "
               "from ansible_collections.hostperf.tuning.plugins.module_utils.knobs import irq; "
               "sys.stdout.write(irq.helper_source())")
    run = subprocess.run([sys.executable, "-c", program, archive], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True, check=False, cwd=str(tmp_path))
    assert run.returncode == 0, run.stderr
    with open(os.path.join(repo, "plugins", "module_utils", "knobs", "irq_helper.py")) as handle:
        assert run.stdout == "#!/usr/bin/python3\n" + handle.read()
    assert "zip" in subprocess.run([sys.executable, "-c", program.replace("sys.stdout.write(irq.helper_source())",
                                    "sys.stdout.write(repr(irq.irq_helper.__loader__))"), archive],
                                   stdout=subprocess.PIPE, universal_newlines=True, check=True,
                                   cwd=str(tmp_path)).stdout


def test_the_boot_unit_waits_for_the_links_and_makes_irqbalance_ask_again(dc):
    """irqbalance asks its policy script once per IRQ, at discovery; at boot that is before a NIC opened its
    link and named its IRQs (the lab: irqbalance at 88 s, the link at 121 s), so it banned nothing."""
    tune(dc, Journal(dc), {"irq_affinity": [{"interface": "eno1"}]})
    unit = dc.read(UNIT_PATH)
    assert "Wants=network-online.target" in unit and "After=network.target network-online.target" in unit
    lines = [line for line in unit.splitlines() if line.startswith("ExecStart=")]
    assert lines == ["ExecStart=-systemctl try-restart irqbalance.service", "ExecStart=%s apply" % HELPER_PATH]


def test_as_the_policy_script_the_helper_places_ours_again(dc):
    """A driver that re-requests its vectors (a link reopened) gets fresh descriptors; irqbalance asks about them."""
    tune(dc, Journal(dc), {"irq_affinity": [{"interface": "eno1"}]})
    irq = irqs_named(dc, "eno1")["eno1-TxRx-2"]
    with open(dc.path("/proc/irq/%d/smp_affinity_list" % irq), "w") as handle:
        handle.write("0-63\n")
    answer = subprocess.run([sys.executable, dc.path(HELPER_PATH), "/sys/devices/x", str(irq), "--root", dc.root],
                            stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    assert answer == "ban=true\n" and affinity(dc, irq) == "2"


def test_a_rollback_after_a_boot_finds_each_irq_by_its_name(dc):
    journal = Journal(dc)
    ours, theirs = irqs_named(dc, "eno1-TxRx-0")["eno1-TxRx-0"], irqs_named(dc, "nvme0q0")["nvme0q0"]
    before = affinity(dc, ours)
    tune(dc, journal, {"settings": {"irq:%d" % ours: "0"}})
    assert journal.transactions()[-1]["settings"][0]["where"] == "eno1-TxRx-0"
    swap_names(dc, ours, theirs)  # a reboot: eno1-TxRx-0 is IRQ `theirs` now, placed there by the helper
    for irq, cpus in ((theirs, "0"), (ours, "5")):
        with open(dc.path("/proc/irq/%d/smp_affinity_list" % irq), "w") as handle:
            handle.write(cpus + "\n")
    outcome = Engine(dc, journal).rollback("last")
    assert outcome["settings"][0]["identity"] == "irq:%d" % theirs
    assert outcome["settings"][0]["journaled_as"] == "irq:%d" % ours
    assert affinity(dc, theirs) == before and affinity(dc, ours) == "5"  # nvme0q0, now at `ours`, untouched


def test_a_rollback_stops_the_boot_unit_it_removes(dc):
    journal = Journal(dc)
    tune(dc, journal, {"irq_affinity": [{"interface": "eno1"}]})
    dc.units["hostperf-tuning-irq-affinity.service"] = {"active": "active", "enabled": "enabled"}  # after a boot
    Engine(dc, journal).rollback("last")
    assert dc.units["hostperf-tuning-irq-affinity.service"]["active"] == "inactive"
    assert ("systemctl", "stop", "hostperf-tuning-irq-affinity.service") in dc.writes
    assert dc.systemctl[-2:] == ["daemon-reload", "try-restart irqbalance.service"]
