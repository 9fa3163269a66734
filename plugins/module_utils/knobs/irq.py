# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CPU affinity of one IRQ ("irq:45"), never of a kernel-managed one.

IRQ numbers change between boots, so the affinity is persisted by the IRQ's
name: a config file, a helper that re-applies it at boot from a oneshot unit,
and, where irqbalance is installed, a drop-in that makes irqbalance run the
helper as its --policyscript so it leaves these IRQs alone (its documented
way to ban IRQs). systemd reloads after any of these files change, and a
running irqbalance restarts with or without the ban.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostperf.tuning.plugins.module_utils.host.cpulist import CpuListError, format_cpulist, parse_cpulist
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.identity import Grammar
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.irq import (
    DEBUGFS_IRQS, PROC_IRQ, SYS_IRQ, action_names, is_managed)
from ansible_collections.hostperf.tuning.plugins.module_utils.host.names import InvalidName, irq_number
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import HEADER, Knob, KnobError, Persistence, SWITCH_CHEAP
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.cpus import cpu_set
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs import irq_helper
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.irq_helper import CONFIG_PATH

HELPER_PATH = "/usr/local/libexec/hostperf-tuning-irq-affinity"

UNIT_NAME = "hostperf-tuning-irq-affinity.service"
UNIT_PATH = "/etc/systemd/system/" + UNIT_NAME
WANTS_PATH = "/etc/systemd/system/multi-user.target.d/90-hostperf-tuning-irq-affinity.conf"
IRQBALANCE_DROPIN = "/etc/systemd/system/irqbalance.service.d/90-hostperf-tuning.conf"
IRQBALANCE_UNITS = ("/etc/systemd/system/irqbalance.service", "/lib/systemd/system/irqbalance.service",
                    "/usr/lib/systemd/system/irqbalance.service")
# NIC drivers name their IRQs only when the link is opened, so the unit waits for the network to be online
# (and pulls that in: nothing else may). irqbalance asks its policy script about an IRQ once, when it first
# sees it, which at boot is before the names exist (the lab's e1000e: irqbalance at 88 s, the link at 121 s):
# it is restarted once the names are there, so it asks again, and the helper as its policy script places and
# bans ours; then every named IRQ is set (also without irqbalance). systemctl without a path needs systemd 239
# (RHEL 8, Debian 10).
UNIT_TEXT = HEADER + """[Unit]
Description=hostperf.tuning: IRQ affinity by IRQ name
Wants=network-online.target
After=network.target network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=-systemctl try-restart irqbalance.service
ExecStart=%s apply
""" % HELPER_PATH


def helper_source():
    """The program irq_helper.py is, as the file installed at HELPER_PATH.

    Its loader reads it: from the module's zip on a host, from the collection on the controller.
    """
    source = irq_helper.__loader__.get_source(irq_helper.__name__)
    if not source:
        raise KnobError("irq: cannot read the IRQ boot helper's source from %s" % irq_helper.__name__)
    return "#!/usr/bin/python3\n" + (source.decode("utf-8") if isinstance(source, bytes) else source)


class IrqAffinityKnob(Knob):
    switching = SWITCH_CHEAP
    kind = "irq"
    grammar = Grammar("irq", ("irq",), ("irq:42",))
    order = 70  # after NIC channels, which re-create queue IRQs
    drifts = True

    def __init__(self, tree, name):
        try:
            number = irq_number(name)
        except InvalidName as exc:
            raise KnobError(str(exc))
        Knob.__init__(self, tree, str(number))
        self.irq = number
        self.path = "%s/%d/smp_affinity_list" % (PROC_IRQ, number)

    def _names(self):
        if not self.tree.exists(self.path):
            raise KnobError("irq %d: no such IRQ" % self.irq)
        return action_names(self.tree, self.irq)

    def validate(self, value):
        names = self._names()
        label = "irq %d (%s)" % (self.irq, names[0]) if names else "irq %d" % self.irq
        managed, source = is_managed(self.tree, self.irq, names[0] if names else None,
                                     self.tree.isdir(DEBUGFS_IRQS))
        if managed:
            raise KnobError("%s: kernel-managed (by %s), its affinity is the kernel's and cannot be written"
                            % (label, "debugfs" if source == "debugfs" else "its driver"))
        if not names:
            raise KnobError("%s: no handler, nothing would use this affinity" % label)
        return format_cpulist(cpu_set(self.tree, label, value))

    def read(self):
        text = self.tree.read(self.path)
        if text is None:
            raise KnobError("irq %d: cannot read its affinity (IRQ gone?)" % self.irq)
        return format_cpulist(parse_cpulist(text))

    def write(self, value):
        self.tree.write(self.path, value)

    def equal(self, first, second):
        try:
            return parse_cpulist(first) == parse_cpulist(second)
        except CpuListError:
            return first == second

    def whereabouts(self):
        names = self._names() if self.tree.exists(self.path) else []
        return names[0] if names else None

    def relocated(self, where):
        if where is None or (self.tree.exists(self.path) and where in action_names(self.tree, self.irq)):
            return self
        for entry in self.tree.listdir(SYS_IRQ):
            if entry.isdigit() and where in action_names(self.tree, int(entry)):
                return IrqAffinityKnob(self.tree, entry)
        raise KnobError("irq %d (%s): no IRQ has this name now (gone since it was journaled?)" % (self.irq, where))

    @staticmethod
    def where_persisted(data):
        return data.get("name")

    def persist_data(self):
        names = self._names()
        return {"name": names[0] if names else None, "irqbalance_exec": irqbalance_exec_start(self.tree)}


def irqbalance_exec_start(tree):
    """The ExecStart= of the installed irqbalance unit, or None without irqbalance."""
    for path in IRQBALANCE_UNITS:
        text = tree.read(path)
        if text is not None:
            lines = [line.strip() for line in text.splitlines() if line.strip().startswith("ExecStart=")]
            return lines[-1][len("ExecStart="):] if lines else None
    return None


class IrqPersistence(Persistence):
    """The config, the helper, its unit, the drop-in that starts it, and irqbalance's ban."""

    def __init__(self):
        Persistence.__init__(self, None, None, after_change=(
            ["systemctl", "daemon-reload"], ["systemctl", "try-restart", "irqbalance.service"]),
            unit=(UNIT_NAME, UNIT_PATH))

    FILES = (CONFIG_PATH, HELPER_PATH, UNIT_PATH, WANTS_PATH, IRQBALANCE_DROPIN)

    def owns(self, path):
        return path in self.FILES

    def mode(self, path):
        return 0o755 if path == HELPER_PATH else 0o644

    def render_files(self, entries):
        named = sorted((data.get("name"), value) for dummy, value, data in entries if data.get("name"))
        if not named:
            return dict((path, None) for path in self.FILES)
        config = HEADER + "# CPUS<TAB>IRQ NAME\n" + "".join("%s\t%s\n" % (cpus, name) for name, cpus in named)
        irqbalance = [data["irqbalance_exec"] for dummy, dummy, data in entries if data.get("irqbalance_exec")]
        ban = None
        if irqbalance:
            ban = HEADER + "[Service]\nExecStart=\nExecStart=%s --policyscript=%s\n" % (irqbalance[0], HELPER_PATH)
        return {CONFIG_PATH: config, HELPER_PATH: helper_source(), UNIT_PATH: UNIT_TEXT,
                WANTS_PATH: HEADER + "[Unit]\nWants=%s\n" % UNIT_NAME, IRQBALANCE_DROPIN: ban}


IrqAffinityKnob.persistence = IrqPersistence()
