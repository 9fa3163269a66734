# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: tune_outcome
short_description: How a host ends in a tuning run - kept, rolled back, unchanged, checked, failed or lost
version_added: 0.1.0
author:
  - hostperf.tuning engineers (@hostperf)
description:
  - "Decides from M(hostperf.tuning.tune)'s result and the gate's verdict (P(hostperf.tuning.compare#filter)):
    C(rolled_back) when the gate says regressed, or inconclusive with O(unproven=rollback); C(kept) when it says
    improved or unchanged; C(unchanged) when tune changed nothing; C(checked) in check mode (what would change
    and which suites would measure it); C(failed) with O(failure); C(lost) with O(lost), a host that stopped
    answering part-way. A failed or lost host's reason says whether anything was changed and how to undo it."
  - The tune role uses it; the result is what the history store and the end-of-run summary show.
options:
  _input:
    description: The registered result of M(hostperf.tuning.tune).
    type: dict
    required: true
  verdict:
    description: What P(hostperf.tuning.compare#filter) returned, or null when nothing was validated.
    type: dict
  unproven:
    description: What an inconclusive verdict means.
    type: str
    choices: [rollback, keep]
    default: rollback
  host:
    description: The host's inventory name.
    type: str
  wave:
    description: The rollout wave.
    type: int
    default: 1
  profile:
    description: The profile (or label) the host was tuned with.
    type: str
  check_mode:
    description: The run is in check mode.
    type: bool
    default: false
  failure:
    description: Why the run failed, when it did.
    type: str
  restored:
    description: With O(failure), whether the run's changes were rolled back.
    type: bool
    default: false
  suites:
    description: The benchmark suites configured for the host, named in check mode's reason.
    type: list
    elements: dict
  lost:
    description: The host stopped answering part-way; its journal keeps what was changed.
    type: bool
    default: false
  confirmation:
    description:
      - For a change the gate called regressed (blocks), what P(hostperf.tuning.compare#filter) said against both
        baselines pooled, the second measured after the rollback (A-B-A). Not regressed there means the host
        drifted; the outcome is then C(kept) for the re-applied change given as the input.
    type: dict
"""

EXAMPLES = r"""
- name: Decide whether the change stays
  ansible.builtin.set_fact:
    hostperf_tune_outcome: "{{ hostperf_apply_result | hostperf.tuning.tune_outcome(hostperf_validate_verdict,
                               host=inventory_hostname, profile='edge') }}"
"""

RETURN = r"""
_value:
  description: The outcome.
  type: dict
  contains:
    outcome:
      description: kept, rolled_back, unchanged, checked, failed or lost.
      type: str
    reason:
      description: Why, in one line with the figures.
      type: str
    verdict:
      description: The gate's verdict, when there was one.
      type: str
    design:
      description: How the change was measured, blocks or pairs (docs/gate.md), when it was.
      type: str
    confirmation:
      description: The A-B-A verdict, when a second baseline was measured.
      type: str
    changed:
      description: The settings the transaction changed, with C(identity), C(before) and C(after).
      type: list
      elements: dict
    metrics:
      description: The gating metrics with C(baseline_median), C(after_median), C(effect) and C(verdict).
      type: list
      elements: dict
    transaction:
      description: The transaction id, when tune made one.
      type: str
"""

from ansible_collections.hostperf.tuning.plugins.plugin_utils.rollout import outcome_of


def tune_outcome(apply_result, verdict=None, unproven="rollback", host=None, wave=1, profile=None, check_mode=False,
                 failure=None, restored=False, suites=None, lost=False, confirmation=None):
    return outcome_of(apply_result, verdict, unproven, host, wave, profile, check_mode, failure, restored, suites,
                      lost, confirmation)


class FilterModule:
    def filters(self):
        return {"tune_outcome": tune_outcome}
