# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cpufreq governor and energy-performance preference of every CPU policy.

Identities are "cpufreq:scaling_governor" and
"cpufreq:energy_performance_preference". The value is one word for every
policy; a host whose policies differ reads as "policy0=performance
policy1=powersave", so a rollback puts each policy back as it was.
Persisted by systemd-tmpfiles, which writes sysfs at boot.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import Knob, KnobError, Persistence, SWITCH_CHEAP
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.identity import Grammar
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.tmpfiles import tmpfiles_file, tmpfiles_write
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.values import pairs_of, uniform_or_pairs

CPUFREQ_DIR = "/sys/devices/system/cpu/cpufreq"
TMPFILES_PATH = "/etc/tmpfiles.d/hostperf-tuning-cpufreq.conf"
AVAILABLE = {"scaling_governor": "scaling_available_governors",
             "energy_performance_preference": "energy_performance_available_preferences"}
# intel_pstate refuses a preference other than performance under the
# performance governor (EBUSY), so the governor goes first.
ORDER = {"scaling_governor": 20, "energy_performance_preference": 21}
_POLICY = re.compile(r"^policy\d{1,5}$")


class CpufreqKnob(Knob):
    switching = SWITCH_CHEAP
    kind = "cpufreq"
    grammar = Grammar("cpufreq", ("attribute",), ("cpufreq:scaling_governor",
                                                  "cpufreq:energy_performance_preference"))

    def __init__(self, tree, name):
        if name not in AVAILABLE:
            raise KnobError("cpufreq %r: unknown setting (known: %s)" % (name, ", ".join(sorted(AVAILABLE))))
        Knob.__init__(self, tree, name)
        self.attribute = name
        self.order = ORDER[name]

    def _policies(self):
        policies = [name for name in self.tree.listdir(CPUFREQ_DIR) if _POLICY.match(name)]
        if not policies:
            raise KnobError("cpufreq %s: this host has no cpufreq policies (a VM, or frequency set by firmware)"
                            % self.attribute)
        return sorted(policies, key=lambda name: int(name[len("policy"):]))

    def _path(self, policy):
        return "%s/%s/%s" % (CPUFREQ_DIR, policy, self.attribute)

    def validate(self, value):
        word = str(value).strip()
        for policy in self._policies():
            if not self.tree.exists(self._path(policy)):
                raise KnobError("cpufreq %s: %s has no %s (the driver does not offer it)"
                                % (self.attribute, policy, self.attribute))
            offered = (self.tree.read("%s/%s/%s" % (CPUFREQ_DIR, policy, AVAILABLE[self.attribute])) or "").split()
            if word not in offered:
                raise KnobError("cpufreq %s: %r is not offered by %s (offered: %s)"
                                % (self.attribute, word, policy, ", ".join(offered) or "none"))
        return word

    def read(self):
        policies = self._policies()
        return uniform_or_pairs(dict((policy, (self.tree.read(self._path(policy)) or "").strip())
                                     for policy in policies), policies)

    def write(self, value):
        policies = self._policies()
        per_policy = pairs_of(value, policies)
        for policy in policies:
            word = per_policy.get(policy)
            if word and (self.tree.read(self._path(policy)) or "").strip() != word:
                self.tree.write(self._path(policy), word)


def render_tmpfiles(entries):
    return tmpfiles_file([tmpfiles_write("%s/%s/%s" % (CPUFREQ_DIR, policy, knob.attribute), word)
                          for knob, value, dummy in sorted(entries, key=lambda entry: entry[0].order)
                          for policy, word in pairs_of(value, ["policy*"]).items()])


CpufreqKnob.persistence = Persistence(TMPFILES_PATH, render_tmpfiles)
