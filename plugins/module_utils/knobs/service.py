# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a systemd unit runs ("service:irqbalance.service:active") and starts at boot (":enabled").

Used to stop and disable a daemon that would undo our settings (irqbalance).
systemd keeps enablement itself, so this kind writes no file of its own.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import NO_FILES, Knob, KnobError
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.identity import Grammar
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.scope import OWN

UNIT_NAME = re.compile(r"^[A-Za-z0-9:_.@-]{1,200}\.(service|socket|timer)$")
STATES = {"active": (("active", "inactive"), ("is-active",), {"active": "start", "inactive": "stop"}),
          "enabled": (("enabled", "disabled"), ("is-enabled",), {"enabled": "enable", "disabled": "disable"})}


def unit_property(tree, unit, name):
    """A property systemd has loaded for a unit ("LoadState", "ControlGroup"), or ""."""
    result = tree.run(["systemctl", "show", "-p", name, "--value", unit])
    return (result.stdout or "").strip() if result.ok else ""


class ServiceKnob(Knob):
    kind = "service"
    scope = OWN  # a unit of the system being tuned, a container's own inside one
    grammar = Grammar("service", ("unit*", "state"),
                      ("service:irqbalance.service:active", "service:irqbalance.service:enabled"))
    order = 5  # stop a daemon before changing what it would fight over

    def __init__(self, tree, name):
        fields = self.fields_of(name)
        unit, aspect = fields["unit"], fields["state"]
        if not UNIT_NAME.match(unit) or aspect not in STATES:
            raise KnobError("service %r: expected UNIT:active or UNIT:enabled with a systemd unit name" % (name,))
        Knob.__init__(self, tree, name)
        self.unit, self.aspect = unit, aspect

    def validate(self, value):
        allowed = STATES[self.aspect][0]
        if value not in allowed:
            raise KnobError("service %s: %s must be %s, not %r" % (self.unit, self.aspect, " or ".join(allowed), value))
        if not self.tree.runs_systemd():
            raise KnobError("service %s: systemd is not running here" % self.unit)
        # is-active says "inactive" for a unit that does not exist at all; LoadState tells them apart.
        load_state = unit_property(self.tree, self.unit, "LoadState")
        if load_state != "loaded":
            raise KnobError("service %s: %s" % (self.unit, "is %s" % load_state if load_state not in (
                "", "not-found") else "no such unit"))
        return value

    def read(self):
        result = self.tree.run(["systemctl", STATES[self.aspect][1][0], self.unit])
        state = (result.stdout or "").strip().splitlines()
        state = state[0] if state else ""
        if self.aspect == "active":
            # failed, activating... count as not running, which a stop leaves it as
            return "active" if state in ("active", "reloading") else "inactive"
        if state in ("", "not-found") or "No such file" in result.stderr:
            return "not-found"
        # masked, static, indirect... are kept as they are, so a rollback can tell them apart
        return "enabled" if state == "alias" else state

    def write(self, value):
        verb = dict(STATES[self.aspect][2], masked="mask").get(value)
        if verb is None:
            raise OSError("systemctl cannot make %s %s again (it is set by its unit file)" % (self.unit, value))
        self.tree.run_checked(["systemctl", verb, self.unit])


ServiceKnob.persistence = NO_FILES
