# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Transparent huge pages: when the kernel backs memory with 2 MiB pages, and how hard it compacts to get them.

"thp:enabled" and "thp:defrag" are the choice files under
/sys/kernel/mm/transparent_hugepage; a value must be one the kernel offers
there. Persisted as tmpfiles.d lines, written early at boot (a
transparent_hugepage= on the kernel command line is the boot tier's).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostperf.tuning.plugins.module_utils.host.sysfs import parse_choice
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import Knob, KnobError, Persistence, SWITCH_CHEAP
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.identity import Grammar
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.tmpfiles import tmpfiles_file, tmpfiles_write

THP_DIR = "/sys/kernel/mm/transparent_hugepage"
TMPFILES_PATH = "/etc/tmpfiles.d/hostperf-tuning-thp.conf"
ORDER = {"enabled": 20, "defrag": 21}


class TransparentHugepageKnob(Knob):
    switching = SWITCH_CHEAP
    kind = "thp"
    grammar = Grammar("thp", ("attribute",), ("thp:enabled", "thp:defrag"))

    def __init__(self, tree, name):
        attribute = self.fields_of(name)["attribute"]
        if attribute not in ORDER:
            raise KnobError("thp %r: unknown setting (known: %s)" % (attribute, ", ".join(sorted(ORDER))))
        Knob.__init__(self, tree, attribute)
        self.order = ORDER[attribute]
        self.path = "%s/%s" % (THP_DIR, attribute)

    def _choice(self):
        current, offered = parse_choice(self.tree.read(self.path))
        if not offered:
            raise KnobError("thp %s: this kernel has no transparent huge pages (%s)" % (self.name, self.path))
        return current, offered

    def read(self):
        return self._choice()[0]

    def validate(self, value):
        offered = self._choice()[1]
        word = str(value).strip()
        if word not in offered:
            raise KnobError("thp %s: %r is not offered (offered: %s)" % (self.name, value, ", ".join(offered)))
        return word

    def write(self, value):
        self.tree.write(self.path, value)


def render_tmpfiles(entries):
    return tmpfiles_file([tmpfiles_write(knob.path, value)
                          for knob, value, dummy in sorted(entries, key=lambda entry: entry[0].order)])


TransparentHugepageKnob.persistence = Persistence(TMPFILES_PATH, render_tmpfiles)
