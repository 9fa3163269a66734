# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every benchmark suite shares: its options, the command of one trial, and the metrics it yields.

A suite only measures. Judging happens on the controller (plugin_utils/gate.py),
so a suite returns raw samples with their unit and which direction is better.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import re

from ansible_collections.hostperf.tuning.plugins.module_utils.host.cpulist import CpuListError, format_cpulist, parse_cpulist

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.:_-]{0,252}$")


class BenchmarkError(ValueError):
    """A suite asked for something it cannot do; the message names the suite, the option and why."""


class TrialFailed(Exception):
    """One trial did not produce a measurement; the message is what its tool said."""


def metric(unit, better, gate=True, cpu_bound=False):
    """cpu_bound: the figure scales with the CPU time the trial got, so stolen time can be normalised away."""
    return dict(unit=unit, better=better, gate=gate, cpu_bound=cpu_bound)


class Suite:
    """One kind of benchmark: how to run a trial and read its numbers.

    Subclasses declare ``kind``, ``options`` (name -> (type, default), None =
    required), ``metrics`` and ``tools`` (programs it can use, first found wins),
    and implement ``argv`` and ``parse``.
    """

    kind = None
    tools = ()
    options = {}
    metrics = {}

    def __init__(self, spec, duration):
        self.name = spec.get("name") or self.kind
        if not _NAME.match(self.name):
            raise BenchmarkError("suite name %r: letters, digits, '_' and '-', starting with a letter" % (self.name,))
        unknown = sorted(set(spec) - set(self.options) - {"name", "type", "cpus"})
        if unknown:
            raise BenchmarkError("suite %s (%s): unknown option(s) %s; it takes %s" % (
                self.name, self.kind, ", ".join(unknown), ", ".join(sorted(self.options)) or "none"))
        self.duration = duration
        self.cpus = self._cpus(spec.get("cpus"))
        self.params = {}
        for option, (kind, default) in self.options.items():
            value = spec.get(option)
            if value is None:
                if default is None:
                    raise BenchmarkError("suite %s (%s): option %s is required" % (self.name, self.kind, option))
                value = default
            self.params[option] = self._typed(option, kind, value)
        self.check()

    def _typed(self, option, kind, value):
        where = "suite %s (%s): %s" % (self.name, self.kind, option)
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, int) and not str(value).isdigit():
                raise BenchmarkError("%s must be a whole number, not %r" % (where, value))
            if int(value) < 1:
                raise BenchmarkError("%s must be at least 1, not %r" % (where, value))
            return int(value)
        if kind == "bool":
            if not isinstance(value, bool):
                raise BenchmarkError("%s must be true or false, not %r" % (where, value))
            return value
        if kind == "host":
            if not _HOST.match(str(value)):
                raise BenchmarkError("%s %r is not a host name or address" % (where, value))
            return str(value)
        if isinstance(kind, tuple):
            if value not in kind:
                raise BenchmarkError("%s must be one of %s, not %r" % (where, ", ".join(kind), value))
            return value
        return value

    def _cpus(self, value):
        """The CPU list every trial is pinned to (taskset), normalised; None when the scheduler may move it."""
        if value is None or value == "":
            return None
        try:
            cpus = parse_cpulist(str(value))
        except CpuListError as exc:
            raise BenchmarkError("suite %s (%s): cpus: %s" % (self.name, self.kind, exc))
        if not cpus:
            raise BenchmarkError("suite %s (%s): cpus %r names no CPU" % (self.name, self.kind, value))
        return format_cpulist(cpus)

    def check(self):
        """Further validation of the options together; raise BenchmarkError."""

    def required_programs(self):
        """What must be installed besides the tool: taskset when trials are pinned."""
        return ["taskset"] if self.cpus else []

    def peer(self):
        """(host, TCP port) a trial connects to, which check mode asks to answer; None for local suites."""
        return None

    def command(self, tool, duration):
        """One trial's argument list, pinned to the suite's CPUs when it has any."""
        argv = self.argv(tool, duration)
        return ["taskset", "--cpu-list", self.cpus] + argv if self.cpus else argv

    def fail(self, message):
        raise BenchmarkError("suite %s (%s): %s" % (self.name, self.kind, message))

    def metric_specs(self):
        return self.metrics

    def argv(self, tool, duration):
        raise NotImplementedError

    def parse(self, tool, result):
        """{metric: number} from one finished trial, or TrialFailed."""
        raise NotImplementedError

    def timeout(self, duration):
        return 3 * duration + 30

    def cleanup(self, tree):
        """Remove what the trials left behind (fio's test file)."""


def last_line(result):
    """What a failed tool said last: stderr first, where tools complain."""
    lines = [line.strip() for line in (result.stderr or "").splitlines() if line.strip()]
    lines = lines or [line.strip() for line in (result.stdout or "").splitlines() if line.strip()]
    return lines[-1] if lines else "exited with %d" % result.rc


def finite(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def number(text, what):
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise TrialFailed("%s: %r is not a number" % (what, text))
    if not math.isfinite(value):
        raise TrialFailed("%s: %r is not a finite number" % (what, text))
    return value
