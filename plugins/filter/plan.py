# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: plan
short_description: The settings a profile means for one host, each with its reason and risk
version_added: 0.1.0
author:
  - hostperf.tuning engineers (@hostperf)
description:
  - Computes on the controller, from the facts of M(hostperf.tuning.host_facts) and a profile, the value of every
    setting the profile implies for this host, in the identities M(hostperf.tuning.tune) takes in its C(settings)
    option. No round trip to the host.
  - Values depend on the facts, TCP buffer maxima from link speed times a target RTT capped by memory, the backlog
    from link speed, scheduler and read-ahead per device class, ring sizes from the driver's maximum, IRQ placement
    from each NIC's NUMA node, BBR and fq only where the kernel has them.
  - Overrides by identity come last, a value replaces the planned one and null switches a setting off. An override
    the host cannot take (a scheduler its disk does not offer, a value out of the kernel's range, an unknown kind,
    a missing device) is listed in C(errors) for that host; nothing is changed by planning.
options:
  _input:
    description: The C(hostperf) facts returned by M(hostperf.tuning.host_facts).
    type: dict
    required: true
  profile:
    description:
      - Name of a profile (C(datacenter), C(edge), C(latency), C(throughput), C(virtual-guest)) or your own.
      - C(auto) plans the profile the M(hostperf.tuning.recommend#filter) filter chooses from the facts; the plan's
        C(profile) is then that name and its first note says why.
      - Empty plans only the O(overrides).
    type: str
    required: true
  overrides:
    description: Settings by identity that replace the plan's values; null switches one off.
    type: dict
  selectors:
    description:
      - Selectors planned after the profile, the options of M(hostperf.tuning.tune) that expand per host
        (C(block), C(nic), C(irq_affinity), C(irqbalance), C(tcp_congestion_control), C(default_qdisc),
        C(default_qdisc_fallback)), checked against the same declaration as tune's. The plan role fills them from
        C(hostperf_block), C(hostperf_nic) and the other C(hostperf_*) selectors.
    type: dict
  profile_paths:
    description: Directories searched for C(NAME.yml) before the collection's own C(profiles/).
    type: list
    elements: path
  host:
    description: The host's name, recorded in the plan.
    type: str
  container_owns_machine:
    description:
      - Inside a container (the facts' C(environment.container)), plan the settings that are the whole machine's
        too, as M(hostperf.tuning.tune)'s option of that name takes them. Without it they are left out, named in
        one of the plan's C(notes).
    type: bool
    default: false
  persist:
    description: Whether the plan will be persisted (M(hostperf.tuning.tune)'s C(persist)); a sysctl.d line read after ours
      at boot matters only then.
    type: bool
    default: true
  coexistence:
    description:
      - M(hostperf.tuning.tune)'s option of that name. With C(refuse), settings a later sysctl.d line, tuned or
        bpftune would undo are left out, named in one of the plan's C(notes); with C(take), a daemon's are planned
        with the settings that stop and disable it.
    type: str
    choices: [refuse, take]
    default: refuse
"""

EXAMPLES = r"""
- name: Plan this host with the datacenter profile, one setting overridden, one switched off
  ansible.builtin.set_fact:
    hostperf_plan: "{{ ansible_facts.hostperf | hostperf.tuning.plan('datacenter', overrides={
      'sysctl:vm.swappiness': 5, 'cpufreq:scaling_governor': none}, host=inventory_hostname) }}"

- name: Apply it
  hostperf.tuning.tune:
    settings: "{{ hostperf_plan.settings }}"
  when: hostperf_plan.errors | length == 0
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    settings:
      description: Identity to value, what M(hostperf.tuning.tune) takes as C(settings).
      type: dict
    entries:
      description: One per setting, with C(identity), C(value), C(current) (from the facts, null when they do not
        show it), C(changes), C(reason), C(risk) (low, medium, high) and C(source) (profile, selector or override).
      type: list
      elements: dict
    notes:
      description: What the profile asked for that this host cannot have, and why (no cpufreq, no fq, ...).
      type: list
      elements: str
    errors:
      description: Overrides or profile entries this host cannot take; apply nothing while there are any.
      type: list
      elements: str
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.coexistence import COEXISTENCE_MODES
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.planner import checked_selectors, plan_for_host
from ansible_collections.hostperf.tuning.plugins.plugin_utils.profiles import AUTOMATIC, ProfileError, load_profile
from ansible_collections.hostperf.tuning.plugins.plugin_utils.recommend import recommend


def plan(facts, profile, overrides=None, profile_paths=None, host=None, selectors=None, container_owns_machine=False,
         persist=True, coexistence="refuse"):
    if not isinstance(facts, dict) or "schema" not in facts:
        raise AnsibleFilterError("plan: the input must be the hostperf facts of hostperf.tuning.host_facts")
    if overrides is not None and not isinstance(overrides, dict):
        raise AnsibleFilterError("plan: hostperf_overrides must be a mapping of identity to value, not %s"
                                 % type(overrides).__name__)
    if coexistence not in COEXISTENCE_MODES:
        raise AnsibleFilterError("plan: hostperf_coexistence must be one of %s, not %r"
                                 % (", ".join(COEXISTENCE_MODES), coexistence))
    chosen = None
    if profile == AUTOMATIC:
        chosen = recommend(facts)
        profile = chosen["profile"]
    try:
        loaded = load_profile(profile, profile_paths or ()) if profile else {}
        checked = checked_selectors(selectors or {})
    except (ProfileError, ValueError) as exc:
        raise AnsibleFilterError("plan: %s" % exc)
    planned = plan_for_host(facts, loaded, overrides, host=host, profile_name=profile or None,
                            selectors=checked, owns_machine=bool(container_owns_machine), persist=bool(persist),
                            coexistence=coexistence)
    if chosen:
        planned["notes"].insert(0, "profile auto chose %s for %s" % (profile, chosen["reason"]))
    return planned


class FilterModule:
    def filters(self):
        return {"plan": plan}
