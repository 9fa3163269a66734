# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: wave_verdict
short_description: Whether a canary rollout goes on after a wave
version_added: 0.1.0
author:
  - hostperf.tuning engineers (@hostperf)
description:
  - Counts the wave's hosts that were rolled back by the gate, failed, or were lost part-way (no outcome), and says
    stop when their share is above O(max_regressed_percent) and hosts remain that no wave has reached.
options:
  _input:
    description: The hosts of the wave.
    type: list
    elements: str
    required: true
  hostvars:
    description: Ansible's C(hostvars); each host's C(hostperf_tune_outcome) is read from it.
    type: raw
    required: true
  targets:
    description: Every host the run targets.
    type: list
    elements: str
    required: true
  reached:
    description: The hosts of this and every earlier wave.
    type: list
    elements: str
    required: true
  wave:
    description: The wave's number.
    type: int
    required: true
  max_regressed_percent:
    description: The share of a wave that may regress or fail without stopping the rollout.
    type: float
    default: 0
"""

EXAMPLES = r"""
- name: Judge the wave
  ansible.builtin.set_fact:
    hostperf_tune_wave_result: "{{ ansible_play_batch | hostperf.tuning.wave_verdict(hostvars, targets, reached, wave=2) }}"
"""

RETURN = r"""
_value:
  description: The decision.
  type: dict
  contains:
    stop:
      description: True when the rollout must not go on.
      type: bool
    message:
      description: The wave's figures and the decision in one line.
      type: str
    share:
      description: Percent of the wave that regressed, failed or was lost.
      type: float
    rolled_back:
      description: Hosts the gate rolled back.
      type: list
      elements: str
    failed:
      description: Hosts whose run failed.
      type: list
      elements: str
    lost:
      description: Hosts without an outcome (unreachable part-way).
      type: list
      elements: str
"""

from ansible_collections.hostperf.tuning.plugins.plugin_utils.rollout import wave_verdict as judge_wave


def wave_verdict(wave_hosts, hostvars, targets, reached, wave, max_regressed_percent=0):
    outcomes = dict((host, hostvars[host].get("hostperf_tune_outcome")) for host in wave_hosts)
    reached = set(reached)
    remaining = [host for host in targets if host not in reached]
    return judge_wave(wave_hosts, outcomes, remaining, int(wave), max_regressed_percent)


class FilterModule:
    def filters(self):
        return {"wave_verdict": wave_verdict}
