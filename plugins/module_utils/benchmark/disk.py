# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Disk reads with fio: random 4 KiB IOPS and sequential bandwidth, on a test file, never destructive.

A trial runs two fio jobs one after the other (stonewall) on one file laid
out once in the configured directory and removed when the suite is done.
A raw device is only read, and only when allow_device is true: writes to a
device would destroy what is on it, so the suite has no way to ask for them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.suite import Suite, TrialFailed, last_line, metric

TEST_FILE = ".hostperf-benchmark.fio"
_SIZE = re.compile(r"^[1-9][0-9]*[KMG]?$")
_DEVICE = re.compile(r"^/dev/[A-Za-z0-9][A-Za-z0-9/_-]{0,63}$")


class DiskSuite(Suite):
    """fio: randread IOPS (gating), sequential read MB/s (gating) and random-read p99 latency (informational)."""

    kind = "disk"
    tools = ("fio",)
    options = dict(directory=("str", ""), device=("str", ""), allow_device=("bool", False), size=("str", "256M"),
                   iodepth=("int", 32), direct=("bool", True))
    metrics = dict(randread_iops=metric("IOPS", "higher"), seqread_bandwidth=metric("MB/s", "higher"),
                   randread_p99=metric("us", "lower", gate=False))

    def check(self):
        directory, device = self.params["directory"], self.params["device"]
        if bool(directory) == bool(device):
            self.fail("give exactly one of directory (a test file is created there) or device (read only)")
        if device and not self.params["allow_device"]:
            self.fail("device %s is read directly only with allow_device: true" % device)
        if device and not _DEVICE.match(device):
            self.fail("device %r is not a /dev path" % device)
        if directory and (not os.path.isabs(directory) or "\x00" in directory):
            self.fail("directory %r must be an absolute path" % directory)
        if directory and ":" in directory:
            self.fail("directory %r contains ':', which fio reads as a list of files (it would write into each)"
                      % directory)
        if not _SIZE.match(str(self.params["size"])):
            self.fail("size %r must be a number with an optional K, M or G suffix" % self.params["size"])
        self.params["size"] = str(self.params["size"])

    def target(self):
        if self.params["device"]:
            return ["--filename", self.params["device"], "--readonly"]
        return ["--filename", os.path.join(self.params["directory"], TEST_FILE), "--size", self.params["size"]]

    def argv(self, tool, duration):
        half = max(1, duration // 2)
        return (["fio", "--output-format=json", "--ioengine=libaio", "--direct=%d" % self.params["direct"],
                 "--time_based", "--runtime=%d" % half] + self.target()
                + ["--name=randread", "--rw=randread", "--bs=4k", "--iodepth=%d" % self.params["iodepth"],
                   "--name=seqread", "--stonewall", "--rw=read", "--bs=1M", "--iodepth=8"])

    def timeout(self, duration):
        # Laying out the test file on a slow disk comes on top of the run time.
        return 6 * duration + 120

    def parse(self, tool, result):
        try:
            report = json.loads(result.stdout[result.stdout.find("{"):])
        except ValueError:
            raise TrialFailed("fio: %s" % last_line(result))
        jobs = dict((job.get("jobname"), job) for job in report.get("jobs") or [])
        if not result.ok or set(jobs) != {"randread", "seqread"} or any(job.get("error") for job in jobs.values()):
            raise TrialFailed("fio: %s" % last_line(result))
        random_read = jobs["randread"]["read"]
        percentiles = (random_read.get("clat_ns") or {}).get("percentile") or {}
        return dict(randread_iops=float(random_read["iops"]),
                    seqread_bandwidth=jobs["seqread"]["read"]["bw_bytes"] / 1e6,
                    randread_p99=percentiles.get("99.000000", 0) / 1000.0)

    def cleanup(self, tree):
        if self.params["directory"]:
            try:
                os.unlink(tree.path(os.path.join(self.params["directory"], TEST_FILE)))
            except OSError:
                pass
