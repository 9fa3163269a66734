# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Settings of one network interface: rings, channels, offloads, coalescing, MTU, queue length, RPS/XPS.

Identities are "nic:<interface>:<group>[:<parameter>]", for example
"nic:eth0:ring:rx", "nic:eth0:feature:generic-receive-offload", "nic:eth0:mtu",
"nic:eth0:rps" (every receive queue) or "nic:eth0:xps:tx-3" (one queue). ethtool is the only way to change the first four groups;
whatever the driver cannot change (a fixed feature, a ring above its maximum, a
driver that answers "Operation not supported") is refused before any change.

Persisted as one udev rule per interface, matched by its permanent MAC (or
its PCI path), that re-applies everything when the interface appears.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.hostperf.tuning.plugins.module_utils import ethtool
from ansible_collections.hostperf.tuning.plugins.module_utils.cpulist import (
    CpuListError, format_cpulist, format_cpumask, parse_cpulist, parse_cpumask)
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.pci import udev_properties
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import Knob, KnobError, Persistence
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.cpus import cpu_set, possible_cpu_count
from ansible_collections.hostperf.tuning.plugins.module_utils.names import InvalidName, interface

UDEV_RULES_FILE = "/etc/udev/rules.d/90-hostperf-tuning-net.rules"
ETHTOOL = "/usr/sbin/ethtool"
NET_DIR = "/sys/class/net"
# ethtool's short names for the offload groups -k prints by their long names.
FEATURE_ALIASES = {
    "rx": "rx-checksumming", "tx": "tx-checksumming", "sg": "scatter-gather", "tso": "tcp-segmentation-offload",
    "ufo": "udp-fragmentation-offload", "gso": "generic-segmentation-offload", "gro": "generic-receive-offload",
    "lro": "large-receive-offload", "rxvlan": "rx-vlan-offload", "txvlan": "tx-vlan-offload",
    "ntuple": "ntuple-filters", "rxhash": "receive-hashing",
}
RING_PARAMETERS = ("rx", "tx", "rx-mini", "rx-jumbo")
CHANNEL_PARAMETERS = ("combined", "rx", "tx", "other")
ON_OFF = {True: "on", False: "off", "on": "on", "off": "off", "true": "on", "false": "off", "yes": "on", "no": "off"}
# Queues are (re)made by a channel change, so channels come first, RPS/XPS last.
ORDER = {"channels": 20, "ring": 25, "mtu": 30, "txqueuelen": 30, "feature": 35, "coalesce": 40,
         "rps": 60, "xps": 60}
ETHTOOL_FLAGS = {"ring": ("-g", "-G", ethtool.parse_rings), "channels": ("-l", "-L", ethtool.parse_channels),
                 "coalesce": ("-c", "-C", ethtool.parse_coalesce), "feature": ("-k", "-K", ethtool.parse_features)}
SYSFS_ATTRIBUTES = {"mtu": "mtu", "txqueuelen": "tx_queue_len"}
DISRUPTIVE = {
    "ring": "changing ring sizes makes most drivers reset the link: expect a short outage",
    "channels": "changing channels makes most drivers reset the link and re-create queues and their IRQs",
    "mtu": "changing the MTU resets the link on most drivers, and both ends must agree",
}
_QUEUE = {"rps": re.compile(r"^rx-\d{1,5}$"), "xps": re.compile(r"^tx-\d{1,5}$")}
_COALESCE_NAME = re.compile(r"^[a-z][a-z-]{1,40}$")
_FEATURE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
UINT_MAX = 2 ** 32 - 1
ADDR_PERMANENT = "0"


class NicKnob(Knob):
    kind = "nic"

    def __init__(self, tree, name):
        device, dummy, rest = str(name).partition(":")
        group, dummy, parameter = rest.partition(":")
        try:
            interface(device)
        except InvalidName as exc:
            raise KnobError(str(exc))
        if group in SYSFS_ATTRIBUTES:
            bad = bool(parameter)
        elif group in ("ring", "channels"):
            bad = parameter not in (RING_PARAMETERS if group == "ring" else CHANNEL_PARAMETERS)
        elif group in _QUEUE:
            bad = bool(parameter) and not _QUEUE[group].match(parameter)
        elif group == "feature":
            parameter = FEATURE_ALIASES.get(parameter, parameter)
            bad = not _FEATURE_NAME.match(parameter)
        elif group == "coalesce":
            bad = not _COALESCE_NAME.match(parameter)
        else:
            raise KnobError("nic %s: unknown setting %r (known: %s)" % (
                device, rest, ", ".join(sorted(list(ORDER)))))
        if bad:
            raise KnobError("nic %s: %s needs a valid parameter, not %r" % (device, group, parameter))
        Knob.__init__(self, tree, ":".join(part for part in (device, group, parameter) if part))
        self.interface, self.group, self.parameter = device, group, parameter
        self.order = ORDER[group]
        self.base = "%s/%s" % (NET_DIR, device)
        self.label = "nic %s: %s" % (device, " ".join(part for part in (group, parameter) if part))

    # -- reading -------------------------------------------------------------
    def _exists(self):
        if not self.tree.exists(self.base + "/ifindex"):
            raise KnobError("nic %s: no such interface" % self.interface)

    def _ethtool(self):
        """What ethtool says about this knob's group; KnobError when the driver cannot tell."""
        flag, dummy, parse = ETHTOOL_FLAGS[self.group]
        answer = parse(self.tree.run(["ethtool", flag, self.interface]))
        if not answer.get("supported"):
            raise KnobError("%s: the driver does not support it (%s)" % (self.label, answer.get("error")))
        return answer

    def _entry(self):
        """The ethtool entry of this parameter: {"current", "max"} for rings and channels."""
        answer = self._ethtool()
        if self.group == "feature":
            feature = answer["features"].get(self.parameter)
            if feature is None:
                known = sorted(name for name, item in answer["features"].items() if not item["fixed"])
                raise KnobError("%s: no such feature on this interface (changeable: %s)"
                                % (self.label, ", ".join(known) or "none"))
            return feature
        if self.group == "coalesce":
            key = self.parameter.replace("-", "_")
            if key not in answer:
                key = key.replace("frames_", "frame_")
            if key not in answer:
                raise KnobError("%s: no such coalescing parameter (known: %s)" % (self.label, ", ".join(
                    sorted(name.replace("_", "-") for name in answer if name != "supported"))))
            if answer[key] is None:
                raise KnobError("%s: the driver does not support it (ethtool shows n/a)" % self.label)
            return answer[key]
        entry = answer.get(self.parameter.replace("-", "_"))
        if not entry or not entry.get("max"):
            raise KnobError("%s: the driver has no such %s (maximum n/a)" % (self.label, self.group))
        return entry

    def read(self):
        self._exists()
        if self.group in SYSFS_ATTRIBUTES:
            value = self.tree.read("%s/%s" % (self.base, SYSFS_ATTRIBUTES[self.group]))
            if value is None:
                raise KnobError("%s: cannot read it" % self.label)
            return value.strip()
        if self.group in _QUEUE:
            return _queue_value(dict((queue, format_cpulist(parse_cpumask(self.tree.read(path, default=""))))
                                     for queue, path in self._queue_paths()))
        entry = self._entry()
        if self.group == "feature":
            return "on" if entry["enabled"] else "off"
        if self.group == "coalesce":
            return ON_OFF[entry] if isinstance(entry, bool) else str(entry)
        return str(entry["current"])

    def _queue_paths(self):
        """[(queue, mask path)] of this knob's queue, or of every queue of its direction right now."""
        attribute = "rps_cpus" if self.group == "rps" else "xps_cpus"
        queues = [self.parameter] if self.parameter else [
            queue for queue in self.tree.listdir(self.base + "/queues") if _QUEUE[self.group].match(queue)]
        return [(queue, "%s/queues/%s/%s" % (self.base, queue, attribute)) for queue in queues]

    # -- validating ------------------------------------------------------------
    def validate(self, value):
        self._exists()
        if self.group in _QUEUE:
            paths = self._queue_paths()
            if not paths or not all(self.tree.exists(path) for dummy, path in paths):
                raise KnobError("%s: no such queue" % self.label)
            if "=" not in str(value):
                return format_cpulist(cpu_set(self.tree, self.label, value, allow_empty=True))
            queues = [queue for queue, dummy in paths]
            masks = _queue_map(value, queues)
            unknown = sorted(set(masks) - set(queues))
            if unknown:
                raise KnobError("%s: no such queue(s) %s" % (self.label, ", ".join(unknown)))
            return " ".join("%s=%s" % (queue, format_cpulist(cpu_set(
                self.tree, "%s %s" % (self.label, queue), masks[queue], allow_empty=True)))
                for queue in sorted(masks, key=_queue_index))
        if self.group == "mtu":
            low, high = self._mtu_range()
            return str(_integer(self.label, value, low, high))
        if self.group == "txqueuelen":
            return str(_integer(self.label, value, 0, UINT_MAX))
        entry = self._entry()
        if self.group == "feature":
            if entry["fixed"]:
                raise KnobError("%s: fixed by the driver (always %s)" % (self.label, ON_OFF[entry["enabled"]]))
            return _on_off(self.label, value)
        if self.group == "coalesce":
            if isinstance(entry, bool) or self.parameter.startswith(("adaptive-", "cqe-mode-")):
                return _on_off(self.label, value)
            return str(_integer(self.label, value, 0, UINT_MAX))
        return str(_amount(self.label, value, entry["max"], 0 if self.group == "channels" else 1))

    def _mtu_range(self):
        """The driver's MTU limits as ip -d shows them; the IP minimum and 64 KiB otherwise."""
        result = self.tree.run(["ip", "-d", "-j", "link", "show", "dev", self.interface])
        try:
            link = json.loads(result.stdout)[0] if result.ok else {}
        except (ValueError, IndexError, TypeError):
            link = {}
        return link.get("min_mtu", 68), link.get("max_mtu", 65535)

    # -- writing -------------------------------------------------------------
    def write(self, value):
        if self.group in SYSFS_ATTRIBUTES:
            self.tree.write("%s/%s" % (self.base, SYSFS_ATTRIBUTES[self.group]), value)
            return
        if self.group in _QUEUE:
            paths = self._queue_paths()
            masks = _queue_map(value, [queue for queue, dummy in paths])
            width = possible_cpu_count(self.tree)
            for queue, path in paths:
                if queue in masks:
                    self.tree.write(path, format_cpumask(_cpus(masks[queue]), width))
            return
        argv = ["ethtool", ETHTOOL_FLAGS[self.group][1], self.interface, self.parameter, value]
        result = self.tree.run(argv)
        if not result.ok:
            raise OSError("%s: %s" % (" ".join(argv), (result.stderr or result.stdout).strip() or "rc %d" % result.rc))

    def equal(self, first, second):
        if self.group in _QUEUE:
            queues = [queue for queue, dummy in self._queue_paths()]
            return _normal_map(first, queues) == _normal_map(second, queues)
        return str(first) == str(second)

    def disruption(self):
        return DISRUPTIVE.get(self.group)

    def coupled(self):
        """Switching one offload can switch others (tx off turns TSO off); channels re-create queues."""
        if self.group == "feature":
            answer = self._ethtool()["features"]
            return ["nic:%s:feature:%s" % (self.interface, name) for name in sorted(FEATURE_ALIASES.values())
                    if name != self.parameter and name in answer and not answer[name]["fixed"]]
        if self.group == "channels":
            return ["nic:%s:%s" % (self.interface, group) for group in sorted(_QUEUE)]
        return []

    def persist_data(self):
        """The udev match that finds this interface again after a reboot, whatever its name."""
        mac = self.tree.read(self.base + "/address")
        permanent = self.tree.read(self.base + "/addr_assign_type") == ADDR_PERMANENT
        ifindex = self.tree.read(self.base + "/ifindex")
        path = udev_properties(self.tree, "n", ifindex).get("ID_PATH") if ifindex else None
        if self.tree.exists(self.base + "/device") and mac and permanent:
            match = 'DRIVERS=="?*", ATTR{address}=="%s"' % mac
            # A queue's own event: its interface is a parent.
            return {"match": match, "queue_match": match.replace("ATTR{", "ATTRS{")}
        by_name = 'KERNELS=="%s"' % self.interface
        if path:
            return {"match": 'ENV{ID_PATH}=="%s"' % path.replace('"', ""), "queue_match": by_name}
        return {"match": 'KERNEL=="%s"' % self.interface, "queue_match": by_name,
                "warning": "no stable id: matched by interface name"}


def _integer(label, value, low, high):
    text = str(value).strip()
    if isinstance(value, bool) or not re.match(r"^\d+$", text):
        raise KnobError("%s: must be a non-negative integer, not %r" % (label, value))
    if not low <= int(text) <= high:
        raise KnobError("%s: %s is out of range %d..%d" % (label, text, low, high))
    return int(text)


def _on_off(label, value):
    key = value if isinstance(value, bool) else str(value).strip().lower()
    if key not in ON_OFF:
        raise KnobError("%s: must be on or off, not %r" % (label, value))
    return ON_OFF[key]


def amount_of(value, maximum):
    """An integer, "max", a percentage ("50%") or a fraction (0.5) of maximum, as a number; ValueError if none."""
    text = str(value).strip().lower()
    if text == "max":
        return maximum
    if text.endswith("%"):
        return int(maximum * float(text[:-1]) / 100)
    if "." in text:
        fraction = float(text)
        if not 0 < fraction <= 1:
            raise ValueError(text)
        return int(maximum * fraction)
    return int(text)


def _amount(label, value, maximum, low):
    if isinstance(value, bool):
        raise KnobError("%s: must be a number, max, a percentage or a fraction, not %r" % (label, value))
    try:
        number = amount_of(value, maximum)
    except ValueError:
        raise KnobError("%s: must be a number, max, a percentage or a fraction of the maximum, not %r"
                        % (label, value))
    if number > maximum:
        raise KnobError("%s: %d is above the driver's maximum %d" % (label, number, maximum))
    if number < low:
        raise KnobError("%s: %d is below the minimum %d" % (label, number, low))
    return number


def _queue_value(masks):
    """One CPU list when every queue has the same, else "rx-0=0-3 rx-1=4-7" (read back by _queue_map)."""
    if len(set(masks.values())) == 1:
        return list(masks.values())[0]
    return " ".join("%s=%s" % (queue, masks[queue]) for queue in sorted(masks, key=_queue_index))


def _queue_index(queue):
    index = queue.split("-")[1]
    return int(index) if index.isdigit() else -1


def _queue_map(value, queues):
    """{queue: CPU list} for a value from _queue_value, or one CPU list for every queue."""
    text = str(value)
    if "=" not in text:
        return dict((queue, text) for queue in queues)
    return dict(item.split("=", 1) for item in text.split())


def _normal_map(value, queues):
    return dict((queue, _cpus(cpus)) for queue, cpus in _queue_map(value, queues).items())


def _cpus(value):
    """A CPU list value as numbers; an unreadable one stays as it is, so it compares unequal."""
    try:
        return parse_cpulist(value)
    except CpuListError:
        return value


def render_udev(entries):
    """One rule per interface: sysfs attributes directly, ethtool calls grouped by kind of setting.

    RPS/XPS masks get rules of their own on the queues' add events, so queues
    that a channel change makes later get their masks too.
    """
    if not entries:
        return None
    by_interface = {}
    for knob, value, data in entries:
        by_interface.setdefault((knob.interface, data.get("match")), []).append((knob, value, data))
    lines = ["# Managed by hostperf.tuning: changes here are overwritten; roll back with hostperf.tuning.rollback."]
    for (name, match), settings in sorted(by_interface.items()):
        settings.sort(key=lambda item: (item[0].order, item[0].identity))
        assigns, calls, queue_rules = [], {}, []
        for knob, value, data in settings:
            if knob.group in SYSFS_ATTRIBUTES:
                assigns.append('ATTR{%s}="%s"' % (SYSFS_ATTRIBUTES[knob.group], value))
            elif knob.group in _QUEUE:
                prefix = "rx-" if knob.group == "rps" else "tx-"
                masks = _queue_map(value, [knob.parameter or prefix + "*"])
                for queue in sorted(masks, key=_queue_index):
                    queue_rules.append('ACTION=="add", SUBSYSTEM=="queues", KERNEL=="%s", %s, ATTR{%s_cpus}="%s"' % (
                        queue, data.get("queue_match"), knob.group, format_cpumask(_cpus(masks[queue]))))
            else:
                calls.setdefault(knob.group, []).append("%s %s" % (knob.parameter, value))
        for group in sorted(calls, key=ORDER.get):
            assigns.append('RUN+="%s %s $name %s"' % (ETHTOOL, ETHTOOL_FLAGS[group][1], " ".join(calls[group])))
        lines.append("# %s" % name)
        if assigns:
            lines.append('ACTION=="add", SUBSYSTEM=="net", %s, %s' % (match, ", ".join(assigns)))
        lines.extend(queue_rules)
    return "\n".join(lines) + "\n"


NicKnob.persistence = Persistence(UDEV_RULES_FILE, render_udev)
