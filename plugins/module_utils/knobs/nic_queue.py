# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""RPS and XPS: the CPUs that steer a NIC's receive and transmit queues, as sysfs masks per queue.

"nic:eth0:rps" is every receive queue, "nic:eth0:xps:tx-3" one queue. A value
is one CPU list for every queue, or "tx-0=0-3 tx-1=4-7" when they differ.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hostperf.tuning.plugins.module_utils.host.cpulist import (
    CpuListError, format_cpulist, format_cpumask, parse_cpulist, parse_cpumask)
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import KnobError, SWITCH_CHEAP
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.cpus import cpu_set, possible_cpu_count
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.nic import NicKnob
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.values import pairs_of, uniform_or_pairs
from ansible_collections.hostperf.tuning.plugins.module_utils.host import udev

QUEUES = {"rps": re.compile(r"^rx-\d{1,5}$"), "xps": re.compile(r"^tx-\d{1,5}$")}


class NicQueueKnob(NicKnob):
    switching = SWITCH_CHEAP
    settings = tuple(QUEUES)
    order = 60  # queues are (re)made by a channel change, so their masks come last

    @classmethod
    def parameter_of(cls, fields):
        if fields["parameter"] and not QUEUES[fields["setting"]].match(fields["parameter"]):
            raise KnobError("nic %s: %s needs a valid parameter, not %r"
                            % (fields["interface"], fields["setting"], fields["parameter"]))
        return fields["parameter"]

    def _paths(self):
        """[(queue, mask path)] of this knob's queue, or of every queue of its direction right now."""
        attribute = "%s_cpus" % self.setting
        queues = [self.parameter] if self.parameter else [
            queue for queue in self.tree.listdir(self.base + "/queues") if QUEUES[self.setting].match(queue)]
        return [(queue, "%s/queues/%s/%s" % (self.base, queue, attribute)) for queue in queues]

    def read(self):
        self._exists()
        masks = dict((queue, format_cpulist(parse_cpumask(self.tree.read(path, default=""))))
                     for queue, path in self._paths())
        return uniform_or_pairs(masks, sorted(masks, key=_queue_index))

    def validate(self, value):
        self._exists()
        paths = self._paths()
        if not paths or not all(self.tree.exists(path) for dummy, path in paths):
            raise KnobError("%s: no such queue" % self.label)
        if "=" not in str(value):
            return format_cpulist(cpu_set(self.tree, self.label, value, allow_empty=True))
        queues = [queue for queue, dummy in paths]
        masks = pairs_of(value, queues, self.label)
        unknown = sorted(set(masks) - set(queues))
        if unknown:
            raise KnobError("%s: no such queue(s) %s" % (self.label, ", ".join(unknown)))
        if len(masks) != len(queues):
            raise KnobError("%s: %s names %d of %d queues; give each queue, one CPU list for all, or set one queue "
                            "as nic:%s:%s:%s" % (self.label, value, len(masks), len(queues), self.interface,
                                                 self.setting, sorted(set(queues) - set(masks))[0]))
        return " ".join("%s=%s" % (queue, format_cpulist(cpu_set(
            self.tree, "%s %s" % (self.label, queue), masks[queue], allow_empty=True)))
            for queue in sorted(masks, key=_queue_index))

    def write(self, value):
        paths = self._paths()
        masks = pairs_of(value, [queue for queue, dummy in paths])
        width = possible_cpu_count(self.tree)
        for queue, path in paths:
            if queue in masks:
                self.tree.write(path, format_cpumask(_cpus(masks[queue]), width))

    def equal(self, first, second):
        queues = [queue for queue, dummy in self._paths()]
        return _normal_map(first, queues) == _normal_map(second, queues)

    def udev(self, value, data):
        prefix = "rx-" if self.setting == "rps" else "tx-"
        masks = pairs_of(value, [self.parameter or prefix + "*"])
        return [], None, ['ACTION=="add", SUBSYSTEM=="queues", KERNEL=="%s", %s, ATTR{%s_cpus}="%s"' % (
            prefix + "*" if queue == prefix + "*" else udev.literal(queue, self.identity, spaces=False),
            data.get("queue_match"), self.setting,
            format_cpumask(_cpus(masks[queue])))
            for queue in sorted(masks, key=_queue_index)]


def _queue_index(queue):
    index = queue.split("-")[1]
    return int(index) if index.isdigit() else -1


def _normal_map(value, queues):
    return dict((queue, _cpus(cpus)) for queue, cpus in pairs_of(value, queues).items())


def _cpus(value):
    """A CPU list value as numbers; an unreadable one stays as it is, so it compares unequal."""
    try:
        return parse_cpulist(value)
    except CpuListError:
        return value
