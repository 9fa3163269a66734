# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TCP throughput to a peer with iperf3: what a WAN link or a NIC actually carries."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.suite import Suite, TrialFailed, last_line, metric

BUSY = "the server is busy"


class NetworkSuite(Suite):
    """iperf3 -c PEER: Mbit/s that arrived at the receiver, and the sender's retransmits.

    reverse=true measures the peer sending to this host (downloads at an edge site).
    """

    kind = "network"
    tools = ("iperf3",)
    options = dict(peer=("host", None), port=("int", 5201), streams=("int", 1), reverse=("bool", False),
                   omit=("int", 1))
    metrics = dict(throughput=metric("Mbit/s", "higher"), retransmits=metric("segments", "lower", gate=False))

    def check(self):
        if self.params["port"] > 65535:
            self.fail("port %d is not a TCP port" % self.params["port"])
        if self.params["omit"] >= self.duration:
            self.fail("omit (%d s) must be shorter than the trial (%d s)" % (self.params["omit"], self.duration))

    def peer(self):
        return (self.params["peer"], self.params["port"])

    def argv(self, tool, duration):
        argv = ["iperf3", "--client", self.params["peer"], "--port", str(self.params["port"]),
                "--time", str(duration), "--parallel", str(self.params["streams"]), "--json",
                "--connect-timeout", "5000"]
        if self.params["omit"]:
            argv += ["--omit", str(self.params["omit"])]
        return argv + (["--reverse"] if self.params["reverse"] else [])

    def parse(self, tool, result):
        try:
            report = json.loads(result.stdout)
        except ValueError:
            raise TrialFailed("iperf3: %s" % last_line(result))
        if report.get("error") or not result.ok:
            raise TrialFailed("iperf3 to %s:%d: %s" % (self.params["peer"], self.params["port"],
                                                       report.get("error") or last_line(result)))
        end = report.get("end") or {}
        received = (end.get("sum_received") or {}).get("bits_per_second")
        if received is None:
            raise TrialFailed("iperf3 reported no received throughput")
        return dict(throughput=received / 1e6, retransmits=(end.get("sum_sent") or {}).get("retransmits", 0))

    def busy(self, result):
        """The peer's iperf3 serves one test at a time: another host's trial is running there."""
        return BUSY in (result.stdout or "") + (result.stderr or "")
