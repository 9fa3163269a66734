# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: benchmark_lines
short_description: What a benchmark run measured, as lines an operator reads
version_added: 0.1.0
author:
  - hostperf.tuning engineers (@hostperf)
description:
  - One line per metric of a M(hostperf.tuning.benchmark) result (median, unit, trials, lowest and highest trial, which
    direction is better), after one line per suite that was skipped or failed, with the reason.
options:
  _input:
    description: The registered result of M(hostperf.tuning.benchmark).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Say what was measured
  ansible.builtin.debug:
    msg: "{{ hostperf_baseline | hostperf.tuning.benchmark_lines }}"
"""

RETURN = r"""
_value:
  description: The lines.
  type: list
  elements: str
"""

from ansible_collections.hostperf.tuning.plugins.plugin_utils.rollout import benchmark_lines


class FilterModule:
    def filters(self):
        return {"benchmark_lines": benchmark_lines}
