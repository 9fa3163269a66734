# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse what ethtool prints: only it can tell rings, channels, coalescing and features.

A driver that answers "Operation not supported" is data, not an error: every
parser returns {"supported": False, "error": ...} for it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re


def _value(text):
    text = text.strip()
    if text in ("n/a", ""):
        return None
    if re.match(r"^-?\d+$", text):
        return int(text)
    if text in ("on", "off"):
        return text == "on"
    return text


def unsupported(result):
    """The per-setting answer for a failed ethtool call: its last line of complaint."""
    if result.missing:
        return {"supported": False, "error": "ethtool is not installed"}
    lines = [line.strip() for line in (result.stderr or result.stdout or "").splitlines() if line.strip()]
    return {"supported": False, "error": lines[-1] if lines else "ethtool exited with %d" % result.rc}


def _sections(text):
    """Split the maxima/current halves that -g and -l print."""
    maximum, current = {}, {}
    target = None
    for line in text.splitlines():
        if line.startswith("Pre-set maximums"):
            target = maximum
        elif line.startswith("Current hardware settings"):
            target = current
        elif target is not None and ":" in line:
            key, dummy, value = line.partition(":")
            target[key.strip().lower().replace(" ", "_")] = _value(value)
    return maximum, current


def _current_and_max(result, names, only_present):
    """{"supported": True, name: {"current", "max"}} for what -g and -l print."""
    maximum, current = _sections(result.stdout)
    answer = {"supported": True}
    for name in names:
        if not only_present or current.get(name) is not None or maximum.get(name) is not None:
            answer[name] = {"current": current.get(name), "max": maximum.get(name)}
    return answer, maximum, current


def parse_rings(result):
    if not result.ok:
        return unsupported(result)
    rings, maximum, current = _current_and_max(result, ("rx", "rx_mini", "rx_jumbo", "tx"), only_present=True)
    extras = {key: value for key, value in current.items() if key not in maximum and value is not None}
    if extras:
        rings["extra"] = extras
    return rings


def parse_channels(result):
    if not result.ok:
        return unsupported(result)
    return _current_and_max(result, ("rx", "tx", "other", "combined"), only_present=False)[0]


def parse_coalesce(result):
    if not result.ok:
        return unsupported(result)
    values = {"supported": True}
    for line in result.stdout.splitlines()[1:]:
        pair = re.match(r"^(Adaptive|CQE mode)\s+RX:\s*(\S+)\s+TX:\s*(\S+)", line)
        if pair:
            prefix = "adaptive" if pair.group(1) == "Adaptive" else "cqe_mode"
            values[prefix + "_rx"] = _value(pair.group(2))
            values[prefix + "_tx"] = _value(pair.group(3))
        elif ":" in line:
            key, dummy, value = line.partition(":")
            values[key.strip().replace("-", "_")] = _value(value)
    return values


def parse_features(result):
    """{feature: {"enabled", "fixed", "parent"}} from ethtool -k.

    An indented line is a sub-feature of the group above it. A group line
    such as tx-checksumming shows no [fixed] even when every sub-feature is
    fixed, so a group is fixed when all of its sub-features are.
    """
    if not result.ok:
        return unsupported(result)
    features, group = {}, None
    for line in result.stdout.splitlines()[1:]:
        match = re.match(r"^(\s*)([\w-]+):\s+(on|off)(.*)$", line)
        if not match:
            continue
        name = match.group(2)
        features[name] = {"enabled": match.group(3) == "on", "fixed": "[fixed]" in match.group(4),
                          "parent": group if match.group(1) else None}
        if not match.group(1):
            group = name
    for name, feature in features.items():
        children = [child for child in features.values() if child["parent"] == name]
        if children:
            feature["fixed"] = all(child["fixed"] for child in children)
    return {"supported": True, "features": features}


def parse_driver_info(result):
    if not result.ok:
        return unsupported(result)
    info = {"supported": True}
    for line in result.stdout.splitlines():
        key, dummy, value = line.partition(":")
        if key:
            info[key.strip().replace("-", "_")] = value.strip() or None
    return info
