# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kernel modules a setting needs (tcp_bbr, sch_fq): loaded now and at every boot."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import HEADER, Knob, KnobError, Persistence, SWITCH_INERT
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.identity import Grammar

MODULES_LOAD_FILE = "/etc/modules-load.d/hostperf-tuning.conf"
_MODULE_NAME = re.compile(r"^[a-z0-9_-]{1,55}$")
LOADED, BUILTIN, ABSENT = "loaded", "builtin", "absent"


class KernelModuleKnob(Knob):
    switching = SWITCH_INERT
    kind = "module"
    grammar = Grammar("module", ("module",), ("module:tcp_bbr", "module:sch_fq"))
    order = 0  # a module must be there before the sysctl that names it

    def __init__(self, tree, name):
        if not _MODULE_NAME.match(str(name)):
            raise KnobError("kernel module %r: not a module name" % (name,))
        Knob.__init__(self, tree, str(name).replace("-", "_"))

    def validate(self, value):
        if value not in (LOADED, ABSENT):
            raise KnobError("kernel module %s: state must be loaded or absent, not %r" % (self.name, value))
        if value == LOADED and self.read() == ABSENT:
            result = self.tree.run(["modprobe", "--dry-run", "--first-time", self.name])
            if not result.ok:
                raise KnobError("kernel module %s: cannot be loaded here: %s"
                                % (self.name, (result.stderr or result.stdout).strip() or "modprobe failed"))
        return value

    def read(self):
        for line in (self.tree.read("/proc/modules", default="") or "").splitlines():
            if line.split(" ", 1)[0] == self.name:
                return LOADED
        if self.tree.isdir("/sys/module/" + self.name):
            return BUILTIN
        return ABSENT

    def equal(self, first, second):
        # A built-in module is as good as a loaded one and cannot be removed.
        return _present(first) == _present(second)

    def users(self):
        """The module's reference count: sockets made while it was the congestion default, qdiscs, modules."""
        text = (self.tree.read("/sys/module/%s/refcnt" % self.name) or "").strip()
        return int(text) if text.isdigit() else 0

    def settles_later(self, value):
        users = self.users() if value == ABSENT and self.read() == LOADED else 0
        if not users:
            return None
        return ("module %s stays loaded while it is in use (%d user(s): connections or qdiscs made while it was "
                "the default); nothing loads it at boot any more, and `modprobe -r %s` unloads it once they are "
                "gone" % (self.name, users, self.name))

    def write(self, value):
        self.tree.run_checked(["modprobe", self.name] if value != ABSENT else ["modprobe", "-r", self.name])


def _present(state):
    return state in (LOADED, BUILTIN)


def render_modules(entries):
    names = [knob.name for knob, value, dummy in entries if value == LOADED]
    if not names:
        return None
    return HEADER + "".join(name + "\n" for name in names)


KernelModuleKnob.persistence = Persistence(MODULES_LOAD_FILE, render_modules)
