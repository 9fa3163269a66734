# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Block queue settings of one disk, persisted as a udev rule matched by a stable id."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hostperf.tuning.plugins.module_utils.detect.block import disk_attribute, tag_depth
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.pci import udev_properties
from ansible_collections.hostperf.tuning.plugins.module_utils.host.names import InvalidName, block_device
from ansible_collections.hostperf.tuning.plugins.module_utils.host.sysfs import parse_choice
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import HEADER, Knob, KnobError, Persistence, SWITCH_CHEAP
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.identity import Grammar
from ansible_collections.hostperf.tuning.plugins.module_utils.host import udev

UDEV_RULES_FILE = "/etc/udev/rules.d/90-hostperf-tuning-block.rules"
# attribute -> (lowest, highest) for integers, or None for the scheduler
ATTRIBUTES = {
    "scheduler": None,
    "nr_requests": (4, 65536),
    "read_ahead_kb": (0, 2 ** 31 - 1),
    "rq_affinity": (0, 2),
    "nomerges": (0, 2),
    "max_sectors_kb": (4, None),
}
# Schedulers built as modules are offered only once loaded (Debian: bfq, kyber).
SCHEDULER_MODULES = {"bfq": "bfq", "kyber": "kyber_iosched", "mq-deadline": "mq_deadline"}
# blk-mq's depth limit for a scheduler's own tags (MAX_SCHED_RQ, block/blk-mq.h); without a scheduler the
# limit is the hardware tag depth, which each hardware queue shows in mq/N/nr_tags.
MAX_SCHED_RQ = 2048
# A scheduler switch reallocates tags and resets nr_requests: scheduler first.
ORDER = {"scheduler": 10}
# Stable ids udev can match, best first; sdX names move between boots.
_UDEV_IDS = ("ID_WWN", "ID_SERIAL", "ID_PATH")


class BlockQueueKnob(Knob):
    switching = SWITCH_CHEAP
    kind = "block"
    grammar = Grammar("block", ("device", "attribute"), ("block:nvme0n1:scheduler", "block:sda:read_ahead_kb"))

    def __init__(self, tree, name):
        fields = self.fields_of(name)
        device, attribute = fields["device"], fields["attribute"]
        try:
            block_device(device)
        except InvalidName as exc:
            raise KnobError(str(exc))
        if attribute not in ATTRIBUTES:
            raise KnobError("block %s: unknown queue setting %r (known: %s)"
                            % (device, attribute, ", ".join(sorted(ATTRIBUTES))))
        Knob.__init__(self, tree, name)
        self.device = device
        self.attribute = attribute
        self.order = ORDER.get(attribute, 50)
        self.path = "/sys/block/%s/queue/%s" % (device, attribute)

    def validate(self, value):
        if not self.tree.isdir("/sys/block/%s/queue" % self.device):
            raise KnobError("block %s: no such disk (not in /sys/block)" % self.device)
        if self.attribute == "scheduler":
            desired = str(value).strip()
            if desired not in self._offered() and not self._loadable(desired):
                raise KnobError("block %s: scheduler %r is not offered (offered: %s) and no module provides it"
                                % (self.device, desired, ", ".join(self._offered()) or "none"))
            return desired
        text = str(value).strip()
        if isinstance(value, bool) or not re.match(r"^[0-9]+$", text):
            raise KnobError("block %s: %s must be a non-negative integer, not %r" % (self.device, self.attribute, value))
        low, high = ATTRIBUTES[self.attribute]
        if self.attribute == "max_sectors_kb":
            high = self.tree.read_int("/sys/block/%s/queue/max_hw_sectors_kb" % self.device)
        if int(text) < low or (high is not None and int(text) > high):
            raise KnobError("block %s: %s=%s is out of range %d..%s" % (self.device, self.attribute, text, low, high))
        return str(int(text))

    def validate_with(self, value, request):
        if self.attribute != "nr_requests":
            return
        scheduler = request.get("block:%s:scheduler" % self.device)
        if scheduler is None:
            scheduler = parse_choice(self.tree.read("/sys/block/%s/queue/scheduler" % self.device))[0] or "none"
        limit, why = nr_requests_limit(scheduler, tag_depth(self.tree, self.device))
        if limit is not None and int(value) > limit:
            raise KnobError("block %s: nr_requests=%s is above what the kernel takes for this queue: %d, %s "
                            "(the collection's own range is %d..%d)"
                            % ((self.device, value, limit, why) + ATTRIBUTES["nr_requests"]))

    def _offered(self):
        return parse_choice(self.tree.read(self.path))[1]

    def _loadable(self, scheduler):
        module = SCHEDULER_MODULES.get(scheduler)
        return bool(module) and self.tree.run(["modprobe", "--dry-run", module]).ok

    def requires(self, value):
        if self.attribute == "scheduler" and value not in self._offered():
            return {"module:" + SCHEDULER_MODULES[value]: "loaded"}
        return {}

    def read(self):
        text = self.tree.read(self.path)
        if text is None:
            raise KnobError("block %s: cannot read %s (device gone?)" % (self.device, self.attribute))
        if self.attribute == "scheduler":
            current, offered = parse_choice(text)
            return current or ("none" if offered == ["none"] else text.strip())
        return text.strip()

    def write(self, value):
        self.tree.write(self.path, value)

    def coupled(self):
        if self.attribute == "scheduler":
            return ["block:%s:nr_requests" % self.device]
        return []

    def persist_data(self):
        """The udev match that finds this disk again after a reboot, whatever its name."""
        dev = self.tree.read("/sys/block/%s/dev" % self.device)
        props = udev_properties(self.tree, "b", dev) if dev else {}
        # An id udev would not read literally (a serial with a quote, a newline or a *) is passed over, not escaped.
        for key in _UDEV_IDS:
            if props.get(key) and udev.is_literal(props[key]):
                return {"match": 'ENV{%s}=="%s"' % (key, props[key])}
        for attr in ("wwid", "serial"):
            value, level = disk_attribute(self.tree, "/sys/block/" + self.device, attr)
            if value and udev.is_literal(value):
                return {"match": '%s{%s}=="%s"' % (level, attr, value)}
        return {"match": 'KERNEL=="%s"' % udev.literal(self.device, "disk name", spaces=False),
                "warning": "no stable id: matched by kernel name"}


def nr_requests_limit(scheduler, tags):
    """(the highest nr_requests the kernel takes with scheduler active, why), or (None, why) when unknown."""
    if scheduler and scheduler != "none":
        return MAX_SCHED_RQ, "blk-mq's limit with a scheduler (%s) active" % scheduler
    if tags:
        return tags, "the device's hardware tag depth (mq/*/nr_tags) with no scheduler"
    return None, "the hardware tag depth is not shown; the kernel decides"


def render_udev(entries):
    if not entries:
        return None
    by_device = {}
    for knob, value, data in entries:
        by_device.setdefault((knob.device, data.get("match")), []).append((knob, value))
    lines = [HEADER.rstrip("\n")]
    for (device, match), settings in sorted(by_device.items()):
        settings.sort(key=lambda item: (item[0].order, item[0].attribute))
        assigns = ", ".join('ATTR{queue/%s}="%s"' % (knob.attribute, udev.literal(value, knob.identity, spaces=False))
                            for knob, value in settings)
        lines.append("# %s" % device)
        lines.append('ACTION=="add|change", SUBSYSTEM=="block", ENV{DEVTYPE}=="disk", %s, %s' % (match, assigns))
    return "\n".join(lines) + "\n"


BlockQueueKnob.persistence = Persistence(UDEV_RULES_FILE, render_udev)
