# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: review
short_description: What a planned change would do to one host, as the lines an operator reviews
version_added: 0.1.0
author:
  - hostperf.tuning engineers (@hostperf)
description:
  - "Turns the check-mode answer of M(hostperf.tuning.tune) for a planned request into lines. The first says how many
    settings would change; then the plan's and the host's notes; then one line per setting that would change,
    C(identity: current -> planned  [risk] reason), where IRQ identities name their device and queue
    (C(irq:38 (enp130s0-rx-0))); then one line naming the files that would be written."
  - The settings listed are the ones the host reported, so they are exactly what the same request applies. Reason
    and risk come from the plan (P(hostperf.tuning.plan#filter)); settings the plan did not make (device selectors
    such as C(hostperf_nic)) say so.
options:
  _input:
    description: The registered result of M(hostperf.tuning.tune) in check mode.
    type: dict
    required: true
  plan:
    description: The plan the request came from.
    type: dict
    required: true
  facts:
    description: The host's C(hostperf) facts, for the names of IRQs.
    type: dict
"""

EXAMPLES = r"""
- name: Say what would change
  ansible.builtin.debug:
    msg: "{{ hostperf_plan_check | hostperf.tuning.review(hostperf_plan, ansible_facts.hostperf) }}"
"""

RETURN = r"""
_value:
  description: The lines.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.hostperf.tuning.plugins.plugin_utils.review import review_lines


def review(check, plan, facts=None):
    try:
        return review_lines(check, plan, facts)
    except ValueError as exc:
        raise AnsibleFilterError("review: %s" % exc)


class FilterModule:
    def filters(self):
        return {"review": review}
