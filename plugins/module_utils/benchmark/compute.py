# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CPU and memory throughput with sysbench (or stress-ng for CPU): does the host still compute as fast?"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.suite import (
    Suite, TrialFailed, last_line, metric, number)

_EVENTS = re.compile(r"events per second:\s*([0-9.]+)")
_MIB = re.compile(r"\(([0-9.]+) MiB/sec\)")
# stress-ng --metrics-brief: "cpu  1943  1.00  1.00  0.00  1941.23  1941.11" (bogo ops/s real time is the 5th number)
_BOGO = re.compile(r"\]\s+cpu\s+\d+\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+\s+([0-9.]+)")


class CpuSuite(Suite):
    """sysbench cpu (events/s), or stress-ng --cpu (bogo ops/s) where sysbench is missing."""

    kind = "cpu"
    tools = ("sysbench", "stress-ng")
    options = dict(threads=("int", 1))
    metrics = dict(events_per_second=metric("events/s", "higher", cpu_bound=True))

    def argv(self, tool, duration):
        if tool == "sysbench":
            return ["sysbench", "cpu", "--threads=%d" % self.params["threads"], "--time=%d" % duration, "run"]
        return ["stress-ng", "--cpu", str(self.params["threads"]), "--timeout", "%ds" % duration, "--metrics-brief"]

    def parse(self, tool, result):
        found = (_EVENTS if tool == "sysbench" else _BOGO).search((result.stdout or "") + (result.stderr or ""))
        if not result.ok or not found:
            raise TrialFailed("%s: %s" % (tool, last_line(result)))
        return dict(events_per_second=number(found.group(1), tool))


class MemorySuite(Suite):
    """sysbench memory: MiB/s copied in blocks (1 MiB unless told)."""

    kind = "memory"
    tools = ("sysbench",)
    options = dict(threads=("int", 1), block_size=(("4K", "64K", "1M"), "1M"))
    metrics = dict(bandwidth=metric("MiB/s", "higher", cpu_bound=True))

    def argv(self, tool, duration):
        return ["sysbench", "memory", "--threads=%d" % self.params["threads"],
                "--memory-block-size=%s" % self.params["block_size"], "--memory-total-size=100T",
                "--time=%d" % duration, "run"]

    def parse(self, tool, result):
        found = _MIB.search(result.stdout or "")
        if not result.ok or not found:
            raise TrialFailed("sysbench memory: %s" % last_line(result))
        return dict(bandwidth=number(found.group(1), "sysbench memory"))
