# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: rollout_summary
short_description: The end-of-run table of a tuning rollout
version_added: 0.1.0
author:
  - hostperf.tuning engineers (@hostperf)
description:
  - One line per host (wave, profile, outcome, how many settings changed, each gating metric before -> after with
    its verdict, or the reason), hosts the rollout never reached included, then the totals and why the rollout
    stopped, when it did.
options:
  _input:
    description: The hosts' C(hostperf_tune_outcome) values (from P(hostperf.tuning.tune_outcome#filter)).
    type: list
    elements: dict
    required: true
  hosts:
    description: Every host the run targeted, in order; those without an outcome are listed as not reached.
    type: list
    elements: str
  stopped:
    description: Why the rollout stopped early, when it did.
    type: str
"""

EXAMPLES = r"""
- name: Print the rollout
  ansible.builtin.debug:
    msg: "{{ outcomes | hostperf.tuning.rollout_summary(hosts=ansible_play_hosts_all) }}"
"""

RETURN = r"""
_value:
  description: The lines of the table, its totals and the stop reason.
  type: list
  elements: str
"""

from ansible_collections.hostperf.tuning.plugins.plugin_utils.rollout import rollout_summary


class FilterModule:
    def filters(self):
        return {"rollout_summary": rollout_summary}
