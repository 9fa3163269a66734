# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Request/response latency to a peer with sockperf ping-pong: what an RPC waits for on the wire."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.suite import (
    Suite, TrialFailed, last_line, metric, number)

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_PERCENTILE = re.compile(r"percentile\s+(\d+\.\d+)\s*=\s*([0-9.]+)")
_AVERAGE = re.compile(r"avg-latency=([0-9.]+)")


class LatencySuite(Suite):
    """sockperf ping-pong against a peer running `sockperf server` (TCP unless told UDP)."""

    kind = "latency"
    tools = ("sockperf",)
    options = dict(peer=("host", None), port=("int", 11111), protocol=(("tcp", "udp"), "tcp"),
                   message_size=("int", 64))
    metrics = dict(p50=metric("us", "lower"), p99=metric("us", "lower", gate=False),
                   average=metric("us", "lower", gate=False))

    def check(self):
        if self.params["port"] > 65535:
            self.fail("port %d is not a port" % self.params["port"])

    def peer(self):
        """A TCP sockperf server can be asked to accept a connection; a UDP one cannot be asked without a test."""
        return (self.params["peer"], self.params["port"]) if self.params["protocol"] == "tcp" else None

    def argv(self, tool, duration):
        argv = ["sockperf", "ping-pong", "--ip", self.params["peer"], "--port", str(self.params["port"]),
                "--time", str(duration), "--msg-size", str(self.params["message_size"])]
        return argv + (["--tcp"] if self.params["protocol"] == "tcp" else [])

    def parse(self, tool, result):
        text = _ANSI.sub("", (result.stdout or "") + (result.stderr or ""))
        percentiles = dict(_PERCENTILE.findall(text))
        average = _AVERAGE.search(text)
        if not result.ok or "50.000" not in percentiles or "99.000" not in percentiles or not average:
            raise TrialFailed("sockperf to %s:%d: %s" % (self.params["peer"], self.params["port"],
                                                         _ANSI.sub("", last_line(result))))
        return dict(p50=number(percentiles["50.000"], "p50"), p99=number(percentiles["99.000"], "p99"),
                    average=number(average.group(1), "avg-latency"))
