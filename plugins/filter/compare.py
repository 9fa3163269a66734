# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: compare
short_description: The regression gate - did a host get faster, slower, or is the change noise
version_added: 0.1.0
author:
  - hostperf.tuning engineers (@hostperf)
description:
  - Compares a baseline run of M(hostperf.tuning.benchmark) with a run after a change, metric by metric, on the
    controller.
  - A metric is C(regressed) only when a one-sided Mann-Whitney U test over the repeated samples says after is worse
    at level O(alpha) and the Hodges-Lehmann shift is worse than the baseline median by at least O(min_effect);
    C(improved) the same way round; otherwise C(unchanged). Never a single before/after pair.
  - "The host's verdict: C(regressed) when a gating metric regressed or a suite that ran in the baseline failed
    after; C(improved) when a gating metric improved and none regressed; C(unchanged); C(inconclusive) when no gating
    metric was measured on both sides."
  - "Paired runs (M(hostperf.tuning.benchmark) with O(hostperf.tuning.benchmark#module:paired_with)) are judged as
    they were measured: each gating metric at the look the host stopped at, against the level calibrated for the
    looks."
  - docs/gate.md explains the method and the false-rollback rate measured on the lab's samples.
options:
  _input:
    description: The baseline, the registered result of M(hostperf.tuning.benchmark).
    type: dict
    required: true
  after:
    description: The run after the change, with the same suites.
    type: dict
    required: true
  alpha:
    description:
      - The host's false-rollback rate. Each of its m gating metrics is tested at O(alpha) / m, so a host gating
        five metrics is not rolled back five times as often.
      - With 5 trials a side and one gating metric, 0.01 means that at most 1 of the 25 baseline/after pairs may be
        ordered the other way.
    type: float
    default: 0.01
  min_effect:
    description: Smallest relative change of the median that counts, as a fraction (0.05 = 5%).
    type: float
    default: 0.05
  metrics:
    description: The metrics that gate (C(suite.metric)); by default those the suites mark as gating.
    type: list
    elements: str
  confirm:
    description:
      - A second baseline, measured after a regressed change was rolled back (A-B-A, blocks only). The after run
        is judged against both baselines pooled; the tune role re-applies a change that is not worse than both.
    type: dict
"""

EXAMPLES = r"""
- name: Judge the change
  ansible.builtin.set_fact:
    hostperf_verdict: "{{ hostperf_baseline | hostperf.tuning.compare(hostperf_after, min_effect=0.05) }}"

- name: Roll back a host that got slower
  hostperf.tuning.rollback:
    target: "{{ hostperf_tune_result.transaction }}"
  when: hostperf_verdict.verdict == 'regressed'
"""

RETURN = r"""
_value:
  description: The verdict and what it rests on.
  type: dict
  contains:
    verdict:
      description: regressed, improved, unchanged or inconclusive.
      type: str
    reasons:
      description: "One line per metric (C(metric: baseline -> after unit (+x%, p=...): verdict)), failed suites first."
      type: list
      elements: str
    metrics:
      description: Per metric C(metric), C(unit), C(better), C(gate), C(verdict), C(baseline_median), C(after_median),
        C(shift) (Hodges-Lehmann), C(change) (the shift relative to the baseline median), C(effect) (the same, positive
        = better), C(p_value), C(noise) (baseline spread), C(n_baseline), C(n_after), and for gating metrics
        C(detectable), the smallest slowdown the gate would catch 95% of the time at this noise and trial count
        (simulated; null when none up to 60%).
      type: list
      elements: dict
    alpha_per_metric:
      description: The level each gating metric was tested at (O(alpha) over their number).
      type: float
    design:
      description: blocks or pairs, as the baseline was measured.
      type: str
    confirmed:
      description: Whether O(confirm) pooled a second baseline in.
      type: bool
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.hostperf.tuning.plugins.plugin_utils.gate import (
    DEFAULT_ALPHA, DEFAULT_MIN_EFFECT, GateError, compare as compare_runs)


def compare(baseline, after, alpha=DEFAULT_ALPHA, min_effect=DEFAULT_MIN_EFFECT, metrics=None, confirm=None):
    for name, run in (("baseline", baseline), ("after", after), ("confirm", confirm)):
        if name == "confirm" and run is None:
            continue
        if not isinstance(run, dict) or "metrics" not in run:
            raise AnsibleFilterError("compare: %s must be the registered result of hostperf.tuning.benchmark" % name)
    for name, value in (("alpha", alpha), ("min_effect", min_effect)):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise AnsibleFilterError("compare: %s must be a number, not %r" % (name, value))
        try:
            float(value)
        except ValueError:
            raise AnsibleFilterError("compare: %s must be a number, not %r" % (name, value))
    try:
        return compare_runs(baseline, after, float(alpha), float(min_effect), metrics, confirm)
    except GateError as exc:
        raise AnsibleFilterError("compare: %s" % exc)


class FilterModule:
    def filters(self):
        return {"compare": compare}
