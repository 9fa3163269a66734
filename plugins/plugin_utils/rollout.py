# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a host ended in a tuning run, and the lines an operator reads at the end of the rollout."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostperf.tuning.plugins.module_utils.stats.rank import median
from ansible_collections.hostperf.tuning.plugins.plugin_utils.gate import figure, percent_change


def outcome_of(apply_result, verdict=None, unproven="rollback", host=None, wave=1, profile=None, check_mode=False,
               failure=None, restored=False, suites=(), lost=False, confirmation=None):
    """kept, rolled_back, unchanged, checked, failed or lost, with the reason and what it rests on.

    confirmation: the A-B-A verdict (after against both baselines pooled) of a change the gate called regressed.
    """
    apply_result = apply_result or {}
    changed = [dict(identity=item["identity"], before=item.get("before"), after=item.get("after"))
               for item in apply_result.get("settings") or [] if item.get("changed")]
    result = dict(host=host, wave=wave, profile=profile, transaction=apply_result.get("transaction"),
                  changed=changed, verdict=(verdict or {}).get("verdict"), design=(verdict or {}).get("design"),
                  metrics=[_brief(item) for item in (verdict or {}).get("metrics") or [] if item.get("gate")])
    if failure is not None or lost:
        failure = _plain(failure)
        if apply_result.get("unreachable"):
            undone = ("it stopped answering while applying, so its journal may hold a transaction of this run: "
                      "list it with hostperf.tuning.journal_info, then roll it back with playbooks/rollback.yml")
        elif not result["transaction"]:
            undone = "nothing was changed"
        elif restored:
            undone = "what this run changed was rolled back"
        else:
            undone = "its journal holds transaction %s: roll it back with playbooks/rollback.yml -e " \
                     "hostperf_rollback_target=%s" % (result["transaction"], result["transaction"])
        if lost:
            result.update(outcome="lost", reason="lost part-way (%s); %s" % (failure or "unreachable", undone))
        else:
            result.update(outcome="failed", reason="%s; %s" % (failure, undone))
    elif check_mode:
        names = [suite.get("name") or suite.get("type") for suite in suites or ()]
        result.update(outcome="checked", reason="would change %d setting%s; %s" % (
            len(changed), "" if len(changed) == 1 else "s",
            "nothing to measure" if not changed else "would measure %s" % ", ".join(names) if names else
            "nothing would measure it"))
    elif not apply_result.get("changed"):
        result.update(outcome="unchanged", reason="the host already has every planned value; nothing to prove")
    elif result["verdict"] == "regressed" and confirmation and confirmation.get("verdict") != "regressed":
        result.update(outcome="kept", confirmation=confirmation["verdict"], reason=(
            "kept: slower than the baseline before it, but %s against that baseline and one measured after rolling "
            "it back, so the host drifted, not the change; applied again: %s" % (confirmation["verdict"], "; ".join(
                _first_reasons(verdict, "regressed")))))
    elif result["verdict"] == "regressed":
        result.update(outcome="rolled_back", reason="regressed, rolled back%s: %s" % (
            " (confirmed against a second baseline measured after the rollback)" if confirmation else "",
            "; ".join(_first_reasons(verdict, "regressed"))))
        if confirmation:
            result["confirmation"] = confirmation["verdict"]
    elif result["verdict"] == "inconclusive":
        why = "; ".join(_first_reasons(verdict, "inconclusive"))
        if unproven == "keep":
            result.update(outcome="kept", reason="kept without proof: %s" % why)
        else:
            result.update(outcome="rolled_back", reason="rolled back: the change is unproven "
                          "(hostperf_tune_unproven: rollback): %s" % why)
    else:
        result.update(outcome="kept", reason="%s: %s" % (result["verdict"], "; ".join(
            _first_reasons(verdict, result["verdict"]))))
    return result


def _plain(failure):
    """A failure as the operator needs it: Ansible wraps a filter's error in two layers of its own words."""
    head, wrapped, rest = (failure or "").partition("Task failed: ")
    if wrapped and "' failed: " in rest:
        return head + rest.rsplit("' failed: ", 1)[1]
    return failure


def _first_reasons(verdict, wanted):
    reasons = [item["reason"] for item in verdict.get("metrics") or [] if item.get("gate") and item["verdict"] == wanted]
    failures = [reason for reason in verdict.get("reasons") or [] if reason.startswith("suite ")]
    return failures + reasons or verdict.get("reasons", [])[:1]


ROW = "%-*s  %-4s  %-18s  %-11s  %-7s  %s"
BRIEF = ("metric", "unit", "baseline_median", "after_median", "change", "effect", "verdict")


def _brief(item):
    return dict((key, item.get(key)) for key in BRIEF)


def metric_line(item):
    if item.get("baseline_median") is None:
        return "%s: %s" % (item["metric"], item["verdict"])
    return "%s %s -> %s %s (%s) %s" % (
        item["metric"], figure(item["baseline_median"]), figure(item["after_median"]), item["unit"],
        percent_change(item["baseline_median"], item["change"], 0), item["verdict"])


def benchmark_lines(result):
    """What one benchmark run measured: per metric its median and spread; per suite that did not run, why."""
    lines = []
    for suite in result.get("suites") or []:
        if suite["status"] != "ok":
            lines.append("%s (%s): %s, %s" % (suite["name"], suite["type"], suite["status"], suite.get("reason")))
    for name, spec in sorted((result.get("metrics") or {}).items()):
        samples = spec.get("samples") or []
        if samples:
            lines.append("%s: median %s %s over %d trials (range %s-%s), %s is better%s" % (
                name, figure(median(samples)), spec.get("unit", ""), len(samples), figure(min(samples)),
                figure(max(samples)),
                spec.get("better"), "" if spec.get("gate", True) else " (reported, not gating)"))
    sizing = result.get("sizing")
    if sizing and sizing.get("limited_by"):
        lines.append("%d trials a side %s a %.0f%% slowdown: %s varies %.1f%% trial to trial%s" % (
            sizing["trials"], "catch" if sizing["reached"] else "do not reliably catch",
            100 * sizing["target_slowdown"], sizing["limited_by"], 100 * sizing["noise"],
            "" if sizing["reached"] else " (max_trials %d reached)" % sizing["max_trials"]))
    return lines


def rollout_summary(outcomes, hosts=None, stopped=None):
    """The end-of-run table: per host its wave, profile, outcome, changes and gating metrics; then the totals."""
    by_host = dict((item["host"], item) for item in outcomes or [])
    names = list(hosts or sorted(by_host))
    names += sorted(set(by_host) - set(names))
    width = max([len(name) for name in names] + [4])
    lines = [ROW % (width, "host", "wave", "profile", "outcome", "changed", "gate")]
    counts = {}
    for name in names:
        item = by_host.get(name) or dict(outcome="not_reached", wave="-", profile="-", changed=[], metrics=[],
                                         reason="rollout stopped before this host's wave" if stopped else
                                         "not reached (unreachable, or failed before the run recorded it)")
        counts[item["outcome"]] = counts.get(item["outcome"], 0) + 1
        gate = ", ".join(metric_line(metric) for metric in item.get("metrics") or []) or item.get("reason", "")
        lines.append(ROW % (width, name, item.get("wave", "-"), item.get("profile"), item["outcome"],
                            len(item.get("changed") or []), gate))
    total = ", ".join("%d %s" % (counts[key], key.replace("_", " ")) for key in sorted(counts))
    lines.append("%d host%s: %s" % (len(names), "" if len(names) == 1 else "s", total or "none"))
    if stopped:
        lines.append("rollout stopped: %s" % stopped)
    return lines


def wave_verdict(wave_hosts, outcomes, remaining, wave, max_regressed_percent=0):
    """Whether the rollout goes on after this wave: the share of its hosts that regressed, failed or were lost.

    outcomes maps host -> its hostperf_tune_outcome (None for a host lost part-way); remaining are the targets
    no wave has reached yet. Stopping is only meaningful while hosts remain.
    """
    bad = dict(rolled_back=[], failed=[], lost=[])
    for host in wave_hosts:
        outcome = outcomes.get(host)
        if outcome is None or outcome.get("outcome") == "lost":
            bad["lost"].append(host)
        elif outcome.get("outcome") in ("rolled_back", "failed"):
            bad[outcome["outcome"]].append(host)
    count = sum(len(hosts) for hosts in bad.values())
    share = 100.0 * count / len(wave_hosts) if wave_hosts else 0.0
    detail = ", ".join("%s %s" % (kind.replace("_", " "), " ".join(hosts)) for kind, hosts in sorted(bad.items())
                       if hosts)
    message = "wave %d: %d of %d hosts regressed, failed or were lost (%.0f%%, allowed %s%%)%s" % (
        wave, count, len(wave_hosts), share, max_regressed_percent, ": " + detail if detail else "")
    stop = share > float(max_regressed_percent) and bool(remaining)
    if stop:
        message += "; the rollout stops here, %d host%s left untouched: %s" % (
            len(remaining), "" if len(remaining) == 1 else "s", " ".join(remaining))
    elif share > float(max_regressed_percent):
        message += "; it was the last wave"
    return dict(stop=stop, message=message, share=share, **bad)
