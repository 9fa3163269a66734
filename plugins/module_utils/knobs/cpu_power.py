# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How deep one CPU may sleep: its PM QoS resume latency ("cpu:3:pm_qos_resume_latency_us") and its idle states
("cpu:3:cpuidle/state2/disable").

The resume latency is what tuned's force_latency holds /dev/cpu_dma_latency open for, per CPU and without a
daemon: the cpuidle governor (menu, teo, haltpoll) never picks a state whose exit latency is above it. 0 is no
constraint, "n/a" no latency at all (the CPU polls). Disabling a state forbids it under every governor. Both are
persisted as tmpfiles.d lines, which boot writes once the CPUs are up.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import Knob, KnobError, Persistence, SWITCH_CHEAP
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.identity import Grammar
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.tmpfiles import render_paths

CPU_DIR = "/sys/devices/system/cpu"
TMPFILES_PATH = "/etc/tmpfiles.d/hostperf-tuning-cpu.conf"
RESUME_LATENCY = "pm_qos_resume_latency_us"
NO_LATENCY = "n/a"
MAX_LATENCY_US = 2147483647  # S32_MAX: PM QoS values are signed 32-bit
_CPU = re.compile(r"^(0|[1-9][0-9]{0,4})\Z")
_STATE = re.compile(r"^cpuidle/state(0|[1-9][0-9]?)/disable\Z")


class CpuPowerKnob(Knob):
    switching = SWITCH_CHEAP
    kind = "cpu"
    grammar = Grammar("cpu", ("cpu", "attribute"), ("cpu:0:pm_qos_resume_latency_us", "cpu:0:cpuidle/state1/disable"))
    order = 22

    def __init__(self, tree, name):
        fields = self.fields_of(name)
        cpu, attribute = fields["cpu"], fields["attribute"]
        state = _STATE.match(attribute)
        if not _CPU.match(cpu) or not (attribute == RESUME_LATENCY or state):
            raise KnobError("cpu %r: expected cpu:N:%s or cpu:N:cpuidle/stateK/disable" % (name, RESUME_LATENCY))
        Knob.__init__(self, tree, "%s:%s" % (cpu, attribute))
        self.cpu, self.attribute = int(cpu), attribute
        self.path = "%s/cpu%d/%s" % (CPU_DIR, self.cpu, "power/" + attribute if not state else attribute)

    def _label(self):
        return "cpu:%s" % self.name

    def validate(self, value):
        if not self.tree.exists("%s/cpu%d" % (CPU_DIR, self.cpu)):
            raise KnobError("%s: this host has no CPU %d" % (self._label(), self.cpu))
        if not self.tree.exists(self.path):
            raise KnobError("%s: the kernel has no %s for CPU %d (%s)" % (
                self._label(), "such idle state" if self.attribute != RESUME_LATENCY else "PM QoS resume latency",
                self.cpu, self.path))
        word = str(value).strip() if not isinstance(value, bool) else ""
        if self.attribute == RESUME_LATENCY:
            if word == NO_LATENCY or (re.match(r"^[0-9]{1,10}\Z", word) and int(word) <= MAX_LATENCY_US):
                return word if word == NO_LATENCY else str(int(word))
            raise KnobError("%s: %r is neither microseconds (0, no constraint, to %d) nor %r (no latency at all)"
                            % (self._label(), value, MAX_LATENCY_US, NO_LATENCY))
        if word not in ("0", "1"):
            raise KnobError("%s: %r is neither 1 (state disabled) nor 0 (enabled)" % (self._label(), value))
        return word

    def read(self):
        text = self.tree.read(self.path)
        if text is None:
            raise KnobError("%s: cannot read %s (CPU offline?)" % (self._label(), self.path))
        return text.strip()

    def write(self, value):
        self.tree.write(self.path, value)


CpuPowerKnob.persistence = Persistence(TMPFILES_PATH, render_paths)
