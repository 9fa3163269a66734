# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""NIC settings only ethtool can change: sizes (rings, channels) and switches and numbers (features, coalescing).

Whatever the driver cannot change (a fixed feature, a ring above its
maximum, a coalescing parameter shown as n/a, a driver that answers
"Operation not supported") is refused before any change.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import re

from ansible_collections.hostperf.tuning.plugins.module_utils.host import ethtool
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import KnobError
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.nic import NicKnob
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.values import ON_OFF, non_negative_integer, on_off
from ansible_collections.hostperf.tuning.plugins.module_utils.host import udev

ETHTOOL = "/usr/sbin/ethtool"
# ethtool's short names for the offload groups -k prints by their long names.
FEATURE_ALIASES = {
    "rx": "rx-checksumming", "tx": "tx-checksumming", "sg": "scatter-gather", "tso": "tcp-segmentation-offload",
    "ufo": "udp-fragmentation-offload", "gso": "generic-segmentation-offload", "gro": "generic-receive-offload",
    "lro": "large-receive-offload", "rxvlan": "rx-vlan-offload", "txvlan": "tx-vlan-offload",
    "ntuple": "ntuple-filters", "rxhash": "receive-hashing",
}
PARAMETERS = {"rings": ("rx", "tx", "rx-mini", "rx-jumbo"), "channels": ("combined", "rx", "tx", "other")}
# setting -> (query flag, set flag, parser of the query's answer)
FLAGS = {"rings": ("-g", "-G", ethtool.parse_rings), "channels": ("-l", "-L", ethtool.parse_channels),
         "coalesce": ("-c", "-C", ethtool.parse_coalesce), "features": ("-k", "-K", ethtool.parse_features)}
_NAMES = {"features": re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$"), "coalesce": re.compile(r"^[a-z][a-z-]{1,40}$")}
UINT_MAX = 2 ** 32 - 1


class NicEthtoolKnob(NicKnob):
    """What both ethtool mechanisms share: asking the driver, and setting through ethtool."""

    def _ethtool(self):
        """What ethtool says about this knob's setting; KnobError when the driver cannot tell."""
        flag, dummy, parse = FLAGS[self.setting]
        answer = parse(self.tree.run(["ethtool", flag, self.interface]))
        if not answer.get("supported"):
            raise KnobError("%s: the driver does not support it (%s)" % (self.label, answer.get("error")))
        return answer

    def write(self, value):
        self.tree.run_checked(["ethtool", FLAGS[self.setting][1], self.interface, self.parameter, value])

    def udev(self, value, data):
        words = [udev.literal(word, self.identity, spaces=False) for word in (self.parameter, value)]
        return [], (ETHTOOL, FLAGS[self.setting][1], " ".join(words)), []


class NicSizeKnob(NicEthtoolKnob):
    """Rings and channels: a count up to the driver's maximum."""

    settings = ("channels", "rings")

    @classmethod
    def parameter_of(cls, fields):
        if fields["parameter"] not in PARAMETERS[fields["setting"]]:
            raise KnobError("nic %s: %s needs a valid parameter, not %r"
                            % (fields["interface"], fields["setting"], fields["parameter"]))
        return fields["parameter"]

    def __init__(self, tree, device, setting, parameter):
        NicEthtoolKnob.__init__(self, tree, device, setting, parameter)
        # Queues are (re)made by a channel change, so channels come first.
        self.order = 20 if setting == "channels" else 25
        self.disruptive = ("changing channels makes most drivers reset the link and re-create queues and their IRQs"
                           if setting == "channels" else
                           "changing ring sizes makes most drivers reset the link: expect a short outage")

    def _entry(self):
        """{"current", "max"} of this parameter."""
        self._exists()
        entry = self._ethtool().get(self.parameter.replace("-", "_"))
        if not entry or not entry.get("max"):
            raise KnobError("%s: the driver has no such %s (maximum n/a)" % (self.label, self.setting))
        return entry

    def read(self):
        return str(self._entry()["current"])

    def validate(self, value):
        maximum = self._entry()["max"]
        low = 0 if self.setting == "channels" else 1
        if isinstance(value, bool):
            raise KnobError("%s: must be a number, max, a percentage or a fraction, not %r" % (self.label, value))
        try:
            number = amount_of(value, maximum)
        except ValueError:
            raise KnobError("%s: must be a number, max, a percentage or a fraction of the maximum, not %r"
                            % (self.label, value))
        if number > maximum:
            raise KnobError("%s: %d is above the driver's maximum %d" % (self.label, number, maximum))
        if number < low:
            raise KnobError("%s: %d is below the minimum %d" % (self.label, number, low))
        return str(number)

    def coupled(self):
        """Channels re-create queues, and with them their RPS/XPS masks."""
        if self.setting == "channels":
            return ["nic:%s:%s" % (self.interface, setting) for setting in ("rps", "xps")]
        return []


class NicSwitchKnob(NicEthtoolKnob):
    """Offload features (on or off) and coalescing parameters (a number, or on/off for adaptive modes)."""

    settings = ("coalesce", "features")

    @classmethod
    def parameter_of(cls, fields):
        parameter = fields["parameter"]
        if fields["setting"] == "features":
            parameter = FEATURE_ALIASES.get(parameter, parameter)
        if not _NAMES[fields["setting"]].match(parameter):
            raise KnobError("nic %s: %s needs a valid parameter, not %r"
                            % (fields["interface"], fields["setting"], parameter))
        return parameter

    def __init__(self, tree, device, setting, parameter):
        NicEthtoolKnob.__init__(self, tree, device, setting, parameter)
        self.order = 35 if setting == "features" else 40

    def _entry(self):
        """The feature's {"enabled", "fixed"}, or the coalescing parameter's value."""
        self._exists()
        answer = self._ethtool()
        if self.setting == "features":
            feature = answer["features"].get(self.parameter)
            if feature is None:
                known = sorted(name for name, item in answer["features"].items() if not item["fixed"])
                raise KnobError("%s: no such feature on this interface (changeable: %s)"
                                % (self.label, ", ".join(known) or "none"))
            return feature
        key = self.parameter.replace("-", "_")
        if key not in answer:
            key = key.replace("frames_", "frame_")
        if key not in answer:
            raise KnobError("%s: no such coalescing parameter (known: %s)" % (self.label, ", ".join(
                sorted(name.replace("_", "-") for name in answer if name != "supported"))))
        if answer[key] is None:
            raise KnobError("%s: the driver does not support it (ethtool shows n/a)" % self.label)
        return answer[key]

    def read(self):
        entry = self._entry()
        if self.setting == "features":
            return "on" if entry["enabled"] else "off"
        return ON_OFF[entry] if isinstance(entry, bool) else str(entry)

    def validate(self, value):
        entry = self._entry()
        if self.setting == "features":
            if entry["fixed"]:
                raise KnobError("%s: fixed by the driver (always %s)" % (self.label, ON_OFF[entry["enabled"]]))
            return on_off(self.label, value)
        if isinstance(entry, bool) or self.parameter.startswith(("adaptive-", "cqe-mode-")):
            return on_off(self.label, value)
        return str(non_negative_integer(self.label, value, 0, UINT_MAX))

    def coupled(self):
        """Switching one offload can switch others (tx off turns TSO off)."""
        if self.setting != "features":
            return []
        answer = self._ethtool()["features"]
        return ["nic:%s:features:%s" % (self.interface, name) for name in sorted(FEATURE_ALIASES.values())
                if name != self.parameter and name in answer and not answer[name]["fixed"]]


def amount_of(value, maximum):
    """An integer, "max", a percentage ("50%") or a fraction (0.5) of maximum, as a number; ValueError if none."""
    text = str(value).strip().lower()
    if text == "max":
        return maximum
    if text.endswith("%") or "." in text:
        share = float(text[:-1]) / 100 if text.endswith("%") else float(text)
        if not math.isfinite(share) or ("." in text and not text.endswith("%") and not 0 < share <= 1):
            raise ValueError(text)
        return int(maximum * share)
    if not re.match(r"^-?[0-9]+$", text):
        raise ValueError(text)
    return int(text)
