# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: recommend
short_description: The collection's profile that fits a host, with the evidence from its facts
version_added: 0.1.0
author:
  - hostperf.tuning engineers (@hostperf)
description:
  - Chooses, from the facts of M(hostperf.tuning.host_facts), the profile C(hostperf_profile=auto) plans. The first
    rule whose evidence the facts show wins, C(datacenter) (2 or more NUMA nodes, or sockets on bare metal, with
    NVMe or a NIC of 10 Gbit/s or more, or a NIC of 25 Gbit/s or more on bare metal; a VM qualifies by its NUMA
    nodes only), C(virtual-guest) (any other virtual machine), C(edge) (at most 8 CPUs with only rotational, eMMC,
    SD or removable disks, or at most 4 CPUs with at most 8 GiB of memory), else C(throughput).
  - C(latency) is never chosen; it trades throughput and power for tail latency, which only its owner can decide.
options:
  _input:
    description: The C(hostperf) facts returned by M(hostperf.tuning.host_facts).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Say which profile fits and why
  ansible.builtin.debug:
    msg: "{{ (ansible_facts.hostperf | hostperf.tuning.recommend).reason }}"
"""

RETURN = r"""
_value:
  description: The recommendation.
  type: dict
  contains:
    profile:
      description: The profile's name.
      type: str
    reason:
      description: What the profile is for and the evidence, one sentence.
      type: str
    evidence:
      description: What the facts showed, item by item (C(2 NUMA nodes), C(4 nvme), C(ens1f0np0 at 100000 Mbit/s)).
      type: list
      elements: str
    rules:
      description: Every rule in order with C(profile), C(matches), C(meaning) and its C(evidence).
      type: list
      elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.hostperf.tuning.plugins.plugin_utils.recommend import recommend as recommend_profile


def recommend(facts):
    if not isinstance(facts, dict) or "schema" not in facts:
        raise AnsibleFilterError("recommend: the input must be the hostperf facts of hostperf.tuning.host_facts")
    return recommend_profile(facts)


class FilterModule:
    def filters(self):
        return {"recommend": recommend}
