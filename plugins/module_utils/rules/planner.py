# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""From what a host is (host_facts) and what the operator asked for to what it should be set to, with reasons.

One pure function, used by the plan filter on the controller and by tune on
the host: a profile's sections, then the selectors (tune's typed options,
the plan role's hostperf_block, hostperf_nic...), then overrides by identity.
Every planned setting carries the identity tune takes, the current value the
facts show, a one-line reason with the numbers it came from, and a risk.
Later rules win where two plan the same identity. Inside a container the
settings that are the whole machine's are left out, with a note, unless
the container takes them (owns_machine).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import UnsupportedError

from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.scope import Ownership
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.coexistence import Coexistence
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.block import BLOCK, BLOCK_CLASSES, block_queues
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.cpu import CPU
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.irq import IRQBALANCE_MODES, irq_affinity, irqbalance
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.memory import THP
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.network import (
    BACKLOG, CONGESTION_CONTROL, TCP_BUFFERS, congestion_control)
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.nic import NIC, nic_settings
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.overrides import override
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.plan import Plan
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.sysctl import profile_sysctl

# The selectors, declared once: tune's argument spec is this, its DOCUMENTATION is checked against it by
# ansible-test's validate-modules, and plan_selectors reads exactly these keys.
SELECTOR_SPEC = dict(
    block=dict(type="list", elements="dict", default=[], mutually_exclusive=[["device", "class"]],
               required_one_of=[["device", "class"]], options=dict(
                   device=dict(type="str"),
                   scheduler=dict(type="str"),
                   nr_requests=dict(type="int"),
                   read_ahead_kb=dict(type="int"),
                   rq_affinity=dict(type="int", choices=[0, 1, 2]),
                   nomerges=dict(type="int", choices=[0, 1, 2]),
                   max_sectors_kb=dict(type="int"),
                   **{"class": dict(type="str", choices=list(BLOCK_CLASSES))})),
    nic=dict(type="list", elements="dict", default=[], mutually_exclusive=[["interface", "driver"]],
             required_one_of=[["interface", "driver"]], options=dict(
                 interface=dict(type="str"),
                 driver=dict(type="str"),
                 rings=dict(type="dict"),
                 channels=dict(type="dict"),
                 features=dict(type="dict"),
                 coalesce=dict(type="dict"),
                 mtu=dict(type="int"),
                 txqueuelen=dict(type="int"),
                 rps=dict(type="str"),
                 xps=dict(type="str"))),
    irq_affinity=dict(type="list", elements="dict", default=[], mutually_exclusive=[["interface", "device"]],
                      required_one_of=[["interface", "device"]], options=dict(
                          interface=dict(type="str"),
                          device=dict(type="str"),
                          cpus=dict(type="str", default="local"),
                          xps=dict(type="bool", default=False))),
    irqbalance=dict(type="str", choices=list(IRQBALANCE_MODES), default="ban"),
    tcp_congestion_control=dict(type="str"),
    default_qdisc=dict(type="str"),
    default_qdisc_fallback=dict(type="str", default="keep"),
)
# A profile's sections besides sysctl, in the order they are planned (later ones win on the same identity).
PROFILE_SECTIONS = (TCP_BUFFERS, BACKLOG, CONGESTION_CONTROL, BLOCK, NIC, CPU, THP)
# What each selector needs detected on the host when tune expands it there (environment: whether it is a container).
SELECTOR_FACTS = {"block": ("block", "environment"), "nic": ("nic", "environment"), "irq_affinity": (
    "irq", "nic", "block", "environment"), "tcp_congestion_control": ("kernel", "environment"), "default_qdisc": (
    "kernel", "environment")}


def plan_for_host(facts, profile=None, overrides=None, host=None, profile_name=None, selectors=None,
                  owns_machine=False, persist=True, coexistence="refuse"):
    """{"settings": {identity: value}, "entries": [...], "notes": [...], "errors": [...]} for one host.

    persist and coexistence are tune's options: what a boot or another tuner would undo depends on them.
    """
    plan = Plan(host, profile_name, Ownership(facts.get("environment"), owns_machine),
                Coexistence(facts, persist, coexistence))
    profile = profile or {}
    for key, spec in sorted((profile.get("sysctl") or {}).items()):
        profile_sysctl(plan, facts, key, spec)
    for section in PROFILE_SECTIONS:
        if profile.get(section.name):
            section.rule(plan, facts, profile[section.name])
    plan_selectors(plan, facts, selectors or {})
    for identity, value in sorted((overrides or {}).items(), key=lambda item: str(item[0])):
        override(plan, facts, identity, value)
    plan.release_taken()
    return plan.result()


def plan_selectors(plan, facts, selectors):
    """Plan the selectors of SELECTOR_SPEC; keys left out or empty ask for nothing."""
    for index, request in enumerate(selectors.get("block") or ()):
        block_queues(plan, facts, request, "block[%d]" % index, "selector")
    for index, request in enumerate(selectors.get("nic") or ()):
        nic_settings(plan, facts, request, "nic[%d]" % index, "selector")
    if selectors.get("irq_affinity"):
        irq_affinity(plan, facts, selectors["irq_affinity"], "placed by irq_affinity", "selector")
        irqbalance(plan, facts, selectors.get("irqbalance") or "ban", "selector")
    if selectors.get("tcp_congestion_control") or selectors.get("default_qdisc"):
        congestion_control(plan, facts, selectors.get("tcp_congestion_control"), selectors.get("default_qdisc"),
                           selectors.get("default_qdisc_fallback") or "keep", "selector")


def checked_selectors(selectors):
    """The selectors with tune's defaults filled in; ValueError naming every selector of the wrong shape."""
    if not isinstance(selectors, dict):
        raise ValueError("selectors must be a mapping, not %s" % type(selectors).__name__)
    # What AnsibleModule validated has every unset option as None; given again, None would count as set.
    result = ArgumentSpecValidator(SELECTOR_SPEC).validate(_given(selectors))
    if result.error_messages:
        raise ValueError("selectors: %s" % "; ".join(
            ("unsupported parameter " if isinstance(error, UnsupportedError) else "") + error.msg
            for error in result.errors.errors))
    return result.validated_parameters


def _given(value):
    if isinstance(value, dict):
        return dict((key, _given(item)) for key, item in value.items() if item is not None)
    if isinstance(value, list):
        return [_given(item) for item in value]
    return value


def selector_subsets(selectors):
    """The host_facts subsets these selectors are planned from."""
    return sorted(set(subset for key, subsets in SELECTOR_FACTS.items() if selectors.get(key) for subset in subsets))
