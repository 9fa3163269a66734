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

from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.registry import SUITES
from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.suite import BenchmarkError, TrialFailed
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


class Conditions:
    """Load, CPU frequency and stolen time around a trial, read from /proc and /sys."""

    def __init__(self, tree):
        self.tree = tree

    def cpu_times(self):
        line = (self.tree.read("/proc/stat", "") or "").split("\n", 1)[0].split()
        if not line or line[0] != "cpu":
            return None
        values = [int(value) for value in line[1:9]] + [0] * (8 - len(line[1:9]))
        return values  # user nice system idle iowait irq softirq steal

    def cpu_mhz(self):
        speeds = []
        for cpu in self.tree.listdir("/sys/devices/system/cpu"):
            khz = self.tree.read_int("/sys/devices/system/cpu/%s/cpufreq/scaling_cur_freq" % cpu)
            if cpu.startswith("cpu") and cpu[3:].isdigit() and khz:
                speeds.append(khz / 1000.0)
        if not speeds:
            for line in (self.tree.read("/proc/cpuinfo", "") or "").splitlines():
                if line.startswith("cpu MHz"):
                    speeds.append(float(line.split(":")[1]))
        return round(sum(speeds) / len(speeds), 1) if speeds else None

    def load1(self):
        text = self.tree.read("/proc/loadavg", "") or ""
        return float(text.split()[0]) if text.split() else None

    @staticmethod
    def shares(before, after):
        """Busy and stolen CPU time during the trial, in percent of all CPU time."""
        if not before or not after:
            return None, None
        delta = [b - a for a, b in zip(before, after)]
        total = sum(delta)
        if total <= 0:
            return None, None
        idle = delta[3] + delta[4]
        return round(100.0 * (total - idle) / total, 1), round(100.0 * delta[7] / total, 1)


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
                   sleep=time.sleep, clock=time.time):
    """The module's result: per suite its status, per metric its samples, per trial its conditions.

    With sizing (a Sizing), rounds are added after ``trials`` until the gate
    can see sizing.target on every gating metric, or sizing.most is reached.
    """
    suites, status, tools, sizing = _prepare(specs, trials, duration, warmup, pause, sizing, find)
    samples = dict((suite.name, []) for suite in suites)
    warmups = dict((suite.name, []) for suite in suites)
    conditions = Conditions(tree)
    records = []

    def run_rounds(first, last):
        for round_number in range(first, last):
            for suite in suites:
                if status[suite.name]["status"] != "ok":
                    continue
                record, values = _one_trial(tree, suite, tools[suite.name], duration, conditions, sleep, clock)
                record.update(suite=suite.name, trial=round_number + 1 - warmup, warmup=round_number < warmup)
                records.append(record)
                if values is None:
                    status[suite.name].update(status="failed", reason=record["error"])
                    continue
                (warmups if round_number < warmup else samples)[suite.name].append(values)
                if pause:
                    sleep(pause)

    rounds, needed, noisiest, noise = trials, trials, None, 0.0
    try:
        run_rounds(0, warmup + trials)
        while sizing.target is not None:
            needed, noisiest, noise = sizing.rounds_needed(
                _metrics(suites, status, tools, samples, warmups, duration), rounds)
            goal = sizing.most if needed is None else needed
            if goal <= rounds or any(item["status"] == "failed" for item in status.values()):
                break
            run_rounds(warmup + rounds, warmup + goal)
            rounds = goal
    finally:
        for suite in suites:
            suite.cleanup(tree)
    result = dict(suites=[status[suite.name] for suite in suites],
                  metrics=_metrics(suites, status, tools, samples, warmups, duration), trials=records,
                  settings=dict(suites=specs, trials=rounds, duration=duration, warmup=warmup, pause=pause))
    if sizing.target is not None:
        result["sizing"] = dict(target_slowdown=sizing.target, max_trials=sizing.most, trials=rounds,
                                reached=needed is not None, limited_by=noisiest, noise=round(noise, 4))
    return result


def _metrics(suites, status, tools, samples, warmups, duration):
    metrics = {}
    for suite in suites:
        if status[suite.name]["status"] != "ok":
            continue
        status[suite.name]["command"] = suite.command(tools[suite.name], duration)
        for name, spec in sorted(suite.metric_specs().items()):
            metrics["%s.%s" % (suite.name, name)] = dict(
                spec, suite=suite.name, samples=[values[name] for values in samples[suite.name] if name in values],
                warmup=[values[name] for values in warmups[suite.name] if name in values])
    return metrics


def _one_trial(tree, suite, tool, duration, conditions, sleep, clock):
    argv = suite.command(tool, duration)
    record = dict(started=datetime.fromtimestamp(clock(), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  load1=conditions.load1(), cpu_mhz=conditions.cpu_mhz())
    before, start = conditions.cpu_times(), clock()
    for attempt in range(BUSY_RETRIES + 1):
        result = tree.run(argv, timeout=suite.timeout(duration))
        if not (getattr(suite, "busy", None) and suite.busy(result)) or attempt == BUSY_RETRIES:
            break
        # Another host's trial holds the peer's server: wait a trial's length, spread so retries do not collide.
        sleep(duration * (1 + random.random()))
    record["seconds"] = round(clock() - start, 2)
    record["busy_pct"], record["steal_pct"] = conditions.shares(before, conditions.cpu_times())
    try:
        values = suite.parse(tool, result)
    except TrialFailed as exc:
        record["error"] = str(exc)
        return record, None
    return record, values


def _prepare(specs, trials, duration, warmup, pause, sizing, find):
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
                     connect=socket.create_connection):
    """Check mode: everything a run needs (valid options, tools installed, peers answering), measuring nothing.

    ``problems`` lists each thing that would stop a suite, with ``missing_tool`` naming a program to install.
    """
    suites, status, tools, sizing = _prepare(specs, trials, duration, warmup, pause, sizing, find)
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
