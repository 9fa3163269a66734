# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every kind of benchmark suite by its type name, and the package each tool comes in."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.compute import CpuSuite, MemorySuite
from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.custom import CustomSuite
from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.disk import DiskSuite
from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.latency import LatencySuite
from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.network import NetworkSuite

SUITES = dict((suite.kind, suite) for suite in (NetworkSuite, LatencySuite, DiskSuite, CpuSuite, MemorySuite,
                                                CustomSuite))
