# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nic kind: one grammar and one udev rule per interface over four mechanisms.

Identities are "nic:<interface>:<setting>[:<parameter>]", the settings named
as tune's nic option names them: "nic:eth0:rings:rx", "nic:eth0:channels:combined",
"nic:eth0:features:generic-receive-offload", "nic:eth0:coalesce:rx-usecs",
"nic:eth0:mtu", "nic:eth0:txqueuelen", "nic:eth0:rps" (every receive queue) or
"nic:eth0:xps:tx-3" (one queue). Each setting belongs to one mechanism, a class
of its own: sysfs attributes (nic_attribute), RPS/XPS masks (nic_queue),
ethtool sizes and ethtool switches (nic_ethtool).

Persisted as one udev rule per interface, matched by its permanent MAC (or
its PCI path), that re-applies everything when the interface appears.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostperf.tuning.plugins.module_utils.detect.pci import udev_properties
from ansible_collections.hostperf.tuning.plugins.module_utils.host.names import InvalidName, interface
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import HEADER, Knob, KnobError, Persistence
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.identity import Grammar
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.scope import NET
from ansible_collections.hostperf.tuning.plugins.module_utils.host import udev

UDEV_RULES_FILE = "/etc/udev/rules.d/90-hostperf-tuning-net.rules"
# What a udev match reads as something else than itself: quotes and escapes, glob and alternation, substitutions.
NET_DIR = "/sys/class/net"
ADDR_PERMANENT = "0"


class NicKnob(Knob):
    """What every NIC setting shares: the interface, its udev match, and the choice of mechanism by setting."""

    kind = "nic"
    scope = NET  # an interface lives in one network namespace
    grammar = Grammar("nic", ("interface", "setting", "parameter?"), (
        "nic:eth0:rings:rx", "nic:eth0:channels:combined", "nic:eth0:features:generic-receive-offload",
        "nic:eth0:coalesce:rx-usecs", "nic:eth0:mtu", "nic:eth0:txqueuelen", "nic:eth0:rps", "nic:eth0:xps:tx-3"))
    mechanisms = {}  # setting -> class, filled by each mechanism's class
    settings = ()
    disruptive = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        NicKnob.mechanisms.update((setting, cls) for setting in cls.settings)

    @classmethod
    def create(cls, tree, name):
        fields = cls.fields_of(name)
        mechanism = NicKnob.mechanisms.get(fields["setting"])
        try:
            interface(fields["interface"])
        except InvalidName as exc:
            raise KnobError(str(exc))
        if not udev.is_literal(fields["interface"], spaces=False):
            # The kernel allows such names; a udev rule would match them as a pattern or run what follows a quote.
            raise KnobError("interface %r: a udev rule cannot match this name literally (it holds one of "
                            "\" \\ * ? [ ] | $ { } %% or a non-ASCII or control character)" % (fields["interface"],))
        if mechanism is None:
            raise KnobError("nic %s: unknown setting %r (known: %s)" % (
                fields["interface"], name.partition(":")[2], ", ".join(sorted(NicKnob.mechanisms))))
        return mechanism(tree, fields["interface"], fields["setting"], mechanism.parameter_of(fields))

    @classmethod
    def parameter_of(cls, fields):
        """The canonical parameter of fields, or KnobError; a setting without parameters takes none."""
        if fields["parameter"]:
            raise KnobError("nic %s: %s takes no parameter, not %r"
                            % (fields["interface"], fields["setting"], fields["parameter"]))
        return ""

    def __init__(self, tree, device, setting, parameter):
        Knob.__init__(self, tree, ":".join(part for part in (device, setting, parameter) if part))
        self.interface, self.setting, self.parameter = device, setting, parameter
        self.base = "%s/%s" % (NET_DIR, device)
        self.label = "nic %s: %s" % (device, " ".join(part for part in (setting, parameter) if part))

    def _exists(self):
        if not self.tree.exists(self.base + "/ifindex"):
            raise KnobError("nic %s: no such interface" % self.interface)

    def equal(self, first, second):
        return str(first) == str(second)

    def disruption(self):
        return self.disruptive

    def udev(self, value, data):
        """(ATTR assignments, {ethtool flag: "parameter value"}, queue rules) that re-apply value on add."""
        raise NotImplementedError

    def persist_data(self):
        """The udev match that finds this interface again after a reboot, whatever its name."""
        mac = self.tree.read(self.base + "/address")
        permanent = self.tree.read(self.base + "/addr_assign_type") == ADDR_PERMANENT
        ifindex = self.tree.read(self.base + "/ifindex")
        path = udev_properties(self.tree, "n", ifindex).get("ID_PATH") if ifindex else None
        if self.tree.exists(self.base + "/device") and mac and permanent:
            match = 'DRIVERS=="?*", ATTR{address}=="%s"' % udev.literal(mac, "MAC address", spaces=False)
            # A queue's own event: its interface is a parent.
            return {"match": match, "queue_match": match.replace("ATTR{", "ATTRS{")}
        by_name = 'KERNELS=="%s"' % self.interface
        if path and udev.is_literal(path, spaces=False):
            return {"match": 'ENV{ID_PATH}=="%s"' % path, "queue_match": by_name}
        return {"match": 'KERNEL=="%s"' % self.interface, "queue_match": by_name,
                "warning": "no stable id: matched by interface name"}


def render_udev(entries):
    """One rule per interface: sysfs attributes directly, ethtool calls grouped by flag, queue rules of their own.

    RPS/XPS masks get rules on the queues' add events, so queues that a
    channel change makes later get their masks too.
    """
    if not entries:
        return None
    by_interface = {}
    for knob, value, data in entries:
        by_interface.setdefault((knob.interface, data.get("match")), []).append((knob, value, data))
    lines = [HEADER.rstrip("\n")]
    for (name, match), settings in sorted(by_interface.items()):
        settings.sort(key=lambda item: (item[0].order, item[0].identity))
        assigns, calls, queue_rules = [], [], []
        for knob, value, data in settings:
            assign, call, rules = knob.udev(value, data)
            assigns.extend(assign)
            queue_rules.extend(rules)
            if call:
                calls.append((knob.order, call))
        grouped = {}
        for order, (command, flag, argument) in sorted(calls, key=lambda item: item[0]):
            grouped.setdefault((order, command, flag), []).append(argument)
        for (order, command, flag), arguments in sorted(grouped.items()):
            assigns.append('RUN+="%s %s $name %s"' % (command, flag, " ".join(arguments)))
        lines.append("# %s" % name)
        if assigns:
            lines.append('ACTION=="add", SUBSYSTEM=="net", %s, %s' % (match, ", ".join(assigns)))
        lines.extend(queue_rules)
    return "\n".join(lines) + "\n"


NicKnob.persistence = Persistence(UDEV_RULES_FILE, render_udev)
