# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The regression gate: did a host get faster, slower, or can nobody tell?

Baseline and after samples of each metric are compared with a one-sided
Mann-Whitney U (Wilcoxon rank-sum) test, exact for the small trial counts
benchmarks use, and the size of the change is the Hodges-Lehmann shift (the
median of all after-minus-baseline differences) relative to the baseline's
median. A metric is regressed only when both say so: the test is sure at
level ``alpha`` that after is worse, and it is worse by at least
``min_effect``. A single before/after pair is never enough (docs/gate.md).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math

from ansible_collections.hostperf.tuning.plugins.module_utils.stats.sequential import judge_pairs
from ansible_collections.hostperf.tuning.plugins.module_utils.stats.rank import (
    DEFAULT_ALPHA, DEFAULT_MIN_EFFECT, detectable_slowdown, hodges_lehmann, median, rank_sum_tails, spread)

VERDICTS = ("regressed", "improved", "unchanged", "inconclusive")
# More than this share of a side's trials disturbed (benchmark/conditions.py) and a metric is not judged.
DISTURBED_SHARE = 0.25


class GateError(ValueError):
    """Samples or options the gate cannot judge; the message names which and why."""


def judge_metric(name, baseline, after, alpha=DEFAULT_ALPHA, min_effect=DEFAULT_MIN_EFFECT, estimate=True):
    """One metric's verdict with the figures behind it; baseline/after are the benchmark's metric dicts.

    estimate=False skips the detectable-slowdown simulation (tests/perf/gate_rates.py judges thousands of pairs).
    """
    better = baseline.get("better", "higher")
    if better not in ("higher", "lower"):
        raise GateError("metric %s: better must be higher or lower, not %r" % (name, better))
    before_samples = _samples(name, "baseline", baseline)
    after_samples = _samples(name, "after", after)
    result = dict(metric=name, unit=baseline.get("unit", ""), better=better, gate=bool(baseline.get("gate", True)),
                  n_baseline=len(before_samples), n_after=len(after_samples), alpha=alpha, min_effect=min_effect)
    if len(before_samples) < 2 or len(after_samples) < 2:
        result.update(verdict="inconclusive", reason="%s: needs at least 2 samples on each side (have %d and %d)"
                      % (name, len(before_samples), len(after_samples)))
        return result
    reference = median(before_samples)
    shift = hodges_lehmann(before_samples, after_samples)
    upper, lower = rank_sum_tails(before_samples, after_samples)
    p_better, p_worse = (upper, lower) if better == "higher" else (lower, upper)
    sign = 1.0 if better == "higher" else -1.0
    effect = sign * shift / abs(reference) if reference else (0.0 if shift == 0 else sign * math.copysign(1.0, shift))
    noise = spread(before_samples)
    if p_worse < alpha and effect <= -min_effect:
        verdict, p_value = "regressed", p_worse
    elif p_better < alpha and effect >= min_effect:
        verdict, p_value = "improved", p_better
    else:
        verdict, p_value = "unchanged", min(p_worse, p_better)
    change = shift / abs(reference) if reference else 0.0
    result.update(verdict=verdict, baseline_median=reference, after_median=median(after_samples), shift=shift,
                  change=change, effect=effect, p_value=p_value, noise=noise)
    result["reason"] = "%s: %s -> %s %s (%s, p=%.3f, %s is better): %s" % (
        name, figure(reference), figure(result["after_median"]), result["unit"], percent_change(reference, change),
        p_value, better, verdict)
    if result["gate"] and estimate:
        result["detectable"] = detectable_slowdown(noise, len(before_samples), len(after_samples), alpha, min_effect)
    if noise > min_effect and result["gate"] and estimate:
        result["reason"] += "; noisy: baseline trials vary by %.0f%%, so with %d trials a side %s" % (
            100 * noise, len(after_samples), "a slowdown shows only from about %.0f%%" % (100 * result["detectable"])
            if result["detectable"] else "no slowdown up to 60% is sure to show")
    return result


def _samples(name, side, metric):
    """Finite numbers only: nan compares false with everything (the rank test would call it unchanged)."""
    values = metric.get("samples") or []
    if not isinstance(values, list):
        raise GateError("metric %s: %s samples must be a list of numbers, not %r" % (name, side, values))
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise GateError("metric %s: %s sample %r is not a finite number" % (name, side, value))
    return [float(value) for value in values]


def percent_change(reference, change, digits=1):
    """'-11.1%'; a change from a median of zero (no retransmits before) has no percentage and says so."""
    return "%+.*f%%" % (digits, 100 * change + 0.0) if reference else "from zero"


def figure(value):
    return "%.0f" % value if abs(value) >= 100 else "%.3g" % value


def compare(baseline, after, alpha=DEFAULT_ALPHA, min_effect=DEFAULT_MIN_EFFECT, metrics=None, confirm=None):
    """A host's verdict from two runs of hostperf.tuning.benchmark (their registered results).

    confirm: a second baseline, measured after the change was rolled back (A-B-A); after is judged against both
    baselines pooled, so a host that drifted between the first baseline and the after run is not read as the change.

    alpha is the host's false-rollback rate: each of m gating metrics is tested at alpha / m.
    regressed: a gating metric regressed, or a suite that ran in the baseline failed after.
    improved: a gating metric improved and none regressed. unchanged: measured, no change.
    inconclusive: nothing gating could be compared (no suites, all skipped, too few samples, or more than a
    quarter of a side's trials ran disturbed: a crowded host or stolen CPU time, even after re-runs).
    """
    if not 0 < alpha < 1:
        raise GateError("alpha must be between 0 and 1, not %r" % (alpha,))
    if not 0 <= min_effect < 1:
        raise GateError("min_effect must be a fraction from 0 up to 1, not %r" % (min_effect,))
    if metrics is not None and (not isinstance(metrics, list) or not all(isinstance(name, str) for name in metrics)):
        raise GateError("metrics must be a list of metric names, not %r" % (metrics,))
    for side, run in (("baseline", baseline), ("after", after), ("confirm", confirm)):
        _check_run(side, run)
    before_metrics = pooled((baseline or {}).get("metrics") or {}, (confirm or {}).get("metrics")) \
        if confirm is not None else (baseline or {}).get("metrics") or {}
    after_metrics = (after or {}).get("metrics") or {}
    unknown = sorted(set(metrics or []) - set(before_metrics))
    if unknown:
        raise GateError("metrics %s were not measured in the baseline (measured: %s)"
                        % (", ".join(unknown), ", ".join(sorted(before_metrics)) or "none"))
    compared = [name for name in sorted(before_metrics) if name in after_metrics]
    for name in compared:  # before the looks, too, read them
        _samples(name, "baseline", before_metrics[name])
        _samples(name, "after", after_metrics[name])
    gates = dict((name, name in metrics if metrics is not None else bool(before_metrics[name].get("gate", True)))
                 for name in compared)
    # alpha is the host's: m gating metrics share it (Bonferroni), or five noisy metrics would roll back 5% of
    # unchanged hosts where the operator asked for 1%
    each = alpha / max(1, sum(gates.values()))
    design = ((baseline or {}).get("settings") or {}).get("design", "blocks")
    sequence = None
    if design == "pairs":
        looks = baseline["settings"]["looks"]
        sequence = judge_pairs(before_metrics, after_metrics, alpha, min_effect, looks,
                               [name for name in compared if gates[name]])
    judged = []
    for name in compared:
        item = judge_metric(name, dict(before_metrics[name], gate=gates[name]), after_metrics[name], each, min_effect,
                            estimate=sequence is None)
        if sequence is not None and name in sequence["metrics"]:
            _sequential_figures(item, sequence, min_effect)
        elif sequence is not None and gates[name]:
            # fewer pairs than the first look: the one-shot test must not stand in for the looks and say unchanged
            item.update(verdict="inconclusive", reason="%s: %d pairs, fewer than the first look (%d): inconclusive"
                        % (name, min(item["n_baseline"], item["n_after"]), min(looks)))
        if gates[name]:
            _unless_disturbed(item, before_metrics[name], after_metrics[name])
        judged.append(item)
    reasons = []
    before_status = dict((suite["name"], suite) for suite in (baseline or {}).get("suites") or [])
    for suite in (after or {}).get("suites") or []:
        if suite["status"] == "failed" and before_status.get(suite["name"], {}).get("status") == "ok":
            reasons.append("suite %s ran in the baseline and failed after: %s" % (suite["name"], suite.get("reason")))
    gating = [item for item in judged if item["gate"]]
    verdicts = set(item["verdict"] for item in gating)
    if reasons or "regressed" in verdicts:
        verdict = "regressed"
    elif any(item.get("disturbed") for item in gating):
        verdict = "inconclusive"  # a metric that could not be judged might have regressed: claim nothing
    elif "improved" in verdicts:
        verdict = "improved"
    elif "unchanged" in verdicts:
        verdict = "unchanged"
    else:
        verdict = "inconclusive"
        reasons.append("no gating metric was measured on both sides")
    reasons.extend(item["reason"] for item in judged)
    result = dict(verdict=verdict, reasons=reasons, metrics=judged, alpha=alpha, alpha_per_metric=each,
                  min_effect=min_effect, design=design, confirmed=confirm is not None)
    if sequence is not None:
        result.update(look=sequence["look"], level=sequence["level"], stopped_early=sequence["stopped"])
    return result


def _check_run(side, run):
    """The shape compare reads from a benchmark result, refused by the part that is wrong."""
    if run is None:
        return
    if not isinstance(run, dict):
        raise GateError("%s must be the result of hostperf.tuning.benchmark, not %s" % (side, type(run).__name__))
    for name, metric in _part(run, "metrics", dict, side).items():
        if not isinstance(metric, dict):
            raise GateError("%s metric %s must be a mapping, not %s" % (side, name, type(metric).__name__))
        disturbed = metric.get("disturbed", 0)
        if isinstance(disturbed, bool) or not isinstance(disturbed, int) or disturbed < 0:
            raise GateError("%s metric %s: disturbed must be a count of trials, not %r" % (side, name, disturbed))
    settings = _part(run, "settings", dict, side)
    if settings.get("design", "blocks") not in ("blocks", "pairs"):
        raise GateError("%s settings: design must be blocks or pairs, not %r" % (side, settings["design"]))
    if settings.get("design") == "pairs" and side == "baseline":
        looks = settings.get("looks")
        if not isinstance(looks, list) or not looks or not all(
                isinstance(look, int) and not isinstance(look, bool) and look > 1 for look in looks):
            raise GateError("baseline settings: pairs are judged at looks, a list of pair counts above 1, not %r"
                            % (looks,))
    for suite in _part(run, "suites", list, side):
        if not isinstance(suite, dict) or not isinstance(suite.get("name"), str) or "status" not in suite:
            raise GateError("%s suites: each is a mapping with a name and a status, not %r" % (side, suite))


def _part(run, key, kind, side):
    value = run.get(key)
    if value is None:
        return kind()
    if not isinstance(value, kind):
        raise GateError("%s %s must be a %s, not %s" % (side, key, "mapping" if kind is dict else "list",
                                                        type(value).__name__))
    return value


def pooled(first, second):
    """Two baselines' metrics as one: the samples of both, in the order they were measured."""
    result = {}
    for name, metric in first.items():
        again = (second or {}).get(name)
        if again is None:
            raise GateError("metric %s was measured in the baseline, not in the confirming baseline" % name)
        result[name] = dict(metric, samples=list(metric.get("samples") or []) + list(again.get("samples") or []),
                            disturbed=metric.get("disturbed", 0) + again.get("disturbed", 0))
    return result


def _unless_disturbed(item, before, after):
    """A metric too many of whose trials ran on a crowded host, even after re-runs, is no evidence either way."""
    for side, metric in (("baseline", before), ("after", after)):
        count, total = metric.get("disturbed") or 0, len(metric.get("samples") or [])
        if total and count > DISTURBED_SHARE * total:
            item.update(verdict="inconclusive", disturbed=True, reason="%s: %d of %d %s trials ran with the host crowded or its CPU "
                        "stolen even after re-runs (see the trials' disturbed): no verdict on the change" % (
                            item["metric"], count, total, side))
            return


def _sequential_figures(item, sequence, min_effect):
    """A gating metric of paired trials: the verdict and figures of the look the host stopped at."""
    look = dict(sequence["metrics"][item["metric"]])
    # another metric regressed and stopped the run before this one was decided
    look["verdict"] = look["verdict"] or "undecided"
    worse = look["p_worse"]
    item.update(verdict=look["verdict"], effect=look["effect"], interval=look["interval"], look=sequence["look"],
                level=sequence["level"], p_value=worse if look["verdict"] == "regressed" else min(
                    worse, look["p_better"]))
    interval = "shift %s..%s" % tuple(percent_change(1, bound, 0) for bound in look["interval"]) \
        if look["interval"] else "too few pairs for an interval"
    item["reason"] = "%s: %s -> %s %s (%s, p=%.4f against %.4f at %d pairs, %s; %s is better): %s" % (
        item["metric"], figure(item["baseline_median"]), figure(item["after_median"]), item["unit"],
        percent_change(item["baseline_median"], item["change"]), item["p_value"], sequence["level"],
        sequence["look"], interval, item["better"], look["verdict"])
    if look["verdict"] == "unchanged" and look["interval"] and look["interval"][0] <= -min_effect:
        item["reason"] += " (not shown worse; a slowdown up to %s is not excluded)" % percent_change(
            1, look["interval"][0], 0)


def naive_verdict(baseline, after, better="higher", threshold=0.10):
    """The rule the gate replaces: one run each side, worse by more than threshold means regressed."""
    change = (after - baseline) / abs(baseline) if baseline else 0.0
    if better == "lower":
        change = -change
    if change < -threshold:
        return "regressed"
    if change > threshold:
        return "improved"
    return "unchanged"
