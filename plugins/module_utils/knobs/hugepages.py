# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Persistent huge pages reserved on one NUMA node ("hugepages:node1:2048kB"), where a database or a packet
engine pinned to that node takes them.

The kernel may give fewer than asked (free memory on the node short or fragmented): a write is tried again, and a
count still short fails the transaction with the count obtained, so the host never runs a reservation other than
the one planned and measured. Persisted as a tmpfiles.d line, which boot writes early, before memory fragments.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import time

from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import Knob, KnobError, Persistence, SWITCH_COSTLY
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.identity import Grammar
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.tmpfiles import render_paths

NODE_DIR = "/sys/devices/system/node"
TMPFILES_PATH = "/etc/tmpfiles.d/hostperf-tuning-hugepages.conf"
TRIES = 3
RETRY_PAUSE = 0.5  # the kernel compacts and frees between tries
_NODE = re.compile(r"^node(\d{1,4})\Z")
_SIZE = re.compile(r"^(\d{1,8})kB\Z")
_MEM_TOTAL = re.compile(r"MemTotal:\s+(\d+)\s*kB")


class HugepagesKnob(Knob):
    switching = SWITCH_COSTLY  # a reservation takes memory from everything else on the node
    kind = "hugepages"
    grammar = Grammar("hugepages", ("node", "size"), ("hugepages:node0:2048kB", "hugepages:node1:1048576kB"))
    order = 30

    def __init__(self, tree, name):
        fields = self.fields_of(name)
        node, size = _NODE.match(fields["node"]), _SIZE.match(fields["size"])
        if not node or not size:
            raise KnobError("hugepages %r: expected hugepages:nodeN:SIZEkB (hugepages:node0:2048kB)" % name)
        self.node, self.size_kb = int(node.group(1)), int(size.group(1))
        Knob.__init__(self, tree, "node%d:%dkB" % (self.node, self.size_kb))
        self.directory = "%s/node%d/hugepages/hugepages-%dkB" % (NODE_DIR, self.node, self.size_kb)
        self.path = self.directory + "/nr_hugepages"

    def _label(self):
        return "hugepages:%s" % self.name

    def _node_memory_kb(self):
        match = _MEM_TOTAL.search(self.tree.read("%s/node%d/meminfo" % (NODE_DIR, self.node)) or "")
        return int(match.group(1)) if match else None

    def validate(self, value):
        if not self.tree.isdir("%s/node%d" % (NODE_DIR, self.node)):
            raise KnobError("%s: this host has no NUMA node %d" % (self._label(), self.node))
        if not self.tree.exists(self.path):
            raise KnobError("%s: the kernel offers no %d kB pages on node %d (%s)"
                            % (self._label(), self.size_kb, self.node, self.directory))
        if isinstance(value, bool) or not re.match(r"^[0-9]{1,9}\Z", str(value).strip()):
            raise KnobError("%s: %r is not a count of pages (0 to 999999999)" % (self._label(), value))
        count = int(str(value).strip())
        memory = self._node_memory_kb()
        if memory is not None and count * self.size_kb > memory:
            raise KnobError("%s: %d pages of %d kB are %d MiB, more than node %d has (%d MiB)" % (
                self._label(), count, self.size_kb, count * self.size_kb // 1024, self.node, memory // 1024))
        return str(count)

    def read(self):
        text = self.tree.read(self.path)
        if text is None:
            raise KnobError("%s: cannot read %s" % (self._label(), self.path))
        return text.strip()

    def write(self, value):
        obtained = None
        for attempt in range(TRIES):
            if attempt:
                time.sleep(RETRY_PAUSE)
            self.tree.write(self.path, value)
            obtained = self.read()
            if obtained == value:
                return
        raise KnobError("%s: the kernel gave %s of %s pages after %d tries (node %d's free memory is short or "
                        "fragmented; the persisted line reserves them early at boot, before it fragments)"
                        % (self._label(), obtained, value, TRIES, self.node))

    def disruption(self):
        return "reserves node %d's memory for %d kB huge pages, which nothing else can use" % (self.node, self.size_kb)

    def validate_with(self, value, request):
        if "sysctl:vm.nr_hugepages" in request:
            raise KnobError("%s and sysctl:vm.nr_hugepages: set the pool per node or in total, not both (a write "
                            "of the total spreads it over every node again)" % self._label())


HugepagesKnob.persistence = Persistence(TMPFILES_PATH, render_paths)
