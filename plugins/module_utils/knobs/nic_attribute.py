# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""NIC settings that are one sysfs attribute of the interface: the MTU and the transmit queue length."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import KnobError, SWITCH_CHEAP
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.nic import NicKnob
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.values import non_negative_integer
from ansible_collections.hostperf.tuning.plugins.module_utils.host import udev

ATTRIBUTES = {"mtu": "mtu", "txqueuelen": "tx_queue_len"}
UINT_MAX = 2 ** 32 - 1


class NicAttributeKnob(NicKnob):
    switching = SWITCH_CHEAP
    settings = tuple(ATTRIBUTES)
    order = 30

    def __init__(self, tree, device, setting, parameter):
        NicKnob.__init__(self, tree, device, setting, parameter)
        self.path = "%s/%s" % (self.base, ATTRIBUTES[setting])
        if setting == "mtu":
            self.disruptive = "changing the MTU resets the link on most drivers, and both ends must agree"

    def read(self):
        self._exists()
        value = self.tree.read(self.path)
        if value is None:
            raise KnobError("%s: cannot read it" % self.label)
        return value.strip()

    def validate(self, value):
        self._exists()
        low, high = self._mtu_range() if self.setting == "mtu" else (0, UINT_MAX)
        return str(non_negative_integer(self.label, value, low, high))

    def _mtu_range(self):
        """The driver's MTU limits as ip -d shows them; the IP minimum and 64 KiB otherwise."""
        result = self.tree.run(["ip", "-d", "-j", "link", "show", "dev", self.interface])
        try:
            link = json.loads(result.stdout)[0] if result.ok else {}
        except (ValueError, IndexError, TypeError):
            link = {}
        return link.get("min_mtu", 68), link.get("max_mtu", 65535)

    def write(self, value):
        self.tree.write(self.path, value)

    def udev(self, value, data):
        return ['ATTR{%s}="%s"' % (ATTRIBUTES[self.setting], udev.literal(value, self.identity, spaces=False))], None, []
