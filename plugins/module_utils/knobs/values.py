# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How knobs write values that hold one value per part (per queue, per cpufreq policy, per thread), and the
checks of simple values, so every knob spells and parses them the same way.

A value is one word when every part has the same, else "part=value part=value".
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import KnobError

ON_OFF = {True: "on", False: "off", "on": "on", "off": "off", "true": "on", "false": "off", "yes": "on", "no": "off"}


def uniform_or_pairs(values, order=None):
    """One value when every part has the same, else "part=value ..." in order (a list of parts, or sorted)."""
    if len(set(values.values())) == 1:
        return list(values.values())[0]
    return " ".join("%s=%s" % (part, values[part]) for part in (order if order is not None else sorted(values)))


def pairs_of(value, parts, label="value"):
    """{part: value} of a value from uniform_or_pairs; one value applies to each of parts.

    KnobError, naming label, for an item without "=" or a part named twice.
    """
    text = str(value)
    if "=" not in text:
        return dict((part, text) for part in parts)
    pairs = [item.split("=", 1) for item in text.split()]
    named = [pair[0] for pair in pairs]
    if any(len(pair) != 2 for pair in pairs) or len(set(named)) != len(named):
        raise KnobError("%s: %r must be one value, or part=value for each part once" % (label, text))
    return dict(pairs)


def non_negative_integer(label, value, low, high):
    text = str(value).strip()
    if isinstance(value, bool) or not re.match(r"^\d+$", text):
        raise KnobError("%s: must be a non-negative integer, not %r" % (label, value))
    if not low <= int(text) <= high:
        raise KnobError("%s: %s is out of range %d..%d" % (label, text, low, high))
    return int(text)


def on_off(label, value):
    key = value if isinstance(value, bool) else str(value).strip().lower()
    if key not in ON_OFF:
        raise KnobError("%s: must be on or off, not %r" % (label, value))
    return ON_OFF[key]
