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
# attribute -> (lowest, highest) for integers, or None for the scheduler and wbt_lat_usec
ATTRIBUTES = {
    "scheduler": None,
    "nr_requests": (4, 65536),
    "read_ahead_kb": (0, 2 ** 31 - 1),
    "rq_affinity": (0, 2),
    "nomerges": (0, 2),
    "max_sectors_kb": (4, None),
    "wbt_lat_usec": None,
}
# Journaled, never set: once written, wbt_lat_usec is the operator's for good (writing -1 gives the default latency
# but not the default state, and bfq then no longer turns throttling off), so no rollback could be exact.
JOURNALED_ONLY = {"wbt_lat_usec": "once written it stays the operator's (bfq no longer turns it off) and no write "
                                  "gives the kernel's default back; a scheduler switch journals it"}
# The elevator's own tunables (queue/iosched/NAME), each scheduler's as kernel 6.18 has them. They exist only while
# that scheduler is active, and a switch throws them away: switching back gives the defaults, not what was set.
IOSCHED = {
    "mq-deadline": ("async_depth", "fifo_batch", "front_merges", "prio_aging_expire", "read_expire", "write_expire",
                    "writes_starved"),
    "bfq": ("back_seek_max", "back_seek_penalty", "fifo_expire_async", "fifo_expire_sync", "low_latency", "max_budget",
            "slice_idle", "slice_idle_us", "strict_guarantees", "timeout_sync"),
    "kyber": ("read_lat_nsec", "write_lat_nsec"),
}
_IOSCHED_NAME = re.compile(r"^iosched/([a-z][a-z0-9_]{0,63})$")
# Schedulers built as modules are offered only once loaded (Debian: bfq, kyber).
SCHEDULER_MODULES = {"bfq": "bfq", "kyber": "kyber_iosched", "mq-deadline": "mq_deadline"}
# blk-mq's depth limit for a scheduler's own tags (MAX_SCHED_RQ, block/blk-mq.h); without a scheduler the
# limit is the hardware tag depth, which each hardware queue shows in mq/N/nr_tags.
MAX_SCHED_RQ = 2048
# A scheduler switch reallocates tags and resets nr_requests and the iosched tunables: scheduler first;
# nr_requests resets mq-deadline's async_depth: the tunables last.
ORDER = {"scheduler": 10, "iosched": 60}
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
        tunable = _IOSCHED_NAME.match(attribute)
        if attribute not in ATTRIBUTES and not tunable:
            raise KnobError("block %s: unknown queue setting %r (known: %s, and iosched/NAME for the scheduler's "
                            "tunables)" % (device, attribute, ", ".join(sorted(ATTRIBUTES))))
        Knob.__init__(self, tree, name)
        self.device = device
        self.attribute = attribute
        self.tunable = tunable.group(1) if tunable else None
        self.order = ORDER["iosched"] if tunable else ORDER.get(attribute, 50)
        self.path = "/sys/block/%s/queue/%s" % (device, attribute)

    def validate(self, value):
        if self.attribute in JOURNALED_ONLY:
            raise KnobError("block %s: %s cannot be set: %s"
                            % (self.device, self.attribute, JOURNALED_ONLY[self.attribute]))
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
        low, high = ATTRIBUTES.get(self.attribute, (0, 2 ** 63 - 1))
        if self.attribute == "max_sectors_kb":
            high = self.tree.read_int("/sys/block/%s/queue/max_hw_sectors_kb" % self.device)
        if int(text) < low or (high is not None and int(text) > high):
            raise KnobError("block %s: %s=%s is out of range %d..%s" % (self.device, self.attribute, text, low, high))
        return str(int(text))

    def validate_with(self, value, request):
        if self.attribute != "nr_requests" and not self.tunable:
            return
        scheduler = request.get("block:%s:scheduler" % self.device)
        if scheduler is None:
            scheduler = self._active()
        if self.tunable:
            self._check_tunable(scheduler, "block:%s:scheduler" % self.device in request)
            return
        limit, why = nr_requests_limit(scheduler, tag_depth(self.tree, self.device))
        if limit is not None and int(value) > limit:
            raise KnobError("block %s: nr_requests=%s is above what the kernel takes for this queue: %d, %s "
                            "(the collection's own range is %d..%d)"
                            % ((self.device, value, limit, why) + ATTRIBUTES["nr_requests"]))

    def _check_tunable(self, scheduler, switching):
        """The tunable must belong to the scheduler the request leaves active (a switch discards the others)."""
        if not switching and self.tree.exists(self.path):
            return
        if self.tunable not in IOSCHED.get(scheduler, ()):
            has = ("%s has: %s" % (scheduler, ", ".join(IOSCHED[scheduler])) if scheduler in IOSCHED
                   else "%s has none" % scheduler)
            raise KnobError("block %s: %s is not a tunable of the %s scheduler%s (%s)" % (
                self.device, self.attribute, scheduler, " this request leaves active" if switching else "", has))

    def _active(self):
        return parse_choice(self.tree.read("/sys/block/%s/queue/scheduler" % self.device))[0] or "none"

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
        """The live value; None for a tunable the active scheduler does not have (it appears with its scheduler)."""
        text = self.tree.read(self.path)
        if text is None and self.tunable and self.tree.isdir("/sys/block/%s/queue" % self.device):
            return None
        if text is None:
            raise KnobError("block %s: cannot read %s (device gone?)" % (self.device, self.attribute))
        if self.attribute == "scheduler":
            current, offered = parse_choice(text)
            return current or ("none" if offered == ["none"] else text.strip())
        return text.strip()

    def write(self, value):
        self.tree.write(self.path, value)

    def coupled(self):
        """A scheduler switch resets nr_requests and the old scheduler's tunables, and bfq turns writeback
        throttling off: all journaled, so rollback puts them back after the scheduler."""
        if self.attribute == "scheduler":
            queue = "/sys/block/%s/queue" % self.device
            tunables = ["iosched/" + name for name in sorted(self.tree.listdir(queue + "/iosched"))
                        if _IOSCHED_NAME.match("iosched/" + name)]
            extra = ["wbt_lat_usec"] if self.tree.exists(queue + "/wbt_lat_usec") else []
            return ["block:%s:%s" % (self.device, attribute) for attribute in ["nr_requests"] + extra + tunables]
        if self.attribute == "nr_requests" and self._active() == "mq-deadline":
            return ["block:%s:iosched/async_depth" % self.device]  # mq-deadline sets it to the new depth
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
