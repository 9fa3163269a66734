# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: plan_line
short_description: One planned setting as an operator reads it
version_added: 0.1.0
author:
  - hostperf.tuning engineers (@hostperf)
description:
  - "Formats one entry of a plan from P(hostperf.tuning.plan#filter) as C(identity: current -> planned  [risk] reason),
    with C(?) for a current value the facts do not show."
options:
  _input:
    description: One element of the plan's C(entries).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Print what would change
  ansible.builtin.debug:
    msg: "{{ hostperf_plan.entries | selectattr('changes') | map('hostperf.tuning.plan_line') | list }}"
"""

RETURN = r"""
_value:
  description: The line.
  type: str
"""


def plan_line(entry):
    current = "?" if entry.get("current") is None else entry["current"]
    return "%s: %s -> %s  [%s] %s" % (entry["identity"], current, entry["value"], entry["risk"], entry["reason"])


class FilterModule:
    def filters(self):
        return {"plan_line": plan_line}
