# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run benchmark suites as repeated, interleaved trials and record the conditions of each.

Trials are interleaved (trial 1 of every suite, then trial 2, ...) so that a
drift on the host (another tenant, a thermal limit) spreads over all suites
instead of landing on one. The first ``warmup`` rounds are run and reported
but are not samples: caches, TCP metrics and CPU frequency settle there.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import random
import socket
import time
from datetime import datetime, timezone

from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.conditions import Conditions, Disturbance
from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.registry import SUITES
from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.suite import BenchmarkError, TrialFailed, finite
from ansible_collections.hostperf.tuning.plugins.module_utils.host.cpulist import parse_cpulist
from ansible_collections.hostperf.tuning.plugins.module_utils.host.hosttree import find_program
from ansible_collections.hostperf.tuning.plugins.module_utils.stats.rank import (
    DEFAULT_ALPHA, DEFAULT_MIN_EFFECT, spread, trials_for)

BUSY_RETRIES = 5

PEER_TIMEOUT = 5  # seconds a peer has to accept a connection in check mode


def build_suites(specs, duration):
    """Suite objects from the module's suites option; BenchmarkError names the first bad one."""
    if not isinstance(specs, list):
        raise BenchmarkError("suites must be a list of suites, each a dict with a type")
    suites, names = [], set()
    for spec in specs:
        if not isinstance(spec, dict) or spec.get("type") not in SUITES:
            raise BenchmarkError("suite %r: type must be one of %s" % (
                spec if not isinstance(spec, dict) else spec.get("type"), ", ".join(sorted(SUITES))))
        suite = SUITES[spec["type"]](spec, duration)
        if suite.name in names:
            raise BenchmarkError("suite name %s is used twice; give each suite its own name" % suite.name)
        names.add(suite.name)
        suites.append(suite)
    return suites


class Sizing:
    """How many trials the gate needs on this host to see a given slowdown.

    After the counted trials, each gating metric's spread says what the gate
    could catch; while it could not catch ``target`` and ``most`` allows,
    more rounds are run. Only the baseline does this: it decides the count
    before the host changes, and the run after repeats that count blind, so
    sizing never looks at the comparison it serves.
    """

    def __init__(self, target, most, alpha, min_effect, gate_metrics=None):
        self.target, self.most, self.alpha, self.min_effect = target, most, alpha, min_effect
        self.gate_metrics = gate_metrics

    def validate(self, trials):
        if self.target is None:
            return
        if isinstance(self.target, bool) or not isinstance(self.target, (int, float)) or not 0 < self.target < 1:
            raise BenchmarkError("target_slowdown must be a fraction between 0 and 1 (0.10 = 10%%), not %r"
                                 % (self.target,))
        if isinstance(self.most, bool) or not isinstance(self.most, int) or self.most < trials:
            raise BenchmarkError("max_trials must be a whole number of at least trials (%d), not %r"
                                 % (trials, self.most))
        if not 0 < self.alpha < 1:
            raise BenchmarkError("alpha must be between 0 and 1, not %r" % (self.alpha,))
        if not 0 <= self.min_effect < self.target:
            raise BenchmarkError("min_effect must be at least 0 and below target_slowdown (%r), not %r: the gate "
                                 "never calls a change smaller than min_effect regressed" % (self.target, self.min_effect))

    def rounds_needed(self, metrics, rounds):
        """(trials a side every gating metric needs, or None beyond most; the metric that needs most; its spread)."""
        unknown = sorted(set(self.gate_metrics or ()) - set(metrics))
        if unknown:
            raise BenchmarkError("gate_metrics %s were not measured (measured: %s)"
                                 % (", ".join(unknown), ", ".join(sorted(metrics)) or "none"))
        counts = []
        gating = [name for name, metric in sorted(metrics.items())
                  if (name in self.gate_metrics if self.gate_metrics else metric["gate"])]
        each = self.alpha / max(1, len(gating))  # the gate shares the host's alpha over its gating metrics
        for name in gating:
            metric = metrics[name]
            if len(metric["samples"]) >= 2:
                scatter = spread(metric["samples"])
                count = trials_for(scatter, self.target, rounds, self.most, each, self.min_effect)
                counts.append((count is None, count or rounds, scatter, name))
        if not counts:
            return rounds, None, 0.0
        unreachable, count, scatter, name = max(counts)
        return (None if unreachable else count), name, scatter


def run_benchmarks(tree, specs, trials=5, duration=10, warmup=1, pause=1.0, sizing=None, find=find_program,
                   sleep=time.sleep, clock=time.time, conditions=None):
    """The module's result: per suite its status, per metric its samples, per trial its conditions.

    With sizing (a Sizing), rounds are added after ``trials`` until the gate
    can see sizing.target on every gating metric, or sizing.most is reached.
    conditions: the Disturbance options (conditions.DEFAULTS).
    """
    suites, status, tools, sizing = prepare(specs, trials, duration, warmup, pause, sizing, find)
    runner = TrialRunner(tree, tools, duration, pause, conditions, sleep, clock)
    samples = Samples(suites)

    def run_rounds(first, last):
        for round_number in range(first, last):
            for suite in suites:
                if status[suite.name]["status"] != "ok":
                    continue
                values, record = runner.run(suite, trial=round_number + 1 - warmup, warmup=round_number < warmup)
                if values is None:
                    status[suite.name].update(status="failed", reason=record["error"])
                    continue
                samples.add(suite, values, record)

    rounds, needed, noisiest, noise = trials, trials, None, 0.0
    try:
        run_rounds(0, warmup + trials)
        while sizing.target is not None:
            needed, noisiest, noise = sizing.rounds_needed(samples.metrics(status, tools, duration), rounds)
            goal = sizing.most if needed is None else needed
            if goal <= rounds or any(item["status"] == "failed" for item in status.values()):
                break
            run_rounds(warmup + rounds, warmup + goal)
            rounds = goal
    finally:
        for suite in suites:
            suite.cleanup(tree)
    result = dict(suites=[status[suite.name] for suite in suites], metrics=samples.metrics(status, tools, duration),
                  trials=runner.records, conditions=runner.summary(),
                  settings=dict(suites=specs, trials=rounds, duration=duration, warmup=warmup, pause=pause,
                                conditions=runner.settings()))
    if sizing.target is not None:
        result["sizing"] = dict(target_slowdown=sizing.target, max_trials=sizing.most, trials=rounds,
                                reached=needed is not None, limited_by=noisiest, noise=round(noise, 4))
    return result


class Samples:
    """Each suite's counted and warm-up values, and which counted ones ran disturbed, as metrics."""

    def __init__(self, suites):
        self.suites = suites
        self.counted = dict((suite.name, []) for suite in suites)
        self.warmups = dict((suite.name, []) for suite in suites)

    def add(self, suite, values, record):
        (self.warmups if record.get("warmup") else self.counted)[suite.name].append((values, record))

    def metrics(self, status, tools, duration):
        metrics = {}
        for suite in self.suites:
            if status[suite.name]["status"] != "ok":
                continue
            status[suite.name]["command"] = suite.command(tools[suite.name], duration)
            counted, warmups = self.counted[suite.name], self.warmups[suite.name]
            for name, spec in sorted(suite.metric_specs().items()):
                metrics["%s.%s" % (suite.name, name)] = dict(
                    spec, suite=suite.name, samples=[values[name] for values, _record in counted if name in values],
                    warmup=[values[name] for values, _record in warmups if name in values],
                    disturbed=sum(1 for values, record in counted if name in values and record.get("disturbed")))
        return metrics


class TrialRunner:
    """Runs one trial of a suite, again while its conditions say it measured the neighbours; keeps every record."""

    def __init__(self, tree, tools, duration, pause, conditions, sleep, clock):
        self.tree, self.tools, self.duration, self.pause, self.sleep, self.clock = \
            tree, tools, duration, pause, sleep, clock
        self.conditions = Conditions(tree)
        self.disturbance = Disturbance.from_options(conditions, self.conditions.online())
        self.records = []

    def run(self, suite, **labels):
        """(values, record) of the trial that counts; values is None when the trial failed (record["error"])."""
        attempt = 0
        while True:
            record, values = self._one(suite)
            record.update(labels)
            reason = None if values is None else self.disturbance.reason(suite, record, self.records)
            if not reason or attempt == self.disturbance.reruns:
                break
            record["discarded"] = "re-run: %s" % reason
            self.records.append(record)
            attempt += 1
            self.sleep(self.duration)  # let what crowded the host pass before measuring again
        if reason:
            record["disturbed"] = "%s, after %d re-run%s" % (reason, attempt, "" if attempt == 1 else "s")
        if values is not None:
            factors = self.disturbance.normalise(suite, values, record)
            if factors:
                record["normalised"] = factors
        self.records.append(record)
        if values is not None and self.pause:
            self.sleep(self.pause)
        return values, record

    def summary(self, side=None):
        return self.disturbance.summary(self.records, side)

    def settings(self):
        return self.disturbance.settings(self.records)

    def _one(self, suite):
        argv = suite.command(self.tools[suite.name], self.duration)
        pinned = parse_cpulist(suite.cpus) if suite.cpus else None
        started = datetime.fromtimestamp(self.clock(), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        record = dict(suite=suite.name, started=started, load1=self.conditions.load1(),
                      cpu_mhz=self.conditions.cpu_mhz())
        before, on_cpus, start = self.conditions.cpu_times(), self.conditions.cpu_times(pinned), self.clock()
        for attempt in range(BUSY_RETRIES + 1):
            result = self.tree.run(argv, timeout=suite.timeout(self.duration))
            if not (getattr(suite, "busy", None) and suite.busy(result)) or attempt == BUSY_RETRIES:
                break
            # Another host's trial holds the peer's server: wait a trial's length, spread so retries do not collide.
            self.sleep(self.duration * (1 + random.random()))
        record["seconds"] = round(self.clock() - start, 2)
        record["busy_pct"], steal = Conditions.shares(before, self.conditions.cpu_times())
        # stolen time on the CPUs the trial was pinned to; the host's when it was not pinned
        record["steal_pct"] = Conditions.shares(on_cpus, self.conditions.cpu_times(pinned))[1] if pinned else steal
        record["load1_end"] = self.conditions.load1()
        try:
            values = suite.parse(self.tools[suite.name], result)
        except TrialFailed as exc:
            record["error"] = str(exc)
            return record, None
        # nan compares false with everything, so the gate would call it unchanged; inf would be improved
        unreadable = sorted(name for name, value in values.items() if not finite(value))
        if unreadable:
            record["error"] = "%s: %s" % (suite.name, "; ".join(
                "%s is %r, not a finite number" % (name, values[name]) for name in unreadable))
            return record, None
        return record, values


def prepare(specs, trials, duration, warmup, pause, sizing, find):
    """Validated suites, each one's status (ok, or skipped with the missing tool) and the tool it will run."""
    for option, value, least in (("trials", trials, 2), ("duration", duration, 1), ("warmup", warmup, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise BenchmarkError("%s must be a whole number of at least %d, not %r" % (option, least, value))
    if pause < 0:
        raise BenchmarkError("pause must not be negative, not %r" % (pause,))
    sizing = sizing or Sizing(None, None, DEFAULT_ALPHA, DEFAULT_MIN_EFFECT)
    sizing.validate(trials)
    suites = build_suites(specs, duration)
    status, tools = {}, {}
    for suite in suites:
        tool = next((name for name in suite.tools if find(name)), None)
        missing = [name for name in suite.required_programs() if not find(name)]
        if tool is None:
            status[suite.name] = dict(name=suite.name, type=suite.kind, status="skipped", tool=None,
                                      reason="%s not installed" % " or ".join(suite.tools), missing=suite.tools[0])
        elif missing:
            status[suite.name] = dict(name=suite.name, type=suite.kind, status="skipped", tool=tool,
                                      reason="%s not installed (cpus pins the trials with it)" % ", ".join(missing),
                                      missing=missing[0])
        else:
            tools[suite.name] = tool
            status[suite.name] = dict(name=suite.name, type=suite.kind, status="ok", tool=tool, reason="", missing=None)
    return suites, status, tools, sizing


def check_benchmarks(tree, specs, trials=5, duration=10, warmup=1, pause=1.0, sizing=None, find=find_program,
                     connect=socket.create_connection, conditions=None):
    """Check mode: everything a run needs (valid options, tools installed, peers answering), measuring nothing.

    ``problems`` lists each thing that would stop a suite, with ``missing_tool`` naming a program to install.
    """
    suites, status, tools, sizing = prepare(specs, trials, duration, warmup, pause, sizing, find)
    Disturbance.from_options(conditions, 1)
    problems = []
    for suite in suites:
        item = status[suite.name]
        if item["status"] != "ok":
            problems.append(dict(suite=suite.name, missing_tool=item["missing"],
                                 message="suite %s (%s): %s" % (suite.name, suite.kind, item["reason"])))
        peer = suite.peer()
        if peer:  # asked even when the tool is still to be installed: the install cannot fix a dead peer
            try:
                connect(peer, timeout=PEER_TIMEOUT).close()
            except (OSError, ValueError) as exc:
                reason = "%s:%d does not answer: %s" % (peer + (exc,))
                item.update(status="unreachable", reason=reason)
                problems.append(dict(suite=suite.name, missing_tool=None, message="suite %s (%s): peer %s" % (
                    suite.name, suite.kind, reason)))
    return dict(suites=[status[suite.name] for suite in suites], metrics={}, trials=[], problems=problems,
                settings=dict(suites=specs, trials=trials, duration=duration, warmup=warmup, pause=pause))
