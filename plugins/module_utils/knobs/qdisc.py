# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An interface's root qdisc as the kernel attaches it ("qdisc:eth0": fq), so live is what a boot gives.

Never asked for by itself: net.core.default_qdisc requires one for every
interface whose kernel-attached root runs another qdisc, and a rollback puts
each back. Nothing to persist: at boot the root follows the persisted sysctl.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.hostperf.tuning.plugins.module_utils.host import tc
from ansible_collections.hostperf.tuning.plugins.module_utils.host.names import InvalidName, interface
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import NO_FILES, Knob, KnobError, SWITCH_CHEAP
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.identity import Grammar
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.scope import NET

DEFAULT_QDISC = "sysctl:net.core.default_qdisc"
WHY_NOT = {
    tc.NOOP: "the link is down: it gets net.core.default_qdisc when it comes up",
    tc.NOQUEUE: "the interface has no transmit queue (loopback, veth, bridge): no qdisc applies",
    tc.UNKNOWN: "tc shows no single root for it",
}


def why_not_reattached(state):
    """Why a root that reads as state is left as it is, or None when re-attaching it can be undone exactly."""
    if state in WHY_NOT:
        return WHY_NOT[state]
    if state.startswith(tc.CONFIGURED):
        return "its root was configured by someone (%s), not attached by the kernel: it is theirs" % (
            state[len(tc.CONFIGURED) + 2:])
    try:
        tc.qdisc_name(state)
    except ValueError:
        return "its queues run different qdiscs (%s): a re-attach could not be undone exactly" % state
    return None


class RootQdiscKnob(Knob):
    switching = SWITCH_CHEAP
    kind = "qdisc"
    scope = NET
    grammar = Grammar("qdisc", ("interface",), ("qdisc:eth0",))
    order = 55  # after the sysctl: a root is attached with the default of the moment
    persistence = NO_FILES

    def __init__(self, tree, name):
        try:
            Knob.__init__(self, tree, interface(self.fields_of(name)["interface"]))
        except InvalidName as exc:
            raise KnobError(str(exc))

    def read(self):
        if not os.path.isdir(self.tree.path("/sys/class/net/" + self.name)):
            raise KnobError("qdisc:%s: no such interface" % self.name)
        return tc.roots(self.tree).get(self.name, tc.UNKNOWN)

    def validate(self, value):
        try:
            tc.qdisc_name(value)
        except ValueError as exc:
            raise KnobError("qdisc:%s: %s" % (self.name, exc))
        try:
            current = self.read()
        except OSError as exc:
            raise KnobError("qdisc:%s: %s" % (self.name, exc))
        why = why_not_reattached(current)
        if why and current != value:
            raise KnobError("qdisc:%s: %s" % (self.name, why))
        return value

    def validate_with(self, value, request):
        default = request.get(DEFAULT_QDISC)
        if default is None:
            default = (self.tree.read(tc.DEFAULT_SYSCTL) or "").strip()
        if value != default:
            raise KnobError("qdisc:%s: %s: a root qdisc is what net.core.default_qdisc names (%s), here and at "
                            "every boot; set that instead" % (self.name, value, default))

    def write(self, value):
        try:
            tc.reattach(self.tree, self.name, value)
        except ValueError as exc:
            raise KnobError("qdisc:%s: %s" % (self.name, exc))


def reattach_requests(tree, value):
    """{qdisc identity: value} for every interface whose kernel-attached root runs another qdisc."""
    return dict(("qdisc:" + device, value) for device, state in sorted(tc.roots(tree).items())
                if state != value and why_not_reattached(state) is None)
